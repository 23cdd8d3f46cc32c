/*
 * tests/test_transport.c: remote names and URLs, fetch into quarantine,
 * promote by compare-and-swap, rewritten history, non-force push, and
 * transport errors, on throwaway repositories (local transport) and a
 * closed loopback port.  The servers are exercised by tests/e2e/transport.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <git2.h>

#include "core/error.h"
#include "sync/transport.h"

/*
 * Under LeakSanitizer: libgit2 1.5.1 leaks inside git_remote_connect when a
 * git:// push cannot connect; that is its leak, not ours.
 */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "fast_unwind_on_malloc=0"; /* stacks that reach libgit2 */
}

const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:git_remote_connect_ext\n";
}

static char top[256];
static char hub_path[300], local_path[300], other_path[300];
static git_repository *hub, *local, *other;

static int rm_rf(const char *path)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	return system(cmd);
}

static int setup(void **state)
{
	(void)state;
	git_libgit2_init();
	snprintf(
		top, sizeof(top), "%s/plansync-transport.XXXXXX",
		getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(top))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	rm_rf(top);
	git_libgit2_shutdown();
	return 0;
}

/* Fresh hub (bare), local and other repositories for each test. */
static int each_setup(void **state)
{
	static int n;

	(void)state;
	n++;
	snprintf(hub_path, sizeof(hub_path), "%s/%d/hub.git", top, n);
	snprintf(local_path, sizeof(local_path), "%s/%d/local", top, n);
	snprintf(other_path, sizeof(other_path), "%s/%d/other", top, n);
	if (git_repository_init(&hub, hub_path, 1) < 0 ||
	    git_repository_init(&local, local_path, 0) < 0 ||
	    git_repository_init(&other, other_path, 0) < 0 ||
	    git_repository_set_head(local, "refs/heads/main") < 0 ||
	    git_repository_set_head(other, "refs/heads/main") < 0)
		return -1;
	error_clear();
	return 0;
}

static int each_teardown(void **state)
{
	(void)state;
	git_repository_free(hub);
	git_repository_free(local);
	git_repository_free(other);
	hub = local = other = NULL;
	return 0;
}

/*
 * A commit whose tree holds f.txt = text, on top of ref's tip (or a root
 * commit when root is set or ref has none), moving ref.
 */
static void commit_on(
	git_oid *out,
	git_repository *repo,
	const char *ref,
	const char *text,
	int root)
{
	git_signature *sig = NULL;
	git_treebuilder *tb = NULL;
	git_tree *tree = NULL;
	git_commit *parent = NULL;
	git_oid blob, tree_id, pid;
	git_reference *r = NULL;
	const git_commit *parents[1];
	int np = 0;

	assert_int_equal(git_signature_now(&sig, "T", "t@plansync.example"), 0);
	assert_int_equal(
		git_blob_create_from_buffer(&blob, repo, text, strlen(text)),
		0);
	assert_int_equal(git_treebuilder_new(&tb, repo, NULL), 0);
	assert_int_equal(
		git_treebuilder_insert(
			NULL, tb, "f.txt", &blob, GIT_FILEMODE_BLOB),
		0);
	assert_int_equal(git_treebuilder_write(&tree_id, tb), 0);
	assert_int_equal(git_tree_lookup(&tree, repo, &tree_id), 0);
	if (!root && git_reference_name_to_id(&pid, repo, ref) == 0) {
		assert_int_equal(git_commit_lookup(&parent, repo, &pid), 0);
		parents[0] = parent;
		np = 1;
	}
	assert_int_equal(
		git_commit_create(
			out, repo, NULL, sig, sig, NULL, text, tree, (size_t)np,
			parents),
		0);
	assert_int_equal(git_reference_create(&r, repo, ref, out, 1, NULL), 0);
	git_reference_free(r);
	git_commit_free(parent);
	git_tree_free(tree);
	git_treebuilder_free(tb);
	git_signature_free(sig);
}

