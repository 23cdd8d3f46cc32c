/*
 * sync/gitindex: a few entries of .git/index changed in one copy.
 *
 * The format (git's Documentation/gitformat-index.txt), versions 2 and 3:
 *   "DIRC", version, entry count (32-bit big-endian each);
 *   entries sorted by name (bytes, then length), then stage:
 *     ctime s, ns, mtime s, ns, dev, ino, mode, uid, gid, size (32 bits
 *     each), the 20-byte object id, 16 bits of flags (assume-valid,
 *     extended, 2 bits of stage, 12 bits of name length), 16 more bits of
 *     flags if extended (version 3), the name, 1 to 8 NULs so that the
 *     entry's length is a multiple of 8;
 *   extensions: a 4-byte signature (upper case first: optional), a 32-bit
 *     length, the data;
 *   the SHA-1 of everything before it.
 */
#include "gitindex.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/sha1.h"

#define HEADER_LEN 12
#define ENTRY_FIXED 62 /* stat data, object id, flags */
#define FLAG_VALID 0x8000u
#define FLAG_EXTENDED 0x4000u
#define FLAG_STAGE 0x3000u
#define FLAG_NAMELEN 0x0fffu
#define MAX_CHANGES 65536
/* gitindex's files in the git dir, beside index.lock (which it holds) */
#define MARK_NAME "plansync-index-lock.tmp"
#define TEMP_NAME "plansync-index.tmp"

struct change {
	const char *path;
	size_t len;
	const unsigned char *oid;
	size_t orig; /* its place in the caller's list */
	size_t at; /* the first entry whose name is >= path */
	int exists; /* entry `at` is path, stage 0 */
};

struct index {
	const unsigned char *map;
	size_t size;
	uint32_t version;
	uint32_t count;
	size_t *offs; /* count + 1: each entry's offset, then their end */
	size_t scanned; /* entries parsed (all, or up to one past a stop) */
	int ours; /* the file gitindex last wrote, untouched since */
	int conflicts; /* an entry of stage 1, 2 or 3 */
	struct stat st; /* the file's, when opened */
};

static int stamp_matches(
	const char *gitdir,
	const struct stat *st,
	const unsigned char *sum);

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static unsigned get16(const unsigned char *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static int name_cmp(const char *a, size_t al, const char *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);

	if (c)
		return c;
	return al < bl ? -1 : al > bl;
}

static size_t entry_hdr(const struct index *ix, size_t i)
{
	return get16(ix->map + ix->offs[i] + 60) & FLAG_EXTENDED ?
		       ENTRY_FIXED + 2 :
		       ENTRY_FIXED;
}

static const char *entry_name(const struct index *ix, size_t i, size_t *len)
{
	size_t hdr = entry_hdr(ix, i);
	const char *name = (const char *)ix->map + ix->offs[i] + hdr;

	*len = get16(ix->map + ix->offs[i] + 60) & FLAG_NAMELEN;
	if (*len == FLAG_NAMELEN)
		*len = strnlen(name, ix->offs[i + 1] - ix->offs[i] - hdr);
	return name;
}

/*
 * Check the layout and find every entry.  0, or GITINDEX_SLOW for a file
 * the fast path leaves to libgit2 (which also reports real damage).  With
 * stop, only up to the first entry whose name sorts after it (for an index
 * gitindex wrote itself: its layout is known good).
 */
static int parse(struct index *ix, const char *stop, size_t stoplen)
{
	const unsigned char *m = ix->map;
	size_t end, p, hdr, namelen, entlen, extlen;
	unsigned flags;
	uint32_t i;

	if (ix->size < HEADER_LEN + SHA1_LEN || memcmp(m, "DIRC", 4) != 0)
		return GITINDEX_SLOW;
	ix->version = get32(m + 4);
	ix->count = get32(m + 8);
	if (ix->version != 2 && ix->version != 3)
		return GITINDEX_SLOW;
	end = ix->size - SHA1_LEN;
	if (ix->count > (end - HEADER_LEN) / (ENTRY_FIXED + 2))
		return GITINDEX_SLOW;
	free(ix->offs);
	if (!(ix->offs = malloc(((size_t)ix->count + 1) * sizeof(size_t))))
		return error_nomem();
	p = HEADER_LEN;
	for (i = 0; i < ix->count; i++) {
		if (end - p < ENTRY_FIXED + 2)
			return GITINDEX_SLOW;
		ix->offs[i] = p;
		flags = get16(m + p + 60);
		if ((flags & FLAG_EXTENDED) && ix->version < 3)
			return GITINDEX_SLOW;
		if (flags & FLAG_STAGE)
			ix->conflicts = 1;
		hdr = flags & FLAG_EXTENDED ? ENTRY_FIXED + 2 : ENTRY_FIXED;
		namelen = flags & FLAG_NAMELEN;
		if (namelen == FLAG_NAMELEN)
			namelen = strnlen(
				(const char *)m + p + hdr, end - p - hdr);
		if (p + hdr + namelen >= end || m[p + hdr + namelen] != '\0')
			return GITINDEX_SLOW;
		entlen = (hdr + namelen + 8) & ~(size_t)7;
		if (entlen > end - p)
			return GITINDEX_SLOW;
		if (stop && name_cmp(
				    (const char *)m + p + hdr, namelen, stop,
				    stoplen) > 0) {
			ix->offs[i + 1] = p + entlen;
			ix->scanned = i + 1;
			return 0;
		}
		p += entlen;
	}
	ix->offs[ix->count] = p;
	ix->scanned = ix->count;
	/* Extensions: optional ones only (they are dropped). */
	while (p < end) {
		if (end - p < 8 || m[p] < 'A' || m[p] > 'Z')
			return GITINDEX_SLOW;
		extlen = get32(m + p + 4);
		if (extlen > end - p - 8)
			return GITINDEX_SLOW;
		p += 8 + extlen;
	}
	return 0;
}

