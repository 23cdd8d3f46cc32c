#define _GNU_SOURCE /* syncfs */
#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "error.h"

int fsutil_read_fileat(
	char **out,
	size_t *out_len,
	int dirfd,
	const char *path,
	const char *name,
	size_t max)
{
	int fd = -1, error = 0;
	struct stat st;
	char *buf = NULL;
	size_t len = 0, cap;

	if (!name)
		name = path;
	fd = openat(
		dirfd, path,
		O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			error = error_set(
				ERROR_NOTFOUND, "'%s' does not exist", name);
		else if (errno == ELOOP)
			error = error_set(
				ERROR_INVALID, "'%s' is a symbolic link", name);
		else
			error = error_set(
				ERROR_GENERIC, "cannot open '%s': %s", name,
				strerror(errno));
		goto done;
	}
	if (fstat(fd, &st) < 0) {
		error = error_set(
			ERROR_GENERIC, "cannot stat '%s': %s", name,
			strerror(errno));
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		error = error_set(
			ERROR_INVALID, "'%s' is not a regular file", name);
		goto done;
	}
	if ((unsigned long long)st.st_size > max) {
		error = error_set(
			ERROR_INVALID,
			"'%s' is %lld bytes, over the limit of %zu", name,
			(long long)st.st_size, max);
		goto done;
	}
	/*
	 * Read the size fstat gave, usually in one read(): the file as it
	 * was when opened (a file growing meanwhile is read up to that size).
	 */
	cap = (size_t)st.st_size;
	buf = malloc(cap + 1);
	if (!buf) {
		error = error_nomem();
		goto done;
	}
	while (len < cap) {
		ssize_t r = read(fd, buf + len, cap - len);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			error = error_set(
				ERROR_GENERIC, "cannot read '%s': %s", name,
				strerror(errno));
			goto done;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	buf = NULL;
done:
	if (fd >= 0)
		close(fd);
	free(buf);
	return error;
}

int fsutil_read_file(char **out, size_t *out_len, const char *path, size_t max)
{
	return fsutil_read_fileat(out, out_len, AT_FDCWD, path, NULL, max);
}

static int split_path(char **out_dir, const char **out_base, const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir;

	if (!slash) {
		dir = strdup(".");
		*out_base = path;
	} else if (slash == path) {
		dir = strdup("/");
		*out_base = slash + 1;
	} else {
		dir = strndup(path, (size_t)(slash - path));
		*out_base = slash + 1;
	}
	if (!dir)
		return error_nomem();
	*out_dir = dir;
	return 0;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int error = 0;

	if (fd < 0)
		return error_set(
			ERROR_GENERIC, "cannot open folder '%s': %s", dir,
			strerror(errno));
	/* Some file systems refuse fsync on a directory; that is not fatal. */
	if (fsync(fd) < 0 && errno != EINVAL && errno != EROFS)
		error = error_set(
			ERROR_GENERIC, "cannot sync folder '%s': %s", dir,
			strerror(errno));
	close(fd);
	return error;
}

/*
 * Suffixes of temporary names: random at first, then counting, so writing
 * thousands of files costs no getrandom call each (O_EXCL settles any
 * clash).
 */
static uint32_t temp_suffix(void)
{
	static uint32_t next;
	static int seeded;

	if (!seeded) {
		next = randombytes_random();
		seeded = 1;
	}
	return next++;
}

int fsutil_write_temp(
	char **out_tmp,
	const char *path,
	const void *buf,
	size_t len,
	mode_t mode,
	int sync_file)
{
	char *dir = NULL, *tmp = NULL;
	const char *base;
	size_t tmpsize;
	int fd = -1, error, tries;
	const unsigned char *p = buf;
	size_t done_len = 0;

	if ((error = split_path(&dir, &base, path)) < 0)
		goto done;
	if (!*base) {
		error = error_set(ERROR_INVALID, "'%s' names no file", path);
		goto done;
	}
	tmpsize = strlen(path) + 32;
	tmp = malloc(tmpsize);
	if (!tmp) {
		error = error_nomem();
		goto done;
	}
	for (tries = 0; tries < 100; tries++) {
		uint32_t r = temp_suffix();

		snprintf(
			tmp, tmpsize, "%.*s.%s.%08x.tmp", (int)(base - path),
			path, base, (unsigned)r);
		fd = open(
			tmp,
			O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			mode);
		if (fd >= 0 || errno != EEXIST)
			break;
	}
	if (fd < 0) {
		error = error_set(
			ERROR_GENERIC, "cannot create '%s': %s", tmp,
			strerror(errno));
		free(tmp);
		tmp = NULL;
		goto done;
	}
	while (done_len < len) {
		ssize_t w = write(fd, p + done_len, len - done_len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			error = error_set(
				ERROR_GENERIC, "cannot write '%s': %s", tmp,
				strerror(errno));
			goto done;
		}
		done_len += (size_t)w;
	}
	if (sync_file && fsync(fd) < 0) {
		error = error_set(
			ERROR_GENERIC, "cannot sync '%s': %s", tmp,
			strerror(errno));
		goto done;
	}
	if (close(fd) < 0) {
		fd = -1;
		error = error_set(
			ERROR_GENERIC, "cannot write '%s': %s", tmp,
			strerror(errno));
		goto done;
	}
	fd = -1;
	*out_tmp = tmp;
	tmp = NULL;
done:
	if (fd >= 0)
		close(fd);
	if (tmp) {
		unlink(tmp);
		free(tmp);
	}
	free(dir);
	return error;
}

int fsutil_write_atomic_flags(
	const char *path,
	const void *buf,
	size_t len,
	mode_t mode,
	int sync_dir)
{
	char *tmp = NULL, *dir = NULL;
	const char *base;
	int error;

	if ((error = fsutil_write_temp(&tmp, path, buf, len, mode, 1)) < 0)
		goto done;
	if (rename(tmp, path) < 0) {
		error = error_set(
			ERROR_GENERIC, "cannot replace '%s': %s", path,
			strerror(errno));
		unlink(tmp);
		goto done;
	}
	if (sync_dir && (error = split_path(&dir, &base, path)) == 0)
		error = fsync_dir(dir);
done:
	free(tmp);
	free(dir);
	return error;
}

int fsutil_sync_fs(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), error = 0;

	if (fd < 0)
		return error_set(
			ERROR_GENERIC, "cannot open '%s': %s", path,
			strerror(errno));
#ifdef __linux__
	if (syncfs(fd) < 0)
		error = error_set(
			ERROR_GENERIC, "cannot sync '%s': %s", path,
			strerror(errno));
#else
	sync();
#endif
	close(fd);
	return error;
}

