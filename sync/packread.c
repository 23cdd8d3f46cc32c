/*
 * sync/packread: objects straight from pack files, with a cache of built
 * objects.  See packread.h.
 */
#include "packread.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>
#include <git2/sys/odb_backend.h>
#include <libdeflate.h>

#include "core/error.h"

#define OBJ_OFS_DELTA 6
#define OBJ_REF_DELTA 7
/* Deeper chains than git makes (50 by default) are left to libgit2. */
#define MAX_CHAIN 4096
/* Bigger objects are left to libgit2 (plan files are at most 1 MiB). */
#define MAX_OBJECT (64u << 20)
#define NBUCKETS 4096u

struct pack {
	const unsigned char *idx, *data;
	size_t idx_len, data_len;
	uint32_t n;
	const unsigned char *fanout, *ids, *offs, *big;
	uint32_t nbig;
};

struct centry {
	struct centry *next; /* in its bucket */
	struct centry *newer, *older; /* in use order */
	uint32_t pack;
	uint64_t off;
	enum packread_type type;
	size_t len;
	unsigned char *data;
	unsigned pins; /* packread_hold's: while any, out of the use order */
};

struct packread {
	struct pack *packs;
	size_t npacks;
	struct centry *bucket[NBUCKETS];
	struct centry *newest, *oldest;
	size_t cached, limit;
	unsigned char *last; /* an uncached result, freed at the next call */
	struct libdeflate_decompressor *dd;
};

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void pack_unmap(struct pack *p)
{
	if (p->idx)
		munmap((void *)p->idx, p->idx_len);
	if (p->data)
		munmap((void *)p->data, p->data_len);
	memset(p, 0, sizeof(*p));
}

static const unsigned char *map_file(size_t *len, const char *path)
{
	struct stat st;
	void *m;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    (uint64_t)st.st_size > SIZE_MAX) {
		close(fd);
		return NULL;
	}
	m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return NULL;
	*len = (size_t)st.st_size;
	return m;
}

/* Map and check one .idx (version 2) and its .pack; 0 when usable. */
static int pack_map(struct pack *p, const char *idxpath)
{
	char path[4096];
	size_t len = strlen(idxpath), need;
	uint32_t i, prev = 0, v;

	memset(p, 0, sizeof(*p));
	if (len < 4 || len >= sizeof(path))
		return -1;
	if (!(p->idx = map_file(&p->idx_len, idxpath)))
		return -1;
	memcpy(path, idxpath, len - 4);
	memcpy(path + len - 4, ".pack", 6);
	if (!(p->data = map_file(&p->data_len, path)))
		goto bad;
	if (p->idx_len < 8 + 1024 + 40 ||
	    memcmp(p->idx, "\377tOc\0\0\0\2", 8) != 0)
		goto bad;
	p->fanout = p->idx + 8;
	for (i = 0; i < 256; i++) {
		v = be32(p->fanout + 4 * i);
		if (v < prev)
			goto bad;
		prev = v;
	}
	p->n = prev;
	need = 8 + 1024 + (size_t)p->n * (PACKREAD_OID_LEN + 8) + 40;
	if ((uint64_t)p->n * (PACKREAD_OID_LEN + 8) > p->idx_len ||
	    p->idx_len < need || (p->idx_len - need) % 8 != 0)
		goto bad;
	p->ids = p->fanout + 1024;
	p->offs = p->ids + (size_t)p->n * (PACKREAD_OID_LEN + 4);
	p->big = p->offs + (size_t)p->n * 4;
	p->nbig = (uint32_t)((p->idx_len - need) / 8);
	if (p->data_len < 12 + 20 || memcmp(p->data, "PACK", 4) != 0 ||
	    (be32(p->data + 4) != 2 && be32(p->data + 4) != 3) ||
	    be32(p->data + 8) != p->n)
		goto bad;
	return 0;
bad:
	pack_unmap(p);
	return -1;
}

