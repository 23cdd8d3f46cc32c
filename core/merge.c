#include "merge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "textmerge.h"

/* How a field merges when both sides changed it differently. */
enum ftype {
	F_SCALAR, /* time rule */
	F_TEXT, /* textmerge, then time rule */
	F_SET, /* set of scalars */
	F_OPAQUE, /* keys outside the schema: time rule */
	F_REVOKED, /* partners: true wins */
	F_ROLE, /* partners: editor wins */
	F_UPDATES, /* entries by id */
	F_PRIORITIES, /* entries by id */
	F_PARTNERS, /* entries by email */
	F_CONFLICTS, /* records: set, plus this merge's records */
};

struct field {
	const char *key;
	enum ftype type;
};

struct schema {
	const struct field *fields; /* canonical order, NULL key ends */
};

static const struct field action_fields[] = {
	{ "id", F_SCALAR },           { "priority", F_SCALAR },
	{ "action", F_TEXT },         { "information", F_TEXT },
	{ "status", F_SCALAR },       { "timescale", F_SCALAR },
	{ "responsible", F_SET },     { "updates", F_UPDATES },
	{ "conflicts", F_CONFLICTS }, { NULL, 0 }
};
static const struct field update_fields[] = {
	{ "id", F_SCALAR },       { "text", F_TEXT },
	{ "date", F_SCALAR },     { "timescale", F_SCALAR },
	{ "responsible", F_SET }, { NULL, 0 }
};
static const struct field meta_fields[] = {
	{ "schema", F_SCALAR },         { "title", F_TEXT },
	{ "partnership", F_SCALAR },    { "updated", F_SCALAR },
	{ "priorities", F_PRIORITIES }, { NULL, 0 }
};
static const struct field priority_fields[] = { { "id", F_SCALAR },
						{ "title", F_TEXT },
						{ "focus", F_TEXT },
						{ NULL, 0 } };
static const struct field partners_fields[] = { { "partners", F_PARTNERS },
						{ NULL, 0 } };
static const struct field partner_fields[] = { { "email", F_SCALAR },
					       { "name", F_SCALAR },
					       { "organisation", F_SCALAR },
					       { "role", F_ROLE },
					       { "key", F_SCALAR },
					       { "revoked", F_REVOKED },
					       { NULL, 0 } };

struct state {
	const struct merge_ctx *ctx;
	struct merge_conflict *conf;
	size_t nconf, cap;
};

/* ---- values ----------------------------------------------------------- */

static struct doc_node *dup(const struct doc_node *n)
{
	return n ? doc_clone(n) : NULL;
}

/* Canonical bytes of a value; NULL (message set) on failure. */
static char *emit_value(const struct doc_node *n, size_t *len)
{
	char *s = NULL;
	if (doc_emit(&s, len, n) < 0)
		return NULL;
	return s;
}

/*
 * Order of two values by their canonical bytes (absent first).  *err set
 * on failure.
 */
static int
value_cmp(int *err, const struct doc_node *a, const struct doc_node *b)
{
	char *sa = NULL, *sb = NULL;
	size_t la = 0, lb = 0;
	int c = 0;

	if (!a || !b)
		return a ? 1 : b ? -1 : 0;
	if (a->kind == DOC_SCALAR && b->kind == DOC_SCALAR &&
	    !a->plain == !b->plain) {
		size_t n = a->len < b->len ? a->len : b->len;
		c = memcmp(a->str, b->str, n);
		return c ? c : (a->len > b->len) - (a->len < b->len);
	}
	sa = emit_value(a, &la);
	sb = emit_value(b, &lb);
	if (!sa || !sb) {
		*err = ERROR_NOMEM;
	} else {
		size_t n = la < lb ? la : lb;
		c = memcmp(sa, sb, n);
		if (!c)
			c = (la > lb) - (la < lb);
	}
	free(sa);
	free(sb);
	return c;
}

/*
 * Equality as written: a scalar read plain ("true") and one built as a
 * string are the same value when the writer gives them the same bytes.
 */
static int same(const struct doc_node *a, const struct doc_node *b)
{
	size_t i;

	if (a == b)
		return 1;
	if (!a || !b || a->kind != b->kind)
		return 0;
	if (a->kind == DOC_SCALAR) {
		int err = 0;
		if (a->len != b->len || memcmp(a->str, b->str, a->len))
			return 0;
		if (!a->plain == !b->plain)
			return 1;
		return value_cmp(&err, a, b) == 0 && !err;
	}
	if (a->n != b->n)
		return 0;
	for (i = 0; i < a->n; i++) {
		if (a->kind == DOC_MAP && strcmp(a->keys[i], b->keys[i]))
			return 0;
		if (!same(a->items[i], b->items[i]))
			return 0;
	}
	return 1;
}

static unsigned depth(const struct doc_node *n)
{
	unsigned d = 0, c;
	size_t i;

	if (!n || n->kind == DOC_SCALAR)
		return 0;
	for (i = 0; i < n->n; i++)
		if ((c = depth(n->items[i])) > d)
			d = c;
	return d + 1;
}

static char *join(const char *prefix, const char *key)
{
	size_t n = strlen(prefix) + strlen(key) + 2;
	char *s = malloc(n);

	if (!s) {
		error_nomem();
		return NULL;
	}
	if (*prefix)
		snprintf(s, n, "%s/%s", prefix, key);
	else
		snprintf(s, n, "%s", key);
	return s;
}

static int append(struct doc_node *map, const char *key, struct doc_node *v)
{
	if (!v)
		return 0;
	return doc_map_insert(map, map->n, key, v);
}

static const struct field *field_of(const struct field *f, const char *key)
{
	for (; f->key; f++)
		if (!strcmp(f->key, key))
			return f;
	return NULL;
}

/* Position of a schema key (its index) or of another key (after all). */
static size_t key_rank(const struct field *schema, const char *key)
{
	size_t i;

	for (i = 0; schema[i].key; i++)
		if (!strcmp(schema[i].key, key))
			return i;
	return (size_t)-1;
}

/*
 * Set key in a canonical map, keeping the order: schema keys in schema
 * order, then other keys in byte order.  Takes ownership of v.
 */
static int canon_set(
	struct doc_node *map,
	const struct field *schema,
	const char *key,
	struct doc_node *v)
{
	size_t rank = key_rank(schema, key), i;

