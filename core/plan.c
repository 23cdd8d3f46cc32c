#include "plan.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "error.h"
#include "fsutil.h"

#define MAX_ID_NUM 9999u

/* ---- IDs and paths ------------------------------------------------ */

/* A decimal 1..9999 without leading zeros at s; advances *s. */
static int parse_num(const char **s, unsigned *out)
{
	const char *p = *s;
	unsigned v = 0;
	int digits = 0;

	if (*p < '1' || *p > '9')
		return -1;
	while (*p >= '0' && *p <= '9') {
		v = v * 10 + (unsigned)(*p - '0');
		if (++digits > 4)
			return -1;
		p++;
	}
	*s = p;
	*out = v;
	return 0;
}

static int priority_num(const char *id, unsigned *p)
{
	const char *s = id;

	if (!id || *s++ != 'P' || parse_num(&s, p) < 0 || *s)
		return -1;
	return 0;
}

static int action_nums(const char *id, unsigned *p, unsigned *a)
{
	const char *s = id;

	if (!id || *s++ != 'P' || parse_num(&s, p) < 0)
		return -1;
	if (*s++ != '-' || *s++ != 'A' || parse_num(&s, a) < 0 || *s)
		return -1;
	return 0;
}

int plan_priority_id_valid(const char *id)
{
	unsigned p;

	return priority_num(id, &p) == 0;
}

int plan_action_id_valid(const char *id)
{
	unsigned p, a;

	return action_nums(id, &p, &a) == 0;
}

int plan_update_id_valid(const char *id)
{
	size_t n = 0;

	if (!id || *id++ != 'u')
		return 0;
	for (; *id; id++, n++)
		if (!((*id >= '0' && *id <= '9') || (*id >= 'a' && *id <= 'f')))
			return 0;
	return n >= 1 && n <= 32;
}

int plan_action_id_cmp(const char *a, const char *b)
{
	unsigned pa, aa, pb, ab;
	int va = action_nums(a, &pa, &aa) == 0;
	int vb = action_nums(b, &pb, &ab) == 0;

	if (va && vb) {
		if (pa != pb)
			return pa < pb ? -1 : 1;
		if (aa != ab)
			return aa < ab ? -1 : 1;
		return 0;
	}
	if (va != vb)
		return va ? -1 : 1; /* valid IDs first */
	return strcmp(a, b);
}

int plan_action_path(char *buf, size_t size, const char *id)
{
	unsigned p, a;
	int n;

	if (action_nums(id, &p, &a) < 0)
		return error_set(
			ERROR_INVALID, "'%s' is not an action ID (P<n>-A<m>)",
			id ? id : "");
	n = snprintf(buf, size, "actions/P%u/%s.yaml", p, id);
	if (n < 0 || (size_t)n >= size)
		return error_set(ERROR_GENERIC, "path of '%s' too long", id);
	return 0;
}

int plan_path_classify(
	enum plan_file_kind *out,
	char *id,
	size_t idsize,
	const char *path)
{
	const char *s, *slash, *dot;
	char prio[16], act[32];
	unsigned p, a, p2;
	size_t n;

	if (!strcmp(path, "plan.yaml")) {
		*out = PLAN_FILE_PLAN;
		return 0;
	}
	if (!strcmp(path, "partners.yaml")) {
		*out = PLAN_FILE_PARTNERS;
		return 0;
	}
	if (!strcmp(path, ".gitattributes")) {
		*out = PLAN_FILE_ATTRIBUTES;
		return 0;
	}
	if (strncmp(path, "actions/", 8))
		goto bad;
	s = path + 8;
	slash = strchr(s, '/');
	if (!slash || (size_t)(slash - s) >= sizeof(prio))
		goto bad;
	memcpy(prio, s, (size_t)(slash - s));
	prio[slash - s] = '\0';
	s = slash + 1;
	dot = strrchr(s, '.');
	if (!dot || strcmp(dot, ".yaml") || (size_t)(dot - s) >= sizeof(act))
		goto bad;
	n = (size_t)(dot - s);
	memcpy(act, s, n);
	act[n] = '\0';
	if (priority_num(prio, &p2) < 0 || action_nums(act, &p, &a) < 0 ||
	    p != p2)
		goto bad;
	if (id) {
		if (n >= idsize)
			return error_set(ERROR_GENERIC, "ID buffer too small");
		memcpy(id, act, n + 1);
	}
	*out = PLAN_FILE_ACTION;
	return 0;
bad:
	return error_set(
		ERROR_INVALID,
		"'%s' is outside the plan layout (plan.yaml, partners.yaml, "
		"actions/P<n>/P<n>-A<m>.yaml)",
		path);
}

/* ---- validation --------------------------------------------------------- */

enum ftype {
	F_TEXT, /* a string scalar: not null or a bool */
	F_LINE, /* text without line breaks, not empty */
	F_NONEMPTY, /* text, not empty */
	F_ACTION_ID,
	F_PRIORITY_ID,
	F_UPDATE_ID,
	F_STATUS,
	F_DATE,
	F_ORGS, /* list of organisations */
	F_UPDATES,
	F_CONFLICTS,
	F_PRIORITIES,
	F_PARTNERS,
	F_SCHEMA,
	F_EMAIL,
	F_ROLE,
	F_KEY,
	F_BOOL,
	F_COMMIT,
	F_ANY,
};

enum fdefault { D_NONE, D_TEXT, D_SEQ, D_FALSE };

struct field {
	const char *key;
	enum ftype type;
	unsigned char required;
	unsigned char def; /* enum fdefault, written when absent */
};

static const struct field action_fields[] = {
	{ "id", F_ACTION_ID, 1, D_NONE },
	{ "priority", F_PRIORITY_ID, 1, D_NONE },
	{ "action", F_NONEMPTY, 1, D_NONE },
	{ "information", F_TEXT, 0, D_TEXT },
	{ "status", F_STATUS, 1, D_NONE },
	{ "timescale", F_TEXT, 0, D_TEXT },
	{ "responsible", F_ORGS, 0, D_SEQ },
	{ "updates", F_UPDATES, 0, D_SEQ },
	{ "conflicts", F_CONFLICTS, 0, D_NONE },
	{ NULL, F_ANY, 0, D_NONE },
};

static const struct field update_fields[] = {
	{ "id", F_UPDATE_ID, 1, D_NONE },
	{ "text", F_TEXT, 1, D_NONE },
	{ "date", F_DATE, 0, D_NONE },
	{ "timescale", F_TEXT, 0, D_NONE },
	{ "responsible", F_ORGS, 0, D_NONE },
	{ NULL, F_ANY, 0, D_NONE },
};

static const struct field conflict_fields[] = {
	{ "field", F_LINE, 1, D_NONE },
	{ "base", F_ANY, 0, D_NONE },
	{ "kept", F_ANY, 0, D_NONE },
	{ "kept_by", F_TEXT, 0, D_NONE },
	{ "kept_commit", F_COMMIT, 0, D_NONE },
	{ "other", F_ANY, 0, D_NONE },
	{ "other_by", F_TEXT, 0, D_NONE },
	{ "other_commit", F_COMMIT, 0, D_NONE },
	{ NULL, F_ANY, 0, D_NONE },
};

static const struct field plan_fields[] = {
	{ "schema", F_SCHEMA, 1, D_NONE },
	{ "title", F_NONEMPTY, 1, D_NONE },
	{ "partnership", F_TEXT, 0, D_NONE },
	{ "updated", F_TEXT, 0, D_NONE },
	{ "priorities", F_PRIORITIES, 1, D_NONE },
	{ NULL, F_ANY, 0, D_NONE },
};

static const struct field priority_fields[] = {
	{ "id", F_PRIORITY_ID, 1, D_NONE },
	{ "title", F_NONEMPTY, 1, D_NONE },
	{ "focus", F_TEXT, 0, D_NONE },
	{ NULL, F_ANY, 0, D_NONE },
};

static const struct field partners_fields[] = {
	{ "partners", F_PARTNERS, 1, D_NONE },
	{ NULL, F_ANY, 0, D_NONE },
};

static const struct field partner_fields[] = {
	{ "email", F_EMAIL, 1, D_NONE },
	{ "name", F_NONEMPTY, 1, D_NONE },
	{ "organisation", F_NONEMPTY, 1, D_NONE },
	{ "role", F_ROLE, 1, D_NONE },
	{ "key", F_KEY, 1, D_NONE },
	{ "revoked", F_BOOL, 0, D_FALSE },
	{ NULL, F_ANY, 0, D_NONE },
};

static const char *const statuses[] = { "planned", "in-progress", "ongoing",
					"on-hold", "done",        NULL };

struct ctx {
	const char *name; /* file name for messages */
};

static int
bad(const struct ctx *c, const struct doc_node *n, const char *fmt, ...)
	ERROR_PRINTF(3, 4);

static int
bad(const struct ctx *c, const struct doc_node *n, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return error_set(
		ERROR_INVALID, "%s:%u:%u: %s", c->name, n ? n->line : 0,
		n ? n->col : 0, msg);
}

/* A short one-line rendering of a scalar for messages. */
static const char *shown(const struct doc_node *n, char *buf, size_t size)
{
	size_t i, j = 0;

	for (i = 0; i < n->len && j + 4 < size; i++) {
		unsigned char ch = (unsigned char)n->str[i];

		if (i >= 40 && (ch & 0xC0) != 0x80) {
			memcpy(buf + j, "...", 3);
			j += 3;
			break;
		}
		buf[j++] = ch < 0x20 || ch == 0x7F ? '?' : (char)ch;
	}
	buf[j] = '\0';
	return buf;
}

static const char *kind_name(const struct doc_node *n)
{
	if (n->kind == DOC_SEQ)
		return "a list";
	if (n->kind == DOC_MAP)
		return "a mapping";
	if (n->plain && doc_is_null_word(n->str, n->len))
		return "null";
	if (n->plain && doc_is_bool_word(n->str, n->len))
		return "a boolean";
	return "text";
}

static int is_text(const struct doc_node *n)
{
	return n->kind == DOC_SCALAR &&
	       !(n->plain && (doc_is_null_word(n->str, n->len) ||
			      doc_is_bool_word(n->str, n->len)));
}