static int has_suffix(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

int packread_open(struct packread **out, const char *gitdir, size_t cache_bytes)
{
	struct packread *pr;
	struct pack *grown;
	struct dirent *de;
	char dir[4096], path[4096];
	size_t cap = 0;
	DIR *d;
	int n;

	*out = NULL;
	if (!(pr = calloc(1, sizeof(*pr))))
		return error_nomem();
	pr->limit = cache_bytes;
	if (!(pr->dd = libdeflate_alloc_decompressor())) {
		free(pr);
		return error_nomem();
	}
	n = snprintf(dir, sizeof(dir), "%sobjects/pack", gitdir);
	if (n < 0 || (size_t)n >= sizeof(dir) || !(d = opendir(dir))) {
		*out = pr;
		return 0;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || !has_suffix(de->d_name, ".idx"))
			continue;
		n = snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (n < 0 || (size_t)n >= sizeof(path))
			continue;
		if (pr->npacks == cap) {
			cap = cap ? 2 * cap : 4;
			if (!(grown = realloc(
				      pr->packs, cap * sizeof(*grown)))) {
				closedir(d);
				packread_free(pr);
				return error_nomem();
			}
			pr->packs = grown;
		}
		if (pack_map(&pr->packs[pr->npacks], path) == 0)
			pr->npacks++;
	}
	closedir(d);
	*out = pr;
	return 0;
}

void packread_free(struct packread *pr)
{
	struct centry *e, *next;
	size_t i;

	if (!pr)
		return;
	for (i = 0; i < NBUCKETS; i++)
		for (e = pr->bucket[i]; e; e = next) {
			next = e->next;
			free(e->data);
			free(e);
		}
	for (i = 0; i < pr->npacks; i++)
		pack_unmap(&pr->packs[i]);
	free(pr->packs);
	free(pr->last);
	libdeflate_free_decompressor(pr->dd);
	free(pr);
}