	if (!v)
		return ERROR_NOMEM;
	if (doc_map_index(map, key) >= 0)
		return doc_map_set(map, key, v);
	for (i = 0; i < map->n; i++) {
		size_t r = key_rank(schema, map->keys[i]);
		if (r > rank || (r == rank && strcmp(map->keys[i], key) > 0))
			break;
	}
	return doc_map_insert(map, i, key, v);
}

/* ---- conflicts -------------------------------------------------------- */

/* Empty (unknown) or 40 or 64 lowercase hex digits. */
static int commit_ok(const char *c)
{
	size_t n = strspn(c, "0123456789abcdef");
	return c[n] == '\0' && (n == 0 || n == 40 || n == 64);
}

/*
 * The field of a record is one non-empty line: a key outside the schema
 * named "" or holding line breaks is written with them escaped.
 */
static char *field_name(const char *path)
{
	size_t n = 3, i, j = 0;
	char *s;

	for (i = 0; path[i]; i++)
		n += (path[i] == '\n' || path[i] == '\r' || path[i] == '\\') ?
			     2 :
			     1;
	if (!(s = malloc(n)))
		return NULL;
	if (!*path) {
		memcpy(s, "\"\"", 3);
		return s;
	}
	for (i = 0; path[i]; i++) {
		if (path[i] == '\n' || path[i] == '\r' || path[i] == '\\') {
			s[j++] = '\\';
			s[j++] = path[i] == '\n' ? 'n' :
				 path[i] == '\r' ? 'r' :
						   '\\';
		} else {
			s[j++] = path[i];
		}
	}
	s[j] = '\0';
	return s;
}

int merge_who_none(
	struct merge_who *out,
	const struct merge_ctx *ctx,
	enum merge_side side,
	const char *field)
{
	(void)ctx;
	(void)side;
	(void)field;
	out->time = 0;
	out->commit = "";
	out->email = "";
	return 0;
}

static int
who(struct merge_who *out,
    struct state *st,
    enum merge_side side,
    const char *field)
{
	int error;

	memset(out, 0, sizeof(*out));
	if (!st->ctx || !st->ctx->who)
		return error_set(
			ERROR_GENERIC,
			"merge of field '%s' needs who changed it (no history "
			"given)",
			field);
	if ((error = st->ctx->who(out, st->ctx, side, field)) < 0)
		return error;
	if (!out->commit)
		out->commit = "";
	if (!out->email)
		out->email = "";
	if (!commit_ok(out->commit))
		return error_set(
			ERROR_INVALID,
			"history of field '%s' gave a bad commit id '%.64s'",
			field, out->commit);
	return 0;
}

/* 1 if a (with value va) wins the time rule over b (value vb). */
static int
wins(int *err,
     const struct merge_who *a,
     const struct doc_node *va,
     const struct merge_who *b,
     const struct doc_node *vb)
{
	int c;

	if (a->time != b->time)
		return a->time > b->time;
	if ((c = strcmp(a->commit, b->commit)) != 0)
		return c > 0;
	return value_cmp(err, va, vb) > 0;
}

static int
record(struct state *st,
       const char *field,
       const struct doc_node *base,
       const struct doc_node *kept,
       const struct merge_who *kw,
       const struct doc_node *other,
       const struct merge_who *ow)
{
	struct merge_conflict *c;

	if (st->nconf == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 4;
		struct merge_conflict *v = realloc(st->conf, cap * sizeof(*v));
		if (!v)
			return error_nomem();
		st->conf = v;
		st->cap = cap;
	}
	c = &st->conf[st->nconf];
	memset(c, 0, sizeof(*c));
	st->nconf++;
	c->field = field_name(field);
	c->kept_by = strdup(kw->email);
	c->kept_commit = strdup(kw->commit);
	c->other_by = strdup(ow->email);
	c->other_commit = strdup(ow->commit);
	c->kept_time = kw->time;
	c->other_time = ow->time;
	c->base = dup(base);
	c->kept = dup(kept);
	c->other = dup(other);
	if (!c->field || !c->kept_by || !c->kept_commit || !c->other_by ||
	    !c->other_commit || (base && !c->base) || (kept && !c->kept) ||
	    (other && !c->other))
		return error_nomem();
	return 0;
}

/* Both sides changed field differently: the time rule picks. */
static int
by_time(struct doc_node **out,
	struct state *st,
	const char *field,
	const struct doc_node *b,
	const struct doc_node *o,
	const struct doc_node *t)
{
	struct merge_who wo, wt;
	int error = 0, ow;

	if ((error = who(&wo, st, MERGE_OURS, field)) < 0 ||
	    (error = who(&wt, st, MERGE_THEIRS, field)) < 0)
		return error;
	ow = wins(&error, &wo, o, &wt, t);
	if (error < 0)
		return error;
	if (ow)
		error = record(st, field, b, o, &wo, t, &wt);
	else
		error = record(st, field, b, t, &wt, o, &wo);
	if (error < 0)
		return error;
	*out = dup(ow ? o : t);
	return *out ? 0 : ERROR_NOMEM;
}

/* A safer-value rule picked `keep` (o or t) with no time rule. */
static int
by_rule(struct doc_node **out,
	struct state *st,
	const char *field,
	const struct doc_node *b,
	const struct doc_node *o,
	const struct doc_node *t,
	int keep_ours)
{
	struct merge_who wo, wt;
	int error;

	if ((error = who(&wo, st, MERGE_OURS, field)) < 0 ||
	    (error = who(&wt, st, MERGE_THEIRS, field)) < 0)
		return error;
	if (keep_ours)
		error = record(st, field, b, o, &wo, t, &wt);
	else
		error = record(st, field, b, t, &wt, o, &wo);
	if (error < 0)
		return error;
	*out = dup(keep_ours ? o : t);
	return *out ? 0 : ERROR_NOMEM;
}

/* ---- sets ------------------------------------------------------------- */

static int set_has(const struct doc_node *seq, const struct doc_node *v)
{
	size_t i;

	if (!seq)
		return 0;
	for (i = 0; i < seq->n; i++)
		if (same(seq->items[i], v))
			return 1;
	return 0;
}

struct sortitem {
	const struct doc_node *node;
	const char *k1; /* primary key (may be NULL: after all others) */
	const char *k2;
	long num; /* numeric key for priorities */
};

