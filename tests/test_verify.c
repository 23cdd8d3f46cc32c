/*
 * tests/test_verify.c: the trust rules of SPEC.md 3 (sync/verify) on
 * throwaway repositories built by tests/helper_sign, on the shared SSHSIG
 * vectors (tests/fixtures/sshsig) and on commits signed by stock git with
 * an ssh-keygen key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <git2.h>
#include <sodium.h>

#include "core/error.h"
#include "core/key.h"
#include "core/sshsig.h"
#include "sync/verify.h"
#include "tests/helper_sign.h"

#define FIX "tests/fixtures/sshsig/"

static char top[1024];
static char tmpdir[1024];

/* Keys made once for the whole group. */
static struct key *coord; /* alice, coordinator */
static struct key *editor; /* bob, editor */
static struct key *carol; /* editor, revoked later in some tests */
static struct key *rogue; /* in no partners.yaml */

/* Each test's repository. */
struct fx {
	git_repository *repo;
	char path[512];
	git_oid root;
};

static int run(const char *cmd)
{
	int st = system(cmd);

	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *partners_std(int carol_revoked)
{
	struct helper_sign_partner p[] = {
		{ coord, "coordinator", 0, NULL, NULL },
		{ editor, "editor", 0, NULL, NULL },
		{ carol, "editor", carol_revoked, NULL, NULL },
	};

	return helper_sign_partners_yaml(p, 3);
}

/* A repo whose root (signed by coord) holds plan.yaml and partners.yaml. */
static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct helper_sign_commit c;
	git_oid t1, t2;
	char *partners = partners_std(0);

	if (!f || !partners ||
	    helper_sign_repo_new(&f->repo, f->path, sizeof(f->path)) < 0 ||
	    helper_sign_tree_put(
		    &t1, f->repo, NULL, "plan.yaml", "schema: plansync/1\n") <
		    0 ||
	    helper_sign_tree_put(&t2, f->repo, &t1, "partners.yaml", partners) <
		    0)
		return -1;
	memset(&c, 0, sizeof(c));
	c.tree = &t2;
	c.key = coord;
	c.message = "init\n";
	if (helper_sign_commit(&f->root, f->repo, &c) < 0 ||
	    helper_sign_set_ref(f->repo, "refs/heads/main", &f->root) < 0)
		return -1;
	free(partners);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	git_repository_free(f->repo);
	helper_sign_rmrf(f->path);
	free(f);
	return 0;
}

/* verify_commit with a fresh cache; the reason into reason (may be NULL). */
static enum verify_verdict
verdict(struct fx *f,
	const git_oid *id,
	const struct verify_options *opts,
	char *reason,
	size_t size)
{
	struct verify_cache *cache = NULL;
	struct verify_result r;

	assert_int_equal(verify_cache_new(&cache), 0);
	assert_int_equal(verify_commit(&r, f->repo, id, opts, cache), 0);
	if (reason)
		snprintf(reason, size, "%s", r.reason);
	if (r.verdict == VERIFY_GOOD)
		assert_string_equal(r.reason, "");
	else
		assert_true(strlen(r.reason) > 0);
	verify_cache_free(cache);
	return r.verdict;
}

static void assert_verdict(
	struct fx *f,
	const git_oid *id,
	enum verify_verdict want,
	const char *reason_has)
{
	char reason[VERIFY_REASON_MAX];
	enum verify_verdict got = verdict(f, id, NULL, reason, sizeof(reason));

	if (got != want)
		fail_msg(
			"verdict %s (%s), wanted %s", verify_verdict_name(got),
			reason, verify_verdict_name(want));
	if (reason_has && !strstr(reason, reason_has))
		fail_msg("reason '%s' lacks '%s'", reason, reason_has);
}

static void
change(git_oid *out,
       struct fx *f,
       const git_oid *parent,
       const char *path,
       const char *content,
       const struct key *key,
       unsigned flags)
{
	assert_int_equal(
		helper_sign_change(
			out, f->repo, parent, path, content, key, flags),
		0);
}

/* ---- good histories ----------------------------------------------------- */

static void test_verify__good_chain(void **state)
{
	struct fx *f = *state;
	git_oid a, b, c;
	char *p2 = partners_std(1);

	assert_verdict(f, &f->root, VERIFY_GOOD, NULL);
	change(&a, f, &f->root, "actions/P1/P1-A1.yaml", "id: P1-A1\n", editor,
	       0);
	assert_verdict(f, &a, VERIFY_GOOD, NULL);
	change(&b, f, &a, "actions/P1/P1-A1.yaml", "id: P1-A1\nx: 1\n", carol,
	       0);
	assert_verdict(f, &b, VERIFY_GOOD, NULL);
	/* a coordinator may change partners.yaml */
	change(&c, f, &b, "partners.yaml", p2, coord, 0);
	assert_verdict(f, &c, VERIFY_GOOD, NULL);
	free(p2);
}

static void test_verify__result_names_signer(void **state)
{
	struct fx *f = *state;
	struct verify_cache *cache = NULL;
	struct verify_result r;
	char fp[KEY_FINGERPRINT_MAX], hex[GIT_OID_HEXSZ + 1];
	git_oid a;

	change(&a, f, &f->root, "plan.yaml", "schema: plansync/1\nx: 2\n",
	       editor, 0);
	assert_int_equal(verify_cache_new(&cache), 0);
	assert_int_equal(verify_commit(&r, f->repo, &a, NULL, cache), 0);
	assert_int_equal(r.verdict, VERIFY_GOOD);
	assert_true(r.has_key);
	assert_memory_equal(r.key, key_public(editor), KEY_PUBLIC_BYTES);
	key_fingerprint(fp, key_public(editor));
	assert_string_equal(r.fingerprint, fp);
	assert_string_equal(r.email, key_email(editor));
	assert_string_equal(r.name, key_name(editor));
	assert_string_equal(r.organisation, key_org(editor));
	assert_false(r.coordinator);
	assert_true(git_oid_equal(&r.commit, &a));
	git_oid_tostr(hex, sizeof(hex), &a);
	assert_string_equal(r.id, hex);
	verify_cache_free(cache);
}

