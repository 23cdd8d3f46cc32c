#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/doc.h"
#include "core/error.h"

/* ---- helpers ------------------------------------------------------------ */

static struct doc_node *parse_ok(const char *text)
{
	struct doc_node *d = NULL;
	int rc = doc_parse(&d, text, strlen(text), "t.yaml");

	if (rc != 0)
		fail_msg(
			"parse failed: %s\n--- input:\n%s", error_message(),
			text);
	return d;
}

/* Parse must fail with ERROR_INVALID and a message starting with prefix
 * and containing rule. */
static void parse_bad_len(
	const char *text,
	size_t len,
	const char *prefix,
	const char *rule)
{
	struct doc_node *d = NULL;
	int rc;

	error_clear();
	rc = doc_parse(&d, text, len, "t.yaml");
	if (rc != ERROR_INVALID)
		fail_msg(
			"expected ERROR_INVALID, got %d (%s)", rc,
			error_message());
	assert_null(d);
	if (strncmp(error_message(), prefix, strlen(prefix)) ||
	    !strstr(error_message(), rule))
		fail_msg(
			"message '%s' lacks '%s' ... '%s'", error_message(),
			prefix, rule);
}

static void parse_bad(const char *text, const char *prefix, const char *rule)
{
	parse_bad_len(text, strlen(text), prefix, rule);
}

static char *emit_ok(const struct doc_node *d)
{
	char *out = NULL;
	size_t len = 0;

	if (doc_emit(&out, &len, d) != 0)
		fail_msg("emit failed: %s", error_message());
	assert_int_equal(strlen(out), len);
	return out;
}

/* Emitting text gives exactly expected. */
static void canon(const char *text, const char *expected)
{
	struct doc_node *d = parse_ok(text);
	char *out = emit_ok(d);

	if (strcmp(out, expected))
		fail_msg(
			"canonical form of\n%s\nis\n%s\nexpected\n%s", text,
			out, expected);
	free(out);
	doc_free(d);
}

/* ---- reader ------------------------------------------------------------ */

static void test_doc__parse_tree(void **state)
{
	struct doc_node *d;
	const struct doc_node *r, *u;

	(void)state;
	d = parse_ok("id: P2-A2\n"
		     "status: ongoing\n"
		     "responsible: [Generate, NYP]\n"
		     "updates:\n"
		     "  - id: u1\n"
		     "    text: \"Meetings held\"\n"
		     "    date: 2023-12-01\n"
		     "empty:\n"
		     "flag: yes\n"
		     "quoted: 'yes'\n");
	assert_int_equal(d->kind, DOC_MAP);
	assert_int_equal(d->n, 7);
	assert_string_equal(d->keys[0], "id");
	assert_string_equal(doc_str(doc_map_get(d, "id")), "P2-A2");
	assert_int_equal(doc_map_index(d, "status"), 1);
	assert_int_equal(doc_map_index(d, "nope"), -1);
	r = doc_map_get(d, "responsible");
	assert_int_equal(r->kind, DOC_SEQ);
	assert_int_equal(r->n, 2);
	assert_string_equal(doc_str(r->items[1]), "NYP");
	assert_int_equal(r->line, 3);
	assert_int_equal(r->col, 14);
	u = doc_map_get(d, "updates")->items[0];
	assert_int_equal(u->kind, DOC_MAP);
	assert_int_equal(u->line, 5);
	assert_int_equal(u->col, 5);
	assert_string_equal(doc_str(doc_map_get(u, "text")), "Meetings held");
	/* Dates and words are strings; plain null/bool stay flagged plain. */
	assert_int_equal(doc_map_get(u, "date")->plain, 0);
	assert_int_equal(doc_map_get(d, "status")->plain, 0);
	assert_int_equal(doc_map_get(d, "empty")->plain, 1);
	assert_int_equal(doc_map_get(d, "empty")->len, 0);
	assert_int_equal(doc_map_get(d, "flag")->plain, 1);
	assert_int_equal(doc_map_get(d, "quoted")->plain, 0);
	doc_free(d);
}