/* The offset of id in pack p, or -1. */
static int64_t pack_find(const struct pack *p, const unsigned char *id)
{
	uint32_t lo = id[0] ? be32(p->fanout + 4 * (id[0] - 1)) : 0;
	uint32_t hi = be32(p->fanout + 4 * id[0]), mid, o;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c =
			memcmp(p->ids + (size_t)mid * PACKREAD_OID_LEN, id,
			       PACKREAD_OID_LEN);
		if (c == 0) {
			o = be32(p->offs + (size_t)mid * 4);
			if (!(o & 0x80000000u))
				return o;
			o &= 0x7fffffffu;
			if (o >= p->nbig)
				return -1;
			return (int64_t)((uint64_t)be32(p->big + (size_t)o * 8) << 32 | be32(p->big + (size_t)o * 8 + 4)) &
			       INT64_MAX;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static struct centry **slot(struct packread *pr, uint32_t pack, uint64_t off)
{
	uint64_t h = (off * 0x9e3779b97f4a7c15ull) ^ pack;

	return &pr->bucket[(h >> 40) & (NBUCKETS - 1)];
}

static void lru_unlink(struct packread *pr, struct centry *e)
{
	if (e->newer)
		e->newer->older = e->older;
	else
		pr->newest = e->older;
	if (e->older)
		e->older->newer = e->newer;
	else
		pr->oldest = e->newer;
	e->newer = e->older = NULL;
}

static void lru_push(struct packread *pr, struct centry *e)
{
	e->newer = NULL;
	e->older = pr->newest;
	if (pr->newest)
		pr->newest->newer = e;
	else
		pr->oldest = e;
	pr->newest = e;
}

static struct centry *
cache_get(struct packread *pr, uint32_t pack, uint64_t off)
{
	struct centry *e;

	for (e = *slot(pr, pack, off); e; e = e->next)
		if (e->off == off && e->pack == pack) {
			if (!e->pins) {
				lru_unlink(pr, e);
				lru_push(pr, e);
			}
			return e;
		}
	return NULL;
}

/* Drop least recently used entries, never keep, until need more fit. */
static void
cache_evict(struct packread *pr, size_t need, const struct centry *keep)
{
	struct centry **pp, *e;

	while (pr->oldest && pr->cached + need > pr->limit) {
		e = pr->oldest;
		if (e == keep && !(e = e->newer))
			return;
		for (pp = slot(pr, e->pack, e->off); *pp != e;
		     pp = &(*pp)->next)
			;
		*pp = e->next;
		lru_unlink(pr, e);
		pr->cached -= e->len;
		free(e->data);
		free(e);
	}
}

/*
 * Keep data (malloc'd, len bytes) as the object at pack/off; on return it
 * belongs to the cache, or to pr->last when it does not fit.
 */
static struct centry *cache_put(
	struct packread *pr,
	uint32_t pack,
	uint64_t off,
	enum packread_type type,
	unsigned char *data,
	size_t len,
	const struct centry *keep)
{
	struct centry *e;

	if (len > pr->limit / 2 || !(e = malloc(sizeof(*e)))) {
		free(pr->last);
		pr->last = data;
		return NULL;
	}
	cache_evict(pr, len, keep);
	e->pack = pack;
	e->off = off;
	e->type = type;
	e->len = len;
	e->data = data;
	e->pins = 0;
	e->next = *slot(pr, pack, off);
	*slot(pr, pack, off) = e;
	lru_push(pr, e);
	pr->cached += len;
	return e;
}

/*
 * The header of the entry at off: type, inflated size, and where the
 * compressed data (after a delta's base reference) starts; for an offset
 * delta *base the base's offset, for a reference delta *ref its id.
 */
static int entry_header(
	int *type,
	uint64_t *size,
	uint64_t *data,
	uint64_t *base,
	const unsigned char **ref,
	const struct pack *p,
	uint64_t off)
{
	const unsigned char *d = p->data;
	uint64_t end = p->data_len - 20, at = off, ofs;
	unsigned shift = 4;
	unsigned char c;

	if (off < 12 || off >= end)
		return -1;
	c = d[at++];
	*type = (c >> 4) & 7;
	*size = c & 15;
	while (c & 0x80) {
		if (at >= end || shift > 57)
			return -1;
		c = d[at++];
		*size |= (uint64_t)(c & 0x7f) << shift;
		shift += 7;
	}
	if (*type == OBJ_OFS_DELTA) {
		if (at >= end)
			return -1;
		c = d[at++];
		ofs = c & 127;
		while (c & 128) {
			if (at >= end || ofs > (UINT64_MAX >> 8))
				return -1;
			c = d[at++];
			ofs = ((ofs + 1) << 7) | (c & 127);
		}
		if (ofs == 0 || ofs > off)
			return -1;
		*base = off - ofs;
	} else if (*type == OBJ_REF_DELTA) {
		if (end - at < PACKREAD_OID_LEN)
			return -1;
		*ref = d + at;
		at += PACKREAD_OID_LEN;
	} else if (*type < PACKREAD_COMMIT || *type > PACKREAD_TAG) {
		return -1;
	}
	if (*size > MAX_OBJECT)
		return -1;
	*data = at;
	return 0;
}

/*
 * Inflate exactly size bytes from the zlib stream at p->data + at, its
 * Adler-32 checked.  libdeflate, not zlib: a priority folder's 40 KB tree
 * inflates in ~48 us instead of ~77 us, and a merge of a large plan
 * inflates one per changed folder (BENCHMARKS.md).
 */
static unsigned char *inflate_at(
	struct libdeflate_decompressor *dd,
	const struct pack *p,
	uint64_t at,
	size_t size)
{
	unsigned char *out = malloc(size ? size : 1);
	size_t got = 0;

	if (!out)
		return NULL;
	if (libdeflate_zlib_decompress_ex(
		    dd, p->data + at, (size_t)(p->data_len - at), out, size,
		    NULL, &got) != LIBDEFLATE_SUCCESS ||
	    got != size) {
		free(out);
		return NULL;
	}
	return out;
}

static int
delta_size(uint64_t *out, const unsigned char **p, const unsigned char *end)
{
	uint64_t v = 0;
	unsigned shift = 0;
	unsigned char c;

	do {
		if (*p >= end || shift > 63)
			return -1;
		c = *(*p)++;
		v |= (uint64_t)(c & 0x7f) << shift;
		shift += 7;
	} while (c & 0x80);
	*out = v;
	return 0;
}

/* Apply git's delta format to base; a malloc'd result or NULL. */
static unsigned char *apply_delta(
	size_t *out_len,
	const unsigned char *base,
	size_t base_len,
	const unsigned char *delta,
	size_t delta_len)
{
	const unsigned char *p = delta, *end = delta + delta_len;
	uint64_t src, dst, off, sz;
	unsigned char *out = NULL, c;
	size_t at = 0;
	unsigned i;

	if (delta_size(&src, &p, end) < 0 || delta_size(&dst, &p, end) < 0 ||
	    src != base_len || dst > MAX_OBJECT)
		return NULL;
	if (!(out = malloc(dst ? (size_t)dst : 1)))
		return NULL;
	while (p < end) {
		c = *p++;
		if (c & 0x80) {
			off = 0;
			sz = 0;
			for (i = 0; i < 4; i++)
				if (c & (1u << i)) {
					if (p >= end)
						goto bad;
					off |= (uint64_t)*p++ << (8 * i);
				}
			for (i = 0; i < 3; i++)
				if (c & (0x10u << i)) {
					if (p >= end)
						goto bad;
					sz |= (uint64_t)*p++ << (8 * i);
				}
			if (sz == 0)
				sz = 0x10000;
			if (off > base_len || sz > base_len - off ||
			    sz > dst - at)
				goto bad;
			memcpy(out + at, base + off, (size_t)sz);
			at += (size_t)sz;
		} else if (c) {
			if (c > (size_t)(end - p) || c > dst - at)
				goto bad;
			memcpy(out + at, p, c);
			at += c;
			p += c;
		} else {
			goto bad;
		}
	}
	if (at != dst)
		goto bad;
	*out_len = (size_t)dst;
	return out;
bad:
	free(out);
	return NULL;
}

struct link {
	uint64_t off;
	uint64_t size, data;
};

/* The object at off in pack pi; 0, or -1 (left to libgit2). */
static int
get_at(const unsigned char **data,
       size_t *len,
       enum packread_type *type,
       struct packread *pr,
       uint32_t pi,
       uint64_t off)
{
	const struct pack *p = &pr->packs[pi];
	struct link *chain = NULL;
	struct centry *base = NULL, *made;
	const unsigned char *bdata, *ref;
	unsigned char *buf = NULL, *delta, *out;
	size_t n = 0, cap = 0, blen, olen;
	uint64_t size, at, boff = 0;
	enum packread_type btype;
	int t, error = -1;
	int64_t found;

	/* down the chain to a kept object or a whole one */
	for (;;) {
		if ((base = cache_get(pr, pi, off)))
			break;
		if (entry_header(&t, &size, &at, &boff, &ref, p, off) < 0)
			goto done;
		if (t != OBJ_OFS_DELTA && t != OBJ_REF_DELTA) {
			if (!(buf = inflate_at(pr->dd, p, at, (size_t)size)))
				goto done;
			if (!(base = cache_put(
				      pr, pi, off, (enum packread_type)t, buf,
				      (size_t)size, NULL))) {
				bdata = buf;
				blen = (size_t)size;
				btype = (enum packread_type)t;
				buf = NULL;
				goto have_base;
			}
			buf = NULL;
			break;
		}
		if (t == OBJ_REF_DELTA) {
			if ((found = pack_find(p, ref)) < 0)
				goto done;
			boff = (uint64_t)found;
		}
		if (n == cap) {
			struct link *grown;

			cap = cap ? 2 * cap : 16;
			if (cap > MAX_CHAIN ||
			    !(grown = realloc(chain, cap * sizeof(*grown))))
				goto done;
			chain = grown;
		}
		chain[n].off = off;
		chain[n].size = size;
		chain[n].data = at;
		n++;
		if (boff == off)
			goto done;
		off = boff;
	}
	bdata = base->data;
	blen = base->len;
	btype = base->type;
have_base:
	/* up the chain, applying each delta to the last result */
	while (n > 0) {
		n--;
		if (!(delta = inflate_at(
			      pr->dd, p, chain[n].data, (size_t)chain[n].size)))
			goto done;
		out = apply_delta(
			&olen, bdata, blen, delta, (size_t)chain[n].size);
		free(delta);
		if (!out)
			goto done;
		made = cache_put(pr, pi, chain[n].off, btype, out, olen, base);
		base = made;
		bdata = out;
		blen = olen;
	}
	*data = bdata;
	*len = blen;
	*type = btype;
	error = 0;
done:
	free(buf);
	free(chain);
	return error;
}

/*
 * Object id read (get_at) from the first pack that has it; that pack and
 * the entry's offset in *pi and *off.  0, or PACKREAD_ABSENT.
 */
static int
get_id(const unsigned char **data,
       size_t *len,
       enum packread_type *type,
       uint32_t *pi,
       uint64_t *off,
       struct packread *pr,
       const unsigned char *id)
{
	size_t i;
	int64_t at;

	free(pr->last);
	pr->last = NULL;
	for (i = 0; i < pr->npacks; i++) {
		if ((at = pack_find(&pr->packs[i], id)) < 0)
			continue;
		*pi = (uint32_t)i;
		*off = (uint64_t)at;
		return get_at(data, len, type, pr, *pi, *off) == 0 ?
			       0 :
			       PACKREAD_ABSENT;
	}
	return PACKREAD_ABSENT;
}

int packread_get(
	const unsigned char **data,
	size_t *len,
	enum packread_type *type,
	struct packread *pr,
	const unsigned char *id)
{
	uint32_t pi;
	uint64_t off;

	return get_id(data, len, type, &pi, &off, pr, id);
}

int packread_hold(
	const unsigned char **data,
	size_t *len,
	enum packread_type *type,
	void **pin,
	struct packread *pr,
	const unsigned char *id)
{
	struct centry *e;
	uint32_t pi;
	uint64_t off;

	*pin = NULL;
	if (get_id(data, len, type, &pi, &off, pr, id) != 0 ||
	    !(e = cache_get(pr, pi, off)))
		return PACKREAD_ABSENT; /* (or too big to keep) */
	packread_pin(pr, e);
	*pin = e;
	return 0;
}

/* A held object is out of the use order (never evicted) and its bytes
 * out of the count: the reads around it keep the whole cache. */
void packread_pin(struct packread *pr, void *pin)
{
	struct centry *e = pin;

	if (e->pins++ == 0) {
		lru_unlink(pr, e);
		pr->cached -= e->len;
	}
}

void packread_release(struct packread *pr, void *pin)
{
	struct centry *e = pin;

	if (e && --e->pins == 0) {
		lru_push(pr, e);
		pr->cached += e->len;
	}
}

/* ---- as a backend of libgit2's object database ---------------------------
 */

struct backend {
	git_odb_backend parent; /* first: libgit2 hands this pointer back */
	git_odb *odb;
	struct packread *pr; /* NULL: switched off */
	struct backend *next; /* in attached_list */
};

/* The backends added, one per object database (single-threaded use). */
static struct backend *attached_list;

static int
be_read(void **data,
	size_t *len,
	git_object_t *type,
	git_odb_backend *parent,
	const git_oid *id)
{
	struct backend *be = (struct backend *)parent;
	const unsigned char *raw;
	enum packread_type t;
	size_t n;
	void *copy;

	if (!be->pr || packread_get(&raw, &n, &t, be->pr, id->id) != 0)
		return GIT_ENOTFOUND;
	if (!(copy = git_odb_backend_data_alloc(parent, n ? n : 1)))
		return GIT_ENOTFOUND; /* libgit2's own backends then try */
	memcpy(copy, raw, n);
	*data = copy;
	*len = n;
	*type = (git_object_t)t;
	return 0;
}

static void be_free(git_odb_backend *parent)
{
	struct backend *be = (struct backend *)parent, **pp;

	for (pp = &attached_list; *pp; pp = &(*pp)->next)
		if (*pp == be) {
			*pp = be->next;
			break;
		}
	packread_free(be->pr);
	free(be);
}

static struct backend *find_backend(git_repository *git)
{
	struct backend *be;
	git_odb *odb = NULL;

	if (git_repository_odb(&odb, git) < 0)
		return NULL;
	for (be = attached_list; be; be = be->next)
		if (be->odb == odb)
			break;
	git_odb_free(odb);
	return be;
}

int packread_attach(git_repository *git, size_t cache_bytes)
{
	struct backend *be = find_backend(git);
	git_odb *odb = NULL;

	if (!be) {
		if (git_repository_odb(&odb, git) < 0)
			return 0; /* libgit2 alone then */
		if (!(be = calloc(1, sizeof(*be)))) {
			git_odb_free(odb);
			return error_nomem();
		}
		if (git_odb_init_backend(&be->parent, GIT_ODB_BACKEND_VERSION) <
		    0) {
			free(be);
			git_odb_free(odb);
			return 0;
		}
		be->parent.read = be_read;
		be->parent.free = be_free;
		be->odb = odb; /* a key: the database outlives its backend */
		/* asked before the packs (priority 2) and loose objects (1) */
		if (git_odb_add_backend(odb, &be->parent, 100) < 0) {
			free(be);
			git_odb_free(odb);
			return 0;
		}
		be->next = attached_list;
		attached_list = be;
		git_odb_free(odb);
	}
	packread_free(be->pr);
	be->pr = NULL;
	return packread_open(&be->pr, git_repository_path(git), cache_bytes);
}

void packread_detach(git_repository *git)
{
	struct backend *be = find_backend(git);

	if (be) {
		packread_free(be->pr);
		be->pr = NULL;
	}
}

struct packread *packread_attached(git_repository *git)
{
	struct backend *be = find_backend(git);

	return be ? be->pr : NULL;
}
