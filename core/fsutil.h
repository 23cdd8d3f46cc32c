/*
 * core/fsutil: careful file I/O.
 */
#ifndef PLANSYNC_FSUTIL_H
#define PLANSYNC_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Read a whole regular file (refusing symlinks with O_NOFOLLOW, and files
 * over max bytes) into a malloc'd NUL-terminated buffer.  ERROR_NOTFOUND if
 * it does not exist, ERROR_INVALID for a symlink, a non-regular file or one
 * too large.
 */
int fsutil_read_file(char **out, size_t *out_len, const char *path, size_t max);

/*
 * Atomically replace path with len bytes: write a temporary file in the same
 * directory (O_CREAT|O_EXCL|O_NOFOLLOW, the given mode), fsync it, rename it
 * over path, fsync the directory.  No partial file is ever visible at path.
 */
int fsutil_write_atomic(
	const char *path,
	const void *buf,
	size_t len,
	mode_t mode);

/* mkdir -p, mode 0777 & ~umask; existing directories are fine. */
int fsutil_mkdirs(const char *path);

/*
 * fsutil_read_file relative to a directory descriptor (AT_FDCWD for the
 * current one); name, if not NULL, is used in messages instead of path.
 */
int fsutil_read_fileat(
	char **out,
	size_t *out_len,
	int dirfd,
	const char *path,
	const char *name,
	size_t max);

/*
 * fsutil_read_fileat for a reader of many files, into one reused buffer:
 * *buf (malloc'd, *cap bytes; NULL and 0 at first) grows as needed and is
 * the caller's to free at the end; the len bytes read are NUL-terminated.
 * If regular is non-zero, the caller has seen that path is a regular file
 * (readdir's DT_REG): no fstat, the file is read until end of file (still
 * never following a symlink, never blocking, at most max bytes).
 */
int fsutil_read_fileat_buf(
	char **buf,
	size_t *cap,
	size_t *out_len,
	int dirfd,
	const char *path,
	const char *name,
	size_t max,
	int regular);

/*
 * fsutil_write_atomic, with the fsync of the directory only if sync_dir is
 * non-zero (a caller writing many files in one folder syncs it once with
 * fsutil_fsync_dir afterwards).
 */
int fsutil_write_atomic_flags(
	const char *path,
	const void *buf,
	size_t len,
	mode_t mode,
	int sync_dir);

/* fsync a directory (after renames into it). */
int fsutil_fsync_dir(const char *path);

/*
 * The first half of fsutil_write_atomic, for writers of many files: write
 * len bytes to a new temporary file next to path (O_EXCL, O_NOFOLLOW),
 * fsync'd only if sync_file; *out_tmp (malloc'd) names it.  The caller
 * makes the data durable (fsutil_fsync_file or fsutil_sync_fs), renames
 * it over path, then syncs the directory; or unlinks it.
 */
int fsutil_write_temp(
	char **out_tmp,
	const char *path,
	const void *buf,
	size_t len,
	mode_t mode,
	int sync_file);

/*
 * Give path the len bytes of buf for a writer whose own journal repairs a
 * kill (a merge's work tree): a plain file of one link and the wanted
 * execute bit is rewritten in place (write, then truncate), so no inode is
 * made (on ext4, making a thousand files just after others were deleted
 * costs more than a whole merge, and renaming over a file forces its data
 * out at once); anything else (absent, a symlink, a FIFO, other links, a
 * mode change) gets a new file renamed over it.  Not durable, and a kill
 * mid-way may leave the file part old, part new: callers list the path in
 * a journal first.
 */
int fsutil_rewrite(const char *path, const void *buf, size_t len, mode_t mode);

/* Write all len bytes of buf to fd at its offset (path names it in the
 * error).  0, or ERROR_GENERIC. */
int fsutil_write_all(int fd, const void *buf, size_t len, const char *path);

/* fsync one file (by name, not following a symlink). */
int fsutil_fsync_file(const char *path);

/* Flush the whole file system holding path (syncfs; sync elsewhere):
 * cheaper than an fsync per file for thousands of files. */
int fsutil_sync_fs(const char *path);

/*
 * Non-zero if a process of this machine other than this one holds open a
 * file whose path (as /proc shows it: absolute, links resolved) match
 * accepts; also when /proc cannot be read (one may, for all we know).
 */
int fsutil_open_elsewhere(int (*match)(const char *path, void *arg), void *arg);

#endif
