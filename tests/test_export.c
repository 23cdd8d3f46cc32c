/*
 * Tests for core/export: md, html, csv and json of a small plan whose text
 * holds every character the formats must escape.  The plan is written to a
 * temporary folder and loaded with plan_load_dir, as the commands do; CSV
 * and JSON output are parsed back here and compared with the YAML values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/error.h"
#include "core/export.h"
#include "core/plan.h"

static const char plan_yaml[] = "schema: plansync/1\n"
				"title: \"Tom & Jerry's <Plan> \\\"2024\\\"\"\n"
				"partnership: Test Partnership\n"
				"updated: January 2024\n"
				"priorities:\n"
				"  - id: P1\n"
				"    title: First, priority\n"
				"    focus: \"Line one\\nLine two\"\n"
				"  - id: P2\n"
				"    title: Second | priority\n"
				"  - id: P10\n"
				"    title: Tenth\n";

/* The action text: quotes, a comma, a newline, a backslash. */
#define A1_ACTION "Say \"hi\", then\nleave \\ now"
#define A1_INFO "<script>alert('x')</script> & more"
#define U2_TEXT "Second \"quoted\"\nline, with\ttab"

static const char a1_yaml[] =
	"id: P1-A1\n"
	"priority: P1\n"
	"action: \"Say \\\"hi\\\", then\\nleave \\\\ now\"\n"
	"information: \"<script>alert('x')</script> & more\"\n"
	"status: in-progress\n"
	"timescale: Q1, 2024\n"
	"responsible:\n"
	"  - NYP\n"
	"  - CYC, Housing\n"
	"updates:\n"
	"  - id: u1\n"
	"    text: First update | with pipe\n"
	"    date: 2024-01-05\n"
	"  - id: u2\n"
	"    text: \"Second \\\"quoted\\\"\\nline, with\\ttab\"\n"
	"    timescale: Later\n"
	"    responsible:\n"
	"      - YDRF\n"
	"x-count: 3\n"
	"x-flag: true\n"
	"x-note: \"3\"\n";

static const char a2_yaml[] = "id: P1-A2\n"
			      "priority: P1\n"
			      "action: No updates yet\n"
			      "information: \"\"\n"
			      "status: planned\n"
			      "timescale: Ongoing\n"
			      "responsible: []\n"
			      "updates: []\n";

static const char b1_yaml[] = "id: P2-A1\n"
			      "priority: P2\n"
			      "action: Second priority's action\n"
			      "information: \"\"\n"
			      "status: done\n"
			      "timescale: N/A\n"
			      "responsible:\n"
			      "  - Working Group\n"
			      "updates:\n"
			      "  - id: u1a2b3c4d\n"
			      "    text: Done.\n";

static const char c1_yaml[] = "id: P10-A1\n"
			      "priority: P10\n"
			      "action: Tenth priority's action\n"
			      "information: \"\"\n"
			      "status: ongoing\n"
			      "timescale: Ongoing\n"
			      "responsible: []\n"
			      "updates: []\n";

struct fixture {
	char dir[64];
	struct plan *plan;
};

static void write_file(const char *dir, const char *rel, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
}

static void make_dir(const char *dir, const char *rel)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	assert_int_equal(mkdir(path, 0777), 0);
}

static void remove_tree(const char *dir)
{
	static const char *const files[] = {
		"actions/P1/P1-A1.yaml",
		"actions/P1/P1-A2.yaml",
		"actions/P2/P2-A1.yaml",
		"actions/P10/P10-A1.yaml",
		"plan.yaml",
		"actions/P1",
		"actions/P2",
		"actions/P10",
		"actions",
	};
	char path[256];
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		remove(path);
	}
	rmdir(dir);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_export.XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	write_file(fx->dir, "plan.yaml", plan_yaml);
	make_dir(fx->dir, "actions");
	make_dir(fx->dir, "actions/P1");
	make_dir(fx->dir, "actions/P2");
	make_dir(fx->dir, "actions/P10");
	write_file(fx->dir, "actions/P1/P1-A1.yaml", a1_yaml);
	write_file(fx->dir, "actions/P1/P1-A2.yaml", a2_yaml);
	write_file(fx->dir, "actions/P2/P2-A1.yaml", b1_yaml);
	write_file(fx->dir, "actions/P10/P10-A1.yaml", c1_yaml);
	if (plan_load_dir(&fx->plan, fx->dir) < 0) {
		fprintf(stderr, "fixture plan: %s\n", error_message());
		return -1;
	}
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	plan_free(fx->plan);
	remove_tree(fx->dir);
	free(fx);
	return 0;
}