static void test_doc__parse_empty_is_null(void **state)
{
	struct doc_node *d;

	(void)state;
	d = parse_ok("");
	assert_int_equal(d->kind, DOC_SCALAR);
	assert_int_equal(d->plain, 1);
	assert_int_equal(d->len, 0);
	doc_free(d);
	d = parse_ok("# only a comment\n");
	assert_int_equal(d->kind, DOC_SCALAR);
	doc_free(d);
}

static void test_doc__refuse_alias(void **state)
{
	(void)state;
	parse_bad("a: &x [1, 2]\nb: *x\n", "t.yaml:1:4:", "anchors");
	parse_bad("a: *x\n", "t.yaml:1:4:", "aliases are not allowed");
	/* The classic bomb stops at the first anchor, before any growth. */
	parse_bad(
		"a: &a [\"lol\",\"lol\"]\nb: &b [*a,*a,*a,*a]\n"
		"c: &c [*b,*b,*b,*b]\n",
		"t.yaml:1:4:", "anchors are not allowed");
}

static void test_doc__refuse_anchor_on_map_and_key(void **state)
{
	(void)state;
	parse_bad("a: &m\n  b: 1\n", "t.yaml:", "anchors are not allowed");
	parse_bad("&k a: 1\n", "t.yaml:1:1:", "anchors are not allowed");
}

static void test_doc__refuse_tag(void **state)
{
	(void)state;
	parse_bad("a: !!str 12\n", "t.yaml:1:4:", "tags are not allowed");
	parse_bad(
		"a: !custom\n  b: 1\n", "t.yaml:1:4:", "tags are not allowed");
	parse_bad("a: !!seq [1]\n", "t.yaml:1:4:", "tags are not allowed");
	parse_bad(
		"%TAG ! tag:example.com,2000:\n---\na: 1\n",
		"t.yaml:", "tag directives");
}

static void test_doc__refuse_two_documents(void **state)
{
	(void)state;
	parse_bad("a: 1\n---\nb: 2\n", "t.yaml:2:1:", "more than one document");
	parse_bad("--- a\n--- b\n", "t.yaml:2:1:", "more than one document");
}

static void test_doc__refuse_deep_nesting(void **state)
{
	struct doc_node *d;

	(void)state;
	/* Six levels are fine, seven are not. */
	d = parse_ok("[[[[[[x]]]]]]\n");
	doc_free(d);
	parse_bad("[[[[[[[x]]]]]]]\n", "t.yaml:1:7:", "nesting deeper");
	parse_bad(
		"a:\n b:\n  c:\n   d:\n    e:\n     f:\n      g: 1\n",
		"t.yaml:7:7:", "nesting deeper");
}

static void test_doc__refuse_deep_nesting_huge(void **state)
{
	size_t n = 1000000, i;
	char *buf = malloc(2 * n + 1);

	(void)state;
	for (i = 0; i < n; i++) {
		buf[i] = '[';
		buf[n + i] = ']';
	}
	buf[2 * n] = '\0';
	parse_bad(buf, "t.yaml:1:7:", "nesting deeper");
	free(buf);
}

static void test_doc__refuse_big_scalar(void **state)
{
	size_t n = DOC_MAX_SCALAR + 1;
	char *buf = malloc(n + 8);
	struct doc_node *d = NULL;

	(void)state;
	memcpy(buf, "a: ", 3);
	memset(buf + 3, 'x', n);
	buf[3 + n] = '\n';
	buf[4 + n] = '\0';
	parse_bad(buf, "t.yaml:1:4:", "scalar longer than 1 MiB");
	/* Exactly the limit is accepted. */
	buf[3 + n - 1] = '\n';
	buf[3 + n] = '\0';
	assert_int_equal(doc_parse(&d, buf, strlen(buf), "t.yaml"), 0);
	assert_int_equal(doc_map_get(d, "a")->len, DOC_MAX_SCALAR);
	doc_free(d);
	free(buf);
}

static void test_doc__refuse_big_file(void **state)
{
	size_t n = DOC_MAX_FILE + 1;
	char *buf = malloc(n);

	(void)state;
	memset(buf, '#', n);
	parse_bad_len(buf, n, "t.yaml:1:1:", "over the limit");
	free(buf);
}