static int ref_is(git_repository *repo, const char *ref, const git_oid *id)
{
	git_oid got;

	if (git_reference_name_to_id(&got, repo, ref) < 0)
		return id == NULL;
	return id && git_oid_equal(&got, id);
}

/* ---- names and URLs ----------------------------------------------------- */

static void test_transport__names(void **state)
{
	static const char *const good[] = { "origin", "usb-stick", "hub_2",
					    "a.b", "9lives" };
	static const char *const bad[] = { "",    "-x",   ".x", "a/b",
					   "a b", "a..b", "x.", "x.lock",
					   "a:b", "a*",   "é",  "a\nb" };
	char longname[100];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(transport_check_name(good[i]), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(transport_check_name(bad[i]), ERROR_INVALID);
		assert_non_null(strstr(error_message(), "invalid remote name"));
	}
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(transport_check_name(longname), ERROR_INVALID);
	longname[TRANSPORT_NAME_MAX - 1] = '\0';
	assert_int_equal(transport_check_name(longname), 0);
}

static void test_transport__urls(void **state)
{
	static const char *const good[] = {
		"/srv/plan.git",
		"file:///media/stick/plan.git",
		"file://localhost/srv/plan.git",
		"git://127.0.0.1:9418/plan.git",
		"http://127.0.0.1:8080/git/plan.git",
		"https://example.org/plan.git",
		"ssh://jane@example.org:2222/srv/plan.git",
		"jane@example.org:plans/york.git",
		"/media/My Stick/plan.git",
	};
	static const char *const bad[] = {
		"",
		"-oProxyCommand=x",
		"ftp://example.org/x.git",
		"http://",
		"git://:9418/x",
		"https://jane:secret@example.org/x.git",
		"file://otherhost/x.git",
		"http://example.org/a b",
		"http://exa mple.org/x",
		"http://example.org:99999/x",
		"http://h/x\n",
		"ssh://ex$ample.org/x",
	};
	char out[TRANSPORT_URL_MAX], cwd[PATH_MAX], want[PATH_MAX + 64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(
			transport_check_url(out, sizeof(out), good[i]), 0);
		assert_string_equal(out, good[i]);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(
			transport_check_url(out, sizeof(out), bad[i]),
			ERROR_INVALID);
		assert_null(strchr(error_message(), '\n'));
		assert_null(strstr(error_message(), "secret"));
	}
	/* Relative and untidy local paths are stored absolute and tidy. */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(top), 0);
	assert_int_equal(
		transport_check_url(out, sizeof(out), "a/./b/../hub.git"), 0);
	snprintf(want, sizeof(want), "%s/a/hub.git", top);
	/* top may sit under a symlinked TMPDIR: compare the tail. */
	assert_non_null(strstr(out, "/a/hub.git"));
	assert_int_equal(out[0], '/');
	assert_null(strstr(out, ".."));
	assert_int_equal(
		transport_check_url(out, sizeof(out), "/x/../../y//z.git"), 0);
	assert_string_equal(out, "/y/z.git");
	assert_int_equal(chdir(cwd), 0);
}

static void test_transport__redact(void **state)
{
	char out[256];

	(void)state;
	transport_url_redact(out, sizeof(out), "https://u:p@h.example/x.git");
	assert_string_equal(out, "https://h.example/x.git");
	transport_url_redact(out, sizeof(out), "ssh://git@h:2222/x");
	assert_string_equal(out, "ssh://h:2222/x");
	transport_url_redact(out, sizeof(out), "git@h:plans/x.git");
	assert_string_equal(out, "h:plans/x.git");
	transport_url_redact(out, sizeof(out), "/srv/a@b/x.git");
	assert_string_equal(out, "/srv/a@b/x.git");
	transport_url_redact(out, sizeof(out), "http://h/x@y");
	assert_string_equal(out, "http://h/x@y");
	transport_url_redact(out, 8, "https://u:p@h.example/x.git");
	assert_string_equal(out, "https:/");
}

