/*
 * tests/test_lock.c: the repository lock keeps processes apart and is
 * recovered when its holder dies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "sync/lock.h"

static char dir[256];
static char path[300];

static int setup(void **state)
{
	(void)state;
	snprintf(
		dir, sizeof(dir), "%s/plansync-lock.XXXXXX",
		getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/plansync.lock", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	rmdir(dir);
	return 0;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* A child that takes the lock, tells us through a pipe, then waits. */
static pid_t hold_in_child(unsigned hold_ms)
{
	int fds[2];
	pid_t pid;
	char c;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct lock *l = NULL;

		close(fds[0]);
		if (lock_acquire(&l, path, "repo", 0) < 0)
			_exit(1);
		if (write(fds[1], "x", 1) != 1)
			_exit(1);
		usleep(hold_ms * 1000);
		lock_release(l);
		_exit(0);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &c, 1), 1);
	close(fds[0]);
	return pid;
}

static void test_lock__second_holder_is_refused_with_pid(void **state)
{
	struct lock *a = NULL, *b = NULL;
	char want[64];

	(void)state;
	assert_int_equal(lock_acquire(&a, path, "repo", 0), 0);
	/* flock locks open file descriptions: a second open conflicts. */
	assert_int_equal(lock_acquire(&b, path, "repo", 100), ERROR_BUSY);
	assert_null(b);
	snprintf(want, sizeof(want), "(pid %ld)", (long)getpid());
	assert_non_null(strstr(error_message(), want));
	assert_non_null(strstr(error_message(), "repository 'repo' is busy"));
	lock_release(a);
	assert_int_equal(lock_acquire(&b, path, "repo", 0), 0);
	lock_release(b);
}

static void test_lock__other_process_blocks_then_releases(void **state)
{
	struct lock *l = NULL;
	pid_t pid;
	long t0;
	int st;

	(void)state;
	pid = hold_in_child(5000);
	t0 = now_ms();
	assert_int_equal(lock_acquire(&l, path, "repo", 200), ERROR_BUSY);
	assert_true(now_ms() - t0 >= 200); /* it waited, boundedly */
	assert_true(now_ms() - t0 < 2000);
	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
	assert_int_equal(lock_acquire(&l, path, "repo", 0), 0);
	lock_release(l);
}

static void test_lock__waits_for_a_short_holder(void **state)
{
	struct lock *l = NULL;
	pid_t pid;
	int st;

	(void)state;
	pid = hold_in_child(300);
	assert_int_equal(lock_acquire(&l, path, "repo", 3000), 0);
	lock_release(l);
	waitpid(pid, &st, 0);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void test_lock__dead_holder_is_recovered(void **state)
{
	struct lock *l = NULL;
	pid_t pid;
	int st;

	(void)state;
	pid = hold_in_child(60000);
	kill(pid, SIGKILL); /* no chance to release: the kernel does */
	waitpid(pid, &st, 0);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(access(path, F_OK), 0); /* the file stays */
	assert_int_equal(lock_acquire(&l, path, "repo", 0), 0);
	lock_release(l);
}

static void test_lock__bad_path_is_an_error(void **state)
{
	struct lock *l = NULL;

	(void)state;
	assert_int_equal(
		lock_acquire(&l, "/nonexistent/dir/plansync.lock", "repo", 0),
		ERROR_GENERIC);
	assert_non_null(strstr(error_message(), "/nonexistent/dir"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lock__second_holder_is_refused_with_pid),
		cmocka_unit_test(test_lock__other_process_blocks_then_releases),
		cmocka_unit_test(test_lock__waits_for_a_short_holder),
		cmocka_unit_test(test_lock__dead_holder_is_recovered),
		cmocka_unit_test(test_lock__bad_path_is_an_error),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
