/*
 * sync/mergecheck: recompute a merge commit and explain every field.
 */
#include "sync/mergecheck.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/merge.h"
#include "core/plan.h"
#include "sync/history.h"

#define SUMMARY 60

struct findings {
	struct mergecheck_finding *v;
	size_t n, cap;
};

static int finding_add(
	struct findings *f,
	const char *path,
	const char *field,
	const char *fmt,
	...) ERROR_PRINTF(4, 5);

static int finding_add(
	struct findings *f,
	const char *path,
	const char *field,
	const char *fmt,
	...)
{
	char buf[1024];
	va_list ap;

	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 8;
		struct mergecheck_finding *v = realloc(f->v, cap * sizeof(*v));

		if (!v)
			return error_nomem();
		f->v = v;
		f->cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	f->v[f->n].path = strdup(path);
	f->v[f->n].field = strdup(field);
	f->v[f->n].reason = strdup(buf);
	if (!f->v[f->n].path || !f->v[f->n].field || !f->v[f->n].reason) {
		free(f->v[f->n].path);
		free(f->v[f->n].field);
		free(f->v[f->n].reason);
		return error_nomem();
	}
	f->n++;
	return 0;
}

void mergecheck_findings_free(struct mergecheck_finding *v, size_t n)
{
	size_t i;

	for (i = 0; v && i < n; i++) {
		free(v[i].path);
		free(v[i].field);
		free(v[i].reason);
	}
	free(v);
}

/* ---- reading files ------------------------------------------------------ */

static int git_fail(int code, const char *what)
{
	const git_error *e = git_error_last();

	return error_set(
		code == GIT_ENOTFOUND ? ERROR_NOTFOUND : ERROR_GENERIC,
		"%s: %s", what, e && e->message ? e->message : "unknown error");
}

/* The parsed, checked file at path in tree (NULL when absent).  A file
 * that does not parse is *bad = 1. */
static int
load(struct doc_node **out,
     int *bad,
     git_repository *repo,
     const git_tree *tree,
     const char *path,
     enum plan_file_kind kind)
{
	git_tree_entry *e = NULL;
	git_blob *blob = NULL;
	int error = 0;

	*out = NULL;
	*bad = 0;
	if (!tree)
		return 0;
	error = git_tree_entry_bypath(&e, tree, path);
	if (error == GIT_ENOTFOUND) {
		error = 0;
		goto done;
	}
	if (error < 0) {
		error = git_fail(error, "cannot read tree");
		goto done;
	}
	if (git_tree_entry_type(e) != GIT_OBJECT_BLOB) {
		*bad = 1;
		goto done;
	}
	if ((error = git_blob_lookup(&blob, repo, git_tree_entry_id(e))) < 0) {
		error = git_fail(error, "cannot read file");
		goto done;
	}
	if ((size_t)git_blob_rawsize(blob) > DOC_MAX_FILE ||
	    plan_parse(
		    out, kind, path, git_blob_rawcontent(blob),
		    (size_t)git_blob_rawsize(blob)) < 0) {
		error_clear();
		*out = NULL;
		*bad = 1;
	}
done:
	git_blob_free(blob);
	git_tree_entry_free(e);
	return error;
}

/* ---- the paths to check ------------------------------------------------- */

struct pathset {
	char **v;
	size_t n, cap;
};

static int
collect(const char *path, const git_oid *old, const git_oid *new, void *arg)
{
	struct pathset *s = arg;
	size_t i;

	(void)old;
	(void)new;
	for (i = 0; i < s->n; i++)
		if (strcmp(s->v[i], path) == 0)
			return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		char **v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return error_nomem();
		s->v = v;
		s->cap = cap;
	}
	if (!(s->v[s->n] = strdup(path)))
		return error_nomem();
	s->n++;
	return 0;
}

static void pathset_release(struct pathset *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
}

/* ---- values ------------------------------------------------------------- */