static void test_transport__progress_line(void **state)
{
	struct transport_progress p = { TRANSPORT_RECEIVING, 45,   100,
					3 * 1024 * 1024 / 2, NULL, 0 };
	char line[128];

	(void)state;
	assert_int_equal(transport_progress_line(line, sizeof(line), &p), 45);
	assert_string_equal(line, "receiving objects:  45% (45/100), 1.5 MiB");
	p.phase = TRANSPORT_RESOLVING;
	p.done = 10;
	p.total = 10;
	assert_int_equal(transport_progress_line(line, sizeof(line), &p), 100);
	assert_string_equal(line, "resolving deltas: 100% (10/10)");
	p.phase = TRANSPORT_REMOTE;
	p.text = "Counting\x1b[K objects: 3\r";
	p.len = strlen(p.text);
	assert_int_equal(transport_progress_line(line, sizeof(line), &p), -1);
	assert_string_equal(line, "remote: Counting[K objects: 3\r");
}

/* ---- remotes ------------------------------------------------------------ */

static void test_transport__remote_add_list_remove(void **state)
{
	struct transport_remote *list = NULL;
	git_reference *r = NULL;
	git_oid c1;
	size_t n = 0;

	(void)state;
	assert_int_equal(transport_remote_add(local, "zeta", "/srv/z.git"), 0);
	assert_int_equal(
		transport_remote_add(local, "alpha", "https://jo@h.example/a"),
		0);
	assert_int_equal(
		transport_remote_add(local, "alpha", "/srv/other.git"),
		ERROR_EXISTS);
	assert_int_equal(
		transport_remote_add(local, "bad name", "/srv/x.git"),
		ERROR_INVALID);
	assert_int_equal(
		transport_remote_add(local, "x", "ftp://h/x"), ERROR_INVALID);
	assert_int_equal(transport_remote_list(&list, &n, local), 0);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].name, "alpha");
	assert_string_equal(list[0].url, "https://h.example/a");
	assert_string_equal(list[1].name, "zeta");
	assert_string_equal(list[1].url, "/srv/z.git");
	transport_remotes_free(list, n);

	commit_on(&c1, local, "refs/heads/main", "one", 0);
	assert_int_equal(
		git_reference_create(
			&r, local, "refs/remotes/zeta/main", &c1, 1, NULL),
		0);
	git_reference_free(r);
	assert_int_equal(
		git_reference_create(
			&r, local, TRANSPORT_INCOMING "zeta/main", &c1, 1,
			NULL),
		0);
	git_reference_free(r);
	assert_int_equal(transport_remote_remove(local, "zeta"), 0);
	assert_true(ref_is(local, "refs/remotes/zeta/main", NULL));
	assert_true(ref_is(local, TRANSPORT_INCOMING "zeta/main", NULL));
	assert_int_equal(
		transport_remote_remove(local, "zeta"), ERROR_NOTFOUND);
	assert_true(ref_is(local, "refs/heads/main", &c1));
}

/* ---- fetch and promote -------------------------------------------------- */

