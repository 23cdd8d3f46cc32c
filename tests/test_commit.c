/*
 * tests/test_commit.c: signed commits on throwaway repositories: trust
 * before anything is written, trees rebuilt only along the changed paths,
 * signatures that core/sshsig and sync/verify accept, the work tree and
 * index kept in step, nothing changed on error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <git2.h>
#include <sodium.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/key.h"
#include "core/sshsig.h"
#include "helper_sign.h"
#include "sync/commit.h"
#include "sync/repo.h"
#include "sync/signers.h"
#include "sync/verify.h"

static const char PLAN[] = "schema: plansync/1\n"
			   "title: Test plan\n"
			   "partnership: Test partnership\n"
			   "updated: December 2023\n"
			   "priorities:\n"
			   "  - id: P1\n"
			   "    title: First\n"
			   "  - id: P2\n"
			   "    title: Second\n";

static const char *action_text(const char *id, const char *status)
{
	static char buf[512];

	snprintf(
		buf, sizeof(buf),
		"id: %s\npriority: %.2s\naction: Do %s\ninformation: \"\"\n"
		"status: %s\ntimescale: Ongoing\nresponsible:\n  - NYP\n"
		"updates: []\n",
		id, id, id, status);
	return buf;
}

struct fx {
	char dir[256], path[300];
	struct repo *repo;
	struct key *jane, *tom, *eve, *rob; /* coordinator, editor, unlisted,
					      revoked */
	char *partners;
};

static struct key *jane_k, *tom_k, *eve_k, *rob_k;

static int group_setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	git_libgit2_init();
	if (helper_sign_key_new(
		    &jane_k, "Jane Smith", "jane@nyp.example", "NYP") < 0 ||
	    helper_sign_key_new(&tom_k, "Tom Jones", "tom@cyc.example", "CYC") <
		    0 ||
	    helper_sign_key_new(&eve_k, "Eve", "eve@evil.example", "X") < 0 ||
	    helper_sign_key_new(&rob_k, "Rob", "rob@old.example", "OLD") < 0)
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	key_free(jane_k);
	key_free(tom_k);
	key_free(eve_k);
	key_free(rob_k);
	git_libgit2_shutdown();
	return 0;
}

static char *partners_yaml(int jane_role_editor)
{
	struct helper_sign_partner p[3];

	memset(p, 0, sizeof(p));
	p[0].key = jane_k;
	p[0].role = jane_role_editor ? "editor" : "coordinator";
	p[1].key = tom_k;
	p[1].role = "editor";
	p[2].key = rob_k;
	p[2].role = "editor";
	p[2].revoked = 1;
	return helper_sign_partners_yaml(p, 3);
}

/* A repository with no commit yet, locked. */
static int setup_empty(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	snprintf(
		fx->dir, sizeof(fx->dir), "%s/plansync-commit.XXXXXX",
		getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(fx->dir))
		return -1;
	snprintf(fx->path, sizeof(fx->path), "%s/repo", fx->dir);
	if (repo_create(&fx->repo, fx->path) < 0)
		return -1;
	fx->jane = jane_k;
	fx->tom = tom_k;
	fx->eve = eve_k;
	fx->rob = rob_k;
	fx->partners = partners_yaml(0);
	*state = fx;
	return 0;
}

/* The root commit every other test builds on. */
static void root_files(struct fx *fx, struct commit_file *f)
{
	static char a1[512], a2[512], b1[512];

	snprintf(a1, sizeof(a1), "%s", action_text("P1-A1", "planned"));
	snprintf(a2, sizeof(a2), "%s", action_text("P1-A2", "ongoing"));
	snprintf(b1, sizeof(b1), "%s", action_text("P2-A1", "done"));
	f[0] = (struct commit_file){ ".gitattributes", REPO_GITATTRIBUTES,
				     strlen(REPO_GITATTRIBUTES) };
	f[1] = (struct commit_file){ "plan.yaml", PLAN, strlen(PLAN) };
	f[2] = (struct commit_file){ "partners.yaml", fx->partners,
				     strlen(fx->partners) };
	f[3] = (struct commit_file){ "actions/P1/P1-A1.yaml", a1, strlen(a1) };
	f[4] = (struct commit_file){ "actions/P1/P1-A2.yaml", a2, strlen(a2) };
	f[5] = (struct commit_file){ "actions/P2/P2-A1.yaml", b1, strlen(b1) };
}

