/*
 * sync/packwrite: a pack of whole objects and its version 2 index.  See
 * packwrite.h.
 */
#include "packwrite.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libdeflate.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/sha1.h"

/* Offsets of 2 GiB and more need the index's large offset table. */
#define MAX_PACK 0x7fffffffu

struct grow {
	unsigned char *p;
	size_t len, cap;
};

static int grow_to(struct grow *g, size_t more)
{
	unsigned char *p;
	size_t cap;

	if (more <= g->cap - g->len)
		return 0;
	if (more > SIZE_MAX / 2 - g->len)
		return error_nomem();
	cap = g->cap ? g->cap : 4096;
	while (cap - g->len < more)
		cap *= 2;
	if (!(p = realloc(g->p, cap)))
		return error_nomem();
	g->p = p;
	g->cap = cap;
	return 0;
}

static int put(struct grow *g, const void *data, size_t len)
{
	int error;

	if ((error = grow_to(g, len)) < 0)
		return error;
	memcpy(g->p + g->len, data, len);
	g->len += len;
	return 0;
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static int add32(struct grow *g, uint32_t v)
{
	unsigned char b[4];

	put32(b, v);
	return put(g, b, 4);
}

int packwrite_cmp(const void *a, const void *b)
{
	return memcmp(
		((const struct packwrite_obj *)a)->id,
		((const struct packwrite_obj *)b)->id, PACKWRITE_OID_LEN);
}

/* The compressors: [0] stores (trees), [1] the fastest level (blobs). */
struct zs {
	struct libdeflate_compressor *c[2];
};

/* One pack entry: type and size header, then the zlib stream. */
static int
add_entry(struct grow *g, struct zs *z, const struct packwrite_obj *o)
{
	struct libdeflate_compressor *c = z->c[o->type == 2 ? 0 : 1];
	unsigned char hdr[16];
	size_t n = 0, size = o->len, bound, out;
	int error;

	hdr[n] = (unsigned char)((o->type << 4) | (size & 15));
	size >>= 4;
	while (size) {
		hdr[n++] |= 0x80;
		hdr[n] = (unsigned char)(size & 0x7f);
		size >>= 7;
	}
	n++;
	if ((error = put(g, hdr, n)) < 0)
		return error;
	if (o->len > (size_t)UINT32_MAX)
		return error_set(ERROR_GENERIC, "merge: an object is too big");
	bound = libdeflate_zlib_compress_bound(c, o->len);
	if ((error = grow_to(g, bound)) < 0)
		return error;
	if (!(out = libdeflate_zlib_compress(
		      c, o->data, o->len, g->p + g->len, bound)))
		return error_set(ERROR_GENERIC, "merge: cannot compress");
	g->len += out;
	return 0;
}

/* A new temporary file in dir, its name in tmp: its descriptor, or < 0. */
static int open_temp(char *tmp, size_t tmplen, const char *dir)
{
	int fd;

	if ((size_t)snprintf(tmp, tmplen, "%s/tmp_pack_XXXXXX", dir) >= tmplen)
		return error_set(ERROR_GENERIC, "path too long: '%s'", dir);
	if ((fd = mkstemp(tmp)) < 0)
		return error_set(
			ERROR_GENERIC, "cannot create '%s': %s", tmp,
			strerror(errno));
	return fd;
}

/* git's pack files are read-only; the descriptor closed either way */
static int finish_temp(int fd, const char *tmp)
{
	int error = 0;

	if (fchmod(fd, 0444) < 0)
		error = error_set(
			ERROR_GENERIC, "cannot write '%s': %s", tmp,
			strerror(errno));
	if (close(fd) < 0 && error == 0)
		error = error_set(
			ERROR_GENERIC, "cannot write '%s': %s", tmp,
			strerror(errno));
	return error;
}

/*
 * The pack goes to its file through a buffer of this size, hashed as it
 * goes: a merge of a 100,000-action plan writes ~1.8 MB of folders, and
 * a buffer that size would be ~440 pages of fresh memory to fault in.
 */
#define PACK_CHUNK ((size_t)256 << 10)

/* The buffered bytes hashed into ctx and written; *done counts them. */
static int flush_pack(
	struct grow *g,
	struct sha1 *ctx,
	uint64_t *done,
	int fd,
	const char *tmp)
{
	int error;

	sha1_update(ctx, g->p, g->len);
	if ((error = fsutil_write_all(fd, g->p, g->len, tmp)) < 0)
		return error;
	*done += g->len;
	g->len = 0;
	return 0;
}

int packwrite(const char *gitdir, struct packwrite_obj *objs, size_t n)
{
	struct grow pack = { NULL, 0, 0 }, idx = { NULL, 0, 0 };
	uint32_t *crc = NULL, *off = NULL, fan[256];
	unsigned char sum[SHA1_LEN], isum[SHA1_LEN];
	char dir[4096], ptmp[4200], itmp[4200], name[4200], hex[41];
	struct sha1 ctx;
	struct zs z = { { NULL, NULL } };
	uint64_t done = 0;
	size_t i, start;
	int error = 0, k, pfd = -1, ifd = -1;

	ptmp[0] = itmp[0] = '\0';
	if (n == 0 || n > UINT32_MAX)
		return error_set(ERROR_GENERIC, "merge: no objects to pack");
	if ((size_t)snprintf(dir, sizeof(dir), "%sobjects/pack", gitdir) >=
	    sizeof(dir))
		return error_set(ERROR_GENERIC, "path too long: '%s'", gitdir);
	qsort(objs, n, sizeof(*objs), packwrite_cmp);
	if (!(crc = calloc(n, sizeof(*crc))) ||
	    !(off = calloc(n, sizeof(*off))) ||
	    !(z.c[0] = libdeflate_alloc_compressor(0)) ||
	    !(z.c[1] = libdeflate_alloc_compressor(1))) {
		error = error_nomem();
		goto done;
	}
	if ((error = grow_to(&pack, PACK_CHUNK)) < 0)
		goto done;
	if ((pfd = open_temp(ptmp, sizeof(ptmp), dir)) < 0) {
		error = pfd;
		ptmp[0] = '\0';
		goto done;
	}
	/* the pack: header, entries, checksum */
	sha1_init(&ctx);
	if ((error = put(&pack, "PACK", 4)) < 0 ||
	    (error = add32(&pack, 2)) < 0 ||
	    (error = add32(&pack, (uint32_t)n)) < 0)
		goto done;
	for (i = 0; i < n; i++) {
		if (i && memcmp(objs[i - 1].id, objs[i].id,
				PACKWRITE_OID_LEN) == 0) {
			error = error_set(
				ERROR_GENERIC, "merge: an object twice");
			goto done;
		}
		start = pack.len;
		if ((error = add_entry(&pack, &z, &objs[i])) < 0)
			goto done;
		if (done + pack.len > MAX_PACK) {
			error = error_set(ERROR_GENERIC, "merge: pack too big");
			goto done;
		}
		off[i] = (uint32_t)(done + start);
		crc[i] = libdeflate_crc32(0, pack.p + start, pack.len - start);
		/* (an entry bigger than the buffer grows it, for itself) */
		if (pack.len >= PACK_CHUNK / 2 &&
		    (error = flush_pack(&pack, &ctx, &done, pfd, ptmp)) < 0)
			goto done;
	}
	if ((error = flush_pack(&pack, &ctx, &done, pfd, ptmp)) < 0)
		goto done;
	sha1_final(sum, &ctx);
	error = fsutil_write_all(pfd, sum, SHA1_LEN, ptmp);
	k = finish_temp(pfd, ptmp);
	pfd = -1;
	if (error < 0 || (error = k) < 0)
		goto done;

	/* the index: magic, version, fan-out, ids, CRCs, offsets, sums */
	memset(fan, 0, sizeof(fan));
	for (i = 0; i < n; i++)
		fan[objs[i].id[0]]++;
	for (k = 1; k < 256; k++)
		fan[k] += fan[k - 1];
	if ((error = put(&idx, "\377tOc", 4)) < 0 ||
	    (error = add32(&idx, 2)) < 0)
		goto done;
	for (k = 0; k < 256 && error == 0; k++)
		error = add32(&idx, fan[k]);
	for (i = 0; i < n && error == 0; i++)
		error = put(&idx, objs[i].id, PACKWRITE_OID_LEN);
	for (i = 0; i < n && error == 0; i++)
		error = add32(&idx, crc[i]);
	for (i = 0; i < n && error == 0; i++)
		error = add32(&idx, off[i]);
	if (error < 0 || (error = put(&idx, sum, SHA1_LEN)) < 0)
		goto done;
	sha1_init(&ctx);
	sha1_update(&ctx, idx.p, idx.len);
	sha1_final(isum, &ctx);
	if ((error = put(&idx, isum, SHA1_LEN)) < 0)
		goto done;
	if ((ifd = open_temp(itmp, sizeof(itmp), dir)) < 0) {
		error = ifd;
		itmp[0] = '\0';
		goto done;
	}
	error = fsutil_write_all(ifd, idx.p, idx.len, itmp);
	k = finish_temp(ifd, itmp);
	ifd = -1;
	if (error < 0 || (error = k) < 0)
		goto done;

	/* pack first, index last: no index ever names a missing pack */
	for (i = 0; i < SHA1_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", sum[i]);
	snprintf(name, sizeof(name), "%s/pack-%s.pack", dir, hex);
	if (rename(ptmp, name) < 0) {
		error = error_set(
			ERROR_GENERIC, "cannot rename '%s': %s", ptmp,
			strerror(errno));
		goto done;
	}
	ptmp[0] = '\0';
	snprintf(name, sizeof(name), "%s/pack-%s.idx", dir, hex);
	if (rename(itmp, name) < 0) {
		error = error_set(
			ERROR_GENERIC, "cannot rename '%s': %s", itmp,
			strerror(errno));
		goto done;
	}
	itmp[0] = '\0';
done:
	if (pfd >= 0)
		close(pfd);
	if (ifd >= 0)
		close(ifd);
	if (ptmp[0])
		unlink(ptmp);
	if (itmp[0])
		unlink(itmp);
	free(pack.p);
	free(idx.p);
	free(crc);
	free(off);
	libdeflate_free_compressor(z.c[0]);
	libdeflate_free_compressor(z.c[1]);
	return error;
}