static int sortitem_cmp(const void *pa, const void *pb)
{
	const struct sortitem *a = pa, *b = pb;
	int c;

	if (a->num != b->num)
		return a->num < b->num ? -1 : 1;
	if (!a->k1 != !b->k1)
		return a->k1 ? -1 : 1;
	if (a->k1 && (c = strcmp(a->k1, b->k1)) != 0)
		return c;
	if (!a->k2 != !b->k2)
		return a->k2 ? -1 : 1;
	return a->k2 ? strcmp(a->k2, b->k2) : 0;
}

/* A list of scalars (what a set merge can order by bytes). */
static int scalar_seq(const struct doc_node *n)
{
	size_t i;

	if (n->kind != DOC_SEQ)
		return 0;
	for (i = 0; i < n->n; i++)
		if (n->items[i]->kind != DOC_SCALAR)
			return 0;
	return 1;
}

static int merge_set(
	struct doc_node **out,
	const struct doc_node *b,
	const struct doc_node *o,
	const struct doc_node *t)
{
	struct doc_node *res = doc_new_seq();
	struct sortitem *add = NULL;
	size_t nadd = 0, i, s;
	const struct doc_node *sides[2] = { o, t };
	int error = 0;

	if (!res)
		return ERROR_NOMEM;
	add = calloc(o->n + t->n + 1, sizeof(*add));
	if (!add) {
		error = error_nomem();
		goto done;
	}
	for (i = 0; b && i < b->n; i++)
		if (set_has(o, b->items[i]) && set_has(t, b->items[i]) &&
		    !set_has(res, b->items[i]) &&
		    (error = doc_seq_append(res, dup(b->items[i]))) < 0)
			goto done;
	for (s = 0; s < 2; s++) {
		for (i = 0; i < sides[s]->n; i++) {
			const struct doc_node *v = sides[s]->items[i];
			size_t j;
			int seen = set_has(b, v);
			for (j = 0; j < nadd && !seen; j++)
				seen = same(add[j].node, v);
			if (seen)
				continue;
			add[nadd].node = v;
			add[nadd].k1 = v->str;
			nadd++;
		}
	}
	qsort(add, nadd, sizeof(*add), sortitem_cmp);
	for (i = 0; i < nadd; i++)
		if ((error = doc_seq_append(res, dup(add[i].node))) < 0)
			goto done;
	*out = res;
	res = NULL;
done:
	free(add);
	doc_free(res);
	return error;
}

/* ---- fields, entries, records ------------------------------------------ */

static int merge_fields(
	struct doc_node **out,
	struct state *st,
	const char *prefix,
	const struct field *schema,
	const struct doc_node *b,
	const struct doc_node *o,
	const struct doc_node *t);

static int merge_entries(
	struct doc_node **out,
	struct state *st,
	const char *prefix,
	enum ftype type,
	const struct doc_node *b,
	const struct doc_node *o,
	const struct doc_node *t);

/*
 * One field: any of b, o, t may be NULL (absent).  *out the merged value
 * or NULL (absent).
 */
static int merge_value(
	struct doc_node **out,
	struct state *st,
	const char *field,
	enum ftype type,
	const struct doc_node *b,
	const struct doc_node *o,
	const struct doc_node *t)
{
	int error;

	*out = NULL;
	if (same(o, t) || same(b, t)) {
		*out = dup(o);
		return o && !*out ? ERROR_NOMEM : 0;
	}
	if (same(b, o)) {
		*out = dup(t);
		return t && !*out ? ERROR_NOMEM : 0;
	}
	if (!o || !t) {
		/* Deleted on one side, changed on the other: keep the edit. */
		struct merge_who wo, wt;
		int ours = o != NULL;
		if ((error = who(&wo, st, MERGE_OURS, field)) < 0 ||
		    (error = who(&wt, st, MERGE_THEIRS, field)) < 0)
			return error;
		if ((error = record(
			     st, field, b, ours ? o : t, ours ? &wo : &wt, NULL,
			     ours ? &wt : &wo)) < 0)
			return error;
		*out = dup(ours ? o : t);
		return *out ? 0 : ERROR_NOMEM;
	}
	switch (type) {
	case F_SET:
		if (scalar_seq(o) && scalar_seq(t) && (!b || scalar_seq(b)))
			return merge_set(out, b, o, t);
		break;
	case F_TEXT:
		if (o->kind == DOC_SCALAR && t->kind == DOC_SCALAR &&
		    (!b || b->kind == DOC_SCALAR)) {
			char *m = NULL;
			size_t len = 0;
			error = textmerge_merge3(
				&m, &len, b ? b->str : "", b ? b->len : 0,
				o->str, o->len, t->str, t->len);
			if (error == 0) {
				*out = doc_new_scalar_len(m, len);
				free(m);
				return *out ? 0 : ERROR_NOMEM;
			}
			if (error != ERROR_CONFLICT)
				return error;
			error_clear();
		}
		break;
	case F_REVOKED: {
		int ot = o->kind == DOC_SCALAR && !strcmp(o->str, "true");
		int tt = t->kind == DOC_SCALAR && !strcmp(t->str, "true");
		if (ot != tt)
			return by_rule(out, st, field, b, o, t, ot);
		break;
	}
	case F_ROLE: {
		int oe = o->kind == DOC_SCALAR && !strcmp(o->str, "editor");
		int te = t->kind == DOC_SCALAR && !strcmp(t->str, "editor");
		if (oe != te)
			return by_rule(out, st, field, b, o, t, oe);
		break;
	}
	case F_UPDATES:
	case F_PRIORITIES:
	case F_PARTNERS:
		if (o->kind == DOC_SEQ && t->kind == DOC_SEQ &&
		    (!b || b->kind == DOC_SEQ))
			return merge_entries(out, st, field, type, b, o, t);
		break;
	default:
		break;
	}
	return by_time(out, st, field, b, o, t);
}

static int merge_fields(
	struct doc_node **out,
	struct state *st,
	const char *prefix,
	const struct field *schema,
	const struct doc_node *b,
	const struct doc_node *o,
	const struct doc_node *t);

static const char *entry_id(const struct doc_node *e, enum ftype type)
{
	const char *k = type == F_PARTNERS ? "email" : "id";
	if (!e || e->kind != DOC_MAP)
		return NULL;
	return doc_str(doc_map_get(e, k));
}