static void test_transport__fetch_quarantine_then_promote(void **state)
{
	struct transport_fetch *f = NULL;
	const struct transport_tip *t;
	git_reference *r = NULL;
	git_oid c1, c2;

	(void)state;
	commit_on(&c1, hub, "refs/heads/main", "one", 0);
	assert_int_equal(transport_remote_add(local, "origin", hub_path), 0);

	assert_int_equal(transport_fetch(&f, local, "origin", NULL), 0);
	assert_int_equal(transport_fetch_count(f), 1);
	t = transport_fetch_tip(f, 0);
	assert_string_equal(t->branch, "main");
	assert_string_equal(t->tracking, "refs/remotes/origin/main");
	assert_string_equal(t->incoming, TRANSPORT_INCOMING "origin/main");
	assert_false(t->has_old);
	assert_string_equal(t->old_hex, "");
	assert_true(git_oid_equal(&t->new_id, &c1));
	assert_true(transport_tip_changed(t));
	/* Quarantined, not yet trusted. */
	assert_true(ref_is(local, TRANSPORT_INCOMING "origin/main", &c1));
	assert_true(ref_is(local, "refs/remotes/origin/main", NULL));
	assert_int_equal(transport_promote(local, "origin", t), 0);
	assert_true(ref_is(local, "refs/remotes/origin/main", &c1));
	transport_fetch_free(f);
	f = NULL;

	commit_on(&c2, hub, "refs/heads/main", "two", 0);
	assert_int_equal(transport_fetch(&f, local, "origin", NULL), 0);
	t = transport_fetch_tip(f, 0);
	assert_true(t->has_old);
	assert_true(git_oid_equal(&t->old_id, &c1));
	assert_true(git_oid_equal(&t->new_id, &c2));
	/* Compare-and-swap: the tracking ref moved meanwhile. */
	assert_int_equal(
		git_reference_create(
			&r, local, "refs/remotes/origin/main", &c2, 1, NULL),
		0);
	git_reference_free(r);
	assert_int_equal(
		git_reference_create(
			&r, local, "refs/remotes/origin/main", &c1, 1, NULL),
		0);
	git_reference_free(r);
	{
		struct transport_tip swapped = *t;

		/* A "new" tip that does not contain the old one. */
		swapped.old_id = c2;
		swapped.new_id = c1;
		assert_int_equal(
			transport_promote(local, "origin", &swapped),
			ERROR_VERIFY);
	}
	/* Someone else moved origin/main meanwhile: CAS refuses. */
	assert_int_equal(
		git_reference_create(
			&r, local, "refs/remotes/origin/main", &c2, 1, NULL),
		0);
	git_reference_free(r);
	{
		assert_int_equal(
			git_reference_create(
				&r, local, "refs/remotes/origin/main", &c1, 1,
				NULL),
			0);
		git_reference_free(r);
		/* tip says c1 -> c2; the ref now holds c1, then c2: */
		assert_int_equal(transport_promote(local, "origin", t), 0);
		assert_true(ref_is(local, "refs/remotes/origin/main", &c2));
		assert_int_equal(
			transport_promote(local, "origin", t), ERROR_BUSY);
		assert_true(ref_is(local, "refs/remotes/origin/main", &c2));
	}
	transport_fetch_free(f);
}

static void test_transport__rewritten_is_refused(void **state)
{
	struct transport_fetch *f = NULL;
	git_oid c1, c2, c3, c4;
	char want[64];

	(void)state;
	commit_on(&c1, hub, "refs/heads/main", "one", 0);
	commit_on(&c2, hub, "refs/heads/main", "two", 0);
	assert_int_equal(transport_remote_add(local, "origin", hub_path), 0);
	assert_int_equal(transport_fetch(&f, local, "origin", NULL), 0);
	assert_int_equal(
		transport_promote(local, "origin", transport_fetch_tip(f, 0)),
		0);
	transport_fetch_free(f);
	f = NULL;

	/* The hub's main is replaced by a history without c2. */
	commit_on(&c3, hub, "refs/heads/main", "other root", 1);
	commit_on(&c4, hub, "refs/heads/side", "side", 1);
	assert_int_equal(
		transport_fetch(&f, local, "origin", NULL), ERROR_VERIFY);
	assert_null(f);
	snprintf(
		want, sizeof(want), "it no longer contains %.7s",
		git_oid_tostr_s(&c2));
	assert_non_null(strstr(error_message(), "'origin/main' was rewritten"));
	assert_non_null(strstr(error_message(), want));
	/* Nothing moved, not even the quarantine. */
	assert_true(ref_is(local, "refs/remotes/origin/main", &c2));
	assert_true(ref_is(local, TRANSPORT_INCOMING "origin/main", &c2));
	assert_true(ref_is(local, TRANSPORT_INCOMING "origin/side", NULL));
	(void)c1;
	(void)c4;
}