/*
 * The first control character in valid UTF-8 text other than tab and
 * newline (C0, DEL, C1), or -1.  A YAML escape ("\e", "\x9b", "\r")
 * makes one the file's bytes do not show, and it would reach the terminal
 * of whoever shows, logs or blames the value.
 */
static long control_char(const char *str, size_t len)
{
	const uint64_t ones = 0x0101010101010101ULL;
	const uint64_t high = 0x8080808080808080ULL;
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	uint64_t x;

	while (i < len) {
		/* Printable ASCII 8 bytes at a time (no carries: bytes under
		 * 0x80 + 0x60 set bit 7 iff >= 0x20, + 0x01 iff 0x7F). */
		if (len - i >= 8) {
			memcpy(&x, s + i, 8);
			if (!(x & high) && ((x + 0x60 * ones) & high) == high &&
			    !((x + ones) & high)) {
				i += 8;
				continue;
			}
		}
		if ((s[i] < 0x20 && s[i] != '\t' && s[i] != '\n') ||
		    s[i] == 0x7F)
			return s[i];
		if (s[i] == 0xC2 && i + 1 < len && s[i + 1] >= 0x80 &&
		    s[i + 1] <= 0x9F)
			return s[i + 1];
		i++;
	}
	return -1;
}

static int
want_text(const struct ctx *c, const struct doc_node *n, const char *key)
{
	long cc;

	if (is_text(n)) {
		if ((cc = control_char(n->str, n->len)) >= 0)
			return bad(
				c, n,
				"'%s' holds a control character (U+%04X); only "
				"tab and newline are allowed",
				key, (unsigned)cc);
		return 0;
	}
	if (n->kind == DOC_SCALAR && n->len == 0)
		return bad(
			c, n, "'%s' is empty (null); write \"\" for no text",
			key);
	if (n->kind == DOC_SCALAR)
		return bad(
			c, n, "'%s' must be text, not %s '%s' (quote it)", key,
			kind_name(n), n->str);
	return bad(c, n, "'%s' must be text, not %s", key, kind_name(n));
}