static const struct doc_node *
entry_find(const struct doc_node *list, const char *id, enum ftype type)
{
	size_t i;

	for (i = 0; list && i < list->n; i++) {
		const char *e = entry_id(list->items[i], type);
		if (e && !strcmp(e, id))
			return list->items[i];
	}
	return NULL;
}

static const struct field *entry_schema(enum ftype type)
{
	if (type == F_UPDATES)
		return update_fields;
	if (type == F_PRIORITIES)
		return priority_fields;
	return partner_fields;
}

/* One entry of a list merged by id; *out NULL when it is gone. */
static int merge_entry(
	struct doc_node **out,
	struct state *st,
	const char *path,
	enum ftype type,
	const struct doc_node *b,
	const struct doc_node *o,
	const struct doc_node *t)
{
	int error;

	*out = NULL;
	if (same(o, t) || same(b, t)) {
		*out = dup(o);
		return o && !*out ? ERROR_NOMEM : 0;
	}
	if (same(b, o)) {
		*out = dup(t);
		return t && !*out ? ERROR_NOMEM : 0;
	}
	if (!o || !t) {
		/* Deleted on one side, edited on the other: keep the edit. */
		struct merge_who wo, wt;
		int ours = o != NULL;
		struct doc_node *kept = dup(ours ? o : t);

		if (!kept)
			return ERROR_NOMEM;
		/* A partner: kept, but revoked, the safer of the two. */
		if (type == F_PARTNERS && kept->kind == DOC_MAP &&
		    (error = canon_set(
			     kept, partner_fields, "revoked",
			     doc_new_plain("true"))) < 0)
			goto fail;
		if ((error = who(&wo, st, MERGE_OURS, path)) < 0 ||
		    (error = who(&wt, st, MERGE_THEIRS, path)) < 0 ||
		    (error =
			     record(st, path, b, kept, ours ? &wo : &wt, NULL,
				    ours ? &wt : &wo)) < 0)
			goto fail;
		*out = kept;
		return 0;
fail:
		doc_free(kept);
		return error;
	}
	if (o->kind != DOC_MAP || t->kind != DOC_MAP ||
	    (b && b->kind != DOC_MAP))
		return by_time(out, st, path, b, o, t);
	return merge_fields(out, st, path, entry_schema(type), b, o, t);
}

static long prio_num(const char *id)
{
	char *end;
	long n;

	if (!id || id[0] != 'P')
		return -1;
	n = strtol(id + 1, &end, 10);
	return *end ? -1 : n;
}

static int merge_entries(
	struct doc_node **out,
	struct state *st,
	const char *prefix,
	enum ftype type,
	const struct doc_node *b,
	const struct doc_node *o,
	const struct doc_node *t)
{
	struct doc_node *res = doc_new_seq(), *m = NULL;
	struct sortitem *add = NULL;
	size_t nadd = 0, i, s;
	const struct doc_node *sides[2] = { o, t };
	char *path = NULL;
	int error = 0;

	if (!res)
		return ERROR_NOMEM;
	/* Entries without an id cannot be matched: the time rule decides. */
	for (s = 0; s < 3; s++) {
		const struct doc_node *l = s == 0 ? b : sides[s - 1];
		for (i = 0; l && i < l->n; i++) {
			if (!entry_id(l->items[i], type)) {
				doc_free(res);
				return by_time(out, st, prefix, b, o, t);
			}
		}
	}
	add = calloc(o->n + t->n + 1, sizeof(*add));
	if (!add) {
		error = error_nomem();
		goto done;
	}
	for (i = 0; b && i < b->n; i++) {
		const char *id = entry_id(b->items[i], type);
		if (entry_find(res, id, type))
			continue; /* duplicate id: first one wins */
		free(path);
		if (!(path = join(prefix, id))) {
			error = ERROR_NOMEM;
			goto done;
		}
		if ((error = merge_entry(
			     &m, st, path, type, b->items[i],
			     entry_find(o, id, type),
			     entry_find(t, id, type))) < 0)
			goto done;
		if (m && (error = doc_seq_append(res, m)) < 0) {
			m = NULL;
			goto done;
		}
		m = NULL;
	}
	for (s = 0; s < 2; s++) {
		for (i = 0; i < sides[s]->n; i++) {
			const char *id = entry_id(sides[s]->items[i], type);
			size_t j;
			int seen = entry_find(b, id, type) != NULL;
			for (j = 0; j < nadd && !seen; j++)
				seen = !strcmp(add[j].k2, id);
			if (seen)
				continue;
			free(path);
			if (!(path = join(prefix, id))) {
				error = ERROR_NOMEM;
				goto done;
			}
			if ((error = merge_entry(
				     &m, st, path, type, NULL,
				     entry_find(o, id, type),
				     entry_find(t, id, type))) < 0)
				goto done;
			/* Sort keys are read from the merged entry. */
			add[nadd].node = m;
			add[nadd].k2 = entry_id(m, type);
			if (type == F_UPDATES)
				add[nadd].k1 = doc_str(doc_map_get(m, "date"));
			else if (type == F_PRIORITIES)
				add[nadd].num = prio_num(add[nadd].k2);
			nadd++;
			m = NULL;
		}
	}
	qsort(add, nadd, sizeof(*add), sortitem_cmp);
	for (i = 0; i < nadd; i++) {
		struct doc_node *e = (struct doc_node *)add[i].node;
		add[i].node = NULL;
		if ((error = doc_seq_append(res, e)) < 0)
			goto done;
	}
	*out = res;
	res = NULL;
done:
	for (i = 0; add && i < nadd; i++)
		doc_free((struct doc_node *)add[i].node);
	free(add);
	free(path);
	doc_free(m);
	doc_free(res);
	return error;
}

/* A record map, SPEC.md 4 shape, values too deep stored as their text. */
static int
record_value(struct doc_node *map, const char *key, const struct doc_node *v)
{
	char *s;
	size_t len = 0;
	struct doc_node *n;

	if (!v)
		return 0;
	/* action map, conflicts list and record map hold the value. */
	if (depth(v) + 3 <= DOC_MAX_DEPTH)
		return append(map, key, dup(v)) < 0 ? ERROR_NOMEM : 0;
	if (!(s = emit_value(v, &len)))
		return ERROR_NOMEM;
	n = doc_new_scalar_len(s, len);
	free(s);
	if (!n)
		return ERROR_NOMEM;
	return append(map, key, n);
}

