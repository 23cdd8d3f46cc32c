/*
 * sync/commit: one signed commit of changed files, the branch moved by
 * compare-and-swap.
 *
 * commit_files() checks that the signer may commit (SPEC.md 3: the key is
 * listed, not revoked, in HEAD's partners.yaml under the key's email, and
 * is a coordinator's when partners.yaml changes; for the root commit, the
 * new partners.yaml must list it as a coordinator), writes the blobs,
 * rebuilds only the trees on the changed paths (treebuilders seeded from
 * the parent's trees: root -> actions -> P1), makes the commit object
 * (author = committer = the key's name and email, now), signs it in git's
 * SSH format (core/sshsig) into the `gpgsig` header, and moves the branch
 * HEAD names with git_reference_create_matching against the old tip.  Only
 * then does it touch the work tree: each changed file is replaced
 * atomically (temp file + rename) and its index entry updated, so `git
 * status` stays clean, and allowed_signers is regenerated.  (A root commit
 * is checked out into its empty work tree in one libgit2 checkout.)
 *
 * Call it with the repository lock held (repo_open(..., lock = 1)).  Any
 * error before the ref moves leaves no trace but unreachable objects.
 */
#ifndef PLANSYNC_COMMIT_H
#define PLANSYNC_COMMIT_H

#include <stddef.h>

#include <git2.h>

struct key;
struct repo;

struct commit_file {
	const char *path; /* repository-relative, '/'-separated */
	const char *buf; /* the new bytes; NULL deletes the file */
	size_t len;
};

/*
 * ERROR_VERIFY unless HEAD's partners.yaml lists key (by its email, with
 * the same public key) and has not revoked it; with `coordinator`, also
 * unless its role is coordinator.  For commands to refuse early (before
 * opening an editor, say); commit_files checks again.
 */
int commit_check_signer(
	struct repo *repo,
	const struct key *key,
	int coordinator);

/*
 * Commit files (n >= 1, no path twice) on the branch HEAD names, signed
 * by key, with message (a final newline is added if missing).  out_id
 * (41 bytes, may be NULL) receives the new commit's hex id.  ERROR_VERIFY
 * for a signer who may not commit this, ERROR_GENERIC "nothing to commit"
 * when the tree would not change, ERROR_BUSY if the branch moved under
 * us.
 */
int commit_files(
	char *out_id,
	struct repo *repo,
	const struct key *key,
	const struct commit_file *files,
	size_t n,
	const char *message);

/*
 * The journal that lets the next plansync command finish a work tree left
 * half-written by a process killed after the branch moved (repo_recover):
 * write it, naming the new commit (hex) and the paths it changes, before
 * moving the branch; drop it once the work tree and index follow.
 */
int commit_journal_write(
	struct repo *repo,
	const char *hex,
	const char *const *paths,
	size_t n);
int commit_journal_drop(struct repo *repo);

/* One path of a tree to change: a blob, or a removal. */
struct commit_tree_change {
	const char *path; /* "actions/P1/P1-A1.yaml"; the array sorted by it */
	git_oid blob;
	int remove;
	unsigned mode; /* 0: a regular file */
	size_t file; /* for the caller */
};

/*
 * A new tree from base (NULL: none) with the changes ch[0..n), sorted by
 * path: only the trees along the changed paths are rebuilt, and a folder
 * left empty is dropped.
 */
int commit_build_tree(
	git_oid *out,
	git_repository *git,
	const git_tree *base,
	const struct commit_tree_change *ch,
	size_t n);

#endif
