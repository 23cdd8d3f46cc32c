/*
 * core/export: the plan as Markdown, HTML, CSV or JSON (see export.h).
 */
#include "export.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "plan.h"

/* ---- a growing buffer with a sticky out-of-memory flag ---------------- */

struct buf {
	char *p;
	size_t len, cap;
	int failed;
};

static void buf_grow(struct buf *b, size_t more)
{
	size_t cap;
	char *p;

	if (b->failed)
		return;
	if (b->len + more + 1 <= b->cap)
		return;
	cap = b->cap ? b->cap : 4096;
	while (cap < b->len + more + 1) {
		if (cap > ((size_t)-1) / 2) {
			b->failed = 1;
			return;
		}
		cap *= 2;
	}
	if (!(p = realloc(b->p, cap))) {
		b->failed = 1;
		return;
	}
	b->p = p;
	b->cap = cap;
}

static void buf_putn(struct buf *b, const char *s, size_t n)
{
	buf_grow(b, n);
	if (b->failed)
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void buf_puts(struct buf *b, const char *s)
{
	buf_putn(b, s, strlen(s));
}

static void buf_putc(struct buf *b, char c)
{
	buf_putn(b, &c, 1);
}

/* Hand the buffer to the caller, or report out of memory. */
static int buf_finish(char **out, size_t *out_len, struct buf *b)
{
	if (!b->failed && !b->p)
		buf_grow(b, 0);
	if (b->failed) {
		free(b->p);
		b->p = NULL;
		return error_nomem();
	}
	*out = b->p;
	if (out_len)
		*out_len = b->len;
	b->p = NULL;
	return 0;
}

/* ---- reading the trees -------------------------------------------------- */

/* A scalar field's text, "" when absent or not a scalar. */
static const char *field(const struct doc_node *map, const char *key)
{
	const char *s = doc_str(doc_map_get(map, key));

	return s ? s : "";
}

/* A sequence field, or NULL. */
static const struct doc_node *
seq_field(const struct doc_node *map, const char *key)
{
	const struct doc_node *n = doc_map_get(map, key);

	return n && n->kind == DOC_SEQ ? n : NULL;
}

/*
 * A list of organisations joined with sep into b through put (the
 * format's escaper); a scalar is taken as one item.
 */
static void put_list(
	struct buf *b,
	const struct doc_node *list,
	const char *sep,
	void (*put)(struct buf *, const char *))
{
	size_t i;

	if (!list)
		return;
	if (list->kind == DOC_SCALAR) {
		put(b, list->str);
		return;
	}
	if (list->kind != DOC_SEQ)
		return;
	for (i = 0; i < list->n; i++) {
		if (i)
			put(b, sep);
		if (list->items[i]->kind == DOC_SCALAR)
			put(b, list->items[i]->str);
	}
}

/* "P12" -> "12" (the digits after the letter). */
static const char *priority_number(const char *id)
{
	return id[0] == 'P' ? id + 1 : id;
}

/* ---- Markdown ---------------------------------------------------------- */

/* Text inside a paragraph or table cell: escape what Markdown would read. */
static void md_inline(struct buf *b, const char *s, const char *newline)
{
	int line_start = 1;

	for (; *s; s++) {
		if (*s == '\n') {
			buf_puts(b, newline);
			line_start = 1;
			continue;
		}
		if (*s == '\r')
			continue;
		if (line_start && (*s == ' ' || *s == '\t')) {
			/* leading blanks would make a code block */
			buf_putc(b, ' ');
			while (s[1] == ' ' || s[1] == '\t')
				s++;
			continue;
		}
		if (line_start && (*s == '#' || *s == '-' || *s == '+' ||
				   *s == '=' || *s == '>')) {
			buf_putc(b, '\\');
			buf_putc(b, *s);
			line_start = 0;
			continue;
		}
		if (line_start && *s >= '0' && *s <= '9') {
			/* "1." or "1)" at a line start is a list item */
			const char *d = s;

			while (*d >= '0' && *d <= '9')
				d++;
			if (*d == '.' || *d == ')') {
				buf_putn(b, s, (size_t)(d - s));
				buf_putc(b, '\\');
				buf_putc(b, *d);
				s = d;
				line_start = 0;
				continue;
			}
		}
		line_start = 0;
		switch (*s) {
		case '\\':
		case '|':
		case '*':
		case '_':
		case '`':
		case '[':
		case ']':
		case '<':
		case '>':
			buf_putc(b, '\\');
			buf_putc(b, *s);
			break;
		case '&':
			/* only "&name;" or "&#..." would be read as an entity
			 */
			if (s[1] == '#' || (s[1] >= 'a' && s[1] <= 'z') ||
			    (s[1] >= 'A' && s[1] <= 'Z'))
				buf_putc(b, '\\');
			buf_putc(b, '&');
			break;
		default:
			buf_putc(b, *s);
		}
	}
}

static void md_cell_put(struct buf *b, const char *s)
{
	md_inline(b, s, "<br>");
}

static void md_line_put(struct buf *b, const char *s)
{
	md_inline(b, s, " ");
}

static void md_paragraphs(struct buf *b, const char *s)
{
	md_inline(b, s, "\n\n");
	buf_puts(b, "\n\n");
}

static const struct export_audit_item *audit_item(
	const struct export_audit *audit,
	const struct doc_node *action,
	const struct doc_node *update)
{
	const char *aid, *uid;
	size_t i;

	if (!audit || !update)
		return NULL;
	aid = field(action, "id");
	uid = field(update, "id");
	for (i = 0; i < audit->nitems; i++)
		if (strcmp(audit->items[i].action, aid) == 0 &&
		    strcmp(audit->items[i].update, uid) == 0)
			return &audit->items[i];
	return NULL;
}

static const char *str_or(const char *s, const char *dflt)
{
	return s && *s ? s : dflt;
}

static void short_commit(char *buf, const char *commit)
{
	snprintf(buf, 8, "%s", str_or(commit, ""));
}

static void audit_heading(struct buf *b, const struct export_audit *audit)
{
	if (audit->since && audit->until) {
		buf_puts(b, "Changes from ");
		buf_puts(b, audit->since);
		buf_puts(b, " to ");
		buf_puts(b, audit->until);
	} else if (audit->since) {
		buf_puts(b, "Changes since ");
		buf_puts(b, audit->since);
	} else if (audit->until) {
		buf_puts(b, "Changes until ");
		buf_puts(b, audit->until);
	} else {
		buf_puts(b, "All changes");
	}
}

/* ---- the md and html reports: one walk, two styles ------------------- */

/*
 * Both reports are the plan's head, then per priority its heading and a
 * table of one row per update (the action's own cells on its first row),
 * its conflict notes, and with an audit an appendix of changes.  A style
 * gives the escapers, the markup around each piece (strings, in the order
 * the walk writes them) and the few parts laid out differently.
 */

/* One table row: an update of an action (NULL: an action without any). */
struct report_row {
	const struct doc_node *action, *update;
	size_t index, rows; /* this row's place among the action's */
	const struct export_audit_item *item; /* who last changed it */
};

struct report_style {
	void (*cell)(struct buf *, const char *); /* text in a table cell */
	void (*line)(struct buf *, const char *); /* text on one line */
	void (*sig)(struct buf *, const char *); /* a signature status */
	void (*head)(struct buf *, const struct doc_node *meta);
	void (*priority)(struct buf *, const struct doc_node *prio);
	/* a row's opening and the action's cells (first row: all) */
	void (*action_cells)(struct buf *, const struct report_row *);
	const char *tbody_end; /* after the priority's rows */
	/* update cell: before it, around its date */
	const char *update_open, *date_open, *date_close;
	/* "Last changed by": before who, after who, after date, after the
	 * signature, after the commit */
	const char *who[5];
	const char *timescale_open, *resp_open, *resp_sep, *row_close;
	/* conflict notes: before the list, around an item, after */
	const char *conflicts_open, *conflict_open, *conflict_close,
		*conflicts_close, *priority_close;
	/* appendix: heading open/close, no changes, the table's head, the
	 * markup before each of the six cells and after the last, the end */
	const char *app_open, *app_heading_close, *app_empty, *app_head;
	const char *app_cells[7];
	const char *app_end, *tail;
};

/* "Jane Smith (NYP)" */
static void
who_put(struct buf *b,
	const struct export_who *w,
	void (*put)(struct buf *, const char *))
{
	put(b, str_or(w->name, "(unknown)"));
	if (w->organisation && *w->organisation) {
		buf_puts(b, " (");
		put(b, w->organisation);
		buf_puts(b, ")");
	}
}

static void report_row(
	struct buf *b,
	const struct report_style *st,
	const struct report_row *r)
{
	const struct doc_node *u = r->update, *resp;
	char sc[8];

	st->action_cells(b, r);
	buf_puts(b, st->update_open);
	if (u) {
		if (*field(u, "date")) {
			buf_puts(b, st->date_open);
			st->cell(b, field(u, "date"));
			buf_puts(b, st->date_close);
		}
		st->cell(b, field(u, "text"));
	}
	if (r->item) {
		short_commit(sc, r->item->who.commit);
		buf_puts(b, st->who[0]);
		who_put(b, &r->item->who, st->cell);
		buf_puts(b, st->who[1]);
		st->cell(b, str_or(r->item->who.date, ""));
		buf_puts(b, st->who[2]);
		st->sig(b, str_or(r->item->who.signature, "unknown"));
		buf_puts(b, st->who[3]);
		st->cell(b, sc);
		buf_puts(b, st->who[4]);
	}
	buf_puts(b, st->timescale_open);
	if (u && doc_map_get(u, "timescale"))
		st->cell(b, field(u, "timescale"));
	else if (r->index == 0)
		st->cell(b, field(r->action, "timescale"));
	buf_puts(b, st->resp_open);
	resp = u ? doc_map_get(u, "responsible") : NULL;
	if (!resp && r->index == 0)
		resp = doc_map_get(r->action, "responsible");
	put_list(b, resp, st->resp_sep, st->cell);
	buf_puts(b, st->row_close);
}

static void report_action(
	struct buf *b,
	const struct report_style *st,
	const struct doc_node *action,
	const struct export_audit *audit)
{
	const struct doc_node *updates = seq_field(action, "updates");
	struct report_row r;

	r.action = action;
	r.rows = updates && updates->n ? updates->n : 1;
	for (r.index = 0; r.index < r.rows; r.index++) {
		r.update =
			updates && updates->n ? updates->items[r.index] : NULL;
		r.item = audit_item(audit, action, r.update);
		report_row(b, st, &r);
	}
}

/* Conflict notes for one action: "P1-A1: updates/u1/text". */
static void conflict_fields(
	struct buf *b,
	const struct report_style *st,
	const struct doc_node *action)
{
	const struct doc_node *c = seq_field(action, "conflicts");
	size_t i;

	for (i = 0; c && i < c->n; i++) {
		buf_puts(b, st->conflict_open);
		st->line(b, field(action, "id"));
		buf_puts(b, ": ");
		st->line(b, field(c->items[i], "field"));
		buf_puts(b, " (kept ");
		st->line(b, field(c->items[i], "kept_by"));
		buf_puts(b, "'s value, other by ");
		st->line(b, field(c->items[i], "other_by"));
		buf_puts(b, ")");
		buf_puts(b, st->conflict_close);
	}
}

static void report_appendix(
	struct buf *b,
	const struct report_style *st,
	const struct export_audit *audit)
{
	const char *const *cell = st->app_cells;
	char sc[8];
	size_t i;

	buf_puts(b, st->app_open);
	audit_heading(b, audit);
	buf_puts(b, st->app_heading_close);
	if (!audit->nchanges) {
		buf_puts(b, st->app_empty);
		return;
	}
	buf_puts(b, st->app_head);
	for (i = 0; i < audit->nchanges; i++) {
		const struct export_audit_change *c = &audit->changes[i];

		short_commit(sc, c->who.commit);
		buf_puts(b, cell[0]);
		st->cell(b, str_or(c->who.date, ""));
		buf_puts(b, cell[1]);
		st->cell(b, c->action);
		buf_puts(b, "/");
		st->cell(b, c->field);
		buf_puts(b, cell[2]);
		st->cell(b, str_or(c->old, "(none)"));
		buf_puts(b, " → ");
		st->cell(b, str_or(c->new, "(none)"));
		buf_puts(b, cell[3]);
		who_put(b, &c->who, st->cell);
		buf_puts(b, cell[4]);
		st->sig(b, str_or(c->who.signature, "unknown"));
		buf_puts(b, cell[5]);
		st->cell(b, sc);
		buf_puts(b, cell[6]);
	}
	buf_puts(b, st->app_end);
}

static void
report(struct buf *b,
       const struct report_style *st,
       const struct plan *plan,
       const struct export_audit *audit)
{
	const struct doc_node *meta = plan_meta(plan);
	const struct doc_node *prios = seq_field(meta, "priorities");
	size_t i, j, n = plan_action_count(plan);

	st->head(b, meta);
	for (i = 0; prios && i < prios->n; i++) {
		const struct doc_node *p = prios->items[i];
		const char *pid = field(p, "id");
		int any = 0;

		st->priority(b, p);
		for (j = 0; j < n; j++) {
			const struct doc_node *a = plan_action_at(plan, j);

			if (strcmp(field(a, "priority"), pid) == 0)
				report_action(b, st, a, audit);
		}
		buf_puts(b, st->tbody_end);
		for (j = 0; j < n; j++) {
			const struct doc_node *a = plan_action_at(plan, j);
			const struct doc_node *c = seq_field(a, "conflicts");

			if (strcmp(field(a, "priority"), pid) != 0 || !c ||
			    c->n == 0)
				continue;
			if (!any)
				buf_puts(b, st->conflicts_open);
			any = 1;
			conflict_fields(b, st, a);
		}
		if (any)
			buf_puts(b, st->conflicts_close);
		buf_puts(b, st->priority_close);
	}
	if (audit)
		report_appendix(b, st, audit);
	buf_puts(b, st->tail);
}

/* ---- Markdown: the style ------------------------------------------------ */

static void md_sig(struct buf *b, const char *s)
{
	md_cell_put(b, s);
}

static void md_head(struct buf *b, const struct doc_node *meta)
{
	buf_puts(b, "# ");
	md_line_put(b, field(meta, "title"));
	buf_puts(b, "\n\n");
	if (*field(meta, "partnership")) {
		md_line_put(b, field(meta, "partnership"));
		buf_puts(b, "  \n");
	}
	if (*field(meta, "updated")) {
		buf_puts(b, "Updated: ");
		md_line_put(b, field(meta, "updated"));
		buf_puts(b, "\n");
	}
}

static void md_priority(struct buf *b, const struct doc_node *p)
{
	buf_puts(b, "\n## Priority ");
	md_line_put(b, priority_number(field(p, "id")));
	buf_puts(b, "\n\n**");
	md_line_put(b, field(p, "title"));
	buf_puts(b, "**\n\n");
	if (*field(p, "focus"))
		md_paragraphs(b, field(p, "focus"));
	buf_puts(
		b, "| ID | Action | Information | Update | Time-scale "
		   "| Responsible |\n"
		   "|----|--------|-------------|--------|------------"
		   "|-------------|\n");
}

static void md_action_cells(struct buf *b, const struct report_row *r)
{
	buf_puts(b, "| ");
	if (r->index == 0) {
		md_cell_put(b, field(r->action, "id"));
		buf_puts(b, " | ");
		md_cell_put(b, field(r->action, "action"));
		buf_puts(b, "<br>*Status: ");
		md_cell_put(b, field(r->action, "status"));
		buf_puts(b, "* | ");
		md_cell_put(b, field(r->action, "information"));
	} else {
		buf_puts(b, " | ");
		buf_puts(b, " | ");
	}
}

static const struct report_style md_style = {
	.cell = md_cell_put,
	.line = md_line_put,
	.sig = md_sig,
	.head = md_head,
	.priority = md_priority,
	.action_cells = md_action_cells,
	.tbody_end = "",
	.update_open = " | ",
	.date_open = "**",
	.date_close = ":** ",
	.who = { "<br>*Last changed by ", ", ", ", signature ", ", commit ",
		 "*" },
	.timescale_open = " | ",
	.resp_open = " | ",
	.resp_sep = ", ",
	.row_close = " |\n",
	.conflicts_open = "\nUnresolved merge conflicts:\n\n",
	.conflict_open = "- ",
	.conflict_close = "\n",
	.conflicts_close = "",
	.priority_close = "",
	.app_open = "\n## Appendix: ",
	.app_heading_close = "\n\n",
	.app_empty = "No changes in this period.\n",
	.app_head = "| Date | Field | Change | Who | Signature | Commit |\n"
		    "|------|-------|--------|-----|-----------|--------|\n",
	.app_cells = { "| ", " | ", " | ", " | ", " | ", " | ", " |\n" },
	.app_end = "",
	.tail = "",
};

/* ---- HTML: the style ---------------------------------------------------- */

static void html_put(struct buf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&':
			buf_puts(b, "&amp;");
			break;
		case '<':
			buf_puts(b, "&lt;");
			break;
		case '>':
			buf_puts(b, "&gt;");
			break;
		case '"':
			buf_puts(b, "&quot;");
			break;
		case '\'':
			buf_puts(b, "&#39;");
			break;
		case '\r':
			break;
		default:
			buf_putc(b, *s);
		}
	}
}