static void test_verify__sha256_and_own_signer_good(void **state)
{
	struct fx *f = *state;
	git_oid a, b;

	/* the helper's independent SSHSIG writer agrees with core/sshsig */
	change(&a, f, &f->root, "plan.yaml", "a: 1\n", editor, HELPER_SIGN_OWN);
	assert_verdict(f, &a, VERIFY_GOOD, NULL);
	change(&b, f, &a, "plan.yaml", "a: 2\n", editor, HELPER_SIGN_SHA256);
	assert_verdict(f, &b, VERIFY_GOOD, NULL);
}

static void test_verify__author_email_case(void **state)
{
	struct fx *f = *state;
	struct helper_sign_commit c;
	git_oid tree, id;

	assert_int_equal(helper_sign_commit_tree(&tree, f->repo, &f->root), 0);
	memset(&c, 0, sizeof(c));
	c.tree = &tree;
	c.parents = &f->root;
	c.nparents = 1;
	c.key = editor;
	c.email = "BOB@b.example";
	assert_int_equal(helper_sign_commit(&id, f->repo, &c), 0);
	assert_verdict(f, &id, VERIFY_GOOD, NULL);
}

/* ---- the attacks -------------------------------------------------------- */

static void test_verify__tampered_message(void **state)
{
	struct fx *f = *state;
	git_oid a;

	change(&a, f, &f->root, "plan.yaml", "a: 1\n", editor,
	       HELPER_SIGN_TAMPER_MESSAGE);
	assert_verdict(f, &a, VERIFY_BAD_SIGNATURE, "does not verify");
}

static void test_verify__tampered_signature(void **state)
{
	struct fx *f = *state;
	git_oid a;

	change(&a, f, &f->root, "plan.yaml", "a: 1\n", editor,
	       HELPER_SIGN_TAMPER_SIG);
	assert_verdict(f, &a, VERIFY_BAD_SIGNATURE, "does not verify");
}

static void test_verify__hash_mismatch(void **state)
{
	struct fx *f = *state;
	git_oid a;

	/* signed data hashed with sha512, the blob claims sha256 */
	change(&a, f, &f->root, "plan.yaml", "a: 1\n", editor,
	       HELPER_SIGN_HASH_MISMATCH);
	assert_verdict(f, &a, VERIFY_BAD_SIGNATURE, "does not verify");
}

static void test_verify__wrong_namespace(void **state)
{
	struct fx *f = *state;
	git_oid a;

	change(&a, f, &f->root, "plan.yaml", "a: 1\n", editor,
	       HELPER_SIGN_WRONG_NAMESPACE);
	assert_verdict(f, &a, VERIFY_BAD_SIGNATURE, "namespace");
}

static void test_verify__unknown_key(void **state)
{
	struct fx *f = *state;
	git_oid a;
	char fp[KEY_FINGERPRINT_MAX];

	change(&a, f, &f->root, "plan.yaml", "a: 1\n", rogue, 0);
	key_fingerprint(fp, key_public(rogue));
	assert_verdict(f, &a, VERIFY_UNKNOWN_KEY, fp);
	assert_verdict(f, &a, VERIFY_UNKNOWN_KEY, "not listed");
}

static void test_verify__revoked_key(void **state)
{
	struct fx *f = *state;
	git_oid before, rev, after;
	char *p2 = partners_std(1);

	change(&before, f, &f->root, "plan.yaml", "a: 1\n", carol, 0);
	change(&rev, f, &before, "partners.yaml", p2, coord, 0);
	change(&after, f, &rev, "plan.yaml", "a: 2\n", carol, 0);
	assert_verdict(f, &before, VERIFY_GOOD, NULL);
	assert_verdict(f, &rev, VERIFY_GOOD, NULL);
	assert_verdict(f, &after, VERIFY_REVOKED, "revoked");
	assert_verdict(f, &after, VERIFY_REVOKED, key_email(carol));
	free(p2);
}

static void test_verify__another_partners_email(void **state)
{
	struct fx *f = *state;
	struct helper_sign_commit c;
	git_oid tree, id;

	assert_int_equal(helper_sign_commit_tree(&tree, f->repo, &f->root), 0);
	memset(&c, 0, sizeof(c));
	c.tree = &tree;
	c.parents = &f->root;
	c.nparents = 1;
	c.key = editor; /* bob signs ... */
	c.name = key_name(coord);
	c.email = key_email(coord); /* ... as alice */
	assert_int_equal(helper_sign_commit(&id, f->repo, &c), 0);
	assert_verdict(f, &id, VERIFY_WRONG_AUTHOR, key_email(coord));
}

/*
 * "author Bob <bob@b> <alice@a> ...": git reads the first <...>, libgit2
 * (git_commit_author, which log and blame show) the last: such a line is
 * refused, or bob's key could put alice's name on a change.
 */
static void test_verify__author_two_emails(void **state)
{
	struct fx *f = *state;
	struct helper_sign_commit c;
	git_oid tree, id;
	git_commit *commit = NULL;
	char name[256];

	assert_int_equal(helper_sign_commit_tree(&tree, f->repo, &f->root), 0);
	snprintf(
		name, sizeof(name), "%s <%s>", key_name(editor),
		key_email(editor));
	memset(&c, 0, sizeof(c));
	c.tree = &tree;
	c.parents = &f->root;
	c.nparents = 1;
	c.key = editor; /* bob signs, his email first ... */
	c.name = name;
	c.email = key_email(coord); /* ... alice's last */
	assert_int_equal(helper_sign_commit(&id, f->repo, &c), 0);
	assert_int_equal(git_commit_lookup(&commit, f->repo, &id), 0);
	assert_string_equal(git_commit_author(commit)->email, key_email(coord));
	git_commit_free(commit);
	assert_verdict(f, &id, VERIFY_MALFORMED, "author");
	/* log and blame print the author's name: no terminal escapes */
	c.name = "Bob \x1b[2J";
	c.email = NULL;
	assert_int_equal(helper_sign_commit(&id, f->repo, &c), 0);
	assert_verdict(f, &id, VERIFY_MALFORMED, "author");
	c.name = "Bob \xc2\x9b"
		 "2J";
	assert_int_equal(helper_sign_commit(&id, f->repo, &c), 0);
	assert_verdict(f, &id, VERIFY_MALFORMED, "author");
	c.name = "B\xc3\xb6"
		 "b";
	assert_int_equal(helper_sign_commit(&id, f->repo, &c), 0);
	assert_verdict(f, &id, VERIFY_GOOD, NULL);
}

