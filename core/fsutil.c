#define _GNU_SOURCE /* syncfs */
#include "fsutil.h"

#include <dirent.h>
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

/* Open a file to read it, never following a symlink (or blocking on a
 * FIFO); the messages of fsutil_read_fileat. */
static int open_read(int *out, int dirfd, const char *path, const char *name)
{
	int fd = openat(
		dirfd, path,
		O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0) {
		*out = fd;
		return 0;
	}
	if (errno == ENOENT)
		return error_set(ERROR_NOTFOUND, "'%s' does not exist", name);
	if (errno == ELOOP)
		return error_set(
			ERROR_INVALID, "'%s' is a symbolic link", name);
	return error_set(
		ERROR_GENERIC, "cannot open '%s': %s", name, strerror(errno));
}

/* fstat an open file: a regular file of at most max bytes. */
static int stat_regular(off_t *size, int fd, const char *name, size_t max)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return error_set(
			ERROR_GENERIC, "cannot stat '%s': %s", name,
			strerror(errno));
	if (!S_ISREG(st.st_mode))
		return error_set(
			ERROR_INVALID, "'%s' is not a regular file", name);
	if ((unsigned long long)st.st_size > max)
		return error_set(
			ERROR_INVALID,
			"'%s' is %lld bytes, over the limit of %zu", name,
			(long long)st.st_size, max);
	*size = st.st_size;
	return 0;
}

/* Make *buf hold at least want bytes, keeping its contents. */
static int reserve(char **buf, size_t *cap, size_t want)
{
	size_t c = *cap ? *cap : want; /* a first buffer of the exact size */
	char *p;

	if (want <= *cap)
		return 0;
	while (c < want)
		c *= 2;
	p = realloc(*buf, c);
	if (!p)
		return error_nomem();
	*buf = p;
	*cap = c;
	return 0;
}

/* read() up to n bytes at buf; 0 at end of file. */
static ssize_t read_some(int fd, char *buf, size_t n, const char *name)
{
	for (;;) {
		ssize_t r = read(fd, buf, n);

		if (r >= 0)
			return r;
		if (errno != EINTR)
			return error_set(
				ERROR_GENERIC, "cannot read '%s': %s", name,
				strerror(errno));
	}
}

/*
 * The first read of a file known to be regular: a whole small file
 * comes in one read() into the reused buffer, and a second read() that
 * returns 0 ends it -- no fstat.  A file that fills the buffer is
 * fstat'ed once, for its size limit.
 */