static void test_doc__refuse_bad_utf8(void **state)
{
	(void)state;
	parse_bad("a: ok\nb: caf\xc3\n", "t.yaml:2:7:", "invalid UTF-8");
	parse_bad(
		"a: \xc0\xaf\n", "t.yaml:1:4:", "invalid UTF-8"); /* overlong */
	parse_bad("a: \xed\xa0\x80\n", "t.yaml:1:4:", "invalid UTF-8");
	parse_bad("a: \xf4\x90\x80\x80\n", "t.yaml:1:4:", "invalid UTF-8");
	parse_bad("a: \xff\n", "t.yaml:1:4:", "invalid UTF-8");
	/* Columns count characters, not bytes. */
	parse_bad("a: \xc3\xa9\xc3\xa9\xff\n", "t.yaml:1:6:", "invalid UTF-8");
	/* An escape cannot smuggle a surrogate in either. */
	parse_bad("a: \"\\ud800\"\n", "t.yaml:1:", "");
}

static void test_doc__refuse_nul(void **state)
{
	(void)state;
	parse_bad_len("a: 1\nb: x\0y\n", 12, "t.yaml:2:5:", "NUL byte");
	parse_bad("a: \"x\\0y\"\n", "t.yaml:1:4:", "NUL byte in scalar");
	parse_bad("\"k\\0\": 1\n", "t.yaml:1:1:", "NUL byte in mapping key");
}

static void test_doc__refuse_control_char(void **state)
{
	(void)state;
	parse_bad("a: x\x01y\n", "t.yaml:1:5:", "control character");
}

static void test_doc__refuse_duplicate_key(void **state)
{
	char buf[4096];
	size_t len = 0;
	int i;

	(void)state;
	parse_bad("a: 1\nb: 2\na: 3\n", "t.yaml:3:1:", "duplicate key 'a'");
	parse_bad("a: 1\n'a': 2\n", "t.yaml:2:1:", "duplicate key 'a'");
	parse_bad(
		"x:\n  - {k: 1, k: 2}\n", "t.yaml:2:12:", "duplicate key 'k'");
	/* Big maps use the hash table: the duplicate is still found. */
	for (i = 0; i < 100; i++)
		len += (size_t)snprintf(
			buf + len, sizeof(buf) - len, "k%d: %d\n", i, i);
	snprintf(buf + len, sizeof(buf) - len, "k57: again\n");
	parse_bad(buf, "t.yaml:101:1:", "duplicate key 'k57'");
	/* The same key in two different maps is fine. */
	doc_free(parse_ok("a: {x: 1}\nb: {x: 1}\n"));
}

static void test_doc__refuse_nonscalar_key(void **state)
{
	(void)state;
	parse_bad(
		"? [a, b]\n: 1\n",
		"t.yaml:1:3:", "mapping key is not a scalar");
	parse_bad("{a: 1}: 2\n", "t.yaml:1:1:", "mapping key is not a scalar");
	parse_bad("? |\n  block\n: 1\n", "t.yaml:1:3:", "block scalar");
}

static void test_doc__refuse_long_key(void **state)
{
	char buf[512];

	(void)state;
	memset(buf, 'k', 129);
	memcpy(buf + 129, ": 1\n", 5);
	parse_bad(buf, "t.yaml:1:1:", "mapping key longer");
}

static void test_doc__refuse_syntax(void **state)
{
	(void)state;
	parse_bad("a: [1, 2\n", "t.yaml:2:1:", "did not find expected");
	parse_bad(
		"a: 1\n b: 2\n",
		"t.yaml:2:3:", "mapping values are not allowed");
	parse_bad("a: \"open\n", "t.yaml:", "unexpected end of stream");
}

/* ---- writer ------------------------------------------------------------ */