static const char html_css[] =
	"<style>\n"
	":root { color-scheme: light; }\n"
	"body { font-family: Arial, Helvetica, sans-serif; font-size: 11pt;"
	" line-height: 1.35; color: #111; background: #fff; margin: 2em auto;"
	" max-width: 80em; padding: 0 1em; }\n"
	"h1 { font-size: 1.6em; margin: 0 0 .2em; }\n"
	"header p { margin: .1em 0; color: #333; }\n"
	"h2 { font-size: 1.25em; margin: 1.6em 0 .3em; text-transform: "
	"uppercase; letter-spacing: .03em; }\n"
	"p.title { font-weight: bold; margin: .3em 0; }\n"
	"p.focus { margin: .3em 0 .8em; white-space: pre-line; }\n"
	"table { border-collapse: collapse; width: 100%; margin: .5em 0 1em; }\n"
	"th, td { border: 1px solid #777; padding: .35em .5em; "
	"vertical-align: top; text-align: left; white-space: pre-line; "
	"overflow-wrap: anywhere; }\n"
	"th { background: #e8e8e8; }\n"
	"td.id { white-space: nowrap; font-weight: bold; }\n"
	".status { display: inline-block; margin-top: .3em; font-size: .85em;"
	" border: 1px solid #777; border-radius: .3em; padding: 0 .3em; }\n"
	".status-done { background: #dff0d8; }\n"
	".status-in-progress { background: #fcf8e3; }\n"
	".status-on-hold { background: #f2dede; }\n"
	".date { font-weight: bold; }\n"
	".conflicts { font-size: .9em; color: #7a2b00; }\n"
	".audit { margin-top: .4em; font-size: .85em; color: #444;"
	" white-space: normal; }\n"
	".sig { font-weight: bold; }\n"
	".sig-good { color: #1d6b1d; }\n"
	".sig-bad, .sig-revoked, .sig-unknown-key, .sig-unsigned"
	" { color: #a40000; }\n"
	"table.changes td { white-space: normal; }\n"
	"col.id { width: 5em; } col.action { width: 20%; }\n"
	"col.info { width: 20%; } col.update { width: 32%; }\n"
	"@page { size: A4 landscape; margin: 12mm; }\n"
	"@media print {\n"
	"  body { font-size: 9pt; margin: 0; max-width: none; padding: 0; }\n"
	"  thead { display: table-header-group; }\n"
	"  tr { page-break-inside: avoid; break-inside: avoid; }\n"
	"  h2, p.title, p.focus { page-break-after: avoid;"
	" break-after: avoid; }\n"
	"  th { background: #e8e8e8 !important; -webkit-print-color-adjust:"
	" exact; print-color-adjust: exact; }\n"
	"}\n"
	"</style>\n";

