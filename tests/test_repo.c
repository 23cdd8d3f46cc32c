/*
 * tests/test_repo.c: opening, creating and configuring plan repositories;
 * reading one path at HEAD; hand edits seen against HEAD.
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
#include <sodium.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/key.h"
#include "helper_sign.h"
#include "sync/commit.h"
#include "sync/repo.h"

static const char PLAN[] = "schema: plansync/1\n"
			   "title: Test plan\n"
			   "partnership: Test partnership\n"
			   "updated: December 2023\n"
			   "priorities:\n"
			   "  - id: P1\n"
			   "    title: First\n";

static const char A1[] = "id: P1-A1\npriority: P1\naction: Do it\n"
			 "information: \"\"\nstatus: planned\n"
			 "timescale: Ongoing\nresponsible: []\nupdates: []\n";

static struct key *jane;

struct fx {
	char dir[256], path[300];
	struct repo *repo;
};

static int group_setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	git_libgit2_init();
	return helper_sign_key_new(
		&jane, "Jane Smith", "jane@nyp.example", "NYP");
}

static int group_teardown(void **state)
{
	(void)state;
	key_free(jane);
	git_libgit2_shutdown();
	return 0;
}

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	snprintf(
		fx->dir, sizeof(fx->dir), "%s/plansync-repo.XXXXXX",
		getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(fx->dir))
		return -1;
	snprintf(fx->path, sizeof(fx->path), "%s/repo", fx->dir);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	repo_free(fx->repo);
	helper_sign_rmrf(fx->dir);
	free(fx);
	return 0;
}

/* Create, then one root commit: plan, partners, one action. */
static void make_repo(struct fx *fx)
{
	struct helper_sign_partner p;
	struct commit_file f[3];
	char *partners;

	memset(&p, 0, sizeof(p));
	p.key = jane;
	p.role = "coordinator";
	partners = helper_sign_partners_yaml(&p, 1);
	assert_int_equal(repo_create(&fx->repo, fx->path), 0);
	f[0] = (struct commit_file){ "plan.yaml", PLAN, strlen(PLAN) };
	f[1] = (struct commit_file){ "partners.yaml", partners,
				     strlen(partners) };
	f[2] = (struct commit_file){ "actions/P1/P1-A1.yaml", A1, strlen(A1) };
	assert_int_equal(commit_files(NULL, fx->repo, jane, f, 3, "init"), 0);
	free(partners);
}

static void put(struct fx *fx, const char *rel, const char *text)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/%s", fx->path, rel);
	assert_int_equal(
		fsutil_write_atomic(path, text, strlen(text), 0644), 0);
}

static void test_repo__create_refuses_a_used_path(void **state)
{
	struct fx *fx = *state;
	struct repo *r = NULL;
	char path[600];

	snprintf(path, sizeof(path), "%s/full", fx->dir);
	assert_int_equal(mkdir(path, 0777), 0);
	snprintf(path, sizeof(path), "%s/full/x", fx->dir);
	assert_int_equal(fsutil_write_atomic(path, "x", 1, 0644), 0);
	snprintf(path, sizeof(path), "%s/full", fx->dir);
	assert_int_equal(repo_create(&r, path), ERROR_EXISTS);
	assert_non_null(strstr(error_message(), path));
	snprintf(path, sizeof(path), "%s/full/x", fx->dir);
	assert_int_equal(repo_create(&r, path), ERROR_EXISTS);
	/* An empty folder is fine. */
	snprintf(path, sizeof(path), "%s/empty", fx->dir);
	assert_int_equal(mkdir(path, 0777), 0);
	assert_int_equal(repo_create(&r, path), 0);
	repo_free(r);
}

static void test_repo__open_searches_upward_and_names_misses(void **state)
{
	struct fx *fx = *state;
	struct repo *r = NULL;
	char path[600];

	make_repo(fx);
	snprintf(path, sizeof(path), "%s/actions/P1", fx->path);
	assert_int_equal(repo_open(&r, path, 0), 0);
	assert_int_equal(
		strncmp(repo_workdir(r), fx->path, strlen(fx->path)), 0);
	assert_string_equal(repo_workdir(r) + strlen(fx->path), "/");
	repo_free(r);
	r = NULL;
	snprintf(path, sizeof(path), "%s", fx->dir);
	assert_int_equal(repo_open(&r, path, 0), ERROR_NOTFOUND);
	assert_non_null(strstr(error_message(), "not in a plan repository"));
}