static void test_transport__quarantine_mirrors_branches(void **state)
{
	struct transport_fetch *f = NULL;
	git_reference *r = NULL;
	git_oid c1, c2;

	(void)state;
	commit_on(&c1, hub, "refs/heads/main", "one", 0);
	commit_on(&c2, hub, "refs/heads/topic/x", "topic", 0);
	assert_int_equal(transport_remote_add(local, "hub", hub_path), 0);
	assert_int_equal(transport_fetch(&f, local, "hub", NULL), 0);
	assert_int_equal(transport_fetch_count(f), 2);
	assert_string_equal(transport_fetch_tip(f, 0)->branch, "main");
	assert_string_equal(transport_fetch_tip(f, 1)->branch, "topic/x");
	assert_true(ref_is(local, TRANSPORT_INCOMING "hub/topic/x", &c2));
	transport_fetch_free(f);
	f = NULL;

	assert_int_equal(
		git_reference_lookup(&r, hub, "refs/heads/topic/x"), 0);
	assert_int_equal(git_reference_delete(r), 0);
	git_reference_free(r);
	assert_int_equal(transport_fetch(&f, local, "hub", NULL), 0);
	assert_int_equal(transport_fetch_count(f), 1);
	assert_true(ref_is(local, TRANSPORT_INCOMING "hub/topic/x", NULL));
	assert_true(ref_is(local, TRANSPORT_INCOMING "hub/main", &c1));
	transport_fetch_free(f);
	f = NULL;

	/* An empty hub: no branches, nothing to download. */
	assert_int_equal(git_reference_lookup(&r, hub, "refs/heads/main"), 0);
	assert_int_equal(git_reference_delete(r), 0);
	git_reference_free(r);
	assert_int_equal(transport_fetch(&f, local, "hub", NULL), 0);
	assert_int_equal(transport_fetch_count(f), 0);
	assert_true(ref_is(local, TRANSPORT_INCOMING "hub/main", NULL));
	transport_fetch_free(f);
}

/* ---- push --------------------------------------------------------------- */

static void test_transport__push(void **state)
{
	struct transport_pushed r;
	git_oid c1, c2, o1, c3;

	(void)state;
	assert_int_equal(
		transport_push(&r, local, "origin", NULL, NULL),
		ERROR_NOTFOUND);
	commit_on(&c1, local, "refs/heads/main", "one", 0);
	assert_int_equal(transport_remote_add(local, "origin", hub_path), 0);
	/* Into an empty bare hub. */
	assert_int_equal(transport_push(&r, local, "origin", NULL, NULL), 0);
	assert_string_equal(r.branch, "main");
	assert_false(r.had_old);
	assert_false(r.up_to_date);
	assert_true(ref_is(hub, "refs/heads/main", &c1));
	assert_true(ref_is(local, "refs/remotes/origin/main", &c1));
	assert_int_equal(transport_push(&r, local, "origin", "main", NULL), 0);
	assert_true(r.up_to_date);

	commit_on(&c2, local, "refs/heads/main", "two", 0);
	assert_int_equal(transport_push(&r, local, "origin", NULL, NULL), 0);
	assert_true(r.had_old);
	assert_string_equal(r.old_hex, git_oid_tostr_s(&c1));
	assert_string_equal(r.new_hex, git_oid_tostr_s(&c2));
	assert_true(ref_is(hub, "refs/heads/main", &c2));

	/* Another partner pushes first: ours is not a fast-forward. */
	assert_int_equal(transport_remote_add(other, "origin", hub_path), 0);
	{
		struct transport_fetch *f = NULL;

		assert_int_equal(transport_fetch(&f, other, "origin", NULL), 0);
		transport_fetch_free(f);
	}
	{
		git_reference *ref = NULL;

		assert_int_equal(
			git_reference_create(
				&ref, other, "refs/heads/main", &c2, 1, NULL),
			0);
		git_reference_free(ref);
	}
	commit_on(&o1, other, "refs/heads/main", "theirs", 0);
	assert_int_equal(transport_push(NULL, other, "origin", NULL, NULL), 0);
	commit_on(&c3, local, "refs/heads/main", "ours", 0);
	assert_int_equal(
		transport_push(&r, local, "origin", NULL, NULL), ERROR_GENERIC);
	assert_non_null(strstr(error_message(), "run 'plansync sync'"));
	assert_true(ref_is(hub, "refs/heads/main", &o1));
	assert_true(ref_is(local, "refs/remotes/origin/main", &c2));
	assert_int_equal(
		transport_push(&r, local, "origin", "nosuch", NULL),
		ERROR_NOTFOUND);
	assert_int_equal(
		transport_push(&r, local, "nosuch", NULL, NULL),
		ERROR_NOTFOUND);
}