static int date_valid(const char *s, size_t len)
{
	static const unsigned char mdays[] = { 31, 29, 31, 30, 31, 30,
					       31, 31, 30, 31, 30, 31 };
	unsigned y, m, d;

	if (!doc_is_date(s, len))
		return 0;
	y = (unsigned)((s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0'));
	m = (unsigned)((s[5] - '0') * 10 + (s[6] - '0'));
	d = (unsigned)((s[8] - '0') * 10 + (s[9] - '0'));
	if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return 0;
	if (m == 2 && d == 29 &&
	    !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 0;
	return 1;
}

static int commit_valid(const char *s, size_t len)
{
	size_t i;

	if (len != 40 && len != 64)
		return 0;
	for (i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static int email_valid(const char *s, size_t len)
{
	const char *at = memchr(s, '@', len);
	size_t i;

	if (!at || at == s || at == s + len - 1 || len > 254)
		return 0;
	if (memchr(at + 1, '@', len - (size_t)(at - s) - 1))
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch <= 0x20 || ch == 0x7F || ch == ',' || ch == '<' ||
		    ch == '>' || ch == '"' || ch == '\\')
			return 0;
	}
	return 1;
}

int plan_key_line_valid(const char *line, unsigned char pk[32])
{
	static const unsigned char prefix[] = { 0,   0,   0,   11,  's',
						's', 'h', '-', 'e', 'd',
						'2', '5', '5', '1', '9',
						0,   0,   0,   32 };
	const char *b64, *end;
	unsigned char blob[64];
	size_t blen = 0, n;
	const char *parse_end = NULL;

	if (strncmp(line, "ssh-ed25519 ", 12))
		return 0;
	b64 = line + 12;
	while (*b64 == ' ')
		b64++;
	end = b64;
	while (*end && *end != ' ')
		end++;
	n = (size_t)(end - b64);
	if (n == 0 || n > 100)
		return 0;
	if (sodium_base642bin(
		    blob, sizeof(blob), b64, n, NULL, &blen, &parse_end,
		    sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    parse_end != end || blen != 51 ||
	    memcmp(blob, prefix, sizeof(prefix)))
		return 0;
	if (strchr(end, '\n') || strchr(end, '\r'))
		return 0;
	if (pk)
		memcpy(pk, blob + 19, 32);
	return 1;
}

/* Schema rank of key: its index in fields, or the number of fields. */
static size_t rank(const struct field *fields, const char *key)
{
	size_t i;

	for (i = 0; fields[i].key; i++)
		if (!strcmp(fields[i].key, key))
			return i;
	return i;
}

struct order_item {
	size_t rank;
	const char *key;
	size_t index;
};

static int order_cmp(const void *pa, const void *pb)
{
	const struct order_item *a = pa, *b = pb;

	if (a->rank != b->rank)
		return a->rank < b->rank ? -1 : 1;
	return strcmp(a->key, b->key);
}

/* Put map's keys in canonical order: schema keys in schema order, then the
 * others in byte order. */
static int reorder(struct doc_node *map, const struct field *fields)
{
	struct order_item *items = NULL;
	char **keys = NULL;
	struct doc_node **values = NULL;
	size_t i, prev = 0, r;
	int sorted = 1, error = 0;

	for (i = 0; i < map->n && sorted; i++) {
		r = rank(fields, map->keys[i]);
		if (i > 0 &&
		    (r < prev ||
		     (r == prev && strcmp(map->keys[i - 1], map->keys[i]) > 0)))
			sorted = 0;
		prev = r;
	}
	if (sorted)
		return 0;
	items = malloc(map->n * sizeof(*items));
	keys = malloc(map->n * sizeof(*keys));
	values = malloc(map->n * sizeof(*values));
	if (!items || !keys || !values) {
		error = error_nomem();
		goto done;
	}
	for (i = 0; i < map->n; i++) {
		items[i].rank = rank(fields, map->keys[i]);
		items[i].key = map->keys[i];
		items[i].index = i;
	}
	qsort(items, map->n, sizeof(*items), order_cmp);
	for (i = 0; i < map->n; i++) {
		keys[i] = map->keys[items[i].index];
		values[i] = map->items[items[i].index];
	}
	/* In place: the arrays may belong to the document's arena. */
	memcpy(map->keys, keys, map->n * sizeof(*keys));
	memcpy(map->items, values, map->n * sizeof(*values));
done:
	free(items);
	free(keys);
	free(values);
	return error;
}

static int check_value(
	const struct ctx *c,
	struct doc_node *v,
	const char *key,
	enum ftype type);

/* Check a mapping against a field table, fill defaults, reorder. */
static int check_map(
	const struct ctx *c,
	struct doc_node *map,
	const struct field *fields,
	const char *what)
{
	size_t f;
	int error;

	if (map->kind != DOC_MAP)
		return bad(
			c, map, "%s must be a mapping, not %s", what,
			kind_name(map));
	for (f = 0; fields[f].key; f++) {
		long i = doc_map_index(map, fields[f].key);
		struct doc_node *def = NULL;

		if (i >= 0) {
			error = check_value(
				c, map->items[i], fields[f].key,
				fields[f].type);
			if (error < 0)
				return error;
			continue;
		}
		if (fields[f].required)
			return bad(
				c, map, "%s lacks '%s'", what, fields[f].key);
		if (fields[f].def == D_TEXT)
			def = doc_new_scalar("");
		else if (fields[f].def == D_SEQ)
			def = doc_new_seq();
		else if (fields[f].def == D_FALSE)
			def = doc_new_plain("false");
		else
			continue;
		if ((error = doc_map_set(map, fields[f].key, def)) < 0)
			return error;
	}
	return reorder(map, fields);
}

static int str_ptr_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

struct dup_item {
	const void *key;
	size_t index;
};

static int item_order(const struct dup_item *a, const struct dup_item *b)
{
	return a->index < b->index ? -1 : a->index > b->index;
}

static int dup_cmp(const void *pa, const void *pb)
{
	int c =
		strcmp(((const struct dup_item *)pa)->key,
		       ((const struct dup_item *)pb)->key);

	return c ? c : item_order(pa, pb);
}

static int dup_cmp_fold(const void *pa, const void *pb)
{
	int c = strcasecmp(
		((const struct dup_item *)pa)->key,
		((const struct dup_item *)pb)->key);

	return c ? c : item_order(pa, pb);
}

static int pk_cmp(const void *pa, const void *pb)
{
	const struct dup_item *a = pa, *b = pb;
	int c = memcmp(a->key, b->key, 32);

	if (c)
		return c;
	return a->index < b->index ? -1 : a->index > b->index;
}

/*
 * The first repeat among n keys (strings, or 32-byte keys if pk): the
 * smallest index whose key an earlier item has, with that earlier index in
 * *first.  -1 if none, -2 out of memory.  O(n log n): lists come from
 * files up to 16 MiB.
 */
static long
find_repeat(size_t *first, const void *const *keys, size_t n, int mode)
{
	struct dup_item *v;
	size_t i;
	long found = -1;

	v = malloc(n * sizeof(*v));
	if (!v)
		return -2;
	for (i = 0; i < n; i++) {
		v[i].key = keys[i];
		v[i].index = i;
	}
	qsort(v, n, sizeof(*v),
	      mode == 2 ? pk_cmp :
	      mode == 1 ? dup_cmp_fold :
			  dup_cmp);
	for (i = 1; i < n; i++) {
		int same = mode == 2 ? !memcmp(v[i - 1].key, v[i].key, 32) :
			   mode == 1 ? !strcasecmp(v[i - 1].key, v[i].key) :
				       !strcmp(v[i - 1].key, v[i].key);
		size_t j = i;

		if (!same)
			continue;
		/* v[i - 1] is the first of this run: items sort by index. */
		while (j > 0 &&
		       (mode == 2 ? !memcmp(v[j - 1].key, v[i].key, 32) :
			mode == 1 ? !strcasecmp(v[j - 1].key, v[i].key) :
				    !strcmp(v[j - 1].key, v[i].key)))
			j--;
		if (found < 0 || v[i].index < (size_t)found) {
			found = (long)v[i].index;
			*first = v[j].index;
		}
	}
	free(v);
	return found;
}

static int check_list_unique(
	const struct ctx *c,
	struct doc_node *seq,
	const char *key,
	const char *sub,
	int fold_case,
	const char *what)
{
	const struct doc_node **nodes = NULL;
	const char **strs = NULL;
	size_t i, first = 0;
	long d;
	int error = 0;
	char buf[64];

	if (seq->n < 2)
		return 0;
	nodes = malloc(seq->n * sizeof(*nodes));
	strs = malloc(seq->n * sizeof(*strs));
	if (!nodes || !strs) {
		error = error_nomem();
		goto done;
	}
	for (i = 0; i < seq->n; i++) {
		nodes[i] =
			sub ? doc_map_get(seq->items[i], sub) : seq->items[i];
		strs[i] = nodes[i]->str;
	}
	d = find_repeat(
		&first, (const void *const *)strs, seq->n, fold_case ? 1 : 0);
	if (d == -2)
		error = error_nomem();
	else if (d >= 0)
		error =
			bad(c, nodes[d], "'%s' lists %s '%s' twice", key, what,
			    shown(nodes[d], buf, sizeof(buf)));
done:
	free(nodes);
	free(strs);
	return error;
}

static int check_orgs(const struct ctx *c, struct doc_node *v, const char *key)
{
	size_t i;
	int error;
	char buf[64];

	if (v->kind != DOC_SEQ)
		return bad(
			c, v, "'%s' must be a list of organisations, not %s",
			key, kind_name(v));
	for (i = 0; i < v->n; i++) {
		struct doc_node *o = v->items[i];

		if ((error = want_text(c, o, key)) < 0)
			return error;
		if (o->len == 0 || memchr(o->str, '\n', o->len) ||
		    o->str[0] == ' ' || o->str[o->len - 1] == ' ')
			return bad(
				c, o,
				"'%s' has a bad organisation name '%s' (one "
				"line, not empty, no surrounding spaces)",
				key, shown(o, buf, sizeof(buf)));
	}
	return check_list_unique(c, v, key, NULL, 0, "organisation");
}

static int check_items(
	const struct ctx *c,
	struct doc_node *v,
	const char *key,
	const struct field *fields,
	const char *what)
{
	size_t i;
	int error;

	if (v->kind != DOC_SEQ)
		return bad(
			c, v, "'%s' must be a list, not %s", key, kind_name(v));
	for (i = 0; i < v->n; i++)
		if ((error = check_map(c, v->items[i], fields, what)) < 0)
			return error;
	return 0;
}

static int check_partner_keys(const struct ctx *c, struct doc_node *v)
{
	size_t i, first = 0;
	unsigned char(*pks)[32] = NULL;
	const void **keys = NULL;
	long d;
	int error = 0;

	if (v->n < 2)
		return 0;
	pks = malloc(v->n * sizeof(*pks));
	keys = malloc(v->n * sizeof(*keys));
	if (!pks || !keys) {
		error = error_nomem();
		goto done;
	}
	for (i = 0; i < v->n; i++) {
		plan_key_line_valid(
			doc_str(doc_map_get(v->items[i], "key")), pks[i]);
		keys[i] = pks[i];
	}
	d = find_repeat(&first, keys, v->n, 2);
	if (d == -2)
		error = error_nomem();
	else if (d >= 0)
		error = bad(
			c, doc_map_get(v->items[d], "key"),
			"'key' is the same key as partner %zu's", first + 1);
done:
	free(pks);
	free(keys);
	return error;
}

static int check_value(
	const struct ctx *c,
	struct doc_node *v,
	const char *key,
	enum ftype type)
{
	char buf[64];
	size_t i;
	int error;

	switch (type) {
	case F_ANY:
		return 0;
	case F_TEXT:
		return want_text(c, v, key);
	case F_LINE:
	case F_NONEMPTY:
		if ((error = want_text(c, v, key)) < 0)
			return error;
		if (v->len == 0)
			return bad(c, v, "'%s' must not be empty", key);
		if (type == F_LINE && memchr(v->str, '\n', v->len))
			return bad(c, v, "'%s' must be one line", key);
		return 0;
	case F_ACTION_ID:
	case F_PRIORITY_ID:
	case F_UPDATE_ID:
		if ((error = want_text(c, v, key)) < 0)
			return error;
		if (type == F_ACTION_ID && !plan_action_id_valid(v->str))
			return bad(
				c, v,
				"'%s' must be an action ID like P1-A3, not '%s'",
				key, shown(v, buf, sizeof(buf)));
		if (type == F_PRIORITY_ID && !plan_priority_id_valid(v->str))
			return bad(
				c, v,
				"'%s' must be a priority ID like P1, not '%s'",
				key, shown(v, buf, sizeof(buf)));
		if (type == F_UPDATE_ID && !plan_update_id_valid(v->str))
			return bad(
				c, v,
				"'%s' must be an update id u<hex> (1 to 32 "
				"lowercase hex digits), not '%s'",
				key, shown(v, buf, sizeof(buf)));
		return 0;
	case F_STATUS:
		if ((error = want_text(c, v, key)) < 0)
			return error;
		for (i = 0; statuses[i]; i++)
			if (!strcmp(v->str, statuses[i]))
				return 0;
		return bad(
			c, v,
			"'%s' must be planned, in-progress, ongoing, on-hold or "
			"done, not '%s'",
			key, shown(v, buf, sizeof(buf)));
	case F_DATE:
		if ((error = want_text(c, v, key)) < 0)
			return error;
		if (!date_valid(v->str, v->len))
			return bad(
				c, v,
				"'%s' must be a date YYYY-MM-DD, not '%s'", key,
				shown(v, buf, sizeof(buf)));
		return 0;
	case F_COMMIT:
		if ((error = want_text(c, v, key)) < 0)
			return error;
		if (!commit_valid(v->str, v->len))
			return bad(
				c, v,
				"'%s' must be a commit id (40 or 64 lowercase "
				"hex digits), not '%s'",
				key, shown(v, buf, sizeof(buf)));
		return 0;
	case F_SCHEMA:
		if ((error = want_text(c, v, key)) < 0)
			return error;
		if (strcmp(v->str, PLAN_SCHEMA))
			return bad(
				c, v, "'schema' must be %s, not '%s'",
				PLAN_SCHEMA, shown(v, buf, sizeof(buf)));
		return 0;
	case F_EMAIL:
		if ((error = want_text(c, v, key)) < 0)
			return error;
		if (!email_valid(v->str, v->len))
			return bad(
				c, v, "'%s' is not an email address: '%s'", key,
				shown(v, buf, sizeof(buf)));
		return 0;
	case F_ROLE:
		if ((error = want_text(c, v, key)) < 0)
			return error;
		if (strcmp(v->str, "coordinator") && strcmp(v->str, "editor"))
			return bad(
				c, v,
				"'%s' must be coordinator or editor, not '%s'",
				key, shown(v, buf, sizeof(buf)));
		return 0;
	case F_KEY:
		if ((error = want_text(c, v, key)) < 0)
			return error;
		if (!plan_key_line_valid(v->str, NULL))
			return bad(
				c, v,
				"'%s' must be an OpenSSH public key line "
				"\"ssh-ed25519 AAAA... comment\"",
				key);
		return 0;
	case F_BOOL:
		if (v->kind != DOC_SCALAR || !v->plain ||
		    (strcmp(v->str, "true") && strcmp(v->str, "false")))
			return bad(c, v, "'%s' must be true or false", key);
		return 0;
	case F_ORGS:
		return check_orgs(c, v, key);
	case F_UPDATES:
		if ((error = check_items(
			     c, v, key, update_fields, "an update")) < 0)
			return error;
		return check_list_unique(c, v, key, "id", 0, "update id");
	case F_CONFLICTS:
		return check_items(
			c, v, key, conflict_fields, "a conflict record");
	case F_PRIORITIES:
		if ((error = check_items(
			     c, v, key, priority_fields, "a priority")) < 0)
			return error;
		return check_list_unique(c, v, key, "id", 0, "priority");
	case F_PARTNERS:
		if ((error = check_items(
			     c, v, key, partner_fields, "a partner")) < 0)
			return error;
		if ((error = check_list_unique(
			     c, v, key, "email", 1, "email")) < 0)
			return error;
		return check_partner_keys(c, v);
	}
	return 0;
}

static int
check_action(const struct ctx *c, struct doc_node *doc, const char *expect_id)
{
	const struct doc_node *id, *prio;
	long i;
	int error;
	char want[16];
	unsigned p, a;

	if ((error = check_map(c, doc, action_fields, "an action")) < 0)
		return error;
	id = doc_map_get(doc, "id");
	prio = doc_map_get(doc, "priority");
	action_nums(id->str, &p, &a);
	snprintf(want, sizeof(want), "P%u", p);
	if (strcmp(prio->str, want))
		return bad(
			c, prio,
			"'priority' is %s but the action ID %s is in %s",
			prio->str, id->str, want);
	if (expect_id && strcmp(id->str, expect_id))
		return bad(
			c, id, "'id' is %s but the file is named for %s",
			id->str, expect_id);
	/* Conflicts are written only when there are some. */
	i = doc_map_index(doc, "conflicts");
	if (i >= 0 && doc->items[i]->n == 0)
		doc_map_remove(doc, "conflicts");
	return 0;
}

static int check_file(
	struct doc_node *doc,
	enum plan_file_kind kind,
	const char *path,
	const char *name)
{
	struct ctx c;
	enum plan_file_kind k;
	char id[32];
	const char *expect = NULL;

	c.name = name;
	switch (kind) {
	case PLAN_FILE_PLAN:
		return check_map(&c, doc, plan_fields, "plan.yaml");
	case PLAN_FILE_PARTNERS:
		return check_map(&c, doc, partners_fields, "partners.yaml");
	case PLAN_FILE_ACTION:
		if (path && plan_path_classify(&k, id, sizeof(id), path) == 0 &&
		    k == PLAN_FILE_ACTION)
			expect = id;
		return check_action(&c, doc, expect);
	default:
		return error_set(
			ERROR_INVALID, "%s: not a YAML file of the plan", name);
	}
}

int plan_check(struct doc_node *doc, enum plan_file_kind kind, const char *path)
{
	return check_file(doc, kind, path, path);
}

static int parse_named(
	struct doc_node **out,
	enum plan_file_kind kind,
	const char *path,
	const char *name,
	const char *buf,
	size_t len,
	struct doc_arena *arena)
{
	struct doc_node *doc = NULL;
	int error;

	if ((error = doc_parse_arena(&doc, buf, len, name, arena)) < 0)
		goto done;
	if ((error = check_file(doc, kind, path, name)) < 0)
		goto done;
	*out = doc;
	doc = NULL;
done:
	doc_free(doc);
	return error;
}

int plan_parse(
	struct doc_node **out,
	enum plan_file_kind kind,
	const char *path,
	const char *buf,
	size_t len)
{
	return parse_named(out, kind, path, path, buf, len, NULL);
}

/* ---- the whole plan ------------------------------------------------------ */

struct plan {
	struct doc_node *meta;
	struct doc_node *partners;
	struct doc_node **actions; /* sorted by ID */
	size_t n, cap;
};

/* The ID of a checked action (first key). */
static const char *action_id(const struct doc_node *a)
{
	if (a->n > 0 && !strcmp(a->keys[0], "id"))
		return a->items[0]->str;
	return doc_str(doc_map_get(a, "id"));
}

int plan_new(struct plan **out, struct doc_node *meta)
{
	struct plan *p = calloc(1, sizeof(*p));

	if (!p) {
		doc_free(meta);
		return error_nomem();
	}
	p->meta = meta;
	*out = p;
	return 0;
}

void plan_free(struct plan *plan)
{
	size_t i;

	if (!plan)
		return;
	for (i = 0; i < plan->n; i++)
		doc_free(plan->actions[i]);
	free(plan->actions);
	doc_free(plan->meta);
	doc_free(plan->partners);
	free(plan);
}

struct doc_node *plan_meta(const struct plan *plan)
{
	return plan->meta;
}

struct doc_node *plan_partners(const struct plan *plan)
{
	return plan->partners;
}

size_t plan_action_count(const struct plan *plan)
{
	return plan->n;
}

struct doc_node *plan_action_at(const struct plan *plan, size_t i)
{
	return i < plan->n ? plan->actions[i] : NULL;
}

/* Index of id, or where it would go (*found 0). */
static size_t action_search(const struct plan *plan, const char *id, int *found)
{
	size_t lo = 0, hi = plan->n;

	*found = 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = plan_action_id_cmp(action_id(plan->actions[mid]), id);

		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct doc_node *plan_find_action(const struct plan *plan, const char *id)
{
	int found;
	size_t i = action_search(plan, id, &found);

	return found ? plan->actions[i] : NULL;
}

int plan_priority_listed(const struct plan *plan, const char *priority)
{
	const struct doc_node *ps = doc_map_get(plan->meta, "priorities");
	size_t i;

	if (!ps)
		return 0;
	for (i = 0; i < ps->n; i++)
		if (!strcmp(doc_str(doc_map_get(ps->items[i], "id")), priority))
			return 1;
	return 0;
}

int plan_put_action(struct plan *plan, struct doc_node *action)
{
	const char *id = action_id(action);
	const char *prio = doc_str(doc_map_get(action, "priority"));
	size_t i;
	int found, error = 0;

	if (!id || !prio || !plan_action_id_valid(id)) {
		error = error_set(ERROR_INVALID, "not a checked action");
		goto done;
	}
	if (!plan_priority_listed(plan, prio)) {
		error = error_set(
			ERROR_INVALID,
			"priority %s of %s is not listed in plan.yaml", prio,
			id);
		goto done;
	}
	i = action_search(plan, id, &found);
	if (found) {
		doc_free(plan->actions[i]);
		plan->actions[i] = action;
		return 0;
	}
	if (plan->n == plan->cap) {
		size_t cap = plan->cap ? plan->cap * 2 : 64;
		struct doc_node **a = realloc(plan->actions, cap * sizeof(*a));

		if (!a) {
			error = error_nomem();
			goto done;
		}
		plan->actions = a;
		plan->cap = cap;
	}
	memmove(plan->actions + i + 1, plan->actions + i,
		(plan->n - i) * sizeof(*plan->actions));
	plan->actions[i] = action;
	plan->n++;
	action = NULL;
done:
	doc_free(action);
	return error;
}

void plan_set_partners(struct plan *plan, struct doc_node *partners)
{
	doc_free(plan->partners);
	plan->partners = partners;
}

/* ---- loading ------------------------------------------------------------ */

#define LOAD_MAX_JOBS 8

struct loaded {
	unsigned p, a;
	struct doc_node *doc;
};

struct loader {
	const char *dir;
	unsigned jobs; /* threads parsing action files */
	struct doc_arena *arenas[LOAD_MAX_JOBS]; /* one per thread */
	int show_dir; /* prefix names with dir */
	unsigned char listed[MAX_ID_NUM + 1];
	struct loaded *items;
	size_t n, cap;
};

static void
display(char *buf, size_t size, const struct loader *l, const char *rel)
{
	if (l->show_dir)
		snprintf(buf, size, "%s/%s", l->dir, rel);
	else
		snprintf(buf, size, "%s", rel);
}

static int read_parse(
	struct doc_node **out,
	struct loader *l,
	int dirfd,
	const char *file,
	const char *rel,
	enum plan_file_kind kind)
{
	char name[PATH_MAX + 64];
	char *buf = NULL;
	size_t len = 0;
	int error;

	display(name, sizeof(name), l, rel);
	if ((error = fsutil_read_fileat(
		     &buf, &len, dirfd, file, name, DOC_MAX_FILE)) < 0)
		goto done;
	error = parse_named(out, kind, rel, name, buf, len, NULL);
done:
	free(buf);
	return error;
}

/*
 * A temporary file of fsutil_write_temp (".<name>.<8 hex>.tmp") left by a
 * writer that was killed: not part of the plan, and no reason to refuse it.
 */
static int is_stale_temp(const char *fn)
{
	size_t len = strlen(fn), i;

	if (fn[0] != '.' || len < 15 || strcmp(fn + len - 4, ".tmp") ||
	    fn[len - 13] != '.')
		return 0;
	for (i = len - 12; i < len - 4; i++)
		if (!((fn[i] >= '0' && fn[i] <= '9') ||
		      (fn[i] >= 'a' && fn[i] <= 'f')))
			return 0;
	return 1;
}

/* Open a sub-folder without following a symlink. */
static int open_subdir(
	int *out,
	struct loader *l,
	int dirfd,
	const char *sub,
	const char *rel)
{
	struct stat st;
	char name[PATH_MAX + 64];
	int fd;

	display(name, sizeof(name), l, rel);
	if (fstatat(dirfd, sub, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return error_set(
				ERROR_NOTFOUND, "'%s' does not exist", name);
		return error_set(
			ERROR_GENERIC, "cannot stat '%s': %s", name,
			strerror(errno));
	}
	if (S_ISLNK(st.st_mode))
		return error_set(
			ERROR_INVALID,
			"'%s' is a symbolic link; the plan may not hold any",
			name);
	if (!S_ISDIR(st.st_mode))
		return error_set(
			ERROR_INVALID,
			"'%s' is outside the plan layout (not a folder)", name);
	fd = openat(
		dirfd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return error_set(
			ERROR_GENERIC, "cannot open '%s': %s", name,
			strerror(errno));
	*out = fd;
	return 0;
}

static int
add_loaded(struct loader *l, struct doc_node *doc, unsigned p, unsigned a)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		struct loaded *items = realloc(l->items, cap * sizeof(*items));

		if (!items) {
			doc_free(doc);
			return error_nomem();
		}
		l->items = items;
		l->cap = cap;
	}
	l->items[l->n].p = p;
	l->items[l->n].a = a;
	l->items[l->n].doc = doc;
	l->n++;
	return 0;
}

/*
 * Action files are read and parsed by a few threads, a priority folder at a
 * time: the folder is listed first (in readdir order, checking each name
 * against the layout as it comes), then its files go to the workers, each
 * with its own read buffer and libyaml parser.  The outcome does not depend
 * on the threads: the models are sorted by ID afterwards, and the error
 * reported is the first one in listing order, the one a load of one file
 * after the other would stop at.
 */
#define LOAD_FILES_PER_JOB 16 /* fewer files per thread: fewer threads */

struct job {
	char fn[40]; /* P<n>-A<m>.yaml: at most 16 bytes */
	unsigned p, a;
	int regular; /* readdir said DT_REG */
	int error; /* < 0: msg holds the message (NULL if out of memory) */
	char *msg;
	struct doc_node *doc;
};

struct batch {
	struct loader *l;
	int dirfd;
	const char *prio;
	struct job *jobs;
	size_t n, cap;
	atomic_size_t next; /* the next job to take */
	atomic_size_t stop; /* the first job that failed; n if none */
};

static int parse_job(
	const struct batch *b,
	struct job *j,
	char **buf,
	size_t *cap,
	struct doc_arena *arena)
{
	char rel[PATH_MAX], name[PATH_MAX + 64];
	size_t len = 0;
	int error;

	snprintf(rel, sizeof(rel), "actions/%s/%s", b->prio, j->fn);
	display(name, sizeof(name), b->l, rel);
	if ((error = fsutil_read_fileat_buf(
		     buf, cap, &len, b->dirfd, j->fn, name, DOC_MAX_FILE,
		     j->regular)) < 0)
		return error;
	return parse_named(
		&j->doc, PLAN_FILE_ACTION, rel, name, *buf, len, arena);
}

struct worker {
	struct batch *b;
	size_t k; /* its arena: l->arenas[k] */
};

static void run_jobs(struct batch *b, size_t k)
{
	struct doc_arena **arena = &b->l->arenas[k];
	char *buf = NULL;
	size_t cap = 0, i, s;

	/* Without an arena, the trees come from malloc. */
	if (!*arena)
		*arena = doc_arena_new();

	for (;;) {
		i = atomic_fetch_add(&b->next, 1);
		/* Past a failed job nothing more is needed. */
		if (i >= b->n || i > atomic_load(&b->stop))
			break;
		b->jobs[i].error =
			parse_job(b, &b->jobs[i], &buf, &cap, *arena);
		if (b->jobs[i].error == 0)
			continue;
		b->jobs[i].msg = strdup(error_message());
		s = atomic_load(&b->stop);
		while (i < s && !atomic_compare_exchange_weak(&b->stop, &s, i))
			;
	}
	free(buf);
}

static void *job_thread(void *arg)
{
	struct worker *w = arg;

	run_jobs(w->b, w->k);
	return NULL;
}

/* Run a listed folder's jobs on up to l->jobs threads (this one too). */
static void run_batch(struct batch *b, unsigned jobs)
{
	pthread_t th[LOAD_MAX_JOBS];
	struct worker wk[LOAD_MAX_JOBS];
	int started[LOAD_MAX_JOBS];
	size_t w = b->n / LOAD_FILES_PER_JOB, k;

	if (w > jobs)
		w = jobs;
	if (w > LOAD_MAX_JOBS)
		w = LOAD_MAX_JOBS;
	atomic_store(&b->next, 0);
	atomic_store(&b->stop, b->n);
	/* A thread that cannot start leaves its share to the others. */
	for (k = 1; k < w; k++) {
		wk[k].b = b;
		wk[k].k = k;
		started[k] =
			pthread_create(&th[k], NULL, job_thread, &wk[k]) == 0;
	}
	run_jobs(b, 0);
	for (k = 1; k < w; k++)
		if (started[k])
			pthread_join(th[k], NULL);
}

static int batch_add(struct batch *b, const char *fn, unsigned p, unsigned a)
{
	struct job *j;

	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		struct job *jobs = realloc(b->jobs, cap * sizeof(*jobs));

		if (!jobs)
			return error_nomem();
		b->jobs = jobs;
		b->cap = cap;
	}
	j = &b->jobs[b->n++];
	memset(j, 0, sizeof(*j));
	snprintf(j->fn, sizeof(j->fn), "%s", fn);
	j->p = p;
	j->a = a;
	return 0;
}

static int
load_priority(struct loader *l, int actfd, const char *prio, unsigned pnum)
{
	int fd = -1, error = 0, list_error = 0;
	DIR *d = NULL;
	struct dirent *e;
	struct batch b;
	char rel[PATH_MAX], name[PATH_MAX + 64];
	char *list_msg = NULL;
	size_t i;

	memset(&b, 0, sizeof(b));
	b.l = l;
	b.prio = prio;
	snprintf(rel, sizeof(rel), "actions/%s", prio);
	if ((error = open_subdir(&fd, l, actfd, prio, rel)) < 0)
		goto done;
	d = fdopendir(fd);
	if (!d) {
		error = error_set(
			ERROR_GENERIC, "cannot read folder '%s': %s", rel,
			strerror(errno));
		goto done;
	}
	fd = -1;
	/*
	 * List the folder.  A name outside the layout ends the listing: its
	 * error is the one to report, unless a file listed before it fails.
	 */
	while ((errno = 0, e = readdir(d)) != NULL) {
		const char *fn = e->d_name;
		size_t len = strlen(fn);
		char id[32];
		unsigned p = 0, a = 0;

		if (!strcmp(fn, ".") || !strcmp(fn, "..") || is_stale_temp(fn))
			continue;
		snprintf(rel, sizeof(rel), "actions/%s/%s", prio, fn);
		if (len > 5 && len - 5 < sizeof(id) &&
		    !strcmp(fn + len - 5, ".yaml")) {
			memcpy(id, fn, len - 5);
			id[len - 5] = '\0';
		} else {
			id[0] = '\0';
		}
		if (action_nums(id, &p, &a) < 0 || p != pnum) {
			display(name, sizeof(name), l, rel);
			list_error = error_set(
				ERROR_INVALID,
				"'%s' is outside the plan layout (files here "
				"are %s-A<n>.yaml)",
				name, prio);
			break;
		}
		if (e->d_type == DT_LNK) {
			display(name, sizeof(name), l, rel);
			list_error = error_set(
				ERROR_INVALID,
				"'%s' is a symbolic link; the plan may not "
				"hold any",
				name);
			break;
		}
		if ((error = batch_add(&b, fn, p, a)) < 0)
			goto done;
		b.jobs[b.n - 1].regular = e->d_type == DT_REG;
	}
	if (!list_error && errno)
		list_error = error_set(
			ERROR_GENERIC, "cannot read folder 'actions/%s': %s",
			prio, strerror(errno));
	if (list_error && !(list_msg = strdup(error_message()))) {
		error = error_nomem();
		goto done;
	}
	b.dirfd = dirfd(d);
	run_batch(&b, l->jobs);
	for (i = 0; i < b.n && !error; i++)
		if (b.jobs[i].error < 0)
			error = b.jobs[i].msg ? error_set(
							b.jobs[i].error, "%s",
							b.jobs[i].msg) :
						error_nomem();
	if (!error && list_error)
		error = error_set(list_error, "%s", list_msg);
	for (i = 0; i < b.n && !error; i++) {
		error = add_loaded(l, b.jobs[i].doc, b.jobs[i].p, b.jobs[i].a);
		b.jobs[i].doc = NULL; /* add_loaded took it */
	}
done:
	for (i = 0; i < b.n; i++) {
		doc_free(b.jobs[i].doc);
		free(b.jobs[i].msg);
	}
	free(b.jobs);
	free(list_msg);
	if (d)
		closedir(d);
	if (fd >= 0)
		close(fd);
	return error;
}

static int load_actions(struct loader *l, int top)
{
	int fd = -1, error = 0;
	DIR *d = NULL;
	struct dirent *e;
	char rel[PATH_MAX], name[PATH_MAX + 64];

	error = open_subdir(&fd, l, top, "actions", "actions");
	if (error == ERROR_NOTFOUND) {
		error_clear();
		return 0;
	}
	if (error < 0)
		goto done;
	d = fdopendir(fd);
	if (!d) {
		error = error_set(
			ERROR_GENERIC, "cannot read folder 'actions': %s",
			strerror(errno));
		goto done;
	}
	fd = -1;
	while ((errno = 0, e = readdir(d)) != NULL) {
		unsigned p;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
		    is_stale_temp(e->d_name))
			continue;
		snprintf(rel, sizeof(rel), "actions/%s", e->d_name);
		display(name, sizeof(name), l, rel);
		if (priority_num(e->d_name, &p) < 0) {
			error = error_set(
				ERROR_INVALID,
				"'%s' is outside the plan layout (folders "
				"here are P<n>)",
				name);
			goto done;
		}
		if (!l->listed[p]) {
			error = error_set(
				ERROR_INVALID,
				"'%s' holds actions of priority %s, which "
				"plan.yaml does not list",
				name, e->d_name);
			goto done;
		}
		if ((error = load_priority(l, dirfd(d), e->d_name, p)) < 0)
			goto done;
	}
	if (errno)
		error = error_set(
			ERROR_GENERIC, "cannot read folder 'actions': %s",
			strerror(errno));
done:
	if (d)
		closedir(d);
	if (fd >= 0)
		close(fd);
	return error;
}

static int loaded_cmp(const void *pa, const void *pb)
{
	const struct loaded *a = pa, *b = pb;

	if (a->p != b->p)
		return a->p < b->p ? -1 : 1;
	if (a->a != b->a)
		return a->a < b->a ? -1 : 1;
	return 0;
}

/* Threads for a load: one per online CPU, at most LOAD_MAX_JOBS. */
static unsigned default_jobs(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > LOAD_MAX_JOBS ? LOAD_MAX_JOBS : (unsigned)n;
}

int plan_load_dir(struct plan **out, const char *dir)
{
	return plan_load_dir_jobs(out, dir, 0);
}

int plan_load_dir_jobs(struct plan **out, const char *dir, unsigned jobs)
{
	struct loader *l = NULL;
	struct plan *plan = NULL;
	struct doc_node *meta = NULL, *partners = NULL;
	const struct doc_node *ps;
	int dirfd = -1, error = 0;
	size_t i;

	l = calloc(1, sizeof(*l));
	if (!l) {
		error = error_nomem();
		goto done;
	}
	l->dir = dir;
	l->jobs = jobs ? jobs : default_jobs();
	l->show_dir = strcmp(dir, ".") != 0;
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		error = error_set(
			errno == ENOENT ? ERROR_NOTFOUND : ERROR_GENERIC,
			"cannot open plan folder '%s': %s", dir,
			strerror(errno));
		goto done;
	}
	if ((error = read_parse(
		     &meta, l, dirfd, "plan.yaml", "plan.yaml",
		     PLAN_FILE_PLAN)) < 0)
		goto done;
	error = read_parse(
		&partners, l, dirfd, "partners.yaml", "partners.yaml",
		PLAN_FILE_PARTNERS);
	if (error == ERROR_NOTFOUND) {
		error_clear();
		error = 0;
	}
	if (error < 0)
		goto done;
	ps = doc_map_get(meta, "priorities");
	for (i = 0; i < ps->n; i++) {
		unsigned p;

		if (priority_num(
			    doc_str(doc_map_get(ps->items[i], "id")), &p) == 0)
			l->listed[p] = 1;
	}
	if ((error = load_actions(l, dirfd)) < 0)
		goto done;
	qsort(l->items, l->n, sizeof(*l->items), loaded_cmp);
	plan = calloc(1, sizeof(*plan));
	if (!plan || (l->n && !(plan->actions = malloc(
					l->n * sizeof(*plan->actions))))) {
		error = error_nomem();
		goto done;
	}
	for (i = 0; i < l->n; i++)
		plan->actions[i] = l->items[i].doc;
	plan->n = plan->cap = l->n;
	l->n = 0;
	plan->meta = meta;
	plan->partners = partners;
	meta = partners = NULL;
	*out = plan;
	plan = NULL;
done:
	if (l) {
		for (i = 0; i < LOAD_MAX_JOBS; i++)
			doc_arena_done(l->arenas[i]);
		for (i = 0; i < l->n; i++)
			doc_free(l->items[i].doc);
		free(l->items);
		free(l);
	}
	if (dirfd >= 0)
		close(dirfd);
	doc_free(meta);
	doc_free(partners);
	plan_free(plan);
	return error;
}

/* ---- writing ------------------------------------------------------------ */

/*
 * Writing a plan: every changed file goes to a temporary file first; the
 * data is made durable in one go (an fsync per file for a few files, one
 * syncfs for many); only then is each renamed over its name, and each
 * folder that got a new entry is synced.  A crash leaves every file either
 * old or new, never partial.
 */
struct pending {
	char *tmp, *path;
};

struct writer {
	struct pending *v;
	size_t n, cap;
};

/* Queue one file unless it already holds exactly these bytes (no need to
 * look when its folder was just made). */
static int stage_file(
	struct writer *w,
	const char *path,
	const struct doc_node *doc,
	int fresh)
{
	char *text = NULL, *old = NULL, *tmp = NULL, *copy = NULL;
	size_t len = 0, old_len = 0;
	int error;

	if ((error = doc_emit(&text, &len, doc)) < 0)
		goto done;
	if (!fresh &&
	    fsutil_read_file(&old, &old_len, path, DOC_MAX_FILE) == 0 &&
	    old_len == len && !memcmp(old, text, len))
		goto done;
	error_clear();
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 64;
		struct pending *v = realloc(w->v, cap * sizeof(*v));

		if (!v) {
			error = error_nomem();
			goto done;
		}
		w->v = v;
		w->cap = cap;
	}
	copy = strdup(path);
	if (!copy) {
		error = error_nomem();
		goto done;
	}
	if ((error = fsutil_write_temp(&tmp, path, text, len, 0666, 0)) < 0)
		goto done;
	w->v[w->n].tmp = tmp;
	w->v[w->n].path = copy;
	w->n++;
	copy = NULL;
done:
	free(copy);
	free(text);
	free(old);
	return error;
}

/* The folder part of path (path is "folder/name"). */
static size_t folder_len(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? (size_t)(slash - path) : 0;
}

static int commit_files(struct writer *w, const char *dir)
{
	size_t i, renamed = 0;
	int error = 0;
	char folder[PATH_MAX];

	if (w->n > 16) {
		error = fsutil_sync_fs(dir);
	} else {
		for (i = 0; i < w->n && !error; i++)
			error = fsutil_fsync_file(w->v[i].tmp);
	}
	for (i = 0; i < w->n && !error; i++, renamed++)
		if (rename(w->v[i].tmp, w->v[i].path) < 0)
			error = error_set(
				ERROR_GENERIC, "cannot replace '%s': %s",
				w->v[i].path, strerror(errno));
	/* Sync each folder once (files of a folder are queued together). */
	for (i = 0; i < renamed && !error; i++) {
		size_t fl = folder_len(w->v[i].path);

		if (i > 0 && fl == folder_len(w->v[i - 1].path) &&
		    !memcmp(w->v[i].path, w->v[i - 1].path, fl))
			continue;
		snprintf(folder, sizeof(folder), "%.*s", (int)fl, w->v[i].path);
		error = fsutil_fsync_dir(fl ? folder : ".");
	}
	for (i = renamed; i < w->n; i++)
		unlink(w->v[i].tmp);
	return error;
}

int plan_write_dir(const struct plan *plan, const char *dir)
{
	struct writer w = { NULL, 0, 0 };
	char path[PATH_MAX], folder[PATH_MAX];
	size_t i;
	int error = 0, n, new_folder = 0, fresh = 0;
	unsigned cur = 0, p, a;

	if ((error = fsutil_mkdirs(dir)) < 0)
		goto done;
	snprintf(path, sizeof(path), "%s/plan.yaml", dir);
	if ((error = stage_file(&w, path, plan->meta, 0)) < 0)
		goto done;
	if (plan->partners) {
		snprintf(path, sizeof(path), "%s/partners.yaml", dir);
		if ((error = stage_file(&w, path, plan->partners, 0)) < 0)
			goto done;
	}
	for (i = 0; i < plan->n; i++) {
		const char *id = action_id(plan->actions[i]);
		struct stat st;

		if (action_nums(id, &p, &a) < 0) {
			error = error_set(
				ERROR_INVALID, "bad action ID '%s'", id);
			goto done;
		}
		if (p != cur) {
			n = snprintf(
				folder, sizeof(folder), "%s/actions/P%u", dir,
				p);
			if (n < 0 || (size_t)n >= sizeof(folder)) {
				error = error_set(
					ERROR_GENERIC, "path '%s' too long",
					dir);
				goto done;
			}
			fresh = 0;
			if (lstat(folder, &st) < 0) {
				new_folder = fresh = 1;
				if ((error = fsutil_mkdirs(folder)) < 0)
					goto done;
			} else if (!S_ISDIR(st.st_mode)) {
				error = error_set(
					ERROR_INVALID, "'%s' is not a folder",
					folder);
				goto done;
			}
			cur = p;
		}
		n = snprintf(path, sizeof(path), "%s/%s.yaml", folder, id);
		if (n < 0 || (size_t)n >= sizeof(path)) {
			error = error_set(
				ERROR_GENERIC, "path '%s' too long", dir);
			goto done;
		}
		if ((error = stage_file(&w, path, plan->actions[i], fresh)) < 0)
			goto done;
	}
	error = commit_files(&w, dir);
	/* Every temporary file is now renamed or removed. */
	for (i = 0; i < w.n; i++) {
		free(w.v[i].tmp);
		free(w.v[i].path);
	}
	w.n = 0;
	if (error < 0)
		goto done;
	/* New priority folders are entries of actions/ and must last too. */
	if (new_folder) {
		snprintf(path, sizeof(path), "%s/actions", dir);
		if ((error = fsutil_fsync_dir(path)) < 0)
			goto done;
		error = fsutil_fsync_dir(dir);
	}
done:
	for (i = 0; i < w.n; i++) {
		unlink(w.v[i].tmp);
		free(w.v[i].tmp);
		free(w.v[i].path);
	}
	free(w.v);
	return error;
}

/* ---- field paths ---------------------------------------------------- */

static const char *const top_fields[] = { "action",    "information", "status",
					  "timescale", "responsible", NULL };
static const char *const upd_fields[] = { "text", "date", "timescale",
					  "responsible", NULL };

static int in_list(const char *const *list, const char *s, size_t len)
{
	for (; *list; list++)
		if (strlen(*list) == len && !memcmp(*list, s, len))
			return 1;
	return 0;
}

/*
 * Split a field path: *uid (NUL-terminated into uidbuf) empty for a
 * top-level field, *field points into path.
 */
static int
split_field(const char *path, char *uid, size_t uidsize, const char **field)
{
	const char *s, *slash;
	size_t n;

	uid[0] = '\0';
	if (!strchr(path, '/')) {
		if (!in_list(top_fields, path, strlen(path)))
			goto bad;
		*field = path;
		return 0;
	}
	if (strncmp(path, "updates/", 8))
		goto bad;
	s = path + 8;
	slash = strchr(s, '/');
	if (!slash)
		goto bad;
	n = (size_t)(slash - s);
	if (n == 0 || n >= uidsize)
		goto bad;
	memcpy(uid, s, n);
	uid[n] = '\0';
	if (!plan_update_id_valid(uid) ||
	    !in_list(upd_fields, slash + 1, strlen(slash + 1)))
		goto bad;
	*field = slash + 1;
	return 0;
bad:
	return error_set(
		ERROR_USAGE,
		"unknown field '%s' (fields: action, information, status, "
		"timescale, responsible, updates/<id>/text|date|timescale|"
		"responsible)",
		path);
}

static struct doc_node *
find_update(const struct doc_node *action, const char *uid)
{
	const struct doc_node *ups = doc_map_get(action, "updates");
	size_t i;

	if (!ups || ups->kind != DOC_SEQ)
		return NULL;
	for (i = 0; i < ups->n; i++) {
		const char *id = doc_str(doc_map_get(ups->items[i], "id"));

		if (id && !strcmp(id, uid))
			return ups->items[i];
	}
	return NULL;
}

int plan_field_get(
	const struct doc_node **out,
	const struct doc_node *action,
	const char *path)
{
	char uid[40];
	const char *field;
	const struct doc_node *holder = action, *v;
	int error;

	if ((error = split_field(path, uid, sizeof(uid), &field)) < 0)
		return error;
	if (uid[0]) {
		holder = find_update(action, uid);
		if (!holder)
			return error_set(
				ERROR_NOTFOUND, "no update '%s' in %s", uid,
				action_id(action));
	}
	v = doc_map_get(holder, field);
	if (!v)
		return error_set(
			ERROR_NOTFOUND, "%s has no '%s'", action_id(action),
			path);
	*out = v;
	return 0;
}

/* Parse a comma list into a sequence of trimmed, non-empty, distinct
 * names. */
static int orgs_from_csv(struct doc_node **out, const char *csv)
{
	struct doc_node *seq = doc_new_seq();
	const char *s = csv, *e, *t;
	int error = 0;
	size_t i;

	if (!seq)
		return ERROR_NOMEM;
	while (*s) {
		e = strchr(s, ',');
		if (!e)
			e = s + strlen(s);
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		t = e;
		while (t > s && (t[-1] == ' ' || t[-1] == '\t'))
			t--;
		if (t > s) {
			if (memchr(s, '\n', (size_t)(t - s)) ||
			    memchr(s, '\r', (size_t)(t - s))) {
				error = error_set(
					ERROR_INVALID,
					"organisation names are one line");
				goto done;
			}
			for (i = 0; i < seq->n; i++)
				if (seq->items[i]->len == (size_t)(t - s) &&
				    !memcmp(seq->items[i]->str, s,
					    (size_t)(t - s))) {
					error = error_set(
						ERROR_INVALID,
						"organisation '%.*s' listed "
						"twice",
						(int)(t - s), s);
					goto done;
				}
			if ((error = doc_seq_append(
				     seq, doc_new_scalar_len(
						  s, (size_t)(t - s)))) < 0)
				goto done;
		}
		s = *e ? e + 1 : e;
	}
	*out = seq;
	seq = NULL;
done:
	doc_free(seq);
	return error;
}

static int text_value_ok(const char *what, const char *value, int nonempty)
{
	size_t len = strlen(value);
	long cc;

	if (!doc_utf8_valid(value, len))
		return error_set(ERROR_INVALID, "%s is not valid UTF-8", what);
	if ((cc = control_char(value, len)) >= 0)
		return error_set(
			ERROR_INVALID, "%s holds a control character (U+%04X)",
			what, (unsigned)cc);
	if (len > DOC_MAX_SCALAR)
		return error_set(
			ERROR_INVALID, "%s is longer than 1 MiB", what);
	if (nonempty && len == 0)
		return error_set(ERROR_INVALID, "%s must not be empty", what);
	return 0;
}

/* The value node for field from a command-line string. */
static int
value_for(struct doc_node **out, const char *field, const char *value)
{
	size_t i;
	int error;

	if (!strcmp(field, "responsible")) {
		if ((error = text_value_ok("responsible", value, 0)) < 0)
			return error;
		return orgs_from_csv(out, value);
	}
	if (!strcmp(field, "status")) {
		for (i = 0; statuses[i]; i++)
			if (!strcmp(value, statuses[i]))
				break;
		if (!statuses[i])
			return error_set(
				ERROR_INVALID,
				"status must be planned, in-progress, "
				"ongoing, on-hold or done, not '%s'",
				value);
	} else if (!strcmp(field, "date")) {
		if (!date_valid(value, strlen(value)))
			return error_set(
				ERROR_INVALID,
				"date must be YYYY-MM-DD, not '%s'", value);
	} else if (
		(error = text_value_ok(
			 field, value, !strcmp(field, "action"))) < 0) {
		return error;
	}
	*out = doc_new_scalar(value);
	return *out ? 0 : ERROR_NOMEM;
}

/* Set key in a canonically ordered map, inserting at its schema place. */
static int set_ordered(
	struct doc_node *map,
	const struct field *fields,
	const char *key,
	struct doc_node *value)
{
	size_t r = rank(fields, key), pos = 0;

	if (doc_map_index(map, key) >= 0)
		return doc_map_set(map, key, value);
	while (pos < map->n && rank(fields, map->keys[pos]) < r)
		pos++;
	return doc_map_insert(map, pos, key, value);
}

int plan_field_set(struct doc_node *action, const char *path, const char *value)
{
	char uid[40];
	const char *field;
	struct doc_node *holder = action, *v = NULL;
	int error;

	if ((error = split_field(path, uid, sizeof(uid), &field)) < 0)
		return error;
	if (uid[0]) {
		holder = find_update(action, uid);
		if (!holder)
			return error_set(
				ERROR_NOTFOUND, "no update '%s' in %s", uid,
				action_id(action));
	}
	if ((error = value_for(&v, field, value)) < 0)
		return error;
	return set_ordered(
		holder, uid[0] ? update_fields : action_fields, field, v);
}

static int strv_add(char ***v, size_t *n, size_t *cap, const char *fmt, ...)
	ERROR_PRINTF(4, 5);

static int strv_add(char ***v, size_t *n, size_t *cap, const char *fmt, ...)
{
	va_list ap;
	char buf[256];
	char *s;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 16;
		char **nv = realloc(*v, c * sizeof(*nv));

		if (!nv)
			return error_nomem();
		*v = nv;
		*cap = c;
	}
	s = strdup(buf);
	if (!s)
		return error_nomem();
	(*v)[(*n)++] = s;
	return 0;
}

