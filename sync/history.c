/*
 * sync/history: the field-history index and the log and blame queries.
 */
#include "sync/history.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/merge.h"
#include "core/plan.h"
#include "sync/repo.h"

#define NONE UINT32_MAX
#define MAXPARENTS 8
#define MAX_INDEX (1u << 30)
#define TCACHE 32 /* trees kept by tree_get */

struct node {
	git_oid commit, blob; /* blob all zero: the file is deleted */
	long long time;
	uint32_t path; /* index into h->paths */
	uint32_t prev; /* previous node of the same path, or NONE */
	uint32_t nparents;
	uint32_t parents[MAXPARENTS]; /* node of each parent's version */
};

struct pathent {
	char *path;
	char id[32]; /* action ID */
	uint32_t last; /* latest node, or NONE */
};

struct history {
	struct repo *repo;
	git_repository *git;
	unsigned flags;

	struct node *nodes;
	size_t n, cap;
	struct pathent *paths;
	size_t npaths, cappaths;
	uint32_t *ptab; /* open addressing: path index + 1, 0 empty */
	size_t ptabsize;

	git_oid tip;
	int has_tip;
	size_t stored_nodes; /* nodes already in the index file */
	size_t stored_bytes;

	struct doc_node **docs; /* parsed version per node (lazy) */
	size_t ndocs;

	struct verify_cache *vcache;
	struct history_who **who;
	size_t nwho, capwho;
	uint32_t *wtab; /* open addressing: who index + 1, 0 empty */
	size_t wtabsize;

	git_odb *odb;
	git_tree *tcache[TCACHE];
	unsigned tnext;
	char only[128]; /* build only this action file's history */
	int ready; /* the graph is built (all files, or only) */

	struct merge_result **ams; /* node_automerge, per node (lazy) */
	unsigned char *amdone;
	size_t nams;
};

/* ---- small helpers ------------------------------------------------------ */

static int git_fail(int code, const char *what)
{
	return repo_git_error(code, what);
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static int ptab_grow(struct history *h)
{
	size_t size = h->ptabsize ? h->ptabsize * 2 : 1024, i;
	uint32_t *t = calloc(size, sizeof(*t));

	if (!t)
		return error_nomem();
	for (i = 0; i < h->npaths; i++) {
		size_t j = hash_str(h->paths[i].path) & (size - 1);

		while (t[j])
			j = (j + 1) & (size - 1);
		t[j] = (uint32_t)i + 1;
	}
	free(h->ptab);
	h->ptab = t;
	h->ptabsize = size;
	return 0;
}

static uint32_t path_find(const struct history *h, const char *path)
{
	size_t j;

	if (!h->ptabsize)
		return NONE;
	j = hash_str(path) & (h->ptabsize - 1);
	while (h->ptab[j]) {
		if (strcmp(h->paths[h->ptab[j] - 1].path, path) == 0)
			return h->ptab[j] - 1;
		j = (j + 1) & (h->ptabsize - 1);
	}
	return NONE;
}

/* The index of path, added if new; ERROR_INVALID for a path outside the
 * layout. */
static int path_intern(uint32_t *out, struct history *h, const char *path)
{
	enum plan_file_kind kind;
	char id[32];
	uint32_t i = path_find(h, path);
	size_t j;
	int error;

	if (i != NONE) {
		*out = i;
		return 0;
	}
	if (plan_path_classify(&kind, id, sizeof(id), path) < 0 ||
	    kind != PLAN_FILE_ACTION)
		return error_set(
			ERROR_INVALID, "'%s' is not an action file", path);
	if ((h->npaths + 1) * 2 > h->ptabsize && (error = ptab_grow(h)) < 0)
		return error;
	if (h->npaths == h->cappaths) {
		size_t cap = h->cappaths ? h->cappaths * 2 : 256;
		struct pathent *p = realloc(h->paths, cap * sizeof(*p));

		if (!p)
			return error_nomem();
		h->paths = p;
		h->cappaths = cap;
	}
	if (!(h->paths[h->npaths].path = strdup(path)))
		return error_nomem();
	memcpy(h->paths[h->npaths].id, id, sizeof(id));
	h->paths[h->npaths].last = NONE;
	j = hash_str(path) & (h->ptabsize - 1);
	while (h->ptab[j])
		j = (j + 1) & (h->ptabsize - 1);
	h->ptab[j] = (uint32_t)h->npaths + 1;
	*out = (uint32_t)h->npaths++;
	return 0;
}

static int node_push(struct history *h, const struct node *n)
{
	if (h->n >= NONE - 1)
		return error_set(ERROR_GENERIC, "history too large");
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 1024;
		struct node *v = realloc(h->nodes, cap * sizeof(*v));

		if (!v)
			return error_nomem();
		h->nodes = v;
		h->cap = cap;
	}
	h->nodes[h->n] = *n;
	h->nodes[h->n].prev = h->paths[n->path].last;
	h->paths[n->path].last = (uint32_t)h->n;
	h->n++;
	return 0;
}

static void graph_reset(struct history *h)
{
	size_t i;

	for (i = 0; i < h->npaths; i++)
		free(h->paths[i].path);
	free(h->paths);
	free(h->ptab);
	free(h->nodes);
	for (i = 0; i < h->ndocs; i++)
		doc_free(h->docs[i]);
	free(h->docs);
	for (i = 0; i < h->nams; i++)
		if (h->ams[i]) {
			merge_result_release(h->ams[i]);
			free(h->ams[i]);
		}
	free(h->ams);
	free(h->amdone);
	h->ams = NULL;
	h->amdone = NULL;
	h->nams = 0;
	h->paths = NULL;
	h->npaths = h->cappaths = 0;
	h->ptab = NULL;
	h->ptabsize = 0;
	h->nodes = NULL;
	h->n = h->cap = 0;
	h->docs = NULL;
	h->ndocs = 0;
	h->has_tip = 0;
	h->stored_nodes = h->stored_bytes = 0;
	h->ready = 0;
}

/* The blob of path in tree (zero id when absent or not a blob). */
static int blob_in_tree(git_oid *out, const git_tree *tree, const char *path)
{
	git_tree_entry *e = NULL;
	int error;

	memset(out, 0, sizeof(*out));
	if (!tree)
		return 0;
	error = git_tree_entry_bypath(&e, tree, path);
	if (error == GIT_ENOTFOUND)
		return 0;
	if (error < 0)
		return git_fail(error, "cannot read tree");
	if (git_tree_entry_type(e) == GIT_OBJECT_BLOB)
		git_oid_cpy(out, git_tree_entry_id(e));
	git_tree_entry_free(e);
	return 0;
}

static int is_zero(const git_oid *id)
{
	return git_oid_is_zero(id);
}

/*
 * The node holding path's version blob as of commit `at` (which the file
 * has there): the latest node of the path with that blob that is `at` or
 * one of its ancestors.  NONE when the blob is absent or no node has it.
 */