static int setup(void **state)
{
	struct commit_file f[6];
	struct fx *fx;

	if (setup_empty(state) < 0)
		return -1;
	fx = *state;
	root_files(fx, f);
	return commit_files(NULL, fx->repo, fx->jane, f, 6, "init");
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	repo_free(fx->repo);
	helper_sign_rmrf(fx->dir);
	free(fx->partners);
	free(fx);
	return 0;
}

static void head_id(struct fx *fx, git_oid *out)
{
	assert_int_equal(
		git_reference_name_to_id(out, repo_git(fx->repo), "HEAD"), 0);
}

/* The blob or tree id at path in commit id's tree. */
static void
id_at(struct fx *fx, git_oid *out, const git_oid *commit, const char *path)
{
	git_commit *c = NULL;
	git_tree *t = NULL;
	git_tree_entry *e = NULL;

	assert_int_equal(git_commit_lookup(&c, repo_git(fx->repo), commit), 0);
	assert_int_equal(git_commit_tree(&t, c), 0);
	assert_int_equal(git_tree_entry_bypath(&e, t, path), 0);
	git_oid_cpy(out, git_tree_entry_id(e));
	git_tree_entry_free(e);
	git_tree_free(t);
	git_commit_free(c);
}

static int has_path(struct fx *fx, const git_oid *commit, const char *path)
{
	git_commit *c = NULL;
	git_tree *t = NULL;
	git_tree_entry *e = NULL;
	int found;

	assert_int_equal(git_commit_lookup(&c, repo_git(fx->repo), commit), 0);
	assert_int_equal(git_commit_tree(&t, c), 0);
	found = git_tree_entry_bypath(&e, t, path) == 0;
	git_tree_entry_free(e);
	git_tree_free(t);
	git_commit_free(c);
	return found;
}

static char *work_file(struct fx *fx, const char *rel)
{
	char path[600];
	char *buf = NULL;
	size_t len;

	snprintf(path, sizeof(path), "%s/%s", fx->path, rel);
	if (fsutil_read_file(&buf, &len, path, 1 << 20) < 0)
		return NULL;
	return buf;
}

static void assert_clean(struct fx *fx)
{
	struct repo_change *ch = NULL;
	size_t n = 99;

	assert_int_equal(repo_changes(&ch, &n, fx->repo), 0);
	if (n)
		fail_msg("work tree not clean: %s", ch[0].path);
	repo_changes_free(ch, n);
}

static void assert_verify_good(struct fx *fx, const git_oid *id)
{
	struct verify_result r;
	struct verify_cache *cache = NULL;

	assert_int_equal(verify_cache_new(&cache), 0);
	assert_int_equal(
		verify_commit(&r, repo_git(fx->repo), id, NULL, cache), 0);
	if (r.verdict != VERIFY_GOOD)
		fail_msg(
			"commit %s: %s: %s", r.id,
			verify_verdict_name(r.verdict), r.reason);
	verify_cache_free(cache);
}