int plan_field_list(char ***out, size_t *out_n, const struct doc_node *action)
{
	char **v = NULL;
	size_t n = 0, cap = 0, i, j;
	const struct doc_node *ups = doc_map_get(action, "updates");
	int error = 0;

	for (i = 0; top_fields[i] && !error; i++)
		if (doc_map_get(action, top_fields[i]))
			error = strv_add(&v, &n, &cap, "%s", top_fields[i]);
	for (i = 0; ups && ups->kind == DOC_SEQ && i < ups->n && !error; i++) {
		const char *uid = doc_str(doc_map_get(ups->items[i], "id"));

		for (j = 0; upd_fields[j] && !error; j++)
			if (uid && doc_map_get(ups->items[i], upd_fields[j]))
				error = strv_add(
					&v, &n, &cap, "updates/%s/%s", uid,
					upd_fields[j]);
	}
	if (error < 0) {
		plan_strv_free(v, n);
		return error;
	}
	*out = v;
	*out_n = n;
	return 0;
}

void plan_strv_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

char *plan_value_summary(const struct doc_node *value, size_t max)
{
	size_t cap = 64, len = 0, i, k;
	char *out = malloc(cap), *nout;

	if (!out) {
		error_nomem();
		return NULL;
	}
#define APPEND(s, n)                               \
	do {                                       \
		size_t n_ = (n);                   \
		if (len + n_ + 4 > cap) {          \
			while (len + n_ + 4 > cap) \
				cap *= 2;          \
			nout = realloc(out, cap);  \
			if (!nout) {               \
				free(out);         \
				error_nomem();     \
				return NULL;       \
			}                          \
			out = nout;                \
		}                                  \
		memcpy(out + len, (s), n_);        \
		len += n_;                         \
	} while (0)
	if (!value || (value->kind != DOC_SCALAR && value->n == 0)) {
		APPEND("(none)", 6);
	} else if (value->kind == DOC_SCALAR) {
		if (value->len == 0)
			APPEND("\"\"", 2);
		else
			APPEND(value->str, value->len);
	} else {
		for (i = 0; i < value->n; i++) {
			const struct doc_node *it = value->items[i];

			if (i > 0)
				APPEND(", ", 2);
			if (value->kind == DOC_MAP) {
				APPEND(value->keys[i], strlen(value->keys[i]));
				APPEND(": ", 2);
			}
			if (it->kind == DOC_SCALAR)
				APPEND(it->str, it->len);
			else
				APPEND("...", 3);
			if (max && len > max)
				break;
		}
	}
#undef APPEND
	/* One line: breaks and tabs become spaces. */
	for (k = 0; k < len; k++)
		if (out[k] == '\n' || out[k] == '\r' || out[k] == '\t')
			out[k] = ' ';
	if (max && len > max) {
		size_t cut = max > 3 ? max - 3 : 0;

		while (cut > 0 && ((unsigned char)out[cut] & 0xC0) == 0x80)
			cut--;
		memcpy(out + cut, "...", 3);
		len = cut + 3;
	}
	out[len] = '\0';
	return out;
}