static int version_node(
	uint32_t *out,
	struct history *h,
	uint32_t path,
	const git_oid *blob,
	const git_oid *at)
{
	uint32_t i, first = NONE;
	int many = 0, r;

	*out = NONE;
	if (is_zero(blob) || path == NONE)
		return 0;
	for (i = h->paths[path].last; i != NONE; i = h->nodes[i].prev) {
		if (!git_oid_equal(&h->nodes[i].blob, blob))
			continue;
		if (first == NONE)
			first = i;
		else
			many = 1;
	}
	if (!many) {
		*out = first;
		return 0;
	}
	/* The same bytes more than once (a revert): pick by ancestry. */
	for (i = first; i != NONE; i = h->nodes[i].prev) {
		if (!git_oid_equal(&h->nodes[i].blob, blob))
			continue;
		if (git_oid_equal(&h->nodes[i].commit, at)) {
			*out = i;
			return 0;
		}
		r = git_graph_descendant_of(h->git, at, &h->nodes[i].commit);
		if (r < 0)
			return git_fail(r, "cannot compare commits");
		if (r) {
			*out = i;
			return 0;
		}
	}
	return 0;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- comparing trees ---------------------------------------------------- */

/* git's order of tree entries: names compared as if a tree's ended in
 * '/'. */
static int entry_cmp(const git_tree_entry *x, const git_tree_entry *y)
{
	const char *a = git_tree_entry_name(x), *b = git_tree_entry_name(y);
	size_t la = strlen(a), lb = strlen(b), n = la < lb ? la : lb;
	int c = memcmp(a, b, n);
	unsigned char ca, cb;

	if (c)
		return c;
	ca = a[n]                                      ? (unsigned char)a[n] :
	     git_tree_entry_type(x) == GIT_OBJECT_TREE ? '/' :
							 0;
	cb = b[n]                                      ? (unsigned char)b[n] :
	     git_tree_entry_type(y) == GIT_OBJECT_TREE ? '/' :
							 0;
	return ca < cb ? -1 : ca > cb;
}

/*
 * Walk the entries of two sorted trees together (either may be NULL) and
 * call fn for each name whose entry of the given type differs (absent
 * counts as different from present).
 */
typedef int (*join_fn)(
	const char *name,
	const git_tree_entry *a,
	const git_tree_entry *b,
	void *arg);

static int
tree_join(const git_tree *a, const git_tree *b, int type, join_fn fn, void *arg)
{
	size_t na = a ? git_tree_entrycount(a) : 0;
	size_t nb = b ? git_tree_entrycount(b) : 0, i = 0, j = 0;
	int error = 0;

	while ((i < na || j < nb) && !error) {
		const git_tree_entry *x =
			i < na ? git_tree_entry_byindex(a, i) : NULL;
		const git_tree_entry *y =
			j < nb ? git_tree_entry_byindex(b, j) : NULL;
		int c = !x ? 1 : !y ? -1 : entry_cmp(x, y);

		if (c < 0)
			y = NULL, i++;
		else if (c > 0)
			x = NULL, j++;
		else
			i++, j++;
		if (x && git_tree_entry_type(x) != (git_object_t)type)
			x = NULL;
		if (y && git_tree_entry_type(y) != (git_object_t)type)
			y = NULL;
		if (!x && !y)
			continue;
		if (x && y &&
		    git_oid_equal(git_tree_entry_id(x), git_tree_entry_id(y)))
			continue;
		error = fn(git_tree_entry_name(x ? x : y), x, y, arg);
	}
	return error;
}

static const git_oid *entry_id(const git_tree *t, const char *name, int type)
{
	const git_tree_entry *e = t ? git_tree_entry_byname(t, name) : NULL;

	if (!e || git_tree_entry_type(e) != (git_object_t)type)
		return NULL;
	return git_tree_entry_id(e);
}

static int same_id(const git_oid *a, const git_oid *b)
{
	if (!a || !b)
		return a == b;
	return git_oid_equal(a, b);
}

struct diff_ctx {
	git_repository *repo;
	struct history *h; /* for its tree cache; may be NULL */
	history_diff_cb cb;
	void *arg;
	const char *prio;
};

static int tree_get(
	git_tree **out,
	struct history *h,
	git_repository *repo,
	const git_oid *id);

static int file_differs(
	const char *name,
	const git_tree_entry *a,
	const git_tree_entry *b,
	void *arg)
{
	struct diff_ctx *d = arg;
	enum plan_file_kind kind;
	char path[512], id[32];

	snprintf(path, sizeof(path), "actions/%s/%s", d->prio, name);
	/* Files outside the layout are not actions. */
	if (plan_path_classify(&kind, id, sizeof(id), path) < 0 ||
	    kind != PLAN_FILE_ACTION) {
		error_clear();
		return 0;
	}
	return d->cb(
		path, a ? git_tree_entry_id(a) : NULL,
		b ? git_tree_entry_id(b) : NULL, d->arg);
}

static int folder_differs(
	const char *name,
	const git_tree_entry *a,
	const git_tree_entry *b,
	void *arg)
{
	struct diff_ctx *d = arg;
	git_tree *ta = NULL, *tb = NULL;
	int error = 0;

	if ((a && (error = tree_get(&ta, d->h, d->repo, git_tree_entry_id(a))) <
			  0) ||
	    (b &&
	     (error = tree_get(&tb, d->h, d->repo, git_tree_entry_id(b))) < 0))
		goto done;
	d->prio = name;
	error = tree_join(ta, tb, GIT_OBJECT_BLOB, file_differs, d);
done:
	git_tree_free(ta);
	git_tree_free(tb);
	return error;
}

static int subtree_cached(
	git_tree **out,
	struct diff_ctx *d,
	const git_tree *parent,
	const char *name)
{
	const git_tree_entry *e;

	*out = NULL;
	if (!parent || !(e = git_tree_entry_byname(parent, name)) ||
	    git_tree_entry_type(e) != GIT_OBJECT_TREE)
		return 0;
	return tree_get(out, d->h, d->repo, git_tree_entry_id(e));
}

/* Only the one file path ("actions/P1/P1-A1.yaml"), by name lookups. */
static int diff_one(
	struct diff_ctx *d,
	const git_tree *aa,
	const git_tree *ba,
	const char *path)
{
	char prio[64];
	const char *file = strrchr(path, '/') + 1, *p = path + 8;
	git_tree *ap = NULL, *bp = NULL;
	const git_oid *o, *n;
	int error = 0;

	snprintf(prio, sizeof(prio), "%.*s", (int)(file - 1 - p), p);
	if (same_id(entry_id(aa, prio, GIT_OBJECT_TREE),
		    entry_id(ba, prio, GIT_OBJECT_TREE)))
		return 0;
	if ((error = subtree_cached(&ap, d, aa, prio)) < 0 ||
	    (error = subtree_cached(&bp, d, ba, prio)) < 0)
		goto done;
	o = entry_id(ap, file, GIT_OBJECT_BLOB);
	n = entry_id(bp, file, GIT_OBJECT_BLOB);
	if (!same_id(o, n))
		error = d->cb(path, o, n, d->arg);
done:
	git_tree_free(ap);
	git_tree_free(bp);
	return error;
}

static int diff_trees(
	struct diff_ctx *d,
	const git_tree *a,
	const git_tree *b,
	const char *only)
{
	git_tree *aa = NULL, *ba = NULL;
	int error = 0;

	if (same_id(entry_id(a, "actions", GIT_OBJECT_TREE),
		    entry_id(b, "actions", GIT_OBJECT_TREE)))
		goto done;
	if ((error = subtree_cached(&aa, d, a, "actions")) < 0 ||
	    (error = subtree_cached(&ba, d, b, "actions")) < 0)
		goto done;
	if (only)
		error = diff_one(d, aa, ba, only);
	else
		error = tree_join(aa, ba, GIT_OBJECT_TREE, folder_differs, d);
done:
	git_tree_free(aa);
	git_tree_free(ba);
	return error;
}

int history_diff_trees(
	git_repository *repo,
	const git_tree *a,
	const git_tree *b,
	history_diff_cb cb,
	void *arg)
{
	struct diff_ctx d = { repo, NULL, cb, arg, NULL };

	return diff_trees(&d, a, b, NULL);
}

/* ---- building ----------------------------------------------------------- */

/*
 * Trees recently read, so that a commit's parent's trees (the previous
 * commit's, in a line of history) are not read again.  tree_get returns a
 * new reference.
 */
static int tree_get(
	git_tree **out,
	struct history *h,
	git_repository *repo,
	const git_oid *id)
{
	unsigned i;
	int error;

	if (h) {
		for (i = 0; i < TCACHE; i++)
			if (h->tcache[i] &&
			    git_oid_equal(git_tree_id(h->tcache[i]), id))
				return git_object_dup(
					(git_object **)out,
					(git_object *)h->tcache[i]);
	}
	if ((error = git_tree_lookup(out, repo, id)) < 0)
		return git_fail(error, "cannot read tree");
	if (h) {
		i = h->tnext++ % TCACHE;
		git_tree_free(h->tcache[i]);
		h->tcache[i] = NULL;
		git_object_dup(
			(git_object **)&h->tcache[i], (git_object *)*out);
	}
	return 0;
}

static void tcache_clear(struct history *h)
{
	unsigned i;

	for (i = 0; i < TCACHE; i++) {
		git_tree_free(h->tcache[i]);
		h->tcache[i] = NULL;
	}
}

/* A commit as the build needs it, parsed from the raw object. */
struct cinfo {
	git_oid id, tree;
	long long time;
	uint32_t np, next; /* parents; next parent to visit (walk) */
	git_oid parents[MAXPARENTS];
};

static int parse_commit(struct cinfo *out, struct history *h, const git_oid *id)
{
	git_odb_object *obj = NULL;
	const char *p, *end, *eol, *gt;
	char hexid[GIT_OID_HEXSZ + 1];
	int error = 0, have_tree = 0;

	memset(out, 0, sizeof(*out));
	git_oid_cpy(&out->id, id);
	if ((error = git_odb_read(&obj, h->odb, id)) < 0) {
		error = git_fail(error, "cannot read commit");
		goto done;
	}
	if (git_odb_object_type(obj) != GIT_OBJECT_COMMIT)
		goto bad;
	p = git_odb_object_data(obj);
	end = p + git_odb_object_size(obj);
	while (p < end && *p != '\n') {
		if (!(eol = memchr(p, '\n', (size_t)(end - p))))
			goto bad;
		if (eol - p >= 45 && memcmp(p, "tree ", 5) == 0) {
			if (git_oid_fromstrn(&out->tree, p + 5, 40) < 0)
				goto bad;
			have_tree = 1;
		} else if (eol - p >= 47 && memcmp(p, "parent ", 7) == 0) {
			if (out->np < MAXPARENTS &&
			    git_oid_fromstrn(
				    &out->parents[out->np], p + 7, 40) < 0)
				goto bad;
			if (out->np < MAXPARENTS)
				out->np++;
		} else if (eol - p > 7 && memcmp(p, "author ", 7) == 0) {
			for (gt = eol; gt > p && *gt != '>'; gt--)
				;
			if (gt == p)
				goto bad;
			out->time = strtoll(gt + 1, NULL, 10);
		}
		p = eol + 1;
	}
	if (!have_tree)
		goto bad;
	goto done;
bad:
	git_oid_tostr(hexid, sizeof(hexid), id);
	error = error_set(ERROR_INVALID, "commit %.7s is malformed", hexid);
done:
	git_odb_object_free(obj);
	return error;
}

/* Commits by id: an open-addressing table over an array. */
struct cset {
	struct cinfo *v;
	size_t n, cap;
	uint32_t *tab; /* index + 1 */
	size_t tabsize;
};

static uint64_t oid_hash(const git_oid *id)
{
	uint64_t x;

	memcpy(&x, id->id, sizeof(x));
	return x;
}

static uint32_t cset_find(const struct cset *c, const git_oid *id)
{
	size_t j;

	if (!c->tabsize)
		return NONE;
	for (j = oid_hash(id) & (c->tabsize - 1); c->tab[j];
	     j = (j + 1) & (c->tabsize - 1))
		if (git_oid_equal(&c->v[c->tab[j] - 1].id, id))
			return c->tab[j] - 1;
	return NONE;
}

static int cset_add(struct cset *c, const struct cinfo *ci)
{
	size_t j, i;

	if ((c->n + 1) * 2 > c->tabsize) {
		size_t size = c->tabsize ? c->tabsize * 2 : 1024;
		uint32_t *t = calloc(size, sizeof(*t));

		if (!t)
			return error_nomem();
		for (i = 0; i < c->n; i++) {
			for (j = oid_hash(&c->v[i].id) & (size - 1); t[j];
			     j = (j + 1) & (size - 1))
				;
			t[j] = (uint32_t)i + 1;
		}
		free(c->tab);
		c->tab = t;
		c->tabsize = size;
	}
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 1024;
		struct cinfo *v = realloc(c->v, cap * sizeof(*v));

		if (!v)
			return error_nomem();
		c->v = v;
		c->cap = cap;
	}
	c->v[c->n] = *ci;
	for (j = oid_hash(&ci->id) & (c->tabsize - 1); c->tab[j];
	     j = (j + 1) & (c->tabsize - 1))
		;
	c->tab[j] = (uint32_t)c->n + 1;
	c->n++;
	return 0;
}

