/*
 * tests/test_history.c: the field-history index, log and blame queries,
 * and the merge check, on throwaway repositories whose commits are made
 * with libgit2 (merges included, with chosen author times).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <git2.h>

#include "core/doc.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "sync/history.h"
#include "sync/mergecheck.h"
#include "sync/repo.h"

static const char PLAN[] = "schema: plansync/1\n"
			   "title: Test plan\n"
			   "partnership: Test partnership\n"
			   "updated: December 2023\n"
			   "priorities:\n"
			   "  - id: P1\n"
			   "    title: First\n";

/* The fields a test varies in an action file. */
struct act {
	const char *status, *timescale, *text, *conflicts;
};

static char *action_yaml(const char *id, const struct act *a)
{
	char *buf = malloc(4096);

	assert_non_null(buf);
	snprintf(
		buf, 4096,
		"id: %s\npriority: P1\naction: Do %s\ninformation: \"\"\n"
		"status: %s\ntimescale: %s\nresponsible:\n  - NYP\n"
		"updates:\n  - id: u1\n    text: %s\n%s",
		id, id, a->status, a->timescale, a->text ? a->text : "First",
		a->conflicts ? a->conflicts : "");
	return buf;
}

struct fx {
	char dir[256], path[300];
	struct repo *repo;
	git_repository *git;
	long long now;
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	snprintf(
		fx->dir, sizeof(fx->dir), "%s/plansync-history.XXXXXX",
		getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(fx->dir))
		return -1;
	snprintf(fx->path, sizeof(fx->path), "%s/r", fx->dir);
	if (repo_create(&fx->repo, fx->path) < 0)
		return -1;
	fx->git = repo_git(fx->repo);
	fx->now = 1700000000;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	char cmd[400];

	repo_free(fx->repo);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	if (system(cmd) != 0)
		return -1;
	free(fx);
	return 0;
}

/* A commit whose tree holds plan.yaml and actions P1-A1 (a1) and P1-A2
 * (a2, may be NULL); with ref "HEAD" it moves the branch. */
static void
commit(git_oid *out,
       struct fx *fx,
       const char *ref,
       const struct act *a1,
       const struct act *a2,
       const git_oid *parents,
       size_t np,
       const char *who)
{
	git_treebuilder *tb = NULL;
	git_oid blob, p1tree, actions, root;
	git_tree *tree = NULL;
	const git_commit *pc[2] = { NULL, NULL };
	git_commit *pcm[2] = { NULL, NULL };
	git_signature *sig = NULL;
	char email[64], *y;
	size_t i;

	assert_int_equal(git_treebuilder_new(&tb, fx->git, NULL), 0);
	y = action_yaml("P1-A1", a1);
	assert_int_equal(
		git_blob_create_from_buffer(&blob, fx->git, y, strlen(y)), 0);
	free(y);
	assert_int_equal(
		git_treebuilder_insert(
			NULL, tb, "P1-A1.yaml", &blob, GIT_FILEMODE_BLOB),
		0);
	if (a2) {
		y = action_yaml("P1-A2", a2);
		assert_int_equal(
			git_blob_create_from_buffer(
				&blob, fx->git, y, strlen(y)),
			0);
		free(y);
		assert_int_equal(
			git_treebuilder_insert(
				NULL, tb, "P1-A2.yaml", &blob,
				GIT_FILEMODE_BLOB),
			0);
	}
	assert_int_equal(git_treebuilder_write(&p1tree, tb), 0);
	git_treebuilder_clear(tb);
	assert_int_equal(
		git_treebuilder_insert(
			NULL, tb, "P1", &p1tree, GIT_FILEMODE_TREE),
		0);
	assert_int_equal(git_treebuilder_write(&actions, tb), 0);
	git_treebuilder_clear(tb);
	assert_int_equal(
		git_treebuilder_insert(
			NULL, tb, "actions", &actions, GIT_FILEMODE_TREE),
		0);
	assert_int_equal(
		git_blob_create_from_buffer(&blob, fx->git, PLAN, strlen(PLAN)),
		0);
	assert_int_equal(
		git_treebuilder_insert(
			NULL, tb, "plan.yaml", &blob, GIT_FILEMODE_BLOB),
		0);
	assert_int_equal(git_treebuilder_write(&root, tb), 0);
	git_treebuilder_free(tb);
	assert_int_equal(git_tree_lookup(&tree, fx->git, &root), 0);
	for (i = 0; i < np; i++) {
		assert_int_equal(
			git_commit_lookup(&pcm[i], fx->git, &parents[i]), 0);
		pc[i] = pcm[i];
	}
	snprintf(email, sizeof(email), "%s@x.example", who);
	assert_int_equal(git_signature_new(&sig, who, email, fx->now, 60), 0);
	fx->now += 100;
	assert_int_equal(
		git_commit_create(
			out, fx->git, ref, sig, sig, NULL, "test", tree, np,
			pc),
		0);
	git_signature_free(sig);
	git_tree_free(tree);
	for (i = 0; i < np; i++)
		git_commit_free(pcm[i]);
}