static void test_verify__editor_changes_partners(void **state)
{
	struct fx *f = *state;
	struct helper_sign_partner p[] = {
		{ coord, "coordinator", 0, NULL, NULL },
		{ editor, "coordinator", 0, NULL, NULL }, /* self-promotion */
		{ carol, "editor", 0, NULL, NULL },
	};
	char *yaml = helper_sign_partners_yaml(p, 3);
	git_oid a, b;

	change(&a, f, &f->root, "partners.yaml", yaml, editor, 0);
	assert_verdict(f, &a, VERIFY_NOT_COORDINATOR, "partners.yaml");
	/* and an editor may not delete it either */
	change(&b, f, &f->root, "partners.yaml", NULL, editor, 0);
	assert_verdict(f, &b, VERIFY_NOT_COORDINATOR, "coordinator");
	free(yaml);
}

static void test_verify__unsigned(void **state)
{
	struct fx *f = *state;
	git_oid a;

	change(&a, f, &f->root, "plan.yaml", "a: 1\n", NULL, 0);
	assert_verdict(f, &a, VERIFY_UNSIGNED, "not signed");
}

static void test_verify__gpgsig_in_body(void **state)
{
	struct fx *f = *state;
	git_buf sig = { 0 }, data = { 0 };
	unsigned char pk[KEY_PUBLIC_BYTES];
	git_oid a;

	change(&a, f, &f->root, "plan.yaml", "a: 1\n", editor,
	       HELPER_SIGN_IN_BODY);
	assert_verdict(f, &a, VERIFY_UNSIGNED, "not signed");
	/*
	 * The attack is real: libgit2's extractor takes the pasted block as
	 * the signature, and it verifies over what it calls the signed data.
	 */
	if (git_commit_extract_signature(&sig, &data, f->repo, &a, NULL) == 0) {
		assert_int_equal(
			sshsig_verify(
				pk, sig.ptr, sig.size, data.ptr, data.size),
			0);
		assert_memory_equal(pk, key_public(editor), KEY_PUBLIC_BYTES);
	}
	git_buf_dispose(&sig);
	git_buf_dispose(&data);
}

static void test_verify__two_gpgsig_headers(void **state)
{
	struct fx *f = *state;
	git_oid a;

	change(&a, f, &f->root, "plan.yaml", "a: 1\n", editor,
	       HELPER_SIGN_TWO_HEADERS);
	assert_verdict(f, &a, VERIFY_MALFORMED, "two gpgsig");
}

static void test_verify__root_rules(void **state)
{
	struct fx *f = *state;
	struct helper_sign_partner p[] = {
		{ editor, "editor", 0, NULL, NULL },
	};
	char *yaml = helper_sign_partners_yaml(p, 1);
	git_oid a, b, c;

	/* a root signed by an editor of its own partners.yaml */
	change(&a, f, NULL, "partners.yaml", yaml, editor, 0);
	assert_verdict(f, &a, VERIFY_NOT_COORDINATOR, "root");
	/* a root without partners.yaml */
	change(&b, f, NULL, "plan.yaml", "a: 1\n", coord, 0);
	assert_verdict(f, &b, VERIFY_UNKNOWN_KEY, "no partners.yaml");
	/* a root whose partners.yaml does not list its signer */
	change(&c, f, NULL, "partners.yaml", yaml, coord, 0);
	assert_verdict(f, &c, VERIFY_UNKNOWN_KEY, "root");
	free(yaml);
}

static void test_verify__bad_partners_by_coordinator(void **state)
{
	struct fx *f = *state;
	git_oid a, b, c;

	/* removing partners.yaml leaves nobody trusted: refused */
	change(&a, f, &f->root, "partners.yaml", NULL, coord, 0);
	assert_verdict(f, &a, VERIFY_MALFORMED, "removes partners.yaml");
	/* an invalid partners.yaml is refused, and so is what follows */
	change(&b, f, &f->root, "partners.yaml", "partners: [: bad\n", coord,
	       0);
	assert_verdict(f, &b, VERIFY_MALFORMED, "partners.yaml");
	change(&c, f, &b, "plan.yaml", "a: 1\n", coord, 0);
	assert_verdict(f, &c, VERIFY_UNKNOWN_KEY, "invalid");
}

static void test_verify__locally_revoked_fork(void **state)
{
	struct fx *f = *state;
	struct verify_partners *local = NULL;
	struct verify_options opts = VERIFY_OPTIONS_INIT;
	unsigned char(*keys)[KEY_PUBLIC_BYTES] = NULL;
	size_t n = 0;
	git_oid a, rev, fork;
	char *p2 = partners_std(1);
	char reason[VERIFY_REASON_MAX];

	/* carol is revoked on main; she forks from before her revocation */
	change(&a, f, &f->root, "plan.yaml", "a: 1\n", editor, 0);
	change(&rev, f, &a, "partners.yaml", p2, coord, 0);
	change(&fork, f, &a, "plan.yaml", "a: carol\n", carol, 0);
	/* the fork alone is good by its own history ... */
	assert_verdict(f, &fork, VERIFY_GOOD, NULL);
	/* ... but not to whoever's partners.yaml revokes her */
	assert_int_equal(verify_partners_at(&local, f->repo, &rev), 0);
	assert_int_equal(verify_revoked_keys(&keys, &n, local), 0);
	assert_int_equal(n, 1);
	assert_memory_equal(keys[0], key_public(carol), KEY_PUBLIC_BYTES);
	opts.revoked = (const unsigned char(*)[KEY_PUBLIC_BYTES])keys;
	opts.nrevoked = n;
	assert_int_equal(
		verdict(f, &fork, &opts, reason, sizeof(reason)),
		VERIFY_REVOKED);
	assert_non_null(strstr(reason, "local partners.yaml"));
	/* others' new commits still pass with the same options */
	assert_int_equal(verdict(f, &a, &opts, NULL, 0), VERIFY_GOOD);
	/* verify_range refuses the fork when the local tip is hidden */
	assert_int_equal(
		verify_range(
			f->repo, &fork, 1, &rev, 1, &opts, NULL, NULL, NULL),
		ERROR_VERIFY);
	assert_non_null(strstr(error_message(), "revoked"));
	error_clear();
	free(keys);
	verify_partners_free(local);
	free(p2);
}

