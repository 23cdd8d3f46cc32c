/*
 * core/merge: the field-level three-way merge of SPEC.md 4, on parsed and
 * checked documents (core/plan), one file at a time.  Pure: no git, no I/O.
 *
 * Every function takes (base, ours, theirs) trees of one file, any of which
 * may be NULL (absent: not in the merge base, deleted on that side), and
 * gives the merged tree in canonical order plus the conflicts this merge
 * recorded.  The result depends only on the three trees and on what the
 * merge_ctx callback says about each side, never on which side is called
 * "ours": merging B into A and A into B give the same bytes.
 *
 * Rules, per field (field paths as in core/plan: "status",
 * "updates/u1a2b3c4d/text"; keys outside the schema by their key name):
 * - unchanged on one side, or changed to the same value on both: that
 *   value (whole files and entries first: a side equal to base yields the
 *   other side as it is).
 * - `responsible` (action and update): sets.  Removals and additions of
 *   both sides apply; order: base order of what stays, then additions in
 *   byte order.  Never a conflict.
 * - text fields (action, information, updates/<u>/text; plan title,
 *   priority title and focus) changed differently on both sides: merged by
 *   core/textmerge; a conflict only if the edits overlap or touch.
 * - any other value (status, timescale, dates, ids, keys outside the
 *   schema as opaque trees) changed differently: a conflict.
 * - a conflict keeps the value whose side changed it last: the callback
 *   gives, per side, the author time and commit of the latest commit since
 *   the merge base that changed the field; later time wins, then the larger
 *   commit id (hex, byte order), then (same commit on both sides, which a
 *   well-formed history never gives) the larger emitted value.
 * - `updates` by id: an entry added on either side is kept; added on both
 *   with the same id, its fields merge with no base.  Deleted on one side
 *   and unchanged on the other: deleted.  Deleted on one side and edited
 *   on the other: the edit is kept and the delete recorded (field
 *   "updates/<u>", other absent).  Order: base order for entries in base,
 *   then new entries by date (entries without a date after all dated ones),
 *   then id.
 * - a whole action deleted on one side and edited on the other: kept, and
 *   recorded with field MERGE_WHOLE_ACTION "(action)" (base and kept left
 *   out, the action being the file; other absent).  Added on both sides
 *   with the same ID and different content: the version that wins the time
 *   rule for that field keeps the ID, the other is handed back for
 *   renumbering (merge_renumber_all).
 * - `conflicts`: the records of both sides merge as a set (a record removed
 *   on either side, i.e. resolved, stays removed; records added on either
 *   side are kept), then this merge's new records are added.  Order: base
 *   order for records kept from base, then the others by field path, then
 *   emitted bytes.  Identical records appear once.
 *
 * Conflict records (in the action's `conflicts` list, SPEC.md 4 shape):
 *   field, base (absent if none), kept, kept_by, kept_commit, other (absent
 *   for a delete), other_by, other_commit (a *_by or *_commit the callback
 *   left empty is left out).  The field is one line: a key outside the
 *   schema named "" is written as two double quotes; line breaks and
 *   backslashes in a key are written \n, \r, \\.  A recorded value nested
 *   too deep to fit under DOC_MAX_DEPTH inside the record (only possible
 *   for opaque keys) is stored as its canonical YAML text instead.
 *
 * plan.yaml and partners.yaml have no `conflicts` list: their conflicts are
 * only returned in merge_result, the other value stays in history.  Such a
 * whole file deleted on one side and edited on the other is kept, reported
 * with field "plan.yaml" or "partners.yaml".
 * plan.yaml: priorities merge by id like updates (new ones in ID order),
 * field paths "title", "priorities/P1/focus".  partners.yaml: partners by
 * email (new ones in email byte order), field paths
 * "partners/<email>/<field>".  SPEC.md 3's safer value instead of the time
 * rule: `revoked` true wins, role "editor" wins over "coordinator", and a
 * partner deleted on one side and edited on the other is kept revoked.
 */
#ifndef PLANSYNC_MERGE_H
#define PLANSYNC_MERGE_H

#include <stddef.h>

#include "doc.h"
#include "plan.h"

enum merge_side { MERGE_OURS = 0, MERGE_THEIRS = 1 };

/* The field path of a record about a whole action (deleted vs edited). */
#define MERGE_WHOLE_ACTION "(action)"

/* Who last changed a field on one side since the merge base. */
struct merge_who {
	long long time; /* author time, seconds since the epoch */
	/* 40 or 64 lowercase hex digits, or "" if unknown (then left out
	 * of the record); anything else is refused.  Borrowed. */
	const char *commit;
	const char *email; /* the author ("" if unknown); borrowed */
};

struct merge_ctx {
	/*
	 * Fill *out for the latest commit on `side` since the merge base that
	 * changed `field` of the file being merged (for MERGE_WHOLE_ACTION
	 * and entry paths like "updates/u1": the commit that added, deleted
	 * or last changed that whole thing).  Called only for fields in
	 * conflict. The strings must stay valid until the merge call returns.
	 * Return 0, or a negative ERROR_* (message set) to abort the merge.
	 */
	int (*who)(
		struct merge_who *out,
		const struct merge_ctx *ctx,
		enum merge_side side,
		const char *field);
	void *arg; /* for the callback */
	/*
	 * The file being merged, for the callback: merge_actions sets it to
	 * the action ID of each file it merges (in a copy of the context);
	 * the per-file functions leave it as the caller set it.
	 */
	const char *file;
};

