/*
 * sync/merge.c: merge base, changed files per side, who last changed a
 * field, the merged tree, the signed merge commit.
 */
#include "merge.h"

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>
#include <git2/sys/mempack.h>
#include <git2/sys/odb_backend.h>

#include "commit.h"
#include "core/doc.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/key.h"
#include "core/merge.h"
#include "core/plan.h"
#include "core/sha1.h"
#include "core/sshsig.h"
#include "gitindex.h"
#include "packread.h"
#include "packwrite.h"
#include "history.h"
#include "repo.h"
#include "signers.h"
#include "verify.h"

#define MAXP 8 /* parents of one commit we look at */
#define NOTES_MAX 200 /* conflict lines kept for messages */

/* ---- small helpers --------------------------------------------------- */

struct sbuf {
	char *p;
	size_t n, cap;
	int failed;
};

static void sb_add(struct sbuf *sb, const char *fmt, ...) ERROR_PRINTF(2, 3);

static void sb_add(struct sbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int need;
	char *grown;

	if (sb->failed)
		return;
	va_start(ap, fmt);
	need = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (need < 0) {
		sb->failed = 1;
		return;
	}
	if (sb->n + (size_t)need + 1 > sb->cap) {
		size_t cap = (sb->n + (size_t)need + 1) * 2;

		if (!(grown = realloc(sb->p, cap))) {
			sb->failed = 1;
			return;
		}
		sb->p = grown;
		sb->cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(sb->p + sb->n, sb->cap - sb->n, fmt, ap);
	va_end(ap);
	sb->n += (size_t)need;
}

static int git_fail(int rc, const char *what)
{
	return repo_git_error(rc, what);
}

static int is_file_mode(unsigned mode)
{
	return mode == GIT_FILEMODE_BLOB ||
	       mode == GIT_FILEMODE_BLOB_EXECUTABLE;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int push_str(char ***v, size_t *n, size_t *cap, const char *s)
{
	char **grown;

	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 16;

		if (!(grown = realloc(*v, c * sizeof(**v))))
			return error_nomem();
		*v = grown;
		*cap = c;
	}
	if (!((*v)[*n] = strdup(s)))
		return error_nomem();
	(*n)++;
	return 0;
}

static void free_strv(char **v, size_t n)
{
	size_t i;

	for (i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

/* Read a blob; ERROR_INVALID if over DOC_MAX_FILE. */
static int read_blob(
	git_blob **out,
	git_repository *git,
	const git_oid *id,
	const char *path)
{
	int rc;

	if ((rc = git_blob_lookup(out, git, id)) < 0)
		return git_fail(rc, path);
	if (git_blob_rawsize(*out) > DOC_MAX_FILE) {
		git_blob_free(*out);
		*out = NULL;
		return error_set(
			ERROR_INVALID, "'%s' is over %u bytes", path,
			DOC_MAX_FILE);
	}
	return 0;
}

/*
 * Which kind of plan file path is: 1 with *kind (and id) for plan files
 * plansync parses, 0 for files it carries as they are (.gitattributes,
 * README at the top), ERROR_INVALID for a path under actions/ outside the
 * layout.
 */
static int
classify(enum plan_file_kind *kind, char *id, size_t idsize, const char *path)
{
	if (plan_path_classify(kind, id, idsize, path) == 0)
		return *kind == PLAN_FILE_ATTRIBUTES ? 0 : 1;
	error_clear();
	if (strncmp(path, "actions/", 8) == 0 || strchr(path, '/'))
		return error_set(
			ERROR_INVALID,
			"cannot merge: '%s' is outside the plan layout", path);
	return 0;
}

/* Parse and check a blob as the plan file at path (doc NULL if not a plan
 * file).  where names the side in messages. */
static int parse_blob(
	struct doc_node **out,
	git_repository *git,
	const git_oid *id,
	unsigned mode,
	const char *path,
	const char *where)
{
	enum plan_file_kind kind;
	char aid[32];
	git_blob *blob = NULL;
	int error, k;

	*out = NULL;
	if (!is_file_mode(mode))
		return error_set(
			ERROR_INVALID,
			"cannot merge: '%s' is not a regular file on %s", path,
			where);
	if ((k = classify(&kind, aid, sizeof(aid), path)) <= 0)
		return k;
	if ((error = read_blob(&blob, git, id, path)) < 0)
		goto done;
	error = plan_parse(
		out, kind, path, git_blob_rawcontent(blob),
		(size_t)git_blob_rawsize(blob));
	if (error < 0) {
		char why[512];

		snprintf(why, sizeof(why), "%s", error_message());
		error = error_set(
			ERROR_INVALID, "cannot merge: %s (on %s)", why, where);
	}
done:
	git_blob_free(blob);
	return error;
}

/* ---- changed files on one side ---------------------------------------- */

struct fchange {
	char *path;
	int has_old, has_new;
	git_oid old_id, new_id;
	unsigned old_mode, new_mode;
	struct doc_node *doc; /* parsed new version (both-changed files) */
};

struct fchanges {
	struct fchange *v;
	size_t n, cap;
};

static void fchanges_release(struct fchanges *c)
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		free(c->v[i].path);
		doc_free(c->v[i].doc);
	}
	free(c->v);
	c->v = NULL;
	c->n = c->cap = 0;
}

/* The journal of sync/commit, naming the changed paths. */
static int
write_journal(struct repo *repo, const char *hex, const struct fchanges *ch)
{
	const char **paths = NULL;
	size_t i;
	int error;

	if (ch->n && !(paths = calloc(ch->n, sizeof(*paths))))
		return error_nomem();
	for (i = 0; i < ch->n; i++)
		paths[i] = ch->v[i].path;
	error = commit_journal_write(repo, hex, paths, ch->n);
	free(paths);
	return error;
}

/*
 * Reading an object re-hashes it by default (SHA-1DC, as costly as the
 * read itself for a priority folder's tree); git does not, objects being
 * checked when they enter the repository (index-pack, or written here).
 * Off while the merge reads trees and blobs (as sync/history does while
 * building), on again after.  Commit signatures are checked with it on.
 */
static void fast_reads(int on)
{
	git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, on ? 0 : 1);
}

static int fchange_cmp(const void *a, const void *b)
{
	return strcmp(
		((const struct fchange *)a)->path,
		((const struct fchange *)b)->path);
}

/* ---- raw trees --------------------------------------------------------- */

/* git's order of tree entries: a folder's name sorts as if ending in '/'. */
static int entry_order(
	const char *a,
	size_t alen,
	int atree,
	const char *b,
	size_t blen,
	int btree)
{
	size_t len = alen < blen ? alen : blen;
	int c = memcmp(a, b, len);
	unsigned char ca, cb;

	if (c)
		return c;
	ca = alen > len ? (unsigned char)a[len] : atree ? '/' : '\0';
	cb = blen > len ? (unsigned char)b[len] : btree ? '/' : '\0';
	return ca < cb ? -1 : ca > cb;
}

static int name_plain(const char *name, size_t len)
{
	return len && !(len == 1 && name[0] == '.') &&
	       !(len == 2 && name[0] == '.' && name[1] == '.') &&
	       !(len == 4 && strncasecmp(name, ".git", 4) == 0) &&
	       !memchr(name, '\0', len) && !memchr(name, '/', len);
}

struct rawent {
	unsigned mode;
	const char *name;
	size_t len;
	const unsigned char *id;
	size_t size; /* its bytes in the tree: mode, name, id */
};

/* The next entry of raw tree data at *p (before end); 0, or -1 if bad. */
static int
raw_next(struct rawent *e, const unsigned char **p, const unsigned char *end)
{
	const unsigned char *q = *p, *nul;

	for (e->mode = 0; q < end && *q >= '0' && *q <= '7'; q++)
		e->mode = e->mode * 8 + (unsigned)(*q - '0');
	if (q >= end || *q != ' ' || q == *p)
		return -1;
	q++;
	if (!(nul = memchr(q, '\0', (size_t)(end - q))) ||
	    (size_t)(end - nul) < 1 + GIT_OID_RAWSZ)
		return -1;
	e->name = (const char *)q;
	e->len = (size_t)(nul - q);
	e->id = nul + 1;
	e->size = (size_t)(nul + 1 + GIT_OID_RAWSZ - *p);
	/* as libgit2 reads them: any regular file is 100644 or 100755 */
	if ((e->mode & 0170000) == 0100000)
		e->mode = e->mode & 0111 ? GIT_FILEMODE_BLOB_EXECUTABLE :
					   GIT_FILEMODE_BLOB;
	*p = nul + 1 + GIT_OID_RAWSZ;
	return 0;
}

/*
 * An object's bytes: held in packread's cache (pin, when the merge's
 * reader pr is given and has it), else libgit2's copy (obj).  A merge
 * reads ~250 folder trees of 40 KB at 100,000 actions; through libgit2
 * each would be copied out of packread's cache once more (11 MB).
 */
struct rawobj {
	git_odb_object *obj;
	struct packread *pr;
	void *pin;
	const unsigned char *data;
	size_t len;
	git_object_t type;
};

/* Object id into *o; 0 or a libgit2 error code. */
static int rawobj_read(
	struct rawobj *o,
	git_odb *odb,
	struct packread *pr,
	const git_oid *id)
{
	enum packread_type t;
	int rc;

	memset(o, 0, sizeof(*o));
	if (pr &&
	    packread_hold(&o->data, &o->len, &t, &o->pin, pr, id->id) == 0) {
		o->pr = pr;
		o->type = (git_object_t)t;
		return 0;
	}
	if ((rc = git_odb_read(&o->obj, odb, id)) < 0)
		return rc;
	o->data = git_odb_object_data(o->obj);
	o->len = git_odb_object_size(o->obj);
	o->type = git_odb_object_type(o->obj);
	return 0;
}

/* *dst: src once more (each released on its own). */
static void rawobj_dup(struct rawobj *dst, const struct rawobj *src)
{
	*dst = *src;
	if (src->pin)
		packread_pin(src->pr, src->pin);
	else if (src->obj)
		git_odb_object_dup(&dst->obj, src->obj);
}

/* Non-zero if o holds an object (read, not freed). */
static int rawobj_read_ok(const struct rawobj *o)
{
	return o->pin || o->obj;
}

static void rawobj_free(struct rawobj *o)
{
	if (o->pin)
		packread_release(o->pr, o->pin);
	git_odb_object_free(o->obj);
	memset(o, 0, sizeof(*o));
}

/* A tree object's bytes, read through the object database. */
struct rtree {
	struct rawobj o;
	const unsigned char *p, *end;
};

/* Tree id (NULL: an empty one), read through pr when not NULL. */
static int rtree_open(
	struct rtree *t,
	git_odb *odb,
	struct packread *pr,
	const git_oid *id)
{
	char hex[GIT_OID_HEXSZ + 1];
	int rc;

	memset(t, 0, sizeof(*t));
	if (!id)
		return 0;
	if ((rc = rawobj_read(&t->o, odb, pr, id)) < 0)
		return git_fail(rc, "cannot read a tree");
	if (t->o.type != GIT_OBJECT_TREE) {
		git_oid_tostr(hex, sizeof(hex), id);
		rawobj_free(&t->o);
		return error_set(ERROR_INVALID, "%s is not a tree", hex);
	}
	t->p = t->o.data;
	t->end = t->p + t->o.len;
	return 0;
}

static void rtree_close(struct rtree *t)
{
	rawobj_free(&t->o);
	memset(t, 0, sizeof(*t));
}

/* Its next entry into *e; 1 if one, 0 at the end, < 0 if malformed. */
static int rtree_next(struct rawent *e, struct rtree *t)
{
	if (!t->p || t->p >= t->end)
		return 0;
	if (raw_next(e, &t->p, t->end) < 0)
		return error_set(ERROR_INVALID, "malformed tree");
	return 1;
}

static int add_change(
	struct fchanges *out,
	const char *path,
	const struct rawent *old,
	const struct rawent *new_)
{
	struct fchange *c, *grown;

	if (out->n == out->cap) {
		size_t cap = out->cap ? out->cap * 2 : 64;

		if (!(grown = realloc(out->v, cap * sizeof(*grown))))
			return error_nomem();
		out->v = grown;
		out->cap = cap;
	}
	c = &out->v[out->n];
	memset(c, 0, sizeof(*c));
	if (!(c->path = strdup(path)))
		return error_nomem();
	out->n++;
	if ((c->has_old = old != NULL)) {
		git_oid_fromraw(&c->old_id, old->id);
		c->old_mode = old->mode;
	}
	if ((c->has_new = new_ != NULL)) {
		git_oid_fromraw(&c->new_id, new_->id);
		c->new_mode = new_->mode;
	}
	return 0;
}

/*
 * Trees a diff read, kept for the merged tree's build: it starts from
 * ours' folders, which the diffs of the base against each side have just
 * read (ours' own where ours changed them, else the base's, the same
 * objects), and reading a 40 KB folder again costs a delta rebuild and a
 * copy; and theirs' folders, which the build compares its result with.
 * keep_a and keep_b say which side of a diff to keep.
 */
struct treememo {
	struct kept_tree {
		git_oid id;
		struct rawobj obj;
	} * v;
	size_t n, cap;
	int keep_a, keep_b, sorted;
	struct packread *pr; /* the merge's reader (NULL: libgit2's) */
};

static int
memo_add(struct treememo *m, const git_oid *id, const struct rawobj *obj)
{
	struct kept_tree *grown;

	if (m->n == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 64;

		if (!(grown = realloc(m->v, cap * sizeof(*grown))))
			return error_nomem();
		m->v = grown;
		m->cap = cap;
	}
	git_oid_cpy(&m->v[m->n].id, id);
	rawobj_dup(&m->v[m->n].obj, obj);
	m->n++;
	m->sorted = 0;
	return 0;
}

static int kept_cmp(const void *a, const void *b)
{
	return git_oid_cmp(
		&((const struct kept_tree *)a)->id,
		&((const struct kept_tree *)b)->id);
}

/* Tree id from the memo into *out (a new reference): 1, or 0 if not. */
static int memo_get(struct rawobj *out, struct treememo *m, const git_oid *id)
{
	struct kept_tree key, *hit;

	if (!m || !m->n)
		return 0;
	if (!m->sorted) {
		qsort(m->v, m->n, sizeof(*m->v), kept_cmp);
		m->sorted = 1;
	}
	git_oid_cpy(&key.id, id);
	if (!(hit = bsearch(&key, m->v, m->n, sizeof(*m->v), kept_cmp)))
		return 0;
	rawobj_dup(out, &hit->obj);
	return 1;
}

static void memo_release(struct treememo *m)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		rawobj_free(&m->v[i].obj);
	free(m->v);
	memset(m, 0, sizeof(*m));
}

static int raw_diff(
	struct fchanges *out,
	git_odb *odb,
	struct treememo *memo,
	const git_oid *a,
	const git_oid *b,
	char *path,
	size_t plen);

/*
 * Append name (and '/' for a folder) to path[0..plen); the new length, or
 * 0 with the error set when it does not fit path's 4096 bytes.
 */
