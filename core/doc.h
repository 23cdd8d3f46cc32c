/*
 * core/doc: YAML documents as ordered trees.
 *
 * The reader uses libyaml's event API with hard limits and refuses, with
 * "name:line:col: rule", anything outside the subset plansync accepts:
 * aliases and anchors, tags, more than one document, nesting deeper than
 * DOC_MAX_DEPTH collections, a scalar over DOC_MAX_SCALAR bytes, input over
 * DOC_MAX_FILE bytes, invalid UTF-8, NUL bytes, duplicate mapping keys,
 * mapping keys that are not plain or quoted scalars.
 *
 * The writer emits one canonical form of a tree, in the order its children
 * are stored (core/plan puts schema keys in schema order first): block
 * style, 2-space indent, sequences indented under their key, strings quoted
 * only when YAML needs it, UTF-8, LF, final newline.  Empty sequences and
 * mappings are written "[]" and "{}".
 */
#ifndef PLANSYNC_DOC_H
#define PLANSYNC_DOC_H

#include <stddef.h>

#define DOC_MAX_FILE (16u << 20) /* 16 MiB */
#define DOC_MAX_SCALAR (1u << 20) /* 1 MiB */
#define DOC_MAX_DEPTH 6 /* collections inside collections */
#define DOC_MAX_KEY 128 /* bytes in a mapping key */

enum doc_kind { DOC_SCALAR, DOC_SEQ, DOC_MAP };

/*
 * A node.  A plain value type: callers read the fields directly, and build
 * or change trees only through the functions below.
 */
struct doc_node {
	enum doc_kind kind;
	unsigned line, col; /* 1-based source position; 0 if built in memory */

	/* DOC_SCALAR: NUL-terminated UTF-8 of len bytes (no NUL inside). */
	char *str;
	size_t len;
	/*
	 * Non-zero when the scalar was written plain (unquoted) in the source
	 * and so may be a YAML null, bool or number rather than a string; the
	 * writer keeps such a scalar plain.  Scalars built in memory are
	 * strings (plain = 0) unless made with doc_new_plain().  Plain text
	 * that YAML 1.1 reads as a string anyway ("done", "2023-12-01") gets
	 * plain = 0, so it equals the same text built with doc_new_scalar();
	 * plain = 1 only for "", "~", null, yes/no/true/false/on/off...,
	 * numbers and the like.
	 */
	int plain;

	/* DOC_SEQ, DOC_MAP: n children; for a map, keys[i] names items[i]. */
	size_t n, cap;
	char **keys;
	struct doc_node **items;

	/* Internal: which of the node and its arrays come from a
	 * doc_arena's chunk (0: all from malloc). */
	unsigned alloc;
};

/*
 * Parse `len` bytes of YAML (one document) into a tree.  `name` is used in
 * messages ("actions/P1/P1-A1.yaml:3:7: duplicate key 'status'").
 * ERROR_INVALID on bad input.
 */
int doc_parse(
	struct doc_node **out,
	const char *buf,
	size_t len,
	const char *name);

/*
 * An allocator for a reader of many documents (plan_load_dir): the nodes
 * and child arrays of the trees it parses come from large chunks shared
 * by the trees, instead of a malloc each, and a fresh process touches far
 * fewer pages.  The trees are ordinary trees: every function here works on
 * them, doc_free frees them (a chunk goes back to the system with the last
 * node in it).  doc_arena_done ends the arena, not its trees.  One arena
 * per thread; trees may then be used and freed by any thread.
 */
struct doc_arena;

/* NULL on out of memory (message set). */
struct doc_arena *doc_arena_new(void);
void doc_arena_done(struct doc_arena *arena);
/* Chunks all arenas hold now (for tests: 0 once every tree is freed). */
size_t doc_arena_chunks(void);

/* doc_parse with the tree's nodes from arena (NULL: malloc). */
int doc_parse_arena(
	struct doc_node **out,
	const char *buf,
	size_t len,
	const char *name,
	struct doc_arena *arena);

/* Canonical text of a tree, malloc'd and NUL-terminated. */
int doc_emit(char **out, size_t *out_len, const struct doc_node *root);

void doc_free(struct doc_node *node);

/* Constructors: NULL on out of memory (message set). */
struct doc_node *doc_new_scalar(const char *str);
struct doc_node *doc_new_scalar_len(const char *str, size_t len);
struct doc_node *doc_new_plain(const char *str); /* true, false, 3 */
struct doc_node *doc_new_seq(void);
struct doc_node *doc_new_map(void);
struct doc_node *doc_clone(const struct doc_node *node);

/* Map access.  doc_map_get returns a borrowed child or NULL. */
struct doc_node *doc_map_get(const struct doc_node *map, const char *key);
/* Index of key in map, or -1. */
long doc_map_index(const struct doc_node *map, const char *key);
/* Replace the value of key (freeing the old one) or append key; takes
 * ownership of value, even on failure. */
int doc_map_set(struct doc_node *map, const char *key, struct doc_node *value);
/* Insert key at position pos (appends if pos >= n); key must be absent. */
int doc_map_insert(
	struct doc_node *map,
	size_t pos,
	const char *key,
	struct doc_node *value);
/* Remove and free key's value; ERROR_NOTFOUND if absent. */
int doc_map_remove(struct doc_node *map, const char *key);

/* Append to a sequence; takes ownership of value, even on failure. */
int doc_seq_append(struct doc_node *seq, struct doc_node *value);
/* Remove and free item i of a sequence. */
void doc_seq_remove(struct doc_node *seq, size_t i);

/* Structural equality: kinds, keys in order, scalar bytes and plainness. */
int doc_equal(const struct doc_node *a, const struct doc_node *b);

/* The scalar's text, or NULL if node is NULL or not a scalar. */
const char *doc_str(const struct doc_node *node);

/* Non-zero if str is valid UTF-8 (no overlongs, surrogates) without NUL. */
int doc_utf8_valid(const char *str, size_t len);
/* YAML 1.1 null ("", "~", "null"...) and bool (yes, no, on, off, true...)
 * words, as plain scalars would read them. */
int doc_is_null_word(const char *s, size_t len);
int doc_is_bool_word(const char *s, size_t len);
/* Shape YYYY-MM-DD (digits only; not a calendar check). */
int doc_is_date(const char *s, size_t len);

#endif