static char *render(void **state, enum export_format format)
{
	struct fixture *fx = *state;
	char *out = NULL;
	size_t len = 0;

	assert_int_equal(export_plan(&out, &len, fx->plan, format), 0);
	assert_non_null(out);
	assert_int_equal(strlen(out), len);
	return out;
}

/* Position of needle in hay, failing the test if absent. */
static size_t pos(const char *hay, const char *needle)
{
	const char *p = strstr(hay, needle);

	if (!p)
		fail_msg("output lacks '%s'", needle);
	return (size_t)(p - hay);
}

static void test_export__format_names(void **state)
{
	enum export_format f;

	(void)state;
	assert_int_equal(export_format_parse(&f, "md"), 0);
	assert_int_equal(f, EXPORT_MD);
	assert_int_equal(export_format_parse(&f, "markdown"), 0);
	assert_int_equal(f, EXPORT_MD);
	assert_int_equal(export_format_parse(&f, "html"), 0);
	assert_int_equal(f, EXPORT_HTML);
	assert_int_equal(export_format_parse(&f, "csv"), 0);
	assert_int_equal(f, EXPORT_CSV);
	assert_int_equal(export_format_parse(&f, "json"), 0);
	assert_int_equal(f, EXPORT_JSON);
	assert_int_equal(export_format_parse(&f, "pdf"), ERROR_USAGE);
	assert_non_null(strstr(error_message(), "'pdf'"));
	assert_int_equal(export_format_parse(&f, "HTML"), ERROR_USAGE);
}

/* ---- Markdown ---- */

static void test_export__md_layout_and_escaping(void **state)
{
	char *md = render(state, EXPORT_MD);
	size_t p1, p2, p10;

	/* title, with Markdown's specials escaped, and the metadata */
	assert_int_equal(pos(md, "# Tom & Jerry's \\<Plan\\> \"2024\"\n"), 0);
	pos(md, "Test Partnership");
	pos(md, "Updated: January 2024");
	/* priorities in plan order, each with title and focus */
	p1 = pos(md, "\n## Priority 1\n");
	p2 = pos(md, "\n## Priority 2\n");
	p10 = pos(md, "\n## Priority 10\n");
	assert_true(p1 < p2 && p2 < p10);
	assert_true(pos(md, "**First, priority**") < p2);
	assert_true(pos(md, "Line one\n\nLine two") < p2);
	assert_true(pos(md, "**Second \\| priority**") > p2);
	/* the table: header, the first row carries the action's cells */
	pos(md, "| ID | Action | Information | Update | Time-scale | "
		"Responsible |\n");
	pos(md,
	    "| P1-A1 | Say \"hi\", then<br>leave \\\\ now<br>*Status: "
	    "in-progress* | \\<script\\>alert('x')\\</script\\> & more "
	    "| **2024-01-05:** First update \\| with pipe | Q1, 2024 | NYP, "
	    "CYC, Housing |\n");
	/* continuation row: only the update's own cells */
	pos(md, "|  |  |  | Second \"quoted\"<br>line, with\ttab | Later | "
		"YDRF |\n");
	/* an action without updates still gets its row */
	pos(md, "| P1-A2 | No updates yet<br>*Status: planned* |  |  | "
		"Ongoing |  |\n");
	assert_true(pos(md, "| P2-A1 |") > p2 && pos(md, "| P2-A1 |") < p10);
	assert_true(pos(md, "| P10-A1 |") > p10);
	/* no raw HTML from the plan's text */
	assert_null(strstr(md, "<script>"));
	free(md);
}

/* ---- HTML ---- */

static void test_export__html_escapes_text(void **state)
{
	char *html = render(state, EXPORT_HTML);

	assert_null(strstr(html, "<script"));
	assert_null(strstr(html, "<Plan>"));
	pos(html, "<title>Tom &amp; Jerry&#39;s &lt;Plan&gt; &quot;2024&quot;"
		  "</title>");
	pos(html, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; "
		  "more");
	pos(html, "Say &quot;hi&quot;, then\nleave \\ now");
	free(html);
}

