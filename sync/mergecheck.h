/*
 * sync/mergecheck: is a merge commit explained by its parents? (SPEC.md 4)
 *
 * A merge commit is recomputed from its two parents and their merge base
 * with the field merge engine (core/merge), file by file for every file
 * that differs between any of base, parents and merge.  Each field of the
 * merge commit must then be explained:
 *   - it equals the recomputed value; or
 *   - the recomputation records a conflict on it (or on its update entry or
 *     whole action) and it holds either side's value (the time rule is not
 *     rechecked: either side's value is explained, so a plain `git merge`
 *     through the driver, which keeps ours, passes); or
 *   - a parent records a conflict on it that the merge resolved, and it
 *     holds that record's kept or other value;
 *   - `conflicts`: every record is one a parent holds or one about a field
 *     the recomputation found in conflict, with values from the two sides.
 * An action added on both sides with one ID is explained when the merge
 * holds either side's version under that ID and the other under a new ID
 * (which side keeps the ID follows the time rule, not rechecked).
 * plan.yaml and partners.yaml must equal the recomputed file, or, when the
 * recomputation had conflicts, either parent's file.
 * Anything else is a finding: the merger slipped in an edit of their own.
 * Octopus merges (more than two parents) get a finding of their own: the
 * engine merges two sides.
 */
#ifndef PLANSYNC_MERGECHECK_H
#define PLANSYNC_MERGECHECK_H

#include <stddef.h>

#include <git2.h>

struct mergecheck_finding {
	char *path; /* file, e.g. "actions/P1/P1-A2.yaml" */
	char *field; /* field path, or "" for the whole file */
	/* "status is 'planned': neither parent ('on-hold', 'done'), a
	 * conflict rule nor a resolution explains it" */
	char *reason;
};

/*
 * Check commit id.  A commit with one parent or none gives no findings.
 * Returns 0 with the findings in *out (NULL, 0 when it is explained), or a
 * negative ERROR_* when it could not check (an object missing).
 */
int mergecheck_commit(
	struct mergecheck_finding **out,
	size_t *out_n,
	git_repository *repo,
	const git_oid *id);

void mergecheck_findings_free(struct mergecheck_finding *v, size_t n);

/*
 * Called for each merge commit checked with its findings (n may be 0); a
 * non-zero return stops the walk and is returned.
 */
typedef int (*mergecheck_cb)(
	const git_oid *merge,
	const struct mergecheck_finding *findings,
	size_t n,
	void *payload);

/*
 * Check every merge commit reachable from tips (parents before children).
 * *out_merges and *out_bad count the merges checked and those with
 * findings.  cb may be NULL.
 */
int mergecheck_range(
	size_t *out_merges,
	size_t *out_bad,
	git_repository *repo,
	const git_oid *tips,
	size_t ntips,
	mergecheck_cb cb,
	void *payload);

#endif
