/*
 * tests/test_sync.c: sync/sync and sync/clone on throwaway repositories:
 * the recovery of what a killed plansync leaves (stale git locks, fsutil
 * temporary files, a work tree left half-written after the branch moved;
 * someone's edits untouched), a sync against a remote that is not there,
 * clone's verification and trust pinning, and the small helpers.  The
 * full fetch-merge-push loop over real remotes is tests/e2e/sync.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/key.h"
#include "helper_sign.h"
#include "sync/clone.h"
#include "sync/commit.h"
#include "sync/repo.h"
#include "sync/sync.h"
#include "sync/transport.h"

static char top[256];
static struct key *coord, *other;
static int counter;

static const char plan_yaml[] = "schema: plansync/1\n"
				"title: Test plan\n"
				"partnership: Test partnership\n"
				"updated: 2026\n"
				"priorities:\n"
				"  - id: P1\n"
				"    title: Everything\n";

static char *action_yaml(const char *status)
{
	static char buf[512];

	snprintf(
		buf, sizeof(buf),
		"id: P1-A1\npriority: P1\naction: Do the thing\n"
		"information: \"\"\nstatus: %s\ntimescale: Ongoing\n"
		"responsible: [NYP]\nupdates: []\nconflicts: []\n",
		status);
	return buf;
}

static int setup(void **state)
{
	(void)state;
	git_libgit2_init();
	snprintf(
		top, sizeof(top), "%s/plansync-sync.XXXXXX",
		getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(top))
		return -1;
	if (helper_sign_key_new(
		    &coord, "Cora Ord", "cora@york.example", "CYC") < 0 ||
	    helper_sign_key_new(&other, "Oz Other", "oz@nyp.example", "NYP") <
		    0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	key_free(coord);
	key_free(other);
	helper_sign_rmrf(top);
	return 0;
}

/* A new plan repository at top/<name><n> with its root commit by key. */
static struct repo *new_plan(char *path, size_t size, const struct key *key)
{
	struct helper_sign_partner p = { key, "coordinator", 0, NULL, NULL };
	struct repo *repo = NULL;
	char *partners = helper_sign_partners_yaml(&p, 1);
	struct commit_file files[3];

	assert_non_null(partners);
	snprintf(path, size, "%s/plan%d", top, ++counter);
	files[0].path = "partners.yaml";
	files[0].buf = partners;
	files[0].len = strlen(partners);
	files[1].path = "plan.yaml";
	files[1].buf = plan_yaml;
	files[1].len = strlen(plan_yaml);
	files[2].path = "actions/P1/P1-A1.yaml";
	files[2].buf = action_yaml("ongoing");
	files[2].len = strlen(files[2].buf);
	assert_int_equal(repo_create(&repo, path), 0);
	assert_int_equal(commit_files(NULL, repo, key, files, 3, "init"), 0);
	free(partners);
	return repo;
}

static void set_status(struct repo *repo, const char *status)
{
	struct commit_file f;

	f.path = "actions/P1/P1-A1.yaml";
	f.buf = action_yaml(status);
	f.len = strlen(f.buf);
	assert_int_equal(commit_files(NULL, repo, coord, &f, 1, status), 0);
}

static void touch(const char *dir, const char *rel)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	assert_non_null(f = fopen(path, "w"));
	fclose(f);
}

static int exists(const char *dir, const char *rel)
{
	char path[1024];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	return lstat(path, &st) == 0;
}

static unsigned status_flags(struct repo *repo, const char *path)
{
	unsigned flags = 0;

	assert_int_equal(git_status_file(&flags, repo_git(repo), path), 0);
	return flags;
}

