/*
 * tests/test_syncmerge.c: sync/merge on libgit2-made signed histories with
 * chosen author times: the kept value is the side whose latest change to
 * that field is later (a later change to another field of the same file
 * does not count), records name who and which commit, merges inside a
 * side are seen through, trees converge whichever side is ours, invalid
 * YAML and symlinks refuse, and syncmerge_commit verifies before it
 * writes.
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
#include <sodium.h>

#include "core/doc.h"
#include "core/error.h"
#include "core/key.h"
#include "core/merge.h"
#include "core/plan.h"
#include "helper_sign.h"
#include "sync/merge.h"
#include "sync/repo.h"

static const char PLAN[] = "schema: plansync/1\n"
			   "title: Test plan\n"
			   "partnership: Test partnership\n"
			   "updated: December 2023\n"
			   "priorities:\n"
			   "  - id: P1\n"
			   "    title: First\n";

static struct key *jane_k, *tom_k;

static const char *
action(const char *id, const char *status, const char *timescale)
{
	static char buf[4][512];
	static int k;

	k = (k + 1) % 4;
	/* the priority is the ID's first part */
	snprintf(
		buf[k], sizeof(buf[k]),
		"id: %s\npriority: %.*s\naction: Do %s\ninformation: \"\"\n"
		"status: %s\ntimescale: %s\nresponsible:\n  - NYP\n"
		"updates: []\n",
		id, (int)strcspn(id, "-"), id, id, status, timescale);
	return buf[k];
}

struct fx {
	char path[256];
	git_repository *git;
	git_oid base;
};

static int group_setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	git_libgit2_init();
	/* every merge here with sync/merge.c's heap warming beside it, and
	 * the index's checksum computed beside the work-file writes */
	setenv("PLANSYNC_TEST_WARM_ANY", "1", 1);
	setenv("PLANSYNC_TEST_PIPE_ANY", "1", 1);
	if (helper_sign_key_new(
		    &jane_k, "Jane Smith", "jane@nyp.example", "NYP") < 0 ||
	    helper_sign_key_new(&tom_k, "Tom Jones", "tom@cyc.example", "CYC") <
		    0)
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	key_free(jane_k);
	key_free(tom_k);
	git_libgit2_shutdown();
	return 0;
}

/* A commit on parent with path set to content (NULL removes), at time t. */
static git_oid
put(struct fx *fx,
    const git_oid *parent,
    const char *path,
    const char *content,
    const struct key *key,
    long long t)
{
	git_oid tree, ptree, id;
	struct helper_sign_commit c;

	if (parent)
		assert_int_equal(
			helper_sign_commit_tree(&ptree, fx->git, parent), 0);
	assert_int_equal(
		helper_sign_tree_put(
			&tree, fx->git, parent ? &ptree : NULL, path, content),
		0);
	memset(&c, 0, sizeof(c));
	c.tree = &tree;
	c.parents = parent;
	c.nparents = parent ? 1 : 0;
	c.key = key;
	c.time = t;
	assert_int_equal(helper_sign_commit(&id, fx->git, &c), 0);
	return id;
}

static git_oid
merge2(struct fx *fx,
       const git_oid *p1,
       const git_oid *p2,
       const git_oid *tree,
       const struct key *key,
       long long t)
{
	git_oid parents[2], id;
	struct helper_sign_commit c;

	parents[0] = *p1;
	parents[1] = *p2;
	memset(&c, 0, sizeof(c));
	c.tree = tree;
	c.parents = parents;
	c.nparents = 2;
	c.key = key;
	c.time = t;
	assert_int_equal(helper_sign_commit(&id, fx->git, &c), 0);
	return id;
}

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	struct helper_sign_partner p[2];
	char *partners;
	git_oid id;

	assert_non_null(fx);
	assert_int_equal(
		helper_sign_repo_new(&fx->git, fx->path, sizeof(fx->path)), 0);
	memset(p, 0, sizeof(p));
	p[0].key = jane_k;
	p[0].role = "coordinator";
	p[1].key = tom_k;
	p[1].role = "editor";
	partners = helper_sign_partners_yaml(p, 2);
	id = put(fx, NULL, "partners.yaml", partners, jane_k, 1000);
	free(partners);
	id = put(fx, &id, "plan.yaml", PLAN, jane_k, 1001);
	id =
		put(fx, &id, "actions/P1/P1-A1.yaml",
		    action("P1-A1", "planned", "Ongoing"), jane_k, 1002);
	fx->base =
		put(fx, &id, "actions/P1/P1-A2.yaml",
		    action("P1-A2", "planned", "Ongoing"), jane_k, 1003);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	git_repository_free(fx->git);
	helper_sign_rmrf(fx->path);
	free(fx);
	return 0;
}

/* The blob at path in tree tree_id (to git_blob_free). */
static git_blob *
blob_at(struct fx *fx, const git_oid *tree_id, const char *path)
{
	git_tree *tree = NULL;
	git_tree_entry *e = NULL;
	git_blob *blob = NULL;

	assert_int_equal(git_tree_lookup(&tree, fx->git, tree_id), 0);
	assert_int_equal(git_tree_entry_bypath(&e, tree, path), 0);
	assert_int_equal(
		git_blob_lookup(&blob, fx->git, git_tree_entry_id(e)), 0);
	git_tree_entry_free(e);
	git_tree_free(tree);
	return blob;
}

