/*
 * sync/sync: `plansync sync` — fetch, verify, merge, push, until the remote
 * holds what we hold (SPEC.md 5), and the recovery of what a killed
 * plansync leaves behind.
 *
 * One round:
 *   1. transport_fetch the remote into its quarantine refs (a branch that
 *      was rewritten is refused there, ERROR_VERIFY, and nothing moves);
 *   2. if the remote has HEAD's branch and it moved, syncmerge_commit
 *      merges its tip into HEAD: every commit it brings is verified first
 *      (ERROR_VERIFY names the first bad commit and why; nothing merged,
 *      branch, work tree and remote-tracking ref untouched), then a
 *      fast-forward or one signed field-by-field merge commit;
 *   3. transport_promote moves refs/remotes/<remote>/<branch> to the
 *      verified tip (compare-and-swap);
 *   4. transport_push, never forcing.  If the push is refused because the
 *      remote moved meanwhile, the next round fetches and merges again, up
 *      to SYNC_MAX_ROUNDS rounds.
 * Only HEAD's branch is merged and promoted; the remote's other branches
 * stay in the quarantine refs.
 *
 * A remote that cannot be reached gives ERROR_NET (exit 4) from the first
 * fetch with nothing changed; local commits stay and the next sync pushes
 * them.  The caller holds the repository lock (repo_open(..., 1)), so two
 * syncs (or a sync and an edit) never interleave.
 */
#ifndef PLANSYNC_SYNC_H
#define PLANSYNC_SYNC_H

#include <stddef.h>

#include "sync/merge.h"
#include "sync/transport.h"

struct key;
struct repo;

#define SYNC_MAX_ROUNDS 5

enum sync_event_kind {
	SYNC_FETCHED, /* tip: HEAD's branch on the remote (NULL if absent) */
	SYNC_MERGED, /* merge: what merging the fetched tip did */
	SYNC_PUSHED, /* pushed: what the push did */
	SYNC_RETRY, /* the remote moved during the round: go again */
};

struct sync_event {
	enum sync_event_kind kind;
	int round; /* 1.. */
	const char *remote;
	const struct transport_tip *tip;
	const struct syncmerge_report *merge;
	const struct transport_pushed *pushed;
};

/* Called as the sync goes (sync/ never prints; the cli does). */
typedef void (*sync_event_fn)(const struct sync_event *event, void *ctx);

struct sync_result {
	int rounds;
	size_t merges; /* signed merge commits made */
	size_t fast_forwards;
	size_t conflicts; /* conflict records the merges added */
	size_t verified; /* commits verified */
	int pushed; /* the push sent something */
	char head[41]; /* HEAD afterwards */
};

/*
 * Sync HEAD's branch with remote (see above), signing merges with key.
 * on_event may be NULL; opts may be NULL.  ERROR_NOTFOUND for an unknown
 * remote, ERROR_NET when it cannot be reached, ERROR_VERIFY for a bad
 * commit or a rewritten branch, ERROR_GENERIC when the remote refused the
 * push or kept moving for SYNC_MAX_ROUNDS rounds.
 */
int sync_run(
	struct sync_result *out,
	struct repo *repo,
	const struct key *key,
	const char *remote,
	const struct transport_options *opts,
	sync_event_fn on_event,
	void *ctx);

/*
 * Undo what a plansync killed mid-write leaves, before anything else
 * writes (the caller holds the repository lock, so no other plansync is
 * running):
 *   - git lock files (index.lock, HEAD.lock, packed-refs.lock, config.lock,
 *     ORIG_HEAD.lock and refs/ ** / *.lock under the git dir), which would
 *     make the next index or ref write fail.  One is removed only when no
 *     process has it open and no git process is running in the repository
 *     (/proc: no process whose name starts with "git" has its working
 *     folder in the work tree or git dir), so a stock git that holds it is
 *     never robbed; otherwise it is left and the write reports the
 *     repository busy, as git would.
 *   - temporary files of core/fsutil's atomic writes (".NAME.XXXXXXXX.tmp")
 *     in the work tree's plan folders (top, actions/, actions/P<n>/) and in
 *     the git dir's plansync/ folder;
 *   - a half-done work tree: commits and merges move the branch first and
 *     then write the changed files and index entries, so a kill in between
 *     leaves files at the previous commit.  Over the last 16 reflog entries
 *     of HEAD's branch (old -> new), newest first, each file an entry
 *     changed (and no later entry did) whose index entry is still at old's
 *     blob while HEAD holds new's is brought to new's, with the work tree
 *     file when it still holds old's bytes (or is missing where old had
 *     none).  A file whose index entry or bytes are neither old's nor
 *     new's is someone's edit and is left alone.  Only commit and merge
 *     entries count: the look back stops at a reset or checkout (git reset
 *     --soft leaves the index behind on purpose).  So a merge killed
 *     half-way is finished even after later commits.
 * *out_removed (may be NULL) counts what was removed or repaired.  Never fails
 * for a file it cannot remove; returns an error only for paths too long.
 */
int sync_recover(size_t *out_removed, struct repo *repo);

/* ---- small helpers for the demo and tests ---------------------------- */

/*
 * Create an empty bare repository at path (a hub to sync through); it must
 * not exist or be an empty folder (ERROR_EXISTS).
 */
int sync_hub_create(const char *path);

/*
 * The hex id of the tree at HEAD of the repository at path (bare or not)
 * into out (41 bytes).  ERROR_NOTFOUND when HEAD has no commit.
 */
int sync_head_tree(char *out, const char *path);

#endif