static size_t
path_push(char *path, size_t plen, const char *name, size_t len, int folder)
{
	if (plen + len + 2 > 4096) {
		error_set(ERROR_INVALID, "path too long");
		return 0;
	}
	memcpy(path + plen, name, len);
	if (folder)
		path[plen + len++] = '/';
	path[plen + len] = '\0';
	return plen + len;
}

/* Entry e (under path), present on one side only: its files. */
static int one_side(
	struct fchanges *out,
	git_odb *odb,
	struct treememo *memo,
	const struct rawent *e,
	int is_old,
	char *path,
	size_t plen)
{
	size_t len = path_push(
		path, plen, e->name, e->len, e->mode == GIT_FILEMODE_TREE);
	git_oid id;
	int error;

	if (!len)
		return ERROR_INVALID;
	if (e->mode != GIT_FILEMODE_TREE) {
		error = add_change(
			out, path, is_old ? e : NULL, is_old ? NULL : e);
	} else {
		git_oid_fromraw(&id, e->id);
		error = raw_diff(
			out, odb, memo, is_old ? &id : NULL,
			is_old ? NULL : &id, path, len);
	}
	path[plen] = '\0';
	return error;
}

/* The length of the longest common prefix of a and b (n bytes each). */
static size_t
same_prefix(const unsigned char *a, const unsigned char *b, size_t n)
{
	size_t i = 0;
	uint64_t x, y;

	for (; i + 64 <= n && memcmp(a + i, b + i, 64) == 0; i += 64)
		;
	for (; i + 8 <= n; i += 8) {
		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		if (x != y)
			break;
	}
	while (i < n && a[i] == b[i])
		i++;
	return i;
}

/*
 * The bytes, from entries ea of ta and eb of tb on, of the entries the two
 * trees have the same to the byte (0 if not even ea and eb): skipped by
 * raw_diff with only ta's parsed.  A 1,000-file folder changed in one
 * file is two runs of such entries: the diffs of a 100,000-action merge
 * take 1.2 ms less than entry by entry (13.4 -> 12.2 ms).
 */
static size_t same_entries(
	const struct rawent *ea,
	const struct rtree *ta,
	const struct rawent *eb,
	const struct rtree *tb)
{
	const unsigned char *sa = ea->id + GIT_OID_RAWSZ - ea->size;
	const unsigned char *sb = eb->id + GIT_OID_RAWSZ - eb->size, *q, *next;
	size_t la = (size_t)(ta->end - sa), lb = (size_t)(tb->end - sb);
	size_t run = same_prefix(sa, sb, la < lb ? la : lb);
	struct rawent e;

	if (run < ea->size)
		return 0;
	/* the entries of a wholly inside the run */
	for (q = sa + ea->size; q < ta->end; q = next) {
		next = q;
		if (raw_next(&e, &next, ta->end) < 0 ||
		    (size_t)(next - sa) > run)
			break;
	}
	return (size_t)(q - sa);
}

/*
 * The files that differ between trees a and b (either may be NULL) under
 * path, skipping subtrees whose ids are equal, so the cost follows the
 * changes; read as raw tree objects (libgit2's parse of a 1,000-entry
 * folder into a git_tree costs more than the comparison).
 */
static int raw_diff(
	struct fchanges *out,
	git_odb *odb,
	struct treememo *memo,
	const git_oid *a,
	const git_oid *b,
	char *path,
	size_t plen)
{
	struct rtree ta, tb;
	struct rawent ea, eb;
	git_oid ia, ib;
	size_t len, skip;
	int ha, hb, cmp, error;

	if ((error = rtree_open(&ta, odb, memo ? memo->pr : NULL, a)) < 0)
		return error;
	if ((error = rtree_open(&tb, odb, memo ? memo->pr : NULL, b)) < 0) {
		rtree_close(&ta);
		return error;
	}
	if (memo &&
	    ((memo->keep_a && a && (error = memo_add(memo, a, &ta.o)) < 0) ||
	     (memo->keep_b && b && (error = memo_add(memo, b, &tb.o)) < 0)))
		goto done;
	if ((ha = rtree_next(&ea, &ta)) < 0 ||
	    (hb = rtree_next(&eb, &tb)) < 0) {
		error = ha < 0 ? ha : hb;
		goto done;
	}
	while (ha || hb) {
		if (ha && hb && (skip = same_entries(&ea, &ta, &eb, &tb))) {
			/* identical entries: no change */
			ta.p = ea.id + GIT_OID_RAWSZ - ea.size + skip;
			tb.p = eb.id + GIT_OID_RAWSZ - eb.size + skip;
			if ((ha = rtree_next(&ea, &ta)) < 0 ||
			    (hb = rtree_next(&eb, &tb)) < 0) {
				error = ha < 0 ? ha : hb;
				goto done;
			}
			continue;
		}
		if (!ha)
			cmp = 1;
		else if (!hb)
			cmp = -1;
		else
			cmp = entry_order(
				ea.name, ea.len, ea.mode == GIT_FILEMODE_TREE,
				eb.name, eb.len, eb.mode == GIT_FILEMODE_TREE);
		if (cmp < 0) {
			if ((error = one_side(
				     out, odb, memo, &ea, 1, path, plen)) < 0)
				goto done;
		} else if (cmp > 0) {
			if ((error = one_side(
				     out, odb, memo, &eb, 0, path, plen)) < 0)
				goto done;
		} else if (
			ea.mode != eb.mode ||
			memcmp(ea.id, eb.id, GIT_OID_RAWSZ) != 0) {
			/* same name, so both folders or both files: a
			 * folder's name sorts as "name/" */
			if (!(len = path_push(
				      path, plen, ea.name, ea.len,
				      ea.mode == GIT_FILEMODE_TREE))) {
				error = ERROR_INVALID;
				goto done;
			}
			if (ea.mode == GIT_FILEMODE_TREE) {
				git_oid_fromraw(&ia, ea.id);
				git_oid_fromraw(&ib, eb.id);
				error = raw_diff(
					out, odb, memo, &ia, &ib, path, len);
			} else {
				error = add_change(out, path, &ea, &eb);
			}
			path[plen] = '\0';
			if (error < 0)
				goto done;
		}
		if (cmp <= 0 && (ha = rtree_next(&ea, &ta)) < 0) {
			error = ha;
			goto done;
		}
		if (cmp >= 0 && (hb = rtree_next(&eb, &tb)) < 0) {
			error = hb;
			goto done;
		}
	}
done:
	rtree_close(&ta);
	rtree_close(&tb);
	return error;
}

/*
 * The files that differ between trees a and b (either may be NULL),
 * keeping in memo (when not NULL) the trees it asks for.
 */
static int diff_keep(
	struct fchanges *out,
	git_repository *git,
	struct treememo *memo,
	git_tree *a,
	git_tree *b)
{
	char path[4096] = "";
	git_odb *odb = NULL;
	int rc, error;

	if ((rc = git_repository_odb(&odb, git)) < 0)
		return git_fail(rc, "cannot open the object database");
	error = raw_diff(
		out, odb, memo, a ? git_tree_id(a) : NULL,
		b ? git_tree_id(b) : NULL, path, 0);
	git_odb_free(odb);
	if (error == 0 && out->n)
		qsort(out->v, out->n, sizeof(*out->v), fchange_cmp);
	return error;
}

/* The files that differ between trees a and b (either may be NULL). */
static int
diff_trees(struct fchanges *out, git_repository *git, git_tree *a, git_tree *b)
{
	return diff_keep(out, git, NULL, a, b);
}

/* ---- who last changed a field on a side ---------------------------------- */

struct touch {
	char hex[41];
	char *email;
	long long time;
	size_t np;
	int has_blob, has_pblob[MAXP];
	git_oid blob, pblob[MAXP];
	int parsed;
	struct doc_node *doc, *pdoc[MAXP];
	/* set when doc / pdoc[k] is borrowed from whostate's known docs */
	unsigned borrowed;
};

struct touches {
	struct touch *v;
	size_t n, cap;
};

struct side_hist {
	int built;
	git_oid tip;
	struct touches *per; /* one per interest path */
};

/* A version already parsed by the merge (borrowed, not to be freed). */
struct known_doc {
	git_oid id;
	struct doc_node *doc;
};

struct whostate {
	git_repository *git;
	git_oid base;
	char **paths; /* sorted interest paths */
	size_t npaths;
	struct side_hist side[2];
	struct known_doc *known; /* sorted by id */
	size_t nknown;
};

static void whostate_release(struct whostate *st)
{
	size_t s, i, j, p;

	for (s = 0; s < 2; s++) {
		if (!st->side[s].per)
			continue;
		for (i = 0; i < st->npaths; i++) {
			struct touches *t = &st->side[s].per[i];

			for (j = 0; j < t->n; j++) {
				struct touch *x = &t->v[j];

				free(x->email);
				if (!(x->borrowed & 1u))
					doc_free(x->doc);
				for (p = 0; p < MAXP; p++)
					if (!(x->borrowed & (2u << p)))
						doc_free(x->pdoc[p]);
			}
			free(t->v);
		}
		free(st->side[s].per);
		st->side[s].per = NULL;
	}
	free(st->known);
	st->known = NULL;
	st->nknown = 0;
}

static long find_path(const struct whostate *st, const char *path)
{
	char **hit = NULL;

	if (st->npaths)
		hit = bsearch(
			&path, st->paths, st->npaths, sizeof(char *), str_cmp);

	return hit ? (long)(hit - st->paths) : -1;
}

static struct touch *new_touch(struct touches *t, const git_commit *c)
{
	struct touch *grown, *x;
	const git_signature *a = git_commit_author(c);

	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 8;

		if (!(grown = realloc(t->v, cap * sizeof(*grown)))) {
			error_nomem();
			return NULL;
		}
		t->v = grown;
		t->cap = cap;
	}
	x = &t->v[t->n];
	memset(x, 0, sizeof(*x));
	git_oid_tostr(x->hex, sizeof(x->hex), git_commit_id(c));
	x->time = a ? (long long)a->when.time : 0;
	if (!(x->email = strdup(a && a->email ? a->email : ""))) {
		error_nomem();
		return NULL;
	}
	t->n++;
	return x;
}

static int entry_of(git_oid *out, git_tree *tree, const char *path)
{
	git_tree_entry *e = NULL;
	int found = 0;

	if (git_tree_entry_bypath(&e, tree, path) == 0) {
		if (git_tree_entry_type(e) == GIT_OBJECT_BLOB) {
			git_oid_cpy(out, git_tree_entry_id(e));
			found = 1;
		}
		git_tree_entry_free(e);
	}
	return found;
}

/*
 * The walk's view of a tree: per folder holding interest paths, only those
 * paths' entries, read from the raw tree object (libgit2's parse of a
 * 1,000-entry folder into a git_tree costs as much as the read), and
 * remembered by folder id, each folder version being read once per side.
 */
struct xent {
	int has; /* present, and not a folder */
	unsigned mode;
	git_oid id;
};

struct idir {
	char *dir; /* "actions/P3"; "" for the root */
	size_t n; /* interest paths in it */
	const char **names; /* their base names, sorted */
	size_t *at; /* their indexes in whostate's paths */
};

#define XCACHE_N 64
/*
 * Bytes of built objects packread keeps for a merge's reads: enough for
 * the versions of the changed folders a walk goes back and forth between.
 * More costs more than it saves: measured at 10,000 actions, 8 MiB gave
 * the walk's 2,000 folder reads in 41 ms, 16 MiB in 54 ms, 48 MiB in
 * 160 ms (each new page of memory is a page fault), libgit2 alone 130 ms.
 */
#define WALK_CACHE ((size_t)8 << 20)
#define RCACHE_N 4

struct xwalk {
	git_repository *git;
	git_odb *odb;
	struct packread *pr; /* borrowed; NULL: libgit2 only */
	struct idir *dirs;
	size_t ndirs;
	struct {
		size_t dir;
		git_oid id;
		struct xent *v;
	} x[XCACHE_N];
	unsigned xnext;
	/* folder ids of the last root trees */
	struct {
		git_oid root;
		git_oid *ids;
		int *has;
	} r[RCACHE_N];
	unsigned rnext;
	struct xent *absent; /* all absent, for a missing folder */
};

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void xwalk_release(struct xwalk *w)
{
	size_t i;

	for (i = 0; i < XCACHE_N; i++)
		free(w->x[i].v);
	for (i = 0; i < RCACHE_N; i++) {
		free(w->r[i].ids);
		free(w->r[i].has);
	}
	for (i = 0; i < w->ndirs; i++) {
		free(w->dirs[i].dir);
		free(w->dirs[i].names);
		free(w->dirs[i].at);
	}
	free(w->dirs);
	free(w->absent);
	git_odb_free(w->odb);
	memset(w, 0, sizeof(*w));
}

/* Group the interest paths by folder. */
static int
xwalk_init(struct xwalk *w, git_repository *git, char **paths, size_t npaths)
{
	size_t i, k = 0, max = 1, *dir = NULL;
	const char *slash;
	int rc, error = 0;

	memset(w, 0, sizeof(*w));
	w->git = git;
	if ((rc = git_repository_odb(&w->odb, git)) < 0)
		return git_fail(rc, "cannot open the object database");
	if (!(w->dirs = calloc(npaths ? npaths : 1, sizeof(*w->dirs))) ||
	    !(dir = calloc(npaths ? npaths : 1, sizeof(*dir)))) {
		error = error_nomem();
		goto done;
	}
	for (i = 0; i < npaths; i++) {
		size_t len;

		slash = strrchr(paths[i], '/');
		len = slash ? (size_t)(slash - paths[i]) : 0;
		/* sorted paths: a folder's come together but for nested
		 * folders, so try the last one first */
		if (!(w->ndirs && strlen(w->dirs[k].dir) == len &&
		      strncmp(w->dirs[k].dir, paths[i], len) == 0)) {
			for (k = 0; k < w->ndirs; k++)
				if (strlen(w->dirs[k].dir) == len &&
				    strncmp(w->dirs[k].dir, paths[i], len) == 0)
					break;
			if (k == w->ndirs &&
			    !(w->dirs[w->ndirs++].dir =
				      strndup(paths[i], len))) {
				error = error_nomem();
				goto done;
			}
		}
		dir[i] = k;
		w->dirs[k].n++;
	}
	for (k = 0; k < w->ndirs; k++) {
		if (!(w->dirs[k].names = calloc(
			      w->dirs[k].n, sizeof(*w->dirs[k].names))) ||
		    !(w->dirs[k].at =
			      calloc(w->dirs[k].n, sizeof(*w->dirs[k].at)))) {
			error = error_nomem();
			goto done;
		}
		if (w->dirs[k].n > max)
			max = w->dirs[k].n;
		w->dirs[k].n = 0;
	}
	/* paths are sorted, so each folder's base names are too */
	for (i = 0; i < npaths; i++) {
		struct idir *d = &w->dirs[dir[i]];

		slash = strrchr(paths[i], '/');
		d->names[d->n] = slash ? slash + 1 : paths[i];
		d->at[d->n++] = i;
	}
	for (i = 0; i < RCACHE_N; i++)
		if (!(w->r[i].ids = calloc(w->ndirs + 1, sizeof(git_oid))) ||
		    !(w->r[i].has = calloc(w->ndirs + 1, sizeof(int)))) {
			error = error_nomem();
			goto done;
		}
	if (!(w->absent = calloc(max, sizeof(*w->absent))))
		error = error_nomem();
done:
	free(dir);
	return error;
}