/* The checked action at path in tree id. */
static struct doc_node *
load(struct fx *fx, const git_oid *tree_id, const char *path)
{
	git_blob *blob = blob_at(fx, tree_id, path);
	struct doc_node *doc = NULL;

	assert_int_equal(
		plan_parse(
			&doc, PLAN_FILE_ACTION, path, git_blob_rawcontent(blob),
			(size_t)git_blob_rawsize(blob)),
		0);
	git_blob_free(blob);
	return doc;
}

static const char *get(const struct doc_node *doc, const char *path)
{
	const struct doc_node *v = NULL;

	if (plan_field_get(&v, doc, path) < 0)
		return NULL;
	return doc_str(v);
}

static const char *rec(const struct doc_node *doc, size_t i, const char *key)
{
	const struct doc_node *c = doc_map_get(doc, "conflicts");

	if (!c || c->kind != DOC_SEQ || i >= c->n)
		return NULL;
	return doc_str(doc_map_get(c->items[i], key));
}

static void hex(char *buf, const git_oid *id)
{
	git_oid_tostr(buf, 41, id);
}

/* Merge both ways: same tree; return it. */
static git_oid both_ways(
	struct fx *fx,
	const git_oid *a,
	const git_oid *b,
	struct syncmerge_stats *stats)
{
	git_oid t1, t2;
	struct syncmerge_stats s2 = SYNCMERGE_STATS_INIT;

	assert_int_equal(
		syncmerge_trees(&t1, stats, fx->git, &fx->base, a, b), 0);
	assert_int_equal(
		syncmerge_trees(&t2, &s2, fx->git, &fx->base, b, a), 0);
	assert_true(git_oid_equal(&t1, &t2));
	assert_int_equal(stats->nconflicts, s2.nconflicts);
	syncmerge_stats_release(&s2);
	/* sync/merge builds the merged tree's raw objects itself: the same
	 * tree as libgit2's tree builder makes */
	setenv("PLANSYNC_TEST_TREE_LIBGIT2", "1", 1);
	assert_int_equal(
		syncmerge_trees(&t2, NULL, fx->git, &fx->base, a, b), 0);
	unsetenv("PLANSYNC_TEST_TREE_LIBGIT2");
	assert_true(git_oid_equal(&t1, &t2));
	return t1;
}

static void test_syncmerge__later_change_wins_and_is_recorded(void **state)
{
	struct fx *fx = *state;
	struct syncmerge_stats st = SYNCMERGE_STATS_INIT;
	struct doc_node *doc;
	git_oid a, b, tree;
	char ha[41], hb[41];

	a = put(fx, &fx->base, "actions/P1/P1-A1.yaml",
		action("P1-A1", "done", "Ongoing"), jane_k, 2000);
	b = put(fx, &fx->base, "actions/P1/P1-A1.yaml",
		action("P1-A1", "on-hold", "Ongoing"), tom_k, 3000);
	tree = both_ways(fx, &a, &b, &st);
	assert_int_equal(st.nconflicts, 1);
	doc = load(fx, &tree, "actions/P1/P1-A1.yaml");
	assert_string_equal(get(doc, "status"), "on-hold");
	hex(ha, &a);
	hex(hb, &b);
	assert_string_equal(rec(doc, 0, "field"), "status");
	assert_string_equal(rec(doc, 0, "base"), "planned");
	assert_string_equal(rec(doc, 0, "kept"), "on-hold");
	assert_string_equal(rec(doc, 0, "kept_by"), "tom@cyc.example");
	assert_string_equal(rec(doc, 0, "kept_commit"), hb);
	assert_string_equal(rec(doc, 0, "other"), "done");
	assert_string_equal(rec(doc, 0, "other_by"), "jane@nyp.example");
	assert_string_equal(rec(doc, 0, "other_commit"), ha);
	doc_free(doc);
	syncmerge_stats_release(&st);
}

/* path in tree keeps status from commit kept, its record naming other. */
static void assert_kept(
	struct fx *fx,
	const git_oid *tree,
	const char *path,
	const char *status,
	const git_oid *kept,
	const git_oid *other)
{
	struct doc_node *doc = load(fx, tree, path);
	char hk[41], ho[41];

	hex(hk, kept);
	hex(ho, other);
	assert_string_equal(get(doc, "status"), status);
	assert_string_equal(rec(doc, 0, "kept_commit"), hk);
	assert_string_equal(rec(doc, 0, "other_commit"), ho);
	doc_free(doc);
}

/*
 * Two actions of one folder changed on both sides, each kept from the
 * side that changed it last: the walk finds both in every version of
 * the folder it reads (it stops reading a version once it has them).
 */