static void hex(char *buf, const git_oid *id)
{
	git_oid_tostr(buf, GIT_OID_HEXSZ + 1, id);
}

/* base -> (ours: a1 status done) and (theirs: a1 timescale March) -> merge
 * taking both; then a second branch edit of a2 merged in. */
struct hist {
	git_oid base, ours, theirs, merge, side2, merge2;
};

static void make_history(struct fx *fx, struct hist *h, const struct act *m2)
{
	struct act b = { "planned", "Ongoing", NULL, NULL };
	struct act o = { "done", "Ongoing", NULL, NULL };
	struct act t = { "planned", "March", NULL, NULL };
	struct act both = { "done", "March", NULL, NULL };
	struct act a2 = { "planned", "Ongoing", NULL, NULL };
	struct act a2side = { "on-hold", "Ongoing", NULL, NULL };
	git_oid p[2];

	commit(&h->base, fx, "HEAD", &b, &a2, NULL, 0, "jane");
	commit(&h->theirs, fx, NULL, &t, &a2, &h->base, 1, "tom");
	commit(&h->ours, fx, "HEAD", &o, &a2, &h->base, 1, "jane");
	p[0] = h->ours;
	p[1] = h->theirs;
	commit(&h->merge, fx, "HEAD", &both, &a2, p, 2, "jane");
	commit(&h->side2, fx, NULL, &both, &a2side, &h->merge, 1, "tom");
	p[0] = h->merge;
	p[1] = h->side2;
	commit(&h->merge2, fx, "HEAD", &both, m2 ? m2 : &a2side, p, 2, "jane");
}

static const struct history_blame *
blame_of(const struct history_blame *v, size_t n, const char *field)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i].field, field) == 0)
			return &v[i];
	fail_msg("no blame for %s", field);
	return NULL;
}

static void test_history__blame_credits_the_commit_not_the_merge(void **state)
{
	struct fx *fx = *state;
	struct history *h = NULL;
	struct history_blame *v = NULL;
	struct hist hi;
	size_t n = 0;
	char want[GIT_OID_HEXSZ + 1];

	make_history(fx, &hi, NULL);
	assert_int_equal(history_open(&h, fx->repo, 0), 0);
	assert_int_equal(history_blame(&v, &n, h, "P1-A1"), 0);
	hex(want, &hi.theirs);
	assert_string_equal(blame_of(v, n, "timescale")->who->commit, want);
	assert_string_equal(blame_of(v, n, "timescale")->who->name, "tom");
	hex(want, &hi.ours);
	assert_string_equal(blame_of(v, n, "status")->who->commit, want);
	hex(want, &hi.base);
	assert_string_equal(blame_of(v, n, "action")->who->commit, want);
	assert_string_equal(
		blame_of(v, n, "updates/u1/text")->who->commit, want);
	assert_string_equal(
		doc_str(blame_of(v, n, "timescale")->value), "March");
	assert_string_equal(
		history_signature_status(
			blame_of(v, n, "status")->who->verdict),
		"unsigned");
	history_blame_free(v, n);
	assert_int_equal(history_blame(&v, &n, h, "P1-A2"), 0);
	hex(want, &hi.side2);
	assert_string_equal(blame_of(v, n, "status")->who->commit, want);
	history_blame_free(v, n);
	assert_int_equal(history_blame(&v, &n, h, "P1-A9"), ERROR_NOTFOUND);
	history_free(h);
}