static void html_sig(struct buf *b, const char *s)
{
	buf_puts(b, "<span class=\"sig sig-");
	html_put(b, s);
	buf_puts(b, "\">");
	html_put(b, s);
	buf_puts(b, "</span>");
}

static void html_head(struct buf *b, const struct doc_node *meta)
{
	buf_puts(
		b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
		   "<meta charset=\"utf-8\">\n"
		   "<meta name=\"viewport\" content=\"width=device-width, "
		   "initial-scale=1\">\n"
		   "<meta name=\"generator\" content=\"plansync\">\n"
		   "<title>");
	html_put(b, field(meta, "title"));
	buf_puts(b, "</title>\n");
	buf_puts(b, html_css);
	buf_puts(b, "</head>\n<body>\n<header>\n<h1>");
	html_put(b, field(meta, "title"));
	buf_puts(b, "</h1>\n");
	if (*field(meta, "partnership")) {
		buf_puts(b, "<p>");
		html_put(b, field(meta, "partnership"));
		buf_puts(b, "</p>\n");
	}
	if (*field(meta, "updated")) {
		buf_puts(b, "<p>Updated: ");
		html_put(b, field(meta, "updated"));
		buf_puts(b, "</p>\n");
	}
	buf_puts(b, "</header>\n");
}