static void test_syncmerge__two_in_one_folder_each_later_wins(void **state)
{
	struct fx *fx = *state;
	struct syncmerge_stats st = SYNCMERGE_STATS_INIT;
	git_oid a, b, tree, a1, a2, b1, b2;

	a1 =
		put(fx, &fx->base, "actions/P1/P1-A1.yaml",
		    action("P1-A1", "done", "Ongoing"), jane_k, 2000);
	a2 =
		put(fx, &a1, "actions/P1/P1-A2.yaml",
		    action("P1-A2", "done", "Ongoing"), jane_k, 4000);
	b1 =
		put(fx, &fx->base, "actions/P1/P1-A1.yaml",
		    action("P1-A1", "on-hold", "Ongoing"), tom_k, 3000);
	b2 =
		put(fx, &b1, "actions/P1/P1-A2.yaml",
		    action("P1-A2", "on-hold", "Ongoing"), tom_k, 3001);
	a = a2;
	b = b2;
	tree = both_ways(fx, &a, &b, &st);
	assert_int_equal(st.nconflicts, 2);
	assert_kept(fx, &tree, "actions/P1/P1-A1.yaml", "on-hold", &b1, &a1);
	assert_kept(fx, &tree, "actions/P1/P1-A2.yaml", "done", &a2, &b2);
	syncmerge_stats_release(&st);
}

static void test_syncmerge__earlier_change_loses_either_way(void **state)
{
	struct fx *fx = *state;
	struct syncmerge_stats st = SYNCMERGE_STATS_INIT;
	struct doc_node *doc;
	git_oid a, b, tree;

	/* Same as above with the times swapped: Jane's is later now. */
	a = put(fx, &fx->base, "actions/P1/P1-A1.yaml",
		action("P1-A1", "done", "Ongoing"), jane_k, 3000);
	b = put(fx, &fx->base, "actions/P1/P1-A1.yaml",
		action("P1-A1", "on-hold", "Ongoing"), tom_k, 2000);
	tree = both_ways(fx, &a, &b, &st);
	doc = load(fx, &tree, "actions/P1/P1-A1.yaml");
	assert_string_equal(get(doc, "status"), "done");
	assert_string_equal(rec(doc, 0, "kept_by"), "jane@nyp.example");
	assert_string_equal(rec(doc, 0, "other"), "on-hold");
	doc_free(doc);
	syncmerge_stats_release(&st);
}

static void test_syncmerge__only_changes_to_that_field_count(void **state)
{
	struct fx *fx = *state;
	struct syncmerge_stats st = SYNCMERGE_STATS_INIT;
	struct doc_node *doc;
	git_oid a, b, tree;
	char ha[41];

	/* Jane: status at 2000, then timescale at 4000 (same file).  Tom:
	 * status at 3000.  Tom's status change is the later one. */
	a = put(fx, &fx->base, "actions/P1/P1-A1.yaml",
		action("P1-A1", "done", "Ongoing"), jane_k, 2000);
	hex(ha, &a);
	a = put(fx, &a, "actions/P1/P1-A1.yaml",
		action("P1-A1", "done", "March 2024"), jane_k, 4000);
	b = put(fx, &fx->base, "actions/P1/P1-A1.yaml",
		action("P1-A1", "on-hold", "Ongoing"), tom_k, 3000);
	tree = both_ways(fx, &a, &b, &st);
	doc = load(fx, &tree, "actions/P1/P1-A1.yaml");
	assert_string_equal(get(doc, "status"), "on-hold");
	assert_string_equal(get(doc, "timescale"), "March 2024");
	assert_string_equal(rec(doc, 0, "other_commit"), ha);
	assert_int_equal(st.nconflicts, 1);
	assert_int_equal(st.both, 1);
	doc_free(doc);
	syncmerge_stats_release(&st);
}

static void test_syncmerge__merges_inside_a_side(void **state)
{
	struct fx *fx = *state;
	struct syncmerge_stats st = SYNCMERGE_STATS_INIT;
	struct doc_node *doc;
	git_oid a1, a2, a, b, tree;
	char ha1[41];

	/* Side a: a1 sets status (t 3000), a2 (a branch of a) sets P1-A2;
	 * then a merge of the two at t 5000 that changes no field of its
	 * own.  The status change is credited to a1, not the merge. */
	a1 =
		put(fx, &fx->base, "actions/P1/P1-A1.yaml",
		    action("P1-A1", "done", "Ongoing"), jane_k, 3000);
	hex(ha1, &a1);
	a2 =
		put(fx, &fx->base, "actions/P1/P1-A2.yaml",
		    action("P1-A2", "done", "Ongoing"), jane_k, 3100);
	assert_int_equal(helper_sign_commit_tree(&tree, fx->git, &a1), 0);
	{
		git_oid t2;

		assert_int_equal(
			helper_sign_tree_put(
				&t2, fx->git, &tree, "actions/P1/P1-A2.yaml",
				action("P1-A2", "done", "Ongoing")),
			0);
		a = merge2(fx, &a1, &a2, &t2, jane_k, 5000);
	}
	/* Tom changes status at 4000: later than a1, earlier than the
	 * merge; he wins. */
	b = put(fx, &fx->base, "actions/P1/P1-A1.yaml",
		action("P1-A1", "on-hold", "Ongoing"), tom_k, 4000);
	tree = both_ways(fx, &a, &b, &st);
	doc = load(fx, &tree, "actions/P1/P1-A1.yaml");
	assert_string_equal(get(doc, "status"), "on-hold");
	assert_string_equal(rec(doc, 0, "other_commit"), ha1);
	doc_free(doc);
	doc = load(fx, &tree, "actions/P1/P1-A2.yaml");
	assert_string_equal(get(doc, "status"), "done");
	doc_free(doc);
	syncmerge_stats_release(&st);
}