static void test_export__html_self_contained_page(void **state)
{
	char *html = render(state, EXPORT_HTML);
	size_t p1, p2, p10;

	assert_int_equal(pos(html, "<!DOCTYPE html>\n"), 0);
	pos(html, "<meta charset=\"utf-8\">");
	pos(html, "<style>");
	pos(html, "@media print");
	pos(html, "@page");
	/* nothing fetched from elsewhere */
	assert_null(strstr(html, "http"));
	assert_null(strstr(html, "<link"));
	assert_null(strstr(html, "src="));
	assert_null(strstr(html, "url("));
	assert_null(strstr(html, "@import"));
	/* priorities in order, with their tables */
	p1 = pos(html, "<h2>Priority 1</h2>");
	p2 = pos(html, "<h2>Priority 2</h2>");
	p10 = pos(html, "<h2>Priority 10</h2>");
	assert_true(p1 < p2 && p2 < p10);
	pos(html, "<th>Action</th><th>Information</th><th>Update</th>"
		  "<th>Time-scale</th><th>Responsible</th>");
	/* two updates: the action's cells span both rows */
	pos(html, "<td class=\"id\" rowspan=\"2\">P1-A1</td>");
	pos(html, "<span class=\"date\">2024-01-05</span> First update | with "
		  "pipe</td><td>Q1, 2024</td><td>NYP\nCYC, Housing</td>");
	pos(html, "<td>Second &quot;quoted&quot;\nline, with\ttab</td>"
		  "<td>Later</td><td>YDRF</td>");
	assert_int_equal(
		strcmp(html + strlen(html) - strlen("</html>\n"), "</html>\n"),
		0);
	free(html);
}

/* ---- CSV ---- */

struct csv {
	char **fields; /* rows * cols, row-major */
	size_t rows, n, cap;
	size_t cols; /* fields of the first row */
	int ragged; /* a row with another count */
};

static void csv_add(struct csv *c, char *field)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		c->fields = realloc(c->fields, c->cap * sizeof(char *));
		assert_non_null(c->fields);
	}
	c->fields[c->n++] = field;
}

/* A strict RFC 4180 reader: CRLF records, quoted fields. */
static void csv_parse(struct csv *c, const char *s)
{
	size_t row_start = 0;

	memset(c, 0, sizeof(*c));
	while (*s) {
		char *f = calloc(1, strlen(s) + 1);
		size_t k = 0;

		assert_non_null(f);
		if (*s == '"') {
			for (s++;; s++) {
				assert_true(*s != '\0'); /* unterminated */
				if (*s == '"' && s[1] == '"')
					f[k++] = *s++;
				else if (*s == '"')
					break;
				else
					f[k++] = *s;
			}
			s++;
			assert_true(*s == ',' || *s == '\r');
		} else {
			while (*s && *s != ',' && *s != '\r') {
				/* unquoted fields hold no quote or LF */
				assert_true(*s != '"' && *s != '\n');
				f[k++] = *s++;
			}
		}
		csv_add(c, f);
		if (*s == ',') {
			s++;
			continue;
		}
		assert_true(s[0] == '\r' && s[1] == '\n');
		s += 2;
		if (c->rows == 0)
			c->cols = c->n;
		else if (c->n - row_start != c->cols)
			c->ragged = 1;
		row_start = c->n;
		c->rows++;
	}
	assert_int_equal(row_start, c->n); /* last record ended by CRLF */
}

static const char *csv_at(const struct csv *c, size_t row, size_t col)
{
	return c->fields[row * c->cols + col];
}

static void csv_free(struct csv *c)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		free(c->fields[i]);
	free(c->fields);
}

