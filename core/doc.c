#include "doc.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <yaml.h>

#include "error.h"

/* ---- UTF-8 and character classes ------------------------------------ */

/*
 * Decode one UTF-8 sequence at s[*i] (strict: no overlongs, surrogates or
 * values over U+10FFFF).  Returns 0 and advances *i, or -1.
 */
static int
utf8_next(const unsigned char *s, size_t len, size_t *i, uint32_t *cp)
{
	size_t k = *i, n, j;
	uint32_t c = s[k], min;

	if (c < 0x80) {
		*cp = c;
		*i = k + 1;
		return 0;
	}
	if (c >= 0xC2 && c <= 0xDF) {
		n = 1;
		c &= 0x1F;
		min = 0x80;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 2;
		c &= 0x0F;
		min = 0x800;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 3;
		c &= 0x07;
		min = 0x10000;
	} else {
		return -1;
	}
	if (len - k <= n)
		return -1;
	for (j = 1; j <= n; j++) {
		if ((s[k + j] & 0xC0) != 0x80)
			return -1;
		c = (c << 6) | (s[k + j] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return -1;
	*cp = c;
	*i = k + n + 1;
	return 0;
}

int doc_utf8_valid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	uint32_t cp;

	while (i < len) {
		if (s[i] == 0)
			return 0;
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if (utf8_next(s, len, &i, &cp) < 0)
			return 0;
	}
	return 1;
}

/* A character that must be written as an escape in a double-quoted
 * scalar (and so rules out plain and literal styles). */
static int char_special(uint32_t c)
{
	return (c < 0x20 && c != '\t' && c != '\n') ||
	       (c >= 0x7F && c <= 0x9F) || c == 0x2028 || c == 0x2029 ||
	       c == 0xFEFF || c == 0xFFFE || c == 0xFFFF;
}

/* Characters libyaml's reader refuses in a stream. */
static int char_refused_in_stream(uint32_t c)
{
	return (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F ||
	       (c >= 0x80 && c <= 0x9F && c != 0x85) || c == 0xFFFE ||
	       c == 0xFFFF;
}

/* ---- YAML 1.1 implicit types ----------------------------------------- */

static int word_in(const char *s, size_t len, const char *const *words)
{
	for (; *words; words++)
		if (strlen(*words) == len && !memcmp(*words, s, len))
			return 1;
	return 0;
}

int doc_is_null_word(const char *s, size_t len)
{
	static const char *const w[] = {
		"", "~", "null", "Null", "NULL", NULL
	};

	return word_in(s, len, w);
}

int doc_is_bool_word(const char *s, size_t len)
{
	static const char *const w[] = {
		"y",  "Y",  "yes",  "Yes",  "YES",  "n",     "N",     "no",
		"No", "NO", "true", "True", "TRUE", "false", "False", "FALSE",
		"on", "On", "ON",   "off",  "Off",  "OFF",   NULL
	};

	return word_in(s, len, w);
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

int doc_is_date(const char *s, size_t len)
{
	size_t i;

	if (len != 10 || s[4] != '-' || s[7] != '-')
		return 0;
	for (i = 0; i < 10; i++)
		if (i != 4 && i != 7 && !is_digit(s[i]))
			return 0;
	return 1;
}

/*
 * Could this plain text read as a YAML 1.1 number?  Deliberately broad
 * (anything made of a sign, digits, hex letters, '_', '.', ':', and 'x',
 * 'o' starting with a digit or '.' and a digit), except dates YYYY-MM-DD,
 * which plansync treats as strings.
 */
static int looks_number(const char *s, size_t len)
{
	static const char *const special[] = {
		".inf",  ".Inf",  ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
		"-.Inf", "-.INF", ".nan", ".NaN",  ".NAN",  NULL
	};
	size_t i = 0;

	if (word_in(s, len, special))
		return 1;
	if (doc_is_date(s, len))
		return 0;
	if (i < len && (s[i] == '+' || s[i] == '-'))
		i++;
	if (i >= len)
		return 0;
	if (!is_digit(s[i]) &&
	    !(s[i] == '.' && i + 1 < len && is_digit(s[i + 1])))
		return 0;
	if (s[len - 1] == ':')
		return 0;
	for (; i < len; i++) {
		char c = s[i];

		if (!(is_digit(c) || (c >= 'a' && c <= 'f') ||
		      (c >= 'A' && c <= 'F') || c == 'x' || c == 'X' ||
		      c == 'o' || c == 'O' || c == '_' || c == '.' ||
		      c == ':' || c == '+' || c == '-'))
			return 0;
	}
	return 1;
}

/* Plain text that YAML 1.1 would read as something other than a string. */
static int looks_nonstring(const char *s, size_t len)
{
	/*
	 * Most text is neither: the null and bool words are at most 5 bytes,
	 * and a number starts with a sign, a digit or '.'.
	 */
	if (len > 5 && !is_digit(s[0]) && s[0] != '+' && s[0] != '-' &&
	    s[0] != '.')
		return 0;
	return doc_is_null_word(s, len) || doc_is_bool_word(s, len) ||
	       (len == 2 && !memcmp(s, "<<", 2)) || (len == 1 && s[0] == '=') ||
	       looks_number(s, len);
}

/* ---- nodes ------------------------------------------------------------ */

/*
 * The keys of the plansync schema are shared, not copied: a plan of
 * 100,000 actions holds millions of them.  A key pointer into this pool is
 * never freed.
 */
static const char key_pool[][16] = {
	"id",          "priority",    "action",   "information",  "status",
	"timescale",   "responsible", "updates",  "conflicts",    "text",
	"date",        "field",       "base",     "kept",         "kept_by",
	"kept_commit", "other",       "other_by", "other_commit", "schema",
	"title",       "partnership", "updated",  "priorities",   "focus",
	"partners",    "email",       "name",     "organisation", "role",
	"key",         "revoked"
};

static char *key_dup_len(const char *key, size_t len)
{
	size_t i;
	char *k;

	if (len < sizeof(key_pool[0]))
		for (i = 0; i < sizeof(key_pool) / sizeof(key_pool[0]); i++)
			if (key_pool[i][0] == key[0] &&
			    !memcmp(key_pool[i], key, len) &&
			    key_pool[i][len] == '\0')
				return (char *)(uintptr_t)key_pool[i];
	k = malloc(len + 1);
	if (!k) {
		error_nomem();
		return NULL;
	}
	memcpy(k, key, len);
	k[len] = '\0';
	return k;
}

static char *key_dup(const char *key)
{
	return key_dup_len(key, strlen(key));
}

static void key_free(char *key)
{
	uintptr_t k = (uintptr_t)key, pool = (uintptr_t)key_pool;

	if (k - pool >= sizeof(key_pool))
		free(key);
}

/* ---- arenas ------------------------------------------------------------- */

/*
 * An arena hands out memory from chunks of up to CHUNK_SIZE bytes, each
 * mapped at an address that is a multiple of CHUNK_SIZE, so that the chunk
 * of any pointer into it is found by masking.  A chunk counts the allocations
 * in it still in use, plus one while its arena fills it; it is unmapped when
 * the count drops to zero.  Freed memory inside a chunk is not reused:
 * parsed trees are mostly freed whole.  node->alloc says which of a node
 * and its arrays live in a chunk.
 */
#define CHUNK_SIZE ((size_t)2 << 20)
#define CHUNK_BIG (CHUNK_SIZE / 8) /* larger requests go to malloc */
#define CHUNK_FIRST ((size_t)256 << 10)
#define CHUNK_HEAD 64

enum { A_NODE = 1, A_ITEMS = 2, A_KEYS = 4 };

struct chunk {
	atomic_size_t live;
	size_t size; /* bytes mapped */
};

struct doc_arena {
	char *chunk; /* being filled, NULL before the first */
	size_t used, size;
};

static atomic_size_t chunks_mapped;

size_t doc_arena_chunks(void)
{
	return atomic_load(&chunks_mapped);
}

static struct chunk *chunk_of(const void *p)
{
	return (struct chunk *)((uintptr_t)p & ~(uintptr_t)(CHUNK_SIZE - 1));
}

static void chunk_put(struct chunk *c)
{
	if (atomic_fetch_sub(&c->live, 1) == 1) {
		munmap(c, c->size);
		atomic_fetch_sub(&chunks_mapped, 1);
	}
}

/*
 * A chunk of size bytes (at most CHUNK_SIZE) at a multiple of CHUNK_SIZE.
 * A full-size one asks for huge pages: one page fault per chunk where the
 * system allows them, where many small faults were a good part of a large
 * plan's load time.  An arena's first chunk is smaller, for the many small
 * plans that fill a few pages of it.
 */
static char *chunk_new(size_t size)
{
	size_t span = size + CHUNK_SIZE;
	char *p =
		mmap(NULL, span, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *c, *end;

	if (p == MAP_FAILED)
		return NULL;
	c = (char *)(((uintptr_t)p + CHUNK_SIZE - 1) & ~(uintptr_t)(CHUNK_SIZE - 1));
	end = c + size;
	if (c > p)
		munmap(p, (size_t)(c - p));
	if (end < p + span)
		munmap(end, (size_t)(p + span - end));
#ifdef MADV_HUGEPAGE
	if (size == CHUNK_SIZE)
		madvise(c, CHUNK_SIZE, MADV_HUGEPAGE);
#endif
	atomic_init(&((struct chunk *)c)->live, 1);
	((struct chunk *)c)->size = size;
	atomic_fetch_add(&chunks_mapped, 1);
	return c;
}

/* size bytes from the arena, or NULL: then malloc's turn. */
static void *arena_alloc(struct doc_arena *a, size_t size)
{
	char *p;

	size = (size + 7) & ~(size_t)7;
	if (!a || size > CHUNK_BIG)
		return NULL;
	if (!a->chunk || a->used + size > a->size) {
		size_t want = a->chunk ? CHUNK_SIZE : CHUNK_FIRST;
		char *c;

		if (CHUNK_HEAD + size > want)
			want = CHUNK_SIZE;
		if (!(c = chunk_new(want)))
			return NULL;
		if (a->chunk)
			chunk_put((struct chunk *)a->chunk);
		a->chunk = c;
		a->size = want;
		a->used = CHUNK_HEAD;
	}
	p = a->chunk + a->used;
	a->used += size;
	atomic_fetch_add(&((struct chunk *)a->chunk)->live, 1);
	return p;
}

struct doc_arena *doc_arena_new(void)
{
	struct doc_arena *a = calloc(1, sizeof(*a));

	if (!a)
		error_nomem();
	return a;
}

void doc_arena_done(struct doc_arena *arena)
{
	if (!arena)
		return;
	if (arena->chunk)
		chunk_put((struct chunk *)arena->chunk);
	free(arena);
}

/* Free an array of a node (flag: A_ITEMS or A_KEYS). */
static void array_free(const struct doc_node *node, void *array, unsigned flag)
{
	if (node->alloc & flag)
		chunk_put(chunk_of(array));
	else
		free(array);
}

static struct doc_node *node_alloc(enum doc_kind kind, size_t extra)
{
	struct doc_node *n = calloc(1, sizeof(*n) + extra);

	if (!n) {
		error_nomem();
		return NULL;
	}
	n->kind = kind;
	return n;
}

/* A node from the arena if there is one, else from malloc. */
static struct doc_node *
node_new(struct doc_arena *a, enum doc_kind kind, size_t extra)
{
	struct doc_node *n = arena_alloc(a, sizeof(*n) + extra);

	if (!n)
		return node_alloc(kind, extra);
	memset(n, 0, sizeof(*n));
	n->kind = kind;
	n->alloc = A_NODE;
	return n;
}

static struct doc_node *
scalar_new(struct doc_arena *a, const char *str, size_t len)
{
	struct doc_node *n = node_new(a, DOC_SCALAR, len + 1);

	if (!n)
		return NULL;
	n->str = (char *)(n + 1);
	memcpy(n->str, str, len);
	n->str[len] = '\0';
	n->len = len;
	return n;
}

struct doc_node *doc_new_scalar_len(const char *str, size_t len)
{
	struct doc_node *n = node_alloc(DOC_SCALAR, len + 1);

	if (!n)
		return NULL;
	n->str = (char *)(n + 1);
	memcpy(n->str, str, len);
	n->str[len] = '\0';
	n->len = len;
	return n;
}

struct doc_node *doc_new_scalar(const char *str)
{
	return doc_new_scalar_len(str, strlen(str));
}

struct doc_node *doc_new_plain(const char *str)
{
	struct doc_node *n = doc_new_scalar(str);

	/* Plain text that reads as a string anyway is just a string. */
	if (n)
		n->plain = looks_nonstring(n->str, n->len);
	return n;
}

struct doc_node *doc_new_seq(void)
{
	return node_alloc(DOC_SEQ, 0);
}

struct doc_node *doc_new_map(void)
{
	return node_alloc(DOC_MAP, 0);
}

void doc_free(struct doc_node *node)
{
	size_t i;

	if (!node)
		return;
	for (i = 0; i < node->n; i++) {
		if (node->keys)
			key_free(node->keys[i]);
		doc_free(node->items[i]);
	}
	array_free(node, node->keys, A_KEYS);
	array_free(node, node->items, A_ITEMS);
	if (node->alloc & A_NODE)
		chunk_put(chunk_of(node));
	else
		free(node);
}

/* Move an array out of the arena into malloc'd memory of cap items. */
static void *array_to_heap(
	struct doc_node *c,
	void *array,
	size_t item,
	size_t cap,
	unsigned flag)
{
	void *p = malloc(cap * item);

	if (!p)
		return NULL;
	memcpy(p, array, c->n * item);
	chunk_put(chunk_of(array));
	c->alloc &= ~flag;
	return p;
}

static int grow(struct doc_node *c)
{
	size_t cap = c->cap ? c->cap * 2 : 4;
	struct doc_node **items;

	if (c->kind == DOC_MAP) {
		char **keys = c->alloc & A_KEYS ?
				      array_to_heap(
					      c, c->keys, sizeof(*keys), cap,
					      A_KEYS) :
				      realloc(c->keys, cap * sizeof(*keys));

		if (!keys)
			return error_nomem();
		c->keys = keys;
	}
	items = c->alloc & A_ITEMS ?
			array_to_heap(
				c, c->items, sizeof(*items), cap, A_ITEMS) :
			realloc(c->items, cap * sizeof(*items));
	if (!items)
		return error_nomem();
	c->items = items;
	c->cap = cap;
	return 0;
}

/* Append key (taking ownership) and value without a duplicate check. */
static int map_append_owned(struct doc_node *map, char *key, struct doc_node *v)
{
	if (map->n == map->cap && grow(map) < 0) {
		key_free(key);
		doc_free(v);
		return ERROR_NOMEM;
	}
	map->keys[map->n] = key;
	map->items[map->n] = v;
	map->n++;
	return 0;
}

struct doc_node *doc_clone(const struct doc_node *node)
{
	struct doc_node *c;
	size_t i;

	if (node->kind == DOC_SCALAR) {
		c = doc_new_scalar_len(node->str, node->len);
		if (c) {
			c->plain = node->plain;
			c->line = node->line;
			c->col = node->col;
		}
		return c;
	}
	c = node_alloc(node->kind, 0);
	if (!c)
		return NULL;
	c->line = node->line;
	c->col = node->col;
	for (i = 0; i < node->n; i++) {
		struct doc_node *item = doc_clone(node->items[i]);
		int error;

		if (!item) {
			doc_free(c);
			return NULL;
		}
		if (node->kind == DOC_MAP) {
			char *key = key_dup(node->keys[i]);

			if (!key) {
				doc_free(item);
				error = ERROR_NOMEM;
			} else {
				error = map_append_owned(c, key, item);
			}
		} else {
			error = doc_seq_append(c, item);
		}
		if (error < 0) {
			doc_free(c);
			return NULL;
		}
	}
	return c;
}

long doc_map_index(const struct doc_node *map, const char *key)
{
	size_t i;

	if (!map || map->kind != DOC_MAP)
		return -1;
	for (i = 0; i < map->n; i++)
		if (!strcmp(map->keys[i], key))
			return (long)i;
	return -1;
}

struct doc_node *doc_map_get(const struct doc_node *map, const char *key)
{
	long i = doc_map_index(map, key);

	return i < 0 ? NULL : map->items[i];
}

int doc_map_set(struct doc_node *map, const char *key, struct doc_node *value)
{
	long i = doc_map_index(map, key);
	char *k;

	if (!value)
		return ERROR_NOMEM; /* a failed constructor set the message */
	if (i >= 0) {
		doc_free(map->items[i]);
		map->items[i] = value;
		return 0;
	}
	k = key_dup(key);
	if (!k) {
		doc_free(value);
		return ERROR_NOMEM;
	}
	return map_append_owned(map, k, value);
}

int doc_map_insert(
	struct doc_node *map,
	size_t pos,
	const char *key,
	struct doc_node *value)
{
	char *k;

	if (!value)
		return ERROR_NOMEM;
	if (doc_map_index(map, key) >= 0) {
		doc_free(value);
		return error_set(ERROR_EXISTS, "key '%s' already present", key);
	}
	k = key_dup(key);
	if (!k) {
		doc_free(value);
		return ERROR_NOMEM;
	}
	if (map->n == map->cap && grow(map) < 0) {
		key_free(k);
		doc_free(value);
		return ERROR_NOMEM;
	}
	if (pos > map->n)
		pos = map->n;
	memmove(map->keys + pos + 1, map->keys + pos,
		(map->n - pos) * sizeof(*map->keys));
	memmove(map->items + pos + 1, map->items + pos,
		(map->n - pos) * sizeof(*map->items));
	map->keys[pos] = k;
	map->items[pos] = value;
	map->n++;
	return 0;
}

int doc_map_remove(struct doc_node *map, const char *key)
{
	long i = doc_map_index(map, key);

	if (i < 0)
		return error_set(ERROR_NOTFOUND, "no key '%s'", key);
	key_free(map->keys[i]);
	doc_free(map->items[i]);
	memmove(map->keys + i, map->keys + i + 1,
		(map->n - (size_t)i - 1) * sizeof(*map->keys));
	memmove(map->items + i, map->items + i + 1,
		(map->n - (size_t)i - 1) * sizeof(*map->items));
	map->n--;
	return 0;
}

int doc_seq_append(struct doc_node *seq, struct doc_node *value)
{
	if (!value)
		return ERROR_NOMEM;
	if (seq->n == seq->cap && grow(seq) < 0) {
		doc_free(value);
		return ERROR_NOMEM;
	}
	seq->items[seq->n++] = value;
	return 0;
}

void doc_seq_remove(struct doc_node *seq, size_t i)
{
	if (i >= seq->n)
		return;
	doc_free(seq->items[i]);
	memmove(seq->items + i, seq->items + i + 1,
		(seq->n - i - 1) * sizeof(*seq->items));
	seq->n--;
}

int doc_equal(const struct doc_node *a, const struct doc_node *b)
{
	size_t i;

	if (a == b)
		return 1;
	if (!a || !b || a->kind != b->kind)
		return 0;
	if (a->kind == DOC_SCALAR)
		return a->len == b->len && !a->plain == !b->plain &&
		       !memcmp(a->str, b->str, a->len);
	if (a->n != b->n)
		return 0;
	for (i = 0; i < a->n; i++) {
		if (a->kind == DOC_MAP && strcmp(a->keys[i], b->keys[i]))
			return 0;
		if (!doc_equal(a->items[i], b->items[i]))
			return 0;
	}
	return 1;
}

const char *doc_str(const struct doc_node *node)
{
	return node && node->kind == DOC_SCALAR ? node->str : NULL;
}

/* ---- reader ------------------------------------------------------------ */

/* Maps with this many keys find duplicates through a hash table. */
#define SMALL_MAP 16

struct key_slot {
	const struct doc_node *map;
	const char *key;
};

/*
 * An open collection.  Its children gather in the frame's scratch arrays
 * (reused by the next collection at the same depth) and move to arrays of
 * the exact size when it ends: one allocation per array, no growth.
 */
struct frame {
	struct doc_node *node;
	char *key; /* a map's key waiting for its value */
	char **keys;
	struct doc_node **items;
	size_t n, cap;
};

struct reader {
	struct doc_arena *arena; /* NULL: malloc */
	const char *name;
	const char *buf;
	size_t len;
	struct frame stack[DOC_MAX_DEPTH];
	size_t depth;
	struct doc_node *root;
	struct key_slot *tab;
	size_t tab_cap, tab_n;
};

/* 1-based line and column (in characters) of a byte offset. */
static void
offset_pos(const struct reader *r, size_t off, unsigned *line, unsigned *col)
{
	size_t i;
	unsigned l = 1, c = 1;

	if (off > r->len)
		off = r->len;
	for (i = 0; i < off; i++) {
		unsigned char ch = (unsigned char)r->buf[i];

		if (ch == '\n') {
			l++;
			c = 1;
		} else if ((ch & 0xC0) != 0x80) {
			c++;
		}
	}
	*line = l;
	*col = c;
}

/* Non-zero if the 8 bytes at p are all printable ASCII (0x20..0x7E). */
static int printable8(const unsigned char *p)
{
	const uint64_t ones = 0x0101010101010101ULL;
	const uint64_t high = 0x8080808080808080ULL;
	uint64_t x;

	memcpy(&x, p, 8);
	if (x & high)
		return 0; /* a byte >= 0x80 */
	/* Bytes now < 0x80, so no carry: + 0x60 sets bit 7 iff >= 0x20, and
	 * + 0x01 sets it iff the byte is 0x7F. */
	return ((x + 0x60 * ones) & high) == high && !((x + ones) & high);
}

static int check_bytes(const struct reader *r)
{
	const unsigned char *s = (const unsigned char *)r->buf;
	size_t i = 0, at;
	unsigned line, col;
	uint32_t cp;

	while (i < r->len) {
		while (r->len - i >= 8 && printable8(s + i))
			i += 8;
		if (i >= r->len)
			break;
		at = i;
		if (s[i] >= 0x20 && s[i] < 0x7F) {
			i++;
			continue;
		}
		if (s[i] == 0) {
			offset_pos(r, at, &line, &col);
			return error_set(
				ERROR_INVALID, "%s:%u:%u: NUL byte in file",
				r->name, line, col);
		}
		if (utf8_next(s, r->len, &i, &cp) < 0) {
			offset_pos(r, at, &line, &col);
			return error_set(
				ERROR_INVALID,
				"%s:%u:%u: invalid UTF-8 (byte 0x%02x)",
				r->name, line, col, s[at]);
		}
		if (char_refused_in_stream(cp)) {
			offset_pos(r, at, &line, &col);
			return error_set(
				ERROR_INVALID,
				"%s:%u:%u: control character U+%04X not allowed",
				r->name, line, col, (unsigned)cp);
		}
		if (cp == 0xFEFF && at != 0) {
			offset_pos(r, at, &line, &col);
			return error_set(
				ERROR_INVALID,
				"%s:%u:%u: byte order mark inside the file",
				r->name, line, col);
		}
	}
	return 0;
}

static size_t hash_key(const struct doc_node *map, const char *key)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)(uintptr_t)map;

	for (; *key; key++) {
		h ^= (unsigned char)*key;
		h *= 1099511628211ULL;
	}
	h ^= h >> 29;
	return (size_t)h;
}

/* Insert (map, key) in the table; 1 if it was there already. */
static int
tab_insert(struct reader *r, const struct doc_node *map, const char *key)
{
	size_t i, mask;

	if ((r->tab_n + 1) * 2 > r->tab_cap) {
		size_t cap = r->tab_cap ? r->tab_cap * 2 : 256, j;
		struct key_slot *tab = calloc(cap, sizeof(*tab));

		if (!tab)
			return error_nomem();
		for (j = 0; j < r->tab_cap; j++) {
			if (!r->tab[j].map)
				continue;
			i = hash_key(r->tab[j].map, r->tab[j].key) & (cap - 1);
			while (tab[i].map)
				i = (i + 1) & (cap - 1);
			tab[i] = r->tab[j];
		}
		free(r->tab);
		r->tab = tab;
		r->tab_cap = cap;
	}
	mask = r->tab_cap - 1;
	for (i = hash_key(map, key) & mask; r->tab[i].map; i = (i + 1) & mask)
		if (r->tab[i].map == map && !strcmp(r->tab[i].key, key))
			return 1;
	r->tab[i].map = map;
	r->tab[i].key = key;
	r->tab_n++;
	return 0;
}

/* 1 if key is already in the open map, 0 if not (and now remembered). */
static int key_seen(struct reader *r, const struct frame *f, const char *key)
{
	size_t i;
	int rc;

	if (f->n < SMALL_MAP) {
		for (i = 0; i < f->n; i++)
			if (!strcmp(f->keys[i], key))
				return 1;
		return 0;
	}
	if (f->n == SMALL_MAP)
		for (i = 0; i < f->n; i++)
			if ((rc = tab_insert(r, f->node, f->keys[i])) < 0)
				return rc;
	return tab_insert(r, f->node, key);
}

static int yaml_fail(struct reader *r, const yaml_parser_t *p)
{
	unsigned line, col;
	const char *problem = p->problem ? p->problem : "invalid YAML";

	if (p->error == YAML_MEMORY_ERROR)
		return error_nomem();
	if (p->error == YAML_READER_ERROR) {
		offset_pos(r, p->problem_offset, &line, &col);
	} else {
		line = (unsigned)p->problem_mark.line + 1;
		col = (unsigned)p->problem_mark.column + 1;
	}
	if (p->context)
		return error_set(
			ERROR_INVALID, "%s:%u:%u: %s %s", r->name, line, col,
			problem, p->context);
	return error_set(
		ERROR_INVALID, "%s:%u:%u: %s", r->name, line, col, problem);
}

static int refuse(struct reader *r, const yaml_mark_t *m, const char *what)
{
	return error_set(
		ERROR_INVALID, "%s:%u:%u: %s", r->name, (unsigned)m->line + 1,
		(unsigned)m->column + 1, what);
}

/* Attach a new value node to the open collection (or make it the root). */
static int attach(struct reader *r, struct doc_node *node)
{
	struct frame *top;

	if (r->depth == 0) {
		r->root = node;
		return 0;
	}
	top = &r->stack[r->depth - 1];
	if (top->n == top->cap) {
		size_t cap = top->cap ? top->cap * 2 : 16;
		struct doc_node **items =
			realloc(top->items, cap * sizeof(*items));
		char **keys;

		if (!items) {
			doc_free(node);
			return error_nomem();
		}
		top->items = items;
		keys = realloc(top->keys, cap * sizeof(*keys));
		if (!keys) {
			doc_free(node);
			return error_nomem();
		}
		top->keys = keys;
		top->cap = cap;
	}
	top->items[top->n] = node;
	top->keys[top->n] = top->key;
	top->key = NULL;
	top->n++;
	return 0;
}

/* Close the open collection: give it its children. */
static int finish(struct reader *r)
{
	struct frame *top = &r->stack[r->depth - 1];
	struct doc_node *c = top->node;
	size_t n = top->n;

	if (n > 0) {
		c->items = arena_alloc(r->arena, n * sizeof(*c->items));
		if (c->items)
			c->alloc |= A_ITEMS;
		else if (!(c->items = malloc(n * sizeof(*c->items))))
			return error_nomem();
		memcpy(c->items, top->items, n * sizeof(*c->items));
		if (c->kind == DOC_MAP) {
			c->keys = arena_alloc(r->arena, n * sizeof(*c->keys));
			if (c->keys) {
				c->alloc |= A_KEYS;
			} else if (!(c->keys = malloc(n * sizeof(*c->keys)))) {
				array_free(c, c->items, A_ITEMS);
				c->items = NULL;
				c->alloc &= ~(unsigned)A_ITEMS;
				return error_nomem();
			}
			memcpy(c->keys, top->keys, n * sizeof(*c->keys));
		}
		c->n = c->cap = n;
	}
	top->n = 0;
	r->depth--;
	return 0;
}

static int on_key(struct reader *r, const yaml_event_t *ev)
{
	struct frame *top = &r->stack[r->depth - 1];
	const yaml_mark_t *m = &ev->start_mark;
	const char *key;
	char *copy;
	size_t len;
	int seen;
	char msg[DOC_MAX_KEY + 64];

	if (ev->type != YAML_SCALAR_EVENT)
		return refuse(r, m, "mapping key is not a scalar");
	key = (const char *)ev->data.scalar.value;
	len = ev->data.scalar.length;
	if (ev->data.scalar.style == YAML_LITERAL_SCALAR_STYLE ||
	    ev->data.scalar.style == YAML_FOLDED_SCALAR_STYLE)
		return refuse(r, m, "mapping key is a block scalar");
	if (ev->data.scalar.anchor)
		return refuse(r, m, "anchors are not allowed");
	if (ev->data.scalar.tag)
		return refuse(r, m, "tags are not allowed");
	if (len > DOC_MAX_KEY)
		return refuse(r, m, "mapping key longer than 128 bytes");
	if (memchr(key, '\0', len))
		return refuse(r, m, "NUL byte in mapping key");
	/* The table keeps the pointer: give it the copy the map will own. */
	copy = key_dup_len(key, len);
	if (!copy)
		return ERROR_NOMEM;
	seen = key_seen(r, top, copy);
	if (seen != 0) {
		key_free(copy);
		if (seen < 0)
			return seen;
		snprintf(msg, sizeof(msg), "duplicate key '%s'", key);
		return refuse(r, m, msg);
	}
	top->key = copy;
	return 0;
}

static int on_event(struct reader *r, const yaml_event_t *ev, int *docs)
{
	const yaml_mark_t *m = &ev->start_mark;
	struct doc_node *node;
	int error;

	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (++*docs > 1)
			return refuse(r, m, "more than one document");
		if (ev->data.document_start.tag_directives.start !=
		    ev->data.document_start.tag_directives.end)
			return refuse(r, m, "tag directives are not allowed");
		return 0;
	case YAML_ALIAS_EVENT:
		return refuse(r, m, "aliases are not allowed");
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		return finish(r);
	case YAML_SCALAR_EVENT:
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		break;
	default:
		return 0;
	}
	if (r->depth > 0 && r->stack[r->depth - 1].node->kind == DOC_MAP &&
	    !r->stack[r->depth - 1].key)
		return on_key(r, ev);
	if (ev->type == YAML_SCALAR_EVENT) {
		const char *v = (const char *)ev->data.scalar.value;
		size_t len = ev->data.scalar.length;

		if (ev->data.scalar.anchor)
			return refuse(r, m, "anchors are not allowed");
		if (ev->data.scalar.tag)
			return refuse(r, m, "tags are not allowed");
		if (len > DOC_MAX_SCALAR)
			return refuse(r, m, "scalar longer than 1 MiB");
		if (memchr(v, '\0', len))
			return refuse(r, m, "NUL byte in scalar");
		if (ev->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE &&
		    !doc_utf8_valid(v, len))
			return refuse(r, m, "invalid UTF-8 in scalar");
		node = scalar_new(r->arena, v, len);
		if (!node)
			return ERROR_NOMEM;
		node->plain =
			ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
			looks_nonstring(v, len);
	} else {
		int seq = ev->type == YAML_SEQUENCE_START_EVENT;
		const yaml_char_t *anchor =
			seq ? ev->data.sequence_start.anchor :
			      ev->data.mapping_start.anchor;
		const yaml_char_t *tag = seq ? ev->data.sequence_start.tag :
					       ev->data.mapping_start.tag;

		if (anchor)
			return refuse(r, m, "anchors are not allowed");
		if (tag)
			return refuse(r, m, "tags are not allowed");
		if (r->depth >= DOC_MAX_DEPTH)
			return refuse(r, m, "nesting deeper than 6 levels");
		node = node_new(r->arena, seq ? DOC_SEQ : DOC_MAP, 0);
		if (!node)
			return ERROR_NOMEM;
	}
	node->line = (unsigned)m->line + 1;
	node->col = (unsigned)m->column + 1;
	if ((error = attach(r, node)) < 0)
		return error;
	if (node->kind != DOC_SCALAR) {
		r->stack[r->depth].node = node;
		r->stack[r->depth].key = NULL;
		r->stack[r->depth].n = 0;
		r->depth++;
	}
	return 0;
}

int doc_parse(
	struct doc_node **out,
	const char *buf,
	size_t len,
	const char *name)
{
	return doc_parse_arena(out, buf, len, name, NULL);
}

int doc_parse_arena(
	struct doc_node **out,
	const char *buf,
	size_t len,
	const char *name,
	struct doc_arena *arena)
{
	struct reader r;
	yaml_parser_t parser;
	yaml_event_t ev;
	int error = 0, docs = 0, have_parser = 0, done_stream = 0;
	size_t i;

	memset(&r, 0, sizeof(r));
	r.arena = arena;
	r.name = name ? name : "<input>";
	r.buf = buf;
	r.len = len;
	if (len > DOC_MAX_FILE) {
		error = error_set(
			ERROR_INVALID,
			"%s:1:1: file is %zu bytes, over the limit of %u",
			r.name, len, DOC_MAX_FILE);
		goto done;
	}
	if ((error = check_bytes(&r)) < 0)
		goto done;
	if (!yaml_parser_initialize(&parser)) {
		error = error_nomem();
		goto done;
	}
	have_parser = 1;
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
	while (!done_stream) {
		if (!yaml_parser_parse(&parser, &ev)) {
			error = yaml_fail(&r, &parser);
			goto done;
		}
		done_stream = ev.type == YAML_STREAM_END_EVENT;
		error = on_event(&r, &ev, &docs);
		yaml_event_delete(&ev);
		if (error < 0)
			goto done;
	}
	if (!r.root) {
		/* An empty stream reads as null, like an empty document. */
		r.root = doc_new_scalar_len("", 0);
		if (!r.root) {
			error = ERROR_NOMEM;
			goto done;
		}
		r.root->plain = 1;
		r.root->line = r.root->col = 1;
	}
	*out = r.root;
	r.root = NULL;
done:
	if (have_parser)
		yaml_parser_delete(&parser);
	/* Children of unfinished collections, deepest first. */
	for (i = r.depth; i-- > 0;) {
		struct frame *f = &r.stack[i];
		size_t k;

		for (k = 0; k < f->n; k++) {
			doc_free(f->items[k]);
			key_free(f->keys[k]);
		}
		key_free(f->key);
	}
	for (i = 0; i < DOC_MAX_DEPTH; i++) {
		free(r.stack[i].items);
		free(r.stack[i].keys);
	}
	doc_free(r.root);
	free(r.tab);
	return error;
}

/* ---- writer ------------------------------------------------------------ */

struct out {
	char *p;
	size_t len, cap;
	int error;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->error)
		return;
	if (o->len + n + 1 > o->cap) {
		size_t cap = o->cap ? o->cap : 256;
		char *p;

		while (cap < o->len + n + 1)
			cap *= 2;
		p = realloc(o->p, cap);
		if (!p) {
			o->error = error_nomem();
			return;
		}
		o->p = p;
		o->cap = cap;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void put_indent(struct out *o, unsigned n)
{
	static const char spaces[] = "                                ";

	while (n > 0) {
		unsigned k = n > 32 ? 32 : n;

		put(o, spaces, k);
		n -= k;
	}
}

/* Scan text: valid UTF-8 without NUL; whether it has special characters,
 * tabs, newlines, and only newlines. */
struct scan {
	int special, tab, newline, all_newlines;
};

static int scan_text(struct scan *sc, const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	uint32_t cp;

	memset(sc, 0, sizeof(*sc));
	sc->all_newlines = 1;
	while (i < len) {
		if (s[i] == 0)
			return -1;
		if (s[i] < 0x80) {
			cp = s[i++];
		} else if (utf8_next(s, len, &i, &cp) < 0) {
			return -1;
		}
		if (cp != '\n')
			sc->all_newlines = 0;
		if (cp == '\n')
			sc->newline = 1;
		else if (cp == '\t')
			sc->tab = 1;
		else if (char_special(cp))
			sc->special = 1;
	}
	return 0;
}

static int has(const char *s, size_t len, const char *needle)
{
	size_t n = strlen(needle), i;

	for (i = 0; i + n <= len; i++)
		if (!memcmp(s + i, needle, n))
			return 1;
	return 0;
}

/* Can text be written as a plain scalar and read back as the same string? */
static int plain_safe(const char *s, size_t len, const struct scan *sc)
{
	if (len == 0 || sc->special || sc->tab || sc->newline)
		return 0;
	if (strchr("-?:,[]{}#&*!|>'\"%@`", s[0]))
		return 0;
	if (s[0] == ' ' || s[len - 1] == ' ' || s[len - 1] == ':')
		return 0;
	if (len >= 3 && !memcmp(s, "...", 3))
		return 0;
	if (has(s, len, ": ") || has(s, len, " #"))
		return 0;
	return !looks_nonstring(s, len);
}

static void put_double(struct out *o, const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, start;
	uint32_t cp;
	char esc[16];

	put(o, "\"", 1);
	while (i < len) {
		start = i;
		if (s[i] < 0x80)
			cp = s[i++];
		else if (utf8_next(s, len, &i, &cp) < 0)
			break; /* checked before */
		if (cp == '"' || cp == '\\') {
			esc[0] = '\\';
			esc[1] = (char)cp;
			put(o, esc, 2);
		} else if (cp == '\n') {
			put(o, "\\n", 2);
		} else if (cp == '\t') {
			put(o, "\\t", 2);
		} else if (cp == '\r') {
			put(o, "\\r", 2);
		} else if (cp == 0x2028) {
			put(o, "\\L", 2);
		} else if (cp == 0x2029) {
			put(o, "\\P", 2);
		} else if (char_special(cp)) {
			if (cp < 0x100)
				snprintf(
					esc, sizeof(esc), "\\x%02X",
					(unsigned)cp);
			else
				snprintf(
					esc, sizeof(esc), "\\u%04X",
					(unsigned)cp);
			puts_(o, esc);
		} else {
			put(o, str + start, i - start);
		}
	}
	put(o, "\"", 1);
}

/* Literal block style is safe for multi-line text without special
 * characters that has some content besides line breaks. */
static int literal_safe(const struct scan *sc)
{
	return sc->newline && !sc->special && !sc->all_newlines;
}

static void put_literal(struct out *o, const char *s, size_t len, unsigned ind)
{
	size_t i = 0, trail = 0, end, first;

	while (trail < len && s[len - 1 - trail] == '\n')
		trail++;
	put(o, "|", 1);
	for (first = 0; first < len && s[first] == '\n'; first++)
		;
	if (first < len && (s[first] == ' ' || s[first] == '\t'))
		put(o, "2", 1);
	if (trail == 0)
		put(o, "-", 1);
	else if (trail > 1)
		put(o, "+", 1);
	put(o, "\n", 1);
	end = len - (trail ? 1 : 0); /* the last break ends the last line */
	while (i < end) {
		const char *nl = memchr(s + i, '\n', end - i);
		size_t lend = nl ? (size_t)(nl - s) : end;

		if (lend > i) {
			put_indent(o, ind);
			put(o, s + i, lend - i);
		}
		put(o, "\n", 1);
		i = lend + 1;
	}
	if (i == end && end > 0 && s[end - 1] == '\n')
		put(o, "\n", 1); /* an empty last line before the final break */
}

static int emit_key(struct out *o, const char *key)
{
	size_t len = strlen(key);
	struct scan sc;

	if (len > DOC_MAX_KEY)
		return error_set(
			ERROR_INVALID, "cannot write key longer than %u bytes",
			DOC_MAX_KEY);
	if (scan_text(&sc, key, len) < 0)
		return error_set(ERROR_INVALID, "cannot write key: not UTF-8");
	if (plain_safe(key, len, &sc))
		put(o, key, len);
	else
		put_double(o, key, len);
	return 0;
}

/* Write a scalar after "key:", "-" or at the root (lead ""). */
static int emit_scalar(
	struct out *o,
	const struct doc_node *v,
	unsigned ind,
	const char *lead)
{
	struct scan sc;

	if (v->len > DOC_MAX_SCALAR)
		return error_set(
			ERROR_INVALID, "cannot write scalar longer than 1 MiB");
	if (v->plain && looks_nonstring(v->str, v->len)) {
		if (v->len > 0) {
			puts_(o, lead);
			put(o, v->str, v->len);
		}
		put(o, "\n", 1);
		return 0;
	}
	if (scan_text(&sc, v->str, v->len) < 0)
		return error_set(
			ERROR_INVALID, "cannot write scalar: not UTF-8 or NUL");
	puts_(o, lead);
	if (plain_safe(v->str, v->len, &sc)) {
		put(o, v->str, v->len);
		put(o, "\n", 1);
	} else if (literal_safe(&sc)) {
		put_literal(o, v->str, v->len, ind);
	} else {
		put_double(o, v->str, v->len);
		put(o, "\n", 1);
	}
	return 0;
}

static int emit_map(
	struct out *o,
	const struct doc_node *m,
	unsigned ind,
	int inline_first,
	unsigned depth);
static int emit_seq(
	struct out *o,
	const struct doc_node *s,
	unsigned ind,
	int inline_first,
	unsigned depth);

/* Write the value after "key:" (dash 0) or "-" (dash 1) at column ind. */
static int emit_value(
	struct out *o,
	const struct doc_node *v,
	unsigned ind,
	int dash,
	unsigned depth)
{
	if (v->kind == DOC_SCALAR)
		return emit_scalar(o, v, ind + 2, " ");
	if (v->n == 0) {
		puts_(o, v->kind == DOC_SEQ ? " []\n" : " {}\n");
		return 0;
	}
	put(o, dash ? " " : "\n", 1);
	if (v->kind == DOC_MAP)
		return emit_map(o, v, ind + 2, dash, depth + 1);
	return emit_seq(o, v, ind + 2, dash, depth + 1);
}

static int emit_map(
	struct out *o,
	const struct doc_node *m,
	unsigned ind,
	int inline_first,
	unsigned depth)
{
	size_t i;
	int error;

	if (depth > DOC_MAX_DEPTH)
		return error_set(
			ERROR_INVALID,
			"cannot write nesting deeper than %d levels",
			DOC_MAX_DEPTH);
	for (i = 0; i < m->n; i++) {
		if (i > 0 || !inline_first)
			put_indent(o, ind);
		if ((error = emit_key(o, m->keys[i])) < 0)
			return error;
		put(o, ":", 1);
		if ((error = emit_value(o, m->items[i], ind, 0, depth)) < 0)
			return error;
	}
	return 0;
}

static int emit_seq(
	struct out *o,
	const struct doc_node *s,
	unsigned ind,
	int inline_first,
	unsigned depth)
{
	size_t i;
	int error;

	if (depth > DOC_MAX_DEPTH)
		return error_set(
			ERROR_INVALID,
			"cannot write nesting deeper than %d levels",
			DOC_MAX_DEPTH);
	for (i = 0; i < s->n; i++) {
		if (i > 0 || !inline_first)
			put_indent(o, ind);
		put(o, "-", 1);
		if ((error = emit_value(o, s->items[i], ind, 1, depth)) < 0)
			return error;
	}
	return 0;
}

int doc_emit(char **out, size_t *out_len, const struct doc_node *root)
{
	struct out o = { NULL, 0, 0, 0 };
	int error;

	if (root->kind == DOC_SCALAR)
		error = emit_scalar(&o, root, 2, "");
	else if (root->n == 0)
		error = (puts_(&o, root->kind == DOC_SEQ ? "[]\n" : "{}\n"), 0);
	else if (root->kind == DOC_MAP)
		error = emit_map(&o, root, 0, 0, 1);
	else
		error = emit_seq(&o, root, 0, 0, 1);
	if (error == 0 && o.error)
		error = o.error;
	if (error == 0 && o.len > DOC_MAX_FILE)
		error = error_set(
			ERROR_INVALID, "cannot write a file over %u bytes",
			DOC_MAX_FILE);
	if (error == 0) {
		put(&o, "", 0);
		if (o.error) {
			error = o.error;
		} else {
			o.p[o.len] = '\0';
			*out = o.p;
			*out_len = o.len;
			o.p = NULL;
		}
	}
	free(o.p);
	return error;
}