/* Tree `tree` with path set to its version in commit `from`. */
static git_oid copy_file(
	struct fx *fx,
	const git_oid *tree,
	const git_oid *from,
	const char *path)
{
	git_blob *blob;
	git_oid tid, out;
	char text[512];

	assert_int_equal(helper_sign_commit_tree(&tid, fx->git, from), 0);
	blob = blob_at(fx, &tid, path);
	snprintf(
		text, sizeof(text), "%.*s", (int)git_blob_rawsize(blob),
		(const char *)git_blob_rawcontent(blob));
	assert_int_equal(
		helper_sign_tree_put(&out, fx->git, tree, path, text), 0);
	git_blob_free(blob);
	return out;
}

/*
 * The who-changed-it walk over a side of four branches whose commits are
 * interleaved in time (so the walk takes them in turn, meeting each
 * commit's tree long after its child's), each editing its own priority
 * folder, joined by merges: each file's last status change on that side
 * is credited, whatever order the walk meets the versions in.
 */
static void test_syncmerge__walk_across_branches_and_folders(void **state)
{
	static const char *const st3[] = { "done", "in-progress", "ongoing" };
	struct fx *fx = *state;
	struct syncmerge_stats st = SYNCMERGE_STATS_INIT;
	struct doc_node *doc;
	git_oid id, tip[4], m01, m23, tree, t2, b;
	char path[5][64], text[512], want[41], hl[5][41];
	const char *lastst[5];
	int k, i, br;
	long long t = 3000;

	/* P2..P4 hold one action each in the base too */
	id = fx->base;
	for (k = 1; k <= 4; k++)
		snprintf(
			path[k], sizeof(path[k]), "actions/P%d/P%d-A1.yaml", k,
			k);
	for (k = 2; k <= 4; k++) {
		snprintf(
			text, sizeof(text),
			"id: P%d-A1\npriority: P%d\naction: Do it\n"
			"information: \"\"\nstatus: planned\n"
			"timescale: Ongoing\nresponsible:\n  - NYP\n"
			"updates: []\n",
			k, k);
		id = put(fx, &id, path[k], text, jane_k, 1100 + k);
	}
	fx->base = id;
	/* side a: branch br edits P<br+1>, five rounds, in turn */
	for (br = 0; br < 4; br++)
		tip[br] = fx->base;
	for (i = 0; i < 5; i++)
		for (br = 0; br < 4; br++) {
			k = br + 1;
			lastst[k] = st3[(i + k) % 3];
			snprintf(
				text, sizeof(text),
				"id: P%d-A1\npriority: P%d\naction: Do it\n"
				"information: \"\"\nstatus: %s\n"
				"timescale: Round %d\nresponsible:\n  - NYP\n"
				"updates: []\n",
				k, k, lastst[k], i);
			tip[br] = put(fx, &tip[br], path[k], text, jane_k, t++);
			hex(hl[k], &tip[br]);
		}
	assert_int_equal(helper_sign_commit_tree(&tree, fx->git, &tip[0]), 0);
	tree = copy_file(fx, &tree, &tip[1], path[2]);
	m01 = merge2(fx, &tip[0], &tip[1], &tree, jane_k, t++);
	assert_int_equal(helper_sign_commit_tree(&t2, fx->git, &tip[2]), 0);
	t2 = copy_file(fx, &t2, &tip[3], path[4]);
	m23 = merge2(fx, &tip[2], &tip[3], &t2, jane_k, t++);
	tree = copy_file(fx, &tree, &tip[2], path[3]);
	tree = copy_file(fx, &tree, &tip[3], path[4]);
	id = merge2(fx, &m01, &m23, &tree, jane_k, t++);
	/* side b: every status on hold, earlier than all of side a */
	b = fx->base;
	for (k = 1; k <= 4; k++) {
		snprintf(
			text, sizeof(text),
			"id: P%d-A1\npriority: P%d\naction: Do it\n"
			"information: \"\"\nstatus: on-hold\n"
			"timescale: Ongoing\nresponsible:\n  - NYP\n"
			"updates: []\n",
			k, k);
		b = put(fx, &b, path[k], text, tom_k, 2000 + k);
	}
	tree = both_ways(fx, &id, &b, &st);
	assert_int_equal(st.nconflicts, 4);
	for (k = 1; k <= 4; k++) {
		doc = load(fx, &tree, path[k]);
		assert_string_equal(get(doc, "status"), lastst[k]);
		snprintf(want, sizeof(want), "%s", hl[k]);
		assert_string_equal(rec(doc, 0, "field"), "status");
		assert_string_equal(rec(doc, 0, "kept_commit"), want);
		assert_string_equal(rec(doc, 0, "other"), "on-hold");
		doc_free(doc);
	}
	syncmerge_stats_release(&st);
}