/*
 * A ready-made `who` for merges whose history is not known or not needed
 * (re-checking a recorded merge, the audit): every side's change is from
 * no commit at time 0, so ours is kept.
 */
int merge_who_none(
	struct merge_who *out,
	const struct merge_ctx *ctx,
	enum merge_side side,
	const char *field);

/* One conflict this merge recorded. */
struct merge_conflict {
	char *field; /* field path; MERGE_WHOLE_ACTION for a whole action */
	struct doc_node *base, *kept, *other; /* NULL when absent */
	char *kept_by, *kept_commit, *other_by, *other_commit;
	long long kept_time, other_time;
};

struct merge_result {
	/* The merged file, canonical; NULL when the file is gone. */
	struct doc_node *doc;
	/*
	 * merge_action only: the losing version of an action added on both
	 * sides with the same ID (still carrying that ID), to be given a new
	 * ID by merge_renumber_all; NULL otherwise.
	 */
	struct doc_node *renumber;
	struct merge_conflict *conflicts; /* recorded by this merge */
	size_t nconflicts;
};

#define MERGE_RESULT_INIT           \
	{                           \
		NULL, NULL, NULL, 0 \
	}

void merge_result_release(struct merge_result *result);

/* One action file (actions/P<n>/P<n>-A<m>.yaml). */
int merge_action(
	struct merge_result *out,
	const struct doc_node *base,
	const struct doc_node *ours,
	const struct doc_node *theirs,
	const struct merge_ctx *ctx);

/* plan.yaml. */
int merge_plan_meta(
	struct merge_result *out,
	const struct doc_node *base,
	const struct doc_node *ours,
	const struct doc_node *theirs,
	const struct merge_ctx *ctx);

/* partners.yaml. */
int merge_partners(
	struct merge_result *out,
	const struct doc_node *base,
	const struct doc_node *ours,
	const struct doc_node *theirs,
	const struct merge_ctx *ctx);

/* Dispatch on the kind of file. */
int merge_file(
	struct merge_result *out,
	enum plan_file_kind kind,
	const struct doc_node *base,
	const struct doc_node *ours,
	const struct doc_node *theirs,
	const struct merge_ctx *ctx);

/* ---- renumbering actions added on both sides with one ID ---------------- */

struct merge_renumbering {
	char old_id[32], new_id[32];
};

/*
 * Give each action in `actions` (the `renumber` trees of merge_action
 * results) the next free ID in its priority, in place: taken lists every
 * action ID of the merged plan (the merged results' IDs); the actions are
 * numbered in order of their old IDs, each new ID joining the taken ones, so
 * both merge directions give the same IDs.  *out (n entries, malloc'd)
 * reports old -> new in that order.
 */
int merge_renumber_all(
	struct merge_renumbering **out,
	struct doc_node *const *actions,
	size_t n,
	const char *const *taken,
	size_t ntaken);

/* ---- every action of a plan at once ------------------------------------- */

/* One action file to merge; any version may be NULL (absent). */
struct merge_action_in {
	const char *id;
	const struct doc_node *base, *ours, *theirs;
};

/* One action of the merged plan. */
struct merge_action_out {
	char id[32]; /* its ID in the merged plan */
	char from_id[32]; /* the ID it had: differs when renumbered */
	struct doc_node *doc; /* NULL: the file is gone */
	struct merge_conflict *conflicts; /* recorded merging its file */
	size_t nconflicts;
};

/*
 * Merge every action file that changed on either side (in[], any order,
 * one entry per ID) and renumber same-ID additions: merge_action on each,
 * then merge_renumber_all with the IDs of every merged action plus
 * `unchanged` (the IDs of actions present and unchanged on both sides,
 * which must count as taken).  *out gets one entry per input file (doc
 * NULL when deleted) plus one per renumbered action, ordered by ID;
 * release with merge_actions_free.  ctx->who is called with ctx->file set
 * to the file's action ID.
 */
int merge_actions(
	struct merge_action_out **out,
	size_t *out_n,
	const struct merge_action_in *in,
	size_t n,
	const char *const *unchanged,
	size_t nunchanged,
	const struct merge_ctx *ctx);

void merge_actions_free(struct merge_action_out *actions, size_t n);

/* ---- resolution of a record ------------------------------------------ */

enum merge_resolution {
	MERGE_KEEP, /* keep the value in the field */
	MERGE_OTHER, /* take the record's other value */
	MERGE_VALUE, /* take a new value (command-line form, plan_field_set) */
};

/*
 * Resolve the conflict records of `field` in an action: set the field as
 * asked and remove those records (and the `conflicts` key when none are
 * left).  For MERGE_OTHER with an absent other (a delete) the field or
 * update entry is removed; for MERGE_WHOLE_ACTION *out_delete is set to 1
 * and the caller deletes the action file (otherwise *out_delete is 0).  value
 * is used only for MERGE_VALUE.  ERROR_NOTFOUND if no record names the field;
 * ERROR_USAGE for MERGE_OTHER when several records of that field disagree
 * on the other value, or MERGE_VALUE on an entry or the whole action;
 * ERROR_INVALID for a bad value or a result plan_check refuses (the
 * resolved action is checked and left in canonical order).  The action is
 * unchanged on error.
 */
int merge_resolve(
	int *out_delete,
	struct doc_node *action,
	const char *field,
	enum merge_resolution how,
	const char *value);

#endif