static int record_str(struct doc_node *map, const char *key, const char *s)
{
	if (!*s)
		return 0;
	return append(map, key, doc_new_scalar(s));
}

static int record_doc(struct doc_node **out, const struct merge_conflict *c)
{
	struct doc_node *r = doc_new_map();
	int error;

	if (!r)
		return ERROR_NOMEM;
	if ((error = append(r, "field", doc_new_scalar(c->field))) < 0 ||
	    (error = record_value(r, "base", c->base)) < 0 ||
	    (error = record_value(r, "kept", c->kept)) < 0 ||
	    (error = record_str(r, "kept_by", c->kept_by)) < 0 ||
	    (error = record_str(r, "kept_commit", c->kept_commit)) < 0 ||
	    (error = record_value(r, "other", c->other)) < 0 ||
	    (error = record_str(r, "other_by", c->other_by)) < 0 ||
	    (error = record_str(r, "other_commit", c->other_commit)) < 0) {
		doc_free(r);
		return error;
	}
	*out = r;
	return 0;
}

static int rec_cmp(const void *pa, const void *pb)
{
	const struct sortitem *a = pa, *b = pb;
	int c = strcmp(a->k1, b->k1);
	return c ? c : strcmp(a->k2, b->k2);
}

/*
 * The conflicts list: base records kept by both sides, then every record
 * either side added and every record this merge made, deduplicated and
 * sorted.  *out NULL when there are none.
 */
static int merge_records(
	struct doc_node **out,
	struct state *st,
	const struct doc_node *b,
	const struct doc_node *o,
	const struct doc_node *t)
{
	struct doc_node *res = doc_new_seq(), *fresh = doc_new_seq(), *r = NULL;
	struct sortitem *add = NULL;
	size_t nadd = 0, i, s, total;
	const struct doc_node *lists[3];
	int error = 0;

	*out = NULL;
	if (!res || !fresh) {
		error = ERROR_NOMEM;
		goto done;
	}
	if (b && b->kind != DOC_SEQ)
		b = NULL;
	if (o && o->kind != DOC_SEQ)
		o = NULL;
	if (t && t->kind != DOC_SEQ)
		t = NULL;
	for (i = 0; i < st->nconf; i++) {
		if ((error = record_doc(&r, &st->conf[i])) < 0)
			goto done;
		error = doc_seq_append(fresh, r);
		r = NULL;
		if (error < 0)
			goto done;
	}
	lists[0] = o;
	lists[1] = t;
	lists[2] = fresh;
	total = (o ? o->n : 0) + (t ? t->n : 0) + fresh->n;
	add = calloc(total + 1, sizeof(*add));
	if (!add) {
		error = error_nomem();
		goto done;
	}
	for (i = 0; b && i < b->n; i++)
		if (set_has(o, b->items[i]) && set_has(t, b->items[i]) &&
		    !set_has(res, b->items[i]) &&
		    (error = doc_seq_append(res, dup(b->items[i]))) < 0)
			goto done;
	for (s = 0; s < 3; s++) {
		const struct doc_node *l = lists[s];
		for (i = 0; l && i < l->n; i++) {
			const struct doc_node *v = l->items[i];
			size_t j, len = 0;
			int seen = set_has(b, v) && s < 2;
			for (j = 0; j < nadd && !seen; j++)
				seen = same(add[j].node, v);
			if (seen || set_has(res, v))
				continue;
			add[nadd].node = v;
			add[nadd].k1 = doc_str(doc_map_get(v, "field"));
			if (!add[nadd].k1)
				add[nadd].k1 = "";
			if (!(add[nadd].k2 = emit_value(v, &len))) {
				error = ERROR_NOMEM;
				goto done;
			}
			nadd++;
		}
	}
	qsort(add, nadd, sizeof(*add), rec_cmp);
	for (i = 0; i < nadd; i++)
		if ((error = doc_seq_append(res, dup(add[i].node))) < 0)
			goto done;
	if (res->n > 0) {
		*out = res;
		res = NULL;
	}
done:
	for (i = 0; add && i < nadd; i++)
		free((char *)add[i].k2);
	free(add);
	doc_free(r);
	doc_free(fresh);
	doc_free(res);
	return error;
}

static int key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * A map merged key by key: schema keys in schema order, then every other
 * key in byte order.  The `conflicts` key, if the schema has one, is made
 * last from the records the whole merge made and put in its place.
 */
static int merge_fields(
	struct doc_node **out,
	struct state *st,
	const char *prefix,
	const struct field *schema,
	const struct doc_node *b,
	const struct doc_node *o,
	const struct doc_node *t)
{
	struct doc_node *res = doc_new_map(), *v = NULL;
	const char **extra = NULL;
	const struct doc_node *maps[3] = { b, o, t };
	size_t nextra = 0, i, s, conf_pos = (size_t)-1;
	const struct field *f;
	char *path = NULL;
	int error = 0;

	if (!res)
		return ERROR_NOMEM;
	for (f = schema; f->key; f++) {
		if (f->type == F_CONFLICTS) {
			conf_pos = res->n;
			continue;
		}
		free(path);
		if (!(path = join(prefix, f->key))) {
			error = ERROR_NOMEM;
			goto done;
		}
		if ((error = merge_value(
			     &v, st, path, f->type, doc_map_get(b, f->key),
			     doc_map_get(o, f->key), doc_map_get(t, f->key))) <
			    0 ||
		    (error = append(res, f->key, v)) < 0) {
			v = NULL;
			goto done;
		}
		v = NULL;
	}
	extra = calloc((b ? b->n : 0) + o->n + t->n + 1, sizeof(*extra));
	if (!extra) {
		error = error_nomem();
		goto done;
	}
	for (s = 0; s < 3; s++)
		for (i = 0; maps[s] && i < maps[s]->n; i++)
			if (!field_of(schema, maps[s]->keys[i]))
				extra[nextra++] = maps[s]->keys[i];
	qsort(extra, nextra, sizeof(*extra), key_cmp);
	for (i = 0; i < nextra; i++) {
		if (i > 0 && !strcmp(extra[i], extra[i - 1]))
			continue;
		free(path);
		if (!(path = join(prefix, extra[i]))) {
			error = ERROR_NOMEM;
			goto done;
		}
		if ((error = merge_value(
			     &v, st, path, F_OPAQUE, doc_map_get(b, extra[i]),
			     doc_map_get(o, extra[i]),
			     doc_map_get(t, extra[i]))) < 0 ||
		    (error = append(res, extra[i], v)) < 0) {
			v = NULL;
			goto done;
		}
		v = NULL;
	}
	if (conf_pos != (size_t)-1) {
		if ((error = merge_records(
			     &v, st, doc_map_get(b, "conflicts"),
			     doc_map_get(o, "conflicts"),
			     doc_map_get(t, "conflicts"))) < 0)
			goto done;
		if (v && (error = doc_map_insert(
				  res, conf_pos, "conflicts", v)) < 0) {
			v = NULL;
			goto done;
		}
		v = NULL;
	}
	*out = res;
	res = NULL;
done:
	free(extra);
	free(path);
	doc_free(v);
	doc_free(res);
	return error;
}