/* The ids of the interest folders in root tree `tree` (cached by id). */
static int xwalk_dirs(
	const git_oid **ids,
	const int **has,
	struct xwalk *w,
	git_tree *tree,
	const git_oid *pin)
{
	const git_oid *root = git_tree_id(tree);
	git_tree_entry *e = NULL;
	unsigned i, slot;
	size_t k;
	int rc;

	for (i = 0; i < RCACHE_N; i++)
		if (w->r[i].has[w->ndirs] &&
		    git_oid_equal(&w->r[i].root, root)) {
			*ids = w->r[i].ids;
			*has = w->r[i].has;
			return 0;
		}
	/* never the slot the caller holds (pin) */
	slot = w->rnext++ % RCACHE_N;
	if (w->r[slot].ids == pin)
		slot = w->rnext++ % RCACHE_N;
	w->r[slot].has[w->ndirs] = 0;
	for (k = 0; k < w->ndirs; k++) {
		w->r[slot].has[k] = 0;
		if (!w->dirs[k].dir[0]) {
			git_oid_cpy(&w->r[slot].ids[k], root);
			w->r[slot].has[k] = 1;
			continue;
		}
		rc = git_tree_entry_bypath(&e, tree, w->dirs[k].dir);
		if (rc == GIT_ENOTFOUND)
			continue;
		if (rc < 0)
			return git_fail(rc, "cannot read a tree");
		if (git_tree_entry_type(e) == GIT_OBJECT_TREE) {
			git_oid_cpy(&w->r[slot].ids[k], git_tree_entry_id(e));
			w->r[slot].has[k] = 1;
		}
		git_tree_entry_free(e);
		e = NULL;
	}
	git_oid_cpy(&w->r[slot].root, root);
	w->r[slot].has[w->ndirs] = 1; /* slot in use */
	*ids = w->r[slot].ids;
	*has = w->r[slot].has;
	return 0;
}

/*
 * The interest entries of folder version id of dir k (cached; never
 * evicting pin, the entries the caller holds).
 */
static int xwalk_read(
	struct xent **out,
	struct xwalk *w,
	size_t k,
	const git_oid *id,
	const struct xent *pin)
{
	struct idir *d = &w->dirs[k];
	git_odb_object *obj = NULL;
	const char *p, *end, *name, *nul, **hit;
	struct xent *v = NULL;
	const unsigned char *raw;
	size_t rawlen;
	enum packread_type rawtype;
	unsigned i, slot, mode;
	size_t found = 0;
	char hex[GIT_OID_HEXSZ + 1];
	int rc, error = 0, tree;

	for (i = 0; i < XCACHE_N; i++)
		if (w->x[i].v && w->x[i].dir == k &&
		    git_oid_equal(&w->x[i].id, id)) {
			*out = w->x[i].v;
			return 0;
		}
	if (!(v = calloc(d->n ? d->n : 1, sizeof(*v))))
		return error_nomem();
	/* straight from packread when it can: no copy */
	if (w->pr &&
	    packread_get(&raw, &rawlen, &rawtype, w->pr, id->id) == 0) {
		p = (const char *)raw;
		end = p + rawlen;
		tree = rawtype == PACKREAD_TREE;
	} else if ((rc = git_odb_read(&obj, w->odb, id)) < 0) {
		error = git_fail(rc, "cannot read a tree");
		goto done;
	} else {
		p = git_odb_object_data(obj);
		end = p + git_odb_object_size(obj);
		tree = git_odb_object_type(obj) == GIT_OBJECT_TREE;
	}
	if (!tree)
		p = NULL;
	while (p && p < end) {
		for (mode = 0; p < end && *p >= '0' && *p <= '7'; p++)
			mode = mode * 8 + (unsigned)(*p - '0');
		if (p >= end || *p != ' ') {
			p = NULL;
			break;
		}
		name = ++p;
		if (!(nul = memchr(p, '\0', (size_t)(end - p))) ||
		    end - nul < 1 + GIT_OID_RAWSZ) {
			p = NULL;
			break;
		}
		p = nul + 1 + GIT_OID_RAWSZ;
		if (mode == GIT_FILEMODE_TREE || !d->n ||
		    !(hit =
			      bsearch(&name, d->names, d->n, sizeof(*d->names),
				      name_cmp)))
			continue;
		i = (unsigned)(hit - d->names);
		found += !v[i].has;
		v[i].has = 1;
		v[i].mode = mode;
		git_oid_fromraw(&v[i].id, (const unsigned char *)nul + 1);
		/* all the walk wants from this folder: the rest unread */
		if (found == d->n)
			break;
	}
	if (!p) {
		git_oid_tostr(hex, sizeof(hex), id);
		error = error_set(ERROR_INVALID, "malformed tree %s", hex);
		goto done;
	}
	slot = w->xnext++ % XCACHE_N;
	if (w->x[slot].v && w->x[slot].v == pin)
		slot = w->xnext++ % XCACHE_N;
	free(w->x[slot].v);
	git_oid_cpy(&w->x[slot].id, id);
	w->x[slot].dir = k;
	w->x[slot].v = v;
	*out = v;
	v = NULL;
done:
	free(v);
	git_odb_object_free(obj);
	return error;
}

/* Record commit c's changes to interest paths against its one parent. */
static int xwalk_commit(
	struct xwalk *w,
	struct side_hist *h,
	git_commit *c,
	git_tree *tree,
	git_tree *ptree)
{
	const git_oid *ids, *pids;
	const int *has, *phas;
	struct xent *a, *b;
	struct touch *x;
	size_t k, i;
	int error;

	if ((error = xwalk_dirs(&ids, &has, w, tree, NULL)) < 0 ||
	    (error = xwalk_dirs(&pids, &phas, w, ptree, ids)) < 0)
		return error;
	for (k = 0; k < w->ndirs; k++) {
		if (has[k] == phas[k] &&
		    (!has[k] || git_oid_equal(&ids[k], &pids[k])))
			continue;
		a = w->absent;
		b = w->absent;
		if ((has[k] &&
		     (error = xwalk_read(&a, w, k, &ids[k], NULL)) < 0) ||
		    (phas[k] &&
		     (error = xwalk_read(&b, w, k, &pids[k], a)) < 0))
			return error;
		for (i = 0; i < w->dirs[k].n; i++) {
			if (a[i].has == b[i].has &&
			    (!a[i].has || (a[i].mode == b[i].mode &&
					   git_oid_equal(&a[i].id, &b[i].id))))
				continue;
			if (!(x = new_touch(&h->per[w->dirs[k].at[i]], c)))
				return ERROR_NOMEM;
			x->np = 1;
			if ((x->has_blob = a[i].has))
				git_oid_cpy(&x->blob, &a[i].id);
			if ((x->has_pblob[0] = b[i].has))
				git_oid_cpy(&x->pblob[0], &b[i].id);
		}
	}
	return 0;
}

/*
 * Every commit of one side since the base that changed an interest file.
 * (Walking theirs on a second thread was measured: slower on 2 cores.)
 */
static int
build_side(struct whostate *st, enum merge_side s, git_repository *git)
{
	struct side_hist *h = &st->side[s];
	git_revwalk *walk = NULL;
	git_commit *c = NULL, *p = NULL;
	git_tree *tree = NULL, *ptrees[MAXP] = { NULL };
	git_oid id, mine, theirs;
	struct touch *x;
	struct xwalk xw;
	size_t np, k, i;
	int rc, error = 0, have, differs;

	memset(&xw, 0, sizeof(xw));

	if (!(h->per = calloc(st->npaths ? st->npaths : 1, sizeof(*h->per))))
		return error_nomem();
	h->built = 1;
	if ((error = xwalk_init(&xw, git, st->paths, st->npaths)) < 0)
		goto done;
	xw.pr = packread_attached(git);
	if ((rc = git_revwalk_new(&walk, git)) < 0 ||
	    (rc = git_revwalk_push(walk, &h->tip)) < 0 ||
	    (rc = git_revwalk_hide(walk, &st->base)) < 0) {
		error = git_fail(rc, "cannot walk history");
		goto done;
	}
	while ((rc = git_revwalk_next(&id, walk)) == 0) {
		if ((rc = git_commit_lookup(&c, git, &id)) < 0 ||
		    (rc = git_commit_tree(&tree, c)) < 0) {
			error = git_fail(rc, "cannot read a commit");
			goto done;
		}
		np = git_commit_parentcount(c);
		if (np > MAXP)
			np = MAXP;
		for (k = 0; k < np; k++) {
			if ((rc = git_commit_parent(&p, c, (unsigned)k)) < 0 ||
			    (rc = git_commit_tree(&ptrees[k], p)) < 0) {
				error = git_fail(rc, "cannot read a parent");
				goto done;
			}
			git_commit_free(p);
			p = NULL;
		}
		if (np == 1) {
			if ((error = xwalk_commit(&xw, h, c, tree, ptrees[0])) <
			    0)
				goto done;
		} else {
			for (i = 0; i < st->npaths; i++) {
				have = entry_of(&mine, tree, st->paths[i]);
				differs = 1;
				for (k = 0; k < np && differs; k++) {
					int ph = entry_of(
						&theirs, ptrees[k],
						st->paths[i]);

					if (ph == have &&
					    (!have ||
					     git_oid_equal(&mine, &theirs)))
						differs = 0;
				}
				if (!differs)
					continue;
				if (!(x = new_touch(&h->per[i], c))) {
					error = ERROR_NOMEM;
					goto done;
				}
				x->np = np;
				x->has_blob = have;
				git_oid_cpy(&x->blob, &mine);
				for (k = 0; k < np; k++)
					x->has_pblob[k] = entry_of(
						&x->pblob[k], ptrees[k],
						st->paths[i]);
			}
		}
		for (k = 0; k < np; k++) {
			git_tree_free(ptrees[k]);
			ptrees[k] = NULL;
		}
		git_tree_free(tree);
		tree = NULL;
		git_commit_free(c);
		c = NULL;
	}
	if (rc != GIT_ITEROVER)
		error = git_fail(rc, "cannot walk history");
done:
	xwalk_release(&xw);
	for (k = 0; k < MAXP; k++)
		git_tree_free(ptrees[k]);
	git_tree_free(tree);
	git_commit_free(p);
	git_commit_free(c);
	git_revwalk_free(walk);
	return error;
}

static int known_cmp(const void *a, const void *b)
{
	return git_oid_cmp(
		&((const struct known_doc *)a)->id,
		&((const struct known_doc *)b)->id);
}

/* The version of blob id the merge has parsed already, or NULL. */
static struct doc_node *known_doc(const struct whostate *st, const git_oid *id)
{
	struct known_doc key, *hit;

	if (!st->nknown)
		return NULL;
	git_oid_cpy(&key.id, id);
	hit = bsearch(&key, st->known, st->nknown, sizeof(key), known_cmp);
	return hit ? hit->doc : NULL;
}

/* A version of a file for field comparison (NULL when absent/unreadable). */
static struct doc_node *
load_version(git_repository *git, const git_oid *id, const char *path)
{
	enum plan_file_kind kind;
	char aid[32];
	git_blob *blob = NULL;
	struct doc_node *doc = NULL;

	if (git_blob_lookup(&blob, git, id) < 0)
		goto done;
	if (plan_path_classify(&kind, aid, sizeof(aid), path) < 0 ||
	    plan_parse(
		    &doc, kind, path, git_blob_rawcontent(blob),
		    (size_t)git_blob_rawsize(blob)) < 0)
		doc = NULL;
done:
	error_clear();
	git_blob_free(blob);
	return doc;
}

/* The value a field path names in a file's tree (NULL if absent). */
static const struct doc_node *
field_value(const struct doc_node *doc, const char *field)
{
	const struct doc_node *node = doc, *it, *key;
	char seg[DOC_MAX_KEY + 1];
	const char *p = field, *slash;
	size_t len, i;

	if (!doc)
		return NULL;
	if (strcmp(field, MERGE_WHOLE_ACTION) == 0)
		return doc;
	if (doc->kind == DOC_MAP && (it = doc_map_get(doc, field)))
		return it;
	while (node && *p) {
		slash = strchr(p, '/');
		len = slash ? (size_t)(slash - p) : strlen(p);
		if (len > DOC_MAX_KEY)
			return NULL;
		memcpy(seg, p, len);
		seg[len] = '\0';
		if (node->kind == DOC_MAP) {
			node = doc_map_get(node, seg);
		} else if (node->kind == DOC_SEQ) {
			it = NULL;
			for (i = 0; i < node->n; i++) {
				if (node->items[i]->kind != DOC_MAP)
					continue;
				key = doc_map_get(node->items[i], "id");
				if (!key)
					key = doc_map_get(
						node->items[i], "email");
				if (key && doc_str(key) &&
				    strcmp(doc_str(key), seg) == 0) {
					it = node->items[i];
					break;
				}
			}
			node = it;
		} else {
			return NULL;
		}
		p = slash ? slash + 1 : p + len;
	}
	return node;
}

static int same_value(const struct doc_node *a, const struct doc_node *b)
{
	if (!a || !b)
		return a == b;
	return doc_equal(a, b);
}

static int later(const struct touch *a, const struct touch *b)
{
	if (!b)
		return 1;
	if (a->time != b->time)
		return a->time > b->time;
	return strcmp(a->hex, b->hex) > 0;
}

static int
who_cb(struct merge_who *out,
       const struct merge_ctx *ctx,
       enum merge_side side,
       const char *field)
{
	struct whostate *st = ctx->arg;
	struct touches *t;
	struct touch *x, *best = NULL, *any = NULL;
	const struct doc_node *v;
	char path[256];
	size_t i, k;
	long at;
	int error, changed;

	out->time = 0;
	out->commit = "";
	out->email = "";
	if (!ctx->file)
		return 0;
	if (plan_action_id_valid(ctx->file)) {
		if ((error = plan_action_path(path, sizeof(path), ctx->file)) <
		    0)
			return error;
	} else {
		snprintf(path, sizeof(path), "%s", ctx->file);
	}
	if ((at = find_path(st, path)) < 0)
		return 0;
	if (!st->side[side].built &&
	    (error = build_side(st, side, st->git)) < 0)
		return error;
	t = &st->side[side].per[at];
	for (i = 0; i < t->n; i++) {
		x = &t->v[i];
		if (!x->parsed) {
			x->parsed = 1;
			if (x->has_blob && (x->doc = known_doc(st, &x->blob)))
				x->borrowed |= 1u;
			else if (x->has_blob)
				x->doc = load_version(st->git, &x->blob, path);
			for (k = 0; k < x->np; k++) {
				if (!x->has_pblob[k])
					continue;
				if ((x->pdoc[k] = known_doc(st, &x->pblob[k])))
					x->borrowed |= 2u << k;
				else
					x->pdoc[k] = load_version(
						st->git, &x->pblob[k], path);
			}
		}
		if (later(x, any))
			any = x;
		v = field_value(x->doc, field);
		changed = 1;
		for (k = 0; k < x->np && changed; k++)
			if (same_value(v, field_value(x->pdoc[k], field)))
				changed = 0;
		if (x->np == 0 && !v)
			changed = 0;
		if (changed && later(x, best))
			best = x;
	}
	if (!best)
		best = any;
	if (best) {
		out->time = best->time;
		out->commit = best->hex;
		out->email = best->email;
	}
	return 0;
}