static void test_history__log_through_merges(void **state)
{
	struct fx *fx = *state;
	struct history *h = NULL;
	struct history_change *v = NULL;
	struct hist hi;
	size_t n = 0, i;
	char m[GIT_OID_HEXSZ + 1], t[GIT_OID_HEXSZ + 1];

	make_history(fx, &hi, NULL);
	assert_int_equal(history_open(&h, fx->repo, 0), 0);
	assert_int_equal(history_log(&v, &n, h, "P1-A1", "timescale", 0, 0), 0);
	/* base's "Ongoing" and tom's "March": newest first. */
	assert_int_equal(n, 2);
	hex(t, &hi.theirs);
	assert_string_equal(v[0].who->commit, t);
	assert_string_equal(doc_str(v[0].old), "Ongoing");
	assert_string_equal(doc_str(v[0].new), "March");
	assert_null(v[1].old);
	history_changes_free(v, n);
	/* No change anywhere is credited to a merge that took sides. */
	assert_int_equal(history_log(&v, &n, h, NULL, NULL, 0, 0), 0);
	hex(m, &hi.merge);
	for (i = 0; i < n; i++)
		assert_string_not_equal(v[i].who->commit, m);
	history_changes_free(v, n);
	/* --since after tom's commit drops it. */
	assert_int_equal(
		history_log(&v, &n, h, "P1-A1", "timescale", fx->now - 250, 0),
		0);
	assert_int_equal(n, 0);
	history_changes_free(v, n);
	assert_int_equal(
		history_log(&v, &n, h, "P1-A7", NULL, 0, 0), ERROR_NOTFOUND);
	history_free(h);
}

static void test_history__merge_decision_credited_to_merge(void **state)
{
	struct fx *fx = *state;
	struct act own = { "done", "Ongoing", NULL, NULL };
	struct history *h = NULL;
	struct history_blame *v = NULL;
	struct history_change *c = NULL;
	struct hist hi;
	size_t n = 0, nc = 0;
	char want[GIT_OID_HEXSZ + 1];

	make_history(fx, &hi, &own);
	assert_int_equal(history_open(&h, fx->repo, 0), 0);
	assert_int_equal(history_blame(&v, &n, h, "P1-A2"), 0);
	hex(want, &hi.merge2);
	assert_string_equal(blame_of(v, n, "status")->who->commit, want);
	assert_true(blame_of(v, n, "status")->who->merge);
	history_blame_free(v, n);
	assert_int_equal(history_log(&c, &nc, h, "P1-A2", "status", 0, 0), 0);
	assert_int_equal(nc, 3);
	assert_string_equal(c[0].who->commit, want);
	assert_string_equal(doc_str(c[0].old), "planned");
	assert_string_equal(doc_str(c[0].new), "done");
	history_changes_free(c, nc);
	history_free(h);
}

/* Everything log and blame say, as text, to compare two histories. */
static char *render(struct history *h)
{
	struct history_change *v = NULL;
	struct history_blame *b = NULL;
	size_t n = 0, nb = 0, i, len = 0;
	char *out = calloc(1, 65536);
	const char *ids[] = { "P1-A1", "P1-A2" };
	size_t k;

	assert_non_null(out);
	assert_int_equal(history_log(&v, &n, h, NULL, NULL, 0, 0), 0);
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(
			out + len, 65536 - len, "%s %s %s %s\n",
			v[i].who->commit, v[i].action, v[i].field,
			v[i].new ? doc_str(v[i].new) : "-");
	history_changes_free(v, n);
	for (k = 0; k < 2; k++) {
		assert_int_equal(history_blame(&b, &nb, h, ids[k]), 0);
		for (i = 0; i < nb; i++)
			len += (size_t)snprintf(
				out + len, 65536 - len, "%s %s\n", b[i].field,
				b[i].who->commit);
		history_blame_free(b, nb);
	}
	return out;
}

static void index_file(char *buf, size_t size, struct fx *fx, const char *f)
{
	snprintf(buf, size, "%s/.git/plansync/history/%s", fx->path, f);
}