static void test_verify__merges(void **state)
{
	struct fx *f = *state;
	struct helper_sign_commit c;
	git_oid left, right, t, m1, m2, m3, parents[2];
	char *p2 = partners_std(1);
	struct helper_sign_partner p[] = {
		{ coord, "coordinator", 0, NULL, NULL },
		{ editor, "coordinator", 0, NULL, NULL },
	};
	char *p3 = helper_sign_partners_yaml(p, 2);

	change(&left, f, &f->root, "plan.yaml", "left\n", editor, 0);
	change(&right, f, &f->root, "partners.yaml", p2, coord, 0);
	parents[0] = left;
	parents[1] = right;
	memset(&c, 0, sizeof(c));
	c.parents = parents;
	c.nparents = 2;
	c.key = editor;
	/* taking the other side's partners.yaml is no change */
	assert_int_equal(
		helper_sign_tree_put(&t, f->repo, NULL, "plan.yaml", "left\n"),
		0);
	assert_int_equal(
		helper_sign_tree_put(&t, f->repo, &t, "partners.yaml", p2), 0);
	c.tree = &t;
	assert_int_equal(helper_sign_commit(&m1, f->repo, &c), 0);
	assert_verdict(f, &m1, VERIFY_GOOD, NULL);
	/* a partners.yaml neither parent has needs a coordinator */
	assert_int_equal(
		helper_sign_tree_put(&t, f->repo, &t, "partners.yaml", p3), 0);
	assert_int_equal(helper_sign_commit(&m2, f->repo, &c), 0);
	assert_verdict(f, &m2, VERIFY_NOT_COORDINATOR, "partners.yaml");
	c.key = coord;
	assert_int_equal(helper_sign_commit(&m3, f->repo, &c), 0);
	assert_verdict(f, &m3, VERIFY_GOOD, NULL);
	free(p2);
	free(p3);
}

/*
 * A root commit vouches for itself.  Bob makes a root whose own
 * partners.yaml names his key as alice, coordinator, and merges it into the
 * trusted history: fetched (verify_range hiding the trusted tip) it must be
 * refused, or its changes verify as alice's.
 */
static void test_verify__foreign_root_merged_in(void **state)
{
	struct fx *f = *state;
	struct helper_sign_commit c;
	git_oid a, t1, t2, fake, m, parents[2];
	struct helper_sign_partner p[] = {
		{ editor, "coordinator", 0, NULL, NULL },
	};
	char *fake_partners;

	p[0].email = key_email(coord);
	fake_partners = helper_sign_partners_yaml(p, 1);
	change(&a, f, &f->root, "plan.yaml", "a\n", editor, 0);
	assert_int_equal(
		helper_sign_tree_put(
			&t1, f->repo, NULL, "plan.yaml", "forged\n"),
		0);
	assert_int_equal(
		helper_sign_tree_put(
			&t2, f->repo, &t1, "partners.yaml", fake_partners),
		0);
	memset(&c, 0, sizeof(c));
	c.tree = &t2;
	c.key = editor;
	c.name = key_name(coord);
	c.email = key_email(coord);
	assert_int_equal(helper_sign_commit(&fake, f->repo, &c), 0);
	/* on its own, by the rules for a root, it verifies */
	assert_verdict(f, &fake, VERIFY_GOOD, NULL);
	assert_int_equal(helper_sign_commit_tree(&t1, f->repo, &a), 0);
	parents[0] = a;
	parents[1] = fake;
	memset(&c, 0, sizeof(c));
	c.tree = &t1;
	c.parents = parents;
	c.nparents = 2;
	c.key = editor;
	assert_int_equal(helper_sign_commit(&m, f->repo, &c), 0);
	assert_int_equal(
		verify_range(
			f->repo, &m, 1, &f->root, 1, NULL, NULL, NULL, NULL),
		ERROR_VERIFY);
	assert_non_null(strstr(error_message(), "root"));
	error_clear();
	/* nor may a clone take in a history with two roots */
	assert_int_equal(
		verify_range(f->repo, &m, 1, NULL, 0, NULL, NULL, NULL, NULL),
		ERROR_VERIFY);
	assert_non_null(strstr(error_message(), "root"));
	error_clear();
	/* a clone (nothing trusted yet) still checks roots by their rules */
	assert_int_equal(
		verify_range(f->repo, &a, 1, NULL, 0, NULL, NULL, NULL, NULL),
		0);
	free(fake_partners);
}

/*
 * The coordinator revokes carol on one side; bob's merge keeps the other
 * side's partners.yaml (no change against that parent, so no coordinator
 * needed) and so undoes the revocation; carol then signs on top.  The field
 * merge of partners.yaml revokes carol: a fetch (verify_range) must refuse
 * the merge, as plansync verify does.
 */
static void test_verify__merge_undoes_revocation(void **state)
{
	struct fx *f = *state;
	struct helper_sign_commit c;
	git_oid base, left, right, t, m, after, parents[2];
	char *p2 = partners_std(1);

	change(&base, f, &f->root, "plan.yaml",
	       "schema: plansync/1\ntitle: T\npartnership: P\nupdated: U\n"
	       "priorities:\n  - id: P1\n    title: T1\n",
	       coord, 0);
	change(&left, f, &base, "notes.txt", "left\n", editor, 0);
	change(&right, f, &base, "partners.yaml", p2, coord, 0);
	assert_int_equal(helper_sign_commit_tree(&t, f->repo, &left), 0);
	parents[0] = left;
	parents[1] = right;
	memset(&c, 0, sizeof(c));
	c.tree = &t;
	c.parents = parents;
	c.nparents = 2;
	c.key = editor;
	assert_int_equal(helper_sign_commit(&m, f->repo, &c), 0);
	change(&after, f, &m, "notes.txt", "carol\n", carol, 0);
	assert_int_equal(
		verify_range(
			f->repo, &after, 1, &f->root, 1, NULL, NULL, NULL,
			NULL),
		ERROR_VERIFY);
	if (!strstr(error_message(), "merge-edit: partners.yaml"))
		fail_msg("message: %s", error_message());
	error_clear();
	free(p2);
}