/* ---- updates and new actions -------------------------------------------- */

int plan_update_add(
	char **out_id,
	struct doc_node *action,
	const char *text,
	const char *date,
	const char *timescale,
	const char *responsible_csv)
{
	struct doc_node *u = NULL, *ups, *v = NULL;
	char id[16], *idcopy = NULL;
	unsigned char rnd[4];
	int error = 0, tries;

	if ((error = text_value_ok("update text", text, 0)) < 0)
		goto done;
	if (date && !date_valid(date, strlen(date))) {
		error = error_set(
			ERROR_INVALID, "date must be YYYY-MM-DD, not '%s'",
			date);
		goto done;
	}
	if (timescale && (error = text_value_ok("timescale", timescale, 0)) < 0)
		goto done;
	if (sodium_init() < 0) {
		error = error_set(ERROR_GENERIC, "libsodium failed to start");
		goto done;
	}
	for (tries = 0;; tries++) {
		randombytes_buf(rnd, sizeof(rnd));
		snprintf(
			id, sizeof(id), "u%02x%02x%02x%02x", rnd[0], rnd[1],
			rnd[2], rnd[3]);
		if (!find_update(action, id))
			break;
		if (tries > 1000) {
			error = error_set(ERROR_GENERIC, "no free update id");
			goto done;
		}
	}
	u = doc_new_map();
	if (!u) {
		error = ERROR_NOMEM;
		goto done;
	}
	if ((error = doc_map_set(u, "id", doc_new_scalar(id))) < 0 ||
	    (error = doc_map_set(u, "text", doc_new_scalar(text))) < 0)
		goto done;
	if (date && (error = doc_map_set(u, "date", doc_new_scalar(date))) < 0)
		goto done;
	if (timescale &&
	    (error = doc_map_set(u, "timescale", doc_new_scalar(timescale))) <
		    0)
		goto done;
	if (responsible_csv) {
		if ((error = text_value_ok("responsible", responsible_csv, 0)) <
			    0 ||
		    (error = orgs_from_csv(&v, responsible_csv)) < 0)
			goto done;
		error = doc_map_set(u, "responsible", v);
		v = NULL;
		if (error < 0)
			goto done;
	}
	idcopy = strdup(id);
	if (!idcopy) {
		error = error_nomem();
		goto done;
	}
	ups = doc_map_get(action, "updates");
	if (!ups) {
		if ((error = set_ordered(
			     action, action_fields, "updates", doc_new_seq())) <
		    0)
			goto done;
		ups = doc_map_get(action, "updates");
	}
	error = doc_seq_append(ups, u);
	u = NULL;
	if (error < 0)
		goto done;
	*out_id = idcopy;
	idcopy = NULL;
done:
	doc_free(u);
	doc_free(v);
	free(idcopy);
	return error;
}