/* ---- files ------------------------------------------------------------ */

void merge_result_release(struct merge_result *result)
{
	size_t i;

	if (!result)
		return;
	doc_free(result->doc);
	doc_free(result->renumber);
	for (i = 0; i < result->nconflicts; i++) {
		struct merge_conflict *c = &result->conflicts[i];
		free(c->field);
		doc_free(c->base);
		doc_free(c->kept);
		doc_free(c->other);
		free(c->kept_by);
		free(c->kept_commit);
		free(c->other_by);
		free(c->other_commit);
	}
	free(result->conflicts);
	memset(result, 0, sizeof(*result));
}

/*
 * The merge of one file.  Whole-file rules first (a side equal to base
 * gives the other side as is), then field by field.
 */
static int merge_doc(
	struct merge_result *out,
	enum plan_file_kind kind,
	const struct doc_node *b,
	const struct doc_node *o,
	const struct doc_node *t,
	const struct merge_ctx *ctx)
{
	struct merge_result res = MERGE_RESULT_INIT;
	struct state st = { ctx, NULL, 0, 0 };
	const struct field *schema = kind == PLAN_FILE_ACTION ? action_fields :
				     kind == PLAN_FILE_PLAN   ? meta_fields :
								partners_fields;
	int error = 0;

	if (same(o, t) || same(b, t)) {
		if (o && !(res.doc = dup(o)))
			error = ERROR_NOMEM;
	} else if (same(b, o)) {
		if (t && !(res.doc = dup(t)))
			error = ERROR_NOMEM;
	} else if (!b && kind == PLAN_FILE_ACTION) {
		/* Same new ID on both sides: the later keeps it. */
		struct merge_who wo, wt;
		int ow;
		if ((error = who(&wo, &st, MERGE_OURS, MERGE_WHOLE_ACTION)) <
			    0 ||
		    (error = who(&wt, &st, MERGE_THEIRS, MERGE_WHOLE_ACTION)) <
			    0)
			goto done;
		ow = wins(&error, &wo, o, &wt, t);
		if (error < 0)
			goto done;
		res.doc = dup(ow ? o : t);
		res.renumber = dup(ow ? t : o);
		if (!res.doc || !res.renumber)
			error = ERROR_NOMEM;
	} else if (!o || !t) {
		/* Deleted on one side, edited on the other: keep the edit. */
		const struct doc_node *kept = o ? o : t, *l;
		struct merge_who wo, wt;
		struct doc_node *recs = NULL;
		int ours = o != NULL;
		/* plan.yaml and partners.yaml: reported under their name. */
		const char *f = kind == PLAN_FILE_ACTION ? MERGE_WHOLE_ACTION :
				kind == PLAN_FILE_PLAN   ? "plan.yaml" :
							   "partners.yaml";
		if ((error = who(&wo, &st, MERGE_OURS, f)) < 0 ||
		    (error = who(&wt, &st, MERGE_THEIRS, f)) < 0 ||
		    (error =
			     record(&st, f, NULL, NULL, ours ? &wo : &wt, NULL,
				    ours ? &wt : &wo)) < 0)
			goto done;
		if (!(res.doc = dup(kept))) {
			error = ERROR_NOMEM;
			goto done;
		}
		if (kind == PLAN_FILE_ACTION && kept->kind == DOC_MAP) {
			l = doc_map_get(kept, "conflicts");
			if ((error = merge_records(&recs, &st, l, l, l)) < 0)
				goto done;
			if ((error = canon_set(
				     res.doc, action_fields, "conflicts",
				     recs)) < 0)
				goto done;
		}
	} else if (
		o->kind != DOC_MAP || t->kind != DOC_MAP ||
		(b && b->kind != DOC_MAP)) {
		error = by_time(&res.doc, &st, MERGE_WHOLE_ACTION, b, o, t);
	} else {
		error = merge_fields(&res.doc, &st, "", schema, b, o, t);
	}
	if (error < 0)
		goto done;
	res.conflicts = st.conf;
	res.nconflicts = st.nconf;
	st.conf = NULL;
	st.nconf = 0;
	*out = res;
	memset(&res, 0, sizeof(res));
done:
	res.conflicts = st.conf;
	res.nconflicts = st.nconf;
	merge_result_release(&res);
	return error;
}

int merge_action(
	struct merge_result *out,
	const struct doc_node *base,
	const struct doc_node *ours,
	const struct doc_node *theirs,
	const struct merge_ctx *ctx)
{
	return merge_doc(out, PLAN_FILE_ACTION, base, ours, theirs, ctx);
}

int merge_plan_meta(
	struct merge_result *out,
	const struct doc_node *base,
	const struct doc_node *ours,
	const struct doc_node *theirs,
	const struct merge_ctx *ctx)
{
	return merge_doc(out, PLAN_FILE_PLAN, base, ours, theirs, ctx);
}

int merge_partners(
	struct merge_result *out,
	const struct doc_node *base,
	const struct doc_node *ours,
	const struct doc_node *theirs,
	const struct merge_ctx *ctx)
{
	return merge_doc(out, PLAN_FILE_PARTNERS, base, ours, theirs, ctx);
}

int merge_file(
	struct merge_result *out,
	enum plan_file_kind kind,
	const struct doc_node *base,
	const struct doc_node *ours,
	const struct doc_node *theirs,
	const struct merge_ctx *ctx)
{
	return merge_doc(out, kind, base, ours, theirs, ctx);
}