/*
 * Open path (the index) with flags, map it and check its layout: 0, or
 * GITINDEX_SLOW (missing, not a regular file, not a layout parse takes).
 * With stamp_gitdir, see whether it is the index gitindex wrote last, and
 * if so parse it only up to stop.  index_close releases it either way.
 */
static int index_open(
	struct index *ix,
	struct stat *st,
	int *fd,
	const char *path,
	int flags,
	int populate,
	const char *stamp_gitdir,
	const char *stop,
	size_t stoplen)
{
	if ((*fd = open(path, flags | O_CLOEXEC | O_NOFOLLOW)) < 0 ||
	    fstat(*fd, st) < 0 || !S_ISREG(st->st_mode) || st->st_size <= 0)
		return GITINDEX_SLOW;
	ix->size = (size_t)st->st_size;
	ix->st = *st;
	ix->map =
		mmap(NULL, ix->size, PROT_READ,
		     MAP_SHARED | (populate ? MAP_POPULATE : 0), *fd, 0);
	if (ix->map == MAP_FAILED) {
		ix->map = NULL;
		return GITINDEX_SLOW;
	}
	if (stamp_gitdir && ix->size > SHA1_LEN)
		ix->ours = stamp_matches(
			stamp_gitdir, st, ix->map + ix->size - SHA1_LEN);
	return parse(ix, ix->ours ? stop : NULL, stoplen);
}

static void index_close(struct index *ix, int fd)
{
	if (ix->map)
		munmap((void *)ix->map, ix->size);
	if (fd >= 0)
		close(fd);
	free(ix->offs);
}