static void test_commit__root_is_signed_by_the_key_and_trusted(void **state)
{
	struct fx *fx = *state;
	git_oid id;
	git_commit *c = NULL;
	git_odb *odb = NULL;
	git_odb_object *raw = NULL;
	char *payload = NULL, *sig = NULL, *text;
	size_t plen, slen;
	unsigned char signer[KEY_PUBLIC_BYTES];

	head_id(fx, &id);
	assert_int_equal(git_commit_lookup(&c, repo_git(fx->repo), &id), 0);
	assert_string_equal(git_commit_author(c)->name, "Jane Smith");
	assert_string_equal(git_commit_author(c)->email, "jane@nyp.example");
	assert_string_equal(git_commit_committer(c)->email, "jane@nyp.example");
	assert_string_equal(git_commit_message(c), "init\n");
	assert_int_equal(git_commit_parentcount(c), 0);

	/* The raw object carries a gpgsig that verifies with Jane's key. */
	assert_int_equal(git_repository_odb(&odb, repo_git(fx->repo)), 0);
	assert_int_equal(git_odb_read(&raw, odb, &id), 0);
	assert_int_equal(
		sshsig_commit_split(
			&payload, &plen, &sig, &slen, git_odb_object_data(raw),
			git_odb_object_size(raw)),
		0);
	assert_non_null(sig);
	assert_int_equal(sshsig_verify(signer, sig, slen, payload, plen), 0);
	assert_memory_equal(signer, key_public(fx->jane), KEY_PUBLIC_BYTES);
	/* pitfall 1: no line holding a lone space in the object */
	assert_null(strstr(git_odb_object_data(raw), "\n \n"));
	assert_verify_good(fx, &id);

	/* The work tree holds the files, the index matches. */
	text = work_file(fx, "actions/P2/P2-A1.yaml");
	assert_non_null(text);
	assert_string_equal(text, action_text("P2-A1", "done"));
	free(text);
	assert_clean(fx);

	/* allowed_signers: Jane and Tom, not Rob (revoked from the root). */
	text = work_file(fx, ".git/" REPO_SIGNERS_FILE);
	assert_non_null(text);
	assert_non_null(
		strstr(text, "jane@nyp.example namespaces=\"git\" "
			     "ssh-ed25519 AAAA"));
	assert_non_null(strstr(text, "tom@cyc.example namespaces=\"git\" "));
	assert_null(strstr(text, "rob@old.example"));
	free(text);
	free(payload);
	free(sig);
	git_odb_object_free(raw);
	git_odb_free(odb);
	git_commit_free(c);
}

static void test_commit__root_needs_a_coordinator_partners_file(void **state)
{
	struct fx *fx = *state;
	struct commit_file f[6];
	struct repo_head head;
	char *editor = partners_yaml(1);

	root_files(fx, f);
	/* Without partners.yaml. */
	f[2] = f[5];
	assert_int_equal(
		commit_files(NULL, fx->repo, fx->jane, f, 5, "init"),
		ERROR_VERIFY);
	/* Jane listed only as an editor. */
	root_files(fx, f);
	f[2].buf = editor;
	f[2].len = strlen(editor);
	assert_int_equal(
		commit_files(NULL, fx->repo, fx->jane, f, 6, "init"),
		ERROR_VERIFY);
	assert_non_null(strstr(error_message(), "coordinator"));
	/* Eve, not listed at all. */
	root_files(fx, f);
	assert_int_equal(
		commit_files(NULL, fx->repo, fx->eve, f, 6, "init"),
		ERROR_VERIFY);
	assert_non_null(strstr(error_message(), "not listed"));
	/* Nothing happened: no branch, no files. */
	assert_int_equal(repo_head(&head, fx->repo), 0);
	assert_true(head.unborn);
	assert_null(work_file(fx, "plan.yaml"));
	free(editor);
}

static void test_commit__only_trees_on_the_path_change(void **state)
{
	struct fx *fx = *state;
	git_oid before, after, a, b;
	git_commit *c = NULL;
	struct commit_file f = { "actions/P1/P1-A1.yaml", NULL, 0 };
	char id[41], *text;

	head_id(fx, &before);
	f.buf = action_text("P1-A1", "done");
	f.len = strlen(f.buf);
	assert_int_equal(
		commit_files(
			id, fx->repo, fx->tom, &f, 1,
			"P1-A1: status planned -> done"),
		0);
	head_id(fx, &after);
	assert_false(git_oid_equal(&before, &after));
	assert_int_equal(git_oid_streq(&after, id), 0);
	/* Parent is the old tip. */
	assert_int_equal(git_commit_lookup(&c, repo_git(fx->repo), &after), 0);
	assert_int_equal(git_commit_parentcount(c), 1);
	assert_true(git_oid_equal(git_commit_parent_id(c, 0), &before));
	assert_string_equal(git_commit_author(c)->email, "tom@cyc.example");
	git_commit_free(c);
	/* Untouched paths keep their objects: the same subtrees and blobs. */
	id_at(fx, &a, &before, "actions/P2");
	id_at(fx, &b, &after, "actions/P2");
	assert_true(git_oid_equal(&a, &b));
	id_at(fx, &a, &before, "actions/P1/P1-A2.yaml");
	id_at(fx, &b, &after, "actions/P1/P1-A2.yaml");
	assert_true(git_oid_equal(&a, &b));
	id_at(fx, &a, &before, "plan.yaml");
	id_at(fx, &b, &after, "plan.yaml");
	assert_true(git_oid_equal(&a, &b));
	id_at(fx, &a, &before, "actions/P1/P1-A1.yaml");
	id_at(fx, &b, &after, "actions/P1/P1-A1.yaml");
	assert_false(git_oid_equal(&a, &b));
	assert_verify_good(fx, &after);
	text = work_file(fx, "actions/P1/P1-A1.yaml");
	assert_string_equal(text, action_text("P1-A1", "done"));
	free(text);
	assert_clean(fx);
}