static int read_regular(
	char **buf,
	size_t *cap,
	size_t *out_len,
	int fd,
	const char *name,
	size_t max)
{
	size_t len = 0;
	int stated = 0, error;
	off_t size;
	ssize_t r;

	if ((error = reserve(buf, cap, 64 * 1024)) < 0)
		return error;
	for (;;) {
		if (len + 1 >= *cap) {
			if (!stated) {
				if ((error = stat_regular(
					     &size, fd, name, max)) < 0)
					return error;
				stated = 1;
			}
			if (len > max)
				return error_set(
					ERROR_INVALID,
					"'%s' is over the limit of %zu bytes",
					name, max);
			if ((error = reserve(buf, cap, len + 2)) < 0)
				return error;
		}
		r = read_some(fd, *buf + len, *cap - 1 - len, name);
		if (r < 0)
			return (int)r;
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (len > max) /* grew after it was opened */
		return error_set(
			ERROR_INVALID,
			"'%s' is %zu bytes, over the limit of %zu", name, len,
			max);
	(*buf)[len] = '\0';
	*out_len = len;
	return 0;
}

int fsutil_read_fileat_buf(
	char **buf,
	size_t *cap,
	size_t *out_len,
	int dirfd,
	const char *path,
	const char *name,
	size_t max,
	int regular)
{
	int fd = -1, error = 0;
	off_t size;
	size_t len = 0;

	if (!name)
		name = path;
	if ((error = open_read(&fd, dirfd, path, name)) < 0)
		goto done;
	if (regular) {
		error = read_regular(buf, cap, out_len, fd, name, max);
		goto done;
	}
	if ((error = stat_regular(&size, fd, name, max)) < 0)
		goto done;
	/*
	 * Read the size fstat gave, usually in one read(): the file as it
	 * was when opened (a file growing meanwhile is read up to that size).
	 */
	if ((error = reserve(buf, cap, (size_t)size + 1)) < 0)
		goto done;
	while (len < (size_t)size) {
		ssize_t r = read_some(fd, *buf + len, (size_t)size - len, name);

		if (r < 0) {
			error = (int)r;
			goto done;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	(*buf)[len] = '\0';
	*out_len = len;
done:
	if (fd >= 0)
		close(fd);
	return error;
}

int fsutil_read_fileat(
	char **out,
	size_t *out_len,
	int dirfd,
	const char *path,
	const char *name,
	size_t max)
{
	char *buf = NULL;
	size_t cap = 0, len = 0;
	int error;

	/* fstat first: the buffer is allocated at the file's exact size. */
	error = fsutil_read_fileat_buf(
		&buf, &cap, &len, dirfd, path, name, max, 0);
	if (error < 0) {
		free(buf);
		return error;
	}
	*out = buf;
	*out_len = len;
	return 0;
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

int fsutil_write_all(int fd, const void *buf, size_t len, const char *path)
{
	const unsigned char *p = buf;
	ssize_t w;

	while (len > 0) {
		w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return error_set(
				ERROR_GENERIC, "cannot write '%s': %s", path,
				w < 0 ? strerror(errno) : "no space");
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int fsutil_rewrite(const char *path, const void *buf, size_t len, mode_t mode)
{
	struct stat st;
	char *tmp = NULL;
	int fd, error = 0;

	/* O_NONBLOCK: a FIFO put in the file's place must not hang us */
	fd = open(path, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd >= 0) {
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
		    st.st_nlink != 1 ||
		    ((st.st_mode & S_IXUSR) != 0) != ((mode & S_IXUSR) != 0)) {
			close(fd);
			fd = -1;
		}
	}
	if (fd < 0) {
		if ((error = fsutil_write_temp(&tmp, path, buf, len, mode, 0)) <
		    0)
			return error;
		if (rename(tmp, path) < 0) {
			error = error_set(
				ERROR_GENERIC, "cannot replace '%s': %s", path,
				strerror(errno));
			unlink(tmp);
		}
		free(tmp);
		return error;
	}
	error = fsutil_write_all(fd, buf, len, path);
	if (error == 0 && (off_t)len < st.st_size &&
	    ftruncate(fd, (off_t)len) < 0)
		error = error_set(
			ERROR_GENERIC, "cannot truncate '%s': %s", path,
			strerror(errno));
	if (close(fd) < 0 && error == 0)
		error = error_set(
			ERROR_GENERIC, "cannot write '%s': %s", path,
			strerror(errno));
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
	/* mostly there already: one call, not two per folder on the way */
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
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

int fsutil_open_elsewhere(int (*match)(const char *path, void *arg), void *arg)
{
	DIR *proc, *fds;
	struct dirent *e, *fe;
	char fdpath[600], link[4096];
	long self = (long)getpid(), pid;
	ssize_t n;
	char *end;
	int held = 0;

	if (!(proc = opendir("/proc")))
		return 1;
	while (!held && (e = readdir(proc))) {
		pid = strtol(e->d_name, &end, 10);
		if (*end || pid <= 0 || pid == self)
			continue;
		snprintf(fdpath, sizeof(fdpath), "/proc/%ld/fd", pid);
		if (!(fds = opendir(fdpath)))
			continue;
		while (!held && (fe = readdir(fds))) {
			if (fe->d_name[0] == '.' ||
			    (size_t)snprintf(
				    fdpath, sizeof(fdpath), "/proc/%ld/fd/%s",
				    pid, fe->d_name) >= sizeof(fdpath))
				continue;
			n = readlink(fdpath, link, sizeof(link) - 1);
			if (n <= 0)
				continue;
			link[n] = '\0';
			held = match(link, arg);
		}
		closedir(fds);
	}
	closedir(proc);
	return held;
}
