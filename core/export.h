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
 *   without updates gets one row): priority, action_id, action,
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

/* One document (an action, plan.yaml) as pretty-printed JSON, with "\n". */
int export_json_node(char **out, size_t *out_len, const struct doc_node *node);

/* A JSON array of the given actions, pretty-printed, with "\n". */
int export_json_actions(
	char **out,
	size_t *out_len,
	const struct doc_node *const *actions,
	size_t n);

#endif