static void test_export__csv_rows_and_quoting(void **state)
{
	static const char *const header[] = {
		"priority",    "action_id",        "action",
		"information", "status",           "timescale",
		"responsible", "update_id",        "update_text",
		"update_date", "update_timescale", "update_responsible",
	};
	char *text = render(state, EXPORT_CSV);
	struct csv c;
	size_t i;

	csv_parse(&c, text);
	assert_int_equal(c.cols, 12);
	assert_false(c.ragged);
	/* header + P1-A1 (2 updates) + P1-A2 (none) + P2-A1 + P10-A1 */
	assert_int_equal(c.rows, 6);
	for (i = 0; i < 12; i++)
		assert_string_equal(csv_at(&c, 0, i), header[i]);
	/* values come back byte for byte */
	assert_string_equal(csv_at(&c, 1, 1), "P1-A1");
	assert_string_equal(csv_at(&c, 1, 2), A1_ACTION);
	assert_string_equal(csv_at(&c, 1, 3), A1_INFO);
	assert_string_equal(csv_at(&c, 1, 4), "in-progress");
	assert_string_equal(csv_at(&c, 1, 5), "Q1, 2024");
	assert_string_equal(csv_at(&c, 1, 6), "NYP; CYC, Housing");
	assert_string_equal(csv_at(&c, 1, 7), "u1");
	assert_string_equal(csv_at(&c, 1, 9), "2024-01-05");
	assert_string_equal(csv_at(&c, 1, 10), "");
	assert_string_equal(csv_at(&c, 2, 1), "P1-A1");
	assert_string_equal(csv_at(&c, 2, 7), "u2");
	assert_string_equal(csv_at(&c, 2, 8), U2_TEXT);
	assert_string_equal(csv_at(&c, 2, 10), "Later");
	assert_string_equal(csv_at(&c, 2, 11), "YDRF");
	/* an action without updates: one row, empty update columns */
	assert_string_equal(csv_at(&c, 3, 1), "P1-A2");
	for (i = 7; i < 12; i++)
		assert_string_equal(csv_at(&c, 3, i), "");
	assert_string_equal(csv_at(&c, 4, 0), "P2");
	assert_string_equal(csv_at(&c, 4, 7), "u1a2b3c4d");
	assert_string_equal(csv_at(&c, 5, 1), "P10-A1");
	/* quoting only where needed */
	pos(text, "\r\nP2,P2-A1,Second priority's action,,done,N/A,Working "
		  "Group,u1a2b3c4d,Done.,,,\r\n");
	pos(text, ",\"Say \"\"hi\"\", then\nleave \\ now\",");
	csv_free(&c);
	free(text);
}

/* ---- JSON ---- */