static void html_priority(struct buf *b, const struct doc_node *p)
{
	const char *pid = field(p, "id");

	buf_puts(b, "<section class=\"priority\" id=\"");
	html_put(b, pid);
	buf_puts(b, "\">\n<h2>Priority ");
	html_put(b, priority_number(pid));
	buf_puts(b, "</h2>\n<p class=\"title\">");
	html_put(b, field(p, "title"));
	buf_puts(b, "</p>\n");
	if (*field(p, "focus")) {
		buf_puts(b, "<p class=\"focus\">");
		html_put(b, field(p, "focus"));
		buf_puts(b, "</p>\n");
	}
	buf_puts(
		b, "<table>\n<colgroup><col class=\"id\">"
		   "<col class=\"action\"><col class=\"info\">"
		   "<col class=\"update\"><col><col></colgroup>\n"
		   "<thead><tr><th>ID</th><th>Action</th>"
		   "<th>Information</th><th>Update</th>"
		   "<th>Time-scale</th><th>Responsible</th></tr>"
		   "</thead>\n<tbody>\n");
}

/* The action's cells span all its rows. */
static void html_action_cells(struct buf *b, const struct report_row *r)
{
	char span[48] = "";

	buf_puts(b, "<tr>");
	if (r->index != 0)
		return;
	if (r->rows > 1)
		snprintf(span, sizeof(span), " rowspan=\"%zu\"", r->rows);
	buf_puts(b, "<td class=\"id\"");
	buf_puts(b, span);
	buf_puts(b, ">");
	html_put(b, field(r->action, "id"));
	buf_puts(b, "</td><td");
	buf_puts(b, span);
	buf_puts(b, ">");
	html_put(b, field(r->action, "action"));
	buf_puts(b, "\n<span class=\"status status-");
	html_put(b, field(r->action, "status"));
	buf_puts(b, "\">");
	html_put(b, field(r->action, "status"));
	buf_puts(b, "</span></td><td");
	buf_puts(b, span);
	buf_puts(b, ">");
	html_put(b, field(r->action, "information"));
	buf_puts(b, "</td>");
}