/* ---- renumbering ------------------------------------------------------- */

struct renum {
	struct doc_node *action;
	const char *id;
};

static int renum_cmp(const void *pa, const void *pb)
{
	const struct renum *a = pa, *b = pb;
	return plan_action_id_cmp(a->id, b->id);
}

int merge_renumber_all(
	struct merge_renumbering **out,
	struct doc_node *const *actions,
	size_t n,
	const char *const *taken,
	size_t ntaken)
{
	struct renum *order = calloc(n + 1, sizeof(*order));
	struct merge_renumbering *rep = calloc(n + 1, sizeof(*rep));
	const char **ids = calloc(ntaken + n + 1, sizeof(*ids));
	size_t i, nids = ntaken;
	int error = 0;

	if (!order || !rep || !ids) {
		error = error_nomem();
		goto done;
	}
	for (i = 0; i < n; i++) {
		order[i].action = actions[i];
		order[i].id = doc_str(doc_map_get(actions[i], "id"));
		if (!order[i].id ||
		    !doc_str(doc_map_get(actions[i], "priority"))) {
			error = error_set(
				ERROR_INVALID,
				"cannot renumber an action without id and "
				"priority");
			goto done;
		}
		if (strlen(order[i].id) >= sizeof(rep[i].old_id)) {
			error = error_set(
				ERROR_INVALID, "action id '%s' is too long",
				order[i].id);
			goto done;
		}
	}
	qsort(order, n, sizeof(*order), renum_cmp);
	memcpy(ids, taken, ntaken * sizeof(*ids));
	for (i = 0; i < n; i++) {
		const char *prio =
			doc_str(doc_map_get(order[i].action, "priority"));
		snprintf(
			rep[i].old_id, sizeof(rep[i].old_id), "%s",
			order[i].id);
		if ((error = plan_next_action_id(
			     rep[i].new_id, sizeof(rep[i].new_id), prio, ids,
			     nids)) < 0)
			goto done;
		ids[nids++] = rep[i].new_id;
	}
	/* Only now change the trees (order[].id points into them). */
	for (i = 0; i < n; i++)
		if ((error = doc_map_set(
			     order[i].action, "id",
			     doc_new_scalar(rep[i].new_id))) < 0)
			goto done;
	*out = rep;
	rep = NULL;
done:
	free(order);
	free(rep);
	free(ids);
	return error;
}

/* ---- every action at once ---------------------------------------------- */

static void conflicts_free(struct merge_conflict *c, size_t n)
{
	struct merge_result r = MERGE_RESULT_INIT;

	r.conflicts = c;
	r.nconflicts = n;
	merge_result_release(&r);
}

void merge_actions_free(struct merge_action_out *actions, size_t n)
{
	size_t i;

	for (i = 0; actions && i < n; i++) {
		doc_free(actions[i].doc);
		conflicts_free(actions[i].conflicts, actions[i].nconflicts);
	}
	free(actions);
}

static int out_cmp(const void *pa, const void *pb)
{
	const struct merge_action_out *a = pa, *b = pb;
	int c = plan_action_id_cmp(a->id, b->id);
	/* A deleted file and a renumbered action never share an ID, but a
	 * deleted entry sorts before a live one to be total anyway. */
	return c ? c : (a->doc != NULL) - (b->doc != NULL);
}

static int set_id(char *buf, size_t size, const char *id)
{
	if (!id || strlen(id) >= size)
		return error_set(
			ERROR_INVALID, "bad action ID '%.40s'", id ? id : "");
	snprintf(buf, size, "%s", id);
	return 0;
}

int merge_actions(
	struct merge_action_out **out,
	size_t *out_n,
	const struct merge_action_in *in,
	size_t n,
	const char *const *unchanged,
	size_t nunchanged,
	const struct merge_ctx *ctx)
{
	struct merge_action_out *res = calloc(2 * n + 1, sizeof(*res));
	struct doc_node **losers = calloc(n + 1, sizeof(*losers));
	const char **taken = calloc(n + nunchanged + 1, sizeof(*taken));
	struct merge_renumbering *rep = NULL;
	struct merge_ctx c = { NULL, NULL, NULL };
	size_t nres = 0, nl = 0, ntaken = 0, i, j;
	int error = 0;

	if (!res || !losers || !taken) {
		error = error_nomem();
		goto done;
	}
	if (ctx)
		c = *ctx;
	for (i = 0; i < n; i++) {
		struct merge_result r = MERGE_RESULT_INIT;
		c.file = in[i].id;
		if ((error = merge_action(
			     &r, in[i].base, in[i].ours, in[i].theirs, &c)) < 0)
			goto done;
		if ((error =
			     set_id(res[nres].id, sizeof(res[nres].id),
				    in[i].id)) < 0) {
			merge_result_release(&r);
			goto done;
		}
		memcpy(res[nres].from_id, res[nres].id, sizeof(res[nres].id));
		res[nres].doc = r.doc;
		res[nres].conflicts = r.conflicts;
		res[nres].nconflicts = r.nconflicts;
		if (r.doc)
			taken[ntaken++] = res[nres].id;
		nres++;
		if (r.renumber)
			losers[nl++] = r.renumber;
	}
	if (nunchanged)
		memcpy(taken + ntaken, unchanged, nunchanged * sizeof(*taken));
	ntaken += nunchanged;
	if ((error = merge_renumber_all(&rep, losers, nl, taken, ntaken)) < 0)
		goto done;
	/* merge_renumber_all reports in old-ID order; find each tree. */
	for (i = 0; i < nl; i++) {
		for (j = 0; j < nl; j++)
			if (losers[j] &&
			    !strcmp(doc_str(doc_map_get(losers[j], "id")),
				    rep[i].new_id))
				break;
		memcpy(res[nres].id, rep[i].new_id, sizeof(res[nres].id));
		memcpy(res[nres].from_id, rep[i].old_id,
		       sizeof(res[nres].from_id));
		res[nres++].doc = losers[j];
		losers[j] = NULL;
	}
	qsort(res, nres, sizeof(*res), out_cmp);
	*out = res;
	*out_n = nres;
	res = NULL;
done:
	for (i = 0; losers && i < nl; i++)
		doc_free(losers[i]);
	merge_actions_free(res, nres);
	free(losers);
	free(taken);
	free(rep);
	return error;
}