/* ---- ranges and history ------------------------------------------------ */

struct collect {
	size_t n, bad;
	git_oid ids[64];
	enum verify_verdict v[64];
};

static int collect_cb(const struct verify_result *r, void *payload)
{
	struct collect *c = payload;

	assert_true(c->n < 64);
	c->ids[c->n] = r->commit;
	c->v[c->n++] = r->verdict;
	if (r->verdict != VERIFY_GOOD)
		c->bad++;
	return 0;
}

static size_t index_of(const struct collect *c, const git_oid *id)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (git_oid_equal(&c->ids[i], id))
			return i;
	fail_msg("commit not reported");
	return 0;
}

static void test_verify__range_order_and_hide(void **state)
{
	struct fx *f = *state;
	struct collect c;
	git_oid a, b, bad, d;

	change(&a, f, &f->root, "plan.yaml", "a\n", editor, 0);
	change(&b, f, &a, "plan.yaml", "b\n", carol, 0);
	change(&bad, f, &b, "plan.yaml", "c\n", NULL, 0);
	change(&d, f, &bad, "plan.yaml", "d\n", rogue, 0);
	memset(&c, 0, sizeof(c));
	assert_int_equal(
		verify_range(
			f->repo, &d, 1, NULL, 0, NULL, NULL, collect_cb, &c),
		0);
	assert_int_equal(c.n, 5);
	assert_int_equal(c.bad, 2);
	/* parents first */
	assert_true(index_of(&c, &f->root) < index_of(&c, &a));
	assert_true(index_of(&c, &a) < index_of(&c, &b));
	assert_true(index_of(&c, &b) < index_of(&c, &bad));
	assert_true(index_of(&c, &bad) < index_of(&c, &d));
	assert_int_equal(c.v[index_of(&c, &bad)], VERIFY_UNSIGNED);
	assert_int_equal(c.v[index_of(&c, &d)], VERIFY_UNKNOWN_KEY);

	/* hidden (already trusted) commits are not checked again */
	memset(&c, 0, sizeof(c));
	assert_int_equal(
		verify_range(
			f->repo, &d, 1, &bad, 1, NULL, NULL, collect_cb, &c),
		0);
	assert_int_equal(c.n, 1);
	assert_true(git_oid_equal(&c.ids[0], &d));

	/* without a callback: the first (earliest) bad commit, named */
	assert_int_equal(
		verify_range(f->repo, &d, 1, NULL, 0, NULL, NULL, NULL, NULL),
		ERROR_VERIFY);
	{
		char hex[GIT_OID_HEXSZ + 1], want[64];

		git_oid_tostr(hex, sizeof(hex), &bad);
		snprintf(want, sizeof(want), "commit %.7s unsigned", hex);
		assert_non_null(strstr(error_message(), want));
	}
	error_clear();
	assert_int_equal(
		verify_range(f->repo, &b, 1, NULL, 0, NULL, NULL, NULL, NULL),
		0);
}

static void test_verify__history(void **state)
{
	struct fx *f = *state;
	struct collect c;
	size_t total = 0, bad = 0;
	git_oid a, side;
	char hex[GIT_OID_HEXSZ + 1];

	change(&a, f, &f->root, "plan.yaml", "a\n", editor, 0);
	assert_int_equal(
		helper_sign_set_ref(f->repo, "refs/heads/main", &a), 0);
	change(&side, f, &f->root, "plan.yaml", "side\n", NULL, 0);
	assert_int_equal(
		helper_sign_set_ref(f->repo, "refs/heads/side", &side), 0);

	/* HEAD (main): both good */
	memset(&c, 0, sizeof(c));
	assert_int_equal(
		verify_history(&total, &bad, f->path, NULL, 0, collect_cb, &c),
		0);
	assert_int_equal(total, 2);
	assert_int_equal(bad, 0);
	assert_int_equal(c.n, 2);
	/* --all includes the unsigned side branch */
	assert_int_equal(
		verify_history(&total, &bad, f->path, NULL, 1, NULL, NULL), 0);
	assert_int_equal(total, 3);
	assert_int_equal(bad, 1);
	/* a named revision */
	assert_int_equal(
		verify_history(&total, &bad, f->path, "side", 0, NULL, NULL),
		0);
	assert_int_equal(total, 2);
	assert_int_equal(bad, 1);
	git_oid_tostr(hex, sizeof(hex), &a);
	assert_int_equal(
		verify_history(&total, &bad, f->path, hex, 0, NULL, NULL), 0);
	assert_int_equal(total, 2);
	/* a bad revision is an error naming it */
	assert_int_equal(
		verify_history(&total, &bad, f->path, "nope", 0, NULL, NULL),
		ERROR_NOTFOUND);
	assert_non_null(strstr(error_message(), "'nope'"));
	error_clear();
}

static void test_verify__history_unborn(void **state)
{
	git_repository *repo = NULL;
	char path[512];
	size_t total = 9, bad = 9;

	(void)state;
	assert_int_equal(helper_sign_repo_new(&repo, path, sizeof(path)), 0);
	assert_int_equal(
		verify_history(&total, &bad, path, NULL, 0, NULL, NULL), 0);
	assert_int_equal(total, 0);
	assert_int_equal(bad, 0);
	assert_int_equal(
		verify_history(&total, &bad, path, NULL, 1, NULL, NULL), 0);
	assert_int_equal(total, 0);
	git_repository_free(repo);
	helper_sign_rmrf(path);
	assert_int_equal(
		verify_history(&total, &bad, path, NULL, 0, NULL, NULL),
		ERROR_NOTFOUND);
	error_clear();
}