static const struct report_style html_style = {
	.cell = html_put,
	.line = html_put,
	.sig = html_sig,
	.head = html_head,
	.priority = html_priority,
	.action_cells = html_action_cells,
	.tbody_end = "</tbody>\n</table>\n",
	.update_open = "<td>",
	.date_open = "<span class=\"date\">",
	.date_close = "</span> ",
	.who = { "<div class=\"audit\">Last changed by <span class=\"who\">",
		 "</span>, <span class=\"when\">", "</span>, signature ",
		 ", commit <code>", "</code></div>" },
	.timescale_open = "</td><td>",
	.resp_open = "</td><td>",
	.resp_sep = "\n",
	.row_close = "</td></tr>\n",
	.conflicts_open = "<div class=\"conflicts\"><p>Unresolved merge "
			  "conflicts:</p>\n<ul>\n",
	.conflict_open = "<li>",
	.conflict_close = "</li>\n",
	.conflicts_close = "</ul>\n</div>\n",
	.priority_close = "</section>\n",
	.app_open = "<section class=\"appendix\" id=\"changes\">\n"
		    "<h2>Appendix: ",
	.app_heading_close = "</h2>\n",
	.app_empty = "<p>No changes in this period.</p>\n</section>\n",
	.app_head = "<table class=\"changes\">\n<thead><tr><th>Date</th>"
		    "<th>Field</th><th>Change</th><th>Who</th>"
		    "<th>Signature</th><th>Commit</th></tr></thead>\n"
		    "<tbody>\n",
	.app_cells = { "<tr><td class=\"when\">", "</td><td class=\"field\">",
		       "</td><td>", "</td><td class=\"who\">", "</td><td>",
		       "</td><td><code>", "</code></td></tr>\n" },
	.app_end = "</tbody>\n</table>\n</section>\n",
	.tail = "</body>\n</html>\n",
};