static void test_syncmerge__one_side_and_identical_changes(void **state)
{
	struct fx *fx = *state;
	struct syncmerge_stats st = SYNCMERGE_STATS_INIT;
	git_oid a, b, tree, ta, tb;

	/* Both sides make the same change and a has one more file: the
	 * result is a's tree exactly, with no conflict. */
	a = put(fx, &fx->base, "actions/P1/P1-A1.yaml",
		action("P1-A1", "done", "Ongoing"), jane_k, 2000);
	b = put(fx, &fx->base, "actions/P1/P1-A1.yaml",
		action("P1-A1", "done", "Ongoing"), tom_k, 2001);
	a = put(fx, &a, "actions/P1/P1-A3.yaml",
		action("P1-A3", "planned", "Soon"), jane_k, 2002);
	tree = both_ways(fx, &a, &b, &st);
	assert_int_equal(helper_sign_commit_tree(&ta, fx->git, &a), 0);
	assert_int_equal(helper_sign_commit_tree(&tb, fx->git, &b), 0);
	assert_true(git_oid_equal(&tree, &ta));
	assert_false(git_oid_equal(&tree, &tb));
	assert_int_equal(st.nconflicts, 0);
	syncmerge_stats_release(&st);
}

/* Files removed and added on each side, a folder emptied and new ones:
 * the merged tree (built by sync/merge itself) is libgit2's (both_ways)
 * and has exactly the files both sides leave. */
static void test_syncmerge__removals_and_new_folders(void **state)
{
	struct fx *fx = *state;
	struct syncmerge_stats st = SYNCMERGE_STATS_INIT;
	git_oid a, b, tree;
	git_tree *t = NULL;
	git_tree_entry *e = NULL;
	static const char *const gone[] = { "actions/P1/P1-A1.yaml",
					    "actions/P1/P1-A2.yaml",
					    "actions/P1" };
	static const char *const kept[] = { "actions/P2/P2-A1.yaml",
					    "actions/P3/P3-A1.yaml",
					    "actions/P10/P10-A1.yaml",
					    "plan.yaml" };
	size_t i;

	a = put(fx, &fx->base, "actions/P1/P1-A1.yaml", NULL, jane_k, 2000);
	a = put(fx, &a, "actions/P3/P3-A1.yaml",
		action("P3-A1", "planned", "Soon"), jane_k, 2001);
	b = put(fx, &fx->base, "actions/P1/P1-A2.yaml", NULL, tom_k, 2002);
	b = put(fx, &b, "actions/P2/P2-A1.yaml",
		action("P2-A1", "planned", "Soon"), tom_k, 2003);
	b = put(fx, &b, "actions/P10/P10-A1.yaml",
		action("P10-A1", "planned", "Soon"), tom_k, 2004);
	tree = both_ways(fx, &a, &b, &st);
	assert_int_equal(st.nconflicts, 0);
	assert_int_equal(git_tree_lookup(&t, fx->git, &tree), 0);
	for (i = 0; i < sizeof(gone) / sizeof(gone[0]); i++)
		assert_int_equal(
			git_tree_entry_bypath(&e, t, gone[i]), GIT_ENOTFOUND);
	for (i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
		assert_int_equal(git_tree_entry_bypath(&e, t, kept[i]), 0);
		git_tree_entry_free(e);
	}
	git_tree_free(t);
	syncmerge_stats_release(&st);
}

/* The bytes of path in tree id are text. */
static void assert_file(
	struct fx *fx,
	const git_oid *tree_id,
	const char *path,
	const char *text)
{
	git_blob *blob = blob_at(fx, tree_id, path);

	assert_int_equal(git_blob_rawsize(blob), strlen(text));
	assert_memory_equal(git_blob_rawcontent(blob), text, strlen(text));
	git_blob_free(blob);
}

/*
 * Folders both sides change are rebuilt and hashed by sync/merge: with
 * core/sha1 where every entry is at most 60 bytes (names up to 32), with
 * libgit2's collision-detecting SHA-1 where one is longer (33).  Either
 * way the id is the one libgit2's tree builder gives (both_ways).
 */
static void test_syncmerge__rebuilt_folders_hash_as_git(void **state)
{
	struct fx *fx = *state;
	struct syncmerge_stats st = SYNCMERGE_STATS_INIT;
	static const char n32[] = "name-of-exactly-32-bytes-long.md";
	static const char n33[] = "name-of-exactly-33-bytes-long.txt";
	git_oid a, b, tree;
	int k;

	assert_int_equal(strlen(n32), 32);
	assert_int_equal(strlen(n33), 33);
	for (k = 0; k < 2; k++) {
		const char *name = k ? n33 : n32;

		fx->base = put(fx, &fx->base, name, "one\n", jane_k, 1100 + k);
		fx->base =
			put(fx, &fx->base, "a.txt", k ? "1\n" : "0\n", jane_k,
			    1102 + k);
		a = put(fx, &fx->base, name, "two\n", jane_k, 2000 + k);
		a = put(fx, &a, "actions/P1/P1-A1.yaml",
			action("P1-A1", k ? "done" : "on-hold", "Ongoing"),
			jane_k, 2002 + k);
		b = put(fx, &fx->base, "a.txt", "three\n", tom_k, 2004 + k);
		b = put(fx, &b, "actions/P1/P1-A2.yaml",
			action("P1-A2", k ? "done" : "on-hold", "Ongoing"),
			tom_k, 2006 + k);
		tree = both_ways(fx, &a, &b, &st);
		assert_int_equal(st.nconflicts, 0);
		assert_file(fx, &tree, name, "two\n");
		assert_file(fx, &tree, "a.txt", "three\n");
		syncmerge_stats_release(&st);
	}
}

