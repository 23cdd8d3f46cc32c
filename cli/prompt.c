/*
 * cli/prompt.c: passphrases from PLANSYNC_PASSPHRASE or the terminal.
 */
#include "prompt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "core/error.h"

/* Read one line from fd with echo off into buf; strips the newline. */
static int read_hidden(int fd, const char *prompt, char *buf, size_t size)
{
	struct termios old, quiet;
	size_t n = 0;
	ssize_t r;
	char c;
	int restore = 0, error = 0;

	if (write(fd, prompt, strlen(prompt)) < 0)
		return error_set(ERROR_GENERIC, "cannot write to the terminal");
	if (tcgetattr(fd, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		quiet.c_lflag |= ICANON;
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
	if (restore)
		tcsetattr(fd, TCSAFLUSH, &old);
	if (write(fd, "\n", 1) < 0)
		error = error ? error : 0;
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
	if ((error = read_hidden(fd, "Passphrase: ", buf, size)) < 0)
		goto done;
	if (confirm) {
		if (!(again = sodium_malloc(size))) {
			error = error_nomem();
			goto done;
		}
		if ((error = read_hidden(
			     fd, "Passphrase again: ", again, size)) < 0)
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