static void test_repo__configure_makes_stock_git_work(void **state)
{
	struct fx *fx = *state;
	git_config *cfg = NULL, *snap = NULL;
	const char *v;
	char path[600], want[600];
	struct stat st;
	char *text = NULL;
	size_t len;

	assert_int_equal(repo_create(&fx->repo, fx->path), 0);
	assert_int_equal(
		repo_configure(fx->repo, "/opt/plan sync/plansync"), 0);
	assert_int_equal(git_repository_config(&cfg, repo_git(fx->repo)), 0);
	assert_int_equal(git_config_snapshot(&snap, cfg), 0);
	assert_int_equal(git_config_get_string(&v, snap, "gpg.format"), 0);
	assert_string_equal(v, "ssh");
	assert_int_equal(
		git_config_get_string(&v, snap, "gpg.ssh.allowedSignersFile"),
		0);
	snprintf(
		want, sizeof(want), "%s%s", repo_gitdir(fx->repo),
		REPO_SIGNERS_FILE);
	assert_string_equal(v, want);
	assert_true(v[0] == '/');
	assert_int_equal(
		git_config_get_string(&v, snap, "merge.plansync.driver"), 0);
	assert_string_equal(
		v, "p='/opt/plan sync/plansync'; [ -x \"$p\" ] || "
		   "p=plansync; exec \"$p\" merge-driver %O %A %B %P");
	/* Hooks: executable, calling the binary, falling back to PATH. */
	snprintf(
		path, sizeof(path), "%shooks/post-merge",
		repo_gitdir(fx->repo));
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_mode & S_IXUSR);
	assert_int_equal(fsutil_read_file(&text, &len, path, 1 << 16), 0);
	assert_non_null(strstr(text, "p='/opt/plan sync/plansync'"));
	assert_non_null(strstr(text, "\"$p\" hook post-merge"));
	free(text);
	/* Configuring again rewrites our hooks; a hook of someone else's is
	 * kept and reported. */
	assert_int_equal(repo_configure(fx->repo, NULL), 0);
	put(fx, ".git/hooks/post-commit", "#!/bin/sh\necho mine\n");
	assert_int_equal(repo_configure(fx->repo, NULL), ERROR_EXISTS);
	assert_non_null(strstr(error_message(), "post-commit"));
	assert_int_equal(fsutil_read_file(&text, &len, path, 1 << 16), 0);
	assert_non_null(strstr(text, "p=plansync"));
	free(text);
	snprintf(
		path, sizeof(path), "%shooks/post-commit",
		repo_gitdir(fx->repo));
	assert_int_equal(fsutil_read_file(&text, &len, path, 1 << 16), 0);
	assert_string_equal(text, "#!/bin/sh\necho mine\n");
	free(text);
	git_config_free(snap);
	git_config_free(cfg);
}

static void test_repo__head_and_reads_one_path(void **state)
{
	struct fx *fx = *state;
	struct repo_head head;
	char *buf = NULL;
	char **names = NULL;
	size_t len, n = 0;

	assert_int_equal(repo_create(&fx->repo, fx->path), 0);
	assert_int_equal(repo_head(&head, fx->repo), 0);
	assert_true(head.unborn);
	assert_false(head.detached);
	assert_int_equal(
		repo_read_head(&buf, &len, fx->repo, "plan.yaml", 1 << 20),
		ERROR_NOTFOUND);
	repo_free(fx->repo);
	fx->repo = NULL;
	helper_sign_rmrf(fx->path);
	make_repo(fx);
	assert_int_equal(repo_head(&head, fx->repo), 0);
	assert_false(head.unborn);
	assert_int_equal(strlen(head.id), 40);
	assert_int_equal(strncmp(head.refname, "refs/heads/", 11), 0);
	assert_int_equal(
		repo_read_head(
			&buf, &len, fx->repo, "actions/P1/P1-A1.yaml", 1 << 20),
		0);
	assert_int_equal(len, strlen(A1));
	assert_string_equal(buf, A1);
	free(buf);
	/* Too large, a folder, absent. */
	assert_int_equal(
		repo_read_head(
			&buf, &len, fx->repo, "actions/P1/P1-A1.yaml", 10),
		ERROR_INVALID);
	assert_int_equal(
		repo_read_head(&buf, &len, fx->repo, "actions", 1 << 20),
		ERROR_INVALID);
	assert_int_equal(
		repo_read_head(
			&buf, &len, fx->repo, "actions/P1/P1-A2.yaml", 1 << 20),
		ERROR_NOTFOUND);
	assert_int_equal(repo_list_head(&names, &n, fx->repo, "actions/P1"), 0);
	assert_int_equal(n, 1);
	assert_string_equal(names[0], "P1-A1.yaml");
	repo_strv_free(names, n);
	assert_int_equal(repo_list_head(&names, &n, fx->repo, "actions/P7"), 0);
	assert_int_equal(n, 0);
	repo_strv_free(names, n);
}