static void test_verify__cache_shared(void **state)
{
	struct fx *f = *state;
	struct verify_cache *cache = NULL;
	struct verify_result r;
	git_oid ids[50], prev = f->root;
	char buf[32];
	size_t i;

	for (i = 0; i < 50; i++) {
		snprintf(buf, sizeof(buf), "n: %zu\n", i);
		change(&ids[i], f, &prev, "plan.yaml", buf,
		       i % 2 ? editor : carol, 0);
		prev = ids[i];
	}
	/* one cache, verified in any order, same verdicts; strings stay */
	assert_int_equal(verify_cache_new(&cache), 0);
	for (i = 50; i-- > 0;) {
		assert_int_equal(
			verify_commit(&r, f->repo, &ids[i], NULL, cache), 0);
		assert_int_equal(r.verdict, VERIFY_GOOD);
		assert_string_equal(r.email, key_email(i % 2 ? editor : carol));
	}
	verify_cache_free(cache);
}

struct reasons {
	size_t n;
	git_oid ids[300];
	enum verify_verdict v[300];
	char reason[300][VERIFY_REASON_MAX];
};

static int reasons_cb(const struct verify_result *r, void *payload)
{
	struct reasons *c = payload;

	assert_true(c->n < 300);
	c->ids[c->n] = r->commit;
	c->v[c->n] = r->verdict;
	snprintf(c->reason[c->n], VERIFY_REASON_MAX, "%s", r->reason);
	c->n++;
	return 0;
}

static void test_verify__range_many(void **state)
{
	struct fx *f = *state;
	struct reasons *c = calloc(1, sizeof(*c));
	enum verify_verdict want[241];
	unsigned flags;
	const struct key *k;
	git_oid prev = f->root, id;
	char buf[32], reason[VERIFY_REASON_MAX];
	size_t i, bad = 0;

	/* enough commits for the signatures to be checked in parallel,
	 * with bad ones scattered among them */
	assert_non_null(c);
	want[0] = VERIFY_GOOD;
	for (i = 0; i < 240; i++) {
		snprintf(buf, sizeof(buf), "n: %zu\n", i);
		flags = i % 37 == 5 ? HELPER_SIGN_TAMPER_SIG :
			i % 41 == 7 ? HELPER_SIGN_TAMPER_MESSAGE :
				      0;
		k = i % 53 == 11 ? rogue : i % 2 ? editor : carol;
		want[i + 1] = flags      ? VERIFY_BAD_SIGNATURE :
			      k == rogue ? VERIFY_UNKNOWN_KEY :
					   VERIFY_GOOD;
		bad += want[i + 1] != VERIFY_GOOD;
		change(&id, f, &prev, "plan.yaml", buf, k, flags);
		prev = id;
	}
	assert_int_equal(bad, 7 + 6 + 5);
	assert_int_equal(
		verify_range(
			f->repo, &prev, 1, NULL, 0, NULL, NULL, reasons_cb, c),
		0);
	assert_int_equal(c->n, 241);
	for (i = 0; i < c->n; i++) {
		/* a linear history: reported in the order it was made */
		assert_int_equal(c->v[i], want[i]);
		/* the same verdicts and reasons as one commit at a time */
		assert_int_equal(
			verdict(f, &c->ids[i], NULL, reason, sizeof(reason)),
			c->v[i]);
		assert_string_equal(reason, c->reason[i]);
	}
	assert_true(git_oid_equal(&c->ids[0], &f->root));
	assert_true(git_oid_equal(&c->ids[240], &prev));
	free(c);
}

/* Every single-bit change of a signed commit object is refused. */
static void test_verify__every_bit_flip(void **state)
{
	struct fx *f = *state;
	struct helper_sign_partner p[] = {
		{ editor, "editor", 0, NULL, NULL },
	};
	char *yaml = helper_sign_partners_yaml(p, 1);
	struct verify_partners *trust = NULL;
	struct verify_result r;
	git_odb *odb = NULL;
	git_odb_object *obj = NULL;
	git_oid a;
	char *raw;
	size_t len, i, bit, good = 0;

	assert_int_equal(
		verify_partners_parse(&trust, yaml, strlen(yaml), "p.yaml"), 0);
	change(&a, f, &f->root, "plan.yaml", "a: 1\n", editor, 0);
	assert_int_equal(git_repository_odb(&odb, f->repo), 0);
	assert_int_equal(git_odb_read(&obj, odb, &a), 0);
	len = git_odb_object_size(obj);
	raw = malloc(len);
	assert_non_null(raw);
	memcpy(raw, git_odb_object_data(obj), len);
	assert_int_equal(verify_signature(&r, raw, len, trust, NULL), 0);
	assert_int_equal(r.verdict, VERIFY_GOOD);
	for (i = 0; i < len; i++) {
		for (bit = 0; bit < 8; bit++) {
			raw[i] ^= (char)(1u << bit);
			assert_int_equal(
				verify_signature(&r, raw, len, trust, NULL), 0);
			if (r.verdict == VERIFY_GOOD) {
				good++;
				print_message(
					"still good: byte %zu bit %zu\n", i,
					bit);
			}
			raw[i] ^= (char)(1u << bit);
		}
	}
	assert_int_equal(good, 0);
	free(raw);
	git_odb_object_free(obj);
	git_odb_free(odb);
	verify_partners_free(trust);
	free(yaml);
}

/* ---- the shared vectors ------------------------------------------------- */

static char *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	if (!fp)
		fail_msg("cannot open %s", path);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	rewind(fp);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	buf[n] = '\0';
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

static char *pubkey_line(const char *file)
{
	char path[2048], *s;
	size_t len;

	snprintf(path, sizeof(path), "%s/" FIX "pubkeys/%s", top, file);
	s = slurp(path, &len);
	while (len && (s[len - 1] == '\n' || s[len - 1] == '\r'))
		s[--len] = '\0';
	return s;
}