static void test_syncmerge__same_new_id_renumbered(void **state)
{
	struct fx *fx = *state;
	struct syncmerge_stats st = SYNCMERGE_STATS_INIT;
	struct doc_node *d3, *d4;
	git_oid a, b, tree;

	a = put(fx, &fx->base, "actions/P1/P1-A3.yaml",
		action("P1-A3", "planned", "Jane's"), jane_k, 2000);
	b = put(fx, &fx->base, "actions/P1/P1-A3.yaml",
		action("P1-A3", "planned", "Tom's"), tom_k, 3000);
	tree = both_ways(fx, &a, &b, &st);
	assert_int_equal(st.nrenumbered, 1);
	assert_string_equal(st.renumbered[0].old_id, "P1-A3");
	assert_string_equal(st.renumbered[0].new_id, "P1-A4");
	d3 = load(fx, &tree, "actions/P1/P1-A3.yaml");
	d4 = load(fx, &tree, "actions/P1/P1-A4.yaml");
	/* Tom's is later: it keeps the ID */
	assert_string_equal(get(d3, "timescale"), "Tom's");
	assert_string_equal(get(d4, "timescale"), "Jane's");
	assert_string_equal(doc_str(doc_map_get(d4, "id")), "P1-A4");
	doc_free(d3);
	doc_free(d4);
	syncmerge_stats_release(&st);
}

static void test_syncmerge__invalid_yaml_refuses(void **state)
{
	struct fx *fx = *state;
	git_oid a, b, tree;

	a = put(fx, &fx->base, "actions/P1/P1-A1.yaml",
		action("P1-A1", "done", "Ongoing"), jane_k, 2000);
	b = put(fx, &fx->base, "actions/P1/P1-A2.yaml",
		"id: P1-A2\nstatus: [\n", tom_k, 3000);
	assert_int_equal(
		syncmerge_trees(&tree, NULL, fx->git, &fx->base, &a, &b),
		ERROR_INVALID);
	assert_non_null(strstr(error_message(), "actions/P1/P1-A2.yaml"));
	/* on either side */
	assert_int_equal(
		syncmerge_trees(&tree, NULL, fx->git, &fx->base, &b, &a),
		ERROR_INVALID);
	/* a status outside the schema, too */
	b = put(fx, &fx->base, "actions/P1/P1-A2.yaml",
		action("P1-A2", "finished", "Ongoing"), tom_k, 3000);
	assert_int_equal(
		syncmerge_trees(&tree, NULL, fx->git, &fx->base, &a, &b),
		ERROR_INVALID);
	/* deleting plan.yaml */
	b = put(fx, &fx->base, "plan.yaml", NULL, tom_k, 3000);
	assert_int_equal(
		syncmerge_trees(&tree, NULL, fx->git, &fx->base, &a, &b),
		ERROR_INVALID);
	assert_non_null(strstr(error_message(), "deletes 'plan.yaml'"));
	/* and a file outside the layout under actions/ */
	b = put(fx, &fx->base, "actions/P1/notes.txt", "hello\n", tom_k, 3000);
	assert_int_equal(
		syncmerge_trees(&tree, NULL, fx->git, &fx->base, &a, &b),
		ERROR_INVALID);
}

