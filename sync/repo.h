/*
 * sync/repo: a plan repository (libgit2 only here and in the rest of sync/).
 *
 * Opening finds the repository from a folder (as git does), refuses bare
 * ones, and can take the repository lock (sync/lock) for the life of the
 * handle.  Reads go through HEAD's tree one path at a time, so the cost of
 * reading one action follows the action, not the plan.
 *
 * Files under the git dir:
 *   plansync.lock              the repository lock (sync/lock)
 *   plansync/allowed_signers   regenerated from partners.yaml (sync/signers)
 */
#ifndef PLANSYNC_REPO_H
#define PLANSYNC_REPO_H

#include <stddef.h>

struct repo;
struct git_repository;

#define REPO_LOCK_FILE "plansync.lock"
#define REPO_SIGNERS_FILE "plansync/allowed_signers"
#define REPO_JOURNAL_FILE "plansync/pending"
#define REPO_GITATTRIBUTES "*.yaml merge=plansync\n"

/* Hooks installed by repo_configure, each running `plansync hook NAME`. */
#define REPO_HOOKS "post-checkout", "post-commit", "post-merge", "post-rewrite"

/*
 * Open the repository holding folder path (searching upward, as git does).
 * ERROR_NOTFOUND "'path' is not in a plan repository".  With `lock`, also
 * take the repository lock (ERROR_BUSY if another plansync holds it),
 * released by repo_free, and finish a commit a killed plansync left half
 * done (repo_recover).
 */
int repo_open(struct repo **out, const char *path, int lock);

/*
 * Create a new, empty, non-bare repository at dir (created; it must not
 * exist or be an empty folder: ERROR_EXISTS otherwise) and lock it.  The
 * branch is git's default (init.defaultBranch, else master).
 */
int repo_create(struct repo **out, const char *dir);

/*
 * Write the repository configuration that makes stock git verify and
 * merge plan commits: gpg.format=ssh, gpg.ssh.allowedSignersFile=<abs path
 * of git dir>/plansync/allowed_signers, merge.plansync.name and
 * merge.plansync.driver = "<exe> merge-driver %O %A %B %P", and the hooks
 * of REPO_HOOKS that regenerate allowed_signers when stock git moves HEAD.
 * exe is the plansync binary to run (its absolute path; NULL or "" for
 * "plansync" from PATH); hooks fall back to PATH when exe is gone.
 * Existing hooks that plansync did not write are kept (ERROR_EXISTS).
 * For init and clone.
 */
int repo_configure(struct repo *repo, const char *exe);

/*
 * sync/commit writes the journal REPO_JOURNAL_FILE ("commit <hex>\n" and
 * one changed path a line) before it moves the branch and removes it once
 * the work tree, index and allowed_signers follow.  A journal left behind
 * means a plansync died in between: when HEAD is that commit, the listed
 * paths are rewritten from HEAD (files and index entries) and
 * allowed_signers regenerated; when it is not (the branch never moved),
 * the work tree was not touched.  Either way the journal goes.  Needs the
 * lock.
 */
int repo_recover(struct repo *repo);

/*
 * ERROR_BUSY when .git/index.lock exists: a git process is writing the
 * index, or one was killed and left it (then remove it by hand).
 */
int repo_check_index_lock(struct repo *repo);

/* Closes, releasing the lock if held; NULL does nothing. */
void repo_free(struct repo *repo);

/* Borrowed libgit2 handle, for sync/ modules. */
struct git_repository *repo_git(const struct repo *repo);

/* Absolute work tree and git dir paths, each ending in '/'. */
const char *repo_workdir(const struct repo *repo);
const char *repo_gitdir(const struct repo *repo);

/* Join the work tree (or git dir) and a relative path into buf. */
int repo_work_path(
	char *buf,
	size_t size,
	const struct repo *repo,
	const char *rel);
int repo_git_path(
	char *buf,
	size_t size,
	const struct repo *repo,
	const char *rel);

struct repo_head {
	char refname[256]; /* "refs/heads/main" ("" when detached) */
	const char *branch; /* points into refname: "main" */
	char id[41]; /* hex of the tip ("" when unborn) */
	int unborn; /* branch has no commit yet */
	int detached; /* HEAD names a commit, not a branch */
};

int repo_head(struct repo_head *out, struct repo *repo);

/*
 * The bytes of path in HEAD's tree (malloc'd, NUL-terminated).
 * ERROR_NOTFOUND when HEAD is unborn or has no such file; ERROR_INVALID if
 * it is not a regular file (a symlink, a folder) or over max bytes.
 */
int repo_read_head(
	char **out,
	size_t *out_len,
	struct repo *repo,
	const char *path,
	size_t max);

/*
 * The names of the entries of folder dir in HEAD's tree ("actions/P1"),
 * in tree order; an absent folder gives none.  Free with repo_strv_free.
 */
int repo_list_head(
	char ***out,
	size_t *out_n,
	struct repo *repo,
	const char *dir);
void repo_strv_free(char **v, size_t n);

/*
 * The bytes of the work tree file at path (refusing symlinks).
 * ERROR_NOTFOUND if it does not exist.
 */
int repo_read_work(
	char **out,
	size_t *out_len,
	struct repo *repo,
	const char *path,
	size_t max);

/*
 * ERROR_EXISTS "commit or discard your edits to 'path' first" when the
 * work tree file at path differs from HEAD's (or one exists without the
 * other).  Reads that one file only.
 */
int repo_check_unedited(struct repo *repo, const char *path);

enum repo_change_kind {
	REPO_ADDED,
	REPO_MODIFIED,
	REPO_DELETED,
	REPO_UNMERGED, /* a conflicted index entry left by stock git */
};

struct repo_change {
	char *path;
	enum repo_change_kind kind;
};

/*
 * Files whose work tree (or index) version differs from HEAD's: added,
 * modified, deleted or unmerged, sorted by path; untracked files included,
 * ignored ones not.
 */
int repo_changes(struct repo_change **out, size_t *out_n, struct repo *repo);
void repo_changes_free(struct repo_change *changes, size_t n);

struct repo_commit_info {
	char id[41];
	char *author_name, *author_email, *subject; /* malloc'd */
	long long time; /* author time, seconds since the epoch */
	int signed_; /* has a gpgsig header */
	int sig_good; /* and it verifies over the commit (not trust) */
	unsigned char signer[32]; /* the signing key when sig_good */
};

/*
 * Facts about commit rev ("HEAD", a hex id): author, subject and whether
 * its SSH signature verifies (cryptographically; trust is sync/verify's).
 * Release with repo_commit_info_release.
 */
int repo_commit_info(
	struct repo_commit_info *out,
	struct repo *repo,
	const char *rev);
void repo_commit_info_release(struct repo_commit_info *info);

/*
 * Record the message of the last libgit2 error (with `what` in front) and
 * return code mapped to an ERROR_*: GIT_ENOTFOUND -> ERROR_NOTFOUND,
 * GIT_ELOCKED/GIT_EMODIFIED -> ERROR_BUSY, GIT_EEXISTS -> ERROR_EXISTS,
 * else ERROR_GENERIC.
 */
int repo_git_error(int code, const char *what);

#endif