/* A minimal RFC 8259 reader: skips one value, decoding strings. */
static const char *json_ws(const char *s)
{
	while (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r')
		s++;
	return s;
}

static const char *json_str(const char *s, char *out, size_t size)
{
	size_t k = 0;

	assert_true(*s == '"');
	for (s++; *s != '"'; s++) {
		char c = *s;

		assert_true((unsigned char)c >= 0x20);
		if (c == '\\') {
			s++;
			switch (*s) {
			case 'n':
				c = '\n';
				break;
			case 't':
				c = '\t';
				break;
			case 'r':
				c = '\r';
				break;
			case '"':
			case '\\':
			case '/':
				c = *s;
				break;
			case 'u': {
				unsigned v = 0;
				int i;

				for (i = 1; i <= 4; i++) {
					char h = s[i];

					assert_non_null(
						strchr("0123456789abcdef", h));
					v = v * 16 +
					    (unsigned)(strchr("0123456789abcdef", h) - "0123456789abcdef");
				}
				assert_true(v < 0x80);
				c = (char)v;
				s += 4;
				break;
			}
			default:
				fail_msg("bad escape \\%c", *s);
			}
		}
		if (out && k + 1 < size)
			out[k++] = c;
	}
	if (out)
		out[k] = '\0';
	return s + 1;
}

static const char *json_value(const char *s)
{
	s = json_ws(s);
	if (*s == '"')
		return json_str(s, NULL, 0);
	if (*s == '{' || *s == '[') {
		char close = *s == '{' ? '}' : ']';

		s = json_ws(s + 1);
		if (*s == close)
			return s + 1;
		for (;;) {
			if (close == '}') {
				s = json_str(json_ws(s), NULL, 0);
				s = json_ws(s);
				assert_true(*s == ':');
				s++;
			}
			s = json_ws(json_value(s));
			if (*s == ',') {
				s++;
				continue;
			}
			assert_true(*s == close);
			return s + 1;
		}
	}
	if (strncmp(s, "true", 4) == 0 || strncmp(s, "null", 4) == 0)
		return s + 4;
	if (strncmp(s, "false", 5) == 0)
		return s + 5;
	assert_true(*s == '-' || (*s >= '0' && *s <= '9'));
	while (*s == '-' || *s == '+' || *s == '.' || *s == 'e' || *s == 'E' ||
	       (*s >= '0' && *s <= '9'))
		s++;
	return s;
}

static void assert_json(const char *text)
{
	assert_int_equal(*json_ws(json_value(text)), '\0');
}

/* The string after the first occurrence of "key": at or after from. */
static void
json_get(char *out, size_t size, const char *text, size_t from, const char *key)
{
	char pat[64];

	snprintf(pat, sizeof(pat), "\"%s\": ", key);
	json_str(text + from + pos(text + from, pat) + strlen(pat), out, size);
}

static void test_export__json_plan_and_escaping(void **state)
{
	char *json = render(state, EXPORT_JSON);
	char got[256];
	size_t a1;

	assert_json(json);
	assert_int_equal(
		pos(json, "{\n  \"plan\": {\n    \"schema\": "
			  "\"plansync/1\","),
		0);
	json_get(got, sizeof(got), json, 0, "title");
	assert_string_equal(got, "Tom & Jerry's <Plan> \"2024\"");
	json_get(got, sizeof(got), json, 0, "focus");
	assert_string_equal(got, "Line one\nLine two");
	a1 = pos(json, "\"actions\": [");
	assert_true(a1 > pos(json, "\"priorities\": ["));
	/* actions in ID order, P10 last */
	assert_true(
		pos(json, "\"id\": \"P1-A1\"") < pos(json, "\"id\": "
							   "\"P1-A2\""));
	assert_true(
		pos(json, "\"id\": \"P2-A1\"") < pos(json, "\"id\": "
							   "\"P10-A1\""));
	json_get(got, sizeof(got), json, a1, "action");
	assert_string_equal(got, A1_ACTION);
	json_get(got, sizeof(got), json, a1, "information");
	assert_string_equal(got, A1_INFO);
	pos(json, "\"action\": \"Say \\\"hi\\\", then\\nleave \\\\ now\"");
	pos(json, "\"text\": \"Second \\\"quoted\\\"\\nline, with\\ttab\"");
	/* schema fields stay strings, keys outside it are typed */
	pos(json, "\"date\": \"2024-01-05\"");
	pos(json, "\"x-count\": 3");
	pos(json, "\"x-flag\": true");
	pos(json, "\"x-note\": \"3\"");
	pos(json, "\"responsible\": [\n        \"NYP\",\n        \"CYC, "
		  "Housing\"\n      ]");
	pos(json, "\"updates\": []");
	free(json);
}

static void test_export__json_actions_and_node(void **state)
{
	struct fixture *fx = *state;
	const struct doc_node *acts[2];
	char *out = NULL;
	size_t len;

	acts[0] = plan_find_action(fx->plan, "P2-A1");
	acts[1] = plan_find_action(fx->plan, "P1-A1");
	assert_non_null(acts[0]);
	assert_non_null(acts[1]);
	assert_int_equal(export_json_actions(&out, &len, acts, 2), 0);
	assert_json(out);
	assert_true(pos(out, "\"P2-A1\"") < pos(out, "\"P1-A1\""));
	assert_int_equal(out[0], '[');
	free(out);
	assert_int_equal(export_json_actions(&out, &len, acts, 0), 0);
	assert_string_equal(out, "[]\n");
	free(out);
	assert_int_equal(export_json_node(&out, &len, acts[1]), 0);
	assert_json(out);
	assert_int_equal(
		pos(out, "{\n  \"id\": \"P1-A1\",\n  \"priority\": "
			 "\"P1\","),
		0);
	assert_int_equal(out[len - 1], '\n');
	free(out);
}

/* ---- the audit report (export --audit) and conflict notes ---- */

static const struct export_audit_item audit_items[] = {
	{ "P1-A1",
	  "u2",
	  { "Ann <Lee>", "O&R|x", "2024-02-03 10:22 +0000", "good",
	    "0123456789abcdef0123" } },
	{ "P2-A1",
	  "u1a2b3c4d",
	  { "Bob", NULL, "2024-02-04 11:00 +0000", "revoked", "fedcba98765" } },
};

static const struct export_audit_change audit_changes[] = {
	{ { "Ann <Lee>", "O&R|x", "2024-02-03 10:22 +0000", "good",
	    "0123456789abcdef0123" },
	  "P1-A1",
	  "updates/u2/text",
	  "old | *v*",
	  NULL },
	{ { NULL, "", "2024-01-01 00:00 +0000", NULL, NULL },
	  "P2-A1",
	  "status",
	  NULL,
	  "done" },
};

/* The fixture plan, P1-A1 carrying a conflict record, as a report. */
static char *
render_audit(enum export_format format, const struct export_audit *audit)
{
	static const char conflict[] = "conflicts:\n"
				       "  - field: timescale\n"
				       "    base: Ongoing\n"
				       "    kept: Q1, 2024\n"
				       "    kept_by: m@x.example\n"
				       "    other: \"Never <x>\"\n"
				       "    other_by: \"tom|cyc@example\"\n";
	char dir[64], *a1, *out = NULL;
	struct plan *plan = NULL;
	size_t len = 0;

	snprintf(dir, sizeof(dir), "/tmp/test_export.XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_non_null(a1 = malloc(sizeof(a1_yaml) + sizeof(conflict)));
	memcpy(a1, a1_yaml, sizeof(a1_yaml) - 1);
	memcpy(a1 + sizeof(a1_yaml) - 1, conflict, sizeof(conflict));
	write_file(dir, "plan.yaml", plan_yaml);
	make_dir(dir, "actions");
	make_dir(dir, "actions/P1");
	make_dir(dir, "actions/P2");
	make_dir(dir, "actions/P10");
	write_file(dir, "actions/P1/P1-A1.yaml", a1);
	write_file(dir, "actions/P1/P1-A2.yaml", a2_yaml);
	write_file(dir, "actions/P2/P2-A1.yaml", b1_yaml);
	write_file(dir, "actions/P10/P10-A1.yaml", c1_yaml);
	free(a1);
	assert_int_equal(plan_load_dir(&plan, dir), 0);
	assert_int_equal(
		audit ? export_plan_audit(&out, &len, plan, format, audit) :
			export_plan(&out, &len, plan, format),
		0);
	assert_int_equal(strlen(out), len);
	plan_free(plan);
	remove_tree(dir);
	return out;
}

static void test_export__md_audit_and_conflicts(void **state)
{
	struct export_audit audit = { "2024-01-01",  "2024-12-31",
				      audit_items,   2,
				      audit_changes, 2 };
	char *md = render_audit(EXPORT_MD, &audit);
	size_t p2;

	(void)state;
	/* who last changed an update, under its text; none for u1 */
	pos(md, "| **2024-01-05:** First update \\| with pipe | Q1, 2024 | "
		"NYP, CYC, Housing |\n");
	pos(md, "|  |  |  | Second \"quoted\"<br>line, with\ttab<br>*Last "
		"changed by Ann \\<Lee\\> (O\\&R\\|x), 2024-02-03 10:22 +0000, "
		"signature good, commit 0123456* | Later | YDRF |\n");
	pos(md, "| P2-A1 | Second priority's action<br>*Status: done* |  | "
		"Done.<br>*Last changed by Bob, 2024-02-04 11:00 +0000, "
		"signature revoked, commit fedcba9* | N/A | Working Group "
		"|\n");
	/* the conflict note closes its priority's section */
	p2 = pos(md, "\n## Priority 2\n");
	assert_true(
		pos(md, "| P1-A2 | No updates yet<br>*Status: planned* |  | "
			" | Ongoing |  |\n\nUnresolved merge conflicts:\n\n- "
			"P1-A1: timescale (kept m@x.example's value, other by "
			"tom\\|cyc@example)\n") < p2);
	/* the appendix, last */
	assert_true(
		pos(md,
		    "\n## Appendix: Changes from 2024-01-01 to "
		    "2024-12-31\n\n| Date | Field | Change | Who | "
		    "Signature | Commit |\n|------|-------|--------|-----|"
		    "-----------|--------|\n| 2024-02-03 10:22 +0000 | "
		    "P1-A1/updates/u2/text | old \\| \\*v\\* → (none) | Ann "
		    "\\<Lee\\> (O\\&R\\|x) | good | 0123456 |\n| "
		    "2024-01-01 00:00 +0000 | P2-A1/status | (none) → done "
		    "| (unknown) | unknown |  |\n") > pos(md, "| P10-A1 |"));
	assert_int_equal(md[strlen(md) - 1], '\n');
	assert_null(strstr(md, "<Lee>"));
	free(md);

	/* an empty period, each heading */
	audit.nchanges = 0;
	audit.until = NULL;
	md = render_audit(EXPORT_MD, &audit);
	pos(md, "\n## Appendix: Changes since 2024-01-01\n\nNo changes in "
		"this period.\n");
	free(md);
	audit.since = NULL;
	audit.until = "2024-12-31";
	md = render_audit(EXPORT_MD, &audit);
	pos(md, "\n## Appendix: Changes until 2024-12-31\n\n");
	free(md);
	audit.until = NULL;
	md = render_audit(EXPORT_MD, &audit);
	pos(md, "\n## Appendix: All changes\n\n");
	free(md);
	/* without --audit: the conflict note, no audit lines */
	md = render_audit(EXPORT_MD, NULL);
	pos(md, "\nUnresolved merge conflicts:\n\n- P1-A1: timescale");
	assert_null(strstr(md, "Last changed"));
	assert_null(strstr(md, "Appendix"));
	free(md);
}

static void test_export__html_audit_and_conflicts(void **state)
{
	struct export_audit audit = { "2024-01-01",  "2024-12-31",
				      audit_items,   2,
				      audit_changes, 2 };
	char *html = render_audit(EXPORT_HTML, &audit);
	char *out = NULL;
	size_t len;

	(void)state;
	pos(html, "<tr><td>Second &quot;quoted&quot;\nline, with\ttab<div "
		  "class=\"audit\">Last changed by <span class=\"who\">Ann "
		  "&lt;Lee&gt; (O&amp;R|x)</span>, <span class=\"when\">"
		  "2024-02-03 10:22 +0000</span>, signature <span "
		  "class=\"sig sig-good\">good</span>, commit <code>0123456"
		  "</code></div></td><td>Later</td><td>YDRF</td></tr>\n");
	pos(html, "<td>Done.<div class=\"audit\">Last changed by <span "
		  "class=\"who\">Bob</span>, <span class=\"when\">2024-02-04 "
		  "11:00 +0000</span>, signature <span class=\"sig "
		  "sig-revoked\">revoked</span>, commit <code>fedcba9</code>"
		  "</div></td>");
	pos(html, "</tbody>\n</table>\n<div class=\"conflicts\"><p>Unresolved "
		  "merge conflicts:</p>\n<ul>\n<li>P1-A1: timescale (kept "
		  "m@x.example's value, other by tom|cyc@example)</li>\n"
		  "</ul>\n</div>\n</section>\n<section class=\"priority\" "
		  "id=\"P2\">\n");
	pos(html, "<section class=\"appendix\" id=\"changes\">\n<h2>Appendix: "
		  "Changes from 2024-01-01 to 2024-12-31</h2>\n<table "
		  "class=\"changes\">\n<thead><tr><th>Date</th><th>Field</th>"
		  "<th>Change</th><th>Who</th><th>Signature</th><th>Commit"
		  "</th></tr></thead>\n<tbody>\n<tr><td class=\"when\">"
		  "2024-02-03 10:22 +0000</td><td class=\"field\">"
		  "P1-A1/updates/u2/text</td><td>old | *v* → (none)</td><td "
		  "class=\"who\">Ann &lt;Lee&gt; (O&amp;R|x)</td><td><span "
		  "class=\"sig sig-good\">good</span></td><td><code>0123456"
		  "</code></td></tr>\n<tr><td class=\"when\">2024-01-01 00:00 "
		  "+0000</td><td class=\"field\">P2-A1/status</td><td>(none) → "
		  "done</td><td class=\"who\">(unknown)</td><td><span "
		  "class=\"sig sig-unknown\">unknown</span></td><td><code>"
		  "</code></td></tr>\n</tbody>\n</table>\n</section>\n</body>\n"
		  "</html>\n");
	assert_null(strstr(html, "<Lee>"));
	free(html);

	audit.nchanges = 0;
	html = render_audit(EXPORT_HTML, &audit);
	pos(html, "<h2>Appendix: Changes from 2024-01-01 to 2024-12-31</h2>\n"
		  "<p>No changes in this period.</p>\n</section>\n</body>\n");
	free(html);
	/* csv and json have no audit form */
	assert_int_equal(
		export_plan_audit(&out, &len, NULL, EXPORT_CSV, &audit),
		ERROR_USAGE);
	assert_int_equal(
		export_plan_audit(&out, &len, NULL, EXPORT_JSON, &audit),
		ERROR_USAGE);
	assert_null(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_export__format_names),
		cmocka_unit_test(test_export__md_layout_and_escaping),
		cmocka_unit_test(test_export__html_escapes_text),
		cmocka_unit_test(test_export__html_self_contained_page),
		cmocka_unit_test(test_export__csv_rows_and_quoting),
		cmocka_unit_test(test_export__json_plan_and_escaping),
		cmocka_unit_test(test_export__json_actions_and_node),
		cmocka_unit_test(test_export__md_audit_and_conflicts),
		cmocka_unit_test(test_export__html_audit_and_conflicts),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