static void cset_release(struct cset *c)
{
	free(c->v);
	free(c->tab);
}

/*
 * Every commit reachable from head, parents before children (a depth-first
 * walk in post-order), each commit object read once.  *order lists indexes
 * into c.
 */
static int walk_all(
	uint32_t **order,
	size_t *norder,
	struct cset *c,
	struct history *h,
	const git_oid *head)
{
	uint32_t *stack = NULL, *out = NULL;
	size_t ns = 0, no = 0, cap = 1024;
	struct cinfo ci;
	int error;

	if (!(stack = malloc(cap * sizeof(*stack))) ||
	    !(out = malloc(cap * sizeof(*out)))) {
		error = error_nomem();
		goto done;
	}
	if ((error = parse_commit(&ci, h, head)) < 0 ||
	    (error = cset_add(c, &ci)) < 0)
		goto done;
	stack[ns++] = 0;
	while (ns) {
		struct cinfo *top = &c->v[stack[ns - 1]];
		const git_oid *pid;

		if (top->next >= top->np) {
			out[no++] = stack[--ns];
			continue;
		}
		pid = &top->parents[top->next++];
		if (cset_find(c, pid) != NONE)
			continue;
		if ((error = parse_commit(&ci, h, pid)) < 0 ||
		    (error = cset_add(c, &ci)) < 0)
			goto done;
		if (c->n > cap) {
			uint32_t *s2, *o2;

			cap *= 2;
			if (!(s2 = realloc(stack, cap * sizeof(*s2)))) {
				error = error_nomem();
				goto done;
			}
			stack = s2;
			if (!(o2 = realloc(out, cap * sizeof(*o2)))) {
				error = error_nomem();
				goto done;
			}
			out = o2;
		}
		stack[ns++] = (uint32_t)c->n - 1;
	}
	*order = out;
	*norder = no;
	out = NULL;
done:
	free(stack);
	free(out);
	return error;
}

/* The commits reachable from head but not from hide, parents first. */
static int walk_range(
	uint32_t **order,
	size_t *norder,
	struct cset *c,
	struct history *h,
	const git_oid *head,
	const git_oid *hide)
{
	git_revwalk *walk = NULL;
	uint32_t *out = NULL;
	size_t cap = 0;
	struct cinfo ci;
	git_oid id;
	int error;

	*norder = 0;
	if ((error = git_revwalk_new(&walk, h->git)) < 0 ||
	    (error = git_revwalk_sorting(
		     walk, GIT_SORT_TOPOLOGICAL | GIT_SORT_REVERSE)) < 0 ||
	    (error = git_revwalk_push(walk, head)) < 0 ||
	    (error = git_revwalk_hide(walk, hide)) < 0) {
		error = git_fail(error, "cannot walk history");
		goto done;
	}
	while ((error = git_revwalk_next(&id, walk)) == 0) {
		if ((error = parse_commit(&ci, h, &id)) < 0 ||
		    (error = cset_add(c, &ci)) < 0)
			goto done;
		if (*norder == cap) {
			uint32_t *v;

			cap = cap ? cap * 2 : 256;
			if (!(v = realloc(out, cap * sizeof(*v)))) {
				error = error_nomem();
				goto done;
			}
			out = v;
		}
		out[(*norder)++] = (uint32_t)c->n - 1;
	}
	if (error != GIT_ITEROVER) {
		error = git_fail(error, "cannot walk history");
		goto done;
	}
	error = 0;
	*order = out;
	out = NULL;
done:
	free(out);
	git_revwalk_free(walk);
	return error;
}

struct build_commit {
	struct history *h;
	const struct cinfo *ci;
	git_tree *ptrees[MAXPARENTS];
	unsigned np;
};

static int build_change(
	const char *path,
	const git_oid *old,
	const git_oid *new,
	void *arg)
{
	struct build_commit *bc = arg;
	struct history *h = bc->h;
	struct node n;
	git_oid pb, zero;
	uint32_t p;
	unsigned i;
	int error;

	memset(&zero, 0, sizeof(zero));
	memset(&n, 0, sizeof(n));
	/* A merge that took another parent's file as it is makes no node. */
	for (i = 1; i < bc->np; i++) {
		if ((error = blob_in_tree(&pb, bc->ptrees[i], path)) < 0)
			return error;
		if (git_oid_equal(&pb, new ? new : &zero))
			return 0;
	}
	if ((error = path_intern(&p, h, path)) < 0) {
		error_clear();
		return 0;
	}
	git_oid_cpy(&n.commit, &bc->ci->id);
	if (new)
		git_oid_cpy(&n.blob, new);
	n.time = bc->ci->time;
	n.path = p;
	n.nparents = bc->np ? bc->np : 1;
	if (!bc->np)
		n.parents[0] = NONE;
	for (i = 0; i < bc->np; i++) {
		if (i == 0) {
			memset(&pb, 0, sizeof(pb));
			if (old)
				git_oid_cpy(&pb, old);
		} else if (
			(error = blob_in_tree(&pb, bc->ptrees[i], path)) < 0) {
			return error;
		}
		if ((error = version_node(
			     &n.parents[i], h, p, &pb, &bc->ci->parents[i])) <
		    0)
			return error;
	}
	return node_push(h, &n);
}

static int build_one(struct history *h, struct cset *c, const struct cinfo *ci)
{
	struct build_commit bc;
	struct diff_ctx d = { NULL, NULL, build_change, NULL, NULL };
	git_tree *tree = NULL;
	struct cinfo pc;
	unsigned i;
	uint32_t k;
	int error = 0;

	memset(&bc, 0, sizeof(bc));
	bc.h = h;
	bc.ci = ci;
	bc.np = ci->np;
	d.repo = h->git;
	d.h = h;
	d.arg = &bc;
	for (i = 0; i < bc.np; i++) {
		const git_oid *ptree;

		k = cset_find(c, &ci->parents[i]);
		if (k != NONE) {
			ptree = &c->v[k].tree;
		} else {
			if ((error = parse_commit(&pc, h, &ci->parents[i])) < 0)
				goto done;
			ptree = &pc.tree;
		}
		if ((error = tree_get(&bc.ptrees[i], h, h->git, ptree)) < 0)
			goto done;
	}
	if ((error = tree_get(&tree, h, h->git, &ci->tree)) < 0)
		goto done;
	error = diff_trees(
		&d, bc.np ? bc.ptrees[0] : NULL, tree,
		h->only[0] ? h->only : NULL);
done:
	for (i = 0; i < MAXPARENTS; i++)
		git_tree_free(bc.ptrees[i]);
	git_tree_free(tree);
	return error;
}