/* ---- CSV ----------------------------------------------------------------- */

/* One field, quoted when it must be (RFC 4180 2.6, 2.7). */
static void csv_field(struct buf *b, const char *s)
{
	const char *p;

	if (!strpbrk(s, ",\"\r\n")) {
		buf_puts(b, s);
		return;
	}
	buf_putc(b, '"');
	for (p = s; *p; p++) {
		if (*p == '"')
			buf_putc(b, '"');
		buf_putc(b, *p);
	}
	buf_putc(b, '"');
}

static void csv_list(struct buf *b, const struct doc_node *list)
{
	struct buf tmp = { NULL, 0, 0, 0 };

	put_list(&tmp, list, "; ", buf_puts);
	if (tmp.failed)
		b->failed = 1;
	csv_field(b, tmp.p ? tmp.p : "");
	free(tmp.p);
}

static void
csv_row(struct buf *b, const struct doc_node *a, const struct doc_node *u)
{
	csv_field(b, field(a, "priority"));
	buf_putc(b, ',');
	csv_field(b, field(a, "id"));
	buf_putc(b, ',');
	csv_field(b, field(a, "action"));
	buf_putc(b, ',');
	csv_field(b, field(a, "information"));
	buf_putc(b, ',');
	csv_field(b, field(a, "status"));
	buf_putc(b, ',');
	csv_field(b, field(a, "timescale"));
	buf_putc(b, ',');
	csv_list(b, doc_map_get(a, "responsible"));
	buf_putc(b, ',');
	if (u) {
		csv_field(b, field(u, "id"));
		buf_putc(b, ',');
		csv_field(b, field(u, "text"));
		buf_putc(b, ',');
		csv_field(b, field(u, "date"));
		buf_putc(b, ',');
		csv_field(b, field(u, "timescale"));
		buf_putc(b, ',');
		csv_list(b, doc_map_get(u, "responsible"));
	} else {
		buf_puts(b, ",,,,");
	}
	buf_puts(b, "\r\n");
}