static void test_verify__vectors(void **state)
{
	static const struct {
		const char *prefix;
		enum verify_verdict want;
		const char *email;
	} vec[] = {
		{ "A-", VERIFY_GOOD, "partner@agency-b.example" },
		{ "B-", VERIFY_GOOD, "planner@agency-a.example" },
		{ "B2-", VERIFY_GOOD, "planner@agency-a.example" },
		{ "C-", VERIFY_BAD_SIGNATURE, NULL },
		{ "C2-", VERIFY_BAD_SIGNATURE, NULL },
		{ "D-", VERIFY_UNKNOWN_KEY, NULL },
	};
	char *planner = pubkey_line("planner_agency-a_libsodium.pub");
	char *partner = pubkey_line("partner_agency-b_ssh-keygen.pub");
	struct helper_sign_partner p[] = {
		{ NULL, "coordinator", 0, planner, "planner@agency-a.example" },
		{ NULL, "editor", 0, partner, "partner@agency-b.example" },
	};
	char *yaml = helper_sign_partners_yaml(p, 2);
	struct verify_partners *trust = NULL;
	git_repository *repo = NULL;
	git_odb *odb = NULL;
	char path[4096], dir[2048], rpath[512], hex[GIT_OID_HEXSZ + 1];
	size_t i, found = 0, len;
	struct dirent *de;
	DIR *d;

	(void)state;
	assert_int_equal(
		verify_partners_parse(
			&trust, yaml, strlen(yaml), "partners.yaml"),
		0);
	assert_int_equal(helper_sign_repo_new(&repo, rpath, sizeof(rpath)), 0);
	assert_int_equal(git_repository_odb(&odb, repo), 0);
	snprintf(dir, sizeof(dir), "%s/" FIX "commits", top);
	assert_non_null(d = opendir(dir));
	while ((de = readdir(d))) {
		struct verify_result r;
		git_odb_object *obj = NULL;
		const char *dash = strchr(de->d_name, '-');
		char *raw;
		git_oid id;

		if (!dash || !strstr(de->d_name, ".commit"))
			continue;
		for (i = 0; i < 6; i++)
			if (strncmp(de->d_name, vec[i].prefix,
				    strlen(vec[i].prefix)) == 0)
				break;
		assert_true(i < 6);
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		raw = slurp(path, &len);
		/* the object's id is the one in the file name */
		assert_int_equal(
			git_odb_write(&id, odb, raw, len, GIT_OBJECT_COMMIT),
			0);
		git_oid_tostr(hex, sizeof(hex), &id);
		assert_memory_equal(hex, dash + 1, GIT_OID_HEXSZ);
		/* verify what the repository holds, read back raw */
		assert_int_equal(git_odb_read(&obj, odb, &id), 0);
		assert_int_equal(
			verify_signature(
				&r, git_odb_object_data(obj),
				git_odb_object_size(obj), trust, NULL),
			0);
		if (r.verdict != vec[i].want)
			fail_msg(
				"%s: %s (%s), wanted %s", de->d_name,
				verify_verdict_name(r.verdict), r.reason,
				verify_verdict_name(vec[i].want));
		if (vec[i].email)
			assert_string_equal(r.email, vec[i].email);
		git_odb_object_free(obj);
		free(raw);
		found++;
	}
	closedir(d);
	assert_int_equal(found, 6);
	/* D's committer claims partner's email; its key is still unknown,
	 * and an empty trust list knows nobody */
	verify_partners_free(trust);
	free(yaml);
	yaml = helper_sign_partners_yaml(p, 0);
	assert_int_equal(
		verify_partners_parse(
			&trust, yaml, strlen(yaml), "partners.yaml"),
		0);
	{
		struct verify_result r;
		char *raw;

		snprintf(
			path, sizeof(path), "%s/%s", dir,
			"A-ff803d0e14f1ce31183f3254bd9c2a49cf9e41d8.commit");
		raw = slurp(path, &len);
		assert_int_equal(
			verify_signature(&r, raw, len, trust, NULL), 0);
		assert_int_equal(r.verdict, VERIFY_UNKNOWN_KEY);
		free(raw);
	}
	verify_partners_free(trust);
	free(yaml);
	free(planner);
	free(partner);
	git_odb_free(odb);
	git_repository_free(repo);
	helper_sign_rmrf(rpath);
}

/* ---- stock git and ssh-keygen ------------------------------------------- */