/*
 * Add the nodes of every commit reachable from head and not from hide
 * (NULL: all), only for path h->only when it is set.
 */
static int
build_range(struct history *h, const git_oid *head, const git_oid *hide)
{
	struct cset c = { NULL, 0, 0, NULL, 0 };
	uint32_t *order = NULL;
	size_t n = 0, i;
	int error;

	/*
	 * Reading an object from a pack re-hashes it by default; git does not,
	 * and the build reads each object once.  The index is still checked
	 * against the objects at query time.
	 */
	git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 0);
	/* Nor keep every object read: tree_get keeps the few it needs. */
	git_libgit2_opts(GIT_OPT_ENABLE_CACHING, 0);
	if (!h->odb && (error = git_repository_odb(&h->odb, h->git)) < 0) {
		error = git_fail(error, "cannot open the object database");
		goto done;
	}
	error = hide ? walk_range(&order, &n, &c, h, head, hide) :
		       walk_all(&order, &n, &c, h, head);
	for (i = 0; i < n && !error; i++)
		error = build_one(h, &c, &c.v[order[i]]);
done:
	git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 1);
	git_libgit2_opts(GIT_OPT_ENABLE_CACHING, 1);
	tcache_clear(h);
	free(order);
	cset_release(&c);
	return error;
}

/* ---- the index files ---------------------------------------------------- */

static int hist_path(char *buf, size_t size, struct history *h, const char *f)
{
	char rel[128];

	snprintf(rel, sizeof(rel), "%s/%s", HISTORY_DIR, f);
	return repo_git_path(buf, size, h->repo, rel);
}

static int parse_u32(uint32_t *out, const char **p)
{
	char *end;
	unsigned long v;

	if (**p == '-') {
		*out = NONE;
		(*p)++;
		return 0;
	}
	if (**p < '0' || **p > '9')
		return -1;
	errno = 0;
	v = strtoul(*p, &end, 10);
	if (errno || v >= NONE)
		return -1;
	*out = (uint32_t)v;
	*p = end;
	return 0;
}

/* Parse the index lines; -1 on anything malformed. */
/*
 * Parse the index lines into h; -1 on anything malformed.  With only, just
 * the lines of that path (their parents are lines of the same path, given
 * by global line number: lines[] maps them).  *out_lines counts all lines.
 */
static int parse_index(
	size_t *out_lines,
	struct history *h,
	const char *buf,
	size_t len,
	const char *only)
{
	const char *p = buf, *end = buf + len, *eol;
	char path[512];
	struct node n;
	uint32_t i, line = 0, *lines = NULL;
	size_t onlylen = only ? strlen(only) : 0, nl = 0, capl = 0;
	int result = -1;

	while (p < end) {
		if (!(eol = memchr(p, '\n', (size_t)(end - p))))
			goto done;
		line++;
		if (only && ((size_t)(eol - p) < onlylen + 1 ||
			     memcmp(eol - onlylen, only, onlylen) != 0 ||
			     eol[-(long)onlylen - 1] != ' ')) {
			p = eol + 1;
			continue;
		}
		memset(&n, 0, sizeof(n));
		if (eol - p < 84 || git_oid_fromstrn(&n.commit, p, 40) < 0 ||
		    p[40] != ' ' || git_oid_fromstrn(&n.blob, p + 41, 40) < 0 ||
		    p[81] != ' ')
			goto done;
		p += 82;
		{
			char *e;
			long long t;

			errno = 0;
			t = strtoll(p, &e, 10);
			if (errno || e == p || *e != ' ')
				goto done;
			n.time = t;
			p = e + 1;
		}
		if (parse_u32(&n.nparents, &p) < 0 || *p != ' ' ||
		    n.nparents == 0 || n.nparents > MAXPARENTS)
			goto done;
		p++;
		for (i = 0; i < n.nparents; i++) {
			if (parse_u32(&n.parents[i], &p) < 0 || *p != ' ' ||
			    (n.parents[i] != NONE && n.parents[i] >= line - 1))
				goto done;
			p++;
			if (only && n.parents[i] != NONE) {
				/* global line -> our node (same path) */
				size_t lo = 0, hi = nl;

				while (lo < hi) {
					size_t mid = (lo + hi) / 2;

					if (lines[mid] < n.parents[i])
						lo = mid + 1;
					else
						hi = mid;
				}
				if (lo == nl || lines[lo] != n.parents[i])
					goto done;
				n.parents[i] = (uint32_t)lo;
			}
		}
		if ((size_t)(eol - p) >= sizeof(path) || eol == p)
			goto done;
		memcpy(path, p, (size_t)(eol - p));
		path[eol - p] = '\0';
		if (path_intern(&n.path, h, path) < 0) {
			error_clear();
			goto done;
		}
		if (node_push(h, &n) < 0)
			goto done;
		if (only) {
			if (nl == capl) {
				uint32_t *v;

				capl = capl ? capl * 2 : 64;
				if (!(v = realloc(lines, capl * sizeof(*v))))
					goto done;
				lines = v;
			}
			lines[nl++] = line - 1;
		}
		p = eol + 1;
	}
	*out_lines = line;
	result = 0;
done:
	free(lines);
	return result;
}

static int node_line(char *buf, size_t size, const struct history *h, size_t k)
{
	const struct node *n = &h->nodes[k];
	char c[GIT_OID_HEXSZ + 1], b[GIT_OID_HEXSZ + 1];
	size_t len;
	uint32_t i;
	int w;

	git_oid_tostr(c, sizeof(c), &n->commit);
	git_oid_tostr(b, sizeof(b), &n->blob);
	w = snprintf(buf, size, "%s %s %lld %u ", c, b, n->time, n->nparents);
	len = (size_t)w;
	for (i = 0; i < n->nparents && len < size; i++) {
		if (n->parents[i] == NONE)
			w = snprintf(buf + len, size - len, "- ");
		else
			w = snprintf(
				buf + len, size - len, "%u ", n->parents[i]);
		len += (size_t)w;
	}
	if (len < size)
		len += (size_t)snprintf(
			buf + len, size - len, "%s\n", h->paths[n->path].path);
	return len < size ? (int)len : -1;
}

/* Read the stored index into h (h empty); 0 when usable, 1 when it must be
 * rebuilt. */
static int load_index(struct history *h, int fd, const char *only)
{
	size_t nlines = 0;
	char tpath[4096], *tbuf = NULL, *map = NULL, tip[64];
	unsigned long long bytes, nodes;
	size_t tlen;
	struct stat st;
	const char *p;
	char *e;
	int result = 1;

	if (hist_path(tpath, sizeof(tpath), h, "tip") < 0 ||
	    fsutil_read_file(&tbuf, &tlen, tpath, 256) < 0)
		goto done;
	if (strncmp(tbuf, "plansync-history 1 ", 19) != 0 || tlen < 19 + 41)
		goto done;
	memcpy(tip, tbuf + 19, 40);
	tip[40] = '\0';
	if (git_oid_fromstr(&h->tip, tip) < 0 || tbuf[59] != ' ')
		goto done;
	p = tbuf + 60;
	errno = 0;
	bytes = strtoull(p, &e, 10);
	if (errno || *e != ' ' || bytes > MAX_INDEX)
		goto done;
	nodes = strtoull(e + 1, &e, 10);
	if (errno || *e != '\n')
		goto done;
	if (fstat(fd, &st) < 0 || (unsigned long long)st.st_size < bytes)
		goto done;
	if (bytes) {
		map = mmap(NULL, (size_t)bytes, PROT_READ, MAP_PRIVATE, fd, 0);
		if (map == MAP_FAILED) {
			map = NULL;
			goto done;
		}
	}
	if (parse_index(&nlines, h, map ? map : "", (size_t)bytes, only) < 0 ||
	    nlines != nodes)
		goto done;
	h->has_tip = 1;
	h->stored_nodes = h->n;
	h->stored_bytes = bytes;
	result = 0;
done:
	if (result) {
		graph_reset(h);
		error_clear();
	}
	if (map)
		munmap(map, (size_t)bytes);
	free(tbuf);
	return result;
}