/* ---- errors ------------------------------------------------------------- */

static int progress_calls;

static void count_progress(const struct transport_progress *p, void *ctx)
{
	(void)p;
	(void)ctx;
	progress_calls++;
}

static void test_transport__unreachable_is_net(void **state)
{
	struct transport_options o = TRANSPORT_OPTIONS_INIT;
	struct transport_fetch *f = NULL;
	git_config *cfg = NULL;
	git_oid c1;

	(void)state;
	o.progress = count_progress;
	commit_on(&c1, local, "refs/heads/main", "one", 0);
	/* Port 1 on loopback: nothing listens there. */
	assert_int_equal(
		transport_remote_add(local, "off", "git://127.0.0.1:1/x.git"),
		0);
	assert_int_equal(transport_fetch(&f, local, "off", &o), ERROR_NET);
	assert_null(f);
	assert_non_null(strstr(
		error_message(), "remote 'off' (git://127.0.0.1:1/x.git)"));
	assert_null(strchr(error_message(), '\n'));
	assert_int_equal(
		transport_push(NULL, local, "off", NULL, &o), ERROR_NET);
	/* A URL set by stock git with a password: never in a message. */
	assert_int_equal(git_repository_config(&cfg, local), 0);
	assert_int_equal(
		git_config_set_string(
			cfg, "remote.pw.url",
			"http://jo:hunter2@127.0.0.1:1/x"),
		0);
	git_config_free(cfg);
	assert_int_equal(transport_fetch(&f, local, "pw", &o), ERROR_NET);
	assert_null(strstr(error_message(), "hunter2"));
	assert_null(strstr(error_message(), "jo@"));
	assert_non_null(strstr(error_message(), "http://127.0.0.1:1/x"));
	/* A missing local hub (the USB stick is not plugged in). */
	assert_int_equal(
		transport_remote_add(local, "stick", "/nonexistent/plan.git"),
		0);
	assert_int_equal(transport_fetch(&f, local, "stick", &o), ERROR_NET);
	assert_non_null(strstr(error_message(), "no repository there"));
	assert_true(ref_is(local, "refs/heads/main", &c1));
	assert_true(ref_is(local, "refs/remotes/off/main", NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_transport__names),
		cmocka_unit_test(test_transport__urls),
		cmocka_unit_test(test_transport__redact),
		cmocka_unit_test(test_transport__progress_line),
		cmocka_unit_test_setup_teardown(
			test_transport__remote_add_list_remove, each_setup,
			each_teardown),
		cmocka_unit_test_setup_teardown(
			test_transport__fetch_quarantine_then_promote,
			each_setup, each_teardown),
		cmocka_unit_test_setup_teardown(
			test_transport__rewritten_is_refused, each_setup,
			each_teardown),
		cmocka_unit_test_setup_teardown(
			test_transport__quarantine_mirrors_branches, each_setup,
			each_teardown),
		cmocka_unit_test_setup_teardown(
			test_transport__push, each_setup, each_teardown),
		cmocka_unit_test_setup_teardown(
			test_transport__unreachable_is_net, each_setup,
			each_teardown),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
