/*
 * sync/lock.c: flock(2) on a file under the git dir.
 */
#include "lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"

struct lock {
	int fd;
};

static void sleep_ms(unsigned ms)
{
	struct timespec ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* The pid the current holder wrote, or 0 if unknown. */
static long holder_pid(int fd)
{
	char buf[32];
	ssize_t n;
	char *end;
	long pid;

	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	pid = strtol(buf, &end, 10);
	if (end == buf || pid <= 0)
		return 0;
	return pid;
}

int lock_acquire(
	struct lock **out,
	const char *path,
	const char *what,
	unsigned wait_ms)
{
	struct lock *lock = NULL;
	char pidbuf[32];
	unsigned waited = 0, step = 20;
	long pid;
	int fd = -1, n, error = 0;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		error = error_set(
			ERROR_GENERIC, "cannot open lock file '%s': %s", path,
			strerror(errno));
		goto done;
	}
	for (;;) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			break;
		if (errno != EWOULDBLOCK && errno != EINTR) {
			error = error_set(
				ERROR_GENERIC, "cannot lock '%s': %s", path,
				strerror(errno));
			goto done;
		}
		if (waited >= wait_ms) {
			pid = holder_pid(fd);
			if (pid > 0)
				error = error_set(
					ERROR_BUSY,
					"repository '%s' is busy: another "
					"plansync (pid %ld) holds its lock",
					what, pid);
			else
				error = error_set(
					ERROR_BUSY,
					"repository '%s' is busy: another "
					"process holds its lock '%s'",
					what, path);
			goto done;
		}
		sleep_ms(step);
		waited += step;
	}
	/* Ours now: record our pid for the message others get. */
	n = snprintf(pidbuf, sizeof(pidbuf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pidbuf, (size_t)n, 0) != n) {
		error = error_set(
			ERROR_GENERIC, "cannot write lock file '%s': %s", path,
			strerror(errno));
		goto done;
	}
	if (!(lock = malloc(sizeof(*lock)))) {
		error = error_nomem();
		goto done;
	}
	lock->fd = fd;
	fd = -1;
	*out = lock;
done:
	if (fd >= 0)
		close(fd); /* drops the flock if we took it */
	return error;
}

void lock_release(struct lock *lock)
{
	if (!lock)
		return;
	/* Leave the file: unlinking it races with a waiter that opened it. */
	if (ftruncate(lock->fd, 0) < 0) {
		/* nothing to do: the pid is only a hint */
	}
	close(lock->fd);
	free(lock);
}