/* ---- resolution ------------------------------------------------------- */

/*
 * Set (v non-NULL, owned) or remove (v NULL) the thing a field path names
 * in an action: a key, an update entry or a key of one.
 */
static int
set_path(struct doc_node *action, const char *field, struct doc_node *v)
{
	const char *slash = strchr(field, '/'), *uid, *key;
	struct doc_node *ups, *entry = NULL;
	char id[64];
	size_t i, idx = 0;
	int error = 0;

	if (!slash) {
		if (v)
			return canon_set(action, action_fields, field, v);
		if (doc_map_index(action, field) >= 0)
			return doc_map_remove(action, field);
		return 0;
	}
	if (strncmp(field, "updates/", 8) != 0) {
		error = error_set(ERROR_USAGE, "no field '%s'", field);
		goto done;
	}
	uid = field + 8;
	key = strchr(uid, '/');
	if ((size_t)((key ? key : uid + strlen(uid)) - uid) >= sizeof(id)) {
		error = error_set(ERROR_USAGE, "no field '%s'", field);
		goto done;
	}
	snprintf(
		id, sizeof(id), "%.*s",
		(int)((key ? key : uid + strlen(uid)) - uid), uid);
	ups = doc_map_get(action, "updates");
	for (i = 0; ups && ups->kind == DOC_SEQ && i < ups->n; i++) {
		const char *e = entry_id(ups->items[i], F_UPDATES);
		if (e && !strcmp(e, id)) {
			entry = ups->items[i];
			idx = i;
			break;
		}
	}
	if (!key) {
		if (!v) {
			if (entry)
				doc_seq_remove(ups, idx);
		} else if (entry) {
			doc_free(ups->items[idx]);
			ups->items[idx] = v;
			v = NULL;
		} else if (ups && ups->kind == DOC_SEQ) {
			error = doc_seq_append(ups, v);
			v = NULL;
		} else {
			error = error_set(ERROR_INVALID, "no updates list");
		}
		goto done;
	}
	if (!entry) {
		error = error_set(ERROR_NOTFOUND, "no update '%s'", id);
		goto done;
	}
	key++;
	if (v) {
		error = canon_set(entry, update_fields, key, v);
		v = NULL;
	} else if (doc_map_index(entry, key) >= 0) {
		error = doc_map_remove(entry, key);
	}
done:
	doc_free(v);
	return error;
}

static int is_entry_path(const char *field)
{
	return !strncmp(field, "updates/", 8) && !strchr(field + 8, '/');
}

static int is_schema_path(const char *field)
{
	const char *k;

	if (!strncmp(field, "updates/", 8)) {
		k = strchr(field + 8, '/');
		return k && key_rank(update_fields, k + 1) != (size_t)-1 &&
		       strcmp(k + 1, "id") != 0;
	}
	return key_rank(action_fields, field) != (size_t)-1 &&
	       strcmp(field, "conflicts") && strcmp(field, "updates");
}

int merge_resolve(
	int *out_delete,
	struct doc_node *action,
	const char *field,
	enum merge_resolution how,
	const char *value)
{
	struct doc_node *work = NULL, *recs, tmp;
	const struct doc_node *other = NULL;
	char path[64];
	size_t found = 0, i;
	int ambiguous = 0, error = 0, del = 0;

	recs = doc_map_get(action, "conflicts");
	for (i = 0; recs && recs->kind == DOC_SEQ && i < recs->n; i++) {
		const struct doc_node *r = recs->items[i];
		const char *f = doc_str(doc_map_get(r, "field"));
		if (!f || strcmp(f, field))
			continue;
		if (found++ == 0)
			other = doc_map_get(r, "other");
		else if (!same(other, doc_map_get(r, "other")))
			ambiguous = 1;
	}
	if (!found) {
		error = error_set(
			ERROR_NOTFOUND, "no conflict recorded for field '%s'",
			field);
		goto done;
	}
	if (!(work = doc_clone(action))) {
		error = ERROR_NOMEM;
		goto done;
	}
	switch (how) {
	case MERGE_KEEP:
		break;
	case MERGE_OTHER:
		if (ambiguous) {
			error = error_set(
				ERROR_USAGE,
				"conflicts on '%s' hold different other "
				"values; give the value",
				field);
			goto done;
		}
		if (!strcmp(field, MERGE_WHOLE_ACTION)) {
			if (other) {
				error = error_set(
					ERROR_USAGE,
					"cannot take another whole action");
				goto done;
			}
			del = 1;
		} else if (other) {
			struct doc_node *v = doc_clone(other);
			if (!v) {
				error = ERROR_NOMEM;
				goto done;
			}
			if ((error = set_path(work, field, v)) < 0)
				goto done;
		} else if ((error = set_path(work, field, NULL)) < 0) {
			goto done;
		}
		break;
	case MERGE_VALUE:
		if (!strcmp(field, MERGE_WHOLE_ACTION) ||
		    is_entry_path(field)) {
			error = error_set(
				ERROR_USAGE,
				"'%s' is not a field a value can be given",
				field);
			goto done;
		}
		if (is_schema_path(field))
			error = plan_field_set(work, field, value);
		else
			error = set_path(work, field, doc_new_scalar(value));
		if (error < 0)
			goto done;
		break;
	}
	/* Drop the records of that field. */
	recs = doc_map_get(work, "conflicts");
	for (i = recs ? recs->n : 0; i-- > 0;) {
		const char *f = doc_str(doc_map_get(recs->items[i], "field"));
		if (f && !strcmp(f, field))
			doc_seq_remove(recs, i);
	}
	if (recs && recs->n == 0 &&
	    (error = doc_map_remove(work, "conflicts")) < 0)
		goto done;
	/* The resolved action must still be a valid one, in canonical order. */
	if (!del && (error = plan_action_path(
			     path, sizeof(path),
			     doc_str(doc_map_get(work, "id")) ?
				     doc_str(doc_map_get(work, "id")) :
				     "")) == 0)
		error = plan_check(work, PLAN_FILE_ACTION, path);
	if (error < 0)
		goto done;
	tmp = *action;
	*action = *work;
	*work = tmp;
	*out_delete = del;
done:
	doc_free(work);
	return error;
}