static void test_history__index_agrees_and_is_rebuilt(void **state)
{
	struct fx *fx = *state;
	struct act own = { "done", "Ongoing", NULL, NULL };
	struct history *h = NULL;
	struct hist hi;
	char *a, *b, path[400], *buf = NULL;
	size_t len, nodes = 0;

	make_history(fx, &hi, &own);
	assert_int_equal(history_open(&h, fx->repo, HISTORY_NO_INDEX), 0);
	a = render(h);
	history_free(h);
	index_file(path, sizeof(path), fx, "index");
	assert_int_equal(access(path, F_OK), -1); /* --no-index wrote none */

	assert_int_equal(history_index_update(fx->repo), 0);
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(history_open(&h, fx->repo, 0), 0);
	b = render(h);
	history_free(h);
	assert_string_equal(a, b);
	free(b);
	assert_int_equal(history_index_check(&nodes, fx->repo), 0);
	assert_true(nodes >= 5);

	/* Corrupt: garbage in the index file. */
	assert_int_equal(fsutil_write_atomic(path, "junk\n", 5, 0644), 0);
	assert_int_equal(history_open(&h, fx->repo, 0), 0);
	b = render(h);
	history_free(h);
	assert_string_equal(a, b);
	free(b);

	/* A lie that parses: a different author time on one line. */
	assert_int_equal(fsutil_read_file(&buf, &len, path, 1 << 20), 0);
	{
		char *sp = strchr(strchr(buf, ' ') + 1, ' ') + 1;

		sp[0] = sp[0] == '1' ? '2' : '1';
	}
	assert_int_equal(fsutil_write_atomic(path, buf, len, 0644), 0);
	free(buf);
	assert_int_equal(history_index_check(&nodes, fx->repo), ERROR_VERIFY);
	assert_int_equal(history_index_check(&nodes, fx->repo), 0);

	/* Deleted. */
	assert_int_equal(unlink(path), 0);
	index_file(path, sizeof(path), fx, "tip");
	assert_int_equal(unlink(path), 0);
	assert_int_equal(history_open(&h, fx->repo, 0), 0);
	b = render(h);
	history_free(h);
	assert_string_equal(a, b);
	free(b);
	free(a);
}

static void test_history__incremental_update_appends(void **state)
{
	struct fx *fx = *state;
	struct act x = { "done", "Soon", NULL, NULL };
	struct history *h = NULL;
	struct hist hi;
	git_oid head, next;
	char path[400], *buf = NULL, *first = NULL;
	size_t len1, len2;

	make_history(fx, &hi, NULL);
	assert_int_equal(history_index_update(fx->repo), 0);
	index_file(path, sizeof(path), fx, "index");
	assert_int_equal(fsutil_read_file(&first, &len1, path, 1 << 20), 0);
	assert_int_equal(git_reference_name_to_id(&head, fx->git, "HEAD"), 0);
	commit(&next, fx, "HEAD", &x, NULL, &head, 1, "jane");
	assert_int_equal(history_index_update(fx->repo), 0);
	assert_int_equal(fsutil_read_file(&buf, &len2, path, 1 << 20), 0);
	/* P1-A1 changed and P1-A2 deleted: two lines appended. */
	assert_true(len2 > len1);
	assert_memory_equal(buf, first, len1); /* appended, not rewritten */
	free(first);
	{
		size_t i, lines = 0;

		for (i = len1; i < len2; i++)
			lines += buf[i] == '\n';
		assert_int_equal(lines, 2);
	}
	free(buf);
	assert_int_equal(history_open(&h, fx->repo, 0), 0);
	/* base 2, theirs, ours, merge (takes from both), side2, +2 */
	assert_int_equal(history_node_count(h), 8);
	history_free(h);
}

/* ---- merge check -------------------------------------------------------- */

static void test_mergecheck__clean_merge_explained(void **state)
{
	struct fx *fx = *state;
	struct mergecheck_finding *f = NULL;
	struct hist hi;
	size_t n = 0, merges = 0, bad = 0;

	make_history(fx, &hi, NULL);
	assert_int_equal(mergecheck_commit(&f, &n, fx->git, &hi.merge), 0);
	assert_int_equal(n, 0);
	assert_int_equal(mergecheck_commit(&f, &n, fx->git, &hi.merge2), 0);
	assert_int_equal(n, 0);
	assert_int_equal(mergecheck_commit(&f, &n, fx->git, &hi.ours), 0);
	assert_int_equal(n, 0);
	assert_int_equal(
		mergecheck_range(
			&merges, &bad, fx->git, &hi.merge2, 1, NULL, NULL),
		0);
	assert_int_equal(merges, 2);
	assert_int_equal(bad, 0);
}