static void test_sync__recover_removes_stale_locks_and_temps(void **state)
{
	char path[512];
	struct repo *repo;
	size_t removed = 0;

	(void)state;
	repo = new_plan(path, sizeof(path), coord);
	touch(path, ".git/index.lock");
	touch(path, ".git/HEAD.lock");
	touch(path, ".git/refs/heads/main.lock");
	touch(path, "actions/P1/.P1-A1.yaml.0badc0de.tmp");
	touch(path, ".plan.yaml.12345678.tmp");
	/* not ours: left alone */
	touch(path, "notes.lock");
	touch(path, "actions/P1/.P1-A1.yaml.nothex00.tmp");
	touch(path, ".git/plansync.lock.keep");
	assert_int_equal(sync_recover(&removed, repo), 0);
	assert_int_equal(removed, 5);
	assert_false(exists(path, ".git/index.lock"));
	assert_false(exists(path, ".git/HEAD.lock"));
	assert_false(exists(path, ".git/refs/heads/main.lock"));
	assert_false(exists(path, "actions/P1/.P1-A1.yaml.0badc0de.tmp"));
	assert_false(exists(path, ".plan.yaml.12345678.tmp"));
	assert_true(exists(path, "notes.lock"));
	assert_true(exists(path, "actions/P1/.P1-A1.yaml.nothex00.tmp"));
	assert_true(exists(path, ".git/plansync.lock.keep"));
	/* The repository lock itself is never touched. */
	assert_true(exists(path, ".git/plansync.lock"));
	/* And the next commit works. */
	set_status(repo, "done");
	repo_free(repo);
}

static void test_sync__recover_finishes_a_half_written_work_tree(void **state)
{
	char path[512], full[1024];
	struct repo *repo;
	git_index *index = NULL;
	git_object *prev = NULL, *prev2 = NULL;
	git_checkout_options co;
	struct commit_file pf;
	static const char plan2[] = "schema: plansync/1\n"
				    "title: Test plan, renamed\n"
				    "partnership: Test partnership\n"
				    "updated: 2026\n"
				    "priorities:\n"
				    "  - id: P1\n"
				    "    title: Everything\n";
	char *paths[] = { (char *)"actions/P1/P1-A1.yaml" };
	char *buf = NULL;
	size_t len, fixed = 0;

	(void)state;
	repo = new_plan(path, sizeof(path), coord);
	set_status(repo, "done");
	/* The kill: branch moved, file and index still at the parent's. */
	git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
	co.checkout_strategy = GIT_CHECKOUT_FORCE;
	co.paths.strings = paths;
	co.paths.count = 1;
	assert_int_equal(
		git_revparse_single(&prev, repo_git(repo), "HEAD~1"), 0);
	assert_int_equal(git_checkout_tree(repo_git(repo), prev, &co), 0);
	assert_int_not_equal(status_flags(repo, paths[0]), 0);
	assert_int_equal(sync_recover(&fixed, repo), 0);
	assert_int_equal(fixed, 1);
	assert_int_equal(status_flags(repo, paths[0]), 0);
	snprintf(full, sizeof(full), "%s/%s", path, paths[0]);
	assert_int_equal(fsutil_read_file(&buf, &len, full, 4096), 0);
	assert_non_null(strstr(buf, "status: done"));
	free(buf);
	buf = NULL;

	/* Half-written, then another commit on top: still finished. */
	set_status(repo, "planned");
	assert_int_equal(
		git_revparse_single(&prev2, repo_git(repo), "HEAD~1"), 0);
	assert_int_equal(git_checkout_tree(repo_git(repo), prev2, &co), 0);
	pf.path = "plan.yaml";
	pf.buf = plan2;
	pf.len = strlen(plan2);
	assert_int_equal(commit_files(NULL, repo, coord, &pf, 1, "title"), 0);
	assert_int_not_equal(status_flags(repo, paths[0]), 0);
	fixed = 0;
	assert_int_equal(sync_recover(&fixed, repo), 0);
	assert_int_equal(fixed, 1);
	assert_int_equal(status_flags(repo, paths[0]), 0);
	assert_int_equal(fsutil_read_file(&buf, &len, full, 4096), 0);
	assert_non_null(strstr(buf, "status: planned"));
	free(buf);
	buf = NULL;

	/* Someone's edit of the file is theirs: left as it is. */
	set_status(repo, "on-hold");
	assert_int_equal(
		fsutil_write_atomic(
			full, action_yaml("planned"),
			strlen(action_yaml("planned")), 0644),
		0);
	fixed = 0;
	assert_int_equal(sync_recover(&fixed, repo), 0);
	assert_int_equal(fixed, 0);
	assert_int_equal(fsutil_read_file(&buf, &len, full, 4096), 0);
	assert_non_null(strstr(buf, "status: planned"));
	free(buf);
	git_index_free(index);
	git_object_free(prev);
	git_object_free(prev2);
	repo_free(repo);
}