/* Refusals must leave HEAD, the work tree and the index as they were. */
static void assert_refused(
	struct fx *fx,
	const struct key *key,
	const struct commit_file *f,
	size_t n,
	int code,
	const char *words)
{
	git_oid before, after;
	char *work_before = work_file(fx, "actions/P1/P1-A1.yaml"), *work_after;

	head_id(fx, &before);
	assert_int_equal(commit_files(NULL, fx->repo, key, f, n, "x"), code);
	if (words && !strstr(error_message(), words))
		fail_msg("message '%s' lacks '%s'", error_message(), words);
	head_id(fx, &after);
	assert_true(git_oid_equal(&before, &after));
	work_after = work_file(fx, "actions/P1/P1-A1.yaml");
	assert_string_equal(work_before, work_after);
	free(work_before);
	free(work_after);
	assert_clean(fx);
}

static void test_commit__untrusted_signers_change_nothing(void **state)
{
	struct fx *fx = *state;
	struct commit_file f = { "actions/P1/P1-A1.yaml", NULL, 0 };
	struct commit_file p = { "partners.yaml", NULL, 0 };
	char *editor = partners_yaml(1);

	f.buf = action_text("P1-A1", "done");
	f.len = strlen(f.buf);
	assert_refused(fx, fx->eve, &f, 1, ERROR_VERIFY, "not listed");
	assert_refused(fx, fx->rob, &f, 1, ERROR_VERIFY, "revoked");
	p.buf = editor;
	p.len = strlen(editor);
	assert_refused(fx, fx->tom, &p, 1, ERROR_VERIFY, "coordinator");
	/* The coordinator may. */
	assert_int_equal(
		commit_files(
			NULL, fx->repo, fx->jane, &p, 1,
			"partners.yaml: jane an editor"),
		0);
	/* ... and is then an editor, refused on partners.yaml. */
	p.buf = fx->partners;
	p.len = strlen(fx->partners);
	assert_refused(fx, fx->jane, &p, 1, ERROR_VERIFY, "coordinator");
	free(editor);
}

static void test_commit__bad_paths_are_refused(void **state)
{
	struct fx *fx = *state;
	static const char *bad[] = { "../x.yaml",   ".git/config", "a//b",
				     "/etc/passwd", "actions/./x", "" };
	struct commit_file f = { NULL, "x\n", 2 };
	struct commit_file two[2] = { { "plan.yaml", PLAN, sizeof(PLAN) - 1 },
				      { "plan.yaml", PLAN, sizeof(PLAN) - 1 } };
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		f.path = bad[i];
		assert_refused(fx, fx->jane, &f, 1, ERROR_INVALID, NULL);
	}
	assert_refused(fx, fx->jane, two, 2, ERROR_GENERIC, "twice");
	/* The same bytes as HEAD: nothing to commit. */
	assert_refused(fx, fx->jane, two, 1, ERROR_GENERIC, "nothing");
}

static void test_commit__delete_prunes_empty_folders(void **state)
{
	struct fx *fx = *state;
	struct commit_file f = { "actions/P2/P2-A1.yaml", NULL, 0 };
	git_oid id;
	char path[600];
	struct stat st;

	assert_int_equal(
		commit_files(
			NULL, fx->repo, fx->jane, &f, 1,
			"P2-A1: action deleted"),
		0);
	head_id(fx, &id);
	assert_false(has_path(fx, &id, "actions/P2"));
	assert_true(has_path(fx, &id, "actions/P1/P1-A1.yaml"));
	snprintf(path, sizeof(path), "%s/actions/P2", fx->path);
	assert_int_equal(lstat(path, &st), -1);
	assert_clean(fx);
	assert_verify_good(fx, &id);
}