/* ---- trees along the changed paths --------------------------------------- */

struct tchange {
	char *path;
	int remove;
	git_oid blob;
	unsigned mode;
};

static int tchange_cmp(const void *a, const void *b)
{
	return strcmp(
		((const struct tchange *)a)->path,
		((const struct tchange *)b)->path);
}

struct tchanges {
	struct tchange *v;
	size_t n, cap;
};

static int tchange_add(
	struct tchanges *t,
	const char *path,
	const git_oid *blob,
	unsigned mode)
{
	struct tchange *grown;

	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;

		if (!(grown = realloc(t->v, cap * sizeof(*grown))))
			return error_nomem();
		t->v = grown;
		t->cap = cap;
	}
	if (!(t->v[t->n].path = strdup(path)))
		return error_nomem();
	t->v[t->n].remove = blob == NULL;
	if (blob)
		git_oid_cpy(&t->v[t->n].blob, blob);
	t->v[t->n].mode = mode;
	t->n++;
	return 0;
}

static void tchanges_release(struct tchanges *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		free(t->v[i].path);
	free(t->v);
}

/* The merged tree: ours' tree with the changes, through sync/commit. */

/*
 * The merged files' new blobs, gathered in memory and written as one pack
 * before the tree that names them: a loose object costs a file of its own
 * (and libgit2 rescans the pack folder for each new one), a third of the
 * merge's own work for 300 merged actions.
 */
struct blobsink {
	git_odb *odb; /* the repository's */
	char *gitdir;
	struct packwrite_obj *v; /* the queued blobs, data malloc'd */
	size_t n, cap;
};

static void sink_drop(struct blobsink *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free((void *)s->v[i].data);
	s->n = 0;
}

static void sink_close(struct blobsink *s)
{
	sink_drop(s);
	free(s->v);
	free(s->gitdir);
	git_odb_free(s->odb);
	memset(s, 0, sizeof(*s));
}

static int sink_open(struct blobsink *s, git_repository *git)
{
	int rc;

	memset(s, 0, sizeof(*s));
	if ((rc = git_repository_odb(&s->odb, git)) < 0)
		return git_fail(rc, "cannot open the object database");
	if (!(s->gitdir = strdup(git_repository_path(git))))
		return error_nomem();
	return 0;
}

/*
 * Object id of type, its len bytes in *buf (malloc'd): known already
 * (*buf left to the caller), or queued for the pack, which then owns
 * *buf (set to NULL).  A rebuilt 40 KB folder is not copied again.
 */
static int sink_adopt(
	struct blobsink *s,
	git_otype type,
	const git_oid *id,
	void **buf,
	size_t len)
{
	struct packwrite_obj *o;

	if (git_odb_exists_ext(s->odb, id, GIT_ODB_LOOKUP_NO_REFRESH) == 1)
		return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		struct packwrite_obj *grown =
			realloc(s->v, cap * sizeof(*grown));

		if (!grown)
			return error_nomem();
		s->v = grown;
		s->cap = cap;
	}
	o = &s->v[s->n++];
	memcpy(o->id, id->id, PACKWRITE_OID_LEN);
	o->type = type;
	o->data = *buf;
	o->len = len;
	*buf = NULL;
	return 0;
}

/* The same with a copy of buf (the caller keeps buf). */
static int sink_add(
	struct blobsink *s,
	git_otype type,
	const git_oid *id,
	const void *buf,
	size_t len)
{
	void *copy;
	int error;

	if (!(copy = malloc(len ? len : 1)))
		return error_nomem();
	if (len)
		memcpy(copy, buf, len);
	error = sink_adopt(s, type, id, &copy, len);
	free(copy); /* (NULL once queued) */
	return error;
}

/* Blob of buf: known already, or queued for the pack. */
static int
sink_write(git_oid *out, struct blobsink *s, const char *buf, size_t len)
{
	int rc;

	if ((rc = git_odb_hash(out, buf, len, GIT_OBJECT_BLOB)) < 0)
		return git_fail(rc, "cannot hash a blob");
	return sink_add(s, GIT_OBJECT_BLOB, out, buf, len);
}

/* Write the queued blobs into the repository as one pack. */
static int sink_flush(struct blobsink *s)
{
	size_t i, k;
	int rc, error = 0;

	if (!s->n)
		return 0;
	/* the same merged text twice is one object */
	qsort(s->v, s->n, sizeof(*s->v), packwrite_cmp);
	for (i = 1, k = 1; i < s->n; i++) {
		if (memcmp(s->v[i].id, s->v[k - 1].id, PACKWRITE_OID_LEN) == 0)
			free((void *)s->v[i].data);
		else
			s->v[k++] = s->v[i];
	}
	s->n = k;
	if ((error = packwrite(s->gitdir, s->v, s->n)) == 0 &&
	    (rc = git_odb_refresh(s->odb)) < 0)
		error = git_fail(rc, "cannot write the merged files");
	sink_drop(s);
	return error;
}

/* ---- the merged tree, built as raw tree objects for the pack -----------
 */

/* The raw builder cannot do it (a file where a folder was, an odd name):
 * libgit2's tree builder then does. */
#define RAWTREE_SLOW 1

struct bytes {
	unsigned char *p;
	size_t n, cap;
};

/* Room for at least cap bytes. */
static int bytes_reserve(struct bytes *b, size_t cap)
{
	unsigned char *grown;

	if (cap <= b->cap)
		return 0;
	if (!(grown = realloc(b->p, cap)))
		return error_nomem();
	b->p = grown;
	b->cap = cap;
	return 0;
}

static int bytes_put(struct bytes *b, const void *data, size_t len)
{
	unsigned char *grown;
	size_t cap;

	if (len == 0)
		return 0; /* (data may then be NULL) */
	if (len > b->cap - b->n) {
		cap = b->cap ? b->cap : 4096;
		while (len > cap - b->n) {
			if (cap > SIZE_MAX / 2)
				return error_nomem();
			cap *= 2;
		}
		if (!(grown = realloc(b->p, cap)))
			return error_nomem();
		b->p = grown;
		b->cap = cap;
	}
	memcpy(b->p + b->n, data, len);
	b->n += len;
	return 0;
}

static int bytes_entry(
	struct bytes *b,
	unsigned mode,
	const char *name,
	size_t len,
	const unsigned char *id)
{
	char m[16];
	int ml = snprintf(m, sizeof(m), "%o ", mode);
	int error;

	if ((error = bytes_put(b, m, (size_t)ml)) < 0 ||
	    (error = bytes_put(b, name, len)) < 0 ||
	    (error = bytes_put(b, "", 1)) < 0)
		return error;
	return bytes_put(b, id, GIT_OID_RAWSZ);
}

/* theirs' entries, walked beside ours' by raw_tree_at */
struct tcursor {
	struct rawobj obj; /* none read: theirs' tree is not known here */
	const unsigned char *p, *end;
	struct rawent e;
	int have;
};

/* A cursor on theirs' tree `theirs` if the memo holds it (never read). */
static void
tcursor_open(struct tcursor *c, struct treememo *memo, const git_oid *theirs)
{
	memset(c, 0, sizeof(*c));
	if (!theirs || !memo_get(&c->obj, memo, theirs))
		return;
	if (c->obj.type != GIT_OBJECT_TREE) {
		rawobj_free(&c->obj);
		return;
	}
	c->p = c->obj.data;
	c->end = c->p + c->obj.len;
	c->have = c->p < c->end && raw_next(&c->e, &c->p, c->end) == 0;
}

/*
 * Theirs' folder name (asked in tree order) into *out; NULL if theirs has
 * none or is not known.
 */
static const git_oid *
tcursor_folder(git_oid *out, struct tcursor *c, const char *name, size_t len)
{
	int cmp = 1;

	while (c->have &&
	       (cmp = entry_order(
			c->e.name, c->e.len, c->e.mode == GIT_FILEMODE_TREE,
			name, len, 1)) < 0)
		c->have = c->p < c->end && raw_next(&c->e, &c->p, c->end) == 0;
	if (!c->have || cmp != 0 || c->e.mode != GIT_FILEMODE_TREE)
		return NULL;
	git_oid_fromraw(out, c->e.id);
	return out;
}

/*
 * The id of a tree raw_tree_at built, its longest entry `longest` bytes.
 * libgit2 hashes with the SHA-1 that detects collision attacks (~90 us a
 * 40 KB folder here), core/sha1 four times as fast, and a merge of a
 * 100,000-action plan rebuilds ~40 folders.  core/sha1 serves only where
 * no attack can be planted: those attacks need every bit of the 64-byte
 * blocks they forge free to choose.  In a tree whose entries ("100644
 * NAME\0" and a 20-byte id) are at most FAST_ENTRY_MAX bytes, every
 * block holds 20 bytes of an object id or more: 160 bits out of SHA-1
 * that no one picks, short of a preimage.  A plan file's entry is ~43
 * bytes (P12-A345.yaml); a tree with a longer one goes through libgit2.
 */
#define FAST_ENTRY_MAX 60

static int
tree_hash(git_oid *out, const unsigned char *data, size_t len, size_t longest)
{
	struct sha1 ctx;
	char hdr[32];
	int rc, n;

	if (longest > FAST_ENTRY_MAX) {
		if ((rc = git_odb_hash(
			     out, data ? (const void *)data : (const void *)"",
			     len, GIT_OBJECT_TREE)) < 0)
			return git_fail(rc, "cannot hash a tree");
		return 0;
	}
	n = snprintf(hdr, sizeof(hdr), "tree %zu", len);
	sha1_init(&ctx);
	sha1_update(&ctx, hdr, (size_t)n + 1); /* with its NUL */
	if (len)
		sha1_update(&ctx, data, len);
	sha1_final(out->id, &ctx);
	return 0;
}

/*
 * The tree of folder `base` (NULL: none) with the changes t[0..n), all
 * under the folder of their first `skip` bytes and sorted: the base's
 * bytes are copied between the changes, changed subfolders built the
 * same way, and every new tree queued in the sink.  *out_empty tells the
 * caller to drop the folder.  Each file that really changes is added to
 * rec, as diff_trees would list it.  `theirs` is theirs' tree for the
 * same folder (NULL: none or not known): a result equal to it to the byte
 * takes its id.  RAWTREE_SLOW for what libgit2 must do.
 */
static int raw_tree_at(
	git_oid *out,
	int *out_empty,
	git_odb *odb,
	struct treememo *memo,
	struct blobsink *sink,
	struct fchanges *rec,
	const git_oid *base,
	const git_oid *theirs,
	const struct tchange *t,
	size_t n,
	size_t skip)
{
	struct tcursor tc;
	struct rawobj obj;
	struct bytes b = { NULL, 0, 0 };
	const unsigned char *p = NULL, *end = NULL, *span, *at;
	struct rawent e, was, now;
	git_oid sub, bid, tid;
	const char *rel = NULL, *slash;
	size_t i = 0, j, len = 0, longest = 0;
	int rc, error = 0, have, cmp, dir = 0, empty;

	memset(&e, 0, sizeof(e));
	memset(&obj, 0, sizeof(obj));
	tcursor_open(&tc, memo, theirs);
	if (base) {
		if (!memo_get(&obj, memo, base) &&
		    (rc = rawobj_read(
			     &obj, odb, memo ? memo->pr : NULL, base)) < 0) {
			error = git_fail(rc, "cannot read a tree");
			goto done;
		}
		if (obj.type != GIT_OBJECT_TREE) {
			error = RAWTREE_SLOW;
			goto done;
		}
		p = obj.data;
		end = p + obj.len;
	}
	/* room for the base's bytes and a new entry per change, at once:
	 * a 40 KB folder grown by doubling is copied four times over */
	if ((error = bytes_reserve(&b, (size_t)(end - p) + 64 * n + 64)) < 0)
		goto done;
	span = p;
	have = p && p < end;
	at = p;
	if (have && raw_next(&e, &at, end) < 0) {
		error = RAWTREE_SLOW;
		goto done;
	}
	while (i < n || have) {
		if (have && e.size > longest)
			longest = e.size;
		if (i < n) {
			rel = t[i].path + skip;
			slash = strchr(rel, '/');
			dir = slash != NULL;
			len = dir ? (size_t)(slash - rel) : strlen(rel);
			if (!name_plain(rel, len)) {
				error = RAWTREE_SLOW;
				goto done;
			}
			/* as bytes_entry writes it: "100644 " at most */
			if (len + 8 + GIT_OID_RAWSZ > longest)
				longest = len + 8 + GIT_OID_RAWSZ;
		}
		/* a file and a folder of the same name: libgit2's case */
		if (have && i < n && e.len == len &&
		    memcmp(e.name, rel, len) == 0 &&
		    (e.mode == GIT_FILEMODE_TREE) != dir) {
			error = RAWTREE_SLOW;
			goto done;
		}
		if (!have)
			cmp = 1;
		else if (i >= n)
			cmp = -1;
		else
			cmp = entry_order(
				e.name, e.len, e.mode == GIT_FILEMODE_TREE, rel,
				len, dir);
		if (cmp < 0) {
			/* an unchanged entry: stays in the span to copy */
			p = at;
			at = p;
			if ((have = p < end) && raw_next(&e, &at, end) < 0) {
				error = RAWTREE_SLOW;
				goto done;
			}
			continue;
		}
		if (span &&
		    (error = bytes_put(&b, span, (size_t)(p - span))) < 0)
			goto done;
		was = e;
		if (cmp == 0) { /* the base's entry is replaced (or dropped) */
			p = at;
			at = p;
			if ((have = p < end) && raw_next(&e, &at, end) < 0) {
				error = RAWTREE_SLOW;
				goto done;
			}
		}
		span = p;
		if (!dir) {
			now.mode = t[i].mode ? t[i].mode : GIT_FILEMODE_BLOB;
			now.id = t[i].blob.id;
			if (!t[i].remove &&
			    (error = bytes_entry(
				     &b, now.mode, rel, len, now.id)) < 0)
				goto done;
			/* what a diff of the two trees would list */
			if (rec && (cmp == 0 || !t[i].remove) &&
			    !(cmp == 0 && !t[i].remove &&
			      was.mode == now.mode &&
			      memcmp(was.id, now.id, GIT_OID_RAWSZ) == 0) &&
			    (error = add_change(
				     rec, t[i].path, cmp == 0 ? &was : NULL,
				     t[i].remove ? NULL : &now)) < 0)
				goto done;
			i++;
			continue;
		}
		for (j = i + 1; j < n; j++)
			if (strncmp(t[j].path + skip, rel, len + 1) != 0)
				break;
		/* the base's folder, if the entry just passed was it */
		if (cmp == 0)
			git_oid_fromraw(&bid, span - GIT_OID_RAWSZ);
		if ((error = raw_tree_at(
			     &sub, &empty, odb, memo, sink, rec,
			     cmp == 0 ? &bid : NULL,
			     tcursor_folder(&tid, &tc, rel, len), t + i, j - i,
			     skip + len + 1)) != 0)
			goto done;
		if (!empty &&
		    (error = bytes_entry(
			     &b, GIT_FILEMODE_TREE, rel, len, sub.id)) < 0)
			goto done;
		i = j;
	}
	if (span && (error = bytes_put(&b, span, (size_t)(p - span))) < 0)
		goto done;
	*out_empty = b.n == 0;
	/* Theirs' folder to the byte (the merge took theirs' side of it, as
	 * where only theirs changed it): theirs' id, not hashed again
	 * (tree_hash: ~21 us per 40 KB, ~90 us through libgit2). */
	if (rawobj_read_ok(&tc.obj) && tc.obj.len == b.n &&
	    (b.n == 0 || memcmp(tc.obj.data, b.p, b.n) == 0)) {
		git_oid_cpy(out, theirs);
		goto done;
	}
	if ((error = tree_hash(out, b.p, b.n, longest)) < 0)
		goto done;
	/* (an empty root is a tree of its own, an empty folder none) */
	if ((!*out_empty || skip == 0) && !(base && git_oid_equal(out, base))) {
		void *data = b.p; /* (the sink's if it queues it) */

		error = data ? sink_adopt(
				       sink, GIT_OBJECT_TREE, out, &data, b.n) :
			       sink_add(sink, GIT_OBJECT_TREE, out, "", 0);
		b.p = data;
	}
done:
	free(b.p);
	rawobj_free(&obj);
	rawobj_free(&tc.obj);
	return error;
}

