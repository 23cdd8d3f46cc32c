/*
 * bench/merge_bench: two divergent signed histories for the merge benchmark.
 *
 *     merge_bench REPO EDITS SEED CATS
 *
 * REPO is a plan repository made by `plansync init` whose coordinator key is
 * in $PLANSYNC_HOME.  From its HEAD, builds branches side-a and side-b of
 * EDITS commits each, one edited action per commit, signed the way plansync
 * signs (core/sshsig), author = the key, times interleaved (a, b, a, b...).
 * 30% of the edited actions are edited on both sides: half of those change
 * the same field (status, to different values: real conflicts), a fifth add
 * an update entry on both sides, the rest change different fields (status
 * and timescale, which sit on adjacent lines; action and status;
 * information and responsible).  CATS receives one line per action edited
 * on both sides: "<ID> same|update|different".  Moves no other ref.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <git2.h>

#include "core/doc.h"
#include "core/error.h"
#include "core/key.h"
#include "core/plan.h"
#include "core/sshsig.h"

static uint64_t rng;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)((rng >> 11) % n);
}

static int die(const char *what)
{
	const git_error *e = git_error_last();

	fprintf(stderr, "merge_bench: %s: %s\n", what,
		error_message()[0] ? error_message() :
				     (e && e->message ? e->message : "failed"));
	exit(1);
}

static const char *const statuses[] = {
	"planned", "in-progress", "ongoing", "on-hold", "done",
};

/* A status different from base and from avoid (either may be NULL). */
static const char *other_status(const char *base, const char *avoid)
{
	size_t i = rnd(5), k;

	for (k = 0; k < 5; k++, i = (i + 1) % 5)
		if ((!base || strcmp(statuses[i], base)) &&
		    (!avoid || strcmp(statuses[i], avoid)))
			return statuses[i];
	return statuses[0];
}

/* New root tree: root with path set to blob (3 levels at most). */
static void put_path(
	git_oid *out,
	git_repository *git,
	const git_oid *root,
	const char *path,
	const git_oid *blob)
{
	git_tree *tree = NULL;
	git_treebuilder *bld = NULL;
	const git_tree_entry *e;
	char head[256];
	const char *slash = strchr(path, '/');
	git_oid sub, newsub, *subp = NULL;

	if (root && git_tree_lookup(&tree, git, root) < 0)
		die("tree");
	if (git_treebuilder_new(&bld, git, tree) < 0)
		die("treebuilder");
	if (!slash) {
		if (git_treebuilder_insert(
			    NULL, bld, path, blob, GIT_FILEMODE_BLOB) < 0)
			die("insert");
	} else {
		snprintf(head, sizeof(head), "%.*s", (int)(slash - path), path);
		e = tree ? git_tree_entry_byname(tree, head) : NULL;
		if (e) {
			git_oid_cpy(&sub, git_tree_entry_id(e));
			subp = &sub;
		}
		put_path(&newsub, git, subp, slash + 1, blob);
		if (git_treebuilder_insert(
			    NULL, bld, head, &newsub, GIT_FILEMODE_TREE) < 0)
			die("insert tree");
	}
	if (git_treebuilder_write(out, bld) < 0)
		die("write tree");
	git_treebuilder_free(bld);
	git_tree_free(tree);
}

struct side {
	const char *name; /* "a" or "b" */
	git_oid tip;
	long long time;
};