static void test_syncmerge__symlink_refuses(void **state)
{
	struct fx *fx = *state;
	git_treebuilder *bld = NULL;
	git_tree *tree = NULL, *sub = NULL, *sub2 = NULL;
	git_oid a, b, link, t, s1, s2, out;
	struct helper_sign_commit c;
	git_tree_entry *e = NULL;

	a = put(fx, &fx->base, "actions/P1/P1-A1.yaml",
		action("P1-A1", "done", "Ongoing"), jane_k, 2000);
	/* b: actions/P1/P1-A2.yaml becomes a symlink */
	assert_int_equal(
		git_blob_create_from_buffer(&link, fx->git, "/etc/passwd", 11),
		0);
	assert_int_equal(helper_sign_commit_tree(&t, fx->git, &fx->base), 0);
	assert_int_equal(git_tree_lookup(&tree, fx->git, &t), 0);
	assert_int_equal(git_tree_entry_bypath(&e, tree, "actions/P1"), 0);
	assert_int_equal(
		git_tree_lookup(&sub, fx->git, git_tree_entry_id(e)), 0);
	assert_int_equal(git_treebuilder_new(&bld, fx->git, sub), 0);
	assert_int_equal(
		git_treebuilder_insert(
			NULL, bld, "P1-A2.yaml", &link, GIT_FILEMODE_LINK),
		0);
	assert_int_equal(git_treebuilder_write(&s1, bld), 0);
	git_treebuilder_free(bld);
	git_tree_entry_free(e);
	assert_int_equal(git_tree_entry_bypath(&e, tree, "actions"), 0);
	assert_int_equal(
		git_tree_lookup(&sub2, fx->git, git_tree_entry_id(e)), 0);
	assert_int_equal(git_treebuilder_new(&bld, fx->git, sub2), 0);
	assert_int_equal(
		git_treebuilder_insert(NULL, bld, "P1", &s1, GIT_FILEMODE_TREE),
		0);
	assert_int_equal(git_treebuilder_write(&s2, bld), 0);
	git_treebuilder_free(bld);
	assert_int_equal(git_treebuilder_new(&bld, fx->git, tree), 0);
	assert_int_equal(
		git_treebuilder_insert(
			NULL, bld, "actions", &s2, GIT_FILEMODE_TREE),
		0);
	assert_int_equal(git_treebuilder_write(&t, bld), 0);
	git_treebuilder_free(bld);
	memset(&c, 0, sizeof(c));
	c.tree = &t;
	c.parents = &fx->base;
	c.nparents = 1;
	c.key = tom_k;
	c.time = 3000;
	assert_int_equal(helper_sign_commit(&b, fx->git, &c), 0);
	assert_int_equal(
		syncmerge_trees(&out, NULL, fx->git, &fx->base, &a, &b),
		ERROR_INVALID);
	assert_non_null(strstr(error_message(), "not a regular file"));
	git_tree_entry_free(e);
	git_tree_free(sub);
	git_tree_free(sub2);
	git_tree_free(tree);
}

static void test_syncmerge__commit_verifies_first(void **state)
{
	struct fx *fx = *state;
	struct repo *repo = NULL;
	struct syncmerge_report rep = SYNCMERGE_REPORT_INIT;
	struct helper_sign_commit c;
	git_oid a, b, tree, head_before;
	git_reference *ref = NULL;
	char before[41];

	/* main at a (checked out), theirs: an unsigned commit on the base */
	a = put(fx, &fx->base, "actions/P1/P1-A1.yaml",
		action("P1-A1", "done", "Ongoing"), jane_k, 2000);
	assert_int_equal(
		helper_sign_set_ref(fx->git, "refs/heads/main", &a), 0);
	{
		git_checkout_options co;

		git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
		co.checkout_strategy = GIT_CHECKOUT_FORCE;
		assert_int_equal(git_checkout_head(fx->git, &co), 0);
	}
	assert_int_equal(helper_sign_commit_tree(&tree, fx->git, &fx->base), 0);
	assert_int_equal(
		helper_sign_tree_put(
			&tree, fx->git, &tree, "actions/P1/P1-A2.yaml",
			action("P1-A2", "done", "Ongoing")),
		0);
	memset(&c, 0, sizeof(c));
	c.tree = &tree;
	c.parents = &fx->base;
	c.nparents = 1;
	c.email = "tom@cyc.example";
	c.name = "Tom";
	c.key = NULL; /* unsigned */
	assert_int_equal(helper_sign_commit(&b, fx->git, &c), 0);
	assert_int_equal(repo_open(&repo, fx->path, 1), 0);
	assert_int_equal(
		syncmerge_commit(&rep, repo, jane_k, &b, "theirs"),
		ERROR_VERIFY);
	assert_non_null(strstr(error_message(), "unsigned"));
	assert_int_equal(
		git_reference_lookup(&ref, fx->git, "refs/heads/main"), 0);
	head_before = *git_reference_target(ref);
	assert_true(git_oid_equal(&head_before, &a));
	git_reference_free(ref);
	hex(before, &a);
	(void)before;

	/* signed by Tom: merges, two parents, HEAD moves */
	b = put(fx, &fx->base, "actions/P1/P1-A2.yaml",
		action("P1-A2", "done", "Ongoing"), tom_k, 2500);
	syncmerge_report_release(&rep);
	assert_int_equal(syncmerge_commit(&rep, repo, jane_k, &b, "theirs"), 0);
	assert_int_equal(rep.kind, SYNCMERGE_MERGED);
	assert_int_equal(rep.verified, 1);
	{
		git_commit *m = NULL;
		git_oid mid;

		assert_int_equal(git_oid_fromstr(&mid, rep.commit), 0);
		assert_int_equal(git_commit_lookup(&m, fx->git, &mid), 0);
		assert_int_equal(git_commit_parentcount(m), 2);
		assert_true(git_oid_equal(git_commit_parent_id(m, 0), &a));
		assert_true(git_oid_equal(git_commit_parent_id(m, 1), &b));
		git_commit_free(m);
	}
	/* again: nothing to do */
	syncmerge_report_release(&rep);
	assert_int_equal(syncmerge_commit(&rep, repo, jane_k, &b, "theirs"), 0);
	assert_int_equal(rep.kind, SYNCMERGE_UP_TO_DATE);
	syncmerge_report_release(&rep);
	repo_free(repo);
}

/* ---- properties on random histories -------------------------------------- */

static uint32_t rng_state = 12345;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state % n;
}

