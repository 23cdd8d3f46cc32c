/*
 * sync/merge: merging commits field by field (SPEC.md 4) on a repository.
 *
 * syncmerge_trees() is the pure part: given the merge base, ours and
 * theirs, it diffs base->ours and base->theirs tree to tree (so the cost
 * follows the changes, not the plan), takes a file changed on one side only
 * as that side's blob (after parsing and checking it: invalid YAML refuses
 * the merge), runs core/merge on the files changed on both sides (actions
 * through merge_actions, renumbering same-ID additions), and writes the
 * merged tree built from ours' tree on the changed paths only.  The `who`
 * answers core/merge needs for a conflict come from a walk of each side's
 * commits since the base, built once per side: a commit changed a file when
 * its blob differs from every parent's, and changed a field when the field's
 * value differs from every parent's; the latest such commit (author time,
 * then larger id) is the one that "last changed" it.  The result does not
 * depend on which side is ours: merging B into A and A into B give the same
 * tree id.
 *
 * syncmerge_commit() is `plansync merge`: verify every commit the other
 * side brings (sync/verify, with the keys the local partners.yaml revokes
 * refused, SPEC.md 3), then fast-forward or make one signed merge commit
 * with two parents, move the branch by compare-and-swap, and update only
 * the changed work-tree files (atomically) and their index entries.  Hold
 * the repository lock (repo_open(..., 1)).
 */
#ifndef PLANSYNC_SYNC_MERGE_H
#define PLANSYNC_SYNC_MERGE_H

#include <stddef.h>

#include <git2.h>

struct key;
struct repo;
struct merge_renumbering;

/* What a merge did, for messages.  Release with syncmerge_stats_release. */
struct syncmerge_stats {
	size_t files; /* files whose blob differs from ours */
	size_t actions; /* action files changed by the merge (vs ours) */
	size_t both; /* files changed on both sides, merged field by field */
	size_t fields_auto; /* fields merged in from theirs without conflict */
	size_t nconflicts; /* conflict records this merge added */
	/* One line per conflict: "P1-A3 status: kept done (a@x, 1a2b3c4d),
	 * other planned (b@y, 5e6f7a8b)". */
	char **notes;
	size_t nnotes;
	struct merge_renumbering *renumbered; /* old -> new action IDs */
	size_t nrenumbered;
};

#define SYNCMERGE_STATS_INIT                    \
	{                                       \
		0, 0, 0, 0, 0, NULL, 0, NULL, 0 \
	}

void syncmerge_stats_release(struct syncmerge_stats *stats);

/*
 * The merged tree of ours and theirs over base (written to the object
 * database; nothing else changes).  ERROR_INVALID names a file that does
 * not parse or check on either side (or a symlink or other non-file in the
 * plan).  stats may be NULL.
 */
int syncmerge_trees(
	git_oid *out_tree,
	struct syncmerge_stats *stats,
	git_repository *git,
	const git_oid *base,
	const git_oid *ours,
	const git_oid *theirs);

enum syncmerge_kind {
	SYNCMERGE_UP_TO_DATE, /* nothing to do */
	SYNCMERGE_FAST_FORWARD, /* the branch moved to theirs */
	SYNCMERGE_MERGED, /* one signed merge commit */
};

struct syncmerge_report {
	enum syncmerge_kind kind;
	char commit[41]; /* HEAD afterwards */
	size_t verified; /* commits checked */
	struct syncmerge_stats stats; /* for SYNCMERGE_MERGED (and files for a
				       * fast-forward) */
};

#define SYNCMERGE_REPORT_INIT                                     \
	{                                                         \
		SYNCMERGE_UP_TO_DATE, "", 0, SYNCMERGE_STATS_INIT \
	}

void syncmerge_report_release(struct syncmerge_report *report);

/*
 * Merge commit `theirs` into the branch HEAD names (label names it in the
 * message: "origin/main").  ERROR_VERIFY when a commit it brings fails
 * sync/verify (nothing changes); ERROR_INVALID for invalid YAML on either
 * side; ERROR_EXISTS when the work tree has edits not committed to a file
 * the merge changes, or a stock git merge is in progress; ERROR_GENERIC for
 * histories with no common commit; ERROR_BUSY if the branch moved.
 */
int syncmerge_commit(
	struct syncmerge_report *out,
	struct repo *repo,
	const struct key *key,
	const git_oid *theirs,
	const char *label);

/* Resolve REF (a ref, a name git rev-parse takes, a hex id) to a commit,
 * then syncmerge_commit.  ERROR_NOTFOUND names a REF that is no commit. */
int syncmerge_ref(
	struct syncmerge_report *out,
	struct repo *repo,
	const struct key *key,
	const char *ref);

/* ---- the conflict records in HEAD ---------------------------------------- */

struct syncmerge_record {
	char id[32]; /* action ID */
	struct doc_node *record; /* the record mapping (field, base, ...) */
};

/* Every conflict record in HEAD's actions, by action ID then record order.
 * Reads every action blob, parses only those holding records. */
int syncmerge_records(
	struct syncmerge_record **out,
	size_t *out_n,
	struct repo *repo);
void syncmerge_records_free(struct syncmerge_record *records, size_t n);

#endif