static void test_commit__detached_head_is_refused(void **state)
{
	struct fx *fx = *state;
	struct commit_file f = { "actions/P1/P1-A1.yaml", NULL, 0 };
	git_oid id;

	head_id(fx, &id);
	assert_int_equal(
		git_repository_set_head_detached(repo_git(fx->repo), &id), 0);
	f.buf = action_text("P1-A1", "done");
	f.len = strlen(f.buf);
	assert_int_equal(
		commit_files(NULL, fx->repo, fx->jane, &f, 1, "x"),
		ERROR_GENERIC);
	assert_non_null(strstr(error_message(), "detached"));
}

static void test_commit__allowed_signers_follow_revocation(void **state)
{
	struct fx *fx = *state;
	struct helper_sign_partner p[3];
	struct commit_file f = { "partners.yaml", NULL, 0 };
	char *yaml, *text;

	memset(p, 0, sizeof(p));
	p[0].key = fx->jane;
	p[0].role = "coordinator";
	p[1].key = fx->tom;
	p[1].role = "editor";
	p[1].revoked = 1;
	p[2].key = fx->rob;
	p[2].role = "editor";
	p[2].revoked = 1;
	yaml = helper_sign_partners_yaml(p, 3);
	f.buf = yaml;
	f.len = strlen(yaml);
	assert_int_equal(
		commit_files(
			NULL, fx->repo, fx->jane, &f, 1,
			"partners.yaml: revoke tom"),
		0);
	text = work_file(fx, ".git/" REPO_SIGNERS_FILE);
	/* Tom was valid until now: kept, limited in time; Rob never was. */
	assert_non_null(
		strstr(text, "tom@cyc.example namespaces=\"git\","
			     "valid-before=\""));
	assert_null(strstr(text, "rob@old.example"));
	free(text);
	/* Regenerated from scratch (as after a clone), the same answer. */
	text = work_file(fx, ".git/" REPO_SIGNERS_FILE);
	{
		char path[600];

		snprintf(
			path, sizeof(path), "%s/.git/" REPO_SIGNERS_FILE,
			fx->path);
		unlink(path);
	}
	assert_int_equal(signers_refresh(fx->repo), 0);
	{
		char *again = work_file(fx, ".git/" REPO_SIGNERS_FILE);

		assert_string_equal(text, again);
		free(again);
	}
	free(text);
	free(yaml);
}

static void test_commit__second_locker_is_busy(void **state)
{
	struct fx *fx = *state;
	struct repo *other = NULL;

	assert_int_equal(repo_open(&other, fx->path, 1), ERROR_BUSY);
	assert_null(other);
	assert_non_null(strstr(error_message(), "busy"));
	/* Reading needs no lock. */
	assert_int_equal(repo_open(&other, fx->path, 0), 0);
	repo_free(other);
}

static void write_text(struct fx *fx, const char *rel, const char *text)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/%s", fx->path, rel);
	*strrchr(path, '/') = '\0';
	assert_int_equal(fsutil_mkdirs(path), 0);
	snprintf(path, sizeof(path), "%s/%s", fx->path, rel);
	assert_int_equal(
		fsutil_write_atomic(path, text, strlen(text), 0644), 0);
}

/* Reopen with the lock, as the next plansync command would. */
static void reopen_locked(struct fx *fx)
{
	repo_free(fx->repo);
	fx->repo = NULL;
	assert_int_equal(repo_open(&fx->repo, fx->path, 1), 0);
}

static void test_commit__killed_after_the_ref_moved_is_finished(void **state)
{
	struct fx *fx = *state;
	struct commit_file f[2] = { { "actions/P1/P1-A1.yaml", NULL, 0 },
				    { "actions/P2/P2-A1.yaml", NULL, 0 } };
	git_oid id;
	git_index *index = NULL;
	char journal[200], hex[41], *text;

	f[0].buf = action_text("P1-A1", "done");
	f[0].len = strlen(f[0].buf);
	assert_int_equal(commit_files(hex, fx->repo, fx->jane, f, 2, "x"), 0);
	/* Undo what follows the ref move: old file, old index entry, the
	 * deleted file back, and the journal as it was then. */
	write_text(
		fx, "actions/P1/P1-A1.yaml", action_text("P1-A1", "planned"));
	write_text(fx, "actions/P2/P2-A1.yaml", action_text("P2-A1", "done"));
	assert_int_equal(git_repository_index(&index, repo_git(fx->repo)), 0);
	assert_int_equal(
		git_index_add_bypath(index, "actions/P1/P1-A1.yaml"), 0);
	assert_int_equal(
		git_index_add_bypath(index, "actions/P2/P2-A1.yaml"), 0);
	assert_int_equal(git_index_write(index), 0);
	git_index_free(index);
	snprintf(
		journal, sizeof(journal),
		"commit %s\nactions/P1/P1-A1.yaml\nactions/P2/P2-A1.yaml\n",
		hex);
	write_text(fx, ".git/" REPO_JOURNAL_FILE, journal);

	reopen_locked(fx);
	text = work_file(fx, "actions/P1/P1-A1.yaml");
	assert_string_equal(text, action_text("P1-A1", "done"));
	free(text);
	assert_null(work_file(fx, "actions/P2/P2-A1.yaml"));
	assert_null(work_file(fx, ".git/" REPO_JOURNAL_FILE));
	assert_clean(fx);
	head_id(fx, &id);
	assert_int_equal(git_oid_streq(&id, hex), 0);
}

