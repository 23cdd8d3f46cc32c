/*
 * sync/edit: what the write commands share: load one action from HEAD,
 * describe a change for a commit message, commit one file.
 */
#ifndef PLANSYNC_EDIT_H
#define PLANSYNC_EDIT_H

#include <stddef.h>

struct doc_node;
struct key;
struct repo;

/*
 * The checked tree of action id at HEAD (one blob read).  ERROR_NOTFOUND
 * "no action 'P1-A9' in HEAD"; ERROR_INVALID for a bad ID or file.
 */
int edit_load_action(struct doc_node **out, struct repo *repo, const char *id);

/*
 * The checked tree of a top-level file (plan.yaml, partners.yaml) at HEAD.
 * ERROR_NOTFOUND if HEAD has none.
 */
int edit_load_file(
	struct doc_node **out,
	struct repo *repo,
	const char *path,
	int kind);

/*
 * A one-line account of how action id changed from a to b (either may be
 * NULL: added, deleted), e.g. "P1-A1: status in-progress -> done";
 * malloc'd.  ERROR_NOTFOUND (no message) when nothing changed.
 */
int edit_describe(
	char **out,
	const char *id,
	const struct doc_node *a,
	const struct doc_node *b);

/* Emit doc canonically and commit it at path (commit_files, one file). */
int edit_commit_doc(
	char *out_id,
	struct repo *repo,
	const struct key *key,
	const char *path,
	const struct doc_node *doc,
	const char *message);

/*
 * Conflict records in HEAD's actions: fields recorded and actions holding
 * any.  Reads every action blob but parses only those whose text has a
 * conflicts list (the canonical writer omits an empty one).
 */
int edit_count_conflicts(
	size_t *out_fields,
	size_t *out_actions,
	struct repo *repo);

#endif