/*
 * The merged tree: ours with the changes t, its new trees queued in sink
 * (which the caller flushes) by raw_tree_at, and the files it changes
 * from ours in *rec (when not NULL) with *have_rec set; through libgit2's
 * tree builder when that cannot (the sink's queued blobs flushed first,
 * for its checks that they exist), *have_rec then 0.
 */
static int build_merged_tree(
	git_oid *out,
	git_repository *git,
	struct treememo *memo,
	struct blobsink *sink,
	struct fchanges *rec,
	int *have_rec,
	const git_tree *ours,
	const git_tree *theirs,
	const struct tchanges *t)
{
	struct commit_tree_change *ch = NULL;
	size_t i, queued = sink->n;
	int error, empty;

	*have_rec = 0;
	/* tests/test_syncmerge.c compares both builders' trees */
	error = getenv("PLANSYNC_TEST_TREE_LIBGIT2") ?
			RAWTREE_SLOW :
			raw_tree_at(
				out, &empty, sink->odb, memo, sink, rec,
				git_tree_id(ours), git_tree_id(theirs), t->v,
				t->n, 0);
	if (error != RAWTREE_SLOW) {
		if (error == 0 && rec && rec->n)
			qsort(rec->v, rec->n, sizeof(*rec->v), fchange_cmp);
		*have_rec = error == 0 && rec;
		return error;
	}
	/* the trees queued on the way are not wanted, nor the record */
	for (i = queued; i < sink->n; i++)
		free((void *)sink->v[i].data);
	sink->n = queued;
	if (rec)
		fchanges_release(rec);
	if ((error = sink_flush(sink)) < 0)
		return error;
	if (t->n && !(ch = calloc(t->n, sizeof(*ch))))
		return error_nomem();
	for (i = 0; i < t->n; i++) {
		ch[i].path = t->v[i].path;
		ch[i].blob = t->v[i].blob;
		ch[i].remove = t->v[i].remove;
		ch[i].mode = t->v[i].mode;
	}
	error = commit_build_tree(out, git, ours, ch, t->n);
	free(ch);
	return error;
}

/* Emit a merged doc as a blob (written by sink_flush). */
static int doc_blob(
	git_oid *out,
	struct blobsink *sink,
	const struct doc_node *doc,
	const char *path)
{
	char *buf = NULL;
	size_t len;
	int error;

	if ((error = doc_emit(&buf, &len, doc)) < 0)
		return error;
	if ((error = sink_write(out, sink, buf, len)) < 0) {
		char why[512];

		snprintf(why, sizeof(why), "%s", error_message());
		error = error_set(error, "%s: %s", path, why);
	}
	free(buf);
	return error;
}

/* ---- the merged tree ------------------------------------------------------
 */

struct action_job {
	char id[32];
	struct fchange *o, *t; /* the two sides' changes */
	struct doc_node *base;
};

static void add_note(
	struct syncmerge_stats *stats,
	const char *file,
	const struct merge_conflict *c)
{
	struct sbuf sb = { NULL, 0, 0, 0 };
	char *kept = plan_value_summary(c->kept, 40);
	char *other = plan_value_summary(c->other, 40);
	char **grown;

	stats->nconflicts++;
	if (stats->nnotes >= NOTES_MAX)
		goto done;
	sb_add(&sb, "%s %s: kept %s (%s%s%.8s), other %s (%s%s%.8s)", file,
	       c->field, kept ? kept : "(none)", c->kept_by ? c->kept_by : "",
	       c->kept_commit ? " " : "", c->kept_commit ? c->kept_commit : "",
	       c->other ? (other ? other : "(none)") : "(deleted)",
	       c->other_by ? c->other_by : "", c->other_commit ? " " : "",
	       c->other_commit ? c->other_commit : "");
	if (sb.failed)
		goto done;
	if (!(grown = realloc(
		      stats->notes, (stats->nnotes + 1) * sizeof(*grown))))
		goto done;
	stats->notes = grown;
	stats->notes[stats->nnotes++] = sb.p;
	sb.p = NULL;
done:
	free(sb.p);
	free(kept);
	free(other);
}

static size_t count_auto(
	const struct doc_node *ours,
	const struct doc_node *result,
	const struct merge_conflict *cs,
	size_t nc)
{
	struct plan_change *ch = NULL;
	size_t n = 0, count = 0, i, j, flen;
	int skip;

	if (!ours || !result || plan_action_diff(&ch, &n, ours, result) < 0) {
		error_clear();
		return 0;
	}
	for (i = 0; i < n; i++) {
		if (strncmp(ch[i].path, "conflicts", 9) == 0)
			continue;
		skip = 0;
		for (j = 0; j < nc && !skip; j++) {
			flen = strlen(cs[j].field);
			if (strncmp(ch[i].path, cs[j].field, flen) == 0 &&
			    (ch[i].path[flen] == '\0' ||
			     ch[i].path[flen] == '/'))
				skip = 1;
		}
		count += !skip;
	}
	plan_changes_free(ch, n);
	return count;
}

/* A file outside the plan model changed on both sides: a text merge, else
 * the larger blob id (deterministic either way). */
static int merge_opaque(
	git_oid *out,
	git_repository *git,
	const struct fchange *o,
	const struct fchange *t)
{
	git_blob *bb = NULL, *ob = NULL, *tb = NULL;
	git_merge_file_input bi, oi, ti;
	git_merge_file_result r;
	int rc, error = 0;

	memset(&r, 0, sizeof(r));
	git_merge_file_input_init(&bi, GIT_MERGE_FILE_INPUT_VERSION);
	git_merge_file_input_init(&oi, GIT_MERGE_FILE_INPUT_VERSION);
	git_merge_file_input_init(&ti, GIT_MERGE_FILE_INPUT_VERSION);
	if (!o->has_new || !t->has_new) {
		/* edit against delete: keep the edit */
		git_oid_cpy(out, o->has_new ? &o->new_id : &t->new_id);
		return 0;
	}
	if ((o->has_old && (rc = git_blob_lookup(&bb, git, &o->old_id)) < 0) ||
	    (rc = git_blob_lookup(&ob, git, &o->new_id)) < 0 ||
	    (rc = git_blob_lookup(&tb, git, &t->new_id)) < 0) {
		error = git_fail(rc, o->path);
		goto done;
	}
	if (bb) {
		bi.ptr = git_blob_rawcontent(bb);
		bi.size = (size_t)git_blob_rawsize(bb);
	}
	oi.ptr = git_blob_rawcontent(ob);
	oi.size = (size_t)git_blob_rawsize(ob);
	ti.ptr = git_blob_rawcontent(tb);
	ti.size = (size_t)git_blob_rawsize(tb);
	if (git_merge_file(&r, &bi, &oi, &ti, NULL) == 0 && r.automergeable) {
		if ((rc = git_blob_create_from_buffer(out, git, r.ptr, r.len)) <
		    0)
			error = git_fail(rc, o->path);
	} else {
		error_clear();
		git_oid_cpy(
			out, git_oid_cmp(&o->new_id, &t->new_id) > 0 ?
				     &o->new_id :
				     &t->new_id);
	}
done:
	git_merge_file_result_free(&r);
	git_blob_free(bb);
	git_blob_free(ob);
	git_blob_free(tb);
	return error;
}

static int renumber_cmp(const void *a, const void *b)
{
	return plan_action_id_cmp(
		((const struct merge_renumbering *)a)->old_id,
		((const struct merge_renumbering *)b)->old_id);
}

/* IDs that stay taken in a priority: ours' folder, plus theirs-only
 * additions, less theirs-only deletions and the merged files. */
static int taken_ids(
	char ***out,
	size_t *out_n,
	git_tree *ours_tree,
	const struct fchanges *oc,
	const struct fchanges *tc,
	const struct action_job *jobs,
	size_t njobs)
{
	char **v = NULL, **pri = NULL;
	size_t n = 0, cap = 0, np = 0, pcap = 0, i, j, k;
	git_tree_entry *e = NULL;
	git_tree *sub = NULL;
	char dir[64], id[32], *dot;
	int error = 0, rc, in_o;

	for (i = 0; i < njobs; i++) {
		if (jobs[i].base || !jobs[i].o->has_new || !jobs[i].t->has_new)
			continue;
		snprintf(id, sizeof(id), "%s", jobs[i].id);
		*strchr(id, '-') = '\0';
		for (j = 0; j < np; j++)
			if (strcmp(pri[j], id) == 0)
				break;
		if (j == np && (error = push_str(&pri, &np, &pcap, id)) < 0)
			goto done;
	}
	for (k = 0; k < np; k++) {
		snprintf(dir, sizeof(dir), "actions/%s", pri[k]);
		if (git_tree_entry_bypath(&e, ours_tree, dir) == 0 &&
		    git_tree_entry_type(e) == GIT_OBJECT_TREE) {
			if ((rc = git_tree_lookup(
				     &sub, git_tree_owner(ours_tree),
				     git_tree_entry_id(e))) < 0) {
				error = git_fail(rc, dir);
				goto done;
			}
			for (i = 0; i < git_tree_entrycount(sub); i++) {
				snprintf(
					id, sizeof(id), "%s",
					git_tree_entry_name(
						git_tree_entry_byindex(
							sub, i)));
				if ((dot = strstr(id, ".yaml")))
					*dot = '\0';
				if (plan_action_id_valid(id) &&
				    (error = push_str(&v, &n, &cap, id)) < 0)
					goto done;
			}
			git_tree_free(sub);
			sub = NULL;
		}
		git_tree_entry_free(e);
		e = NULL;
		/* theirs-only additions in that priority */
		for (i = 0, j = 0; i < tc->n; i++) {
			const struct fchange *t = &tc->v[i];
			size_t dl = strlen(dir);

			if (strncmp(t->path, dir, dl) != 0 ||
			    t->path[dl] != '/')
				continue;
			while (j < oc->n && strcmp(oc->v[j].path, t->path) < 0)
				j++;
			in_o = j < oc->n && strcmp(oc->v[j].path, t->path) == 0;
			if (in_o || t->has_old || !t->has_new)
				continue;
			snprintf(id, sizeof(id), "%s", t->path + dl + 1);
			if ((dot = strstr(id, ".yaml")))
				*dot = '\0';
			if ((error = push_str(&v, &n, &cap, id)) < 0)
				goto done;
		}
	}
	/* drop theirs-only deletions and the merged files */
	for (i = 0, j = 0; i < n; i++) {
		char path[256];
		int drop = 0;
		struct fchange key, *hit;

		for (k = 0; k < njobs && !drop; k++)
			drop = strcmp(jobs[k].id, v[i]) == 0;
		if (!drop && plan_action_path(path, sizeof(path), v[i]) == 0) {
			key.path = path;
			hit = NULL;
			if (tc->n)
				hit =
					bsearch(&key, tc->v, tc->n,
						sizeof(*tc->v), fchange_cmp);
			if (hit && !hit->has_new)
				drop = 1;
		}
		if (drop)
			free(v[i]);
		else
			v[j++] = v[i];
	}
	n = j;
	*out = v;
	*out_n = n;
	v = NULL;
	n = 0;
done:
	git_tree_entry_free(e);
	git_tree_free(sub);
	free_strv(v, n);
	free_strv(pri, np);
	return error;
}

void syncmerge_stats_release(struct syncmerge_stats *stats)
{
	if (!stats)
		return;
	free_strv(stats->notes, stats->nnotes);
	free(stats->renumbered);
	memset(stats, 0, sizeof(*stats));
}

static int
add_renumbering(struct syncmerge_stats *s, const char *from, const char *to)
{
	struct merge_renumbering *grown;

	if (!(grown = realloc(
		      s->renumbered, (s->nrenumbered + 1) * sizeof(*grown))))
		return error_nomem();
	s->renumbered = grown;
	snprintf(
		grown[s->nrenumbered].old_id, sizeof(grown->old_id), "%s",
		from);
	snprintf(grown[s->nrenumbered].new_id, sizeof(grown->new_id), "%s", to);
	s->nrenumbered++;
	return 0;
}

/* plan.yaml and partners.yaml may not be deleted (plansync commit refuses
 * it; a stock git commit may try). */
static int check_delete(const struct fchange *c, const char *where)
{
	if (c->has_new || (strcmp(c->path, "plan.yaml") != 0 &&
			   strcmp(c->path, "partners.yaml") != 0))
		return 0;
	return error_set(
		ERROR_INVALID, "cannot merge: %s deletes '%s'", where, c->path);
}

/* A file top-level (plan.yaml, partners.yaml) changed on both sides. */
struct top_job {
	enum plan_file_kind kind;
	struct fchange *o, *t;
};

/*
 * syncmerge_trees, and in *rec the files the merged tree changes from
 * ours when it can tell them (*have_rec set), sparing a diff of the two.
 */