static void test_doc__emit_layout(void **state)
{
	(void)state;
	canon("id: P2-A2\n"
	      "responsible: [Generate, NYP, Community Safety]\n"
	      "none: []\n"
	      "nomap: {}\n"
	      "updates:\n"
	      "- {id: u1, text: Meetings held, responsible: [NYP]}\n"
	      "nested: {a: {b: [[x, y], {}]}}\n"
	      "nul: ~\n"
	      "blank:\n",
	      "id: P2-A2\n"
	      "responsible:\n"
	      "  - Generate\n"
	      "  - NYP\n"
	      "  - Community Safety\n"
	      "none: []\n"
	      "nomap: {}\n"
	      "updates:\n"
	      "  - id: u1\n"
	      "    text: Meetings held\n"
	      "    responsible:\n"
	      "      - NYP\n"
	      "nested:\n"
	      "  a:\n"
	      "    b:\n"
	      "      - - x\n"
	      "        - y\n"
	      "      - {}\n"
	      "nul: ~\n"
	      "blank:\n");
	canon("[]", "[]\n");
	canon("{}", "{}\n");
	canon("- a\n- b\n", "- a\n- b\n");
	canon("hello", "hello\n");
	canon("'yes'", "\"yes\"\n");
}

static void test_doc__emit_quoting(void **state)
{
	static const char *const cases[][2] = {
		{ "a: ''\n", "a: \"\"\n" },
		{ "a: ' lead'\n", "a: \" lead\"\n" },
		{ "a: 'trail '\n", "a: \"trail \"\n" },
		{ "a: '- item'\n", "a: \"- item\"\n" },
		{ "a: '#x'\n", "a: \"#x\"\n" },
		{ "a: 'x: y'\n", "a: \"x: y\"\n" },
		{ "a: 'x #y'\n", "a: \"x #y\"\n" },
		{ "a: 'C#'\n", "a: C#\n" },
		{ "a: 'x:'\n", "a: \"x:\"\n" },
		{ "a: 'x:y'\n", "a: x:y\n" },
		{ "a: 'true'\n", "a: \"true\"\n" },
		{ "a: 'on'\n", "a: \"on\"\n" },
		{ "a: 'No'\n", "a: \"No\"\n" },
		{ "a: '~'\n", "a: \"~\"\n" },
		{ "a: 'null'\n", "a: \"null\"\n" },
		{ "a: '123'\n", "a: \"123\"\n" },
		{ "a: '1.5'\n", "a: \"1.5\"\n" },
		{ "a: '0x1f'\n", "a: \"0x1f\"\n" },
		{ "a: '-1'\n", "a: \"-1\"\n" },
		{ "a: '.inf'\n", "a: \".inf\"\n" },
		{ "a: '<<'\n", "a: \"<<\"\n" },
		{ "a: '2023-12-01'\n", "a: 2023-12-01\n" },
		{ "a: 2023-12-01\n", "a: 2023-12-01\n" },
		{ "a: '1st'\n", "a: 1st\n" },
		{ "a: \"it's\"\n", "a: it's\n" },
		{ "a: '\"q\"'\n", "a: \"\\\"q\\\"\"\n" },
		{ "a: 'back\\slash'\n", "a: back\\slash\n" },
		{ "a: 'caf\xc3\xa9 \xe6\x97\xa5'\n",
		  "a: caf\xc3\xa9 \xe6\x97\xa5\n" },
		{ "a: \"tab\\there\"\n", "a: \"tab\\there\"\n" },
		{ "a: \"bell\\a\"\n", "a: \"bell\\x07\"\n" },
		{ "a: \"nel\\N\"\n", "a: \"nel\\x85\"\n" },
		{ "a: \"ls\\L\"\n", "a: \"ls\\L\"\n" },
		{ "a: '...'\n", "a: \"...\"\n" },
		{ "a: '---'\n", "a: \"---\"\n" },
		{ "a: '[x]'\n", "a: \"[x]\"\n" },
		{ "a: 'x, [y]'\n", "a: x, [y]\n" },
		{ "a: yes\n", "a: yes\n" },
		{ "a: 12\n", "a: 12\n" },
		{ "a: 1.5e3\n", "a: 1.5e3\n" },
		{ "'the key': 1\n", "the key: 1\n" },
		{ "'k: v': 1\n", "\"k: v\": 1\n" },
		{ "'true': 1\n", "\"true\": 1\n" },
		{ "'': 1\n", "\"\": 1\n" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		canon(cases[i][0], cases[i][1]);
}

static void test_doc__emit_block_scalars(void **state)
{
	(void)state;
	canon("a: \"one\\ntwo\"\n", "a: |-\n  one\n  two\n");
	canon("a: \"one\\ntwo\\n\"\n", "a: |\n  one\n  two\n");
	canon("a: \"one\\n\\n\"\n", "a: |+\n  one\n\n");
	canon("a: \"one\\n\\ntwo\"\n", "a: |-\n  one\n\n  two\n");
	canon("a: \"  indented\\nx\"\n", "a: |2-\n    indented\n  x\n");
	canon("a: \"\\n  x\"\n", "a: |2-\n\n    x\n");
	canon("- \"a\\nb\"\n", "- |-\n  a\n  b\n");
	canon("x:\n  - t: \"a\\nb\"\n", "x:\n  - t: |-\n      a\n      b\n");
	canon("\"a\\nb\\n\"", "|\n  a\n  b\n");
	/* Only line breaks, CR, or a special character: double-quoted. */
	canon("a: \"\\n\\n\"\n", "a: \"\\n\\n\"\n");
	canon("a: \"x\\r\\ny\"\n", "a: \"x\\r\\ny\"\n");
	canon("a: \"x\\ny\\x01\"\n", "a: \"x\\ny\\x01\"\n");
	/* Folded input becomes its string. */
	canon("a: >\n  one\n  two\n", "a: |\n  one two\n");
}

static void test_doc__emit_refuses_bad_trees(void **state)
{
	struct doc_node *m = doc_new_map(), *cur = m;
	char *out = NULL;
	size_t len, i;
	char key[200];

	(void)state;
	assert_int_equal(doc_map_set(m, "bad", doc_new_scalar("caf\xc3")), 0);
	assert_int_equal(doc_emit(&out, &len, m), ERROR_INVALID);
	doc_map_remove(m, "bad");
	memset(key, 'k', 150);
	key[150] = '\0';
	assert_int_equal(doc_map_set(m, key, doc_new_scalar("x")), 0);
	assert_int_equal(doc_emit(&out, &len, m), ERROR_INVALID);
	doc_map_remove(m, key);
	for (i = 0; i < 7; i++) {
		struct doc_node *c = doc_new_map();

		assert_int_equal(doc_map_set(cur, "k", c), 0);
		cur = c;
	}
	assert_int_equal(doc_emit(&out, &len, m), ERROR_INVALID);
	assert_null(out);
	doc_free(m);
}

/* ---- the round-trip property --------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state % n);
}

static size_t put_cp(char *p, uint32_t c)
{
	if (c < 0x80) {
		p[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		p[0] = (char)(0xC0 | (c >> 6));
		p[1] = (char)(0x80 | (c & 0x3F));
		return 2;
	}
	if (c < 0x10000) {
		p[0] = (char)(0xE0 | (c >> 12));
		p[1] = (char)(0x80 | ((c >> 6) & 0x3F));
		p[2] = (char)(0x80 | (c & 0x3F));
		return 3;
	}
	p[0] = (char)(0xF0 | (c >> 18));
	p[1] = (char)(0x80 | ((c >> 12) & 0x3F));
	p[2] = (char)(0x80 | ((c >> 6) & 0x3F));
	p[3] = (char)(0x80 | (c & 0x3F));
	return 4;
}

static const char *const fragments[] = { " ",
					 "  ",
					 "\n",
					 "\n\n",
					 "\t",
					 "'",
					 "\"",
					 ":",
					 ": ",
					 "#",
					 " #",
					 "- ",
					 "-",
					 "?",
					 "? ",
					 "|",
					 ">",
					 "---",
					 "...",
					 "\xc3\xa9",
					 "\xe6\x97\xa5\xe6\x9c\xac",
					 "\xf0\x9f\x98\x80",
					 "\\",
					 "\r",
					 "\r\n",
					 "\x01",
					 "\x7f",
					 "\xc2\x85",
					 "\xe2\x80\xa8",
					 "\xef\xbb\xbf",
					 "\xc2\xa0",
					 "yes",
					 "No",
					 "null",
					 "~",
					 "1",
					 "0x1f",
					 "1.5",
					 "-2",
					 ".inf",
					 "2023-12-01",
					 "a",
					 "abc",
					 "Hello world",
					 "[",
					 "]",
					 "{",
					 "}",
					 ",",
					 "&",
					 "*",
					 "!",
					 "%",
					 "@",
					 "`",
					 "<<",
					 "=",
					 "\x1b",
					 "\x0b",
					 "\x0c",
					 "\xef\xbf\xbe",
					 "P1-A1",
					 "u1" };

static size_t random_text(char *buf, size_t max)
{
	size_t len = 0, k, n = rnd(9);

	for (k = 0; k < n; k++) {
		int kind = (int)rnd(4);

		if (kind < 3) {
			const char *f = fragments[rnd(
				sizeof(fragments) / sizeof(fragments[0]))];
			size_t fl = strlen(f);

			if (len + fl >= max)
				break;
			memcpy(buf + len, f, fl);
			len += fl;
		} else {
			/* A random code point: any valid one but NUL. */
			uint32_t c;

			do {
				switch (rnd(4)) {
				case 0:
					c = 1 + rnd(0x7F);
					break;
				case 1:
					c = 0x80 + rnd(0x780);
					break;
				case 2:
					c = 0x800 + rnd(0xF800);
					break;
				default:
					c = 0x10000 + rnd(0x100000);
				}
			} while (c >= 0xD800 && c <= 0xDFFF);
			if (len + 4 >= max)
				break;
			len += put_cp(buf + len, c);
		}
	}
	buf[len] = '\0';
	return len;
}

