/*
 * tests/test_packread.c: sync/packread against libgit2 on repositories
 * made by stock git at run time (fast-import, then repack): every packed
 * object reads as git_odb_read reads it (type, length, bytes), whatever
 * the order and the cache size, with offset deltas, reference deltas,
 * several packs and a large-offset index; loose objects, objects of a
 * pack made after packread_open, a version 1 index, unknown ids, missing
 * folders read as PACKREAD_ABSENT; and damaged indexes and packs
 * (truncated, bad magic, bad fanout, offsets past the end, delta cycles,
 * hundreds of seeded byte flips) never crash and never give wrong bytes
 * for an object whose entries were not hit.  A pack written byte by byte
 * holds what git never writes (malformed deltas and entries: absent) and
 * what it rarely does (a tag, an empty blob, a 300-deep chain: read).
 * Under ASan (make check) reads out of bounds of the built objects fail;
 * a guard page after each file mapping catches reads past a file's end.
 *
 * PACKREAD_SEED=n changes the seed of the random orders and flips (each
 * failure message names the seed it ran with).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <git2.h>

#include "core/error.h"
#include "helper_shell.h"
#include "core/fsutil.h"
#include "core/sha1.h"
#include "sync/packread.h"

#define MAX_PACKS 8
#define BIG_CACHE ((size_t)64 << 20)
#define IDX_HEAD (8 + 256 * 4)

/* One object of the repository, as libgit2 reads it. */
struct obj {
	git_oid id;
	int type; /* GIT_OBJECT_* */
	size_t len;
	unsigned char *data;
	int pack; /* index in fx->packs, -1 when loose */
	uint64_t off, end; /* its entry's bytes in that pack */
	int kind; /* entry type: 1..4, 6 offset delta, 7 reference */
	long base; /* index in fx->o of its delta base, -1 if none */
	size_t delta_pos, delta_len; /* the base offset or id bytes */
};

struct pack {
	char idx[640], pack[640];
	size_t n; /* objects in its index */
	uint64_t size; /* the .pack file's */
	size_t *byoff; /* indexes in fx->o, in pack order */
	int large; /* entries in the large offset table */
};

struct fx {
	char dir[256], work[300], gitdir[320], packdir[340];
	struct obj *o;
	size_t n, cap;
	struct pack packs[MAX_PACKS];
	int npacks;
};

#define GUARD_PAGE 4096

/*
 * Guard pages for file mappings.  packread maps the .idx and .pack
 * files, and ASan does not watch mapped memory: a read past a mapping's
 * end goes unseen when the next page is mapped too.  So every file
 * mapping in this process (packread's and libgit2's) is made as usual
 * but followed by a reserved, inaccessible page: a read past the last
 * page of a file faults.  The damage tests cut files at page ends so
 * that any read past the end meets the guard.  Nothing else changes:
 * the mapping is the real one, munmap unmaps it (the guard page stays
 * reserved until exit).
 */
#if defined(__x86_64__) || defined(__aarch64__) /* plain SYS_mmap */
void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	size_t span = (len + GUARD_PAGE - 1) / GUARD_PAGE * GUARD_PAGE;
	long area, m;

	if (fd < 0 || addr || (flags & MAP_FIXED) || len == 0 ||
	    sysconf(_SC_PAGESIZE) != GUARD_PAGE)
		return (void *)syscall(
			SYS_mmap, addr, len, prot, flags, fd, off);
	area =
		syscall(SYS_mmap, NULL, span + GUARD_PAGE, PROT_NONE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (area == -1)
		return MAP_FAILED;
	m = syscall(SYS_mmap, area, len, prot, flags | MAP_FIXED, fd, off);
	if (m == -1)
		syscall(SYS_munmap, area, span + GUARD_PAGE);
	return (void *)m;
}
#endif