static int merge_trees(
	git_oid *out_tree,
	struct syncmerge_stats *stats,
	struct fchanges *rec,
	int *have_rec,
	git_repository *git,
	const git_oid *base,
	const git_oid *ours,
	const git_oid *theirs)
{
	git_commit *bc = NULL, *oc = NULL, *tc = NULL;
	git_tree *bt = NULL, *ot = NULL, *tt = NULL;
	struct fchanges O = { NULL, 0, 0 }, T = { NULL, 0, 0 };
	struct tchanges out = { NULL, 0, 0 };
	struct action_job *jobs = NULL;
	struct top_job tops[4];
	struct merge_action_in *in = NULL;
	struct merge_action_out *res = NULL;
	struct merge_result r = MERGE_RESULT_INIT;
	struct doc_node *bdoc = NULL, *tmp = NULL;
	struct syncmerge_stats local = SYNCMERGE_STATS_INIT;
	struct syncmerge_stats *S = stats ? stats : &local;
	/* core/merge's merge_actions memcpy()s from `unchanged` even when
	 * it is empty: never hand it NULL */
	static const char *const none[1] = { "" };
	struct whostate st;
	struct blobsink sink;
	struct treememo memo;
	struct merge_ctx ctx;
	char **interest = NULL, **taken = NULL;
	size_t ninterest = 0, icap = 0, ntaken = 0, njobs = 0, ntops = 0;
	size_t nres = 0, i, j, k;
	enum plan_file_kind kind;
	char aid[32], path[256];
	git_oid blob;
	int rc, error = 0, cmp, kk, attached = 0;

	*have_rec = 0;
	memset(&st, 0, sizeof(st));
	memset(&sink, 0, sizeof(sink));
	memset(&memo, 0, sizeof(memo));
	memset(S, 0, sizeof(*S));
	fast_reads(1);

	/* (syncmerge_commit attaches it for the work files' reads too) */
	if (!packread_attached(git)) {
		if ((error = packread_attach(git, WALK_CACHE)) < 0)
			goto done;
		attached = 1;
	}
	if ((error = sink_open(&sink, git)) < 0)
		goto done;
	memo.pr = packread_attached(git);
	if ((rc = git_commit_lookup(&bc, git, base)) < 0 ||
	    (rc = git_commit_lookup(&oc, git, ours)) < 0 ||
	    (rc = git_commit_lookup(&tc, git, theirs)) < 0 ||
	    (rc = git_commit_tree(&bt, bc)) < 0 ||
	    (rc = git_commit_tree(&ot, oc)) < 0 ||
	    (rc = git_commit_tree(&tt, tc)) < 0) {
		error = git_fail(rc, "cannot read the commits to merge");
		goto done;
	}
	/* ours' folders, for the build (see struct treememo) */
	memo.keep_b = 1;
	error = diff_keep(&O, git, &memo, bt, ot);
	memo.keep_a = 1; /* (theirs' too: raw_tree_at compares with them) */
	memo.keep_b = 1;
	if (error == 0)
		error = diff_keep(&T, git, &memo, bt, tt);
	if (error < 0)
		goto done;
	if (!(jobs = calloc(O.n < T.n ? O.n + 1 : T.n + 1, sizeof(*jobs)))) {
		error = error_nomem();
		goto done;
	}

	for (i = 0, j = 0; i < O.n || j < T.n;) {
		struct fchange *o = i < O.n ? &O.v[i] : NULL;
		struct fchange *t = j < T.n ? &T.v[j] : NULL;

		cmp = !o ? 1 : !t ? -1 : strcmp(o->path, t->path);
		if ((cmp <= 0 && (error = check_delete(o, "ours")) < 0) ||
		    (cmp >= 0 && (error = check_delete(t, "theirs")) < 0))
			goto done;
		if (cmp < 0) {
			if (o->has_new &&
			    (error = parse_blob(
				     &tmp, git, &o->new_id, o->new_mode,
				     o->path, "ours")) < 0)
				goto done;
			doc_free(tmp);
			tmp = NULL;
			i++;
			continue;
		}
		if (cmp > 0) {
			if (t->has_new &&
			    (error = parse_blob(
				     &tmp, git, &t->new_id, t->new_mode,
				     t->path, "theirs")) < 0)
				goto done;
			doc_free(tmp);
			tmp = NULL;
			if ((error = tchange_add(
				     &out, t->path,
				     t->has_new ? &t->new_id : NULL,
				     t->new_mode)) < 0)
				goto done;
			j++;
			continue;
		}
		i++;
		j++;
		if ((o->has_new &&
		     (error = parse_blob(
			      &o->doc, git, &o->new_id, o->new_mode, o->path,
			      "ours")) < 0) ||
		    (t->has_new &&
		     (error = parse_blob(
			      &t->doc, git, &t->new_id, t->new_mode, t->path,
			      "theirs")) < 0))
			goto done;
		if (o->has_new == t->has_new &&
		    (!o->has_new || (git_oid_equal(&o->new_id, &t->new_id) &&
				     o->new_mode == t->new_mode)))
			continue;
		S->both++;
		if ((kk = classify(&kind, aid, sizeof(aid), o->path)) < 0) {
			error = kk;
			goto done;
		}
		if (kk == 0) {
			if ((error = merge_opaque(&blob, git, o, t)) < 0 ||
			    (error = tchange_add(
				     &out, o->path, &blob,
				     o->has_new ? o->new_mode : t->new_mode)) <
				    0)
				goto done;
			continue;
		}
		if ((error = push_str(&interest, &ninterest, &icap, o->path)) <
		    0)
			goto done;
		if (kind == PLAN_FILE_ACTION) {
			struct action_job *jb = &jobs[njobs++];

			snprintf(jb->id, sizeof(jb->id), "%s", aid);
			jb->o = o;
			jb->t = t;
			if (o->has_old &&
			    (error = parse_blob(
				     &jb->base, git, &o->old_id, o->old_mode,
				     o->path, "the merge base")) < 0)
				goto done;
		} else if (ntops < 4) {
			tops[ntops].kind = kind;
			tops[ntops].o = o;
			tops[ntops].t = t;
			ntops++;
		}
	}
	if (ninterest)
		qsort(interest, ninterest, sizeof(*interest), str_cmp);
	/* The versions parsed above, for who_cb: in a history of one commit
	 * per edit, the side's last change of a file is its new version and
	 * that commit's parent holds the base's. */
	if (njobs && !(st.known = calloc(3 * njobs, sizeof(*st.known)))) {
		error = error_nomem();
		goto done;
	}
	for (k = 0; k < njobs; k++) {
		struct action_job *jb = &jobs[k];

		if (jb->o->doc) {
			git_oid_cpy(&st.known[st.nknown].id, &jb->o->new_id);
			st.known[st.nknown++].doc = jb->o->doc;
		}
		if (jb->t->doc) {
			git_oid_cpy(&st.known[st.nknown].id, &jb->t->new_id);
			st.known[st.nknown++].doc = jb->t->doc;
		}
		if (jb->base) {
			git_oid_cpy(&st.known[st.nknown].id, &jb->o->old_id);
			st.known[st.nknown++].doc = jb->base;
		}
	}
	if (st.nknown)
		qsort(st.known, st.nknown, sizeof(*st.known), known_cmp);
	st.git = git;
	git_oid_cpy(&st.base, base);
	st.paths = interest;
	st.npaths = ninterest;
	git_oid_cpy(&st.side[MERGE_OURS].tip, ours);
	git_oid_cpy(&st.side[MERGE_THEIRS].tip, theirs);
	memset(&ctx, 0, sizeof(ctx));
	ctx.who = who_cb;
	ctx.arg = &st;

	/* plan.yaml and partners.yaml */
	for (k = 0; k < ntops; k++) {
		struct merge_ctx c2 = ctx;
		struct fchange *o = tops[k].o, *t = tops[k].t;

		c2.file = o->path;
		if (o->has_old && (error = parse_blob(
					   &bdoc, git, &o->old_id, o->old_mode,
					   o->path, "the merge base")) < 0)
			goto done;
		if ((error = merge_file(
			     &r, tops[k].kind, bdoc, o->doc, t->doc, &c2)) < 0)
			goto done;
		for (i = 0; i < r.nconflicts; i++)
			add_note(S, o->path, &r.conflicts[i]);
		if (!r.doc) {
			if (o->has_new &&
			    (error = tchange_add(&out, o->path, NULL, 0)) < 0)
				goto done;
		} else {
			if ((error = doc_blob(&blob, &sink, r.doc, o->path)) <
			    0)
				goto done;
			if ((!o->has_new ||
			     !git_oid_equal(&blob, &o->new_id)) &&
			    (error = tchange_add(
				     &out, o->path, &blob, GIT_FILEMODE_BLOB)) <
				    0)
				goto done;
		}
		merge_result_release(&r);
		doc_free(bdoc);
		bdoc = NULL;
	}

	/* actions */
	if (njobs) {
		if (!(in = calloc(njobs, sizeof(*in)))) {
			error = error_nomem();
			goto done;
		}
		for (k = 0; k < njobs; k++) {
			in[k].id = jobs[k].id;
			in[k].base = jobs[k].base;
			in[k].ours = jobs[k].o->doc;
			in[k].theirs = jobs[k].t->doc;
		}
		if ((error = taken_ids(
			     &taken, &ntaken, ot, &O, &T, jobs, njobs)) < 0 ||
		    (error = merge_actions(
			     &res, &nres, in, njobs,
			     taken ? (const char *const *)taken : none, ntaken,
			     &ctx)) < 0)
			goto done;
		for (k = 0; k < nres; k++) {
			struct action_job *jb = NULL;
			int renumbered = strcmp(res[k].id, res[k].from_id) != 0;

			for (i = 0; i < njobs && !renumbered; i++)
				if (strcmp(jobs[i].id, res[k].id) == 0)
					jb = &jobs[i];
			if ((error = plan_action_path(
				     path, sizeof(path), res[k].id)) < 0)
				goto done;
			for (i = 0; i < res[k].nconflicts; i++)
				add_note(S, res[k].id, &res[k].conflicts[i]);
			if (renumbered &&
			    (error = add_renumbering(
				     S, res[k].from_id, res[k].id)) < 0)
				goto done;
			if (jb)
				S->fields_auto += count_auto(
					jb->o->doc, res[k].doc,
					res[k].conflicts, res[k].nconflicts);
			if (!res[k].doc) {
				if ((!jb || jb->o->has_new) &&
				    (error = tchange_add(&out, path, NULL, 0)) <
					    0)
					goto done;
				continue;
			}
			if ((error = doc_blob(&blob, &sink, res[k].doc, path)) <
			    0)
				goto done;
			if (jb && jb->o->has_new &&
			    git_oid_equal(&blob, &jb->o->new_id))
				continue;
			if ((error = tchange_add(
				     &out, path, &blob, GIT_FILEMODE_BLOB)) < 0)
				goto done;
		}
		if (S->nrenumbered)
			qsort(S->renumbered, S->nrenumbered,
			      sizeof(*S->renumbered), renumber_cmp);
	}

	if (out.n)
		qsort(out.v, out.n, sizeof(*out.v), tchange_cmp);
	for (i = 1; i < out.n; i++)
		if (strcmp(out.v[i - 1].path, out.v[i].path) == 0) {
			error = error_set(
				ERROR_GENERIC,
				"merge: '%s' written twice (renumbering onto "
				"an existing file)",
				out.v[i].path);
			goto done;
		}
	if ((error = build_merged_tree(
		     out_tree, git, &memo, &sink, rec, have_rec, ot, tt,
		     &out)) < 0)
		goto done;
	if ((error = sink_flush(&sink)) < 0)
		goto done;
	S->files = out.n;
	for (i = 0; i < out.n; i++)
		S->actions += strncmp(out.v[i].path, "actions/", 8) == 0;
done:
	if (in)
		free(in);
	if (res)
		merge_actions_free(res, nres);
	for (k = 0; k < njobs; k++)
		doc_free(jobs[k].base);
	free(jobs);
	merge_result_release(&r);
	doc_free(bdoc);
	doc_free(tmp);
	whostate_release(&st);
	sink_close(&sink);
	memo_release(&memo);
	free_strv(interest, ninterest);
	free_strv(taken, ntaken);
	tchanges_release(&out);
	fchanges_release(&O);
	fchanges_release(&T);
	git_tree_free(bt);
	git_tree_free(ot);
	git_tree_free(tt);
	git_commit_free(bc);
	git_commit_free(oc);
	git_commit_free(tc);
	syncmerge_stats_release(&local);
	fast_reads(0);
	if (attached)
		packread_detach(git);
	return error;
}

int syncmerge_trees(
	git_oid *out_tree,
	struct syncmerge_stats *stats,
	git_repository *git,
	const git_oid *base,
	const git_oid *ours,
	const git_oid *theirs)
{
	int have;

	return merge_trees(
		out_tree, stats, NULL, &have, git, base, ours, theirs);
}

/* ---- the work tree --------------------------------------------------------
 */

/*
 * libgit2's index, loaded on first use: only where gitindex does not read
 * or write this index (version 4, a split index, damage: then libgit2
 * reports what is wrong).  gitindex's cost follows the changed files;
 * libgit2's, every entry of the index.
 */
static int load_index(git_index **lg, struct repo *repo)
{
	int rc;

	if (*lg)
		return 0;
	if ((rc = git_repository_index(lg, repo_git(repo))) < 0 ||
	    (rc = git_index_read(*lg, 0)) < 0)
		return git_fail(rc, "cannot read the index");
	return 0;
}

/* Whether the index has unmerged entries (stages 1 to 3). */
/* The index entries of the paths ch changes, and the index's mtime. */
static int index_entries(
	struct gitindex_entry **out,
	int *conflicts,
	struct timespec *mtime,
	struct repo *repo,
	git_index **lg,
	const struct fchanges *ch)
{
	struct gitindex_entry *v = NULL;
	const git_index_entry *e;
	const char **paths = NULL;
	char full[4096];
	struct stat ist;
	size_t i;
	int error = 0;

	if (!(v = calloc(ch->n ? ch->n : 1, sizeof(*v))) ||
	    !(paths = calloc(ch->n ? ch->n : 1, sizeof(*paths)))) {
		error = error_nomem();
		goto done;
	}
	for (i = 0; i < ch->n; i++)
		paths[i] = ch->v[i].path;
	error = gitindex_lookup(
		v, conflicts, mtime, repo_gitdir(repo), paths, ch->n);
	if (error < 0)
		goto done;
	if (error == GITINDEX_SLOW) {
		if ((error = load_index(lg, repo)) < 0)
			goto done;
		*conflicts = git_index_has_conflicts(*lg) != 0;
		memset(mtime, 0, sizeof(*mtime)); /* nothing is racy-clean */
		if (repo_git_path(full, sizeof(full), repo, "index") == 0 &&
		    stat(full, &ist) == 0)
			*mtime = ist.st_mtim;
		for (i = 0; i < ch->n; i++) {
			if (!(e = git_index_get_bypath(*lg, paths[i], 0)))
				continue;
			v[i].found = 1;
			memcpy(v[i].oid, e->id.id, GITINDEX_OID_LEN);
			v[i].mtime_s = (uint32_t)e->mtime.seconds;
			v[i].mtime_ns = e->mtime.nanoseconds;
			v[i].ino = e->ino;
			v[i].mode = e->mode;
			v[i].size = e->file_size;
		}
	}
	*out = v;
	v = NULL;
done:
	free(v);
	free(paths);
	return error;
}

/* The work file matches the index entry's stat data and the index is newer
 * (git's racy-clean rule): unchanged since the index recorded old_id. */