static const struct doc_node *
field_value(const struct doc_node *action, const char *path)
{
	const struct doc_node *ups;
	const char *slash;
	size_t i, ulen;

	if (!action || action->kind != DOC_MAP)
		return NULL;
	if (strncmp(path, "updates/", 8) != 0)
		return doc_map_get(action, path);
	slash = strchr(path + 8, '/');
	ulen = slash ? (size_t)(slash - (path + 8)) : strlen(path + 8);
	ups = doc_map_get(action, "updates");
	for (i = 0; ups && ups->kind == DOC_SEQ && i < ups->n; i++) {
		const char *uid = doc_str(doc_map_get(ups->items[i], "id"));

		if (uid && strlen(uid) == ulen &&
		    memcmp(uid, path + 8, ulen) == 0)
			return slash ? doc_map_get(ups->items[i], slash + 1) :
				       ups->items[i];
	}
	return NULL;
}

static int same(const struct doc_node *a, const struct doc_node *b)
{
	if (!a || !b)
		return a == b;
	return doc_equal(a, b);
}

/* Non-zero if a conflict of this merge covers field: the field itself,
 * its update entry, or the whole action. */
static int recomputed_conflict(const struct merge_result *r, const char *field)
{
	size_t i, n;

	for (i = 0; i < r->nconflicts; i++) {
		const char *c = r->conflicts[i].field;

		if (strcmp(c, MERGE_WHOLE_ACTION) == 0 || strcmp(c, field) == 0)
			return 1;
		n = strlen(c);
		if (strncmp(field, c, n) == 0 && field[n] == '/')
			return 1;
	}
	return 0;
}

/* Non-zero if a parent's conflict record on field names value as its kept
 * or other value (the merge resolved it). */
static int resolved_record(
	const struct doc_node *parent,
	const char *field,
	const struct doc_node *value)
{
	const struct doc_node *cs =
		parent ? doc_map_get(parent, "conflicts") : NULL;
	size_t i;

	for (i = 0; cs && cs->kind == DOC_SEQ && i < cs->n; i++) {
		const char *f = doc_str(doc_map_get(cs->items[i], "field"));

		if (!f || strcmp(f, field) != 0)
			continue;
		if (same(doc_map_get(cs->items[i], "kept"), value) ||
		    same(doc_map_get(cs->items[i], "other"), value))
			return 1;
	}
	return 0;
}

static int record_in(const struct doc_node *action, const struct doc_node *rec)
{
	const struct doc_node *cs =
		action ? doc_map_get(action, "conflicts") : NULL;
	size_t i;

	for (i = 0; cs && cs->kind == DOC_SEQ && i < cs->n; i++)
		if (doc_equal(cs->items[i], rec))
			return 1;
	return 0;
}

static char *summary(const struct doc_node *v)
{
	char *s = plan_value_summary(v, SUMMARY);

	return s;
}

/* ---- one action file ---------------------------------------------------- */

/* Check the conflict records of the merged action m. */
static int check_records(
	struct findings *f,
	const char *path,
	const struct merge_result *r,
	const struct doc_node *o,
	const struct doc_node *t,
	const struct doc_node *m)
{
	const struct doc_node *cs = doc_map_get(m, "conflicts");
	size_t i;
	int error = 0;

	for (i = 0; cs && cs->kind == DOC_SEQ && i < cs->n && !error; i++) {
		const struct doc_node *rec = cs->items[i];
		const char *field = doc_str(doc_map_get(rec, "field"));
		const struct doc_node *kept = doc_map_get(rec, "kept");
		const struct doc_node *other = doc_map_get(rec, "other");

		if (record_in(o, rec) || record_in(t, rec))
			continue;
		if (field && recomputed_conflict(r, field)) {
			const struct doc_node *vo = field_value(o, field);
			const struct doc_node *vt = field_value(t, field);

			if (strcmp(field, MERGE_WHOLE_ACTION) == 0 ||
			    ((same(kept, vo) || same(kept, vt)) &&
			     (same(other, vo) || same(other, vt))))
				continue;
		}
		error = finding_add(
			f, path, "conflicts",
			"conflict record on '%s' is neither a parent's nor one "
			"this merge makes",
			field ? field : "(no field)");
	}
	return error;
}

