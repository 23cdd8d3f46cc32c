/*
 * sync/history: field-level history of actions (SPEC.md 5 log, blame).
 *
 * The history of one action file is a graph of its versions: a node for
 * every commit reachable from HEAD whose version of the file differs from
 * the version in each of its parents (the file added, changed or deleted),
 * linked to the nodes holding the parents' versions.  A merge that takes
 * one side's file unchanged makes no node: the file's history goes on
 * through that side.  So a change carried in by a merge is credited to the
 * commit that made it; a merge node is credited only with the fields whose
 * value matches no parent (what it decided: conflict records, resolutions,
 * or an edit of its own, which mergecheck reports).
 *
 * The index: the graph of every action file, kept under the git dir as
 *   plansync/history/index  one text line per node, append-only:
 *     "<commit> <blob|0*40> <author time> <nparents> <p>... <path>\n"
 *     where <p> is the line number (0-based) of the parent version's node
 *     or "-" when the file is absent in that parent
 *   plansync/history/tip    "plansync-history 1 <tip> <bytes> <nodes>\n":
 *     the commit the index covers and the length of index that is valid,
 *     replaced atomically after each append
 * It is a cache: it is rebuilt when missing, unreadable, or when its tip is
 * not HEAD or an ancestor of HEAD, and brought up to HEAD incrementally
 * otherwise (a revwalk of the new commits only).  It is never trusted over
 * the objects: every node a query uses is checked against its commit's tree
 * (the index is rebuilt and the query rerun when one disagrees), and
 * history_index_check compares it with a fresh build.
 *
 * Building compares trees level by level (root -> actions -> P<n> -> file)
 * by entry id, so a commit costs a few tree reads, never a diff.
 */
#ifndef PLANSYNC_HISTORY_H
#define PLANSYNC_HISTORY_H

#include <stddef.h>

#include <git2.h>

#include "core/doc.h"
#include "sync/verify.h"

struct repo;
struct history;

#define HISTORY_DIR "plansync/history"

enum history_flags {
	/* Read and write no index: each query builds what it needs in
	 * memory (one action's query: that file's history alone). */
	HISTORY_NO_INDEX = 1 << 0,
	/* Use the index if it can be brought up to HEAD incrementally;
	 * otherwise a query for one action walks that file's history alone
	 * (about what `git log -- FILE` costs) instead of building the whole
	 * index first.  For blame and log of one action. */
	HISTORY_LAZY = 1 << 1,
};

/*
 * Bring the index of repo up to HEAD (incrementally when it covers an
 * ancestor of HEAD, else rebuilt).  For callers after a commit, merge or
 * fetch.  An unborn HEAD gives an empty index.
 */
int history_index_update(struct repo *repo);

/*
 * After plansync moves the branch (commit, merge, sync, clone): bring an
 * existing index up to HEAD.  No index, nothing done (a query builds it);
 * a failure is dropped, the index being a cache that the next query
 * checks and rebuilds.
 */
void history_index_refresh(struct repo *repo);

/*
 * Build the history afresh from the objects and compare it with the stored
 * index (brought up to HEAD first).  *out_nodes is set to the node count.
 * ERROR_VERIFY "history index disagrees with the commits at ..." when they
 * differ (the stored index is then rebuilt, so the next query is right).
 */
int history_index_check(size_t *out_nodes, struct repo *repo);

/*
 * The history of HEAD: from the index (brought up to HEAD, or built and
 * written when missing or unusable), or as the flags say.
 */
int history_open(struct history **out, struct repo *repo, unsigned flags);
void history_free(struct history *h);

/* Number of versions (nodes) held (of every action file once a query
 * for all of them, or history_open without flags, built them). */
size_t history_node_count(const struct history *h);

/* Who made a commit, with its signature verdict (sync/verify). */
struct history_who {
	char commit[GIT_OID_HEXSZ + 1];
	long long time; /* author time */
	int tz; /* author's offset from UTC in minutes */
	int merge; /* more than one parent */
	char *name, *email; /* author */
	char *organisation; /* the signer's partner entry, or NULL */
	char fingerprint[KEY_FINGERPRINT_MAX]; /* "" if no key verified */
	enum verify_verdict verdict;
	char *reason; /* "" when good */
};

/*
 * "good", "bad" (bad signature, malformed, wrong author, not coordinator),
 * "unknown-key", "revoked", "unsigned".
 */
const char *history_signature_status(enum verify_verdict verdict);

/* Borrowed from h (cached by commit). */
int history_who(
	const struct history_who **out,
	struct history *h,
	const git_oid *commit);

struct history_change {
	const struct history_who *who; /* borrowed from h */
	char action[32]; /* action ID */
	char *field; /* field path within the action */
	struct doc_node *old, *new; /* owned; NULL when absent */
};

/*
 * Every field change of action (NULL: every action) whose field is field or
 * lies under it (NULL: all; "updates/u1" selects that entry's fields), made
 * by commits with author time in [since, until] (0: unbounded), newest
 * first (ties: later in history first), each commit's fields in canonical
 * order.  ERROR_NOTFOUND when action has no history.
 */
int history_log(
	struct history_change **out,
	size_t *out_n,
	struct history *h,
	const char *action,
	const char *field,
	long long since,
	long long until);
void history_changes_free(struct history_change *v, size_t n);

struct history_blame {
	char *field; /* field path */
	struct doc_node *value; /* owned: the value at HEAD */
	const struct history_who *who; /* the commit that set it */
};

/*
 * For every field of the action at HEAD (plan_field_list order), the commit
 * that set its current value, following values back through merges to the
 * commit that made them.  ERROR_NOTFOUND when HEAD has no such action.
 */
int history_blame(
	struct history_blame **out,
	size_t *out_n,
	struct history *h,
	const char *action);
void history_blame_free(struct history_blame *v, size_t n);

/* ---- tree comparison (also for sync/mergecheck) ------------------------ */

/*
 * Called for each action file whose blob differs between two trees, in
 * path order; old or new is NULL when the file is absent on that side.
 * A non-zero return stops the comparison and is returned.
 */
typedef int (*history_diff_cb)(
	const char *path,
	const git_oid *old,
	const git_oid *new,
	void *arg);

/*
 * Compare the action files of two root trees (either may be NULL: empty)
 * level by level by entry id: only folders whose ids differ are read.
 */
int history_diff_trees(
	git_repository *repo,
	const git_tree *a,
	const git_tree *b,
	history_diff_cb cb,
	void *arg);

#endif
