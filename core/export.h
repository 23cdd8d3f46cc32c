/*
 * core/export: the plan as a report (Markdown, HTML, CSV, JSON) and the
 * JSON form of actions that the read commands print.
 *
 * Every function renders into a malloc'd, NUL-terminated buffer; the caller
 * chooses where it goes (stdout, or a file written atomically).
 *
 * - md: reads like the source document: the title, the partnership and
 *   "Updated", then each priority in plan order ("## Priority N", its title
 *   in bold, its focus) and its table with the columns ID, Action,
 *   Information, Update, Time-scale, Responsible; one row per update, the
 *   action's own cells only on its first row (as in the seed).  Text is
 *   escaped so that it renders as written; newlines in a cell become <br>.
 * - html: one self-contained, printable page: inline CSS with print rules,
 *   every text escaped (& < > " '), no scripts, no external resources.
 * - csv: RFC 4180 (CRLF, fields quoted when they hold a comma, quote, CR or
 *   LF, quotes doubled), a header row, then one row per update (an action
 *   without updates has one row): priority, action_id, action,
 *   information, status, timescale, responsible, update_id, update_text,
 *   update_date, update_timescale, update_responsible; lists joined "; ".
 * - json: {"plan": {plan.yaml}, "actions": [action, ...]} with the YAML's
 *   field names and order.  Schema fields are strings (lists of strings);
 *   plain scalars under keys outside the schema are typed as YAML would
 *   read them (null, true/false, numbers), everything else is a string.
 */
#ifndef PLANSYNC_EXPORT_H
#define PLANSYNC_EXPORT_H

#include <stddef.h>

#include "doc.h"

struct plan;

enum export_format {
	EXPORT_MD,
	EXPORT_HTML,
	EXPORT_CSV,
	EXPORT_JSON,
};

/*
 * "md" (or "markdown"), "html", "csv", "json".  ERROR_USAGE with a message
 * naming the value for anything else.
 */
int export_format_parse(enum export_format *out, const char *name);

/* The whole plan in the given format. */
int export_plan(
	char **out,
	size_t *out_len,
	const struct plan *plan,
	enum export_format format);

/* ---- the audit report (export --audit) -------------------------------- */

/*
 * Who made a change, as the report shows it (strings borrowed; organisation
 * and fingerprint may be NULL or "").
 */
struct export_who {
	const char *name, *organisation;
	const char *date; /* "2023-12-01 10:22 +0000" */
	const char *signature; /* good, bad, unknown-key, revoked, unsigned */
	const char *commit; /* hex */
};

/* The last change to one update entry (its fields taken together). */
struct export_audit_item {
	const char *action, *update; /* IDs */
	struct export_who who;
};

/* One field change for the appendix (old/new: one-line summaries). */
struct export_audit_change {
	struct export_who who;
	const char *action, *field, *old, *new;
};

struct export_audit {
	const char *since, *until; /* YYYY-MM-DD or NULL, for the heading */
	const struct export_audit_item *items;
	size_t nitems;
	const struct export_audit_change *changes; /* newest first */
	size_t nchanges;
};

/*
 * The md or html report with, under each update, who last changed it, when
 * and the signature status ("Last changed by Jane Smith (NYP), 2023-12-01
 * 10:22 +0000, signature good, commit 1a2b3c4"), and an appendix "Changes
 * from SINCE to UNTIL" (or "All changes") listing every change: date,
 * action/field, old -> new, who, signature, commit.  ERROR_USAGE for csv
 * and json.
 */
int export_plan_audit(
	char **out,
	size_t *out_len,
	const struct plan *plan,
	enum export_format format,
	const struct export_audit *audit);

/* One document (an action, plan.yaml) as pretty-printed JSON, with "\n". */
int export_json_node(char **out, size_t *out_len, const struct doc_node *node);

/* A JSON array of the given actions, pretty-printed, with "\n". */
int export_json_actions(
	char **out,
	size_t *out_len,
	const struct doc_node *const *actions,
	size_t n);

#endif