static void test_sync__offline_remote_changes_nothing(void **state)
{
	char path[512], hub[600], before[41];
	struct repo *repo;
	struct repo_head head;
	struct sync_result r;

	(void)state;
	repo = new_plan(path, sizeof(path), coord);
	snprintf(hub, sizeof(hub), "%s/hub-not-there.git", top);
	assert_int_equal(
		transport_remote_add(repo_git(repo), "origin", hub), 0);
	assert_int_equal(repo_head(&head, repo), 0);
	snprintf(before, sizeof(before), "%s", head.id);
	assert_int_equal(
		sync_run(&r, repo, coord, "origin", NULL, NULL, NULL),
		ERROR_NET);
	assert_non_null(strstr(error_message(), "origin"));
	assert_null(strchr(error_message(), '\n'));
	assert_int_equal(repo_head(&head, repo), 0);
	assert_string_equal(head.id, before);
	assert_int_equal(
		sync_run(&r, repo, coord, "nosuch", NULL, NULL, NULL),
		ERROR_NOTFOUND);
	repo_free(repo);
}

static void test_sync__sync_pushes_then_is_up_to_date(void **state)
{
	char path[512], hub[600], tree[41], hubtree[41];
	struct repo *repo;
	struct sync_result r;

	(void)state;
	repo = new_plan(path, sizeof(path), coord);
	snprintf(hub, sizeof(hub), "%s/hub%d.git", top, ++counter);
	assert_int_equal(sync_hub_create(hub), 0);
	assert_int_equal(sync_hub_create(hub), ERROR_EXISTS);
	assert_int_equal(
		transport_remote_add(repo_git(repo), "origin", hub), 0);
	assert_int_equal(
		sync_run(&r, repo, coord, "origin", NULL, NULL, NULL), 0);
	assert_true(r.pushed);
	assert_int_equal(r.rounds, 1);
	assert_int_equal(sync_head_tree(tree, path), 0);
	assert_int_equal(sync_head_tree(hubtree, hub), 0);
	assert_string_equal(tree, hubtree);
	assert_int_equal(
		sync_run(&r, repo, coord, "origin", NULL, NULL, NULL), 0);
	assert_false(r.pushed);
	assert_int_equal(r.merges + r.fast_forwards, 0);
	repo_free(repo);
}