int fsutil_fsync_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), error = 0;

	if (fd < 0)
		return error_set(
			ERROR_GENERIC, "cannot open '%s': %s", path,
			strerror(errno));
	if (fsync(fd) < 0)
		error = error_set(
			ERROR_GENERIC, "cannot sync '%s': %s", path,
			strerror(errno));
	close(fd);
	return error;
}

int fsutil_write_atomic(
	const char *path,
	const void *buf,
	size_t len,
	mode_t mode)
{
	return fsutil_write_atomic_flags(path, buf, len, mode, 1);
}

int fsutil_fsync_dir(const char *path)
{
	return fsync_dir(path);
}

int fsutil_mkdirs(const char *path)
{
	char *copy = NULL, *p;
	struct stat st;
	int error = 0;

	if (!*path)
		return error_set(ERROR_INVALID, "empty folder name");
	copy = strdup(path);
	if (!copy)
		return error_nomem();
	for (p = copy + 1;; p++) {
		int last = (*p == '\0');

		if (*p != '/' && !last)
			continue;
		*p = '\0';
		if (mkdir(copy, 0777) < 0) {
			if (errno != EEXIST) {
				error = error_set(
					ERROR_GENERIC,
					"cannot create folder '%s': %s", copy,
					strerror(errno));
				goto done;
			}
			if (stat(copy, &st) < 0 || !S_ISDIR(st.st_mode)) {
				error = error_set(
					ERROR_EXISTS,
					"'%s' exists and is not a folder",
					copy);
				goto done;
			}
		}
		if (last)
			break;
		*p = '/';
		while (p[1] == '/')
			p++;
	}
done:
	free(copy);
	return error;
}