static void test_mergecheck__own_edit_reported(void **state)
{
	struct fx *fx = *state;
	struct act own = { "done", "Ongoing", NULL, NULL };
	struct mergecheck_finding *f = NULL;
	struct hist hi;
	size_t n = 0, merges = 0, bad = 0;

	make_history(fx, &hi, &own);
	assert_int_equal(mergecheck_commit(&f, &n, fx->git, &hi.merge2), 0);
	assert_int_equal(n, 1);
	assert_string_equal(f[0].path, "actions/P1/P1-A2.yaml");
	assert_string_equal(f[0].field, "status");
	assert_non_null(strstr(f[0].reason, "'done'"));
	mergecheck_findings_free(f, n);
	assert_int_equal(
		mergecheck_range(
			&merges, &bad, fx->git, &hi.merge2, 1, NULL, NULL),
		0);
	assert_int_equal(merges, 2);
	assert_int_equal(bad, 1);
}

static void test_mergecheck__dropped_side_change_reported(void **state)
{
	struct fx *fx = *state;
	struct act back = { "planned", "Ongoing", NULL, NULL };
	struct mergecheck_finding *f = NULL;
	struct hist hi;
	size_t n = 0;

	/* The merge silently undoes tom's signed change: not explained. */
	make_history(fx, &hi, &back);
	assert_int_equal(mergecheck_commit(&f, &n, fx->git, &hi.merge2), 0);
	assert_int_equal(n, 1);
	assert_string_equal(f[0].field, "status");
	mergecheck_findings_free(f, n);
}

static void test_mergecheck__conflict_either_side_explained(void **state)
{
	struct fx *fx = *state;
	struct act b = { "planned", "Ongoing", NULL, NULL };
	struct act o = { "done", "Ongoing", NULL, NULL };
	struct act t = { "on-hold", "Ongoing", NULL, NULL };
	struct act rec = { "done", "Ongoing", NULL,
			   "conflicts:\n  - field: status\n    base: planned\n"
			   "    kept: done\n    other: on-hold\n" };
	struct act fake = {
		"done", "Ongoing", NULL,
		"conflicts:\n  - field: timescale\n    base: Ongoing\n"
		"    kept: Ongoing\n    other: Never\n"
	};
	struct act third = {
		"in-progress", "Ongoing", NULL,
		"conflicts:\n  - field: status\n    base: planned\n"
		"    kept: in-progress\n    other: on-hold\n"
	};
	struct mergecheck_finding *f = NULL;
	git_oid base, ours, theirs, m, p[2];
	size_t n = 0;

	commit(&base, fx, "HEAD", &b, NULL, NULL, 0, "jane");
	commit(&theirs, fx, NULL, &t, NULL, &base, 1, "tom");
	commit(&ours, fx, "HEAD", &o, NULL, &base, 1, "jane");
	p[0] = ours;
	p[1] = theirs;
	/* Ours kept (as the git merge driver does), conflict recorded. */
	commit(&m, fx, NULL, &rec, NULL, p, 2, "jane");
	assert_int_equal(mergecheck_commit(&f, &n, fx->git, &m), 0);
	assert_int_equal(n, 0);
	/* A record about a field nobody changed: the merger's invention. */
	commit(&m, fx, NULL, &fake, NULL, p, 2, "jane");
	assert_int_equal(mergecheck_commit(&f, &n, fx->git, &m), 0);
	assert_int_equal(n, 1);
	assert_string_equal(f[0].field, "conflicts");
	mergecheck_findings_free(f, n);
	/* A third value in a conflicted field: neither side's. */
	commit(&m, fx, NULL, &third, NULL, p, 2, "jane");
	assert_int_equal(mergecheck_commit(&f, &n, fx->git, &m), 0);
	assert_true(n >= 1);
	assert_string_equal(f[0].field, "status");
	mergecheck_findings_free(f, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_history__blame_credits_the_commit_not_the_merge,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_history__log_through_merges, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_history__merge_decision_credited_to_merge, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_history__index_agrees_and_is_rebuilt, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_history__incremental_update_appends, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_mergecheck__clean_merge_explained, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_mergecheck__own_edit_reported, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_mergecheck__dropped_side_change_reported, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_mergecheck__conflict_either_side_explained, setup,
			teardown),
	};

	git_libgit2_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