static void test_repo__hand_edits_are_seen(void **state)
{
	struct fx *fx = *state;
	struct repo_change *ch = NULL;
	size_t n = 0;
	char path[600], target[600];
	char *buf = NULL;
	size_t len;

	make_repo(fx);
	assert_int_equal(
		repo_check_unedited(fx->repo, "actions/P1/P1-A1.yaml"), 0);
	put(fx, "actions/P1/P1-A1.yaml", "status: done\n");
	put(fx, "actions/P1/P1-A2.yaml", A1);
	snprintf(path, sizeof(path), "%s/plan.yaml", fx->path);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(
		repo_check_unedited(fx->repo, "actions/P1/P1-A1.yaml"),
		ERROR_EXISTS);
	assert_non_null(strstr(error_message(), "actions/P1/P1-A1.yaml"));
	assert_int_equal(
		repo_check_unedited(fx->repo, "plan.yaml"), ERROR_EXISTS);
	assert_int_equal(
		repo_check_unedited(fx->repo, "actions/P1/P1-A2.yaml"),
		ERROR_EXISTS);
	assert_int_equal(repo_changes(&ch, &n, fx->repo), 0);
	assert_int_equal(n, 3);
	assert_string_equal(ch[0].path, "actions/P1/P1-A1.yaml");
	assert_int_equal(ch[0].kind, REPO_MODIFIED);
	assert_string_equal(ch[1].path, "actions/P1/P1-A2.yaml");
	assert_int_equal(ch[1].kind, REPO_ADDED);
	assert_string_equal(ch[2].path, "plan.yaml");
	assert_int_equal(ch[2].kind, REPO_DELETED);
	repo_changes_free(ch, n);

	/* Symlinks are refused, as files and as folders on the way. */
	snprintf(path, sizeof(path), "%s/actions/P1/P1-A3.yaml", fx->path);
	assert_int_equal(symlink("/etc/passwd", path), 0);
	assert_int_equal(
		repo_read_work(
			&buf, &len, fx->repo, "actions/P1/P1-A3.yaml", 1 << 20),
		ERROR_INVALID);
	snprintf(target, sizeof(target), "%s/actions/P1", fx->path);
	snprintf(path, sizeof(path), "%s/actions/P2", fx->path);
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(
		repo_read_work(
			&buf, &len, fx->repo, "actions/P2/P1-A1.yaml", 1 << 20),
		ERROR_INVALID);
	assert_non_null(strstr(error_message(), "symlink"));
}

static void test_repo__commit_info_checks_the_signature(void **state)
{
	struct fx *fx = *state;
	struct repo_commit_info info;

	make_repo(fx);
	assert_int_equal(repo_commit_info(&info, fx->repo, "HEAD"), 0);
	assert_string_equal(info.author_email, "jane@nyp.example");
	assert_string_equal(info.author_name, "Jane Smith");
	assert_string_equal(info.subject, "init");
	assert_true(info.signed_);
	assert_true(info.sig_good);
	assert_memory_equal(info.signer, key_public(jane), KEY_PUBLIC_BYTES);
	repo_commit_info_release(&info);
	assert_int_equal(
		repo_commit_info(&info, fx->repo, "nosuchrev"), ERROR_NOTFOUND);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_repo__create_refuses_a_used_path, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_repo__open_searches_upward_and_names_misses, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_repo__configure_makes_stock_git_work, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_repo__head_and_reads_one_path, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_repo__hand_edits_are_seen, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_repo__commit_info_checks_the_signature, setup,
			teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
