/*
 * core/plan: the plan model, schema plansync/1 (SPEC.md 2).
 *
 * A plan is plan.yaml (metadata and priorities), one file per action under
 * actions/<P>/<ID>.yaml and partners.yaml.  Each file is held as a doc tree
 * (core/doc) that has been validated and put in canonical order: schema keys
 * in schema order, then keys outside the schema in byte order of the key,
 * their values kept as opaque trees.  Emitting a checked tree with
 * doc_emit() gives the canonical bytes; loading canonical bytes and
 * emitting them again gives the same bytes.
 *
 * Canonical form details (the writer's choices where SPEC.md is silent):
 * - action: id, priority, action, information, status, timescale,
 *   responsible, updates, conflicts; every field but conflicts is always
 *   written (information "" and responsible [] and updates [] when empty);
 *   conflicts only when non-empty.
 * - update: id, text, date, timescale, responsible; the last three only when
 *   present.
 * - plan.yaml: schema, title, partnership, updated, priorities; a priority:
 *   id, title, focus (focus optional).
 * - partners.yaml: partners; a partner: email, name, organisation, role,
 *   key, revoked.
 * - conflict record: field, base, kept, kept_by, kept_commit, other,
 *   other_by, other_commit (base absent when there was none).
 *
 * Validation (plan_check) beyond SPEC.md 2:
 * - required: action id, priority, action (not empty), status; update id,
 *   text; plan.yaml schema, title, priorities; priority id, title; partner
 *   email, name, organisation, role, key.  information and timescale
 *   default to "", responsible and updates to [], revoked to false.
 * - text is any scalar but a plain null or bool ("~", "", yes, off...):
 *   write "" for no text; numbers such as 2024 are text.
 * - responsible: one-line names, no surrounding spaces, no repeats.
 * - date: a calendar date YYYY-MM-DD; *_commit: 40 or 64 lowercase hex.
 * - partners: email unique ignoring ASCII case, keys unique, revoked a
 *   plain true or false.
 */
#ifndef PLANSYNC_PLAN_H
#define PLANSYNC_PLAN_H

#include <stddef.h>

#include "doc.h"

#define PLAN_SCHEMA "plansync/1"

enum plan_file_kind {
	PLAN_FILE_PLAN, /* plan.yaml */
	PLAN_FILE_ACTION, /* actions/P<n>/P<n>-A<m>.yaml */
	PLAN_FILE_PARTNERS, /* partners.yaml */
	PLAN_FILE_ATTRIBUTES, /* .gitattributes (in the layout, not YAML) */
};

/* ---- IDs and paths ------------------------------------------------ */

/* "P<n>" with n a decimal without leading zeros, 1..9999. */
int plan_priority_id_valid(const char *id);
/* "P<n>-A<m>" likewise. */
int plan_action_id_valid(const char *id);
/* "u" followed by 1..32 lowercase hex digits. */
int plan_update_id_valid(const char *id);
/* Compare action IDs numerically (P2-A10 after P2-A9, P10 after P9). */
int plan_action_id_cmp(const char *a, const char *b);
/* "actions/P1/P1-A3.yaml" for "P1-A3"; ERROR_INVALID for a bad ID. */
int plan_action_path(char *buf, size_t size, const char *id);
/*
 * Classify a repository-relative path: the kind of file and, for an action,
 * its ID (into id, size idsize).  ERROR_INVALID for a path outside the
 * layout (anything but plan.yaml, partners.yaml, .gitattributes and
 * actions/P<n>/P<n>-A<m>.yaml with matching folder).
 */
int plan_path_classify(
	enum plan_file_kind *out,
	char *id,
	size_t idsize,
	const char *path);

/* ---- one file ------------------------------------------------------- */

/*
 * Validate a parsed tree as a file of the given kind at the repository-
 * relative path (used in messages and, for an action, to check that id and
 * priority match the file name and folder; a path outside the layout, such
 * as a merge driver's temporary file, skips that check), fill in defaults
 * and reorder it canonically.  Messages: "path:line:col: rule".
 * ERROR_INVALID.
 */
int plan_check(
	struct doc_node *doc,
	enum plan_file_kind kind,
	const char *path);

/* doc_parse + plan_check. */
int plan_parse(
	struct doc_node **out,
	enum plan_file_kind kind,
	const char *path,
	const char *buf,
	size_t len);

/* ---- the whole plan ----------------------------------------------------- */

struct plan;

/*
 * Load a plan folder: plan.yaml, partners.yaml (optional) and every
 * actions/P<n>/P<n>-A<m>.yaml.  Refuses symlinks, files and folders outside the
 * layout, an action whose priority plan.yaml does not list, files over
 * DOC_MAX_FILE.  Other files at the top level (README, .git, .gitattributes)
 * are ignored, and so are temporary files a killed writer left
 * (".<name>.<8 hex>.tmp").  Messages name files as "dir/actions/..." (just
 * "actions/..." when dir is ".").
 */
int plan_load_dir(struct plan **out, const char *dir);

/*
 * plan_load_dir with the action files parsed by up to jobs threads (0: one
 * per online CPU, at most 8, as plan_load_dir does; 1: this thread only).
 * The plan, and the error when there is one, are the same for any jobs.
 */
int plan_load_dir_jobs(struct plan **out, const char *dir, unsigned jobs);

