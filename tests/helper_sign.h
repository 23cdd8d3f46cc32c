/*
 * tests/helper_sign: throwaway repositories, keys and commits for tests,
 * signed the way plansync signs (core/sshsig) or deliberately broken.
 *
 * Commits are written as raw objects (git_odb_write), so every byte of the
 * header block and of the SSHSIG is under the test's control.  Functions
 * return 0 or a negative code (libgit2's or an ERROR_*); tests assert that.
 */
#ifndef PLANSYNC_HELPER_SIGN_H
#define PLANSYNC_HELPER_SIGN_H

#include <stddef.h>

#include <git2.h>

#include "core/key.h"

/*
 * A new non-bare repository in a fresh mkdtemp folder (path receives it,
 * size >= 64), its HEAD naming refs/heads/main.  Calls git_libgit2_init.
 */
int helper_sign_repo_new(git_repository **out, char *path, size_t size);

/* rm -rf path (for mkdtemp folders). */
void helper_sign_rmrf(const char *path);

/* A fresh unencrypted key made for name/email/org (its home removed). */
int helper_sign_key_new(
	struct key **out,
	const char *name,
	const char *email,
	const char *org);

/* "ssh-ed25519 AAAA... email" of a key, into buf (KEY_LINE_MAX). */
void helper_sign_key_line(char *buf, size_t size, const struct key *key);

struct helper_sign_partner {
	const struct key *key; /* email, name, org taken from the key */
	const char *role; /* "coordinator" or "editor" */
	int revoked;
	const char *key_line; /* instead of key's: another public key line */
	const char *email; /* instead of key's email */
};

/* partners.yaml text (malloc'd) listing the partners in order. */
char *helper_sign_partners_yaml(const struct helper_sign_partner *p, size_t n);

/*
 * The tree base (NULL: empty) with path ("a/b/c.yaml") set to content, or
 * removed when content is NULL.  Folders are made as needed.
 */
int helper_sign_tree_put(
	git_oid *out,
	git_repository *repo,
	const git_oid *base,
	const char *path,
	const char *content);

/* The root tree of commit id. */
int helper_sign_commit_tree(
	git_oid *out,
	git_repository *repo,
	const git_oid *id);

enum helper_sign_flags {
	/* Sign with the helper's own SSHSIG builder, not core/sshsig. */
	HELPER_SIGN_OWN = 1 << 0,
	/* Own builder, hash sha256 (a valid variant). */
	HELPER_SIGN_SHA256 = 1 << 1,
	/* Own builder: the signed data hashed with sha512 while the blob says
	 * sha256. */
	HELPER_SIGN_HASH_MISMATCH = 1 << 2,
	/* Own builder: one bit of the Ed25519 signature flipped. */
	HELPER_SIGN_TAMPER_SIG = 1 << 3,
	/* Sign, then change the first byte of the message. */
	HELPER_SIGN_TAMPER_MESSAGE = 1 << 4,
	/* No gpgsig header; the message ends in a gpgsig block that is a
	 * valid signature of the rest (what git_commit_extract_signature
	 * would accept). */
	HELPER_SIGN_IN_BODY = 1 << 5,
	/* Two gpgsig headers, each a valid signature. */
	HELPER_SIGN_TWO_HEADERS = 1 << 6,
	/* Own builder: namespace "file" instead of "git". */
	HELPER_SIGN_WRONG_NAMESPACE = 1 << 7,
};

struct helper_sign_commit {
	const git_oid *tree;
	const git_oid *parents;
	size_t nparents;
	const char *name, *email; /* author and committer; NULL: key's */
	const char *message; /* NULL: "test commit\n" */
	const struct key *key; /* NULL: unsigned */
	unsigned flags;
	long long time; /* 0: 1767225600 plus a counter */
};

/* Write the commit object; out receives its id.  Moves no ref. */
int helper_sign_commit(
	git_oid *out,
	git_repository *repo,
	const struct helper_sign_commit *c);

/*
 * Commit on top of parent (NULL: a root) a tree that is parent's with path
 * set to content (NULL removes), signed by key, author = key's email.
 */
int helper_sign_change(
	git_oid *out,
	git_repository *repo,
	const git_oid *parent,
	const char *path,
	const char *content,
	const struct key *key,
	unsigned flags);

/* Point ref (e.g. "refs/heads/main") at id, forcibly. */
int helper_sign_set_ref(
	git_repository *repo,
	const char *ref,
	const git_oid *id);

#endif