static char base_dir[256];
static volatile unsigned sink; /* keeps the reads of returned bytes */
static unsigned long long seed = 20261124;

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static void put_be64(unsigned char *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

static unsigned char *read_all(const char *path, size_t *len)
{
	char *buf = NULL;

	if (fsutil_read_file(&buf, len, path, (size_t)1 << 28) != 0)
		fail_msg("cannot read '%s': %s", path, error_message());
	return (unsigned char *)buf;
}

/* In place and without fsync: hundreds of rewrites, nothing to keep. */
static void write_all(const char *path, const unsigned char *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	size_t at = 0;
	ssize_t n = 0;

	if (fd < 0)
		fail_msg("cannot open '%s'", path);
	while (at < len && (n = write(fd, buf + at, len - at)) > 0)
		at += (size_t)n;
	if (close(fd) != 0 || at != len)
		fail_msg("cannot write '%s'", path);
}

/* ---- the repository, made once by git fast-import ---- */

static void fi_data(FILE *f, const void *p, size_t n)
{
	fprintf(f, "data %zu\n", n);
	fwrite(p, 1, n, f);
	fputc('\n', f);
}

static void fi_text(FILE *f, const char *mode, const char *path, const char *s)
{
	fprintf(f, "M %s inline %s\n", mode, path);
	fi_data(f, s, strlen(s));
}

#define BIG_LINES 200
#define BIN_LEN 100000
#define MANY 300
#define COMMITS 60

/*
 * 60 commits of small edits to: three 200-line files, a 100 KB binary
 * file, a folder of 300 small files (a 12 KB tree) with a subfolder, plus
 * an empty file, an executable and a symlink, files added and removed,
 * and two annotated tags, as a fast-import stream written to path.
 */
static int write_stream(const char *path)
{
	static char lines[3][BIG_LINES][64];
	unsigned char *bin = malloc(BIN_LEN);
	char name[64], text[256], *big = malloc(3 * BIG_LINES * 64);
	uint64_t s = 88172645463325252ULL;
	FILE *f = fopen(path, "w");
	size_t i, k, at;
	int c;

	if (!bin || !big || !f)
		return -1;
	for (i = 0; i < BIN_LEN; i++)
		bin[i] = (unsigned char)rnd(&s);
	for (k = 0; k < 3; k++)
		for (i = 0; i < BIG_LINES; i++)
			snprintf(
				lines[k][i], sizeof(lines[k][i]),
				"file %zu line %zu: the quick brown fox\n", k,
				i);
	for (c = 1; c <= COMMITS; c++) {
		fprintf(f, "commit refs/heads/main\nmark :%d\n", c);
		fprintf(f, "committer T <t@x.example> %d +0000\n",
			1700000000 + c * 60);
		snprintf(text, sizeof(text), "commit %d\n", c);
		fi_data(f, text, strlen(text));
		if (c == 1) {
			for (i = 0; i < MANY; i++) {
				snprintf(
					name, sizeof(name), "many/f%03zu.txt",
					i);
				snprintf(text, sizeof(text), "file %zu\n", i);
				fi_text(f, "100644", name, text);
			}
			for (i = 0; i < 20; i++) {
				snprintf(
					name, sizeof(name),
					"many/sub/s%02zu.txt", i);
				snprintf(text, sizeof(text), "sub %zu\n", i);
				fi_text(f, "100644", name, text);
			}
			fi_text(f, "100644", "empty", "");
			fi_text(f, "100755", "run.sh", "#!/bin/sh\necho hi\n");
			fi_text(f, "120000", "link", "big/b0.txt");
		} else {
			for (k = 0; k < 2; k++) {
				i = (size_t)(c * (k ? 13 : 7)) % MANY;
				snprintf(
					name, sizeof(name), "many/f%03zu.txt",
					i);
				snprintf(
					text, sizeof(text),
					"file %zu, version %d\n", i, c);
				fi_text(f, "100644", name, text);
			}
			k = (size_t)c % 3;
			i = (size_t)(c * 17) % BIG_LINES;
			snprintf(
				lines[k][i], sizeof(lines[k][i]),
				"file %zu line %zu: changed in commit %d\n", k,
				i, c);
		}
		if (c % 5 == 0) {
			snprintf(
				name, sizeof(name), "many/sub/s%02d.txt",
				c % 20);
			snprintf(text, sizeof(text), "sub changed %d\n", c);
			fi_text(f, "100644", name, text);
		}
		for (k = 0; k < 3; k++) {
			if (c > 1 && k != (size_t)c % 3)
				continue;
			at = 0;
			for (i = 0; i < BIG_LINES; i++) {
				memcpy(big + at, lines[k][i],
				       strlen(lines[k][i]));
				at += strlen(lines[k][i]);
			}
			snprintf(name, sizeof(name), "big/b%zu.txt", k);
			fprintf(f, "M 100644 inline %s\n", name);
			fi_data(f, big, at);
		}
		if (c == 1 || c % 10 == 0) {
			for (i = 0; i < 16; i++)
				bin[((size_t)c * 977 + i * 131) % BIN_LEN] ^=
					(unsigned char)(c + 1);
			fprintf(f, "M 100644 inline bin/blob.bin\n");
			fi_data(f, bin, BIN_LEN);
		}
		if (c % 15 == 0) {
			snprintf(name, sizeof(name), "added/a%d.txt", c);
			fi_text(f, "100644", name, "added\n");
		}
		if (c % 20 == 0)
			fprintf(f, "D many/f%03d.txt\n", c + 1);
		fputc('\n', f);
		if (c == 20 || c == COMMITS) {
			fprintf(f, "tag v%d\nfrom :%d\n", c, c);
			fprintf(f, "tagger T <t@x.example> %d +0000\n",
				1700000000 + c * 60 + 1);
			snprintf(text, sizeof(text), "release %d\n", c);
			fi_data(f, text, strlen(text));
		}
	}
	free(bin);
	free(big);
	return fclose(f) == 0 ? 0 : -1;
}

static int group_setup(void **state)
{
	const char *env = getenv("PACKREAD_SEED");
	char stream[300];

	(void)state;
	if (env && *env)
		seed = strtoull(env, NULL, 10);
	if (seed == 0)
		seed = 1;
	git_libgit2_init();
	snprintf(
		base_dir, sizeof(base_dir), "%s/plansync-packread.XXXXXX",
		getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(base_dir))
		return -1;
	snprintf(stream, sizeof(stream), "%s/stream", base_dir);
	if (write_stream(stream) != 0 ||
	    helper_run(
		    "cd '%s' && git init -q -b main repo && cd repo && "
		    "git fast-import --quiet < '%s' && git reset -q --hard main",
		    base_dir, stream) != 0) {
		helper_run("rm -rf '%s'", base_dir);
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	helper_run("rm -rf '%s'", base_dir);
	git_libgit2_shutdown();
	return 0;
}

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	snprintf(
		fx->dir, sizeof(fx->dir), "%s/plansync-packread.XXXXXX",
		getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(fx->dir))
		return -1;
	snprintf(fx->work, sizeof(fx->work), "%s/repo", fx->dir);
	snprintf(fx->gitdir, sizeof(fx->gitdir), "%s/.git/", fx->work);
	snprintf(
		fx->packdir, sizeof(fx->packdir), "%sobjects/pack", fx->gitdir);
	if (helper_run("cp -a '%s/repo' '%s'", base_dir, fx->work) != 0)
		return -1;
	*state = fx;
	/* a reader caught in a loop fails the test instead of hanging */
	alarm(120);
	return 0;
}

static void forget(struct fx *fx)
{
	size_t i;
	int k;

	for (i = 0; i < fx->n; i++)
		free(fx->o[i].data);
	free(fx->o);
	fx->o = NULL;
	fx->n = fx->cap = 0;
	for (k = 0; k < fx->npacks; k++)
		free(fx->packs[k].byoff);
	memset(fx->packs, 0, sizeof(fx->packs));
	fx->npacks = 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	alarm(0);
	helper_run("chmod -R u+w '%s'; rm -rf '%s'", fx->dir, fx->dir);
	forget(fx);
	free(fx);
	return 0;
}

/* ---- what the repository holds, by libgit2 and by parsing the packs ---- */

static int collect(const git_oid *id, void *payload)
{
	struct fx *fx = payload;

	if (fx->n == fx->cap) {
		fx->cap = fx->cap * 2 + 256;
		fx->o = realloc(fx->o, fx->cap * sizeof(*fx->o));
		assert_non_null(fx->o);
	}
	memset(&fx->o[fx->n], 0, sizeof(fx->o[fx->n]));
	git_oid_cpy(&fx->o[fx->n].id, id);
	fx->o[fx->n].pack = -1;
	fx->o[fx->n].base = -1;
	fx->n++;
	return 0;
}

static int cmp_obj(const void *a, const void *b)
{
	return git_oid_cmp(
		&((const struct obj *)a)->id, &((const struct obj *)b)->id);
}

static long find(const struct fx *fx, const unsigned char *id)
{
	struct obj key;

	memset(&key, 0, sizeof(key));
	memcpy(key.id.id, id, PACKREAD_OID_LEN);
	{
		const struct obj *o =
			bsearch(&key, fx->o, fx->n, sizeof(*fx->o), cmp_obj);
		return o ? (long)(o - fx->o) : -1;
	}
}

static const struct fx *sort_fx;

static int cmp_off(const void *a, const void *b)
{
	uint64_t x = sort_fx->o[*(const size_t *)a].off;
	uint64_t y = sort_fx->o[*(const size_t *)b].off;

	return x < y ? -1 : x > y;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

/* The objects of pack k's (version 2) index, their entries and bases. */
static void parse_pack(struct fx *fx, int k)
{
	struct pack *p = &fx->packs[k];
	unsigned char *idx, *pk;
	size_t ilen, plen, i, n, at;
	uint64_t off, ofs;
	long j;
	int c;

	idx = read_all(p->idx, &ilen);
	pk = read_all(p->pack, &plen);
	p->size = plen;
	assert_true(ilen >= IDX_HEAD + 40);
	assert_int_equal(be32(idx), 0xff744f63);
	assert_int_equal(be32(idx + 4), 2);
	n = be32(idx + 8 + 255 * 4);
	assert_true(ilen >= IDX_HEAD + 28 * n + 40);
	p->n = n;
	p->large = (int)((ilen - IDX_HEAD - 28 * n - 40) / 8);
	p->byoff = calloc(n ? n : 1, sizeof(*p->byoff));
	assert_non_null(p->byoff);
	for (i = 0; i < n; i++) {
		off = be32(idx + IDX_HEAD + 24 * n + 4 * i);
		if (off & 0x80000000) {
			at = IDX_HEAD + 28 * n + 8 * (off & 0x7fffffff);
			assert_true(at + 8 <= ilen);
			off = (uint64_t)be32(idx + at) << 32 |
			      be32(idx + at + 4);
		}
		j = find(fx, idx + IDX_HEAD + 20 * i);
		if (j < 0)
			fail_msg(
				"object %zu of '%s' not seen by libgit2", i,
				p->idx);
		fx->o[j].pack = k;
		fx->o[j].off = off;
		p->byoff[i] = (size_t)j;
	}
	sort_fx = fx;
	qsort(p->byoff, n, sizeof(*p->byoff), cmp_off);
	for (i = 0; i < n; i++) {
		struct obj *o = &fx->o[p->byoff[i]];

		o->end = i + 1 < n ? fx->o[p->byoff[i + 1]].off : plen - 20;
		at = (size_t)o->off;
		assert_true(at < plen);
		c = pk[at++];
		o->kind = (c >> 4) & 7;
		while (c & 0x80)
			c = pk[at++];
		o->delta_pos = at;
		if (o->kind == 6) {
			c = pk[at++];
			ofs = (uint64_t)(c & 0x7f);
			while (c & 0x80) {
				c = pk[at++];
				ofs = ((ofs + 1) << 7) | (uint64_t)(c & 0x7f);
			}
			o->delta_len = at - o->delta_pos;
			assert_true(ofs > 0 && ofs <= o->off);
			for (j = (long)i - 1; j >= 0; j--)
				if (fx->o[p->byoff[j]].off == o->off - ofs)
					break;
			assert_true(j >= 0);
			o->base = (long)p->byoff[j];
		} else if (o->kind == 7) {
			o->delta_len = 20;
			o->base = find(fx, pk + at);
			assert_true(o->base >= 0);
		}
	}
	free(idx);
	free(pk);
}

/* Everything libgit2 sees in the repository, and where each is packed. */
static void load(struct fx *fx)
{
	char names[MAX_PACKS][256];
	git_repository *repo = NULL;
	git_odb *odb = NULL;
	git_odb_object *obj = NULL;
	struct dirent *de;
	size_t i, j, l;
	DIR *d;
	int k, n = 0;

	forget(fx);
	assert_int_equal(git_repository_open(&repo, fx->work), 0);
	assert_int_equal(git_repository_odb(&odb, repo), 0);
	assert_int_equal(git_odb_foreach(odb, collect, fx), 0);
	qsort(fx->o, fx->n, sizeof(*fx->o), cmp_obj);
	for (i = j = 0; i < fx->n; i++)
		if (j == 0 || git_oid_cmp(&fx->o[j - 1].id, &fx->o[i].id))
			fx->o[j++] = fx->o[i];
	fx->n = j;
	for (i = 0; i < fx->n; i++) {
		struct obj *o = &fx->o[i];

		assert_int_equal(git_odb_read(&obj, odb, &o->id), 0);
		o->type = (int)git_odb_object_type(obj);
		o->len = git_odb_object_size(obj);
		o->data = malloc(o->len ? o->len : 1);
		assert_non_null(o->data);
		memcpy(o->data, git_odb_object_data(obj), o->len);
		git_odb_object_free(obj);
	}
	git_odb_free(odb);
	git_repository_free(repo);
	d = opendir(fx->packdir);
	while (d && (de = readdir(d))) {
		l = strlen(de->d_name);
		if (l < 5 || strcmp(de->d_name + l - 4, ".idx") != 0)
			continue;
		assert_true(n < MAX_PACKS && l < sizeof(names[0]));
		snprintf(names[n++], sizeof(names[0]), "%s", de->d_name);
	}
	if (d)
		closedir(d);
	qsort(names, (size_t)n, sizeof(names[0]), cmp_str);
	for (k = 0; k < n; k++) {
		struct pack *p = &fx->packs[k];

		if (snprintf(
			    p->idx, sizeof(p->idx), "%s/%s", fx->packdir,
			    names[k]) >= (int)sizeof(p->idx) ||
		    snprintf(
			    p->pack, sizeof(p->pack), "%s/%.*s.pack",
			    fx->packdir, (int)strlen(names[k]) - 4,
			    names[k]) >= (int)sizeof(p->pack))
			fail_msg("pack name too long: %s", names[k]);
		fx->npacks = k + 1;
		parse_pack(fx, k);
	}
}

static void prepare(struct fx *fx, const char *repack)
{
	if (helper_run("cd '%s' && %s", fx->work, repack) != 0)
		fail_msg("'%s' failed", repack);
	load(fx);
}

static size_t count_kind(const struct fx *fx, int kind)
{
	size_t i, n = 0;

	for (i = 0; i < fx->n; i++)
		n += fx->o[i].pack >= 0 && fx->o[i].kind == kind;
	return n;
}

static size_t count_loose(const struct fx *fx)
{
	size_t i, n = 0;

	for (i = 0; i < fx->n; i++)
		n += fx->o[i].pack < 0;
	return n;
}

/* The longest delta chain, and whether trees are deltas too. */
static int max_depth(const struct fx *fx, int *tree_deltas)
{
	size_t i;
	long j;
	int d, best = 0;

	*tree_deltas = 0;
	for (i = 0; i < fx->n; i++) {
		if (fx->o[i].base >= 0 && fx->o[i].type == GIT_OBJECT_TREE)
			(*tree_deltas)++;
		for (d = 0, j = fx->o[i].base; j >= 0; j = fx->o[j].base)
			d++;
		if (d > best)
			best = d;
	}
	return best;
}

/* ---- reading ---- */

static struct packread *open_pr(const char *gitdir, size_t cache)
{
	struct packread *pr = NULL;
	int rc = packread_open(&pr, gitdir, cache);

	if (rc != 0 || !pr)
		fail_msg(
			"packread_open('%s', %zu) returned %d: %s", gitdir,
			cache, rc, error_message());
	return pr;
}

/*
 * Object i read through pr: libgit2's type, length and bytes, or
 * PACKREAD_ABSENT when absent is set.
 */
static void
check(struct packread *pr,
      const struct fx *fx,
      size_t i,
      int absent,
      const char *ctx)
{
	const struct obj *o = &fx->o[i];
	const unsigned char *data = NULL;
	char hex[GIT_OID_HEXSZ + 1];
	enum packread_type type = 0;
	size_t len = 0;
	int rc;

	git_oid_tostr(hex, sizeof(hex), &o->id);
	rc = packread_get(&data, &len, &type, pr, o->id.id);
	if (absent) {
		if (rc != PACKREAD_ABSENT)
			fail_msg(
				"%s: object %s (%s): packread_get returned %d, "
				"expected PACKREAD_ABSENT",
				ctx, hex, o->pack < 0 ? "loose" : "packed", rc);
		return;
	}
	if (rc != 0)
		fail_msg(
			"%s: object %s (type %d, %zu bytes, entry type %d at "
			"offset %llu of pack %d): packread_get returned %d, "
			"expected 0",
			ctx, hex, o->type, o->len, o->kind,
			(unsigned long long)o->off, o->pack, rc);
	if ((int)type != o->type || len != o->len ||
	    (len && (!data || memcmp(data, o->data, len) != 0)))
		fail_msg(
			"%s: object %s (entry type %d at offset %llu): got "
			"type %d, %zu bytes%s; libgit2 reads type %d, %zu "
			"bytes",
			ctx, hex, o->kind, (unsigned long long)o->off,
			(int)type, len, len == o->len ? " (bytes differ)" : "",
			o->type, o->len);
}

/*
 * Every object in order (loose ones absent); every fifth one read twice
 * in a row, and the first 50 again at the end.
 */
static void read_in_order(
	struct packread *pr,
	const struct fx *fx,
	const size_t *order,
	size_t n,
	const char *ctx)
{
	size_t i;

	for (i = 0; i < n; i++) {
		check(pr, fx, order[i], fx->o[order[i]].pack < 0, ctx);
		if (i % 5 == 0)
			check(pr, fx, order[i], fx->o[order[i]].pack < 0, ctx);
	}
	for (i = 0; i < n && i < 50; i++)
		check(pr, fx, order[i], fx->o[order[i]].pack < 0, ctx);
}

/* Pack after pack in entry order, then the loose objects. */
static size_t *pack_order(const struct fx *fx)
{
	size_t *order = malloc((fx->n ? fx->n : 1) * sizeof(*order));
	size_t i, at = 0;
	int k;

	assert_non_null(order);
	for (k = 0; k < fx->npacks; k++)
		for (i = 0; i < fx->packs[k].n; i++)
			order[at++] = fx->packs[k].byoff[i];
	for (i = 0; i < fx->n; i++)
		if (fx->o[i].pack < 0)
			order[at++] = i;
	assert_int_equal(at, fx->n);
	return order;
}

/*
 * Each object matches libgit2 in pack, reverse and random order, with
 * each cache size.
 */
static void read_everything(const struct fx *fx)
{
	static const size_t caches[] = { 0, 4096, BIG_CACHE };
	size_t *order = pack_order(fx), *rev, *shuf, i, j, t, c;
	uint64_t s = seed;
	char ctx[160];
	struct packread *pr;

	rev = malloc((fx->n ? fx->n : 1) * sizeof(*rev));
	shuf = malloc((fx->n ? fx->n : 1) * sizeof(*shuf));
	assert_true(rev && shuf);
	for (i = 0; i < fx->n; i++) {
		rev[i] = order[fx->n - 1 - i];
		shuf[i] = order[i];
	}
	for (i = fx->n; i > 1; i--) {
		j = (size_t)(rnd(&s) % i);
		t = shuf[i - 1];
		shuf[i - 1] = shuf[j];
		shuf[j] = t;
	}
	for (c = 0; c < sizeof(caches) / sizeof(caches[0]); c++) {
		pr = open_pr(fx->gitdir, caches[c]);
		snprintf(ctx, sizeof(ctx), "cache %zu, pack order", caches[c]);
		read_in_order(pr, fx, order, fx->n, ctx);
		snprintf(
			ctx, sizeof(ctx), "cache %zu, reverse order",
			caches[c]);
		read_in_order(pr, fx, rev, fx->n, ctx);
		snprintf(
			ctx, sizeof(ctx), "cache %zu, random order, seed %llu",
			caches[c], seed);
		read_in_order(pr, fx, shuf, fx->n, ctx);
		packread_free(pr);
	}
	free(order);
	free(rev);
	free(shuf);
}

/* Ids no object has: all zero, all 0xff, and a real one's neighbours. */
static void check_unknown_ids(struct packread *pr, const struct fx *fx)
{
	unsigned char id[PACKREAD_OID_LEN];
	const unsigned char *data;
	enum packread_type type;
	size_t len, i;
	int rc, v;

	for (v = 0; v < 4; v++) {
		if (v < 2) {
			memset(id, v ? 0xff : 0, sizeof(id));
		} else {
			assert_true(fx->n > 0);
			i = (size_t)v * 7 % fx->n;
			memcpy(id, fx->o[i].id.id, sizeof(id));
			id[PACKREAD_OID_LEN - 1] ^= (unsigned char)(v - 1);
		}
		if (find(fx, id) >= 0)
			continue;
		rc = packread_get(&data, &len, &type, pr, id);
		if (rc != PACKREAD_ABSENT)
			fail_msg(
				"unknown id %d: packread_get returned %d, "
				"expected PACKREAD_ABSENT",
				v, rc);
	}
}

/* ---- damage ---- */

/*
 * A fresh reader on the (damaged) repository reads every object: each
 * read returns 0 or PACKREAD_ABSENT, and a 0 gives a type 1..4 and len
 * bytes that can all be read.  Objects whose delta chain has no entry
 * holding byte hit_pos of pack hit_pack (all when hit_pack is -1) must
 * also read as libgit2 read them before, or be absent; those marked in
 * absent (if not NULL) must be absent.
 */
static void read_damaged(
	const struct fx *fx,
	int hit_pack,
	uint64_t hit_pos,
	const unsigned char *absent,
	const char *what)
{
	struct packread *pr = open_pr(fx->gitdir, BIG_CACHE);
	const unsigned char *data;
	enum packread_type type;
	char hex[GIT_OID_HEXSZ + 1];
	unsigned sum = 0;
	size_t i, len, k;
	int rc, hit;
	long j;

	for (i = 0; i < fx->n; i++) {
		const struct obj *o = &fx->o[i];

		hit = 0;
		for (j = (long)i; hit_pack >= 0 && j >= 0; j = fx->o[j].base)
			if (fx->o[j].pack == hit_pack &&
			    fx->o[j].off <= hit_pos && hit_pos < fx->o[j].end)
				hit = 1;
		data = NULL;
		len = 0;
		type = 0;
		rc = packread_get(&data, &len, &type, pr, o->id.id);
		git_oid_tostr(hex, sizeof(hex), &o->id);
		if (rc != 0 && rc != PACKREAD_ABSENT)
			fail_msg(
				"%s: object %s: packread_get returned %d", what,
				hex, rc);
		if (rc == 0 && absent && absent[i])
			fail_msg(
				"%s: object %s (entry at %llu of pack %d): got "
				"type %d, %zu bytes, expected PACKREAD_ABSENT",
				what, hex, (unsigned long long)o->off, o->pack,
				(int)type, len);
		if (rc != 0)
			continue;
		if (type < PACKREAD_COMMIT || type > PACKREAD_TAG ||
		    len > BIG_CACHE || (len && !data))
			fail_msg(
				"%s: object %s: got type %d, %zu bytes, data "
				"%p",
				what, hex, (int)type, len, (const void *)data);
		for (k = 0; k < len; k++)
			sum += data[k];
		if (hit)
			continue;
		if ((int)type != o->type || len != o->len ||
		    (len && memcmp(data, o->data, len) != 0))
			fail_msg(
				"%s: object %s (entry at %llu of pack %d, not "
				"damaged): got type %d, %zu bytes, expected "
				"PACKREAD_ABSENT or libgit2's type %d, %zu "
				"bytes",
				what, hex, (unsigned long long)o->off, o->pack,
				(int)type, len, o->type, o->len);
	}
	packread_free(pr);
	sink += sum;
}

/*
 * path's bytes replaced by buf (len), the reads checked (those marked in
 * absent must be absent), then put back.
 */
static void damaged_file(
	const struct fx *fx,
	const char *path,
	const unsigned char *orig,
	const unsigned char *buf,
	size_t len,
	const unsigned char *absent,
	const char *what)
{
	write_all(path, buf, len);
	read_damaged(fx, -1, 0, absent, what);
	write_all(path, orig, len);
}

/* A mark for each object of pack k (every object when k is -1). */
static unsigned char *mark_pack(const struct fx *fx, int k)
{
	unsigned char *m = calloc(fx->n ? fx->n : 1, 1);
	size_t i;

	assert_non_null(m);
	for (i = 0; i < fx->n; i++)
		m[i] = k < 0 || fx->o[i].pack == k;
	return m;
}

static void damage_idx(const struct fx *fx, int k)
{
	const struct pack *p = &fx->packs[k];
	unsigned char *orig, *buf;
	size_t len, n = p->n, cuts[24], i, nc = 0, offs;
	unsigned char *all = mark_pack(fx, k), *one;
	char what[700];
	uint64_t bad[6];
	long victim = -1;

	orig = read_all(p->idx, &len);
	buf = malloc(len);
	assert_non_null(buf);
	assert_true(n > 3);
	offs = IDX_HEAD + 24 * n;
	/* Truncated, anywhere from the header to the trailer. */
	cuts[nc++] = 0;
	cuts[nc++] = 4;
	cuts[nc++] = 8;
	cuts[nc++] = IDX_HEAD - 1;
	cuts[nc++] = IDX_HEAD + 20 * n - 1;
	cuts[nc++] = IDX_HEAD + 24 * n + 2;
	cuts[nc++] = IDX_HEAD + 28 * n - 1;
	cuts[nc++] = len - 41;
	cuts[nc++] = len - 40;
	cuts[nc++] = len - 21;
	cuts[nc++] = len - 1;
	/* at page ends, where an overread meets the guard page */
	for (i = GUARD_PAGE; i < len && nc < 24; i += 2 * GUARD_PAGE)
		cuts[nc++] = i;
	for (i = 0; i < nc; i++) {
		snprintf(
			what, sizeof(what), "'%s' cut to %zu of %zu bytes",
			p->idx, cuts[i], len);
		write_all(p->idx, orig, cuts[i]);
		read_damaged(fx, -1, 0, NULL, what);
	}
	write_all(p->idx, orig, len);
	/* Wrong magic, wrong versions. */
	memcpy(buf, orig, len);
	buf[1] ^= 0x20;
	damaged_file(fx, p->idx, orig, buf, len, all, "idx magic");
	memcpy(buf, orig, len);
	put_be32(buf + 4, 3);
	damaged_file(fx, p->idx, orig, buf, len, all, "idx version 3");
	memcpy(buf, orig, len);
	put_be32(buf + 4, 1);
	damaged_file(
		fx, p->idx, orig, buf, len, all, "idx version 1 in a v2 file");
	/* Fanout not monotonic, or counting more objects than the file. */
	for (i = 0; i < 5; i++) {
		static const size_t at[] = { 0, 17, 128, 200, 254 };

		memcpy(buf, orig, len);
		put_be32(
			buf + 8 + 4 * at[i],
			be32(orig + 8 + 4 * (at[i] + 1)) + 1 + (uint32_t)i);
		snprintf(
			what, sizeof(what), "fanout[%zu] above fanout[%zu]",
			at[i], at[i] + 1);
		damaged_file(fx, p->idx, orig, buf, len, NULL, what);
	}
	memcpy(buf, orig, len);
	put_be32(buf + 8 + 4 * 100, 0);
	damaged_file(fx, p->idx, orig, buf, len, NULL, "fanout[100] zero");
	memcpy(buf, orig, len);
	put_be32(buf + 8 + 4 * 255, (uint32_t)n + 1);
	damaged_file(
		fx, p->idx, orig, buf, len, NULL, "fanout[255] one too many");
	memcpy(buf, orig, len);
	put_be32(buf + 8 + 4 * 255, 0xffffffffu);
	damaged_file(
		fx, p->idx, orig, buf, len, NULL, "fanout[255] 0xffffffff");
	memcpy(buf, orig, len);
	for (i = 0; i < 256; i++)
		put_be32(buf + 8 + 4 * i, 0x7fffffffu);
	damaged_file(fx, p->idx, orig, buf, len, NULL, "fanout all 0x7fffffff");
	/*
	 * Offsets past the end, into the header, the trailer, a large
	 * offset table that is not there: those objects are absent.  The
	 * victim: the base of the first delta (a reference delta finds it
	 * by id, an offset delta by its offset).
	 */
	for (i = 0; i < n && victim < 0; i++)
		victim = fx->o[p->byoff[i]].base;
	if (victim < 0)
		victim = (long)p->byoff[n / 2];
	one = calloc(fx->n, 1);
	assert_non_null(one);
	one[victim] = 1;
	bad[0] = p->size + 100;
	bad[1] = p->size - 20;
	bad[2] = p->size;
	bad[3] = 0;
	bad[4] = 0x7fffffff;
	bad[5] = 0x80000000u | (uint32_t)p->large;
	for (i = 0; i < 6; i++) {
		size_t pos;
		const unsigned char *id = fx->o[victim].id.id;

		for (pos = 0; pos < n; pos++)
			if (!memcmp(orig + IDX_HEAD + 20 * pos, id, 20))
				break;
		assert_true(pos < n);
		memcpy(buf, orig, len);
		put_be32(buf + offs + 4 * pos, (uint32_t)bad[i]);
		snprintf(
			what, sizeof(what), "offset of entry %zu set to %#llx",
			pos, (unsigned long long)bad[i]);
		damaged_file(fx, p->idx, orig, buf, len, one, what);
		/* every offset at once */
		memcpy(buf, orig, len);
		for (pos = 0; pos < n; pos++)
			put_be32(buf + offs + 4 * pos, (uint32_t)bad[i]);
		snprintf(
			what, sizeof(what), "every offset set to %#llx",
			(unsigned long long)bad[i]);
		damaged_file(fx, p->idx, orig, buf, len, all, what);
	}
	/* CRCs and trailer: packread may ignore them, or refuse the pack. */
	memcpy(buf, orig, len);
	for (i = 0; i < 4 * n; i++)
		buf[IDX_HEAD + 20 * n + i] ^= 0x5a;
	for (i = len - 40; i < len; i++)
		buf[i] ^= 0xa5;
	damaged_file(fx, p->idx, orig, buf, len, NULL, "crcs and trailer");
	free(one);
	free(all);
	free(buf);
	free(orig);
}

static void damage_pack_strict(const struct fx *fx, int k)
{
	const struct pack *p = &fx->packs[k];
	unsigned char *orig, *buf;
	unsigned char *all = mark_pack(fx, k);
	size_t len, cuts[24], i, nc = 0, step;
	char what[700];

	orig = read_all(p->pack, &len);
	buf = malloc(len);
	assert_non_null(buf);
	cuts[nc++] = 0;
	cuts[nc++] = 11;
	cuts[nc++] = 12;
	cuts[nc++] = 13;
	cuts[nc++] = len / 3;
	cuts[nc++] = len / 2;
	cuts[nc++] = len - 21;
	cuts[nc++] = len - 20;
	cuts[nc++] = len - 1;
	/* at page ends, where an overread meets the guard page */
	step = (len / 10 + GUARD_PAGE - 1) / GUARD_PAGE * GUARD_PAGE;
	for (i = GUARD_PAGE; i < len && nc < 24; i += step)
		cuts[nc++] = i;
	for (i = 0; i < nc; i++) {
		snprintf(
			what, sizeof(what), "'%s' cut to %zu of %zu bytes",
			p->pack, cuts[i], len);
		write_all(p->pack, orig, cuts[i]);
		read_damaged(fx, -1, 0, NULL, what);
	}
	write_all(p->pack, orig, len);
	memcpy(buf, orig, len);
	buf[3] = 'X';
	damaged_file(fx, p->pack, orig, buf, len, all, "pack magic");
	memcpy(buf, orig, len);
	put_be32(buf + 4, 4);
	damaged_file(fx, p->pack, orig, buf, len, all, "pack version 4");
	memcpy(buf, orig, len);
	put_be32(buf + 8, 0xffffffffu);
	damaged_file(fx, p->pack, orig, buf, len, NULL, "pack object count");
	/* An index longer than its pack: the pack cut, its index whole. */
	write_all(p->pack, orig, 12);
	read_damaged(fx, -1, 0, NULL, "pack of a header only");
	write_all(p->pack, orig, len);
	free(all);
	free(buf);
	free(orig);
}

/* Hundreds of seeded single-byte changes, half of them in headers. */
static void damage_pack_flips(const struct fx *fx, int k, int flips)
{
	const struct pack *p = &fx->packs[k];
	uint64_t s = seed ^ (uint64_t)(k + 1) * 0x9e3779b97f4a7c15ULL, pos;
	unsigned char *orig, b;
	char what[700];
	size_t len;
	int fd, f;

	orig = read_all(p->pack, &len);
	assert_int_equal(chmod(p->pack, 0644), 0);
	fd = open(p->pack, O_RDWR);
	assert_true(fd >= 0);
	for (f = 0; f < flips; f++) {
		if (f % 2) {
			const struct obj *o = &fx->o[p->byoff[rnd(&s) % p->n]];
			size_t hl = o->delta_pos + o->delta_len - o->off;

			pos = o->off + rnd(&s) % (hl + 2);
		} else {
			pos = rnd(&s) % len;
		}
		b = (unsigned char)(orig[pos] ^ (1 + rnd(&s) % 255));
		assert_int_equal(pwrite(fd, &b, 1, (off_t)pos), 1);
		snprintf(
			what, sizeof(what),
			"flip %d (seed %llu): byte %llu of '%s' %#x -> %#x", f,
			seed, (unsigned long long)pos, p->pack, orig[pos], b);
		read_damaged(fx, k, pos, NULL, what);
		assert_int_equal(pwrite(fd, orig + pos, 1, (off_t)pos), 1);
	}
	close(fd);
	free(orig);
}

/* ---- the tests ---- */

/* Offset deltas, chains up to 50 deep, trees as deltas too. */
static void test_packread__ofs_deltas_match_libgit2(void **state)
{
	struct fx *fx = *state;
	struct packread *pr;
	int trees, depth;

	prepare(fx, "git repack -adfq --depth=50 --window=10");
	assert_int_equal(fx->npacks, 1);
	assert_int_equal(count_loose(fx), 0);
	assert_true(fx->n > 600);
	depth = max_depth(fx, &trees);
	if (count_kind(fx, 6) < 150 || count_kind(fx, 7) || depth < 20 ||
	    trees < 30)
		fail_msg(
			"fixture: %zu objects, %zu type 6 deltas, %zu type 7, "
			"depth %d, %d tree deltas",
			fx->n, count_kind(fx, 6), count_kind(fx, 7), depth,
			trees);
	read_everything(fx);
	pr = open_pr(fx->gitdir, BIG_CACHE);
	check_unknown_ids(pr, fx);
	packread_free(pr);
}

static void test_packread__ref_deltas_match_libgit2(void **state)
{
	struct fx *fx = *state;
	struct packread *pr;
	int trees, depth;

	prepare(fx, "git -c repack.useDeltaBaseOffset=false repack -adfq "
		    "--depth=50 --window=10");
	assert_int_equal(fx->npacks, 1);
	depth = max_depth(fx, &trees);
	if (count_kind(fx, 7) < 150 || count_kind(fx, 6) || depth < 20 ||
	    trees < 30)
		fail_msg(
			"fixture: %zu objects, %zu type 7 deltas, %zu type 6, "
			"depth %d, %d tree deltas",
			fx->n, count_kind(fx, 7), count_kind(fx, 6), depth,
			trees);
	read_everything(fx);
	pr = open_pr(fx->gitdir, 0);
	check_unknown_ids(pr, fx);
	packread_free(pr);
}

#define COMMIT_ALL "git -c user.name=T -c user.email=t@x.example commit -qam"

/*
 * Three packs read; loose objects and objects of a pack made after
 * packread_open are absent (a new reader finds the latter).
 */
static void test_packread__several_packs_loose_absent(void **state)
{
	struct fx *fx = *state;
	char names[MAX_PACKS][640], ctx[64];
	struct packread *pr;
	size_t i, *order, fresh = 0;
	int k, old, was;

	prepare(fx, "git repack -adfq --depth=50 --window=10 && "
		    "echo x >> big/b1.txt && " COMMIT_ALL " l1 && "
		    "echo y >> many/f001.txt && " COMMIT_ALL " l2 && "
		    "git repack -dq && "
		    "echo z >> big/b2.txt && " COMMIT_ALL " l3 && "
		    "git repack -dq && "
		    "echo w >> many/sub/s01.txt && " COMMIT_ALL " loose");
	assert_int_equal(fx->npacks, 3);
	assert_true(count_loose(fx) >= 4);
	for (k = 0; k < 3; k++)
		assert_true(fx->packs[k].n > 0);
	read_everything(fx);
	pr = open_pr(fx->gitdir, BIG_CACHE);
	check_unknown_ids(pr, fx);
	/* A fourth pack, made while pr is open. */
	old = fx->npacks;
	for (k = 0; k < old; k++)
		snprintf(names[k], sizeof(names[k]), "%s", fx->packs[k].idx);
	prepare(fx, "echo v >> big/b0.txt && " COMMIT_ALL " l4 && "
		    "git repack -dq");
	assert_int_equal(fx->npacks, 4);
	order = pack_order(fx);
	for (i = 0; i < fx->n; i++) {
		const struct obj *o = &fx->o[order[i]];

		was = o->pack < 0;
		for (k = 0; !was && k < old; k++)
			was = !strcmp(fx->packs[o->pack].idx, names[k]);
		fresh += !was;
		snprintf(
			ctx, sizeof(ctx), "reader opened before pack %d",
			o->pack);
		check(pr, fx, order[i], o->pack < 0 || !was, ctx);
	}
	assert_true(fresh >= 3);
	packread_free(pr);
	pr = open_pr(fx->gitdir, 4096);
	read_in_order(pr, fx, order, fx->n, "new reader, four packs");
	packread_free(pr);
	free(order);
}

/* No pack, no pack folder, no repository: a reader that finds nothing. */
static void test_packread__nothing_to_read(void **state)
{
	struct fx *fx = *state;
	struct packread *pr;
	char path[400], file[300];
	size_t i;

	prepare(fx, "git init -q -b main ../empty && cd ../empty && " COMMIT_ALL
		    " x --allow-empty");
	snprintf(path, sizeof(path), "%s/empty/.git/", fx->dir);
	/* fx still describes repo: all its objects, none under empty/ */
	{
		char *ls = helper_capture(
			"cd '%s/empty' && find .git/objects "
			"-type f | grep -c /pack/",
			fx->dir);

		assert_non_null(ls);
		assert_int_equal(strtol(ls, NULL, 10), 0);
		free(ls);
	}
	pr = open_pr(path, BIG_CACHE);
	for (i = 0; i < fx->n; i += 7)
		check(pr, fx, i, 1, "repository without packs");
	check_unknown_ids(pr, fx);
	packread_free(pr);
	/* Its own loose commit and empty tree too. */
	{
		struct fx empty;

		memset(&empty, 0, sizeof(empty));
		snprintf(empty.work, sizeof(empty.work), "%s/empty", fx->dir);
		snprintf(
			empty.packdir, sizeof(empty.packdir),
			"%s/.git/objects/pack", empty.work);
		load(&empty);
		assert_int_equal(empty.n, 2);
		assert_int_equal(empty.npacks, 0);
		pr = open_pr(path, 0);
		for (i = 0; i < empty.n; i++)
			check(pr, &empty, i, 1, "loose, no packs");
		packread_free(pr);
		forget(&empty);
	}
	assert_int_equal(
		helper_run("rm -rf '%s/empty/.git/objects/pack'", fx->dir), 0);
	pr = open_pr(path, BIG_CACHE);
	check(pr, fx, 0, 1, "no pack folder");
	packread_free(pr);
	snprintf(path, sizeof(path), "%s/no/such/folder/", fx->dir);
	pr = open_pr(path, BIG_CACHE);
	for (i = 0; i < fx->n; i += 7)
		check(pr, fx, i, 1, "missing folder");
	packread_free(pr);
	/* A file where the git folder should be. */
	snprintf(file, sizeof(file), "%s/afile", fx->dir);
	write_all(file, (const unsigned char *)"x", 1);
	snprintf(path, sizeof(path), "%s/", file);
	pr = open_pr(path, BIG_CACHE);
	check(pr, fx, 0, 1, "git folder is a file");
	packread_free(pr);
	packread_free(NULL);
}

/* libgit2 (a new repository handle) reads every object as before. */
static void libgit2_reads_all(const struct fx *fx)
{
	git_repository *repo = NULL;
	git_odb *odb = NULL;
	git_odb_object *obj = NULL;
	size_t i;

	assert_int_equal(git_repository_open(&repo, fx->work), 0);
	assert_int_equal(git_repository_odb(&odb, repo), 0);
	for (i = 0; i < fx->n; i++) {
		assert_int_equal(git_odb_read(&obj, odb, &fx->o[i].id), 0);
		assert_int_equal(git_odb_object_size(obj), fx->o[i].len);
		assert_memory_equal(
			git_odb_object_data(obj), fx->o[i].data, fx->o[i].len);
		git_odb_object_free(obj);
	}
	git_odb_free(odb);
	git_repository_free(repo);
}

/*
 * A version 1 index makes its pack's objects absent (libgit2 still reads
 * them); the other pack, with its version 2 index, still reads.
 */
static void test_packread__v1_index_absent(void **state)
{
	struct fx *fx = *state;
	struct packread *pr;
	unsigned char *buf;
	size_t len, i, n1 = 0, n2 = 0;
	int big, other;
	char *out;

	prepare(fx, "git repack -adfq --depth=50 --window=10 && "
		    "echo x >> big/b1.txt && " COMMIT_ALL " l1 && "
		    "git repack -dq");
	assert_int_equal(fx->npacks, 2);
	big = fx->packs[0].n > fx->packs[1].n ? 0 : 1;
	other = 1 - big;
	assert_int_equal(
		helper_run(
			"cd '%s' && git index-pack --index-version=1 -o "
			"'%s/v1.idx' '%s' >/dev/null && mv -f '%s/v1.idx' '%s'",
			fx->dir, fx->dir, fx->packs[big].pack, fx->dir,
			fx->packs[big].idx),
		0);
	buf = read_all(fx->packs[big].idx, &len);
	assert_int_not_equal(be32(buf), 0xff744f63); /* version 1 */
	assert_int_equal(len, IDX_HEAD - 8 + 24 * fx->packs[big].n + 40);
	free(buf);
	out = helper_capture(
		"cd '%s' && git cat-file --batch-check "
		"--batch-all-objects | wc -l",
		fx->work);
	assert_non_null(out);
	assert_int_equal(strtol(out, NULL, 10), (long)fx->n);
	free(out);
	pr = open_pr(fx->gitdir, BIG_CACHE);
	for (i = 0; i < fx->n; i++) {
		check(pr, fx, i, fx->o[i].pack != other, "v1 index");
		n1 += fx->o[i].pack == big;
		n2 += fx->o[i].pack == other;
	}
	assert_true(n1 > 600 && n2 > 3);
	packread_free(pr);
	libgit2_reads_all(fx);
}

/* An index with 64-bit offsets (index-pack's limit lowered to 4 KB). */
static void test_packread__large_offsets(void **state)
{
	struct fx *fx = *state;
	struct packread *pr;
	size_t *order;

	prepare(fx, "git repack -adfq --depth=50 --window=10");
	assert_int_equal(
		helper_run(
			"cd '%s' && git index-pack --index-version=2,0x1000 -o "
			"'%s/big.idx' '%s' >/dev/null && "
			"mv -f '%s/big.idx' '%s' && chmod u+w repo/.git/objects/pack/*",
			fx->dir, fx->dir, fx->packs[0].pack, fx->dir,
			fx->packs[0].idx),
		0);
	load(fx);
	assert_true(fx->packs[0].large > 100);
	order = pack_order(fx);
	pr = open_pr(fx->gitdir, 0);
	read_in_order(pr, fx, order, fx->n, "large offsets, cache 0");
	packread_free(pr);
	pr = open_pr(fx->gitdir, BIG_CACHE);
	read_in_order(pr, fx, order, fx->n, "large offsets");
	packread_free(pr);
	free(order);
	/*
	 * Large offset entries out of the table, or past the pack (also by
	 * 4 GiB exactly): the objects they locate are absent.
	 */
	{
		const struct pack *p = &fx->packs[0];
		unsigned char *orig, *buf, *lg = calloc(fx->n, 1);
		size_t len, n = p->n, i, e, pos, lt = IDX_HEAD + 28 * n;
		size_t ot = IDX_HEAD + 24 * n;
		uint64_t v;
		char what[700];

		orig = read_all(p->idx, &len);
		buf = malloc(len);
		assert_true(buf && lg);
		for (pos = 0; pos < n; pos++)
			if (be32(orig + ot + 4 * pos) & 0x80000000u)
				lg[find(fx, orig + IDX_HEAD + 20 * pos)] = 1;
		for (i = 0; i < 3; i++) {
			static const uint32_t ix[] = { 0x80000000u, 0x80000001u,
						       0xffffffffu };

			memcpy(buf, orig, len);
			for (pos = 0; pos < n; pos++)
				if (be32(orig + ot + 4 * pos) & 0x80000000u)
					put_be32(
						buf + ot + 4 * pos,
						ix[i] + (uint32_t)(i < 2 ? p->large : 0));
			snprintf(
				what, sizeof(what),
				"large offset index %#x past the table", ix[i]);
			damaged_file(fx, p->idx, orig, buf, len, lg, what);
		}
		for (i = 0; i < 4; i++) {
			static const uint64_t bad[] = { 1ULL << 40,
							0xffffffffffffffffULL,
							0x7fffffffffffffffULL,
							1ULL << 32 };

			memcpy(buf, orig, len);
			for (e = 0; e < (size_t)p->large; e++) {
				v = (uint64_t)be32(orig + lt + 8 * e) << 32 |
				    be32(orig + lt + 8 * e + 4);
				put_be64(
					buf + lt + 8 * e,
					i < 3 ? bad[i] : v + bad[i]);
			}
			snprintf(
				what, sizeof(what),
				"every large offset %s%#llx",
				i < 3 ? "" : "plus ",
				(unsigned long long)bad[i]);
			damaged_file(fx, p->idx, orig, buf, len, lg, what);
		}
		free(lg);
		free(buf);
		free(orig);
	}
}

static void test_packread__damaged_index(void **state)
{
	struct fx *fx = *state;

	prepare(fx, "git repack -adfq --depth=50 --window=10 && "
		    "chmod u+w .git/objects/pack/*");
	read_damaged(fx, -1, 0, NULL, "undamaged");
	damage_idx(fx, 0);
}

static void test_packread__damaged_index_ref_deltas(void **state)
{
	struct fx *fx = *state;

	prepare(fx, "git -c repack.useDeltaBaseOffset=false repack -adfq "
		    "--depth=50 --window=10 && chmod u+w .git/objects/pack/*");
	damage_idx(fx, 0);
}

static void test_packread__damaged_pack(void **state)
{
	struct fx *fx = *state;

	prepare(fx, "git repack -adfq --depth=50 --window=10 && "
		    "chmod u+w .git/objects/pack/*");
	damage_pack_strict(fx, 0);
	damage_pack_flips(fx, 0, 300);
}

static void test_packread__damaged_pack_ref_deltas(void **state)
{
	struct fx *fx = *state;

	prepare(fx, "git -c repack.useDeltaBaseOffset=false repack -adfq "
		    "--depth=50 --window=10 && chmod u+w .git/objects/pack/*");
	damage_pack_strict(fx, 0);
	damage_pack_flips(fx, 0, 100);
}

/*
 * Delta cycles: a reference delta on itself, two on each other; an
 * offset delta on itself (offset 0) or before the pack's start.
 */
static void test_packread__delta_cycles(void **state)
{
	struct fx *fx = *state;
	const struct pack *p;
	unsigned char *orig, *buf;
	size_t len, i;
	long a = -1, b = -1, c = -1;
	char what[700];

	prepare(fx, "git -c repack.useDeltaBaseOffset=false repack -adfq "
		    "--depth=50 --window=10 && chmod u+w .git/objects/pack/*");
	p = &fx->packs[0];
	/* a: a delta whose base b is a delta too */
	for (i = 0; i < fx->n && a < 0; i++)
		if (fx->o[i].kind == 7 && fx->o[fx->o[i].base].kind == 7)
			a = (long)i;
	assert_true(a >= 0);
	b = fx->o[a].base;
	orig = read_all(p->pack, &len);
	buf = malloc(len);
	assert_non_null(buf);
	memcpy(buf, orig, len);
	memcpy(buf + fx->o[a].delta_pos, fx->o[a].id.id, 20);
	damaged_file(
		fx, p->pack, orig, buf, len, NULL, "reference delta on itself");
	memcpy(buf, orig, len);
	memcpy(buf + fx->o[b].delta_pos, fx->o[a].id.id, 20);
	damaged_file(
		fx, p->pack, orig, buf, len, NULL, "two deltas on each other");
	/* every delta's base: the first delta */
	memcpy(buf, orig, len);
	for (i = 0; i < fx->n; i++)
		if (fx->o[i].kind == 7)
			memcpy(buf + fx->o[i].delta_pos, fx->o[a].id.id, 20);
	damaged_file(
		fx, p->pack, orig, buf, len, NULL, "all deltas on one delta");
	free(buf);
	free(orig);
	{
		struct packread *pr = open_pr(fx->gitdir, 0);

		check(pr, fx, (size_t)a, 0, "undamaged again");
		packread_free(pr);
	}
	prepare(fx, "git repack -adfq --depth=50 --window=10 && "
		    "chmod u+w .git/objects/pack/*");
	p = &fx->packs[0];
	orig = read_all(p->pack, &len);
	buf = malloc(len);
	assert_non_null(buf);
	for (i = 0; i < fx->n; i++) {
		const struct obj *o = &fx->o[i];
		uint64_t big;
		size_t e;

		if (o->kind != 6)
			continue;
		if (o->delta_len == 1 && c < 0) {
			c = (long)i;
			memcpy(buf, orig, len);
			buf[o->delta_pos] = 0;
			snprintf(
				what, sizeof(what),
				"offset delta at %llu on itself",
				(unsigned long long)o->off);
			damaged_file(fx, p->pack, orig, buf, len, NULL, what);
		}
		for (e = 1, big = 0x7f; e < o->delta_len; e++)
			big = ((big + 1) << 7) | 0x7f;
		if (big > o->off) {
			/* the largest base offset of the same length: the
			 * base would be before the pack's start */
			memcpy(buf, orig, len);
			for (e = 0; e + 1 < o->delta_len; e++)
				buf[o->delta_pos + e] = 0xff;
			buf[o->delta_pos + o->delta_len - 1] = 0x7f;
			snprintf(
				what, sizeof(what),
				"offset delta at %llu on a base before the "
				"pack",
				(unsigned long long)o->off);
			damaged_file(fx, p->pack, orig, buf, len, NULL, what);
		}
	}
	free(buf);
	free(orig);
}

/* ---- a pack written byte by byte: deltas no git would make ---- */

struct buf {
	unsigned char *p;
	size_t len, cap;
};

static void put(struct buf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 256;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void put1(struct buf *b, unsigned c)
{
	unsigned char x = (unsigned char)c;

	put(b, &x, 1);
}

/* A pack entry's type and size. */
static void put_hdr(struct buf *b, int type, uint64_t size)
{
	unsigned c = (unsigned)(type << 4) | (unsigned)(size & 15);

	for (size >>= 4; size; size >>= 7) {
		put1(b, c | 0x80);
		c = (unsigned)(size & 0x7f);
	}
	put1(b, c);
}

/* An offset delta's distance back to its base, as git writes it. */
static void put_ofs(struct buf *b, uint64_t ofs)
{
	unsigned char tmp[16];
	size_t pos = sizeof(tmp) - 1;

	tmp[pos] = (unsigned char)(ofs & 127);
	while (ofs >>= 7)
		tmp[--pos] = (unsigned char)(128 | (--ofs & 127));
	put(b, tmp + pos, sizeof(tmp) - pos);
}

/* A delta's base or result size. */
static void put_var(struct buf *b, uint64_t v)
{
	for (; v >= 0x80; v >>= 7)
		put1(b, (unsigned)(v & 0x7f) | 0x80);
	put1(b, (unsigned)v);
}

static void put_copy(struct buf *b, uint64_t off, uint64_t size)
{
	unsigned char ops[8];
	unsigned op = 0x80, i, n = 0;

	for (i = 0; i < 4; i++)
		if ((off >> (8 * i)) & 0xff) {
			op |= 1u << i;
			ops[n++] = (unsigned char)(off >> (8 * i));
		}
	for (i = 0; i < 3; i++)
		if ((size >> (8 * i)) & 0xff) {
			op |= 0x10u << i;
			ops[n++] = (unsigned char)(size >> (8 * i));
		}
	put1(b, op);
	put(b, ops, n);
}

static void put_insert(struct buf *b, const void *p, size_t n)
{
	assert_true(n > 0 && n < 128);
	put1(b, (unsigned)n);
	put(b, p, n);
}

/* p as a zlib stream of stored blocks; a wrong checksum if bad. */
static void put_zlib(struct buf *b, const void *p, size_t n, int bad)
{
	const unsigned char *s = p;
	uint32_t a = 1, c = 0;
	size_t i, k;

	put1(b, 0x78);
	put1(b, 0x01);
	i = 0;
	do {
		k = n - i > 65535 ? 65535 : n - i;
		put1(b, i + k == n);
		put1(b, (unsigned)(k & 0xff));
		put1(b, (unsigned)(k >> 8));
		put1(b, (unsigned)(~k & 0xff));
		put1(b, (unsigned)((~k >> 8) & 0xff));
		put(b, s + i, k);
		i += k;
	} while (i < n);
	for (i = 0; i < n; i++) {
		a = (a + s[i]) % 65521;
		c = (c + a) % 65521;
	}
	a = (c << 16 | a) ^ (bad ? 1u : 0u);
	put1(b, a >> 24);
	put1(b, (a >> 16) & 0xff);
	put1(b, (a >> 8) & 0xff);
	put1(b, a & 0xff);
}

static uint32_t crc32_of(const unsigned char *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	size_t i;
	int k;

	for (i = 0; i < n; i++) {
		c ^= p[i];
		for (k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0xedb88320u : c >> 1;
	}
	return ~c;
}

/* One crafted entry and what reading it must give. */
struct craft {
	unsigned char id[PACKREAD_OID_LEN];
	uint64_t off;
	int type; /* 0: must be absent */
	int may_be_absent;
	unsigned char *want;
	size_t want_len;
	char what[80];
};

struct crafter {
	struct buf pack;
	struct craft e[400];
	size_t n;
};

/* Starts entry e: its id (the real one when want is given). */
static struct craft *craft_new(
	struct crafter *c,
	int type,
	const void *want,
	size_t len,
	const char *what)
{
	struct craft *e = &c->e[c->n];
	git_oid oid;

	assert_true(c->n < sizeof(c->e) / sizeof(c->e[0]));
	memset(e, 0, sizeof(*e));
	e->off = c->pack.len;
	e->type = type;
	snprintf(e->what, sizeof(e->what), "%s", what);
	if (type) {
		assert_int_equal(
			git_odb_hash(&oid, want, len, (git_object_t)type), 0);
		memcpy(e->id, oid.id, sizeof(e->id));
		e->want = malloc(len ? len : 1);
		assert_non_null(e->want);
		memcpy(e->want, want, len);
		e->want_len = len;
	} else {
		/* an id no object has, sorted anywhere */
		git_odb_hash(&oid, what, strlen(what), GIT_OBJECT_BLOB);
		memcpy(e->id, oid.id, sizeof(e->id));
		e->id[19] ^= 0x5a;
	}
	c->n++;
	return e;
}

static const struct crafter *sort_crafter;

static int cmp_craft(const void *a, const void *b)
{
	return memcmp(
		sort_crafter->e[*(const size_t *)a].id,
		sort_crafter->e[*(const size_t *)b].id, PACKREAD_OID_LEN);
}

/* The pack (its header's count set, its checksum added) and its index. */
static void craft_write(struct crafter *c, const char *packdir)
{
	struct buf idx = { 0 };
	unsigned char sum[SHA1_LEN], tmp[8];
	char path[700], hex[2 * SHA1_LEN + 1];
	size_t order[400], i, k, end;
	struct sha1 ctx;

	put_be32(c->pack.p + 8, (uint32_t)c->n);
	sha1_init(&ctx);
	sha1_update(&ctx, c->pack.p, c->pack.len);
	sha1_final(sum, &ctx);
	put(&c->pack, sum, SHA1_LEN);
	for (i = 0; i < SHA1_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", sum[i]);
	for (i = 0; i < c->n; i++)
		order[i] = i;
	sort_crafter = c;
	qsort(order, c->n, sizeof(order[0]), cmp_craft);
	put(&idx, "\377tOc\0\0\0\2", 8);
	for (k = 0; k < 256; k++) {
		uint32_t below = 0;

		for (i = 0; i < c->n; i++)
			below += c->e[i].id[0] <= k;
		put_be32(tmp, below);
		put(&idx, tmp, 4);
	}
	for (i = 0; i < c->n; i++)
		put(&idx, c->e[order[i]].id, PACKREAD_OID_LEN);
	for (i = 0; i < c->n; i++) {
		k = order[i];
		end = k + 1 < c->n ? c->e[k + 1].off : c->pack.len - SHA1_LEN;
		put_be32(
			tmp,
			crc32_of(c->pack.p + c->e[k].off, end - c->e[k].off));
		put(&idx, tmp, 4);
	}
	for (i = 0; i < c->n; i++) {
		put_be32(tmp, (uint32_t)c->e[order[i]].off);
		put(&idx, tmp, 4);
	}
	put(&idx, sum, SHA1_LEN);
	sha1_init(&ctx);
	sha1_update(&ctx, idx.p, idx.len);
	sha1_final(sum, &ctx);
	put(&idx, sum, SHA1_LEN);
	snprintf(path, sizeof(path), "%s/pack-%s.pack", packdir, hex);
	write_all(path, c->pack.p, c->pack.len);
	snprintf(path, sizeof(path), "%s/pack-%s.idx", packdir, hex);
	write_all(path, idx.p, idx.len);
	free(idx.p);
}

/* A delta entry on base (offset or reference), its delta bytes d. */
static void craft_delta(
	struct crafter *c,
	struct craft *e,
	const struct craft *base,
	int ref,
	const struct buf *d,
	uint64_t hdr_size)
{
	if (ref) {
		put_hdr(&c->pack, 7, hdr_size);
		put(&c->pack, base->id, PACKREAD_OID_LEN);
	} else {
		put_hdr(&c->pack, 6, hdr_size);
		put_ofs(&c->pack, e->off - base->off);
	}
	put_zlib(&c->pack, d->p, d->len, 0);
}

/* A malformed delta on base: each form by offset and by reference. */
static void craft_bad_delta(
	struct crafter *c,
	const struct craft *base,
	const struct buf *d,
	const char *what)
{
	char name[80];
	int ref;

	for (ref = 0; ref < 2; ref++) {
		snprintf(
			name, sizeof(name), "%s (%s delta)", what,
			ref ? "reference" : "offset");
		craft_delta(
			c, craft_new(c, 0, NULL, 0, name), base, ref, d,
			d->len);
	}
}

/*
 * Valid entries no stock git writes (a tag, an empty blob, a 300-deep
 * chain) read right; every malformed entry reads as absent: copies past
 * the base, inserts past the delta, results shorter or longer than
 * announced, wrong base sizes, reserved opcodes, huge sizes, overlong
 * size and offset numbers, reserved types, unknown bases, a bad zlib
 * checksum, a stream running into the trailer.  libgit2 reads the valid
 * ones the same (the container is sound).
 */
static void test_packread__crafted_entries(void **state)
{
	struct fx *fx = *state;
	struct crafter *c = calloc(1, sizeof(*c));
	struct buf d = { 0 }, w = { 0 };
	unsigned char base[100], big[1100];
	char packdir[420], gitdir[400], tag[256], name[80];
	const struct craft *b0, *prev;
	struct craft *e;
	git_repository *repo = NULL;
	git_odb *odb = NULL;
	git_odb_object *obj = NULL;
	git_oid oid;
	size_t i, pass;
	int k;

	assert_non_null(c);
	for (i = 0; i < sizeof(base); i++)
		base[i] = (unsigned char)('a' + i % 26);
	assert_int_equal(helper_run("git init -q '%s/craft'", fx->dir), 0);
	snprintf(gitdir, sizeof(gitdir), "%s/craft/.git/", fx->dir);
	snprintf(packdir, sizeof(packdir), "%sobjects/pack", gitdir);
	put(&c->pack, "PACK\0\0\0\2\0\0\0\0", 12);

	/* valid: a blob, deltas on it by offset and by reference */
	e = craft_new(c, GIT_OBJECT_BLOB, base, sizeof(base), "base blob");
	put_hdr(&c->pack, 3, sizeof(base));
	put_zlib(&c->pack, base, sizeof(base), 0);
	b0 = e;
	for (k = 0; k < 2; k++) {
		d.len = w.len = 0;
		put_var(&d, sizeof(base));
		put_var(&d, 20 + 10 + (size_t)k);
		put_copy(&d, 10 + (size_t)k, 20);
		put(&w, base + 10 + k, 20);
		put_insert(&d, "0123456789!", 10 + (size_t)k);
		put(&w, "0123456789!", 10 + (size_t)k);
		e = craft_new(
			c, GIT_OBJECT_BLOB, w.p, w.len,
			k ? "reference delta" : "offset delta");
		craft_delta(c, e, b0, k, &d, d.len);
	}
	/* a delta copying 0x10000 bytes (size 0) from a big base */
	{
		static unsigned char huge[0x10000 + 10];

		for (i = 0; i < sizeof(huge); i++)
			huge[i] = (unsigned char)(i * 31 + i / 256);
		e = craft_new(
			c, GIT_OBJECT_BLOB, huge, sizeof(huge), "64 KiB blob");
		put_hdr(&c->pack, 3, sizeof(huge));
		put_zlib(&c->pack, huge, sizeof(huge), 0);
		prev = e;
		d.len = 0;
		put_var(&d, sizeof(huge));
		put_var(&d, 0x10000);
		put1(&d, 0x80 | 0x01);
		put1(&d, 5); /* offset 5, size 0 = 0x10000 */
		e = craft_new(
			c, GIT_OBJECT_BLOB, huge + 5, 0x10000,
			"copy of size 0 (64 KiB)");
		craft_delta(c, e, prev, 0, &d, d.len);
		d.len = 0;
		put_var(&d, sizeof(huge));
		put_var(&d, 0x10000);
		put1(&d, 0x80 | 0x01);
		put1(&d, 11); /* 6 bytes too many */
		craft_bad_delta(c, prev, &d, "copy of size 0 past the base");
	}
	snprintf(
		tag, sizeof(tag),
		"object %s\ntype blob\ntag t\ntagger T <t@x.example> 0 +0000"
		"\n\nt\n",
		git_oid_tostr_s((const git_oid *)b0->id));
	e = craft_new(c, GIT_OBJECT_TAG, tag, strlen(tag), "tag");
	put_hdr(&c->pack, 4, strlen(tag));
	put_zlib(&c->pack, tag, strlen(tag), 0);
	e = craft_new(c, GIT_OBJECT_BLOB, "", 0, "empty blob");
	put_hdr(&c->pack, 3, 0);
	put_zlib(&c->pack, "", 0, 0);
	/* a chain 300 deep, one byte more each time */
	memcpy(big, base, sizeof(base));
	prev = b0;
	for (k = 0; k < 300; k++) {
		size_t blen = sizeof(base) + (size_t)k;

		big[blen] = (unsigned char)('A' + k % 26);
		d.len = 0;
		put_var(&d, blen);
		put_var(&d, blen + 1);
		put_copy(&d, 0, blen);
		put_insert(&d, big + blen, 1);
		snprintf(name, sizeof(name), "chain link %d", k + 1);
		e = craft_new(c, GIT_OBJECT_BLOB, big, blen + 1, name);
		e->may_be_absent = 1;
		craft_delta(c, e, prev, k % 2, &d, d.len);
		prev = e;
	}

	/* malformed deltas */
	d.len = 0;
	put_var(&d, 100);
	put_var(&d, 20);
	put_copy(&d, 90, 20);
	craft_bad_delta(c, b0, &d, "copy past the base's end");
	d.len = 0;
	put_var(&d, 100);
	put_var(&d, 1);
	put_copy(&d, 0xffffffffu, 1);
	craft_bad_delta(c, b0, &d, "copy at offset 0xffffffff");
	d.len = 0;
	put_var(&d, 100);
	put_var(&d, 50);
	put1(&d, 40);
	put(&d, "12345", 5);
	craft_bad_delta(c, b0, &d, "insert past the delta's end");
	d.len = 0;
	put_var(&d, 100);
	put_var(&d, 30);
	put_copy(&d, 0, 20);
	craft_bad_delta(c, b0, &d, "result shorter than announced");
	d.len = 0;
	put_var(&d, 100);
	put_var(&d, 10);
	put_copy(&d, 0, 20);
	craft_bad_delta(c, b0, &d, "copy longer than the result");
	d.len = 0;
	put_var(&d, 100);
	put_var(&d, 10);
	put_insert(&d, "0123456789abcdef", 16);
	craft_bad_delta(c, b0, &d, "insert longer than the result");
	d.len = 0;
	put_var(&d, 99);
	put_var(&d, 10);
	put_copy(&d, 0, 10);
	craft_bad_delta(c, b0, &d, "base size 99 for a 100-byte base");
	d.len = 0;
	put_var(&d, 101);
	put_var(&d, 10);
	put_copy(&d, 0, 10);
	craft_bad_delta(c, b0, &d, "base size 101 for a 100-byte base");
	d.len = 0;
	put_var(&d, 100);
	put_var(&d, 10);
	put1(&d, 0);
	put_copy(&d, 0, 10);
	craft_bad_delta(c, b0, &d, "reserved opcode 0");
	d.len = 0;
	put_var(&d, 100);
	put_var(&d, 1ULL << 40);
	put_copy(&d, 0, 10);
	craft_bad_delta(c, b0, &d, "result of 1 TiB");
	d.len = 0;
	put_var(&d, 100);
	put_var(&d, 0xffffffffffffffffULL);
	put_copy(&d, 0, 10);
	craft_bad_delta(c, b0, &d, "result of 2^64-1 bytes");
	d.len = 0;
	put1(&d, 0xe4);
	put1(&d, 0x80);
	put1(&d, 0x80);
	craft_bad_delta(c, b0, &d, "unterminated base size");
	d.len = 0;
	for (i = 0; i < 12; i++)
		put1(&d, 0xff);
	put1(&d, 0x01);
	put_var(&d, 10);
	put_copy(&d, 0, 10);
	craft_bad_delta(c, b0, &d, "base size of 13 bytes");
	d.len = 0;
	craft_bad_delta(c, b0, &d, "empty delta");
	/* a delta on a malformed delta */
	{
		const struct craft *bad = &c->e[c->n - 1];

		d.len = 0;
		put_var(&d, 0);
		put_var(&d, 1);
		put_insert(&d, "x", 1);
		craft_bad_delta(c, bad, &d, "delta on a bad delta");
	}
	/* an entry size that is not the delta's */
	d.len = 0;
	put_var(&d, 100);
	put_var(&d, 10);
	put_copy(&d, 0, 10);
	for (k = 0; k < 2; k++) {
		snprintf(
			name, sizeof(name), "delta entry size %s",
			k ? "one more" : "one less");
		e = craft_new(c, 0, NULL, 0, name);
		craft_delta(c, e, b0, 0, &d, k ? d.len + 1 : d.len - 1);
	}

	/* malformed entries */
	for (k = 0; k < 3; k++) {
		static const uint64_t sz[] = { 99, 101, 1ULL << 40 };

		snprintf(
			name, sizeof(name),
			"blob of 100 bytes announced as "
			"%llu",
			(unsigned long long)sz[k]);
		e = craft_new(c, 0, NULL, 0, name);
		put_hdr(&c->pack, 3, sz[k]);
		put_zlib(&c->pack, base, sizeof(base), 0);
	}
	e = craft_new(c, 0, NULL, 0, "size of 13 bytes");
	put1(&c->pack, 0xbf);
	for (i = 0; i < 11; i++)
		put1(&c->pack, 0xff);
	put1(&c->pack, 0x01);
	put_zlib(&c->pack, base, sizeof(base), 0);
	e = craft_new(c, 0, NULL, 0, "base offset of 13 bytes");
	put_hdr(&c->pack, 6, 10);
	for (i = 0; i < 12; i++)
		put1(&c->pack, 0xff);
	put1(&c->pack, 0x7f);
	put_zlib(&c->pack, base, 10, 0);
	for (k = 0; k < 2; k++) {
		snprintf(name, sizeof(name), "type %d", k ? 5 : 0);
		e = craft_new(c, 0, NULL, 0, name);
		put_hdr(&c->pack, k ? 5 : 0, sizeof(base));
		put_zlib(&c->pack, base, sizeof(base), 0);
	}
	e = craft_new(c, 0, NULL, 0, "reference delta on an unknown id");
	put_hdr(&c->pack, 7, 5);
	memset(tag, 0x42, PACKREAD_OID_LEN);
	put(&c->pack, tag, PACKREAD_OID_LEN);
	d.len = 0;
	put_var(&d, 100);
	put_var(&d, 1);
	put_insert(&d, "x", 1);
	put_zlib(&c->pack, d.p, d.len, 0);
	e = craft_new(c, 0, NULL, 0, "zlib checksum wrong");
	put_hdr(&c->pack, 3, sizeof(base));
	put_zlib(&c->pack, base, sizeof(base), 1);
	e = craft_new(c, 0, NULL, 0, "deflate data running into the trailer");
	put_hdr(&c->pack, 3, 1000);
	put1(&c->pack, 0x78);
	put1(&c->pack, 0x01);
	put1(&c->pack, 1);
	put1(&c->pack, 1000 & 0xff);
	put1(&c->pack, 1000 >> 8);
	put1(&c->pack, ~1000 & 0xff);
	put1(&c->pack, (~1000 >> 8) & 0xff);
	put(&c->pack, base, 10);
	craft_write(c, packdir);

	/* libgit2 reads the valid ones as they were meant */
	assert_int_equal(git_repository_open(&repo, gitdir), 0);
	assert_int_equal(git_repository_odb(&odb, repo), 0);
	for (i = 0; i < c->n; i++) {
		e = &c->e[i];
		if (!e->type)
			continue;
		memcpy(oid.id, e->id, sizeof(oid.id));
		if (git_odb_read(&obj, odb, &oid) != 0)
			fail_msg(
				"crafted %s: libgit2 cannot read it: %s",
				e->what,
				git_error_last() ? git_error_last()->message :
						   "");
		assert_int_equal(git_odb_object_type(obj), e->type);
		assert_int_equal(git_odb_object_size(obj), e->want_len);
		assert_memory_equal(
			git_odb_object_data(obj), e->want, e->want_len);
		git_odb_object_free(obj);
	}
	git_odb_free(odb);
	git_repository_free(repo);

	/* packread: each twice, forwards then backwards, three caches */
	for (pass = 0; pass < 6; pass++) {
		static const size_t caches[] = { 0, 4096, BIG_CACHE };
		struct packread *pr = open_pr(gitdir, caches[pass % 3]);
		const unsigned char *data;
		enum packread_type type;
		size_t len, j, r;
		int rc;

		for (j = 0; j < 2 * c->n; j++) {
			i = pass < 3 ? j / 2 : c->n - 1 - j / 2;
			e = &c->e[i];
			data = NULL;
			len = 0;
			type = 0;
			rc = packread_get(&data, &len, &type, pr, e->id);
			if (rc == PACKREAD_ABSENT &&
			    (!e->type || e->may_be_absent))
				continue;
			if (rc != 0)
				fail_msg(
					"crafted %s (cache %zu): "
					"packread_get returned %d, "
					"expected %s",
					e->what, caches[pass % 3], rc,
					e->type ? "0" : "PACKREAD_ABSENT");
			for (r = 0; r < len; r++)
				sink += data[r];
			if (!e->type)
				fail_msg(
					"crafted %s (cache %zu): got type %d, "
					"%zu bytes, expected PACKREAD_ABSENT",
					e->what, caches[pass % 3], (int)type,
					len);
			if ((int)type != e->type || len != e->want_len ||
			    (len && memcmp(data, e->want, len) != 0))
				fail_msg(
					"crafted %s (cache %zu): got type %d, "
					"%zu bytes, expected type %d, %zu "
					"bytes",
					e->what, caches[pass % 3], (int)type,
					len, e->type, e->want_len);
		}
		packread_free(pr);
	}
	for (i = 0; i < c->n; i++)
		free(c->e[i].want);
	free(c->pack.p);
	free(c);
	free(d.p);
	free(w.p);
}

/*
 * Held objects (packread_hold) keep their bytes while every other object
 * is read through a small cache, then again through a fresh one: each
 * held one still libgit2's, held twice (packread_pin) and released in
 * turn; one too big for the cache is absent to packread_hold and read
 * by packread_get.
 */
static void test_packread__held_objects_stay(void **state)
{
	struct fx *fx = *state;
	const size_t cache = (size_t)64 << 10;
	const unsigned char **data;
	enum packread_type type;
	size_t *len, i, k, held = 0, *order;
	void **pin;
	int rc;

	prepare(fx, "git repack -adfq --depth=50 --window=10");
	data = calloc(fx->n, sizeof(*data));
	len = calloc(fx->n, sizeof(*len));
	pin = calloc(fx->n, sizeof(*pin));
	assert_true(data && len && pin);
	order = pack_order(fx);
	{
		struct packread *pr = open_pr(fx->gitdir, cache);

		/* every tenth object held, the trees among them twice */
		for (k = 0; k < fx->n; k += 10) {
			i = order[k];
			rc = packread_hold(
				&data[i], &len[i], &type, &pin[i], pr,
				fx->o[i].id.id);
			if (fx->o[i].len > cache / 2) {
				assert_int_equal(rc, PACKREAD_ABSENT);
				assert_null(pin[i]);
				continue;
			}
			assert_int_equal(rc, 0);
			assert_non_null(pin[i]);
			assert_int_equal((int)type, fx->o[i].type);
			held++;
			if (type == PACKREAD_TREE)
				packread_pin(pr, pin[i]);
		}
		assert_true(held > 20);
		read_in_order(pr, fx, order, fx->n, "held, cache 64 KB");
		for (i = 0; i < fx->n; i++) {
			if (!pin[i])
				continue;
			assert_int_equal(len[i], fx->o[i].len);
			assert_memory_equal(data[i], fx->o[i].data, len[i]);
			packread_release(pr, pin[i]);
		}
		/* the trees once more held: their bytes still there */
		read_in_order(pr, fx, order, fx->n, "half released");
		for (i = 0; i < fx->n; i++) {
			if (!pin[i] || fx->o[i].type != GIT_OBJECT_TREE)
				continue;
			assert_memory_equal(data[i], fx->o[i].data, len[i]);
			packread_release(pr, pin[i]);
		}
		read_in_order(pr, fx, order, fx->n, "all released");
		packread_free(pr);
	}
	free(order);
	free(data);
	free(len);
	free(pin);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_packread__ofs_deltas_match_libgit2),
		T(test_packread__ref_deltas_match_libgit2),
		T(test_packread__several_packs_loose_absent),
		T(test_packread__nothing_to_read),
		T(test_packread__v1_index_absent),
		T(test_packread__large_offsets),
		T(test_packread__damaged_index),
		T(test_packread__damaged_index_ref_deltas),
		T(test_packread__damaged_pack),
		T(test_packread__damaged_pack_ref_deltas),
		T(test_packread__delta_cycles),
		T(test_packread__crafted_entries),
		T(test_packread__held_objects_stay),
	};
#undef T

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