static void write_file(const char *path, const char *s)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fputs(s, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

static void test_verify__stock_git(void **state)
{
	char dir[1100], cmd[8192], path[1200], *line, *yaml;
	struct helper_sign_partner p[2];
	struct key *imported = NULL;
	git_repository *repo = NULL;
	struct collect c;
	git_oid head, mine;
	size_t total, bad, len;
	char home[1200];

	(void)state;
	snprintf(dir, sizeof(dir), "%s/stock", tmpdir);
	snprintf(
		cmd, sizeof(cmd),
		"rm -rf '%s' && mkdir -p '%s' && cd '%s' && "
		"ssh-keygen -q -t ed25519 -N '' -C dave@d.example -f key && "
		"ssh-keygen -q -t ed25519 -N '' -C eve@e.example -f evil && "
		"git init -q repo",
		dir, dir, dir);
	assert_int_equal(run(cmd), 0);
	snprintf(path, sizeof(path), "%s/key.pub", dir);
	line = slurp(path, &len);
	while (len && line[len - 1] == '\n')
		line[--len] = '\0';
	memset(p, 0, sizeof(p));
	p[0].role = "coordinator";
	p[0].key_line = line;
	p[0].email = "dave@d.example";
	p[1].key = editor;
	p[1].role = "editor";
	yaml = helper_sign_partners_yaml(p, 2);
	snprintf(path, sizeof(path), "%s/repo/partners.yaml", dir);
	write_file(path, yaml);
	/* stock git signs the root and a second commit with dave's key */
	snprintf(
		cmd, sizeof(cmd),
		"cd '%s/repo' && git add partners.yaml && "
		"G='git -c user.name=Dave -c user.email=dave@d.example "
		"-c gpg.format=ssh -c user.signingkey=%s/key' && "
		"$G commit -q -S -m init && echo x > plan.yaml && "
		"git add plan.yaml && $G commit -q -S -m second",
		dir, dir);
	assert_int_equal(run(cmd), 0);
	snprintf(path, sizeof(path), "%s/repo", dir);
	memset(&c, 0, sizeof(c));
	assert_int_equal(
		verify_history(&total, &bad, path, NULL, 0, collect_cb, &c), 0);
	assert_int_equal(total, 2);
	assert_int_equal(bad, 0);

	/* plansync's own signer on top, with the ssh-keygen key imported */
	snprintf(home, sizeof(home), "%s/home", dir);
	snprintf(path, sizeof(path), "%s/key", dir);
	assert_int_equal(
		key_import_openssh(home, path, "Dave", NULL, "D", NULL, NULL),
		0);
	assert_int_equal(key_load(&imported, home, NULL, NULL), 0);
	assert_string_equal(key_email(imported), "dave@d.example");
	snprintf(path, sizeof(path), "%s/repo", dir);
	assert_int_equal(git_repository_open(&repo, path), 0);
	assert_int_equal(git_reference_name_to_id(&head, repo, "HEAD"), 0);
	assert_int_equal(
		helper_sign_change(
			&mine, repo, &head, "plan.yaml", "y\n", imported, 0),
		0);
	assert_int_equal(
		helper_sign_set_ref(repo, "refs/heads/master", &mine), 0);
	assert_int_equal(
		helper_sign_set_ref(repo, "refs/heads/main", &mine), 0);
	assert_int_equal(
		verify_history(&total, &bad, path, NULL, 1, NULL, NULL), 0);
	assert_int_equal(total, 3);
	assert_int_equal(bad, 0);
	/* ... and stock git agrees with the helper's signature */
	snprintf(
		cmd, sizeof(cmd),
		"cd '%s/repo' && echo 'dave@d.example namespaces=\"git\" %s' "
		"> ../allowed && git -c gpg.ssh.allowedSignersFile=../allowed "
		"verify-commit main 2>/dev/null",
		dir, line);
	assert_int_equal(run(cmd), 0);

	/* a stock-git commit by a key partners.yaml does not list */
	snprintf(
		cmd, sizeof(cmd),
		"cd '%s/repo' && git checkout -q -f main && echo z > plan.yaml "
		"&& git add plan.yaml && git -c user.name=Eve "
		"-c user.email=eve@e.example -c gpg.format=ssh "
		"-c user.signingkey=%s/evil commit -q -S -m evil",
		dir, dir);
	assert_int_equal(run(cmd), 0);
	assert_int_equal(
		verify_history(&total, &bad, path, NULL, 0, NULL, NULL), 0);
	assert_int_equal(total, 4);
	assert_int_equal(bad, 1);
	/* dave's key with eve as the author */
	snprintf(
		cmd, sizeof(cmd),
		"cd '%s/repo' && git reset -q --hard HEAD~ && echo w > "
		"plan.yaml && git add plan.yaml && git -c user.name=Eve "
		"-c user.email=eve@e.example -c gpg.format=ssh "
		"-c user.signingkey=%s/key commit -q -S -m evil2",
		dir, dir);
	assert_int_equal(run(cmd), 0);
	{
		struct verify_cache *cache = NULL;
		struct verify_result r;

		git_repository_free(repo);
		repo = NULL;
		assert_int_equal(git_repository_open(&repo, path), 0);
		assert_int_equal(
			git_reference_name_to_id(&head, repo, "HEAD"), 0);
		assert_int_equal(verify_cache_new(&cache), 0);
		assert_int_equal(
			verify_commit(&r, repo, &head, NULL, cache), 0);
		assert_int_equal(r.verdict, VERIFY_WRONG_AUTHOR);
		verify_cache_free(cache);
	}
	key_free(imported);
	git_repository_free(repo);
	free(yaml);
	free(line);
}

/* ---- setup -------------------------------------------------------------- */

static int setup(void **state)
{
	const char *t = getenv("PLANSYNC_TOP");
	const char *tmp = getenv("TMPDIR");

	(void)state;
	if (sodium_init() < 0)
		return -1;
	git_libgit2_init();
	if (t && *t)
		snprintf(top, sizeof(top), "%s", t);
	else if (!getcwd(top, sizeof(top)))
		return -1;
	snprintf(
		tmpdir, sizeof(tmpdir), "%s/test_verify.XXXXXX",
		tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(tmpdir))
		return -1;
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("GIT_CONFIG_GLOBAL", "/dev/null", 1);
	if (helper_sign_key_new(&coord, "Alice", "alice@a.example", "A") < 0 ||
	    helper_sign_key_new(&editor, "Bob", "bob@b.example", "B") < 0 ||
	    helper_sign_key_new(&carol, "Carol", "carol@c.example", "C") < 0 ||
	    helper_sign_key_new(&rogue, "Eve", "eve@e.example", "E") < 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	key_free(coord);
	key_free(editor);
	key_free(carol);
	key_free(rogue);
	helper_sign_rmrf(tmpdir);
	git_libgit2_shutdown();
	return 0;
}

#define FX(t) cmocka_unit_test_setup_teardown(t, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		FX(test_verify__good_chain),
		FX(test_verify__result_names_signer),
		FX(test_verify__sha256_and_own_signer_good),
		FX(test_verify__author_email_case),
		FX(test_verify__tampered_message),
		FX(test_verify__tampered_signature),
		FX(test_verify__hash_mismatch),
		FX(test_verify__wrong_namespace),
		FX(test_verify__unknown_key),
		FX(test_verify__revoked_key),
		FX(test_verify__another_partners_email),
		FX(test_verify__author_two_emails),
		FX(test_verify__editor_changes_partners),
		FX(test_verify__unsigned),
		FX(test_verify__gpgsig_in_body),
		FX(test_verify__two_gpgsig_headers),
		FX(test_verify__root_rules),
		FX(test_verify__bad_partners_by_coordinator),
		FX(test_verify__locally_revoked_fork),
		FX(test_verify__merges),
		FX(test_verify__foreign_root_merged_in),
		FX(test_verify__merge_undoes_revocation),
		FX(test_verify__range_order_and_hide),
		FX(test_verify__history),
		cmocka_unit_test(test_verify__history_unborn),
		FX(test_verify__cache_shared),
		FX(test_verify__range_many),
		FX(test_verify__every_bit_flip),
		cmocka_unit_test(test_verify__vectors),
		cmocka_unit_test(test_verify__stock_git),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
