/*
 * sync/verify: the trust rules of SPEC.md 3 over commits.
 *
 * A commit is good when
 *   - its raw object (git_odb_read, split as git does by
 *     sshsig_commit_split, never git_commit_extract_signature) carries one
 *     gpgsig header holding an SSHSIG that verifies over the rest;
 *   - the signing key is listed, and not revoked, in the partners.yaml of
 *     its first parent (a root commit: its own partners.yaml), and not in
 *     the caller's extra revoked keys (verify_options);
 *   - the author email is that key's principal (the partner's email; ASCII
 *     case is ignored);
 *   - if it changes partners.yaml, the signer is a coordinator there, and
 *     the new partners.yaml is present and valid; a root commit's signer is
 *     always a coordinator of the partners.yaml it holds.
 *
 * Merge commits (more than one parent): the key must be trusted by the
 * first parent's partners.yaml; partners.yaml counts as changed only when
 * its blob differs from that of every parent (taking either side's file
 * unchanged is no change).  Until the field-merge check of merges lands,
 * any other partners.yaml in a merge needs a coordinator.
 *
 * Cost: one object read per commit, one root tree lookup per commit to
 * find partners.yaml's blob id, and one parse per distinct partners.yaml
 * blob (struct verify_cache keeps them, and each commit's partners.yaml
 * blob id so a child never reads its parent again).  verify_range reads
 * commits in batches of 256 and checks their Ed25519 signatures on as many
 * threads as there are CPUs (up to 8); every rule after that, and every
 * callback, runs on the calling thread in walk order.
 *
 * Timestamps play no part: a key revoked in a parent's partners.yaml is
 * refused whatever the commit's dates say.  That alone does not stop a
 * revoked key from forking off a commit made before its revocation; a
 * caller that receives commits not seen before (fetch, merge, sync) passes
 * the keys its own partners.yaml revokes in verify_options.revoked
 * (verify_revoked_keys gives them), and those are refused on every commit
 * checked in that call.
 */
#ifndef PLANSYNC_VERIFY_H
#define PLANSYNC_VERIFY_H

#include <stddef.h>

#include <git2.h>

#include "core/key.h"

enum verify_verdict {
	VERIFY_GOOD = 0,
	VERIFY_BAD_SIGNATURE, /* SSHSIG malformed or does not verify */
	VERIFY_UNSIGNED, /* no gpgsig header */
	VERIFY_UNKNOWN_KEY, /* key not in the partners.yaml that rules */
	VERIFY_REVOKED, /* key revoked there, or locally */
	VERIFY_WRONG_AUTHOR, /* author email is not the key's principal */
	VERIFY_NOT_COORDINATOR, /* partners.yaml change or root by an editor */
	VERIFY_MALFORMED, /* two gpgsig headers, bad header, bad partners */
	VERIFY_MERGE_EDIT, /* a merge holds a value neither parent explains */
};

#define VERIFY_REASON_MAX 384

/* The verdict on one commit: a plain value type. */
struct verify_result {
	git_oid commit;
	char id[GIT_OID_HEXSZ + 1]; /* hex of commit */
	enum verify_verdict verdict;
	/* Why it is bad ("" when good), e.g. "key SHA256:... is revoked in
	 * partners.yaml of 1a2b3c4". */
	char reason[VERIFY_REASON_MAX];
	/* Set once the signature verified: the signer's key. */
	int has_key;
	unsigned char key[KEY_PUBLIC_BYTES];
	char fingerprint[KEY_FINGERPRINT_MAX]; /* "" unless has_key */
	/*
	 * The signer's partners.yaml entry when the key is listed there (also
	 * for revoked and wrong-author verdicts), else NULL.  Borrowed from
	 * the cache (or the verify_partners) the check used: valid until it
	 * is freed.
	 */
	const char *email, *name, *organisation;
	int coordinator;
};

struct verify_options {
	/*
	 * Keys refused on every commit checked, whatever the commits' own
	 * partners.yaml says: the keys the local partners.yaml revokes, for
	 * commits not seen before (SPEC.md 3).
	 */
	const unsigned char (*revoked)[KEY_PUBLIC_BYTES];
	size_t nrevoked;
};