static void test_sync__clone_verifies_and_pins_the_root(void **state)
{
	char path[512], hub[600], dir[600], fp[KEY_FINGERPRINT_MAX];
	char ofp[KEY_FINGERPRINT_MAX], tree[41], ctree[41];
	struct repo *repo;
	struct sync_result r;
	struct clone_result c;
	struct stat st;

	(void)state;
	repo = new_plan(path, sizeof(path), coord);
	snprintf(hub, sizeof(hub), "%s/hub%d.git", top, ++counter);
	assert_int_equal(sync_hub_create(hub), 0);
	assert_int_equal(
		transport_remote_add(repo_git(repo), "origin", hub), 0);
	assert_int_equal(
		sync_run(&r, repo, coord, "origin", NULL, NULL, NULL), 0);
	key_fingerprint(fp, key_public(coord));
	key_fingerprint(ofp, key_public(other));

	snprintf(dir, sizeof(dir), "%s/clone%d", top, ++counter);
	assert_int_equal(clone_run(&c, hub, dir, NULL, NULL, NULL), 0);
	assert_string_equal(c.root_fingerprint, fp);
	assert_string_equal(c.root_email, "cora@york.example");
	assert_int_equal(c.commits, 1);
	assert_int_equal(sync_head_tree(tree, path), 0);
	assert_int_equal(sync_head_tree(ctree, dir), 0);
	assert_string_equal(tree, ctree);

	snprintf(dir, sizeof(dir), "%s/clone%d", top, ++counter);
	assert_int_equal(clone_run(&c, hub, dir, fp, NULL, NULL), 0);
	snprintf(dir, sizeof(dir), "%s/clone%d", top, ++counter);
	assert_int_equal(clone_run(&c, hub, dir, fp + 7, NULL, NULL), 0);

	snprintf(dir, sizeof(dir), "%s/clone%d", top, ++counter);
	assert_int_equal(
		clone_run(&c, hub, dir, ofp, NULL, NULL), ERROR_VERIFY);
	assert_non_null(strstr(error_message(), "trusted key"));
	assert_int_not_equal(lstat(dir, &st), 0); /* nothing left */
	repo_free(repo);
}

static void test_sync__clone_refuses_an_unsigned_commit(void **state)
{
	char path[512], hub[600], dir[600], before[41];
	struct repo *repo;
	struct repo_head head;
	struct sync_result r;
	struct clone_result c;
	git_repository *h = NULL;
	git_reference *headref = NULL;
	git_oid tip, bad;
	struct stat st;

	(void)state;
	repo = new_plan(path, sizeof(path), coord);
	snprintf(hub, sizeof(hub), "%s/hub%d.git", top, ++counter);
	assert_int_equal(sync_hub_create(hub), 0);
	assert_int_equal(
		transport_remote_add(repo_git(repo), "origin", hub), 0);
	assert_int_equal(
		sync_run(&r, repo, coord, "origin", NULL, NULL, NULL), 0);
	assert_int_equal(git_repository_open(&h, hub), 0);
	assert_int_equal(git_reference_name_to_id(&tip, h, "HEAD"), 0);
	assert_int_equal(
		helper_sign_change(
			&bad, h, &tip, "actions/P1/P1-A1.yaml",
			action_yaml("done"), NULL, 0),
		0);
	/* on the branch the hub's HEAD names (git's default branch) */
	assert_int_equal(git_reference_lookup(&headref, h, "HEAD"), 0);
	assert_int_equal(
		helper_sign_set_ref(
			h, git_reference_symbolic_target(headref), &bad),
		0);
	git_reference_free(headref);
	git_repository_free(h);

	snprintf(dir, sizeof(dir), "%s/clone%d", top, ++counter);
	assert_int_equal(
		clone_run(&c, hub, dir, NULL, NULL, NULL), ERROR_VERIFY);
	assert_non_null(strstr(error_message(), "unsigned"));
	assert_int_not_equal(lstat(dir, &st), 0);

	/* And sync refuses it too, changing nothing. */
	set_status(repo, "planned");
	assert_int_equal(repo_head(&head, repo), 0);
	snprintf(before, sizeof(before), "%s", head.id);
	assert_int_equal(
		sync_run(&r, repo, coord, "origin", NULL, NULL, NULL),
		ERROR_VERIFY);
	assert_non_null(strstr(error_message(), "unsigned"));
	assert_int_equal(repo_head(&head, repo), 0);
	assert_string_equal(head.id, before);
	repo_free(repo);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_sync__recover_removes_stale_locks_and_temps),
		cmocka_unit_test(
			test_sync__recover_finishes_a_half_written_work_tree),
		cmocka_unit_test(test_sync__offline_remote_changes_nothing),
		cmocka_unit_test(test_sync__sync_pushes_then_is_up_to_date),
		cmocka_unit_test(test_sync__clone_verifies_and_pins_the_root),
		cmocka_unit_test(test_sync__clone_refuses_an_unsigned_commit),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