static int check_action(
	struct findings *f,
	const char *path,
	const struct doc_node *b,
	const struct doc_node *o,
	const struct doc_node *t,
	const struct doc_node *m,
	const struct doc_node *const *renumbered,
	size_t nrenumbered)
{
	struct merge_ctx ctx = { merge_who_none, NULL, NULL };
	struct merge_result r = MERGE_RESULT_INIT;
	struct plan_change *d = NULL;
	size_t nd = 0, i;
	int error;

	(void)renumbered;
	(void)nrenumbered;
	if ((error = merge_action(&r, b, o, t, &ctx)) < 0)
		goto done;
	if (!r.doc || !m) {
		if (!r.doc && !m)
			goto done;
		if (recomputed_conflict(&r, MERGE_WHOLE_ACTION) &&
		    (same(m, o) || same(m, t)))
			goto done;
		error = finding_add(
			f, path, "",
			m ? "the merge adds the file, which the merge of its "
			    "parents deletes" :
			    "the merge deletes the file, which the merge of "
			    "its parents keeps");
		goto done;
	}
	if ((error = plan_action_diff(&d, &nd, r.doc, m)) < 0)
		goto done;
	for (i = 0; i < nd && !error; i++) {
		const char *field = d[i].path;
		const struct doc_node *vm = d[i].new;
		const struct doc_node *vo = field_value(o, field);
		const struct doc_node *vt = field_value(t, field);
		char *sm, *so, *st;

		if (strcmp(field, "conflicts") == 0) {
			error = check_records(f, path, &r, o, t, m);
			continue;
		}
		if (recomputed_conflict(&r, field) &&
		    (same(vm, vo) || same(vm, vt)))
			continue;
		if (resolved_record(o, field, vm) ||
		    resolved_record(t, field, vm))
			continue;
		sm = summary(vm);
		so = summary(vo);
		st = summary(vt);
		if (!sm || !so || !st)
			error = error_nomem();
		else
			error = finding_add(
				f, path, field,
				"%s is '%s': neither parent ('%s', '%s'), a "
				"conflict rule nor a resolution explains it",
				field, sm, so, st);
		free(sm);
		free(so);
		free(st);
	}
done:
	plan_changes_free(d, nd);
	merge_result_release(&r);
	return error;
}

/* An action file only the merge has: a renumbered version (one side's
 * addition of a colliding ID, under its new ID), or an edit. */
static int renumber_explains(
	const struct doc_node *m,
	struct doc_node *const *renumbered,
	size_t n)
{
	size_t i;
	int ok = 0;

	for (i = 0; i < n && !ok; i++) {
		struct doc_node *c = doc_clone(renumbered[i]);
		const struct doc_node *id = doc_map_get(m, "id");

		if (!c)
			return 0;
		if (id && doc_map_set(c, "id", doc_clone(id)) == 0)
			ok = doc_equal(c, m);
		doc_free(c);
	}
	return ok;
}

static int check_meta(
	struct findings *f,
	const char *path,
	enum plan_file_kind kind,
	const struct doc_node *b,
	const struct doc_node *o,
	const struct doc_node *t,
	const struct doc_node *m)
{
	struct merge_ctx ctx = { merge_who_none, NULL, NULL };
	struct merge_result r = MERGE_RESULT_INIT;
	int error;

	if ((error = merge_file(&r, kind, b, o, t, &ctx)) < 0)
		goto done;
	if (same(r.doc, m))
		goto done;
	if (r.nconflicts && (same(m, o) || same(m, t)))
		goto done;
	error = finding_add(
		f, path, "",
		"%s differs from the merge of its parents in a way no "
		"conflict rule explains",
		path);
done:
	merge_result_release(&r);
	return error;
}

/* ---- one merge commit --------------------------------------------------- */