int plan_next_action_id(
	char *buf,
	size_t size,
	const char *priority,
	const char *const *existing_ids,
	size_t n)
{
	unsigned p, q, a, max = 0;
	size_t i;
	int w;

	if (priority_num(priority, &p) < 0)
		return error_set(
			ERROR_INVALID, "'%s' is not a priority ID (P<n>)",
			priority);
	for (i = 0; i < n; i++)
		if (action_nums(existing_ids[i], &q, &a) == 0 && q == p &&
		    a > max)
			max = a;
	if (max >= MAX_ID_NUM)
		return error_set(
			ERROR_INVALID, "priority %s has no free action number",
			priority);
	w = snprintf(buf, size, "P%u-A%u", p, max + 1);
	if (w < 0 || (size_t)w >= size)
		return error_set(ERROR_GENERIC, "ID buffer too small");
	return 0;
}

int plan_action_new(
	struct doc_node **out,
	const char *id,
	const char *action_text,
	const char *timescale,
	const char *responsible_csv)
{
	struct doc_node *a = NULL, *orgs = NULL;
	char prio[16], path[64];
	unsigned p, n;
	int error;

	if (action_nums(id, &p, &n) < 0) {
		error = error_set(
			ERROR_INVALID, "'%s' is not an action ID (P<n>-A<m>)",
			id ? id : "");
		goto done;
	}
	if ((error = text_value_ok("action", action_text, 1)) < 0)
		goto done;
	if (timescale && (error = text_value_ok("timescale", timescale, 0)) < 0)
		goto done;
	if (responsible_csv) {
		if ((error = text_value_ok("responsible", responsible_csv, 0)) <
		    0)
			goto done;
		if ((error = orgs_from_csv(&orgs, responsible_csv)) < 0)
			goto done;
	} else if (!(orgs = doc_new_seq())) {
		error = ERROR_NOMEM;
		goto done;
	}
	snprintf(prio, sizeof(prio), "P%u", p);
	a = doc_new_map();
	if (!a) {
		error = ERROR_NOMEM;
		goto done;
	}
	if ((error = doc_map_set(a, "id", doc_new_scalar(id))) < 0 ||
	    (error = doc_map_set(a, "priority", doc_new_scalar(prio))) < 0 ||
	    (error = doc_map_set(a, "action", doc_new_scalar(action_text))) <
		    0 ||
	    (error = doc_map_set(a, "information", doc_new_scalar(""))) < 0 ||
	    (error = doc_map_set(a, "status", doc_new_scalar("planned"))) < 0 ||
	    (error = doc_map_set(
		     a, "timescale",
		     doc_new_scalar(timescale ? timescale : ""))) < 0)
		goto done;
	error = doc_map_set(a, "responsible", orgs);
	orgs = NULL;
	if (error < 0 || (error = doc_map_set(a, "updates", doc_new_seq())) < 0)
		goto done;
	if ((error = plan_action_path(path, sizeof(path), id)) < 0 ||
	    (error = plan_check(a, PLAN_FILE_ACTION, path)) < 0)
		goto done;
	*out = a;
	a = NULL;
done:
	doc_free(a);
	doc_free(orgs);
	return error;
}