static const char *const STATUSES[] = { "planned", "in-progress", "ongoing",
					"on-hold", "done" };
static const char *const SCALES[] = { "Ongoing", "March 2024", "June 2024",
				      "Soon" };

struct version {
	const char *status, *timescale;
};

static const char *value_of(
	struct fx *fx,
	const git_oid *commit,
	const char *id,
	const char *field,
	char *buf,
	size_t size)
{
	git_oid tree;
	struct doc_node *doc;
	char path[64];

	assert_int_equal(helper_sign_commit_tree(&tree, fx->git, commit), 0);
	snprintf(path, sizeof(path), "actions/P1/%s.yaml", id);
	doc = load(fx, &tree, path);
	snprintf(buf, size, "%s", get(doc, field));
	doc_free(doc);
	return buf;
}

static int has_record(
	const struct doc_node *doc,
	const char *field,
	const char *kept,
	const char *other)
{
	const struct doc_node *c = doc_map_get(doc, "conflicts");
	size_t i;

	for (i = 0; c && c->kind == DOC_SEQ && i < c->n; i++)
		if (!strcmp(doc_str(doc_map_get(c->items[i], "field")),
			    field) &&
		    !strcmp(doc_str(doc_map_get(c->items[i], "kept")), kept) &&
		    !strcmp(doc_str(doc_map_get(c->items[i], "other")), other))
			return 1;
	return 0;
}

static void test_syncmerge__random_histories_converge_lose_nothing(void **state)
{
	struct fx *fx = *state;
	static const char *const ids[] = { "P1-A1", "P1-A2" };
	static const char *const fields[] = { "status", "timescale" };
	struct version cur[2][2];
	git_oid tip[2], tree, t2, m;
	struct syncmerge_stats st = SYNCMERGE_STATS_INIT;
	struct doc_node *doc;
	char b[64], o[64], t[64], r[64], path[64];
	int round, side, k, n, a, f;
	long long now = 2000;

	for (round = 0; round < 40; round++) {
		for (side = 0; side < 2; side++) {
			tip[side] = fx->base;
			for (a = 0; a < 2; a++) {
				cur[side][a].status = "planned";
				cur[side][a].timescale = "Ongoing";
			}
			n = 1 + (int)rnd(4);
			for (k = 0; k < n; k++) {
				a = (int)rnd(2);
				f = (int)rnd(2);
				if (f == 0)
					cur[side][a].status = STATUSES[rnd(5)];
				else
					cur[side][a].timescale = SCALES[rnd(4)];
				snprintf(
					path, sizeof(path),
					"actions/P1/%s.yaml", ids[a]);
				tip[side] =
					put(fx, &tip[side], path,
					    action(ids[a], cur[side][a].status,
						   cur[side][a].timescale),
					    side ? tom_k : jane_k,
					    now + (long long)rnd(50));
			}
		}
		now += 100;
		tree = both_ways(fx, &tip[0], &tip[1], &st);
		for (a = 0; a < 2; a++) {
			snprintf(
				path, sizeof(path), "actions/P1/%s.yaml",
				ids[a]);
			doc = load(fx, &tree, path);
			for (f = 0; f < 2; f++) {
				value_of(
					fx, &fx->base, ids[a], fields[f], b,
					sizeof(b));
				value_of(
					fx, &tip[0], ids[a], fields[f], o,
					sizeof(o));
				value_of(
					fx, &tip[1], ids[a], fields[f], t,
					sizeof(t));
				snprintf(
					r, sizeof(r), "%s",
					get(doc, fields[f]));
				if (!strcmp(o, t) || !strcmp(t, b)) {
					assert_string_equal(r, o);
				} else if (!strcmp(o, b)) {
					assert_string_equal(r, t);
				} else {
					/* both changed, differently: one
					 * kept, the other recorded */
					assert_true(
						(!strcmp(r, o) &&
						 has_record(
							 doc, fields[f], o,
							 t)) ||
						(!strcmp(r, t) &&
						 has_record(
							 doc, fields[f], t,
							 o)));
				}
			}
			doc_free(doc);
		}
		/* idempotence: the merge commit merged with theirs again */
		m = merge2(fx, &tip[0], &tip[1], &tree, jane_k, now);
		assert_int_equal(
			syncmerge_trees(
				&t2, NULL, fx->git, &tip[1], &m, &tip[1]),
			0);
		assert_true(git_oid_equal(&t2, &tree));
		syncmerge_stats_release(&st);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_syncmerge__later_change_wins_and_is_recorded,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_syncmerge__two_in_one_folder_each_later_wins,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_syncmerge__earlier_change_loses_either_way, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_syncmerge__only_changes_to_that_field_count, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_syncmerge__merges_inside_a_side, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_syncmerge__walk_across_branches_and_folders, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_syncmerge__one_side_and_identical_changes, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_syncmerge__removals_and_new_folders, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_syncmerge__rebuilt_folders_hash_as_git, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_syncmerge__same_new_id_renumbered, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_syncmerge__invalid_yaml_refuses, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_syncmerge__symlink_refuses, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_syncmerge__commit_verifies_first, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_syncmerge__random_histories_converge_lose_nothing,
			setup, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