static void
test_commit__killed_before_the_ref_moved_touches_nothing(void **state)
{
	struct fx *fx = *state;
	char *text;

	/* A journal for a commit the branch never reached, and hand edits the
	 * person has not committed: they must survive. */
	write_text(
		fx, ".git/" REPO_JOURNAL_FILE,
		"commit 0123456789012345678901234567890123456789\n"
		"actions/P1/P1-A1.yaml\n");
	write_text(fx, "actions/P1/P1-A1.yaml", "my hand edit\n");
	reopen_locked(fx);
	text = work_file(fx, "actions/P1/P1-A1.yaml");
	assert_string_equal(text, "my hand edit\n");
	free(text);
	assert_null(work_file(fx, ".git/" REPO_JOURNAL_FILE));
}

static void test_commit__stale_index_lock_is_removed(void **state)
{
	struct fx *fx = *state;
	struct commit_file f = { "actions/P1/P1-A1.yaml", NULL, 0 };

	/* Nobody holds it: a killed process left it, and it goes. */
	write_text(fx, ".git/index.lock", "");
	f.buf = action_text("P1-A1", "done");
	f.len = strlen(f.buf);
	assert_int_equal(commit_files(NULL, fx->repo, fx->jane, &f, 1, "x"), 0);
	assert_null(work_file(fx, ".git/index.lock"));
	assert_clean(fx);
}

static void test_commit__held_index_lock_refuses_before_committing(void **state)
{
	struct fx *fx = *state;
	struct commit_file f = { "actions/P1/P1-A1.yaml", NULL, 0 };
	git_oid before, after;
	char path[600], c;
	int fd, fds[2];
	pid_t pid;

	/* Held open by another process, as a running git holds it: never
	 * taken away. */
	write_text(fx, ".git/index.lock", "");
	snprintf(path, sizeof(path), "%s/.git/index.lock", fx->path);
	assert_int_equal(pipe(fds), 0);
	if ((pid = fork()) == 0) {
		fd = open(path, O_RDONLY);
		if (fd < 0 || write(fds[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	assert_true(pid > 0);
	assert_int_equal(read(fds[0], &c, 1), 1);
	f.buf = action_text("P1-A1", "done");
	f.len = strlen(f.buf);
	head_id(fx, &before);
	assert_int_equal(
		commit_files(NULL, fx->repo, fx->jane, &f, 1, "x"), ERROR_BUSY);
	assert_non_null(strstr(error_message(), "index.lock"));
	head_id(fx, &after);
	assert_true(git_oid_equal(&before, &after));
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(fds[0]);
	close(fds[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_commit__root_is_signed_by_the_key_and_trusted,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_commit__root_needs_a_coordinator_partners_file,
			setup_empty, teardown),
		cmocka_unit_test_setup_teardown(
			test_commit__only_trees_on_the_path_change, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_commit__untrusted_signers_change_nothing, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_commit__bad_paths_are_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_commit__delete_prunes_empty_folders, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_commit__detached_head_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_commit__allowed_signers_follow_revocation, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_commit__second_locker_is_busy, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_commit__killed_after_the_ref_moved_is_finished,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_commit__killed_before_the_ref_moved_touches_nothing,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_commit__stale_index_lock_is_removed, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_commit__held_index_lock_refuses_before_committing,
			setup, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
