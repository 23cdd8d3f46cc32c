#define _XOPEN_SOURCE 700
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/error.h"
#include "core/fsutil.h"

static char dir[64];

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_fsutil.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static const char *at(const char *name)
{
	static char buf[4][256];
	static int k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", dir, name);
	return buf[k];
}

/* Number of entries in the test folder, . and .. excluded. */
static int entries(const char *sub)
{
	DIR *d = opendir(sub ? at(sub) : dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void test_fsutil__write_then_read(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	struct stat st;

	(void)state;
	assert_int_equal(
		fsutil_write_atomic(at("a.yaml"), "hello\n", 6, 0600), 0);
	assert_int_equal(stat(at("a.yaml"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(fsutil_read_file(&buf, &len, at("a.yaml"), 100), 0);
	assert_int_equal(len, 6);
	assert_string_equal(buf, "hello\n");
	free(buf);
	/* Replacing leaves one file and no temporary behind. */
	assert_int_equal(fsutil_write_atomic(at("a.yaml"), "bye", 3, 0644), 0);
	assert_int_equal(fsutil_read_file(&buf, &len, at("a.yaml"), 100), 0);
	assert_string_equal(buf, "bye");
	free(buf);
	assert_int_equal(entries(NULL), 1);
	/* Empty files read as "". */
	assert_int_equal(fsutil_write_atomic(at("e"), "", 0, 0644), 0);
	assert_int_equal(fsutil_read_file(&buf, &len, at("e"), 100), 0);
	assert_int_equal(len, 0);
	assert_string_equal(buf, "");
	free(buf);
	unlink(at("e"));
	unlink(at("a.yaml"));
}

static void test_fsutil__read_refusals(void **state)
{
	char *buf = NULL;
	size_t len;

	(void)state;
	assert_int_equal(
		fsutil_read_file(&buf, &len, at("none"), 100), ERROR_NOTFOUND);
	assert_non_null(strstr(error_message(), "none' does not exist"));
	assert_int_equal(
		fsutil_write_atomic(at("big"), "0123456789", 10, 0644), 0);
	assert_int_equal(
		fsutil_read_file(&buf, &len, at("big"), 9), ERROR_INVALID);
	assert_non_null(strstr(error_message(), "over the limit"));
	assert_int_equal(fsutil_read_file(&buf, &len, at("big"), 10), 0);
	free(buf);
	buf = NULL;
	assert_int_equal(symlink(at("big"), at("link")), 0);
	assert_int_equal(
		fsutil_read_file(&buf, &len, at("link"), 100), ERROR_INVALID);
	assert_non_null(strstr(error_message(), "is a symbolic link"));
	assert_int_equal(fsutil_read_file(&buf, &len, dir, 100), ERROR_INVALID);
	assert_non_null(strstr(error_message(), "not a regular file"));
	assert_null(buf);
	/* A FIFO is refused at once (opening it must not wait for a writer). */
	assert_int_equal(mkfifo(at("fifo"), 0600), 0);
	assert_int_equal(
		fsutil_read_file(&buf, &len, at("fifo"), 100), ERROR_INVALID);
	assert_non_null(strstr(error_message(), "not a regular file"));
	unlink(at("fifo"));
	unlink(at("link"));
	unlink(at("big"));
}

static void test_fsutil__write_into_missing_folder(void **state)
{
	(void)state;
	/* Writing into a folder that does not exist fails and leaves nothing.
	 */
	assert_int_equal(
		fsutil_write_atomic(at("no/such/x"), "x", 1, 0644),
		ERROR_GENERIC);
	assert_non_null(strstr(error_message(), "cannot create"));
	assert_int_equal(entries(NULL), 0);
}

static void test_fsutil__write_replaces_symlink_not_target(void **state)
{
	char *buf = NULL;
	size_t len;
	struct stat st;

	(void)state;
	assert_int_equal(fsutil_write_atomic(at("target"), "keep", 4, 0644), 0);
	assert_int_equal(symlink(at("target"), at("l")), 0);
	assert_int_equal(fsutil_write_atomic(at("l"), "new", 3, 0644), 0);
	/* rename() replaced the link itself; the target is untouched. */
	assert_int_equal(lstat(at("l"), &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(fsutil_read_file(&buf, &len, at("target"), 100), 0);
	assert_string_equal(buf, "keep");
	free(buf);
	unlink(at("l"));
	unlink(at("target"));
}

static void test_fsutil__mkdirs(void **state)
{
	struct stat st;

	(void)state;
	assert_int_equal(fsutil_mkdirs(at("x/y//z/")), 0);
	assert_int_equal(stat(at("x/y/z"), &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(fsutil_mkdirs(at("x/y/z")), 0);
	assert_int_equal(fsutil_write_atomic(at("x/f"), "x", 1, 0644), 0);
	assert_int_equal(fsutil_mkdirs(at("x/f/g")), ERROR_EXISTS);
	assert_int_equal(fsutil_mkdirs(""), ERROR_INVALID);
	unlink(at("x/f"));
	rmdir(at("x/y/z"));
	rmdir(at("x/y"));
	rmdir(at("x"));
}

static void test_fsutil__read_fileat(void **state)
{
	int fd;
	char *buf = NULL;
	size_t len;

	(void)state;
	assert_int_equal(fsutil_write_atomic(at("r"), "abc", 3, 0644), 0);
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	assert_int_equal(
		fsutil_read_fileat(&buf, &len, fd, "r", "shown", 10), 0);
	assert_string_equal(buf, "abc");
	free(buf);
	assert_int_equal(
		fsutil_read_fileat(&buf, &len, fd, "q", "shown", 10),
		ERROR_NOTFOUND);
	assert_non_null(strstr(error_message(), "'shown'"));
	close(fd);
	unlink(at("r"));
}

/* The reused-buffer reader: both ways (fstat first, or read to the end of a
 * file the caller knows is regular) give the same bytes and refusals. */
static void test_fsutil__read_fileat_buf(void **state)
{
	static char big[200000];
	char *buf = NULL;
	size_t cap = 0, len = 0, i;
	int fd, regular;

	(void)state;
	for (i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + i % 26);
	assert_int_equal(
		fsutil_write_atomic(at("long"), "0123456789", 10, 0644), 0);
	assert_int_equal(fsutil_write_atomic(at("short"), "xyz", 3, 0644), 0);
	assert_int_equal(fsutil_write_atomic(at("empty"), "", 0, 0644), 0);
	assert_int_equal(
		fsutil_write_atomic(at("big"), big, sizeof(big), 0644), 0);
	assert_int_equal(symlink(at("short"), at("link")), 0);
	assert_int_equal(mkfifo(at("fifo"), 0600), 0);
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	for (regular = 0; regular <= 1; regular++) {
		/* One buffer for every file: a shorter file after a longer
		 * one ends where it should. */
		assert_int_equal(
			fsutil_read_fileat_buf(
				&buf, &cap, &len, fd, "long", NULL, 100,
				regular),
			0);
		assert_int_equal(len, 10);
		assert_string_equal(buf, "0123456789");
		assert_int_equal(
			fsutil_read_fileat_buf(
				&buf, &cap, &len, fd, "short", NULL, 100,
				regular),
			0);
		assert_int_equal(len, 3);
		assert_string_equal(buf, "xyz");
		assert_int_equal(
			fsutil_read_fileat_buf(
				&buf, &cap, &len, fd, "empty", NULL, 100,
				regular),
			0);
		assert_int_equal(len, 0);
		assert_string_equal(buf, "");
		/* Larger than the first buffer: it grows. */
		assert_int_equal(
			fsutil_read_fileat_buf(
				&buf, &cap, &len, fd, "big", NULL, sizeof(big),
				regular),
			0);
		assert_int_equal(len, sizeof(big));
		assert_true(cap > sizeof(big));
		assert_memory_equal(buf, big, sizeof(big));
		assert_int_equal(buf[len], '\0');
		/* Over the limit, small or large. */
		assert_int_equal(
			fsutil_read_fileat_buf(
				&buf, &cap, &len, fd, "long", "shown", 9,
				regular),
			ERROR_INVALID);
		assert_non_null(strstr(error_message(), "'shown' is"));
		assert_non_null(strstr(error_message(), "over the limit"));
		assert_int_equal(
			fsutil_read_fileat_buf(
				&buf, &cap, &len, fd, "big", NULL,
				sizeof(big) - 1, regular),
			ERROR_INVALID);
		assert_non_null(strstr(error_message(), "over the limit"));
		/* Never through a symlink, whatever the caller says. */
		assert_int_equal(
			fsutil_read_fileat_buf(
				&buf, &cap, &len, fd, "link", NULL, 100,
				regular),
			ERROR_INVALID);
		assert_non_null(strstr(error_message(), "is a symbolic link"));
		assert_int_equal(
			fsutil_read_fileat_buf(
				&buf, &cap, &len, fd, "none", NULL, 100,
				regular),
			ERROR_NOTFOUND);
	}
	/* Not said to be regular: a FIFO is refused without waiting. */
	assert_int_equal(
		fsutil_read_fileat_buf(
			&buf, &cap, &len, fd, "fifo", NULL, 100, 0),
		ERROR_INVALID);
	assert_non_null(strstr(error_message(), "not a regular file"));
	free(buf);
	close(fd);
	unlink(at("fifo"));
	unlink(at("link"));
	unlink(at("big"));
	unlink(at("empty"));
	unlink(at("short"));
	unlink(at("long"));
}

static void expect_file(const char *name, const char *want)
{
	char *buf = NULL;
	size_t len = 0;

	assert_int_equal(fsutil_read_file(&buf, &len, at(name), 1000), 0);
	assert_int_equal(len, strlen(want));
	assert_string_equal(buf, want);
	free(buf);
}

/*
 * fsutil_rewrite: a plain file keeps its inode (no new file is made, the
 * point of it), shorter content truncates; anything else is replaced by a
 * new file, never written through.
 */
static void test_fsutil__rewrite(void **state)
{
	struct stat a, b;

	(void)state;
	/* absent: made */
	assert_int_equal(
		fsutil_rewrite(at("r.yaml"), "long content\n", 13, 0644), 0);
	expect_file("r.yaml", "long content\n");
	assert_int_equal(stat(at("r.yaml"), &a), 0);
	/* a plain file: same inode, shorter content cut */
	assert_int_equal(fsutil_rewrite(at("r.yaml"), "short\n", 6, 0644), 0);
	expect_file("r.yaml", "short\n");
	assert_int_equal(stat(at("r.yaml"), &b), 0);
	assert_int_equal(a.st_ino, b.st_ino);
	/* longer again, same inode */
	assert_int_equal(
		fsutil_rewrite(at("r.yaml"), "longer than before\n", 19, 0644),
		0);
	expect_file("r.yaml", "longer than before\n");
	assert_int_equal(stat(at("r.yaml"), &b), 0);
	assert_int_equal(a.st_ino, b.st_ino);
	assert_int_equal(entries(NULL), 1);

	/* the execute bit to set: a new file with the mode */
	assert_int_equal(fsutil_rewrite(at("r.yaml"), "x\n", 2, 0755), 0);
	assert_int_equal(stat(at("r.yaml"), &b), 0);
	assert_true(b.st_mode & S_IXUSR);
	expect_file("r.yaml", "x\n");

	/* a second link: the other name keeps the old content */
	assert_int_equal(link(at("r.yaml"), at("other")), 0);
	assert_int_equal(fsutil_rewrite(at("r.yaml"), "y\n", 2, 0755), 0);
	expect_file("r.yaml", "y\n");
	expect_file("other", "x\n");
	unlink(at("other"));

	/* a symlink: replaced, its target untouched */
	assert_int_equal(fsutil_write_atomic(at("target"), "keep", 4, 0644), 0);
	assert_int_equal(symlink(at("target"), at("l")), 0);
	assert_int_equal(fsutil_rewrite(at("l"), "new", 3, 0644), 0);
	assert_int_equal(lstat(at("l"), &b), 0);
	assert_true(S_ISREG(b.st_mode));
	expect_file("l", "new");
	expect_file("target", "keep");

	/* a FIFO with no reader: replaced, without hanging */
	assert_int_equal(mkfifo(at("fifo"), 0644), 0);
	assert_int_equal(fsutil_rewrite(at("fifo"), "f", 1, 0644), 0);
	assert_int_equal(lstat(at("fifo"), &b), 0);
	assert_true(S_ISREG(b.st_mode));
	expect_file("fifo", "f");

	/* a folder in the way: an error naming the path, nothing left */
	assert_int_equal(mkdir(at("d"), 0755), 0);
	assert_int_equal(fsutil_rewrite(at("d"), "z", 1, 0644), ERROR_GENERIC);
	assert_non_null(strstr(error_message(), at("d")));
	assert_int_equal(entries(NULL), 5);
	rmdir(at("d"));
	unlink(at("fifo"));
	unlink(at("l"));
	unlink(at("target"));
	unlink(at("r.yaml"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fsutil__write_then_read),
		cmocka_unit_test(test_fsutil__read_refusals),
		cmocka_unit_test(test_fsutil__write_into_missing_folder),
		cmocka_unit_test(
			test_fsutil__write_replaces_symlink_not_target),
		cmocka_unit_test(test_fsutil__mkdirs),
		cmocka_unit_test(test_fsutil__read_fileat),
		cmocka_unit_test(test_fsutil__read_fileat_buf),
		cmocka_unit_test(test_fsutil__rewrite),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