/* A plan with no actions and no partners from a checked plan.yaml tree
 * (taken, even on failure). */
int plan_new(struct plan **out, struct doc_node *meta);

/* Non-zero if plan.yaml lists the priority ID. */
int plan_priority_listed(const struct plan *plan, const char *priority);

/*
 * Write the plan canonically under dir (created if needed), each file
 * atomically.  Files of actions no longer in the plan are not removed.
 * Files already holding the canonical bytes are not rewritten; the others
 * go to temporary files, are flushed together, then renamed.
 */
int plan_write_dir(const struct plan *plan, const char *dir);

void plan_free(struct plan *plan);

/* Borrowed; valid until the plan changes or is freed. */
struct doc_node *plan_meta(const struct plan *plan);
struct doc_node *plan_partners(const struct plan *plan); /* NULL if none */
size_t plan_action_count(const struct plan *plan);
/* Actions in ID order (priority number, then action number). */
struct doc_node *plan_action_at(const struct plan *plan, size_t i);
struct doc_node *plan_find_action(const struct plan *plan, const char *id);

/* Take ownership of a checked action tree (replacing one with the same ID;
 * freed on failure).  ERROR_INVALID if plan.yaml does not list its
 * priority. */
int plan_put_action(struct plan *plan, struct doc_node *action);
/* Replace partners.yaml (takes ownership of a checked tree, or NULL). */
void plan_set_partners(struct plan *plan, struct doc_node *partners);

/* ---- field paths ---------------------------------------------------- */

/*
 * Field paths name the editable fields of an action: "action",
 * "information", "status", "timescale", "responsible", and
 * "updates/<uid>/<field>" with field text, date, timescale or responsible.
 */

/* The node at path (borrowed), ERROR_NOTFOUND if absent, ERROR_USAGE if
 * path names no field. */
int plan_field_get(
	const struct doc_node **out,
	const struct doc_node *action,
	const char *path);

/*
 * Set the field at path from a command-line value, validated as its type
 * (status one of the five values; date YYYY-MM-DD; responsible a comma
 * list, trimmed, empty items dropped; text fields any UTF-8 without NUL).
 * The update entry must exist.  ERROR_USAGE for an unknown field,
 * ERROR_NOTFOUND for an unknown update, ERROR_INVALID for a bad value.
 */
int plan_field_set(
	struct doc_node *action,
	const char *path,
	const char *value);

/* Every field path the action holds, in canonical order; free with
 * plan_strv_free. */
int plan_field_list(char ***out, size_t *out_n, const struct doc_node *action);
void plan_strv_free(char **v, size_t n);

/* A one-line rendering of a value for messages: lists "a, b", long text
 * trimmed to max bytes with "...", absent "(none)".  malloc'd. */
char *plan_value_summary(const struct doc_node *value, size_t max);

/*
 * Add an update entry with a fresh id ("u" + 8 random hex digits from
 * randombytes, unique in the action).  date, timescale, responsible_csv may
 * be NULL.  *out_id (malloc'd) receives the id.
 */
int plan_update_add(
	char **out_id,
	struct doc_node *action,
	const char *text,
	const char *date,
	const char *timescale,
	const char *responsible_csv);

/*
 * The next free action ID in priority (one more than the largest number
 * among existing_ids of that priority; others are ignored).
 */
int plan_next_action_id(
	char *buf,
	size_t size,
	const char *priority,
	const char *const *existing_ids,
	size_t n);

/* A new checked action tree: status planned, information "", no updates. */
int plan_action_new(
	struct doc_node **out,
	const char *id,
	const char *action_text,
	const char *timescale,
	const char *responsible_csv);

/* ---- comparison ----------------------------------------------------- */

struct plan_change {
	char *path; /* field path */
	const struct doc_node *old; /* borrowed from a; NULL if absent */
	const struct doc_node *new; /* borrowed from b; NULL if absent */
};

/*
 * The fields that differ between two versions of one action (a or b may be
 * NULL for an action added or deleted), in canonical field order, keys
 * outside the schema included by their key name (update ones as
 * "updates/<uid>/<key>").  An update entry added or removed shows as its
 * fields.  Free with plan_changes_free.
 */
int plan_action_diff(
	struct plan_change **out,
	size_t *out_n,
	const struct doc_node *a,
	const struct doc_node *b);
void plan_changes_free(struct plan_change *changes, size_t n);

/* ---- partners ------------------------------------------------------- */

struct plan_partner {
	const char *email, *name, *organisation, *role, *key; /* borrowed */
	int coordinator, revoked;
};

size_t plan_partner_count(const struct doc_node *partners);
/*
 * Non-zero if line is "ssh-ed25519 <base64> [comment]" whose base64 is
 * the 51-byte blob string("ssh-ed25519") || string(pk); copies pk (32
 * bytes) if pk is not NULL.
 */
int plan_key_line_valid(const char *line, unsigned char pk[32]);
/* Item i of a checked partners.yaml tree. */
void plan_partner_at(
	struct plan_partner *out,
	const struct doc_node *partners,
	size_t i);
/* ERROR_NOTFOUND if no partner has that email. */
int plan_partner_by_email(
	struct plan_partner *out,
	const struct doc_node *partners,
	const char *email);

#endif