static struct doc_node *random_tree(int depth)
{
	char buf[256];
	size_t len, i, n;
	int kind = depth >= DOC_MAX_DEPTH ? 0 : (int)rnd(depth == 0 ? 3 : 5);
	struct doc_node *node;

	if (kind >= 3)
		kind = 0;
	if (kind == 0) {
		len = random_text(buf, sizeof(buf));
		if (rnd(4) == 0) {
			node = doc_new_plain(buf);
		} else {
			node = doc_new_scalar_len(buf, len);
		}
		return node;
	}
	node = kind == 1 ? doc_new_seq() : doc_new_map();
	n = rnd(5);
	for (i = 0; i < n; i++) {
		struct doc_node *child = random_tree(depth + 1);

		if (kind == 1) {
			assert_int_equal(doc_seq_append(node, child), 0);
		} else {
			len = random_text(buf, 100);
			if (doc_map_index(node, buf) >= 0)
				doc_free(child);
			else
				assert_int_equal(
					doc_map_set(node, buf, child), 0);
		}
	}
	return node;
}

static void roundtrip(const struct doc_node *t)
{
	char *out = NULL, *again = NULL;
	size_t len, len2;
	struct doc_node *back = NULL;

	if (doc_emit(&out, &len, t) != 0)
		fail_msg("emit failed: %s", error_message());
	if (doc_parse(&back, out, len, "emitted") != 0)
		fail_msg(
			"emitted text does not parse: %s\n%s", error_message(),
			out);
	if (!doc_equal(t, back))
		fail_msg("emitted text reads back different:\n%s", out);
	if (doc_emit(&again, &len2, back) != 0)
		fail_msg("second emit failed: %s", error_message());
	if (len != len2 || memcmp(out, again, len))
		fail_msg("second emit differs:\n%s\n---\n%s", out, again);
	free(out);
	free(again);
	doc_free(back);
}