static int stat_clean(
	const struct gitindex_entry *e,
	const struct fchange *c,
	const struct stat *st,
	const struct timespec *imt)
{
	return e->found &&
	       memcmp(e->oid, c->old_id.id, GITINDEX_OID_LEN) == 0 &&
	       e->size == (uint32_t)st->st_size &&
	       e->ino == (uint32_t)st->st_ino &&
	       e->mtime_s == (uint32_t)st->st_mtim.tv_sec &&
	       e->mtime_ns == (uint32_t)st->st_mtim.tv_nsec &&
	       (st->st_mtim.tv_sec < imt->tv_sec ||
		(st->st_mtim.tv_sec == imt->tv_sec &&
		 st->st_mtim.tv_nsec < imt->tv_nsec));
}

/* ERROR_EXISTS unless every file the merge changes is as ours has it. */
static int
check_unedited(struct repo *repo, git_index **lg, const struct fchanges *ch)
{
	struct gitindex_entry *ents = NULL;
	struct timespec imt;
	char full[4096];
	char *buf = NULL;
	size_t len, i;
	struct stat st;
	git_oid h;
	int error, rc, same, conflicts = 0;

	if ((error = index_entries(&ents, &conflicts, &imt, repo, lg, ch)) < 0)
		return error;
	/* (asked here, not first: one read of a large index, not two) */
	if (conflicts) {
		free(ents);
		return error_set(
			ERROR_EXISTS, "the index has unmerged files; resolve "
				      "them and commit first");
	}
	for (i = 0; i < ch->n && !error; i++) {
		const struct fchange *c = &ch->v[i];

		if ((error = repo_work_path(
			     full, sizeof(full), repo, c->path)) < 0)
			break;
		if (lstat(full, &st) < 0) {
			same = errno == ENOENT && !c->has_old;
		} else if (!S_ISREG(st.st_mode) || !c->has_old) {
			same = 0;
		} else if (stat_clean(&ents[i], c, &st, &imt)) {
			same = 1;
		} else {
			rc = fsutil_read_file(&buf, &len, full, DOC_MAX_FILE);
			error_clear();
			same = rc == 0 &&
			       git_odb_hash(&h, buf, len, GIT_OBJECT_BLOB) ==
				       0 &&
			       git_oid_equal(&h, &c->old_id);
			free(buf);
			buf = NULL;
		}
		if (!same)
			error = error_set(
				ERROR_EXISTS,
				"'%s' has edits not committed, and the merge "
				"changes it; commit them (plansync commit) or "
				"discard them (git checkout -- %s) first",
				c->path, c->path);
	}
	free(ents);
	return error;
}

static void prune_dirs(struct repo *repo, const char *path)
{
	char full[4096];
	char *slash;
	size_t base = strlen(repo_workdir(repo));

	if (repo_work_path(full, sizeof(full), repo, path) < 0)
		return;
	while ((slash = strrchr(full + base, '/'))) {
		*slash = '\0';
		if (rmdir(full) < 0)
			break;
	}
}

/* What write_change needs: the changes, and the folder made last. */
struct work_writer {
	struct repo *repo;
	git_repository *git;
	const struct fchanges *ch;
	char made[4096];
};

/* Change i's work-tree file written (or removed); a gitindex_write_fn. */
static int write_change(void *arg, size_t i)
{
	struct work_writer *w = arg;
	const struct fchange *c = &w->ch->v[i];
	git_blob *blob = NULL;
	char full[4096], *slash;
	int error;

	if ((error = repo_work_path(full, sizeof(full), w->repo, c->path)) < 0)
		return error;
	if (!c->has_new) {
		if (unlink(full) < 0 && errno != ENOENT)
			return error_set(
				ERROR_GENERIC, "cannot remove '%s': %s", full,
				strerror(errno));
		prune_dirs(w->repo, c->path);
		return 0;
	}
	if ((error = read_blob(&blob, w->git, &c->new_id, c->path)) < 0)
		return error;
	slash = strrchr(full, '/');
	*slash = '\0';
	/* the changes are sorted: most share the last file's folder, made
	 * already */
	if (strcmp(full, w->made) != 0 && (error = fsutil_mkdirs(full)) == 0)
		snprintf(w->made, sizeof(w->made), "%s", full);
	*slash = '/';
	/* In place, mostly: the journal lists the file, so a kill half-way
	 * is finished by the next command (repo_recover rewrites it from
	 * HEAD). */
	if (error == 0)
		error = fsutil_rewrite(
			full, git_blob_rawcontent(blob),
			(size_t)git_blob_rawsize(blob),
			c->new_mode == GIT_FILEMODE_BLOB_EXECUTABLE ? 0755 :
								      0644);
	git_blob_free(blob);
	return error;
}

/*
 * The changed files written by write_change(w, i) and their index
 * entries: gitindex's copy with only those replaced (written as the files
 * are), else libgit2 (the bytes are the blobs': not hashed again).
 */
static int update_index(
	struct repo *repo,
	git_index **lg,
	const struct fchanges *ch,
	struct work_writer *w)
{
	struct gitindex_change *gc = NULL;
	git_index_entry ie;
	struct stat st;
	char full[4096];
	size_t i;
	int rc, error = 0;

	if (!(gc = calloc(ch->n ? ch->n : 1, sizeof(*gc)))) {
		error = error_nomem();
		goto done;
	}
	for (i = 0; i < ch->n; i++) {
		gc[i].path = ch->v[i].path;
		gc[i].oid = ch->v[i].has_new ? ch->v[i].new_id.id : NULL;
	}
	error = gitindex_update_writing(
		repo_gitdir(repo), repo_workdir(repo), gc, ch->n, write_change,
		w);
	if (error <= 0)
		goto done;
	if ((error = load_index(lg, repo)) < 0)
		goto done;
	for (i = 0; i < ch->n; i++) {
		const struct fchange *c = &ch->v[i];

		if ((error = repo_work_path(
			     full, sizeof(full), repo, c->path)) < 0)
			goto done;
		if (!c->has_new) {
			rc = git_index_remove_bypath(*lg, c->path);
		} else if (lstat(full, &st) < 0) {
			rc = git_index_add_bypath(*lg, c->path);
		} else {
			memset(&ie, 0, sizeof(ie));
			ie.ctime.seconds = (int32_t)st.st_ctim.tv_sec;
			ie.ctime.nanoseconds = (uint32_t)st.st_ctim.tv_nsec;
			ie.mtime.seconds = (int32_t)st.st_mtim.tv_sec;
			ie.mtime.nanoseconds = (uint32_t)st.st_mtim.tv_nsec;
			ie.dev = (uint32_t)st.st_dev;
			ie.ino = (uint32_t)st.st_ino;
			ie.mode = c->new_mode;
			ie.uid = st.st_uid;
			ie.gid = st.st_gid;
			ie.file_size = (uint32_t)st.st_size;
			git_oid_cpy(&ie.id, &c->new_id);
			ie.path = c->path;
			rc = git_index_add(*lg, &ie);
		}
		if (rc < 0) {
			error = git_fail(rc, c->path);
			goto done;
		}
	}
	if ((rc = git_index_write(*lg)) < 0)
		error = git_fail(rc, "cannot write the index");
done:
	free(gc);
	return error;
}

/* Write the changed files (temp file + rename each), then their index
 * entries. */
static int update_work(
	struct repo *repo,
	git_repository *git,
	git_index **lg,
	const struct fchanges *ch)
{
	struct work_writer w;

	w.repo = repo;
	w.git = git;
	w.ch = ch;
	w.made[0] = '\0';
	return update_index(repo, lg, ch, &w);
}

/* ---- the merge commit -----------------------------------------------------
 */

static int sign_merge(
	git_oid *out,
	git_repository *git,
	const struct key *key,
	git_tree *tree,
	git_commit *p1,
	git_commit *p2,
	const char *msg)
{
	git_signature *sig = NULL;
	git_buf buf = { NULL, 0, 0 };
	const git_commit *parents[2];
	char *armor = NULL;
	int rc, error = 0;

	parents[0] = p1;
	parents[1] = p2;
	if ((rc = git_signature_now(&sig, key_name(key), key_email(key))) < 0) {
		error = git_fail(rc, "cannot use the key's name and email");
		goto done;
	}
	if ((rc = git_commit_create_buffer(
		     &buf, git, sig, sig, NULL, msg, tree, 2, parents)) < 0) {
		error = git_fail(rc, "cannot build the merge commit");
		goto done;
	}
	if ((error = sshsig_sign(&armor, key, buf.ptr, buf.size)) < 0)
		goto done;
	if ((rc = git_commit_create_with_signature(
		     out, git, buf.ptr, armor, "gpgsig")) < 0)
		error = git_fail(rc, "cannot write the merge commit");
done:
	free(armor);
	git_buf_dispose(&buf);
	git_signature_free(sig);
	return error;
}

static char *merge_message(
	const char *label,
	const char *branch,
	const struct syncmerge_stats *s)
{
	struct sbuf sb = { NULL, 0, 0, 0 };
	size_t i;

	sb_add(&sb, "Merge %s into %s\n\n", label, branch);
	sb_add(&sb,
	       "%zu action%s merged, %zu field%s merged automatically, %zu "
	       "conflict%s recorded\n",
	       s->actions, s->actions == 1 ? "" : "s", s->fields_auto,
	       s->fields_auto == 1 ? "" : "s", s->nconflicts,
	       s->nconflicts == 1 ? "" : "s");
	if (s->nrenumbered)
		sb_add(&sb, "\n");
	for (i = 0; i < s->nrenumbered; i++)
		sb_add(&sb, "Renumbered %s -> %s (added on both sides)\n",
		       s->renumbered[i].old_id, s->renumbered[i].new_id);
	if (s->nnotes)
		sb_add(&sb, "\n");
	for (i = 0; i < s->nnotes; i++)
		sb_add(&sb, "Conflict: %s\n", s->notes[i]);
	if (s->nconflicts > s->nnotes)
		sb_add(&sb, "Conflict: ... and %zu more\n",
		       s->nconflicts - s->nnotes);
	if (sb.failed) {
		free(sb.p);
		return NULL;
	}
	return sb.p;
}

struct vcount {
	size_t n;
};

static int verify_cb_count(const struct verify_result *r, void *payload)
{
	struct vcount *vc = payload;

	vc->n++;
	if (r->verdict != VERIFY_GOOD)
		return error_set(
			ERROR_VERIFY,
			"refusing to merge: commit %.12s is %s: %s", r->id,
			verify_verdict_name(r->verdict), r->reason);
	return 0;
}

void syncmerge_report_release(struct syncmerge_report *report)
{
	if (report)
		syncmerge_stats_release(&report->stats);
}

/* parse+check every file a fast-forward brings */
static int check_files(git_repository *git, const struct fchanges *ch)
{
	struct doc_node *doc = NULL;
	size_t i;
	int error = 0;

	for (i = 0; i < ch->n && !error; i++) {
		if (!ch->v[i].has_new)
			continue;
		error = parse_blob(
			&doc, git, &ch->v[i].new_id, ch->v[i].new_mode,
			ch->v[i].path, "theirs");
		doc_free(doc);
		doc = NULL;
	}
	return error;
}

static int partners_blob(git_oid *out, git_tree *tree)
{
	return entry_of(out, tree, "partners.yaml");
}

/*
 * For the tests (PLANSYNC_TEST_CHECK_CHANGES, set by tests/e2e/lib.sh):
 * the changes the tree builder recorded are those a diff of the trees
 * lists.
 */
static int check_changes(
	git_repository *git,
	git_tree *a,
	git_tree *b,
	const struct fchanges *ch)
{
	struct fchanges d = { NULL, 0, 0 };
	size_t i;
	int error;

	if ((error = diff_trees(&d, git, a, b)) < 0)
		return error;
	for (i = 0; i < d.n && d.n == ch->n; i++)
		if (strcmp(d.v[i].path, ch->v[i].path) != 0 ||
		    d.v[i].has_old != ch->v[i].has_old ||
		    d.v[i].has_new != ch->v[i].has_new ||
		    (d.v[i].has_old &&
		     (!git_oid_equal(&d.v[i].old_id, &ch->v[i].old_id) ||
		      d.v[i].old_mode != ch->v[i].old_mode)) ||
		    (d.v[i].has_new &&
		     (!git_oid_equal(&d.v[i].new_id, &ch->v[i].new_id) ||
		      d.v[i].new_mode != ch->v[i].new_mode)))
			break;
	if (i < d.n || d.n != ch->n)
		error = error_set(
			ERROR_GENERIC,
			"merge: the recorded changes differ from the trees' "
			"diff at '%s' (%zu recorded, %zu in the diff)",
			i < d.n   ? d.v[i].path :
			i < ch->n ? ch->v[i].path :
				    "",
			ch->n, d.n);
	fchanges_release(&d);
	return error;
}

/*
 * Every tree read (libgit2 applies each delta of its chain into a fresh
 * buffer) allocates and frees tens to hundreds of KiB: by default glibc
 * hands those back to the kernel (trim, or mmap for 128 KiB and more) and
 * the next read faults in zeroed pages again, a tenth of a merge's time.
 * Keep freed memory in the process instead.
 */
#define KEEP_MMAP_MIN (32 << 20)

static void keep_heap(void)
{
#ifdef __GLIBC__
	mallopt(M_MMAP_THRESHOLD, KEEP_MMAP_MIN);
	mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
}

/*
 * The heap the merge is about to fill, its pages faulted in on the idle
 * core while this one checks signatures.  A merge of a 100,000-action
 * plan reads ~100 changed folders' 40 KB trees into fresh memory: ~4,500
 * page faults, each a trap and a zeroed page.  Warmed, its tree diffs
 * and build take ~8 ms less; the signature checks, sharing the machine
 * with it, ~4 ms more (the kernel's page handling, not the cores, is
 * what they share).  The need grows with the plan, as the index does:
 * twice its size is warmed, from 1 MB up to WARM_MAX, none below (any
 * size when PLANSYNC_TEST_WARM_ANY is set: tests/test_syncmerge.c's
 * merges all run alongside it so, under the sanitizers too).
 *
 * A block is taken from malloc and given straight back: keep_heap's
 * thresholds keep it in the heap for the merge's own allocations, and
 * MADV_POPULATE_WRITE (Linux 5.14) only maps pages, never writes to
 * them, so it may run on while the block is in use.  Where it is
 * missing, or glibc's heap is not ours (a sanitizer's), nothing is
 * gained and nothing lost.
 */
#define WARM_MIN ((off_t)1 << 20)
/* below keep_heap's mmap threshold: a block from mmap would go back to
 * the kernel when freed, its warming lost */
#define WARM_MAX ((size_t)KEEP_MMAP_MIN / 4 * 3)

static struct {
	pthread_t th;
	void *start;
	size_t len;
	int running;
} warm;

static void *warm_run(void *arg)
{
	(void)arg;
#ifdef MADV_POPULATE_WRITE
	(void)madvise(warm.start, warm.len, MADV_POPULATE_WRITE);
#endif
	return NULL;
}

static void heap_warm_wait(void)
{
	if (!warm.running)
		return;
	pthread_join(warm.th, NULL);
	warm.running = 0;
}