int mergecheck_commit(
	struct mergecheck_finding **out,
	size_t *out_n,
	git_repository *repo,
	const git_oid *id)
{
	static const char *const metas[] = { "plan.yaml", "partners.yaml" };
	static const enum plan_file_kind kinds[] = { PLAN_FILE_PLAN,
						     PLAN_FILE_PARTNERS };
	struct findings f = { NULL, 0, 0 };
	struct pathset ps = { NULL, 0, 0 };
	git_commit *c = NULL, *p1 = NULL, *p2 = NULL, *bc = NULL;
	git_tree *tm = NULL, *t1 = NULL, *t2 = NULL, *tb = NULL;
	struct doc_node *d[4] = { NULL, NULL, NULL, NULL };
	struct doc_node **renum = NULL;
	size_t nrenum = 0, i, k;
	git_oid base;
	char hex[GIT_OID_HEXSZ + 1];
	int error, bad[4];

	*out = NULL;
	*out_n = 0;
	if ((error = git_commit_lookup(&c, repo, id)) < 0) {
		error = git_fail(error, "cannot read commit");
		goto done;
	}
	if (git_commit_parentcount(c) < 2)
		goto done;
	git_oid_tostr(hex, sizeof(hex), id);
	if (git_commit_parentcount(c) > 2) {
		error = finding_add(
			&f, "", "",
			"merge %.7s has more than two parents; the field merge "
			"joins two",
			hex);
		goto done;
	}
	if ((error = git_commit_parent(&p1, c, 0)) < 0 ||
	    (error = git_commit_parent(&p2, c, 1)) < 0 ||
	    (error = git_commit_tree(&tm, c)) < 0 ||
	    (error = git_commit_tree(&t1, p1)) < 0 ||
	    (error = git_commit_tree(&t2, p2)) < 0) {
		error = git_fail(error, "cannot read merge parents");
		goto done;
	}
	error = git_merge_base(
		&base, repo, git_commit_id(p1), git_commit_id(p2));
	if (error == 0) {
		if ((error = git_commit_lookup(&bc, repo, &base)) < 0 ||
		    (error = git_commit_tree(&tb, bc)) < 0) {
			error = git_fail(error, "cannot read merge base");
			goto done;
		}
	} else if (error == GIT_ENOTFOUND) {
		error_clear();
		error = 0;
	} else {
		error = git_fail(error, "cannot find the merge base");
		goto done;
	}
	if ((error = history_diff_trees(repo, tb, t1, collect, &ps)) < 0 ||
	    (error = history_diff_trees(repo, tb, t2, collect, &ps)) < 0 ||
	    (error = history_diff_trees(repo, t1, tm, collect, &ps)) < 0 ||
	    (error = history_diff_trees(repo, t2, tm, collect, &ps)) < 0)
		goto done;

	/* First pass: the losers of same-ID additions, renumbered. */
	for (i = 0; i < ps.n; i++) {
		struct merge_ctx ctx = { merge_who_none, NULL, NULL };
		struct merge_result r = MERGE_RESULT_INIT;

		for (k = 0; k < 3; k++)
			if ((error =
				     load(&d[k], &bad[k], repo,
					  k == 0 ? tb :
					  k == 1 ? t1 :
						   t2,
					  ps.v[i], PLAN_FILE_ACTION)) < 0)
				goto done;
		/*
		 * Which side keeps the ID follows the time rule, which is not
		 * rechecked: either side's version may be the renumbered one.
		 */
		if (!bad[0] && !bad[1] && !bad[2] &&
		    merge_action(&r, d[0], d[1], d[2], &ctx) == 0 &&
		    r.renumber) {
			struct doc_node **v =
				realloc(renum, (nrenum + 2) * sizeof(*v));

			if (!v) {
				merge_result_release(&r);
				error = error_nomem();
				goto done;
			}
			renum = v;
			renum[nrenum] = d[1];
			renum[nrenum + 1] = d[2];
			d[1] = d[2] = NULL;
			nrenum += 2;
		}
		error_clear();
		merge_result_release(&r);
		for (k = 0; k < 3; k++) {
			doc_free(d[k]);
			d[k] = NULL;
		}
	}
	for (i = 0; i < ps.n && !error; i++) {
		for (k = 0; k < 4; k++)
			if ((error =
				     load(&d[k], &bad[k], repo,
					  k == 0 ? tb :
					  k == 1 ? t1 :
					  k == 2 ? t2 :
						   tm,
					  ps.v[i], PLAN_FILE_ACTION)) < 0)
				goto done;
		if (bad[3])
			error = finding_add(
				&f, ps.v[i], "",
				"the merge's %s is not a valid action file",
				ps.v[i]);
		else if (bad[0] || bad[1] || bad[2])
			error = 0; /* a parent's broken file: verify's */
		else if (
			d[3] && !d[0] && !d[1] && !d[2] &&
			renumber_explains(d[3], renum, nrenum))
			error = 0;
		else if (
			d[3] && !d[0] && d[1] && d[2] && !same(d[1], d[2]) &&
			(same(d[3], d[1]) || same(d[3], d[2])))
			error = 0; /* added on both sides: either keeps the ID
				    */
		else
			error = check_action(
				&f, ps.v[i], d[0], d[1], d[2], d[3],
				(const struct doc_node *const *)renum, nrenum);
		for (k = 0; k < 4; k++) {
			doc_free(d[k]);
			d[k] = NULL;
		}
	}
	if (error)
		goto done;
	for (i = 0; i < 2 && !error; i++) {
		for (k = 0; k < 4; k++)
			if ((error =
				     load(&d[k], &bad[k], repo,
					  k == 0 ? tb :
					  k == 1 ? t1 :
					  k == 2 ? t2 :
						   tm,
					  metas[i], kinds[i])) < 0)
				goto done;
		if (bad[3])
			error = finding_add(
				&f, metas[i], "", "the merge's %s is not valid",
				metas[i]);
		else if (
			!bad[0] && !bad[1] && !bad[2] &&
			!(same(d[3], d[1]) && same(d[1], d[2])))
			error = check_meta(
				&f, metas[i], kinds[i], d[0], d[1], d[2], d[3]);
		for (k = 0; k < 4; k++) {
			doc_free(d[k]);
			d[k] = NULL;
		}
	}
done:
	for (k = 0; k < 4; k++)
		doc_free(d[k]);
	for (i = 0; i < nrenum; i++)
		doc_free(renum[i]);
	free(renum);
	pathset_release(&ps);
	git_tree_free(tb);
	git_tree_free(t1);
	git_tree_free(t2);
	git_tree_free(tm);
	git_commit_free(bc);
	git_commit_free(p1);
	git_commit_free(p2);
	git_commit_free(c);
	if (error < 0) {
		mergecheck_findings_free(f.v, f.n);
		return error;
	}
	*out = f.v;
	*out_n = f.n;
	return 0;
}

