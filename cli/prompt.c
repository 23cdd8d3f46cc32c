/*
 * cli/prompt.c: passphrases from PLANSYNC_PASSPHRASE or the terminal.
 *
 * The terminal is read with echo off (STYLE.md 17; minisign get_line.c
 * disable_echo).  If a signal ends plansync while echo is off (Ctrl-C at
 * the prompt), the handler puts the terminal back before dying, so the
 * user's shell is not left without echo.
 */
#include "prompt.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "core/error.h"

static const int signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
#define NSIGNALS (sizeof(signals) / sizeof(signals[0]))

static struct termios saved_tio;
static volatile sig_atomic_t saved_fd = -1;

static void restore_and_die(int sig)
{
	if (saved_fd >= 0)
		tcsetattr(saved_fd, TCSAFLUSH, &saved_tio);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Read one line from fd with echo off into buf; strips the newline. */
static int read_hidden(int fd, const char *prompt, char *buf, size_t size)
{
	struct termios quiet;
	struct sigaction sa, old_sa[NSIGNALS];
	size_t n = 0, i;
	ssize_t r = 0;
	char c = 0;
	int restore = 0, error = 0;

	if (write(fd, prompt, strlen(prompt)) < 0)
		return error_set(ERROR_GENERIC, "cannot write to the terminal");
	if (tcgetattr(fd, &saved_tio) == 0) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = restore_and_die;
		sigemptyset(&sa.sa_mask);
		for (i = 0; i < NSIGNALS; i++)
			sigaction(signals[i], &sa, &old_sa[i]);
		quiet = saved_tio;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		quiet.c_lflag |= ICANON;
		saved_fd = fd;
		if (tcsetattr(fd, TCSAFLUSH, &quiet) == 0)
			restore = 1;
	}
	for (;;) {
		r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || c == '\n' || c == '\r')
			break;
		if (n + 1 >= size) {
			error = error_set(ERROR_USAGE, "passphrase too long");
			break;
		}
		buf[n++] = c;
	}
	c = 0;
	buf[n] = '\0';
	if (saved_fd >= 0) {
		if (restore)
			tcsetattr(fd, TCSAFLUSH, &saved_tio);
		saved_fd = -1;
		for (i = 0; i < NSIGNALS; i++)
			sigaction(signals[i], &old_sa[i], NULL);
	}
	/* The user's Enter was not echoed: end the prompt line. */
	if (write(fd, "\n", 1) < 0 && !error)
		error = error_set(
			ERROR_GENERIC, "cannot write to the terminal");
	if (!error && r < 0)
		error = error_set(ERROR_GENERIC, "cannot read the passphrase");
	return error;
}

int prompt_passphrase(char *buf, size_t size, int confirm, void *ctx)
{
	const char *env = getenv("PLANSYNC_PASSPHRASE");
	char *again = NULL;
	int fd = -1, error = 0;
	size_t len;

	(void)ctx;
	if (env) {
		len = strlen(env);
		if (len + 1 > size)
			return error_set(
				ERROR_USAGE, "PLANSYNC_PASSPHRASE is too long");
		memcpy(buf, env, len + 1);
		return 0;
	}
	fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return error_set(
			ERROR_USAGE, "a passphrase is needed: set "
				     "PLANSYNC_PASSPHRASE or run from a "
				     "terminal");
	if ((error = read_hidden(
		     fd, confirm ? "New passphrase: " : "Passphrase: ", buf,
		     size)) < 0)
		goto done;
	if (confirm) {
		if (!(again = sodium_malloc(size))) {
			error = error_nomem();
			goto done;
		}
		if ((error = read_hidden(
			     fd, "Same passphrase again: ", again, size)) < 0)
			goto done;
		if (strcmp(buf, again) != 0) {
			error = error_set(
				ERROR_USAGE, "the passphrases do not match");
			goto done;
		}
	}
done:
	if (again)
		sodium_free(again);
	if (error < 0)
		sodium_memzero(buf, size);
	close(fd);
	return error;
}