static void export_csv(struct buf *b, const struct plan *plan)
{
	size_t i, j, n = plan_action_count(plan);

	buf_puts(
		b, "priority,action_id,action,information,status,timescale,"
		   "responsible,update_id,update_text,update_date,"
		   "update_timescale,update_responsible\r\n");
	for (i = 0; i < n; i++) {
		const struct doc_node *a = plan_action_at(plan, i);
		const struct doc_node *u = seq_field(a, "updates");

		if (!u || u->n == 0)
			csv_row(b, a, NULL);
		for (j = 0; u && j < u->n; j++)
			csv_row(b, a, u->items[j]);
	}
}

/* ---- JSON ---------------------------------------------------------------- */

static void json_string(struct buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	buf_putc(b, '"');
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		switch (c) {
		case '"':
			buf_puts(b, "\\\"");
			break;
		case '\\':
			buf_puts(b, "\\\\");
			break;
		case '\n':
			buf_puts(b, "\\n");
			break;
		case '\r':
			buf_puts(b, "\\r");
			break;
		case '\t':
			buf_puts(b, "\\t");
			break;
		default:
			if (c < 0x20 || c == 0x7f) {
				char e[6] = { '\\', 'u',         '0',
					      '0',  hex[c >> 4], hex[c & 15] };

				buf_putn(b, e, sizeof(e));
			} else {
				buf_putc(b, (char)c);
			}
		}
	}
	buf_putc(b, '"');
}

/* A JSON number as RFC 8259 writes it. */
static int is_json_number(const char *s)
{
	if (*s == '-')
		s++;
	if (*s == '0')
		s++;
	else if (*s >= '1' && *s <= '9')
		while (*s >= '0' && *s <= '9')
			s++;
	else
		return 0;
	if (*s == '.') {
		s++;
		if (!(*s >= '0' && *s <= '9'))
			return 0;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (!(*s >= '0' && *s <= '9'))
			return 0;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	return *s == '\0';
}

/* A plain scalar under a key outside the schema, typed as YAML 1.2 core. */
static void json_typed_scalar(struct buf *b, const struct doc_node *n)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };
	static const char *const trues[] = { "true", "True", "TRUE" };
	static const char *const falses[] = { "false", "False", "FALSE" };
	size_t i;

	for (i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
		if (strcmp(n->str, nulls[i]) == 0) {
			buf_puts(b, "null");
			return;
		}
	for (i = 0; i < sizeof(trues) / sizeof(trues[0]); i++)
		if (strcmp(n->str, trues[i]) == 0) {
			buf_puts(b, "true");
			return;
		}
	for (i = 0; i < sizeof(falses) / sizeof(falses[0]); i++)
		if (strcmp(n->str, falses[i]) == 0) {
			buf_puts(b, "false");
			return;
		}
	if (is_json_number(n->str))
		buf_puts(b, n->str);
	else
		json_string(b, n->str, n->len);
}

/*
 * Keys of plansync/1 documents whose scalars are strings ("revoked", a
 * boolean, is left out so that it is typed).
 */
static int schema_key(const char *key)
{
	static const char *const keys[] = {
		"schema",       "title",       "partnership", "updated",
		"priorities",   "focus",       "id",          "priority",
		"action",       "information", "status",      "timescale",
		"responsible",  "updates",     "conflicts",   "text",
		"date",         "field",       "base",        "kept",
		"kept_by",      "kept_commit", "other",       "other_by",
		"other_commit", "partners",    "email",       "name",
		"organisation", "role",        "key",
	};
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(key, keys[i]) == 0)
			return 1;
	return 0;
}

static void json_indent(struct buf *b, unsigned depth)
{
	unsigned i;

	buf_putc(b, '\n');
	for (i = 0; i < depth; i++)
		buf_puts(b, "  ");
}