static void test_doc__roundtrip_random_strings(void **state)
{
	char buf[512];
	int i;

	(void)state;
	for (i = 0; i < 30000; i++) {
		struct doc_node *m = doc_new_map(), *s;
		size_t len = random_text(buf, sizeof(buf));

		s = i % 5 == 0 ? doc_new_plain(buf) :
				 doc_new_scalar_len(buf, len);
		assert_int_equal(doc_map_set(m, "text", s), 0);
		roundtrip(m);
		/* The same string as a key, inside a sequence, and at root. */
		if (len <= DOC_MAX_KEY) {
			struct doc_node *k = doc_new_map();

			assert_int_equal(
				doc_map_set(k, buf, doc_new_scalar("v")), 0);
			roundtrip(k);
			doc_free(k);
		}
		roundtrip(doc_map_get(m, "text"));
		doc_free(m);
	}
}

static void test_doc__roundtrip_random_trees(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < 5000; i++) {
		struct doc_node *t = random_tree(0);

		roundtrip(t);
		doc_free(t);
	}
}

/* ---- tree API --------------------------------------------------------- */

static void test_doc__tree_api(void **state)
{
	struct doc_node *m = doc_new_map(), *s = doc_new_seq(), *c;

	(void)state;
	assert_int_equal(doc_map_set(m, "b", doc_new_scalar("1")), 0);
	assert_int_equal(doc_map_insert(m, 0, "a", doc_new_scalar("0")), 0);
	assert_int_equal(doc_map_insert(m, 9, "c", doc_new_plain("true")), 0);
	assert_int_equal(
		doc_map_insert(m, 0, "a", doc_new_scalar("x")), ERROR_EXISTS);
	assert_string_equal(m->keys[0], "a");
	assert_string_equal(m->keys[2], "c");
	assert_int_equal(doc_map_get(m, "c")->plain, 1);
	c = doc_new_plain("words");
	assert_int_equal(c->plain, 0);
	doc_free(c);
	assert_int_equal(doc_map_set(m, "b", doc_new_scalar("2")), 0);
	assert_string_equal(doc_str(doc_map_get(m, "b")), "2");
	assert_int_equal(m->n, 3);
	assert_int_equal(doc_seq_append(s, doc_new_scalar("x")), 0);
	assert_int_equal(doc_seq_append(s, doc_new_scalar("y")), 0);
	assert_int_equal(doc_map_set(m, "list", s), 0);
	c = doc_clone(m);
	assert_true(doc_equal(m, c));
	doc_seq_remove(s, 0);
	assert_false(doc_equal(m, c));
	assert_string_equal(doc_str(s->items[0]), "y");
	assert_int_equal(doc_map_remove(c, "nope"), ERROR_NOTFOUND);
	assert_int_equal(doc_map_remove(c, "a"), 0);
	assert_string_equal(c->keys[0], "b");
	assert_null(doc_str(s));
	assert_null(doc_str(NULL));
	/* Plainness matters to equality. */
	{
		struct doc_node *p = doc_new_plain("12"),
				*q = doc_new_scalar("12");

		assert_false(doc_equal(p, q));
		doc_free(p);
		doc_free(q);
	}
	doc_free(m);
	doc_free(c);
}