int mergecheck_range(
	size_t *out_merges,
	size_t *out_bad,
	git_repository *repo,
	const git_oid *tips,
	size_t ntips,
	mergecheck_cb cb,
	void *payload)
{
	git_revwalk *walk = NULL;
	struct mergecheck_finding *v = NULL;
	size_t n = 0, i;
	git_commit *c = NULL;
	git_oid id;
	int error;

	*out_merges = *out_bad = 0;
	if ((error = git_revwalk_new(&walk, repo)) < 0 ||
	    (error = git_revwalk_sorting(
		     walk, GIT_SORT_TOPOLOGICAL | GIT_SORT_REVERSE)) < 0) {
		error = git_fail(error, "cannot walk history");
		goto done;
	}
	for (i = 0; i < ntips; i++)
		if ((error = git_revwalk_push(walk, &tips[i])) < 0) {
			error = git_fail(error, "cannot walk history");
			goto done;
		}
	while ((error = git_revwalk_next(&id, walk)) == 0) {
		unsigned np;

		if ((error = git_commit_lookup(&c, repo, &id)) < 0) {
			error = git_fail(error, "cannot read commit");
			goto done;
		}
		np = git_commit_parentcount(c);
		git_commit_free(c);
		c = NULL;
		if (np < 2)
			continue;
		if ((error = mergecheck_commit(&v, &n, repo, &id)) < 0)
			goto done;
		(*out_merges)++;
		if (n)
			(*out_bad)++;
		if (cb && (error = cb(&id, v, n, payload)) != 0)
			goto done;
		mergecheck_findings_free(v, n);
		v = NULL;
		n = 0;
	}
	if (error == GIT_ITEROVER)
		error = 0;
	else
		error = git_fail(error, "cannot walk history");
done:
	mergecheck_findings_free(v, n);
	git_commit_free(c);
	git_revwalk_free(walk);
	return error;
}