static void
json_node(struct buf *b, const struct doc_node *n, unsigned depth, int typed)
{
	size_t i;

	switch (n->kind) {
	case DOC_SCALAR:
		if (typed && n->plain)
			json_typed_scalar(b, n);
		else
			json_string(b, n->str, n->len);
		break;
	case DOC_SEQ:
		if (n->n == 0) {
			buf_puts(b, "[]");
			break;
		}
		buf_putc(b, '[');
		for (i = 0; i < n->n; i++) {
			if (i)
				buf_putc(b, ',');
			json_indent(b, depth + 1);
			json_node(b, n->items[i], depth + 1, typed);
		}
		json_indent(b, depth);
		buf_putc(b, ']');
		break;
	case DOC_MAP:
		if (n->n == 0) {
			buf_puts(b, "{}");
			break;
		}
		buf_putc(b, '{');
		for (i = 0; i < n->n; i++) {
			if (i)
				buf_putc(b, ',');
			json_indent(b, depth + 1);
			json_string(b, n->keys[i], strlen(n->keys[i]));
			buf_puts(b, ": ");
			json_node(
				b, n->items[i], depth + 1,
				typed || !schema_key(n->keys[i]));
		}
		json_indent(b, depth);
		buf_putc(b, '}');
		break;
	}
}

static void export_json(struct buf *b, const struct plan *plan)
{
	size_t i, n = plan_action_count(plan);

	buf_puts(b, "{\n  \"plan\": ");
	json_node(b, plan_meta(plan), 1, 0);
	buf_puts(b, ",\n  \"actions\": ");
	if (n == 0)
		buf_puts(b, "[]");
	else
		buf_putc(b, '[');
	for (i = 0; i < n; i++) {
		if (i)
			buf_putc(b, ',');
		json_indent(b, 2);
		json_node(b, plan_action_at(plan, i), 2, 0);
	}
	if (n)
		buf_puts(b, "\n  ]");
	buf_puts(b, "\n}\n");
}

/* ---- entry points -------------------------------------------------------- */

int export_format_parse(enum export_format *out, const char *name)
{
	if (strcmp(name, "md") == 0 || strcmp(name, "markdown") == 0)
		*out = EXPORT_MD;
	else if (strcmp(name, "html") == 0)
		*out = EXPORT_HTML;
	else if (strcmp(name, "csv") == 0)
		*out = EXPORT_CSV;
	else if (strcmp(name, "json") == 0)
		*out = EXPORT_JSON;
	else
		return error_set(
			ERROR_USAGE,
			"unknown format '%s' (use md, html, csv or json)",
			name);
	return 0;
}

int export_plan(
	char **out,
	size_t *out_len,
	const struct plan *plan,
	enum export_format format)
{
	struct buf b = { NULL, 0, 0, 0 };

	switch (format) {
	case EXPORT_MD:
		report(&b, &md_style, plan, NULL);
		break;
	case EXPORT_HTML:
		report(&b, &html_style, plan, NULL);
		break;
	case EXPORT_CSV:
		export_csv(&b, plan);
		break;
	case EXPORT_JSON:
		export_json(&b, plan);
		break;
	default:
		return error_set(ERROR_USAGE, "unknown export format");
	}
	return buf_finish(out, out_len, &b);
}

int export_plan_audit(
	char **out,
	size_t *out_len,
	const struct plan *plan,
	enum export_format format,
	const struct export_audit *audit)
{
	struct buf b = { NULL, 0, 0, 0 };

	if (format == EXPORT_MD)
		report(&b, &md_style, plan, audit);
	else if (format == EXPORT_HTML)
		report(&b, &html_style, plan, audit);
	else
		return error_set(
			ERROR_USAGE, "the audit report is md or html only");
	return buf_finish(out, out_len, &b);
}

int export_json_node(char **out, size_t *out_len, const struct doc_node *node)
{
	struct buf b = { NULL, 0, 0, 0 };

	json_node(&b, node, 0, 0);
	buf_putc(&b, '\n');
	return buf_finish(out, out_len, &b);
}

int export_json_actions(
	char **out,
	size_t *out_len,
	const struct doc_node *const *actions,
	size_t n)
{
	struct buf b = { NULL, 0, 0, 0 };
	size_t i;

	if (n == 0)
		buf_puts(&b, "[]\n");
	else
		buf_putc(&b, '[');
	for (i = 0; i < n; i++) {
		if (i)
			buf_putc(&b, ',');
		json_indent(&b, 1);
		json_node(&b, actions[i], 1, 0);
	}
	if (n)
		buf_puts(&b, "\n]\n");
	return buf_finish(out, out_len, &b);
}