/* The same edits on two trees. */
static void edit_tree(struct doc_node *d)
{
	struct doc_node *seq = doc_map_get(d, "list");
	char key[32];
	int i;

	assert_non_null(seq);
	/* Grow arrays that may have come from the arena. */
	for (i = 0; i < 20; i++) {
		snprintf(key, sizeof(key), "added%02d", i);
		assert_int_equal(doc_map_set(d, key, doc_new_scalar(key)), 0);
		assert_int_equal(doc_seq_append(seq, doc_new_scalar(key)), 0);
	}
	assert_int_equal(doc_map_set(d, "k03", doc_new_plain("true")), 0);
	assert_int_equal(
		doc_map_insert(d, 0, "first", doc_new_scalar("at 0")), 0);
	assert_int_equal(doc_map_remove(d, "k07"), 0);
	doc_seq_remove(seq, 1);
	doc_seq_remove(seq, 0);
}

/*
 * Trees parsed from an arena are trees like the others: equal to the
 * malloc'd parse, editable, cloned, freed in any order, also after the
 * arena is done and across its chunks.
 */
static void test_doc__arena(void **state)
{
	enum { DOCS = 4000 };
	static struct doc_node *docs[DOCS];
	struct doc_arena *a = doc_arena_new();
	struct doc_node *heap, *in, *clone, *bad = NULL;
	char *text = NULL, *big;
	size_t len = 0, cap = 0, i;
	char line[128];

	(void)state;
	assert_non_null(a);
	/* A document with a map bigger than the reader's small-map limit, an
	 * unknown key and nesting. */
	for (i = 0; i < 40; i++) {
		int n = snprintf(
			line, sizeof(line), "k%02zu: value %zu \"q\"\n", i, i);

		text = realloc(text, cap += (size_t)n + 1);
		memcpy(text + len, line, (size_t)n + 1);
		len += (size_t)n;
	}
	{
		const char *tail = "list:\n  - a\n  - b: [1, 2]\n    c: {}\n"
				   "  - |\n    two\n    lines\n";

		text = realloc(text, len + strlen(tail) + 1);
		memcpy(text + len, tail, strlen(tail) + 1);
		len += strlen(tail);
	}
	assert_int_equal(doc_parse(&heap, text, len, "t.yaml"), 0);
	assert_int_equal(doc_parse_arena(&in, text, len, "t.yaml", a), 0);
	assert_true(doc_equal(heap, in));
	{
		char *e1 = emit_ok(heap), *e2 = emit_ok(in);

		assert_string_equal(e1, e2);
		free(e1);
		free(e2);
	}
	edit_tree(heap);
	edit_tree(in);
	assert_true(doc_equal(heap, in));
	clone = doc_clone(in);
	assert_true(doc_equal(clone, heap));
	doc_free(clone);
	doc_free(heap);

	/* A refused document gives back what it took; the arena goes on. */
	assert_int_equal(
		doc_parse_arena(
			&bad, "a: [1, 2]\nb: x\na: 3\n", 19, "b.yaml", a),
		ERROR_INVALID);
	assert_null(bad);
	assert_non_null(strstr(error_message(), "duplicate key 'a'"));
	/* A scalar too large for the arena's chunks comes from malloc. */
	big = malloc(600001);
	assert_non_null(big);
	memcpy(big, "x: ", 3);
	memset(big + 3, 'y', 599997);
	big[600000] = '\0';
	assert_int_equal(doc_parse_arena(&docs[0], big, 600000, "big", a), 0);
	assert_int_equal(doc_map_get(docs[0], "x")->len, 599997);
	free(big);
	/* Several chunks' worth, freed out of order, half of them after
	 * the arena is done. */
	for (i = 1; i < DOCS; i++)
		assert_int_equal(
			doc_parse_arena(&docs[i], text, len, "t.yaml", a), 0);
	assert_true(doc_arena_chunks() > 2);
	for (i = 0; i < DOCS; i += 2)
		doc_free(docs[i]);
	doc_arena_done(a);
	assert_true(doc_equal(docs[DOCS - 1], docs[1]));
	for (i = DOCS / 2; i-- > 0;)
		doc_free(docs[2 * i + 1]);
	doc_free(in);
	free(text);
	/* Every chunk went back with its last node. */
	assert_int_equal(doc_arena_chunks(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_doc__parse_tree),
		cmocka_unit_test(test_doc__arena),
		cmocka_unit_test(test_doc__parse_empty_is_null),
		cmocka_unit_test(test_doc__refuse_alias),
		cmocka_unit_test(test_doc__refuse_anchor_on_map_and_key),
		cmocka_unit_test(test_doc__refuse_tag),
		cmocka_unit_test(test_doc__refuse_two_documents),
		cmocka_unit_test(test_doc__refuse_deep_nesting),
		cmocka_unit_test(test_doc__refuse_deep_nesting_huge),
		cmocka_unit_test(test_doc__refuse_big_scalar),
		cmocka_unit_test(test_doc__refuse_big_file),
		cmocka_unit_test(test_doc__refuse_bad_utf8),
		cmocka_unit_test(test_doc__refuse_nul),
		cmocka_unit_test(test_doc__refuse_control_char),
		cmocka_unit_test(test_doc__refuse_duplicate_key),
		cmocka_unit_test(test_doc__refuse_nonscalar_key),
		cmocka_unit_test(test_doc__refuse_long_key),
		cmocka_unit_test(test_doc__refuse_syntax),
		cmocka_unit_test(test_doc__emit_layout),
		cmocka_unit_test(test_doc__emit_quoting),
		cmocka_unit_test(test_doc__emit_block_scalars),
		cmocka_unit_test(test_doc__emit_refuses_bad_trees),
		cmocka_unit_test(test_doc__roundtrip_random_strings),
		cmocka_unit_test(test_doc__roundtrip_random_trees),
		cmocka_unit_test(test_doc__tree_api),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