#define VERIFY_OPTIONS_INIT \
	{                   \
		NULL, 0     \
	}

/* "good", "bad-signature", "unsigned", "unknown-key", "revoked",
 * "wrong-author", "not-coordinator", "malformed". */
const char *verify_verdict_name(enum verify_verdict verdict);

/* ---- trust lists ------------------------------------------------------ */

/* A parsed partners.yaml: who may sign. */
struct verify_partners;

/*
 * Parse and validate partners.yaml bytes (core/plan's rules); name is used
 * in messages.  ERROR_INVALID with "name:line:col: rule".
 */
int verify_partners_parse(
	struct verify_partners **out,
	const char *buf,
	size_t len,
	const char *name);

/*
 * The partners.yaml in the tree of commit id.  ERROR_NOTFOUND if it has
 * none, ERROR_INVALID if it is not a regular file or not valid.
 */
int verify_partners_at(
	struct verify_partners **out,
	git_repository *repo,
	const git_oid *id);

void verify_partners_free(struct verify_partners *partners);

/*
 * The keys a trust list revokes (malloc'd array of *out_n keys, NULL when
 * none), to pass as verify_options.revoked.
 */
int verify_revoked_keys(
	unsigned char (**out)[KEY_PUBLIC_BYTES],
	size_t *out_n,
	const struct verify_partners *partners);

/* ---- one commit ------------------------------------------------------- */

/*
 * The signature rules alone, on a raw commit object body (as git_odb_read
 * gives it) against an explicit trust list: one gpgsig, a signature that
 * verifies, a listed and unrevoked key, the author its principal.  Neither
 * the root nor the partners.yaml change rule (they need the tree).  opts
 * may be NULL.  Returns 0 with the verdict in out; negative only when it
 * could not decide (out of memory).
 */
int verify_signature(
	struct verify_result *out,
	const char *raw,
	size_t raw_len,
	const struct verify_partners *trust,
	const struct verify_options *opts);

/*
 * Parsed partners.yaml files by blob id and each checked commit's
 * partners.yaml blob id.  One cache serves one repository; results borrow
 * strings from it.
 */
struct verify_cache;

int verify_cache_new(struct verify_cache **out);
void verify_cache_free(struct verify_cache *cache);

/*
 * All the rules on commit id.  Returns 0 with the verdict in out, or a
 * negative ERROR_* when it could not decide (no such commit, an object
 * missing from the repository).  opts may be NULL.
 */
int verify_commit(
	struct verify_result *out,
	git_repository *repo,
	const git_oid *id,
	const struct verify_options *opts,
	struct verify_cache *cache);

/* ---- history ------------------------------------------------------------ */

/*
 * Called with each commit's verdict; a non-zero return stops the walk and
 * is returned by verify_range (set a message with error_set first).
 */
typedef int (*verify_cb)(const struct verify_result *result, void *payload);

/*
 * Check every commit reachable from tips but not from hide (commits
 * already trusted, e.g. the local branch before a fetch), parents before
 * children (so the first bad commit reported is the earliest).  With cb
 * NULL, the walk stops at the first bad commit and returns ERROR_VERIFY
 * "commit 1a2b3c4 <verdict>: <reason>".  Otherwise returns 0 once every
 * commit was reported, bad ones included.  opts may be NULL; cache may be
 * NULL (a private one is used; results then live only during cb).
 */
int verify_range(
	git_repository *repo,
	const git_oid *tips,
	size_t ntips,
	const git_oid *hide,
	size_t nhide,
	const struct verify_options *opts,
	struct verify_cache *cache,
	verify_cb cb,
	void *payload);

/*
 * For `plansync verify`: open the repository holding path (searching
 * upward; bare ones too), then verify_range over the history of rev
 * (NULL: HEAD; an unborn HEAD has no commits) or, with all, of HEAD and
 * every ref.  cb is called for every commit; *out_total and *out_bad
 * count them.
 * ERROR_NOTFOUND names a rev that is not a commit.
 */
int verify_history(
	size_t *out_total,
	size_t *out_bad,
	const char *path,
	const char *rev,
	int all,
	verify_cb cb,
	void *payload);

#endif