/* The first entry whose name is >= (name, len), stages aside. */
static size_t lower_bound(const struct index *ix, const char *name, size_t len)
{
	size_t lo = 0, hi = ix->scanned, mid, elen;
	const char *e;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		e = entry_name(ix, mid, &elen);
		if (name_cmp(e, elen, name, len) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int has_entry(const struct index *ix, const char *name, size_t len)
{
	size_t i = lower_bound(ix, name, len), elen;
	const char *e;

	if (i == ix->scanned)
		return 0;
	e = entry_name(ix, i, &elen);
	return elen == len && memcmp(e, name, len) == 0;
}

/* An entry for a file under name/ (adding name as a file would clash). */
static int has_below(const struct index *ix, const char *name, size_t len)
{
	char *dir = malloc(len + 2);
	size_t i, elen;
	const char *e;
	int found = 0;

	if (!dir)
		return 1; /* let libgit2 decide */
	memcpy(dir, name, len);
	dir[len] = '/';
	i = lower_bound(ix, dir, len + 1);
	if (i < ix->scanned) {
		e = entry_name(ix, i, &elen);
		found = elen > len + 1 && memcmp(e, dir, len + 1) == 0;
	}
	free(dir);
	return found;
}

static int change_cmp(const void *a, const void *b)
{
	const struct change *x = a, *y = b;

	return name_cmp(x->path, x->len, y->path, y->len);
}

/* Place every change; GITINDEX_SLOW where the fast path does not apply. */
static int place(const struct index *ix, struct change *c, size_t n)
{
	size_t i, elen, k;
	const char *e;
	unsigned flags;

	for (i = 0; i < n; i++) {
		if (i && c[i].len == c[i - 1].len &&
		    memcmp(c[i].path, c[i - 1].path, c[i].len) == 0)
			return GITINDEX_SLOW;
		c[i].at = lower_bound(ix, c[i].path, c[i].len);
		c[i].exists = 0;
		if (c[i].at < ix->scanned) {
			e = entry_name(ix, c[i].at, &elen);
			if (elen == c[i].len &&
			    memcmp(e, c[i].path, elen) == 0) {
				flags = get16(ix->map + ix->offs[c[i].at] + 60);
				if (flags &
				    (FLAG_VALID | FLAG_EXTENDED | FLAG_STAGE))
					return GITINDEX_SLOW;
				c[i].exists = 1;
				continue;
			}
		}
		if (!c[i].oid)
			continue; /* removing what is not there */
		/* A new file: no file where its folders go, no folder where
		 * it goes. */
		for (k = 0; k < c[i].len; k++)
			if (c[i].path[k] == '/' && has_entry(ix, c[i].path, k))
				return GITINDEX_SLOW;
		if (has_below(ix, c[i].path, c[i].len))
			return GITINDEX_SLOW;
	}
	return 0;
}

/* The bytes of make_entry's entry for a path of len bytes. */
static size_t entry_size(size_t len)
{
	return (ENTRY_FIXED + len + 8) & ~(size_t)7;
}

/* Write the entry for c at out; its length, or 0 to go slow. */
static size_t
make_entry(unsigned char *out, const char *workdir, const struct change *c)
{
	char full[4096];
	struct stat st;
	size_t len = entry_size(c->len);
	uint32_t mode;

	if ((size_t)snprintf(full, sizeof(full), "%s%s", workdir, c->path) >=
		    sizeof(full) ||
	    lstat(full, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	mode = st.st_mode & S_IXUSR ? 0100755 : 0100644;
	memset(out, 0, len);
	put32(out, (uint32_t)st.st_ctim.tv_sec);
	put32(out + 4, (uint32_t)st.st_ctim.tv_nsec);
	put32(out + 8, (uint32_t)st.st_mtim.tv_sec);
	put32(out + 12, (uint32_t)st.st_mtim.tv_nsec);
	put32(out + 16, 0); /* st_dev: libgit2 leaves it 0, git ignores it */
	put32(out + 20, (uint32_t)st.st_ino);
	put32(out + 24, mode);
	put32(out + 28, (uint32_t)st.st_uid);
	put32(out + 32, (uint32_t)st.st_gid);
	put32(out + 36, (uint32_t)st.st_size);
	memcpy(out + 40, c->oid, GITINDEX_OID_LEN);
	out[60] =
		(unsigned char)((c->len < FLAG_NAMELEN ? c->len : FLAG_NAMELEN) >> 8);
	out[61] =
		(unsigned char)(c->len < FLAG_NAMELEN ? c->len : FLAG_NAMELEN);
	memcpy(out + ENTRY_FIXED, c->path, c->len);
	return len;
}

static int write_all(int fd, const unsigned char *p, size_t len)
{
	ssize_t w;

	while (len) {
		w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static int pwrite_all(int fd, const unsigned char *p, size_t len, size_t at)
{
	ssize_t w;

	while (len) {
		w = pwrite(fd, p, len, (off_t)at);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		at += (size_t)w;
		len -= (size_t)w;
	}
	return 0;
}

/* The checksum of the file's bytes before its last SHA1_LEN: 1 if it holds. */
/*
 * The last index file this process found whole: a merge reads a large
 * index twice and changes it once, and each pass would check its 8 MB
 * again (100,000 entries).  The same file (device, inode, size, times to
 * the nanosecond) ending in the same checksum is taken as checked.
 */
static struct {
	int set;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
	unsigned char sum[SHA1_LEN];
} checked;

static int same_checked(const struct stat *st, const unsigned char *sum)
{
	return checked.set && checked.dev == st->st_dev &&
	       checked.ino == st->st_ino && checked.size == st->st_size &&
	       checked.mtime.tv_sec == st->st_mtim.tv_sec &&
	       checked.mtime.tv_nsec == st->st_mtim.tv_nsec &&
	       checked.ctime.tv_sec == st->st_ctim.tv_sec &&
	       checked.ctime.tv_nsec == st->st_ctim.tv_nsec &&
	       memcmp(checked.sum, sum, SHA1_LEN) == 0;
}

/* The file of st, ending in checksum sum, as checked. */
static void mark_checked(const struct stat *st, const unsigned char *sum)
{
	checked.set = 1;
	checked.dev = st->st_dev;
	checked.ino = st->st_ino;
	checked.size = st->st_size;
	checked.mtime = st->st_mtim;
	checked.ctime = st->st_ctim;
	memcpy(checked.sum, sum, SHA1_LEN);
}

/*
 * The checksum of a large index checked on a thread of its own while the
 * caller goes on (gitindex_precheck), its verdict taken into `checked`
 * by the next gitindex call: a merge of a 100,000-action plan spends
 * 5 ms on it, with a core idle.  The thread reads the file through a
 * small buffer rather than a map: faulting in 8 MB of mapped pages beside
 * the caller slows the caller's own page faults on this kind of machine.
 * If the file changes meanwhile, its stat data or its checksum no longer
 * match and it is checked again.  (tests/test_gitindex.c sets
 * PLANSYNC_TEST_PRECHECK_ANY to have small indexes checked so.)
 */
#define PRECHECK_MIN ((off_t)1 << 20)
#define PRECHECK_BUF ((size_t)128 << 10)

static struct {
	int running, ok, fd;
	pthread_t th;
	size_t size;
	struct stat st;
	unsigned char sum[SHA1_LEN]; /* the file's last bytes */
	unsigned char *buf;
} pre;

static void *precheck_run(void *arg)
{
	size_t at = 0, want, end = pre.size - SHA1_LEN;
	unsigned char sum[SHA1_LEN], *buf = arg;
	struct sha1 ctx;
	ssize_t got;

	sha1_init(&ctx);
	while (at < end) {
		want = end - at < PRECHECK_BUF ? end - at : PRECHECK_BUF;
		got = pread(pre.fd, buf, want, (off_t)at);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		sha1_update(&ctx, buf, (size_t)got);
		at += (size_t)got;
	}
	if (at != end)
		return NULL;
	sha1_final(sum, &ctx);
	pre.ok = memcmp(sum, pre.sum, SHA1_LEN) == 0;
	return NULL;
}

void gitindex_precheck_wait(void)
{
	if (!pre.running)
		return;
	pthread_join(pre.th, NULL);
	pre.running = 0;
	free(pre.buf);
	pre.buf = NULL;
	if (pre.ok)
		mark_checked(&pre.st, pre.sum);
	close(pre.fd);
	pre.fd = -1;
}

void gitindex_precheck(const char *gitdir)
{
	char path[4096];
	int fd;

	gitindex_precheck_wait();
	if ((size_t)snprintf(path, sizeof(path), "%sindex", gitdir) >=
		    sizeof(path) ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return;
	if (fstat(fd, &pre.st) < 0 || !S_ISREG(pre.st.st_mode) ||
	    pre.st.st_size < (getenv("PLANSYNC_TEST_PRECHECK_ANY") ?
				      SHA1_LEN :
				      PRECHECK_MIN) ||
	    (uintmax_t)pre.st.st_size > SIZE_MAX ||
	    pread(fd, pre.sum, SHA1_LEN, pre.st.st_size - SHA1_LEN) !=
		    SHA1_LEN) {
		close(fd);
		return;
	}
	pre.size = (size_t)pre.st.st_size;
	/* no check to make: the file gitindex wrote last, or checked */
	if (stamp_matches(gitdir, &pre.st, pre.sum) ||
	    same_checked(&pre.st, pre.sum)) {
		close(fd);
		return;
	}
	pre.fd = fd;
	pre.ok = 0;
	/* (taken here, from the heap the merge warmed) */
	if (!(pre.buf = malloc(PRECHECK_BUF)) ||
	    pthread_create(&pre.th, NULL, precheck_run, pre.buf) != 0) {
		free(pre.buf);
		pre.buf = NULL;
		close(fd);
		pre.fd = -1;
		return;
	}
	pre.running = 1;
}

/* Non-zero if ix's file ends in the checksum of the rest of it. */
static int checksum_holds(const struct index *ix)
{
	const unsigned char *m = ix->map, *end = m + ix->size - SHA1_LEN;
	unsigned char sum[SHA1_LEN];
	struct sha1 ctx;

	if (same_checked(&ix->st, end))
		return 1;
	sha1_init(&ctx);
	sha1_update(&ctx, m, ix->size - SHA1_LEN);
	sha1_final(sum, &ctx);
	if (memcmp(sum, end, SHA1_LEN) != 0)
		return 0;
	mark_checked(&ix->st, sum);
	return 1;
}

/*
 * .git/plansync/index-stamp names the index file gitindex wrote last (its
 * inode, size, times and checksum): while the index is still that file,
 * its checksum need not be verified again.  Any other writer (git renames
 * a new file in; anyone else changes a time) breaks the match.  A stale or
 * damaged stamp only costs a verification.
 */
static void stamp_line(
	char *out,
	size_t len,
	const struct stat *st,
	const unsigned char *sum)
{
	size_t o;
	int i;

	o = (size_t)snprintf(
		out, len, "%llu %llu %lld.%09ld %lld.%09ld ",
		(unsigned long long)st->st_ino, (unsigned long long)st->st_size,
		(long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec,
		(long long)st->st_ctim.tv_sec, st->st_ctim.tv_nsec);
	for (i = 0; i < SHA1_LEN && o + 3 < len; i++, o += 2)
		snprintf(out + o, len - o, "%02x", sum[i]);
	snprintf(out + o, len - o, "\n");
}

static int
stamp_path(char *out, size_t len, const char *gitdir, const char *name)
{
	return (size_t)snprintf(out, len, "%splansync/%s", gitdir, name) < len ?
		       0 :
		       -1;
}

static int stamp_matches(
	const char *gitdir,
	const struct stat *st,
	const unsigned char *sum)
{
	char path[4096], want[256], have[256];
	ssize_t got;
	int fd;

	if (stamp_path(path, sizeof(path), gitdir, "index-stamp") < 0 ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return 0;
	got = read(fd, have, sizeof(have) - 1);
	close(fd);
	if (got <= 0)
		return 0;
	have[got] = '\0';
	stamp_line(want, sizeof(want), st, sum);
	return strcmp(have, want) == 0;
}

/* Record the index as written (fd open on it); best effort: a cache. */
static void stamp_write(const char *gitdir, int fd, const unsigned char *sum)
{
	char path[4096], tmp[4096], line[256];
	struct stat st;
	int out;

	if (fstat(fd, &st) < 0 ||
	    stamp_path(path, sizeof(path), gitdir, "index-stamp") < 0 ||
	    stamp_path(tmp, sizeof(tmp), gitdir, ".index-stamp.tmp") < 0)
		return;
	stamp_line(line, sizeof(line), &st, sum);
	unlink(tmp);
	if ((out = open(
		     tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		     0644)) < 0)
		return;
	if (write_all(out, (const unsigned char *)line, strlen(line)) < 0 ||
	    close(out) < 0 || rename(tmp, path) < 0)
		unlink(tmp);
}

/*
 * The index is changed in place when every change replaces an entry of
 * the same name (the entries keep their length): only the changed
 * entries' bytes and the checksum are written.  Optional extensions (git
 * reset and checkout leave a TREE cache) are cut off first, so that no
 * state on the way has a cache describing the old entries.  index.lock,
 * held meanwhile, says so in its first line; if plansync is killed before
 * the checksum is written, gitindex_recover (run by the next plansync
 * holding the repository lock) finishes it: every state between is the
 * old or the new entries followed by a checksum to recompute.  The
 * steps: in_place_check, in_place_hash, in_place_write.
 */

/* where the entries end: a partly parsed index has no extensions */
static size_t entries_end(const struct index *ix)
{
	return ix->scanned < ix->count ? ix->size - SHA1_LEN :
					 ix->offs[ix->count];
}

/*
 * The old checksum must hold (else libgit2 reports the damage), unless
 * the file is the one gitindex wrote last or this process checked
 * already.  Both checksums share the bytes before the first change:
 * their hash into *shared.  0, or GITINDEX_SLOW.
 */
static int in_place_check(
	struct sha1 *shared,
	const struct index *ix,
	const struct change *c)
{
	unsigned char sum[SHA1_LEN];
	struct sha1 old_ctx;
	size_t end = ix->size - SHA1_LEN;

	sha1_init(shared);
	sha1_update(shared, ix->map, ix->offs[c[0].at]);
	if (!ix->ours && !same_checked(&ix->st, ix->map + end)) {
		old_ctx = *shared;
		sha1_update(
			&old_ctx, ix->map + ix->offs[c[0].at],
			end - ix->offs[c[0].at]);
		sha1_final(sum, &old_ctx);
		if (memcmp(sum, ix->map + end, SHA1_LEN) != 0)
			return GITINDEX_SLOW;
	}
	return 0;
}

struct pipe;
static int pipe_wait(struct pipe *pp, size_t k);

/*
 * The new checksum, from ctx (the bytes before the first change) on: the
 * old bytes between the changes, the new entries ents for them.  When
 * pp is not NULL, change i's entry is taken only once pp says it is made
 * (-1 if pp is stopped first).
 */

static int in_place_hash(
	unsigned char sum[SHA1_LEN],
	struct sha1 *ctx,
	const struct index *ix,
	const struct change *c,
	size_t n,
	const unsigned char *ents,
	const size_t *entlen,
	struct pipe *pp)
{
	size_t i, at, k, pos = ix->offs[c[0].at];

	for (i = 0, k = 0; i < n; i++) {
		if (!c[i].exists)
			continue;
		at = ix->offs[c[i].at];
		sha1_update(ctx, ix->map + pos, at - pos);
		if (pp && pipe_wait(pp, i) < 0)
			return -1;
		sha1_update(ctx, ents + k, entlen[i]);
		pos = at + entlen[i];
		k += entlen[i];
	}
	sha1_update(ctx, ix->map + pos, entries_end(ix) - pos);
	sha1_final(sum, ctx);
	return 0;
}

/* The new entries and then the checksum sum written over the old. */
static int in_place_write(
	const struct index *ix,
	const struct change *c,
	size_t n,
	const unsigned char *ents,
	const size_t *entlen,
	const unsigned char sum[SHA1_LEN],
	int fd,
	const char *gitdir,
	const char *path)
{
	size_t i, k, newend = entries_end(ix);

	/* the map is not read past newend from here */
	if (newend < ix->size - SHA1_LEN &&
	    ftruncate(fd, (off_t)(newend + SHA1_LEN)) < 0)
		goto fail;
	for (i = 0, k = 0; i < n; i++) {
		if (!c[i].exists)
			continue;
		if (pwrite_all(fd, ents + k, entlen[i], ix->offs[c[i].at]) < 0)
			goto fail;
		k += entlen[i];
	}
	if (getenv("PLANSYNC_TEST_DIE_IN_INDEX"))
		raise(SIGKILL); /* tests/e2e/crash_index.sh: entries, no sum */
	if (pwrite_all(fd, sum, SHA1_LEN, newend) < 0)
		goto fail;
	stamp_write(gitdir, fd, sum);
	return 0;
fail:
	return error_set(
		ERROR_GENERIC, "cannot write '%s': %s", path, strerror(errno));
}

/*
 * The new checksum of a large index changed in place computed on a thread
 * of its own while the caller writes the work-tree files, each entry
 * taken as soon as its file is written and its entry made (files and
 * entries go in the same order): at 100,000 entries the 8 MB pass
 * (4.6 ms) and the writes overlap instead of following each other.
 * (tests set PLANSYNC_TEST_PIPE_ANY to have small indexes done so.)
 */
#define PIPE_MIN ((size_t)1 << 20)

struct pipe {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	size_t made; /* entries made so far */
	int stop;
	pthread_t th;
	/* the hashing's inputs and result */
	struct sha1 ctx;
	const struct index *ix;
	const struct change *c;
	size_t n;
	const unsigned char *ents;
	const size_t *entlen;
	unsigned char sum[SHA1_LEN]; /* when not stopped */
};

/* Wait until entry k is made; -1 if told to stop. */
static int pipe_wait(struct pipe *pp, size_t k)
{
	int stop;

	pthread_mutex_lock(&pp->mu);
	while (pp->made <= k && !pp->stop)
		pthread_cond_wait(&pp->cond, &pp->mu);
	stop = pp->made <= k;
	pthread_mutex_unlock(&pp->mu);
	return stop ? -1 : 0;
}

static void pipe_made(struct pipe *pp, size_t made, int stop)
{
	pthread_mutex_lock(&pp->mu);
	pp->made = made;
	pp->stop |= stop;
	pthread_cond_signal(&pp->cond);
	pthread_mutex_unlock(&pp->mu);
}

static void *pipe_run(void *arg)
{
	struct pipe *pp = arg;

	(void)in_place_hash(
		pp->sum, &pp->ctx, pp->ix, pp->c, pp->n, pp->ents, pp->entlen,
		pp);
	return NULL;
}

/*
 * Create gitdir/name afresh (O_EXCL) holding buf; its path in out.  With
 * out_fd, the file stays open there; else it is closed.
 */
static int write_new(
	char *out,
	size_t outlen,
	const char *gitdir,
	const char *name,
	const void *buf,
	size_t len,
	int *out_fd)
{
	int fd;

	if ((size_t)snprintf(out, outlen, "%s%s", gitdir, name) >= outlen)
		return error_set(ERROR_GENERIC, "path too long: '%s'", gitdir);
	unlink(out); /* a leftover of a killed run: ours (repository lock) */
	fd =
		open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		     0666);
	if (fd < 0 || write_all(fd, buf, len) < 0) {
		error_set(
			ERROR_GENERIC, "cannot write '%s': %s", out,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(out);
		return ERROR_GENERIC;
	}
	if (out_fd)
		*out_fd = fd;
	else
		close(fd);
	return 0;
}

/*
 * Take index.lock the way git does (it exists or not, atomically), but
 * born holding gitindex's mark: written to a file of its own, then linked
 * to index.lock, which fails if anyone holds the lock.  1 if taken.
 */
static int take_lock(const char *gitdir, const char *lockpath)
{
	char mark[64], tmp[4096];
	int taken;

	snprintf(
		mark, sizeof(mark), "%s %ld\n", GITINDEX_LOCK_MARK,
		(long)getpid());
	if (write_new(
		    tmp, sizeof(tmp), gitdir, MARK_NAME, mark, strlen(mark),
		    NULL) < 0) {
		error_clear();
		return 0;
	}
	taken = link(tmp, lockpath) == 0;
	unlink(tmp);
	return taken;
}

/*
 * A new index: runs of old entries, the new ones, written to TEMP_NAME and
 * renamed over the index (index.lock, held meanwhile, keeps its mark so
 * that a kill leaves nothing gitindex_recover cannot tell is its own).
 */
static int
copy(const struct index *ix,
     const struct change *c,
     size_t n,
     const unsigned char *ents,
     const size_t *entlen,
     const char *gitdir,
     const char *path)
{
	unsigned char *out = NULL;
	char tmp[4096];
	size_t i, k, o, pos, len, count = ix->count;
	int tfd = -1, error = 0;

	if (!ix->ours && !checksum_holds(ix))
		return GITINDEX_SLOW;
	len = ix->offs[ix->count] + SHA1_LEN;
	for (i = 0; i < n; i++)
		len += entlen[i];
	if (!(out = malloc(len)))
		return error_nomem();
	memcpy(out, ix->map, HEADER_LEN);
	o = HEADER_LEN;
	for (i = 0, k = 0, pos = 0; i < n; i++) {
		memcpy(out + o, ix->map + ix->offs[pos],
		       ix->offs[c[i].at] - ix->offs[pos]);
		o += ix->offs[c[i].at] - ix->offs[pos];
		pos = c[i].at;
		if (c[i].exists) {
			pos++;
			count--;
		}
		if (c[i].oid) {
			memcpy(out + o, ents + k, entlen[i]);
			o += entlen[i];
			k += entlen[i];
			count++;
		}
	}
	memcpy(out + o, ix->map + ix->offs[pos],
	       ix->offs[ix->count] - ix->offs[pos]);
	o += ix->offs[ix->count] - ix->offs[pos];
	put32(out + 8, (uint32_t)count);
	{
		struct sha1 ctx;

		sha1_init(&ctx);
		sha1_update(&ctx, out, o);
		sha1_final(out + o, &ctx);
	}
	o += SHA1_LEN;
	if ((error = write_new(
		     tmp, sizeof(tmp), gitdir, TEMP_NAME, out, o, &tfd)) < 0)
		goto done;
	if (rename(tmp, path) < 0) {
		error = error_set(
			ERROR_GENERIC, "cannot rename '%s' to '%s': %s", tmp,
			path, strerror(errno));
		unlink(tmp);
	} else {
		stamp_write(gitdir, tfd, out + o - SHA1_LEN);
	}
done:
	if (tfd >= 0)
		close(tfd);
	free(out);
	return error;
}

int gitindex_update_writing(
	const char *gitdir,
	const char *workdir,
	const struct gitindex_change *ch,
	size_t n,
	gitindex_write_fn write_fn,
	void *arg)
{
	struct index ix;
	struct change *c = NULL;
	struct pipe pp;
	struct sha1 ctx;
	unsigned char *ents = NULL, sum[SHA1_LEN];
	size_t *entlen = NULL;
	char path[4096], lockpath[4096];
	struct stat st;
	size_t i, cap, k, written = 0;
	int fd = -1, locked = 0, fast = 1, piped = 0, began = 0, error = 0;

	gitindex_precheck_wait();

	memset(&ix, 0, sizeof(ix));
	if (n == 0 || n > MAX_CHANGES ||
	    (size_t)snprintf(path, sizeof(path), "%sindex", gitdir) >=
		    sizeof(path) ||
	    (size_t)snprintf(
		    lockpath, sizeof(lockpath), "%sindex.lock", gitdir) >=
		    sizeof(lockpath)) {
		error = GITINDEX_SLOW;
		goto done;
	}

	/* The lock first, as git takes it: no writer between read and
	 * write.  Its first line says who holds it (gitindex_recover). */
	if (!take_lock(gitdir, lockpath)) {
		error = GITINDEX_SLOW; /* held: libgit2 reports it */
		goto done;
	}
	locked = 1;

	if (!(c = calloc(n, sizeof(*c))) ||
	    !(entlen = calloc(n, sizeof(*entlen)))) {
		error = error_nomem();
		goto done;
	}
	cap = 0;
	for (i = 0; i < n; i++) {
		c[i].path = ch[i].path;
		c[i].len = strlen(ch[i].path);
		c[i].oid = ch[i].oid;
		c[i].orig = i;
		if (c[i].len == 0 || c[i].path[0] == '/') {
			error = GITINDEX_SLOW;
			goto done;
		}
		cap += ENTRY_FIXED + c[i].len + 8;
	}
	qsort(c, n, sizeof(*c), change_cmp);
	/* Entries past the last changed one matter only to a copy. */
	if ((error = index_open(
		     &ix, &st, &fd, path, O_RDWR, 1, gitdir, c[n - 1].path,
		     c[n - 1].len)) != 0) {
		error = error ? error : GITINDEX_SLOW;
		goto done;
	}
	if ((error = place(&ix, c, n)) != 0)
		goto done;
	/* in place: every change replaces an entry of its own length */
	for (i = 0; i < n; i++)
		if (!c[i].oid || !c[i].exists ||
		    entry_size(c[i].len) !=
			    ix.offs[c[i].at + 1] - ix.offs[c[i].at])
			fast = 0;
	if (!fast && ix.scanned < ix.count &&
	    ((error = parse(&ix, NULL, 0)) != 0 ||
	     (error = place(&ix, c, n)) != 0))
		goto done;
	if (!(ents = malloc(cap))) {
		error = error_nomem();
		goto done;
	}
	if (fast && (error = in_place_check(&ctx, &ix, c)) != 0)
		goto done;
	/* the checksum computed beside the writes (see struct pipe) */
	if (fast && write_fn &&
	    (ix.size >= PIPE_MIN || getenv("PLANSYNC_TEST_PIPE_ANY"))) {
		memset(&pp, 0, sizeof(pp));
		pp.ctx = ctx;
		pp.ix = &ix;
		pp.c = c;
		pp.n = n;
		pp.ents = ents;
		pp.entlen = entlen;
		if (pthread_mutex_init(&pp.mu, NULL) == 0) {
			if (pthread_cond_init(&pp.cond, NULL) == 0) {
				if (pthread_create(
					    &pp.th, NULL, pipe_run, &pp) == 0)
					piped = 1;
				else
					pthread_cond_destroy(&pp.cond);
			}
			if (!piped)
				pthread_mutex_destroy(&pp.mu);
		}
	}
	began = 1;
	for (i = 0, k = 0; i < n; i++) {
		if (write_fn && (error = write_fn(arg, c[i].orig)) < 0)
			goto done;
		written = i + 1;
		if (!c[i].oid)
			continue; /* removed (never in place) */
		if (!(entlen[i] = make_entry(ents + k, workdir, &c[i]))) {
			error = GITINDEX_SLOW;
			goto done;
		}
		k += entlen[i];
		if (piped)
			pipe_made(&pp, i + 1, 0);
	}
	if (piped) {
		pthread_join(pp.th, NULL);
		piped = 0;
		pthread_cond_destroy(&pp.cond);
		pthread_mutex_destroy(&pp.mu);
		memcpy(sum, pp.sum, SHA1_LEN);
	} else if (fast) {
		in_place_hash(sum, &ctx, &ix, c, n, ents, entlen, NULL);
	}
	if (fast) {
		error = in_place_write(
			&ix, c, n, ents, entlen, sum, fd, gitdir, path);
	} else if (
		ix.scanned < ix.count && (error = parse(&ix, NULL, 0)) != 0) {
		goto done;
	} else {
		error = copy(&ix, c, n, ents, entlen, gitdir, path);
	}
done:
	if (piped) {
		pipe_made(&pp, pp.made, 1);
		pthread_join(pp.th, NULL);
		pthread_cond_destroy(&pp.cond);
		pthread_mutex_destroy(&pp.mu);
	}
	if (locked)
		unlink(lockpath);
	index_close(&ix, fd);
	free(ents);
	free(entlen);
	/* Every file is written whatever happens to the index (not after
	 * a write failed): if the loop never began, in the caller's order. */
	if (write_fn && (!began || error == GITINDEX_SLOW)) {
		int werr = 0;

		for (i = began ? written : 0; !werr && i < n; i++)
			werr = write_fn(arg, began ? c[i].orig : i);
		if (werr < 0)
			error = werr;
	}
	free(c);
	return error;
}

int gitindex_update(
	const char *gitdir,
	const char *workdir,
	const struct gitindex_change *ch,
	size_t n)
{
	return gitindex_update_writing(gitdir, workdir, ch, n, NULL, NULL);
}

int gitindex_recover(const char *gitdir)
{
	struct index ix;
	unsigned char sum[SHA1_LEN];
	char path[4096], lockpath[4096], head[64];
	struct sha1 ctx;
	struct stat st;
	ssize_t got;
	int fd = -1, lockfd = -1, error = 0;

	gitindex_precheck_wait();

	memset(&ix, 0, sizeof(ix));
	if ((size_t)snprintf(path, sizeof(path), "%sindex", gitdir) >=
		    sizeof(path) ||
	    (size_t)snprintf(
		    lockpath, sizeof(lockpath), "%sindex.lock", gitdir) >=
		    sizeof(lockpath))
		return 0;
	if ((lockfd = open(lockpath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return 0; /* no lock: nothing to finish */
	got = read(lockfd, head, sizeof(head) - 1);
	close(lockfd);
	if (got < (ssize_t)strlen(GITINDEX_LOCK_MARK) ||
	    memcmp(head, GITINDEX_LOCK_MARK, strlen(GITINDEX_LOCK_MARK)) != 0)
		return 0; /* git's own lock: not ours to touch */
	/* Only a whole, well-formed index is finished; else libgit2 says
	 * what is wrong with it. */
	if (index_open(&ix, &st, &fd, path, O_RDWR, 0, NULL, NULL, 0) == 0 &&
	    ix.offs[ix.count] == ix.size - SHA1_LEN && !checksum_holds(&ix)) {
		sha1_init(&ctx);
		sha1_update(&ctx, ix.map, ix.size - SHA1_LEN);
		sha1_final(sum, &ctx);
		if (pwrite_all(fd, sum, SHA1_LEN, ix.size - SHA1_LEN) < 0)
			error = error_set(
				ERROR_GENERIC, "cannot write '%s': %s", path,
				strerror(errno));
	}
	/* A new index half-written when the kill came: never renamed in. */
	if ((size_t)snprintf(path, sizeof(path), "%s%s", gitdir, TEMP_NAME) <
	    sizeof(path))
		unlink(path);
	if (error == 0 && unlink(lockpath) < 0 && errno != ENOENT)
		error = error_set(
			ERROR_GENERIC, "cannot remove '%s': %s", lockpath,
			strerror(errno));
	index_close(&ix, fd);
	return error;
}

int gitindex_lookup(
	struct gitindex_entry *out,
	int *out_conflicts,
	struct timespec *out_mtime,
	const char *gitdir,
	const char *const *paths,
	size_t n)
{
	struct index ix;
	char path[4096];
	struct stat st;
	const unsigned char *e;
	size_t i, at, elen, len;
	const char *name;
	unsigned flags;
	int fd = -1, error = 0;

	gitindex_precheck_wait();

	memset(&ix, 0, sizeof(ix));
	if ((size_t)snprintf(path, sizeof(path), "%sindex", gitdir) >=
		    sizeof(path) ||
	    (error = index_open(
		     &ix, &st, &fd, path, O_RDONLY, 0, gitdir, NULL, 0)) != 0) {
		error = error ? error : GITINDEX_SLOW;
		goto done;
	}
	/* A damaged index is libgit2's to report, before anything is done. */
	if (!ix.ours && !checksum_holds(&ix)) {
		error = GITINDEX_SLOW;
		goto done;
	}
	for (i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		len = strlen(paths[i]);
		at = lower_bound(&ix, paths[i], len);
		if (at == ix.scanned)
			continue;
		name = entry_name(&ix, at, &elen);
		e = ix.map + ix.offs[at];
		flags = get16(e + 60);
		if (elen != len || memcmp(name, paths[i], len) != 0 ||
		    (flags & FLAG_STAGE))
			continue;
		out[i].found = 1;
		out[i].mtime_s = get32(e + 8);
		out[i].mtime_ns = get32(e + 12);
		out[i].ino = get32(e + 20);
		out[i].mode = get32(e + 24);
		out[i].size = get32(e + 36);
		memcpy(out[i].oid, e + 40, GITINDEX_OID_LEN);
	}
	*out_conflicts = ix.conflicts;
	*out_mtime = st.st_mtim;
done:
	index_close(&ix, fd);
	return error;
}