/* Append nodes [stored_nodes, n) and move the tip file to head. */
static int save_index(struct history *h, int fd, const git_oid *head)
{
	char line[1024], tpath[4096], tip[GIT_OID_HEXSZ + 1], tbuf[160];
	char *buf = NULL;
	size_t len = 0, cap = 0, k, off;
	ssize_t w;
	int l, error = 0;

	for (k = h->stored_nodes; k < h->n; k++) {
		if ((l = node_line(line, sizeof(line), h, k)) < 0) {
			error = error_set(ERROR_GENERIC, "index line too long");
			goto done;
		}
		if (len + (size_t)l > cap) {
			size_t nc = cap ? cap * 2 : 65536;
			char *nb;

			while (nc < len + (size_t)l)
				nc *= 2;
			if (!(nb = realloc(buf, nc))) {
				error = error_nomem();
				goto done;
			}
			buf = nb;
			cap = nc;
		}
		memcpy(buf + len, line, (size_t)l);
		len += (size_t)l;
	}
	if (ftruncate(fd, (off_t)h->stored_bytes) < 0) {
		error = error_set(
			ERROR_GENERIC, "cannot write the history index: %s",
			strerror(errno));
		goto done;
	}
	for (off = 0; off < len; off += (size_t)w) {
		w =
			pwrite(fd, buf + off, len - off,
			       (off_t)(h->stored_bytes + off));
		if (w <= 0) {
			error = error_set(
				ERROR_GENERIC,
				"cannot write the history index: %s",
				strerror(errno));
			goto done;
		}
	}
	if (fsync(fd) < 0) {
		error = error_set(
			ERROR_GENERIC, "cannot write the history index: %s",
			strerror(errno));
		goto done;
	}
	git_oid_tostr(tip, sizeof(tip), head);
	snprintf(
		tbuf, sizeof(tbuf), "plansync-history 1 %s %zu %zu\n", tip,
		h->stored_bytes + len, h->n);
	if ((error = hist_path(tpath, sizeof(tpath), h, "tip")) < 0 ||
	    (error = fsutil_write_atomic(tpath, tbuf, strlen(tbuf), 0644)) < 0)
		goto done;
	h->stored_bytes += len;
	h->stored_nodes = h->n;
	git_oid_cpy(&h->tip, head);
	h->has_tip = 1;
done:
	free(buf);
	return error;
}

static int head_oid(git_oid *out, int *unborn, struct history *h)
{
	int error = git_reference_name_to_id(out, h->git, "HEAD");

	*unborn = 0;
	if (error == GIT_ENOTFOUND || error == GIT_EUNBORNBRANCH) {
		*unborn = 1;
		error_clear();
		return 0;
	}
	if (error < 0)
		return git_fail(error, "cannot resolve HEAD");
	return 0;
}

static void tune_cache(void)
{
	static int done;

	if (done)
		return;
	done = 1;
	/* zlib's inflate state and window per object read: keep the freed
	 * memory instead of giving it back and faulting it in again. */
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	mallopt(M_TOP_PAD, 16 << 20);
	mallopt(M_MMAP_THRESHOLD, 1 << 20);
}

/* Build in memory from nothing up to HEAD. */
static int build_all(struct history *h)
{
	git_oid head;
	int unborn, error;

	graph_reset(h);
	if ((error = head_oid(&head, &unborn, h)) < 0 || unborn)
		return error;
	if ((error = build_range(h, &head, NULL)) < 0)
		return error;
	git_oid_cpy(&h->tip, &head);
	h->has_tip = 1;
	return 0;
}

/* Bring the index (file) and h up to HEAD; rebuild forces a rebuild. */
static int sync_index(struct history *h, int rebuild, int allow_build)
{
	char dir[4096], ipath[4096];
	git_oid head;
	int fd = -1, unborn, error, r;

	graph_reset(h);
	if ((error = hist_path(dir, sizeof(dir), h, "")) < 0 ||
	    (error = hist_path(ipath, sizeof(ipath), h, "index")) < 0)
		goto done;
	if (!allow_build && access(ipath, F_OK) != 0)
		goto done; /* no index, and not worth building one now */
	if ((error = fsutil_mkdirs(dir)) < 0)
		goto done;
	if ((fd =
		     open(ipath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
			  0644)) < 0) {
		error = error_set(
			ERROR_GENERIC, "cannot open '%s': %s", ipath,
			strerror(errno));
		goto done;
	}
	if (flock(fd, LOCK_EX) < 0) {
		error = error_set(
			ERROR_GENERIC, "cannot lock '%s': %s", ipath,
			strerror(errno));
		goto done;
	}
	if ((error = head_oid(&head, &unborn, h)) < 0)
		goto done;
	if (!rebuild)
		load_index(h, fd, NULL);
	if (unborn) {
		graph_reset(h);
		memset(&head, 0, sizeof(head));
		error = save_index(h, fd, &head);
		goto ready;
	}
	if (h->has_tip && git_oid_equal(&h->tip, &head))
		goto ready;
	if (h->has_tip && !is_zero(&h->tip)) {
		r = git_graph_descendant_of(h->git, &head, &h->tip);
		if (r < 0) {
			error_clear();
			r = 0;
		}
		if (!r)
			graph_reset(h);
	} else if (h->has_tip) {
		graph_reset(h);
	}
	if (!h->has_tip && !allow_build) {
		/* Not worth a whole build now: the caller walks one file. */
		graph_reset(h);
		h->ready = 0;
		goto done;
	}
	if ((error = build_range(h, &head, h->has_tip ? &h->tip : NULL)) < 0)
		goto done;
	error = save_index(h, fd, &head);
ready:
	if (!error) {
		h->ready = 1;
		h->only[0] = '\0';
	}
done:
	if (fd >= 0)
		close(fd);
	return error;
}

/* ---- opening ------------------------------------------------------------ */

static int history_new(struct history **out, struct repo *repo, unsigned fl)
{
	struct history *h = calloc(1, sizeof(*h));
	int error;

	if (!h)
		return error_nomem();
	h->repo = repo;
	h->git = repo_git(repo);
	h->flags = fl;
	if ((error = verify_cache_new(&h->vcache)) < 0) {
		free(h);
		return error;
	}
	tune_cache();
	*out = h;
	return 0;
}

static void who_free(struct history_who *w)
{
	if (!w)
		return;
	free(w->name);
	free(w->email);
	free(w->organisation);
	free(w->reason);
	free(w);
}

void history_free(struct history *h)
{
	size_t i;

	if (!h)
		return;
	graph_reset(h);
	for (i = 0; i < h->nwho; i++)
		who_free(h->who[i]);
	free(h->who);
	free(h->wtab);
	tcache_clear(h);
	git_odb_free(h->odb);
	verify_cache_free(h->vcache);
	free(h);
}

/*
 * Make the graph cover path (NULL: every action file): from the index when
 * allowed, else built in memory (for one path, only its history).
 */
/*
 * The index's lines of one path alone, when the index is exactly at HEAD
 * (nothing to append): 0 when loaded, 1 when the caller must do more.
 */