static void commit_edit(
	git_repository *git,
	const struct key *key,
	struct side *s,
	const char *id,
	const char *field,
	const char *value,
	int add_update)
{
	git_commit *parent = NULL;
	git_tree *tree = NULL, *ptree = NULL;
	git_tree_entry *e = NULL;
	git_blob *blob = NULL;
	git_signature *sig = NULL;
	git_buf buf = { NULL, 0, 0 };
	struct doc_node *doc = NULL;
	const git_commit *parents[1];
	git_oid blob_id, root, commit_id;
	char path[256], msg[512], *text = NULL, *armor = NULL, *uid = NULL;
	size_t len;

	if (plan_action_path(path, sizeof(path), id) < 0)
		die(id);
	if (git_commit_lookup(&parent, git, &s->tip) < 0 ||
	    git_commit_tree(&ptree, parent) < 0 ||
	    git_tree_entry_bypath(&e, ptree, path) < 0 ||
	    git_blob_lookup(&blob, git, git_tree_entry_id(e)) < 0)
		die(path);
	if (plan_parse(
		    &doc, PLAN_FILE_ACTION, path, git_blob_rawcontent(blob),
		    (size_t)git_blob_rawsize(blob)) < 0)
		die(path);
	if (add_update) {
		char date[16];

		snprintf(
			date, sizeof(date), "2024-%02u-%02u", 1 + rnd(12),
			1 + rnd(28));
		if (plan_update_add(
			    &uid, doc,
			    s->name[0] == 'a' ? "Progress noted by side a" :
						"Progress noted by side b",
			    date, NULL, NULL) < 0)
			die("update add");
		snprintf(msg, sizeof(msg), "%s: update %s added", id, uid);
	} else {
		if (plan_field_set(doc, field, value) < 0)
			die(field);
		snprintf(msg, sizeof(msg), "%s: %s -> %s", id, field, value);
	}
	if (plan_check(doc, PLAN_FILE_ACTION, path) < 0 ||
	    doc_emit(&text, &len, doc) < 0)
		die("emit");
	if (git_blob_create_from_buffer(&blob_id, git, text, len) < 0)
		die("blob");
	put_path(&root, git, git_tree_id(ptree), path, &blob_id);
	if (git_tree_lookup(&tree, git, &root) < 0)
		die("tree");
	if (git_signature_new(&sig, key_name(key), key_email(key), s->time, 0) <
	    0)
		die("signature");
	s->time += 2;
	parents[0] = parent;
	if (git_commit_create_buffer(
		    &buf, git, sig, sig, NULL, msg, tree, 1, parents) < 0 ||
	    sshsig_sign(&armor, key, buf.ptr, buf.size) < 0 ||
	    git_commit_create_with_signature(
		    &commit_id, git, buf.ptr, armor, "gpgsig") < 0)
		die("commit");
	git_oid_cpy(&s->tip, &commit_id);
	free(uid);
	free(text);
	free(armor);
	git_buf_dispose(&buf);
	git_signature_free(sig);
	doc_free(doc);
	git_blob_free(blob);
	git_tree_entry_free(e);
	git_tree_free(tree);
	git_tree_free(ptree);
	git_commit_free(parent);
}

/* Every action ID in the tree. */
static char **list_ids(git_repository *git, git_tree *root, size_t *out_n)
{
	git_tree_entry *e = NULL;
	git_tree *actions = NULL, *pt = NULL;
	char **v = NULL;
	size_t n = 0, cap = 0, i, j;
	char id[64], *dot;

	if (git_tree_entry_bypath(&e, root, "actions") < 0 ||
	    git_tree_lookup(&actions, git, git_tree_entry_id(e)) < 0)
		die("actions/");
	for (i = 0; i < git_tree_entrycount(actions); i++) {
		if (git_tree_lookup(
			    &pt, git,
			    git_tree_entry_id(
				    git_tree_entry_byindex(actions, i))) < 0)
			die("priority folder");
		for (j = 0; j < git_tree_entrycount(pt); j++) {
			snprintf(
				id, sizeof(id), "%s",
				git_tree_entry_name(
					git_tree_entry_byindex(pt, j)));
			if ((dot = strstr(id, ".yaml")))
				*dot = '\0';
			if (n == cap) {
				cap = cap ? cap * 2 : 1024;
				if (!(v = realloc(v, cap * sizeof(*v))))
					die("memory");
			}
			if (!(v[n++] = strdup(id)))
				die("memory");
		}
		git_tree_free(pt);
	}
	git_tree_free(actions);
	git_tree_entry_free(e);
	*out_n = n;
	return v;
}

static const char *base_status(
	git_repository *git,
	git_tree *root,
	const char *id,
	char *buf,
	size_t size)
{
	git_tree_entry *e = NULL;
	git_blob *blob = NULL;
	struct doc_node *doc = NULL;
	char path[256];

	plan_action_path(path, sizeof(path), id);
	if (git_tree_entry_bypath(&e, root, path) < 0 ||
	    git_blob_lookup(&blob, git, git_tree_entry_id(e)) < 0 ||
	    plan_parse(
		    &doc, PLAN_FILE_ACTION, path, git_blob_rawcontent(blob),
		    (size_t)git_blob_rawsize(blob)) < 0)
		die(path);
	snprintf(buf, size, "%s", doc_str(doc_map_get(doc, "status")));
	doc_free(doc);
	git_blob_free(blob);
	git_tree_entry_free(e);
	return buf;
}