/* ---- comparison ----------------------------------------------------- */

struct changes {
	struct plan_change *v;
	size_t n, cap;
};

static int change_add(
	struct changes *c,
	const char *path,
	const struct doc_node *old,
	const struct doc_node *new)
{
	if (doc_equal(old, new))
		return 0;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		struct plan_change *v = realloc(c->v, cap * sizeof(*v));

		if (!v)
			return error_nomem();
		c->v = v;
		c->cap = cap;
	}
	c->v[c->n].path = strdup(path);
	if (!c->v[c->n].path)
		return error_nomem();
	c->v[c->n].old = old;
	c->v[c->n].new = new;
	c->n++;
	return 0;
}

/* Keys of a and b outside the schema, in byte order, without repeats. */
static int extra_keys(
	const char ***out,
	size_t *out_n,
	const struct doc_node *a,
	const struct doc_node *b,
	const struct field *fields)
{
	size_t total = (a ? a->n : 0) + (b ? b->n : 0), n = 0, i, k;
	const char **v;
	const struct doc_node *src[2] = { a, b };

	*out = NULL;
	*out_n = 0;
	if (!total)
		return 0;
	v = malloc(total * sizeof(*v));
	if (!v)
		return error_nomem();
	for (k = 0; k < 2; k++)
		for (i = 0; src[k] && src[k]->kind == DOC_MAP && i < src[k]->n;
		     i++)
			if (!fields[rank(fields, src[k]->keys[i])].key)
				v[n++] = src[k]->keys[i];
	qsort(v, n, sizeof(*v), str_ptr_cmp);
	for (i = 0, k = 0; i < n; i++)
		if (k == 0 || strcmp(v[k - 1], v[i]))
			v[k++] = v[i];
	*out = v;
	*out_n = k;
	return 0;
}