static int load_path_fast(struct history *h, const char *path)
{
	char ipath[4096];
	git_oid head;
	int fd = -1, unborn, result = 1;

	graph_reset(h);
	if (hist_path(ipath, sizeof(ipath), h, "index") < 0 ||
	    (fd = open(ipath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0 ||
	    flock(fd, LOCK_SH) < 0 || head_oid(&head, &unborn, h) < 0 || unborn)
		goto done;
	if (load_index(h, fd, path) != 0 || !git_oid_equal(&h->tip, &head))
		goto done;
	snprintf(h->only, sizeof(h->only), "%s", path);
	h->ready = 1;
	result = 0;
done:
	if (result)
		graph_reset(h);
	if (fd >= 0)
		close(fd);
	error_clear();
	return result;
}

static int ensure(struct history *h, const char *path, int rebuild)
{
	int error;

	if (!rebuild && h->ready &&
	    (!h->only[0] || (path && strcmp(h->only, path) == 0)))
		return 0;
	if (!(h->flags & HISTORY_NO_INDEX) && path && !rebuild &&
	    load_path_fast(h, path) == 0)
		return 0;
	if (!(h->flags & HISTORY_NO_INDEX) &&
	    (error = sync_index(h, rebuild, !path || rebuild)) < 0)
		return error;
	if (h->ready)
		return 0;
	snprintf(h->only, sizeof(h->only), "%s", path ? path : "");
	if ((error = build_all(h)) < 0) {
		graph_reset(h);
		return error;
	}
	h->ready = 1;
	return 0;
}

static int load(struct history *h, int rebuild)
{
	return ensure(h, h->only[0] ? h->only : NULL, rebuild);
}

int history_open(struct history **out, struct repo *repo, unsigned flags)
{
	struct history *h = NULL;
	int error;

	if ((error = history_new(&h, repo, flags)) < 0)
		return error;
	/* With HISTORY_LAZY, a query for one action that finds no usable
	 * index walks that file's history alone. */
	if (!(flags & (HISTORY_NO_INDEX | HISTORY_LAZY)) &&
	    (error = ensure(h, NULL, 0)) < 0) {
		history_free(h);
		return error;
	}
	*out = h;
	return 0;
}

int history_index_update(struct repo *repo)
{
	struct history *h = NULL;
	int error = history_open(&h, repo, 0);

	history_free(h);
	return error;
}

size_t history_node_count(const struct history *h)
{
	return h->n;
}

/* A node as text that does not depend on the order nodes were built in:
 * parents named by their commits. */
static char *node_key(const struct history *h, size_t k)
{
	const struct node *n = &h->nodes[k];
	char buf[1024], hex[GIT_OID_HEXSZ + 1];
	size_t len;
	uint32_t i;

	git_oid_tostr(hex, sizeof(hex), &n->commit);
	len = (size_t)snprintf(
		buf, sizeof(buf), "%s %s ", hex, h->paths[n->path].path);
	git_oid_tostr(hex, sizeof(hex), &n->blob);
	len += (size_t)snprintf(
		buf + len, sizeof(buf) - len, "%s %lld", hex, n->time);
	for (i = 0; i < n->nparents && len < sizeof(buf); i++) {
		if (n->parents[i] == NONE)
			snprintf(hex, sizeof(hex), "-");
		else
			git_oid_tostr(
				hex, sizeof(hex),
				&h->nodes[n->parents[i]].commit);
		len += (size_t)snprintf(
			buf + len, sizeof(buf) - len, " %s", hex);
	}
	return strdup(buf);
}

static int keys_of(char ***out, const struct history *h)
{
	char **v = calloc(h->n + 1, sizeof(*v));
	size_t i;

	if (!v)
		return error_nomem();
	for (i = 0; i < h->n; i++)
		if (!(v[i] = node_key(h, i))) {
			plan_strv_free(v, i);
			return error_nomem();
		}
	qsort(v, h->n, sizeof(*v), str_cmp);
	*out = v;
	return 0;
}

int history_index_check(size_t *out_nodes, struct repo *repo)
{
	struct history *stored = NULL, *fresh = NULL;
	char **ks = NULL, **kf = NULL;
	size_t i, ns = 0, nf = 0;
	int error;

	if ((error = history_open(&stored, repo, 0)) < 0 ||
	    (error = history_open(&fresh, repo, HISTORY_NO_INDEX)) < 0 ||
	    (error = ensure(fresh, NULL, 0)) < 0)
		goto done;
	ns = stored->n;
	nf = fresh->n;
	if ((error = keys_of(&ks, stored)) < 0 ||
	    (error = keys_of(&kf, fresh)) < 0)
		goto done;
	for (i = 0; i < ns && i < nf; i++)
		if (strcmp(ks[i], kf[i]) != 0)
			break;
	if (i < ns || i < nf) {
		/* Repair, so the next query is right. */
		error = sync_index(stored, 1, 1);
		if (error == 0)
			error = error_set(
				ERROR_VERIFY,
				"history index disagrees with the commits "
				"(%.7s); rebuilt it",
				i < nf ? kf[i] : ks[i]);
		goto done;
	}
	*out_nodes = nf;
done:
	plan_strv_free(ks, ks ? ns : 0);
	plan_strv_free(kf, kf ? nf : 0);
	history_free(stored);
	history_free(fresh);
	return error;
}

/* ---- reading versions --------------------------------------------------- */

#define STALE 1 /* a node disagrees with its commit */

/* Check a node against its commit's tree. */
static int node_honest(struct history *h, uint32_t k)
{
	const struct node *n = &h->nodes[k];
	git_commit *c = NULL;
	git_tree *t = NULL;
	git_oid b;
	int error;

	if ((error = git_commit_lookup(&c, h->git, &n->commit)) < 0 ||
	    (error = git_commit_tree(&t, c)) < 0) {
		error_clear();
		error = STALE;
		goto done;
	}
	if ((error = blob_in_tree(&b, t, h->paths[n->path].path)) < 0)
		goto done;
	if (!git_oid_equal(&b, &n->blob) ||
	    git_commit_author(c)->when.time != n->time)
		error = STALE;
done:
	git_tree_free(t);
	git_commit_free(c);
	return error;
}

/* The parsed version of node k (NULL when deleted); STALE if the index
 * lies about it. */
static int node_doc(const struct doc_node **out, struct history *h, uint32_t k)
{
	git_blob *blob = NULL;
	struct doc_node *doc = NULL;
	char cid[GIT_OID_HEXSZ + 1], name[600];
	int error;

	*out = NULL;
	if (k == NONE)
		return 0;
	if (h->ndocs < h->n) {
		struct doc_node **d = realloc(h->docs, h->n * sizeof(*d));

		if (!d)
			return error_nomem();
		memset(d + h->ndocs, 0, (h->n - h->ndocs) * sizeof(*d));
		h->docs = d;
		h->ndocs = h->n;
	}
	if (h->docs[k]) {
		*out = h->docs[k];
		return 0;
	}
	if (is_zero(&h->nodes[k].blob))
		return 0;
	if ((error = git_blob_lookup(&blob, h->git, &h->nodes[k].blob)) < 0) {
		error = git_fail(error, "cannot read file");
		goto done;
	}
	git_oid_tostr(cid, sizeof(cid), &h->nodes[k].commit);
	snprintf(
		name, sizeof(name), "%.7s:%s", cid,
		h->paths[h->nodes[k].path].path);
	if ((size_t)git_blob_rawsize(blob) > DOC_MAX_FILE) {
		error = error_set(ERROR_INVALID, "%s: file too large", name);
		goto done;
	}
	if ((error = doc_parse(
		     &doc, git_blob_rawcontent(blob),
		     (size_t)git_blob_rawsize(blob), name)) < 0)
		goto done;
	h->docs[k] = doc;
	*out = doc;
done:
	git_blob_free(blob);
	return error;
}

/* The value at field path in an action tree (any key, schema or not). */
static const struct doc_node *
field_value(const struct doc_node *action, const char *path)
{
	const struct doc_node *ups;
	const char *slash;
	size_t i, ulen;

	if (!action || action->kind != DOC_MAP)
		return NULL;
	if (strncmp(path, "updates/", 8) != 0 || !strchr(path + 8, '/'))
		return doc_map_get(action, path);
	slash = strchr(path + 8, '/');
	ulen = (size_t)(slash - (path + 8));
	ups = doc_map_get(action, "updates");
	for (i = 0; ups && ups->kind == DOC_SEQ && i < ups->n; i++) {
		const char *uid = doc_str(doc_map_get(ups->items[i], "id"));

		if (uid && strlen(uid) == ulen &&
		    memcmp(uid, path + 8, ulen) == 0)
			return doc_map_get(ups->items[i], slash + 1);
	}
	return NULL;
}

static int value_equal(const struct doc_node *a, const struct doc_node *b)
{
	if (!a || !b)
		return a == b;
	return doc_equal(a, b);
}

/* ---- merges: what the field merge alone gives ---------------------------- */

static int parse_checked(
	struct doc_node **out,
	struct history *h,
	const git_oid *blob,
	const char *path)
{
	git_blob *b = NULL;
	int error;

	*out = NULL;
	if (!blob || is_zero(blob))
		return 0;
	if ((error = git_blob_lookup(&b, h->git, blob)) < 0)
		return git_fail(error, "cannot read file");
	error = plan_parse(
		out, PLAN_FILE_ACTION, path, git_blob_rawcontent(b),
		(size_t)git_blob_rawsize(b));
	git_blob_free(b);
	return error;
}

/*
 * For merge node k: the field merge of its two parents' versions from
 * their merge base's (core/merge, as plansync merges), so that a value the
 * engine makes by itself (text edits of both sides combined) is told
 * apart from one the merge decided.  *out borrowed from h; NULL when it
 * cannot be recomputed (octopus, unparsable versions).
 */
static int
node_automerge(const struct merge_result **out, struct history *h, uint32_t k)
{
	const struct node *n = &h->nodes[k];
	const char *path = h->paths[n->path].path;
	struct merge_ctx ctx = { merge_who_none, NULL, NULL };
	struct doc_node *d[3] = { NULL, NULL, NULL };
	struct merge_result *r = NULL;
	git_commit *base = NULL;
	git_tree *bt = NULL;
	struct cinfo ci;
	git_oid mb, bb;
	int error = 0, i;

	*out = NULL;
	if (n->nparents != 2)
		return 0;
	if (h->nams < h->n) {
		struct merge_result **v = realloc(h->ams, h->n * sizeof(*v));
		unsigned char *done = realloc(h->amdone, h->n);

		if (v)
			h->ams = v;
		if (done)
			h->amdone = done;
		if (!v || !done)
			return error_nomem();
		memset(h->ams + h->nams, 0, (h->n - h->nams) * sizeof(*v));
		memset(h->amdone + h->nams, 0, h->n - h->nams);
		h->nams = h->n;
	}
	if (h->amdone[k]) {
		*out = h->ams[k];
		return 0;
	}
	h->amdone[k] = 1;
	if (!h->odb && (error = git_repository_odb(&h->odb, h->git)) < 0)
		return git_fail(error, "cannot open the object database");
	if ((error = parse_commit(&ci, h, &n->commit)) < 0)
		return error;
	if (ci.np != 2)
		return 0;
	memset(&bb, 0, sizeof(bb));
	error = git_merge_base(&mb, h->git, &ci.parents[0], &ci.parents[1]);
	if (error == 0) {
		if ((error = git_commit_lookup(&base, h->git, &mb)) < 0 ||
		    (error = git_commit_tree(&bt, base)) < 0) {
			error = git_fail(error, "cannot read the merge base");
			goto done;
		}
		if ((error = blob_in_tree(&bb, bt, path)) < 0)
			goto done;
	} else if (error != GIT_ENOTFOUND) {
		error = git_fail(error, "cannot find the merge base");
		goto done;
	}
	error = 0;
	if (parse_checked(&d[0], h, &bb, path) < 0 ||
	    (n->parents[0] != NONE &&
	     parse_checked(&d[1], h, &h->nodes[n->parents[0]].blob, path) <
		     0) ||
	    (n->parents[1] != NONE &&
	     parse_checked(&d[2], h, &h->nodes[n->parents[1]].blob, path) <
		     0)) {
		error_clear();
		goto done; /* not recomputable: the merge is credited */
	}
	if (!(r = calloc(1, sizeof(*r)))) {
		error = error_nomem();
		goto done;
	}
	if (merge_action(r, d[0], d[1], d[2], &ctx) < 0) {
		error_clear();
		free(r);
		r = NULL;
		goto done;
	}
	h->ams[k] = r;
	*out = r;
done:
	for (i = 0; i < 3; i++)
		doc_free(d[i]);
	git_tree_free(bt);
	git_commit_free(base);
	return error;
}

/* Non-zero if the field merge alone gives value for field at merge node k
 * (no conflict on it): the merge decided nothing there. */
static int automerged(
	int *out,
	struct history *h,
	uint32_t k,
	const char *field,
	const struct doc_node *value)
{
	const struct merge_result *r;
	size_t i, n;
	int error;

	*out = 0;
	if ((error = node_automerge(&r, h, k)) < 0)
		return error;
	if (!r || !r->doc)
		return 0;
	for (i = 0; i < r->nconflicts; i++) {
		const char *c = r->conflicts[i].field;

		n = strlen(c);
		if (strcmp(c, MERGE_WHOLE_ACTION) == 0 ||
		    (strncmp(field, c, n) == 0 &&
		     (field[n] == '\0' || field[n] == '/')))
			return 0;
	}
	*out = strcmp(field, "conflicts") != 0 &&
	       value_equal(field_value(r->doc, field), value);
	return 0;
}

/* ---- who ---------------------------------------------------------------- */

const char *history_signature_status(enum verify_verdict verdict)
{
	switch (verdict) {
	case VERIFY_GOOD:
		return "good";
	case VERIFY_UNKNOWN_KEY:
		return "unknown-key";
	case VERIFY_REVOKED:
		return "revoked";
	case VERIFY_UNSIGNED:
		return "unsigned";
	default:
		return "bad";
	}
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

int history_who(
	const struct history_who **out,
	struct history *h,
	const git_oid *commit)
{
	struct history_who *w = NULL;
	struct verify_result vr;
	git_commit *c = NULL;
	const git_signature *a;
	size_t i;
	int error;

	char hex[GIT_OID_HEXSZ + 1];

	git_oid_tostr(hex, sizeof(hex), commit);
	if (h->wtabsize) {
		for (i = hash_str(hex) & (h->wtabsize - 1); h->wtab[i];
		     i = (i + 1) & (h->wtabsize - 1))
			if (strcmp(h->who[h->wtab[i] - 1]->commit, hex) == 0) {
				*out = h->who[h->wtab[i] - 1];
				return 0;
			}
	}
	if (!(w = calloc(1, sizeof(*w)))) {
		error = error_nomem();
		goto done;
	}
	if ((error = git_commit_lookup(&c, h->git, commit)) < 0) {
		error = git_fail(error, "cannot read commit");
		goto done;
	}
	a = git_commit_author(c);
	git_oid_tostr(w->commit, sizeof(w->commit), commit);
	w->time = (long long)a->when.time;
	w->tz = a->when.offset;
	w->merge = git_commit_parentcount(c) > 1;
	if ((error = verify_commit(&vr, h->git, commit, NULL, h->vcache)) < 0)
		goto done;
	w->verdict = vr.verdict;
	memcpy(w->fingerprint, vr.fingerprint, sizeof(w->fingerprint));
	if (!(w->name = strdup(a->name ? a->name : "")) ||
	    !(w->email = strdup(a->email ? a->email : "")) ||
	    !(w->reason = strdup(vr.reason)) ||
	    (vr.organisation &&
	     !(w->organisation = dup_or_null(vr.organisation)))) {
		error = error_nomem();
		goto done;
	}
	if (h->nwho == h->capwho) {
		size_t cap = h->capwho ? h->capwho * 2 : 64;
		struct history_who **v = realloc(h->who, cap * sizeof(*v));

		if (!v) {
			error = error_nomem();
			goto done;
		}
		h->who = v;
		h->capwho = cap;
	}
	if ((h->nwho + 1) * 2 > h->wtabsize) {
		size_t size = h->wtabsize ? h->wtabsize * 2 : 256, j;
		uint32_t *t = calloc(size, sizeof(*t));

		if (!t) {
			error = error_nomem();
			goto done;
		}
		for (j = 0; j < h->nwho; j++) {
			i = hash_str(h->who[j]->commit) & (size - 1);
			while (t[i])
				i = (i + 1) & (size - 1);
			t[i] = (uint32_t)j + 1;
		}
		free(h->wtab);
		h->wtab = t;
		h->wtabsize = size;
	}
	for (i = hash_str(w->commit) & (h->wtabsize - 1); h->wtab[i];
	     i = (i + 1) & (h->wtabsize - 1))
		;
	h->wtab[i] = (uint32_t)h->nwho + 1;
	h->who[h->nwho++] = w;
	*out = w;
	w = NULL;
done:
	who_free(w);
	git_commit_free(c);
	return error;
}

/* ---- log ---------------------------------------------------------------- */

struct changes {
	struct history_change *v;
	size_t n, cap;
	uint32_t *node; /* node of each change, for ordering */
};

static void changes_release(struct changes *c)
{
	history_changes_free(c->v, c->n);
	free(c->node);
}

void history_changes_free(struct history_change *v, size_t n)
{
	size_t i;

	for (i = 0; v && i < n; i++) {
		free(v[i].field);
		doc_free(v[i].old);
		doc_free(v[i].new);
	}
	free(v);
}

static int field_selected(const char *path, const char *sel)
{
	size_t n;

	if (!sel)
		return 1;
	n = strlen(sel);
	return strncmp(path, sel, n) == 0 &&
	       (path[n] == '\0' || path[n] == '/');
}

static int change_push(
	struct changes *c,
	struct history *h,
	uint32_t k,
	const char *path,
	const struct doc_node *old,
	const struct doc_node *new)
{
	struct history_change *x;
	int error;

	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		struct history_change *v = realloc(c->v, cap * sizeof(*v));
		uint32_t *nd;

		if (!v)
			return error_nomem();
		c->v = v;
		if (!(nd = realloc(c->node, cap * sizeof(*nd))))
			return error_nomem();
		c->node = nd;
		c->cap = cap;
	}
	x = &c->v[c->n];
	memset(x, 0, sizeof(*x));
	if ((error = history_who(&x->who, h, &h->nodes[k].commit)) < 0)
		return error;
	memcpy(x->action, h->paths[h->nodes[k].path].id, sizeof(x->action));
	if (!(x->field = strdup(path)) || (old && !(x->old = doc_clone(old))) ||
	    (new && !(x->new = doc_clone(new)))) {
		free(x->field);
		doc_free(x->old);
		return error_nomem();
	}
	c->node[c->n++] = k;
	return 0;
}

/* The changes node k made (for a merge: fields matching no parent). */
static int node_changes(
	struct changes *c,
	struct history *h,
	uint32_t k,
	const char *field)
{
	const struct node *n = &h->nodes[k];
	const struct doc_node *cur, *par[MAXPARENTS];
	struct plan_change *d = NULL;
	size_t nd = 0, i;
	uint32_t p, j;
	int error;

	if ((error = node_honest(h, k)) != 0 ||
	    (error = node_doc(&cur, h, k)) != 0)
		return error;
	for (p = 0; p < n->nparents; p++)
		if ((error = node_doc(&par[p], h, n->parents[p])) != 0)
			return error;
	if ((error = plan_action_diff(&d, &nd, par[0], cur)) < 0)
		return error;
	for (i = 0; i < nd && !error; i++) {
		if (!field_selected(d[i].path, field))
			continue;
		for (j = 1; j < n->nparents; j++)
			if (value_equal(
				    field_value(par[j], d[i].path), d[i].new))
				break;
		if (j < n->nparents)
			continue; /* carried in from that parent */
		if (n->nparents > 1) {
			int am;

			if ((error = automerged(
				     &am, h, k, d[i].path, d[i].new)) < 0)
				break;
			if (am)
				continue; /* both sides' edits, combined */
		}
		error = change_push(c, h, k, d[i].path, d[i].old, d[i].new);
	}
	plan_changes_free(d, nd);
	return error;
}

static struct history_change *sort_base;
static uint32_t *sort_node;

static int change_order(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	const struct history_change *cx = &sort_base[x], *cy = &sort_base[y];

	if (cx->who->time != cy->who->time)
		return cx->who->time > cy->who->time ? -1 : 1;
	if (sort_node[x] != sort_node[y])
		return sort_node[x] > sort_node[y] ? -1 : 1;
	return x < y ? -1 : (x > y);
}

static int sort_changes(struct changes *c)
{
	size_t *ix = malloc((c->n + 1) * sizeof(*ix)), i;
	struct history_change *v = malloc((c->n + 1) * sizeof(*v));

	if (!ix || !v) {
		free(ix);
		free(v);
		return error_nomem();
	}
	for (i = 0; i < c->n; i++)
		ix[i] = i;
	sort_base = c->v;
	sort_node = c->node;
	qsort(ix, c->n, sizeof(*ix), change_order);
	for (i = 0; i < c->n; i++)
		v[i] = c->v[ix[i]];
	free(c->v);
	c->v = v;
	free(ix);
	return 0;
}

static int log_once(
	struct changes *c,
	struct history *h,
	const char *action,
	const char *field,
	long long since,
	long long until)
{
	char path[128];
	uint32_t p = NONE, k;
	int error = 0;

	if (action) {
		if (plan_action_path(path, sizeof(path), action) < 0)
			return error_set(
				ERROR_USAGE, "'%s' is not an action ID",
				action);
		if ((error = ensure(h, path, 0)) < 0)
			return error;
		if ((p = path_find(h, path)) == NONE)
			return error_set(
				ERROR_NOTFOUND, "no history for action '%s'",
				action);
	} else if ((error = ensure(h, NULL, 0)) < 0) {
		return error;
	}
	for (k = 0; k < h->n && !error; k++) {
		const struct node *n = &h->nodes[k];

		if (p != NONE && n->path != p)
			continue;
		if ((since && n->time < since) || (until && n->time > until))
			continue;
		error = node_changes(c, h, k, field);
	}
	return error;
}

int history_log(
	struct history_change **out,
	size_t *out_n,
	struct history *h,
	const char *action,
	const char *field,
	long long since,
	long long until)
{
	struct changes c = { NULL, 0, 0, NULL };
	int error, tries;

	for (tries = 0; tries < 2; tries++) {
		error = log_once(&c, h, action, field, since, until);
		if (error != STALE)
			break;
		changes_release(&c);
		memset(&c, 0, sizeof(c));
		if ((error = load(h, 1)) < 0)
			break;
		error = STALE;
	}
	if (error == STALE)
		error = error_set(
			ERROR_GENERIC, "the history index does not match the "
				       "commits even after a rebuild");
	if (!error)
		error = sort_changes(&c);
	if (error < 0) {
		changes_release(&c);
		return error;
	}
	*out = c.v;
	*out_n = c.n;
	free(c.node);
	return 0;
}

/* ---- blame -------------------------------------------------------------- */

void history_blame_free(struct history_blame *v, size_t n)
{
	size_t i;

	for (i = 0; v && i < n; i++) {
		free(v[i].field);
		doc_free(v[i].value);
	}
	free(v);
}

/* The node that set field's value as of node k. */
static int
blame_combined(uint32_t *out, struct history *h, uint32_t k, const char *field);

static int blame_field(
	uint32_t *out,
	struct history *h,
	uint32_t k,
	const char *field,
	const struct doc_node *value)
{
	const struct doc_node *pd;
	uint32_t j;
	int error;

	for (;;) {
		const struct node *n = &h->nodes[k];
		uint32_t next = NONE;

		for (j = 0; j < n->nparents; j++) {
			if (n->parents[j] == NONE)
				continue;
			if ((error = node_doc(&pd, h, n->parents[j])) != 0)
				return error;
			if (value_equal(field_value(pd, field), value)) {
				next = n->parents[j];
				break;
			}
		}
		if (next == NONE && n->nparents == 2) {
			int am;

			if ((error = automerged(&am, h, k, field, value)) < 0)
				return error;
			if (am)
				return blame_combined(out, h, k, field);
		}
		if (next == NONE) {
			*out = k;
			return 0;
		}
		k = next;
	}
}

/*
 * A value the field merge made from both sides' edits (a text merged word
 * by word): credited to the later of the commits that made each side's
 * value.
 */
static int
blame_combined(uint32_t *out, struct history *h, uint32_t k, const char *field)
{
	const struct node *n = &h->nodes[k];
	const struct doc_node *pd;
	uint32_t j, by, best = NONE;
	int error;

	for (j = 0; j < n->nparents; j++) {
		if (n->parents[j] == NONE)
			continue;
		if ((error = node_doc(&pd, h, n->parents[j])) != 0 ||
		    (error = blame_field(
			     &by, h, n->parents[j], field,
			     field_value(pd, field))) != 0)
			return error;
		if (best == NONE || h->nodes[by].time > h->nodes[best].time ||
		    (h->nodes[by].time == h->nodes[best].time && by > best))
			best = by;
	}
	*out = best == NONE ? k : best;
	return 0;
}

static int blame_once(
	struct history_blame **out,
	size_t *out_n,
	struct history *h,
	const char *action)
{
	char path[128];
	struct history_blame *v = NULL;
	char **fields = NULL;
	size_t nf = 0, i;
	const struct doc_node *doc;
	git_object *obj = NULL;
	git_tree *tree = NULL;
	git_oid blob, head;
	uint32_t p, k, by;
	int error, unborn;

	if (plan_action_path(path, sizeof(path), action) < 0)
		return error_set(
			ERROR_USAGE, "'%s' is not an action ID", action);
	if ((error = ensure(h, path, 0)) < 0)
		return error;
	if ((error = head_oid(&head, &unborn, h)) < 0)
		goto done;
	if (unborn) {
		error = error_set(ERROR_NOTFOUND, "no commits yet");
		goto done;
	}
	if ((error = git_object_lookup(
		     &obj, h->git, &head, GIT_OBJECT_COMMIT)) < 0 ||
	    (error = git_commit_tree(&tree, (git_commit *)obj)) < 0) {
		error = git_fail(error, "cannot read HEAD");
		goto done;
	}
	if ((error = blob_in_tree(&blob, tree, path)) < 0)
		goto done;
	if (is_zero(&blob)) {
		error = error_set(
			ERROR_NOTFOUND, "no action '%s' at HEAD", action);
		goto done;
	}
	p = path_find(h, path);
	if ((error = version_node(&k, h, p, &blob, &head)) < 0)
		goto done;
	if (k == NONE) {
		error = STALE;
		goto done;
	}
	if ((error = node_doc(&doc, h, k)) != 0)
		goto done;
	if ((error = plan_field_list(&fields, &nf, doc)) < 0)
		goto done;
	if (!(v = calloc(nf + 1, sizeof(*v)))) {
		error = error_nomem();
		goto done;
	}
	for (i = 0; i < nf; i++) {
		const struct doc_node *val = field_value(doc, fields[i]);

		if ((error = blame_field(&by, h, k, fields[i], val)) != 0 ||
		    (error = node_honest(h, by)) != 0)
			goto done;
		if ((error = history_who(&v[i].who, h, &h->nodes[by].commit)) <
		    0)
			goto done;
		v[i].field = fields[i];
		fields[i] = NULL;
		if (val && !(v[i].value = doc_clone(val))) {
			error = error_nomem();
			goto done;
		}
	}
	*out = v;
	*out_n = nf;
	v = NULL;
done:
	history_blame_free(v, nf);
	plan_strv_free(fields, nf);
	git_tree_free(tree);
	git_object_free(obj);
	return error;
}

int history_blame(
	struct history_blame **out,
	size_t *out_n,
	struct history *h,
	const char *action)
{
	int error = 0, tries;

	for (tries = 0; tries < 2; tries++) {
		error = blame_once(out, out_n, h, action);
		if (error != STALE)
			break;
		if ((error = load(h, 1)) < 0)
			break;
		error = STALE;
	}
	if (error == STALE)
		error = error_set(
			ERROR_GENERIC, "the history index does not match the "
				       "commits even after a rebuild");
	return error;
}

void history_index_refresh(struct repo *repo)
{
	char path[4096];

	snprintf(
		path, sizeof(path), "%s%s/index", repo_gitdir(repo),
		HISTORY_DIR);
	if (access(path, F_OK) == 0 && history_index_update(repo) < 0)
		error_clear();
}