static void heap_warm(git_repository *git)
{
#if defined(__GLIBC__) && defined(MADV_POPULATE_WRITE)
	char path[4096];
	struct stat st;
	size_t size, page = (size_t)sysconf(_SC_PAGESIZE);
	uintptr_t a, b;
	void *block;

	heap_warm_wait();
	if ((size_t)snprintf(
		    path, sizeof(path), "%sindex", git_repository_path(git)) >=
		    sizeof(path) ||
	    stat(path, &st) < 0 ||
	    st.st_size < (getenv("PLANSYNC_TEST_WARM_ANY") ? 1 : WARM_MIN))
		return;
	size = (uintmax_t)st.st_size > WARM_MAX / 2 ? WARM_MAX :
						      2 * (size_t)st.st_size;
	if (size < 2 * (size_t)WARM_MIN)
		size = 2 * (size_t)WARM_MIN; /* (a test's small index) */
	if (!(block = malloc(size)))
		return;
	a = ((uintptr_t)block + page - 1) & ~(uintptr_t)(page - 1);
	b = ((uintptr_t)block + size) & ~(uintptr_t)(page - 1);
	warm.start = (void *)a;
	warm.len = b > a ? b - a : 0;
	free(block);
	if (warm.len && pthread_create(&warm.th, NULL, warm_run, NULL) == 0)
		warm.running = 1;
#else
	(void)git;
#endif
}

int syncmerge_commit(
	struct syncmerge_report *out,
	struct repo *repo,
	const struct key *key,
	const git_oid *theirs,
	const char *label)
{
	git_repository *git = repo_git(repo);
	struct repo_head head;
	struct verify_partners *local = NULL;
	unsigned char(*revoked)[KEY_PUBLIC_BYTES] = NULL;
	struct verify_options vopts = VERIFY_OPTIONS_INIT;
	struct vcount vc = { 0 };
	struct fchanges ch = { NULL, 0, 0 };
	git_commit *oc = NULL, *tc = NULL;
	git_tree *ot = NULL, *nt = NULL, *tt = NULL;
	git_index *index = NULL;
	git_reference *ref = NULL;
	git_oid ours, base, tree_id, new_id, pb[3];
	char *msg = NULL, logmsg[512];
	size_t nrevoked = 0;
	int rc, error, coordinator = 0, h0, h1, h2, journal = 0, moved = 0;
	int have_ch = 0;

	memset(out, 0, sizeof(*out));
	out->kind = SYNCMERGE_UP_TO_DATE;
	keep_heap();
	if ((error = repo_head(&head, repo)) < 0)
		goto done;
	if (head.detached || head.unborn) {
		error = error_set(
			ERROR_GENERIC, "HEAD %s; check out a branch first",
			head.detached ? "is detached" : "has no commit yet");
		goto done;
	}
	if (git_repository_state(git) != GIT_REPOSITORY_STATE_NONE) {
		error = error_set(
			ERROR_EXISTS,
			"a git merge (or other operation) is in progress; "
			"finish it (git commit) or abort it (git merge "
			"--abort) first");
		goto done;
	}
	git_oid_fromstr(&ours, head.id);
	snprintf(out->commit, sizeof(out->commit), "%s", head.id);
	if (git_oid_equal(&ours, theirs) ||
	    git_graph_descendant_of(git, &ours, theirs) == 1)
		goto done;
	/* packread, kept from the merge to the work files (mostly theirs'
	 * versions, which the merge read and cached).  Attached before the
	 * heap warming starts: its mmap calls would wait on the warming's
	 * hold of the address space, ~2 ms at 100,000 actions. */
	if ((error = packread_attach(git, WALK_CACHE)) < 0)
		goto done;
	/* the heap warmed meanwhile on the idle core (not when up to
	 * date: nothing then reads it) */
	heap_warm(git);
	/* Every commit theirs brings, checked before anything is written. */
	error = verify_partners_at(&local, git, &ours);
	if (error == ERROR_NOTFOUND) {
		error_clear();
		error = 0;
	} else if (error < 0) {
		goto done;
	} else if (
		(error = verify_revoked_keys(&revoked, &nrevoked, local)) < 0) {
		goto done;
	}
	vopts.revoked = (const unsigned char(*)[KEY_PUBLIC_BYTES])revoked;
	vopts.nrevoked = nrevoked;
	if ((error = verify_range(
		     git, theirs, 1, &ours, 1, &vopts, NULL, verify_cb_count,
		     &vc)) < 0)
		goto done;
	out->verified = vc.n;
	/* The index's checksum checked on the idle core while the merge
	 * goes on alone: beside the signature checks, which use both
	 * cores, it would cost them what it saves later. */
	gitindex_precheck(git_repository_path(git));

	rc = git_merge_base(&base, git, &ours, theirs);
	if (rc == GIT_ENOTFOUND) {
		error = error_set(
			ERROR_GENERIC,
			"'%s' has no history in common with HEAD; refusing to "
			"merge unrelated plans",
			label);
		goto done;
	} else if (rc < 0) {
		error = git_fail(rc, "cannot find the merge base");
		goto done;
	}
	if ((rc = git_commit_lookup(&oc, git, &ours)) < 0 ||
	    (rc = git_commit_lookup(&tc, git, theirs)) < 0 ||
	    (rc = git_commit_tree(&ot, oc)) < 0 ||
	    (rc = git_commit_tree(&tt, tc)) < 0) {
		error = git_fail(rc, "cannot read the commits to merge");
		goto done;
	}

	if (git_oid_equal(&base, &ours)) {
		/* fast-forward */
		if ((error = diff_trees(&ch, git, ot, tt)) < 0 ||
		    (error = check_files(git, &ch)) < 0 ||
		    (error = check_unedited(repo, &index, &ch)) < 0)
			goto done;
		git_oid_cpy(&new_id, theirs);
		out->kind = SYNCMERGE_FAST_FORWARD;
		snprintf(
			logmsg, sizeof(logmsg), "merge %s: Fast-forward",
			label);
	} else {
		if ((error = merge_trees(
			     &tree_id, &out->stats, &ch, &have_ch, git, &base,
			     &ours, theirs)) < 0)
			goto done;
		if ((rc = git_tree_lookup(&nt, git, &tree_id)) < 0) {
			error = git_fail(rc, "cannot read the merged tree");
			goto done;
		}
		fast_reads(1);
		error = have_ch ? 0 : diff_trees(&ch, git, ot, nt);
		if (error == 0 && have_ch &&
		    getenv("PLANSYNC_TEST_CHECK_CHANGES"))
			error = check_changes(git, ot, nt, &ch);
		fast_reads(0);
		if (error < 0 ||
		    (error = check_unedited(repo, &index, &ch)) < 0)
			goto done;
		h0 = partners_blob(&pb[0], nt);
		h1 = partners_blob(&pb[1], ot);
		h2 = partners_blob(&pb[2], tt);
		coordinator = h0 && !(h1 && git_oid_equal(&pb[0], &pb[1])) &&
			      !(h2 && git_oid_equal(&pb[0], &pb[2]));
		if ((error = commit_check_signer(repo, key, coordinator)) < 0)
			goto done;
		if (!(msg = merge_message(label, head.branch, &out->stats))) {
			error = error_nomem();
			goto done;
		}
		if ((error = sign_merge(&new_id, git, key, nt, oc, tc, msg)) <
		    0)
			goto done;
		out->kind = SYNCMERGE_MERGED;
		snprintf(
			logmsg, sizeof(logmsg),
			"merge %s: Merge made by plansync", label);
	}
	out->stats.files = ch.n;

	/* The journal first: a death once the branch has moved leaves the
	 * work tree for the next plansync command to finish (repo_recover),
	 * so it is never mistaken for hand edits. */
	git_oid_tostr(out->commit, sizeof(out->commit), &new_id);
	if ((error = write_journal(repo, out->commit, &ch)) < 0)
		goto done;
	journal = 1;
	rc = git_reference_create_matching(
		&ref, git, head.refname, &new_id, 1, &ours, logmsg);
	if (rc == GIT_EMODIFIED || rc == GIT_EEXISTS) {
		error = error_set(
			ERROR_BUSY,
			"branch '%s' moved while merging; nothing changed, try "
			"again",
			head.branch);
		goto done;
	} else if (rc < 0) {
		error = git_fail(rc, head.refname);
		goto done;
	}
	moved = 1;
	if (getenv("PLANSYNC_TEST_DIE_AFTER_REF"))
		raise(SIGKILL); /* tests/e2e/crash.sh: the worst moment */
	/* objects read unhashed, as the merge read them (fast_reads) */
	fast_reads(1);
	error = update_work(repo, git, &index, &ch);
	fast_reads(0);
	if (error < 0 || (error = signers_refresh(repo)) < 0) {
		char why[512];

		snprintf(why, sizeof(why), "%s", error_message());
		error = error_set(
			error,
			"merged as %.12s, but the work tree was not updated "
			"(the next plansync command will): %s",
			out->commit, why);
		goto done;
	}
	journal = 0;
	if ((error = commit_journal_drop(repo)) < 0)
		goto done;
	history_index_refresh(repo);
done:
	if (journal && !moved)
		commit_journal_drop(repo); /* the branch did not move */
	gitindex_precheck_wait();
	heap_warm_wait();
	packread_detach(git);
	free(msg);
	free(revoked);
	fchanges_release(&ch);
	verify_partners_free(local);
	git_reference_free(ref);
	git_index_free(index);
	git_tree_free(ot);
	git_tree_free(nt);
	git_tree_free(tt);
	git_commit_free(oc);
	git_commit_free(tc);
	return error;
}

int syncmerge_ref(
	struct syncmerge_report *out,
	struct repo *repo,
	const struct key *key,
	const char *ref)
{
	git_object *obj = NULL, *peeled = NULL;
	git_oid id;
	int rc, error;

	memset(out, 0, sizeof(*out));
	if ((rc = git_revparse_single(&obj, repo_git(repo), ref)) < 0 ||
	    (rc = git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT)) < 0) {
		git_object_free(obj);
		git_object_free(peeled);
		error_clear();
		return error_set(
			ERROR_NOTFOUND,
			"'%s' names no commit in this repository", ref);
	}
	git_oid_cpy(&id, git_object_id(peeled));
	git_object_free(obj);
	git_object_free(peeled);
	error = syncmerge_commit(out, repo, key, &id, ref);
	return error;
}

/* ---- conflict records in HEAD ---------------------------------------------
 */

/* Non-zero if text holds a line starting "conflicts:". */
static int has_conflicts_key(const char *text, size_t len)
{
	const char *p = text, *end = text + len, *nl;

	while (p < end) {
		if ((size_t)(end - p) >= 10 && memcmp(p, "conflicts:", 10) == 0)
			return 1;
		if (!(nl = memchr(p, '\n', (size_t)(end - p))))
			break;
		p = nl + 1;
	}
	return 0;
}

struct recsort {
	struct syncmerge_record r;
	size_t seq;
};

static int rec_cmp(const void *a, const void *b)
{
	const struct recsort *x = a, *y = b;
	int c = plan_action_id_cmp(x->r.id, y->r.id);

	if (c)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void syncmerge_records_free(struct syncmerge_record *records, size_t n)
{
	size_t i;

	for (i = 0; records && i < n; i++)
		doc_free(records[i].record);
	free(records);
}

int syncmerge_records(
	struct syncmerge_record **out,
	size_t *out_n,
	struct repo *repo)
{
	git_repository *git = repo_git(repo);
	struct repo_head head;
	git_commit *c = NULL;
	git_tree *root = NULL, *actions = NULL, *pt = NULL;
	git_tree_entry *e = NULL;
	git_blob *blob = NULL;
	struct doc_node *doc = NULL, *list;
	struct recsort *v = NULL, *grown;
	struct syncmerge_record *res = NULL;
	size_t n = 0, cap = 0, i, j, k;
	char path[512];
	git_oid id;
	int rc = 0, error = 0;

	*out = NULL;
	*out_n = 0;
	if ((error = repo_head(&head, repo)) < 0)
		goto done;
	if (head.unborn)
		goto done;
	git_oid_fromstr(&id, head.id);
	if ((rc = git_commit_lookup(&c, git, &id)) < 0 ||
	    (rc = git_commit_tree(&root, c)) < 0)
		goto fail;
	if (git_tree_entry_bypath(&e, root, "actions") < 0 ||
	    git_tree_entry_type(e) != GIT_OBJECT_TREE) {
		error_clear();
		goto done;
	}
	if ((rc = git_tree_lookup(&actions, git, git_tree_entry_id(e))) < 0)
		goto fail;
	for (i = 0; i < git_tree_entrycount(actions); i++) {
		const git_tree_entry *pe = git_tree_entry_byindex(actions, i);

		if (git_tree_entry_type(pe) != GIT_OBJECT_TREE)
			continue;
		if ((rc = git_tree_lookup(&pt, git, git_tree_entry_id(pe))) < 0)
			goto fail;
		for (j = 0; j < git_tree_entrycount(pt); j++) {
			const git_tree_entry *fe =
				git_tree_entry_byindex(pt, j);
			const char *text;
			size_t len;

			if (git_tree_entry_type(fe) != GIT_OBJECT_BLOB)
				continue;
			if ((rc = git_blob_lookup(
				     &blob, git, git_tree_entry_id(fe))) < 0)
				goto fail;
			text = git_blob_rawcontent(blob);
			len = (size_t)git_blob_rawsize(blob);
			snprintf(
				path, sizeof(path), "actions/%s/%s",
				git_tree_entry_name(pe),
				git_tree_entry_name(fe));
			if (!has_conflicts_key(text, len)) {
				git_blob_free(blob);
				blob = NULL;
				continue;
			}
			if ((error = plan_parse(
				     &doc, PLAN_FILE_ACTION, path, text, len)) <
			    0)
				goto done;
			list = doc_map_get(doc, "conflicts");
			for (k = 0;
			     list && list->kind == DOC_SEQ && k < list->n;
			     k++) {
				if (n == cap) {
					cap = cap ? cap * 2 : 16;
					if (!(grown = realloc(
						      v, cap * sizeof(*v)))) {
						error = error_nomem();
						goto done;
					}
					v = grown;
				}
				memset(&v[n], 0, sizeof(v[n]));
				snprintf(
					v[n].r.id, sizeof(v[n].r.id), "%s",
					doc_str(doc_map_get(doc, "id")));
				v[n].seq = n;
				if (!(v[n].r.record =
					      doc_clone(list->items[k]))) {
					error = error_nomem();
					goto done;
				}
				n++;
			}
			doc_free(doc);
			doc = NULL;
			git_blob_free(blob);
			blob = NULL;
		}
		git_tree_free(pt);
		pt = NULL;
	}
	if (n)
		qsort(v, n, sizeof(*v), rec_cmp);
	if (n && !(res = calloc(n, sizeof(*res)))) {
		error = error_nomem();
		goto done;
	}
	for (i = 0; i < n; i++) {
		res[i] = v[i].r;
		v[i].r.record = NULL;
	}
	*out = res;
	*out_n = n;
	res = NULL;
	goto done;
fail:
	error = git_fail(rc, "cannot read HEAD's actions");
done:
	for (i = 0; v && i < n; i++)
		doc_free(v[i].r.record);
	free(v);
	free(res);
	doc_free(doc);
	git_blob_free(blob);
	git_tree_entry_free(e);
	git_tree_free(pt);
	git_tree_free(actions);
	git_tree_free(root);
	git_commit_free(c);
	return error;
}