static int diff_update(
	struct changes *c,
	const char *uid,
	const struct doc_node *ua,
	const struct doc_node *ub)
{
	char path[256];
	const char **extra = NULL;
	size_t n = 0, i;
	int error = 0;

	for (i = 0; upd_fields[i] && !error; i++) {
		snprintf(
			path, sizeof(path), "updates/%s/%s", uid,
			upd_fields[i]);
		error = change_add(
			c, path, doc_map_get(ua, upd_fields[i]),
			doc_map_get(ub, upd_fields[i]));
	}
	if (!error)
		error = extra_keys(&extra, &n, ua, ub, update_fields);
	for (i = 0; i < n && !error; i++) {
		if (!strcmp(extra[i], "id"))
			continue;
		snprintf(path, sizeof(path), "updates/%s/%s", uid, extra[i]);
		error = change_add(
			c, path, doc_map_get(ua, extra[i]),
			doc_map_get(ub, extra[i]));
	}
	free(extra);
	return error;
}

/* An action's updates by id, sorted, for lookups in O(log n). */
struct uid_index {
	struct dup_item *v; /* key: id, index: position in updates */
	size_t n;
};

static int uid_index_build(struct uid_index *x, const struct doc_node *ups)
{
	size_t i;

	x->v = NULL;
	x->n = 0;
	if (!ups || ups->kind != DOC_SEQ || ups->n == 0)
		return 0;
	x->v = malloc(ups->n * sizeof(*x->v));
	if (!x->v)
		return error_nomem();
	for (i = 0; i < ups->n; i++) {
		const char *id = doc_str(doc_map_get(ups->items[i], "id"));

		if (id) {
			x->v[x->n].key = id;
			x->v[x->n].index = i;
			x->n++;
		}
	}
	qsort(x->v, x->n, sizeof(*x->v), dup_cmp);
	return 0;
}

static const struct doc_node *uid_index_find(
	const struct uid_index *x,
	const struct doc_node *ups,
	const char *id)
{
	size_t lo = 0, hi = x->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(x->v[mid].key, id);

		if (c == 0)
			return ups->items[x->v[mid].index];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int plan_action_diff(
	struct plan_change **out,
	size_t *out_n,
	const struct doc_node *a,
	const struct doc_node *b)
{
	struct changes c = { NULL, 0, 0 };
	const struct doc_node *ua = a ? doc_map_get(a, "updates") : NULL;
	const struct doc_node *ub = b ? doc_map_get(b, "updates") : NULL;
	const char **extra = NULL;
	struct uid_index xa = { NULL, 0 }, xb = { NULL, 0 };
	size_t n = 0, i;
	int error = 0;

	if ((error = uid_index_build(&xa, ua)) < 0 ||
	    (error = uid_index_build(&xb, ub)) < 0)
		goto done;
	for (i = 0; top_fields[i] && !error; i++)
		error = change_add(
			&c, top_fields[i],
			a ? doc_map_get(a, top_fields[i]) : NULL,
			b ? doc_map_get(b, top_fields[i]) : NULL);
	for (i = 0; ua && ua->kind == DOC_SEQ && i < ua->n && !error; i++) {
		const char *uid = doc_str(doc_map_get(ua->items[i], "id"));

		if (uid)
			error = diff_update(
				&c, uid, ua->items[i],
				uid_index_find(&xb, ub, uid));
	}
	for (i = 0; ub && ub->kind == DOC_SEQ && i < ub->n && !error; i++) {
		const char *uid = doc_str(doc_map_get(ub->items[i], "id"));

		if (uid && !uid_index_find(&xa, ua, uid))
			error = diff_update(&c, uid, NULL, ub->items[i]);
	}
	if (!error)
		error = change_add(
			&c, "conflicts", a ? doc_map_get(a, "conflicts") : NULL,
			b ? doc_map_get(b, "conflicts") : NULL);
	if (!error)
		error = extra_keys(&extra, &n, a, b, action_fields);
	for (i = 0; i < n && !error; i++)
		error = change_add(
			&c, extra[i], a ? doc_map_get(a, extra[i]) : NULL,
			b ? doc_map_get(b, extra[i]) : NULL);
done:
	free(extra);
	free(xa.v);
	free(xb.v);
	if (error < 0) {
		plan_changes_free(c.v, c.n);
		return error;
	}
	*out = c.v;
	*out_n = c.n;
	return 0;
}

void plan_changes_free(struct plan_change *changes, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(changes[i].path);
	free(changes);
}

/* ---- partners ------------------------------------------------------- */

size_t plan_partner_count(const struct doc_node *partners)
{
	const struct doc_node *list = doc_map_get(partners, "partners");

	return list && list->kind == DOC_SEQ ? list->n : 0;
}

void plan_partner_at(
	struct plan_partner *out,
	const struct doc_node *partners,
	size_t i)
{
	const struct doc_node *p = doc_map_get(partners, "partners")->items[i];
	const char *revoked = doc_str(doc_map_get(p, "revoked"));

	out->email = doc_str(doc_map_get(p, "email"));
	out->name = doc_str(doc_map_get(p, "name"));
	out->organisation = doc_str(doc_map_get(p, "organisation"));
	out->role = doc_str(doc_map_get(p, "role"));
	out->key = doc_str(doc_map_get(p, "key"));
	out->coordinator = out->role && !strcmp(out->role, "coordinator");
	out->revoked = revoked && !strcmp(revoked, "true");
}

int plan_partner_by_email(
	struct plan_partner *out,
	const struct doc_node *partners,
	const char *email)
{
	size_t i, n = plan_partner_count(partners);

	for (i = 0; i < n; i++) {
		struct plan_partner p;

		plan_partner_at(&p, partners, i);
		if (p.email && !strcasecmp(p.email, email)) {
			*out = p;
			return 0;
		}
	}
	return error_set(
		ERROR_NOTFOUND, "no partner '%s' in partners.yaml", email);
}