int main(int argc, char **argv)
{
	git_repository *git = NULL;
	git_reference *ref = NULL;
	git_commit *head = NULL;
	git_tree *root = NULL;
	struct key *key = NULL;
	struct side a = { "a", { { 0 } }, 0 }, b = { "b", { { 0 } }, 0 };
	char home[4096], st[32], val[128];
	char **ids;
	size_t nids, edits, shared, nsame, nupd, i, k;
	FILE *cats;
	const char *sa, *sb;

	if (argc != 5) {
		fprintf(stderr, "usage: merge_bench REPO EDITS SEED CATS\n");
		return 2;
	}
	edits = (size_t)strtoul(argv[2], NULL, 10);
	rng = 0x9e3779b97f4a7c15ULL ^ strtoull(argv[3], NULL, 10);
	git_libgit2_init();
	if (key_home(home, sizeof(home)) < 0 ||
	    key_load(&key, home, NULL, NULL) < 0)
		die("key");
	if (git_repository_open(&git, argv[1]) < 0 ||
	    git_repository_head(&ref, git) < 0 ||
	    git_commit_lookup(&head, git, git_reference_target(ref)) < 0 ||
	    git_commit_tree(&root, head) < 0)
		die(argv[1]);
	ids = list_ids(git, root, &nids);
	shared = edits * 3 / 10;
	if (2 * edits - shared > nids) {
		fprintf(stderr, "merge_bench: %zu actions is too few\n", nids);
		return 1;
	}
	for (i = nids - 1; i > 0; i--) { /* shuffle */
		char *t;

		k = rnd((uint32_t)i + 1);
		t = ids[i];
		ids[i] = ids[k];
		ids[k] = t;
	}
	if (!(cats = fopen(argv[4], "w")))
		die(argv[4]);
	git_oid_cpy(&a.tip, git_commit_id(head));
	git_oid_cpy(&b.tip, git_commit_id(head));
	a.time = (long long)git_commit_time(head) + 10;
	b.time = a.time + 1;
	nsame = shared / 2;
	nupd = shared / 5;
	/* ids[0..shared): both; then a only; then b only */
	for (i = 0; i < edits; i++) {
		/* side a's i-th edit, then side b's */
		if (i < shared) {
			const char *id = ids[i];

			if (i < nsame) {
				base_status(git, root, id, st, sizeof(st));
				sa = other_status(st, NULL);
				sb = other_status(st, sa);
				commit_edit(git, key, &a, id, "status", sa, 0);
				commit_edit(git, key, &b, id, "status", sb, 0);
				fprintf(cats, "%s same\n", id);
			} else if (i < nsame + nupd) {
				commit_edit(git, key, &a, id, NULL, NULL, 1);
				commit_edit(git, key, &b, id, NULL, NULL, 1);
				fprintf(cats, "%s update\n", id);
			} else {
				base_status(git, root, id, st, sizeof(st));
				switch (i % 3) {
				case 0:
					commit_edit(
						git, key, &a, id, "status",
						other_status(st, NULL), 0);
					commit_edit(
						git, key, &b, id, "timescale",
						"Reviewed by side b", 0);
					break;
				case 1:
					commit_edit(
						git, key, &a, id, "action",
						"Action rewritten on side a "
						"for the benchmark",
						0);
					commit_edit(
						git, key, &b, id, "status",
						other_status(st, NULL), 0);
					break;
				default:
					commit_edit(
						git, key, &a, id, "information",
						"Information from side a", 0);
					commit_edit(
						git, key, &b, id, "responsible",
						"NYP, CYC, Bench Org", 0);
				}
				fprintf(cats, "%s different\n", id);
			}
			continue;
		}
		for (k = 0; k < 2; k++) {
			struct side *s = k ? &b : &a;
			const char *id = ids[k ? i + (edits - shared) : i];

			switch (rnd(3)) {
			case 0:
				base_status(git, root, id, st, sizeof(st));
				commit_edit(
					git, key, s, id, "status",
					other_status(st, NULL), 0);
				break;
			case 1:
				snprintf(
					val, sizeof(val), "Quarter %u 2024",
					1 + rnd(4));
				commit_edit(
					git, key, s, id, "timescale", val, 0);
				break;
			default:
				commit_edit(git, key, s, id, NULL, NULL, 1);
			}
		}
	}
	fclose(cats);
	git_reference_free(ref);
	ref = NULL;
	if (git_reference_create(
		    &ref, git, "refs/heads/side-a", &a.tip, 1, "merge_bench") <
	    0)
		die("side-a");
	git_reference_free(ref);
	if (git_reference_create(
		    &ref, git, "refs/heads/side-b", &b.tip, 1, "merge_bench") <
	    0)
		die("side-b");
	git_reference_free(ref);
	for (i = 0; i < nids; i++)
		free(ids[i]);
	free(ids);
	git_tree_free(root);
	git_commit_free(head);
	git_repository_free(git);
	key_free(key);
	git_libgit2_shutdown();
	return 0;
}
