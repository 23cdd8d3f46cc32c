/*
 * Tests for core/merge: a hand-written scenario for every rule of SPEC.md 4
 * (and the partners rules of SPEC.md 3), then properties over seeded random
 * scenarios: convergence (both merge directions give the same bytes), no
 * loss, idempotence, and a result that is valid and canonical.
 *
 * PLANSYNC_MERGE_SEED=N runs the random scenarios from seed N (a failure
 * prints the seed to use); PLANSYNC_MERGE_ROUNDS=N sets how many.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "core/doc.h"
#include "core/error.h"
#include "core/merge.h"
#include "core/plan.h"

/* ---- helpers ------------------------------------------------------------ */

static const char OURS_C[] = "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1";
static const char THEIRS_C[] = "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2";

/* What the callback answers: per side, a default and per-field rules. */
struct rule {
	const char *field;
	long long time[2];
};

struct table {
	const struct rule *rules;
	size_t nrules;
	long long time[2];
	const char *commit[2];
	const char *email[2];
	int swap; /* merging the other way round */
	int calls;
	int fail;
};

static int table_who(
	struct merge_who *out,
	const struct merge_ctx *ctx,
	enum merge_side side,
	const char *field)
{
	struct table *t = ctx->arg;
	int s = t->swap ? 1 - (int)side : (int)side;
	size_t i;

	t->calls++;
	if (t->fail)
		return error_set(ERROR_GENERIC, "history unavailable");
	out->time = t->time[s];
	out->commit = t->commit[s];
	out->email = t->email[s];
	for (i = 0; i < t->nrules; i++)
		if (!strcmp(t->rules[i].field, field))
			out->time = t->rules[i].time[s];
	return 0;
}

/* Theirs later than ours unless a rule says otherwise. */
static void table_init(struct table *t)
{
	memset(t, 0, sizeof(*t));
	t->time[0] = 1000;
	t->time[1] = 2000;
	t->commit[0] = OURS_C;
	t->commit[1] = THEIRS_C;
	t->email[0] = "ours@example.org";
	t->email[1] = "theirs@example.org";
}

static const char *kind_path(enum plan_file_kind kind)
{
	return kind == PLAN_FILE_ACTION ? "actions/P1/P1-A1.yaml" :
	       kind == PLAN_FILE_PLAN   ? "plan.yaml" :
					  "partners.yaml";
}

/* The path of an action file for its tree's id. */
static const char *action_path(const struct doc_node *d)
{
	static char path[64];
	const char *id = doc_str(doc_map_get(d, "id"));

	if (!id)
		return kind_path(PLAN_FILE_ACTION);
	snprintf(
		path, sizeof(path), "actions/%.*s/%s.yaml",
		(int)strcspn(id, "-"), id, id);
	return path;
}

/* Parse and check YAML text as a file of the kind (NULL text: absent). */
static struct doc_node *load(enum plan_file_kind kind, const char *yaml)
{
	struct doc_node *d = NULL;

	if (!yaml)
		return NULL;
	if (doc_parse(&d, yaml, strlen(yaml), kind_path(kind)) < 0 ||
	    plan_check(
		    d, kind,
		    kind == PLAN_FILE_ACTION ? action_path(d) :
					       kind_path(kind)) < 0) {
		print_message("load: %s\n", error_message());
		fail();
	}
	return d;
}

static char *emit(const struct doc_node *d)
{
	char *s = NULL;
	size_t n = 0;

	if (!d)
		return strdup("(absent)\n");
	if (doc_emit(&s, &n, d) < 0) {
		print_message("emit: %s\n", error_message());
		fail();
	}
	return s;
}

/*
 * Merge both ways round; the two results must be byte-identical, and the
 * result valid and canonical.  Returns the ours-into-theirs result.
 */
static int merge_both(
	struct merge_result *out,
	enum plan_file_kind kind,
	const struct doc_node *b,
	const struct doc_node *o,
	const struct doc_node *t,
	struct table *tab)
{
	struct merge_result r1 = MERGE_RESULT_INIT, r2 = MERGE_RESULT_INIT;
	struct merge_ctx ctx = { table_who, tab, NULL };
	char *s1, *s2;
	int e1, e2;

	tab->swap = 0;
	e1 = merge_file(&r1, kind, b, o, t, &ctx);
	tab->swap = 1;
	e2 = merge_file(&r2, kind, b, t, o, &ctx);
	tab->swap = 0;
	assert_int_equal(e1, e2);
	if (e1 < 0)
		return e1;
	s1 = emit(r1.doc);
	s2 = emit(r2.doc);
	assert_string_equal(s1, s2);
	free(s1);
	free(s2);
	s1 = emit(r1.renumber);
	s2 = emit(r2.renumber);
	assert_string_equal(s1, s2);
	free(s1);
	free(s2);
	assert_int_equal(r1.nconflicts, r2.nconflicts);
	if (r1.doc) {
		/* Valid, and already canonical: checking changes nothing. */
		struct doc_node *c = doc_clone(r1.doc);
		s1 = emit(r1.doc);
		if (plan_check(
			    c, kind,
			    kind == PLAN_FILE_ACTION ? action_path(c) :
						       kind_path(kind)) < 0) {
			print_message(
				"result invalid: %s\n%s", error_message(), s1);
			fail();
		}
		s2 = emit(c);
		assert_string_equal(s1, s2);
		free(s1);
		free(s2);
		doc_free(c);
	}
	merge_result_release(&r2);
	*out = r1;
	return 0;
}

/* A value as one line: scalar text, "a, b" for a list, YAML otherwise. */
static char *summary(const struct doc_node *v)
{
	if (!v)
		return strdup("(absent)");
	if (v->kind == DOC_SCALAR)
		return strdup(v->str);
	if (v->kind == DOC_SEQ) {
		size_t i, n = 1, len = 0;
		char *s;
		for (i = 0; i < v->n; i++)
			n += (v->items[i]->kind == DOC_SCALAR ?
				      v->items[i]->len :
				      8) +
			     2;
		s = calloc(1, n);
		for (i = 0; i < v->n; i++)
			len += (size_t)snprintf(
				s + len, n - len, "%s%s", i ? ", " : "",
				v->items[i]->kind == DOC_SCALAR ?
					v->items[i]->str :
					"(nested)");
		return s;
	}
	return emit(v);
}

/* The node at "key", "updates/<id>/key" or "updates/<id>" (or NULL). */
static struct doc_node *at(const struct doc_node *d, const char *path)
{
	const struct doc_node *ups;
	char id[64];
	const char *k;
	size_t i;

	if (strncmp(path, "updates/", 8) != 0)
		return doc_map_get(d, path);
	k = strchr(path + 8, '/');
	snprintf(
		id, sizeof(id), "%.*s",
		(int)(k ? (size_t)(k - path - 8) : strlen(path + 8)), path + 8);
	ups = doc_map_get(d, "updates");
	for (i = 0; ups && i < ups->n; i++)
		if (!strcmp(doc_str(doc_map_get(ups->items[i], "id")), id))
			return k ? doc_map_get(ups->items[i], k + 1) :
				   ups->items[i];
	return NULL;
}

static void
expect_field(const struct doc_node *d, const char *path, const char *want)
{
	char *s = summary(at(d, path));
	if (strcmp(s, want)) {
		print_message("%s: got '%s', want '%s'\n", path, s, want);
		fail();
	}
	free(s);
}

static void expect_text(const struct doc_node *d, const char *want)
{
	char *s = emit(d);
	if (strcmp(s, want)) {
		print_message("got:\n%s\nwant:\n%s\n", s, want);
		fail();
	}
	free(s);
}

/* Replace the value at path (existing key) with parsed YAML, or remove. */
static void tset(struct doc_node *d, const char *path, const char *yaml)
{
	struct doc_node *v = NULL, *parent = d;
	const char *key = path;

	if (!strncmp(path, "updates/", 8)) {
		const char *k = strchr(path + 8, '/');
		char id[64];
		snprintf(
			id, sizeof(id), "updates/%.*s",
			(int)(k ? (size_t)(k - path - 8) : strlen(path + 8)),
			path + 8);
		if (!k) {
			struct doc_node *ups = doc_map_get(d, "updates");
			size_t i;
			assert_null(yaml);
			for (i = 0; i < ups->n; i++)
				if (ups->items[i] == at(d, id))
					break;
			assert_true(i < ups->n);
			doc_seq_remove(ups, i);
			return;
		}
		parent = at(d, id);
		key = k + 1;
	}
	assert_non_null(parent);
	if (!yaml) {
		assert_int_equal(doc_map_remove(parent, key), 0);
		return;
	}
	assert_int_equal(doc_parse(&v, yaml, strlen(yaml), "value"), 0);
	assert_true(doc_map_index(parent, key) >= 0);
	assert_int_equal(doc_map_set(parent, key, v), 0);
}

#define BASE_ACTION                                                  \
	"id: P1-A1\n"                                                \
	"priority: P1\n"                                             \
	"action: Work with communities of interest to build "        \
	"relationships\n"                                            \
	"information: \"\"\n"                                        \
	"status: ongoing\n"                                          \
	"timescale: Ongoing\n"                                       \
	"responsible: [Generate, NYP, Community Safety, CYC]\n"      \
	"updates:\n"                                                 \
	"  - id: u1\n"                                               \
	"    text: Meetings held with Generate to discuss support\n" \
	"    date: 2023-12-01\n"                                     \
	"  - id: u2\n"                                               \
	"    text: Second update on the work\n"

struct scen {
	struct doc_node *b, *o, *t;
	struct table tab;
	struct merge_result r;
};

static void scen_init(struct scen *s)
{
	memset(s, 0, sizeof(*s));
	s->b = load(PLAN_FILE_ACTION, BASE_ACTION);
	s->o = doc_clone(s->b);
	s->t = doc_clone(s->b);
	table_init(&s->tab);
}

static void scen_merge(struct scen *s)
{
	assert_int_equal(
		merge_both(&s->r, PLAN_FILE_ACTION, s->b, s->o, s->t, &s->tab),
		0);
}

static void scen_free(struct scen *s)
{
	doc_free(s->b);
	doc_free(s->o);
	doc_free(s->t);
	merge_result_release(&s->r);
}

/* ---- hand-written scenarios ---------------------------------------------- */

static void test_merge__one_side_changes_taken(void **state)
{
	struct scen s;
	(void)state;
	scen_init(&s);
	tset(s.o, "status", "done");
	tset(s.t, "timescale", "March 2024");
	tset(s.t, "updates/u2/text", "Second update, revised");
	scen_merge(&s);
	expect_field(s.r.doc, "status", "done");
	expect_field(s.r.doc, "timescale", "March 2024");
	expect_field(s.r.doc, "updates/u2/text", "Second update, revised");
	assert_int_equal(s.r.nconflicts, 0);
	assert_null(doc_map_get(s.r.doc, "conflicts"));
	assert_int_equal(s.tab.calls, 0); /* history asked only on conflict */
	scen_free(&s);
}

static void test_merge__same_change_both_sides(void **state)
{
	struct scen s;
	(void)state;
	scen_init(&s);
	tset(s.o, "status", "done");
	tset(s.t, "status", "done");
	tset(s.o, "information", "Same words");
	tset(s.t, "information", "Same words");
	scen_merge(&s);
	expect_field(s.r.doc, "status", "done");
	expect_field(s.r.doc, "information", "Same words");
	assert_int_equal(s.r.nconflicts, 0);
	scen_free(&s);
}

static void test_merge__scalar_conflict_later_wins(void **state)
{
	struct scen s;
	(void)state;
	scen_init(&s);
	tset(s.o, "status", "done");
	tset(s.t, "status", "on-hold");
	scen_merge(&s);
	/* Theirs changed it later: kept, ours recorded. */
	expect_field(s.r.doc, "status", "on-hold");
	assert_int_equal(s.r.nconflicts, 1);
	assert_string_equal(s.r.conflicts[0].field, "status");
	expect_text(
		doc_map_get(s.r.doc, "conflicts"),
		"- field: status\n"
		"  base: ongoing\n"
		"  kept: on-hold\n"
		"  kept_by: theirs@example.org\n"
		"  kept_commit: b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2\n"
		"  other: done\n"
		"  other_by: ours@example.org\n"
		"  other_commit: a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1\n");
	merge_result_release(&s.r);

	/* Ours later for that field: ours kept. */
	{
		static const struct rule r[] = { { "status", { 3000, 2000 } } };
		s.tab.rules = r;
		s.tab.nrules = 1;
		scen_merge(&s);
		expect_field(s.r.doc, "status", "done");
		assert_string_equal(
			s.r.conflicts[0].kept_by, "ours@example.org");
		assert_int_equal(s.r.conflicts[0].kept_time, 3000);
		assert_int_equal(s.r.conflicts[0].other_time, 2000);
	}
	scen_free(&s);
}

static void test_merge__time_tie_larger_commit_wins(void **state)
{
	struct scen s;
	(void)state;
	scen_init(&s);
	s.tab.time[0] = s.tab.time[1] = 5000;
	s.tab.commit[0] = "f000000000000000000000000000000000000000";
	tset(s.o, "timescale", "April 2024");
	tset(s.t, "timescale", "May 2024");
	scen_merge(&s);
	expect_field(s.r.doc, "timescale", "April 2024");
	assert_string_equal(
		s.r.conflicts[0].kept_commit,
		"f000000000000000000000000000000000000000");
	merge_result_release(&s.r);
	/* Same time and commit (no real history does that): larger value. */
	s.tab.commit[0] = s.tab.commit[1];
	scen_merge(&s);
	expect_field(s.r.doc, "timescale", "May 2024");
	scen_free(&s);
}

static void test_merge__responsible_as_sets(void **state)
{
	struct scen s;
	(void)state;
	scen_init(&s);
	/* Ours drops NYP and adds Zeta; theirs reorders, drops CYC, adds
	 * Alpha and Zeta. */
	tset(s.o, "responsible", "[Generate, Community Safety, CYC, Zeta]");
	tset(s.t, "responsible",
	     "[Community Safety, NYP, Alpha, Generate, Zeta]");
	scen_merge(&s);
	expect_field(
		s.r.doc, "responsible",
		"Generate, Community Safety, Alpha, Zeta");
	assert_int_equal(s.r.nconflicts, 0);
	scen_free(&s);
}

static void test_merge__updates_by_id(void **state)
{
	struct scen s;
	struct doc_node *e;
	(void)state;
	scen_init(&s);
	/* Ours adds two entries, theirs one dated earlier, and one without
	 * a date; new entries go after base ones by date, undated last. */
	e =
		load(PLAN_FILE_ACTION,
		     BASE_ACTION "  - id: u0b\n    text: ours later\n"
				 "    date: 2024-02-01\n"
				 "  - id: u0f\n    text: ours undated\n");
	doc_free(s.o);
	s.o = e;
	e =
		load(PLAN_FILE_ACTION,
		     BASE_ACTION "  - id: u0c\n    text: theirs earlier\n"
				 "    date: 2024-01-15\n"
				 "  - id: u0a\n    text: theirs undated\n");
	doc_free(s.t);
	s.t = e;
	tset(s.t, "updates/u1/text",
	     "Meetings held with Generate to discuss support and funding");
	scen_merge(&s);
	{
		const struct doc_node *ups = doc_map_get(s.r.doc, "updates");
		const char *want[] = { "u1", "u2", "u0c", "u0b", "u0a", "u0f" };
		size_t i;
		assert_int_equal(ups->n, 6);
		for (i = 0; i < 6; i++)
			assert_string_equal(
				doc_str(doc_map_get(ups->items[i], "id")),
				want[i]);
	}
	expect_field(
		s.r.doc, "updates/u1/text",
		"Meetings held with Generate to discuss support and funding");
	assert_int_equal(s.r.nconflicts, 0);
	scen_free(&s);
}

static void test_merge__update_added_both_sides_same_id(void **state)
{
	struct scen s;
	(void)state;
	scen_init(&s);
	doc_free(s.o);
	doc_free(s.t);
	s.o =
		load(PLAN_FILE_ACTION,
		     BASE_ACTION "  - id: u9\n    text: new entry\n"
				 "    date: 2024-03-01\n"
				 "    responsible: [NYP]\n");
	s.t =
		load(PLAN_FILE_ACTION,
		     BASE_ACTION "  - id: u9\n    text: new entry\n"
				 "    date: 2024-03-02\n"
				 "    responsible: [CYC]\n");
	scen_merge(&s);
	expect_field(s.r.doc, "updates/u9/text", "new entry");
	expect_field(s.r.doc, "updates/u9/date", "2024-03-02");
	expect_field(s.r.doc, "updates/u9/responsible", "CYC, NYP");
	assert_int_equal(s.r.nconflicts, 1);
	assert_string_equal(s.r.conflicts[0].field, "updates/u9/date");
	assert_null(s.r.conflicts[0].base);
	/* No base: the record has no base key. */
	assert_null(doc_map_get(
		doc_map_get(s.r.doc, "conflicts")->items[0], "base"));
	scen_free(&s);
}

static void test_merge__update_delete_vs_edit(void **state)
{
	struct scen s;
	(void)state;
	scen_init(&s);
	tset(s.o, "updates/u1", NULL);
	tset(s.t, "updates/u1/text", "Edited after all");
	tset(s.o, "updates/u2", NULL); /* deleted, unchanged on theirs */
	scen_merge(&s);
	expect_field(s.r.doc, "updates/u1/text", "Edited after all");
	assert_null(at(s.r.doc, "updates/u2"));
	assert_int_equal(s.r.nconflicts, 1);
	expect_text(
		doc_map_get(s.r.doc, "conflicts"),
		"- field: updates/u1\n"
		"  base:\n"
		"    id: u1\n"
		"    text: Meetings held with Generate to discuss support\n"
		"    date: 2023-12-01\n"
		"  kept:\n"
		"    id: u1\n"
		"    text: Edited after all\n"
		"    date: 2023-12-01\n"
		"  kept_by: theirs@example.org\n"
		"  kept_commit: b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2\n"
		"  other_by: ours@example.org\n"
		"  other_commit: a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1\n");
	scen_free(&s);
}

static void test_merge__optional_field_delete_vs_edit(void **state)
{
	struct scen s;
	(void)state;
	scen_init(&s);
	tset(s.o, "updates/u1/date", NULL);
	tset(s.t, "updates/u1/date", "2023-12-05");
	scen_merge(&s);
	expect_field(s.r.doc, "updates/u1/date", "2023-12-05");
	assert_string_equal(s.r.conflicts[0].field, "updates/u1/date");
	assert_null(s.r.conflicts[0].other);
	scen_free(&s);
}

static void test_merge__text_merged_when_disjoint(void **state)
{
	struct scen s;
	(void)state;
	scen_init(&s);
	tset(s.o, "action",
	     "Work closely with communities of interest to build "
	     "relationships");
	tset(s.t, "action",
	     "Work with communities of interest to build lasting "
	     "relationships");
	tset(s.o, "updates/u2/text", "Second update on the work so far");
	tset(s.t, "updates/u2/text", "Third update on the work");
	scen_merge(&s);
	expect_field(
		s.r.doc, "action",
		"Work closely with communities of interest to build lasting "
		"relationships");
	expect_field(
		s.r.doc, "updates/u2/text", "Third update on the work so far");
	assert_int_equal(s.r.nconflicts, 0);
	scen_free(&s);
}

static void test_merge__text_conflict_when_overlapping(void **state)
{
	struct scen s;
	(void)state;
	scen_init(&s);
	tset(s.o, "action",
	     "Work with faith groups of interest to build relationships");
	tset(s.t, "action",
	     "Work with schools of interest to build relationships");
	scen_merge(&s);
	expect_field(
		s.r.doc, "action",
		"Work with schools of interest to build relationships");
	assert_int_equal(s.r.nconflicts, 1);
	assert_string_equal(s.r.conflicts[0].field, "action");
	assert_string_equal(
		doc_str(s.r.conflicts[0].other),
		"Work with faith groups of interest to build relationships");
	assert_string_equal(
		doc_str(s.r.conflicts[0].base),
		"Work with communities of interest to build relationships");
	scen_free(&s);
}

static void test_merge__opaque_keys(void **state)
{
	struct scen s;
	(void)state;
	scen_init(&s);
	doc_free(s.b);
	doc_free(s.o);
	doc_free(s.t);
	s.b = load(PLAN_FILE_ACTION, BASE_ACTION "x-note: {a: 1}\n");
	s.o =
		load(PLAN_FILE_ACTION,
		     BASE_ACTION "x-note: {a: 2}\nx-ours: [kept]\n");
	s.t =
		load(PLAN_FILE_ACTION,
		     BASE_ACTION "    x-tag: theirs\nx-note: {a: 1, b: 3}\n");
	scen_merge(&s);
	/* Changed on both sides: the whole value by the time rule. */
	expect_text(doc_map_get(s.r.doc, "x-note"), "a: 1\nb: 3\n");
	expect_field(s.r.doc, "x-ours", "kept");
	expect_field(s.r.doc, "updates/u2/x-tag", "theirs");
	assert_int_equal(s.r.nconflicts, 1);
	assert_string_equal(s.r.conflicts[0].field, "x-note");
	expect_text(s.r.conflicts[0].other, "a: 2\n");
	scen_free(&s);
}

static void test_merge__odd_opaque_values_recorded_validly(void **state)
{
	struct scen s;
	(void)state;
	memset(&s, 0, sizeof(s));
	table_init(&s.tab);
	/* Nested four deep: too deep to sit inside a record as a tree. */
	s.b =
		load(PLAN_FILE_ACTION, BASE_ACTION
		     "\"odd\\nkey\": 1\nx-deep: {a: {b: {c: {d: base}}}}\n");
	s.o =
		load(PLAN_FILE_ACTION, BASE_ACTION
		     "\"odd\\nkey\": 2\nx-deep: {a: {b: {c: {d: ours}}}}\n");
	s.t =
		load(PLAN_FILE_ACTION,
		     BASE_ACTION "\"odd\\nkey\": 3\nx-deep: {a: {b: {c: {d: "
				 "theirs}}}}\n");
	scen_merge(&s); /* checks the result is valid and canonical */
	assert_int_equal(s.r.nconflicts, 2);
	{
		const struct doc_node *recs = doc_map_get(s.r.doc, "conflicts");
		const struct doc_node *deep = NULL, *odd = NULL;
		size_t i;
		for (i = 0; i < recs->n; i++) {
			const char *f =
				doc_str(doc_map_get(recs->items[i], "field"));
			if (!strcmp(f, "x-deep"))
				deep = recs->items[i];
			if (!strcmp(f, "odd\\nkey"))
				odd = recs->items[i];
		}
		assert_non_null(deep);
		assert_non_null(odd);
		/* The other value kept as its YAML text. */
		assert_int_equal(doc_map_get(deep, "other")->kind, DOC_SCALAR);
		assert_non_null(
			strstr(doc_str(doc_map_get(deep, "other")), "d: ours"));
		expect_field(odd, "other", "2");
	}
	expect_text(
		doc_map_get(s.r.doc, "x-deep"),
		"a:\n  b:\n    c:\n      d: theirs\n");
	scen_free(&s);
}

static void test_merge__action_added_both_sides_renumbered(void **state)
{
	struct doc_node *o =
				load(PLAN_FILE_ACTION,
				     "id: P1-A3\npriority: P1\naction: Ours\n"
				     "information: \"\"\nstatus: planned\n"
				     "timescale: Ongoing\nresponsible: []\n"
				     "updates: []\n"),
			*t =
				load(PLAN_FILE_ACTION,
				     "id: P1-A3\npriority: P1\naction: Theirs\n"
				     "information: \"\"\nstatus: planned\n"
				     "timescale: Ongoing\nresponsible: []\n"
				     "updates: []\n");
	struct merge_result r = MERGE_RESULT_INIT;
	struct merge_renumbering *rep = NULL;
	struct table tab;
	const char *taken[] = { "P1-A1", "P1-A2", "P1-A3", "P2-A7" };
	(void)state;
	table_init(&tab);
	assert_int_equal(merge_both(&r, PLAN_FILE_ACTION, NULL, o, t, &tab), 0);
	expect_field(r.doc, "action", "Theirs"); /* later */
	assert_non_null(r.renumber);
	expect_field(r.renumber, "action", "Ours");
	assert_int_equal(merge_renumber_all(&rep, &r.renumber, 1, taken, 4), 0);
	assert_string_equal(rep[0].old_id, "P1-A3");
	assert_string_equal(rep[0].new_id, "P1-A4");
	expect_field(r.renumber, "id", "P1-A4");
	free(rep);
	merge_result_release(&r);

	/* Same content added on both sides: one action, no renumbering. */
	assert_int_equal(merge_both(&r, PLAN_FILE_ACTION, NULL, o, o, &tab), 0);
	assert_null(r.renumber);
	merge_result_release(&r);
	doc_free(o);
	doc_free(t);
}

static void test_merge__renumber_many_in_id_order(void **state)
{
	struct doc_node *a[3];
	struct merge_renumbering *rep = NULL;
	const char *taken[] = { "P1-A2", "P1-A10", "P2-A1" };
	(void)state;
	a[0] =
		load(PLAN_FILE_ACTION,
		     "id: P1-A10\npriority: P1\naction: x\ninformation: \"\"\n"
		     "status: planned\ntimescale: T\nresponsible: []\n"
		     "updates: []\n");
	a[1] =
		load(PLAN_FILE_ACTION,
		     "id: P2-A1\npriority: P2\naction: x\ninformation: \"\"\n"
		     "status: planned\ntimescale: T\nresponsible: []\n"
		     "updates: []\n");
	a[2] =
		load(PLAN_FILE_ACTION,
		     "id: P1-A2\npriority: P1\naction: x\ninformation: \"\"\n"
		     "status: planned\ntimescale: T\nresponsible: []\n"
		     "updates: []\n");
	assert_int_equal(merge_renumber_all(&rep, a, 3, taken, 3), 0);
	assert_string_equal(rep[0].old_id, "P1-A2");
	assert_string_equal(rep[0].new_id, "P1-A11");
	assert_string_equal(rep[1].old_id, "P1-A10");
	assert_string_equal(rep[1].new_id, "P1-A12");
	assert_string_equal(rep[2].old_id, "P2-A1");
	assert_string_equal(rep[2].new_id, "P2-A2");
	expect_field(a[0], "id", "P1-A12");
	free(rep);
	doc_free(a[0]);
	doc_free(a[1]);
	doc_free(a[2]);
}

/* No unchanged actions: NULL with a count of 0 is valid (memcpy from NULL is
 * not, which UBSan caught in make check). */
static void test_merge__merge_actions_no_unchanged(void **state)
{
	static const char tmpl[] =
		"id: P1-A1\npriority: P1\naction: %s\ninformation: \"\"\n"
		"status: planned\ntimescale: T\nresponsible: []\n"
		"updates: []\n";
	char buf[512];
	struct doc_node *b, *o;
	struct merge_action_in in[1];
	struct merge_action_out *res = NULL;
	size_t n = 0;
	struct table tab;
	struct merge_ctx ctx = { table_who, &tab, NULL };
	(void)state;
	table_init(&tab);
	snprintf(buf, sizeof(buf), tmpl, "Base");
	b = load(PLAN_FILE_ACTION, buf);
	snprintf(buf, sizeof(buf), tmpl, "Ours");
	o = load(PLAN_FILE_ACTION, buf);
	in[0].id = "P1-A1";
	in[0].base = b;
	in[0].ours = o;
	in[0].theirs = b;
	assert_int_equal(merge_actions(&res, &n, in, 1, NULL, 0, &ctx), 0);
	assert_int_equal(n, 1);
	expect_field(res[0].doc, "action", "Ours");
	merge_actions_free(res, n);
	doc_free(b);
	doc_free(o);
}

static void test_merge__merge_actions_renumbers_past_unchanged(void **state)
{
	static const char tmpl[] =
		"id: %s\npriority: P1\naction: %s\ninformation: \"\"\n"
		"status: planned\ntimescale: T\nresponsible: []\n"
		"updates: []\n";
	char buf[512];
	struct doc_node *o, *t, *d1, *d2;
	struct merge_action_in in[2];
	struct merge_action_out *res = NULL;
	size_t n = 0;
	const char *unchanged[] = { "P1-A3" };
	struct table tab;
	struct merge_ctx ctx = { table_who, &tab, NULL };
	(void)state;
	table_init(&tab);
	snprintf(buf, sizeof(buf), tmpl, "P1-A2", "Ours");
	o = load(PLAN_FILE_ACTION, buf);
	snprintf(buf, sizeof(buf), tmpl, "P1-A2", "Theirs");
	t = load(PLAN_FILE_ACTION, buf);
	snprintf(buf, sizeof(buf), tmpl, "P1-A1", "Deleted by ours");
	d1 = load(PLAN_FILE_ACTION, buf);
	d2 = doc_clone(d1);
	in[0].id = "P1-A2";
	in[0].base = NULL;
	in[0].ours = o;
	in[0].theirs = t;
	in[1].id = "P1-A1";
	in[1].base = d1;
	in[1].ours = NULL;
	in[1].theirs = d2;
	assert_int_equal(merge_actions(&res, &n, in, 2, unchanged, 1, &ctx), 0);
	assert_int_equal(n, 3);
	assert_string_equal(res[0].id, "P1-A1");
	assert_null(res[0].doc);
	assert_string_equal(res[1].id, "P1-A2");
	expect_field(res[1].doc, "action", "Theirs");
	/* Next free in P1 after the unchanged P1-A3. */
	assert_string_equal(res[2].id, "P1-A4");
	assert_string_equal(res[2].from_id, "P1-A2");
	expect_field(res[2].doc, "id", "P1-A4");
	expect_field(res[2].doc, "action", "Ours");
	merge_actions_free(res, n);
	doc_free(o);
	doc_free(t);
	doc_free(d1);
	doc_free(d2);
}

static void test_merge__action_delete_vs_edit(void **state)
{
	struct scen s;
	(void)state;
	scen_init(&s);
	doc_free(s.o);
	s.o = NULL;
	tset(s.t, "status", "done");
	scen_merge(&s);
	expect_field(s.r.doc, "status", "done");
	assert_int_equal(s.r.nconflicts, 1);
	expect_text(
		doc_map_get(s.r.doc, "conflicts"),
		"- field: (action)\n"
		"  kept_by: theirs@example.org\n"
		"  kept_commit: b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2\n"
		"  other_by: ours@example.org\n"
		"  other_commit: a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1\n");
	merge_result_release(&s.r);
	/* Deleted on one side, unchanged on the other: deleted. */
	doc_free(s.t);
	s.t = doc_clone(s.b);
	scen_merge(&s);
	assert_null(s.r.doc);
	merge_result_release(&s.r);
	/* Deleted on both. */
	doc_free(s.t);
	s.t = NULL;
	scen_merge(&s);
	assert_null(s.r.doc);
	scen_free(&s);
}

static void test_merge__existing_records_merge_as_sets(void **state)
{
	static const char rec_a[] =
		"  - field: status\n    base: planned\n    kept: done\n"
		"    kept_by: a@x\n    kept_commit: "
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
		"    other: on-hold\n    other_by: b@x\n    other_commit: "
		"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\n";
	static const char rec_b[] =
		"  - field: information\n    kept: x\n"
		"    kept_by: a@x\n    kept_commit: "
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
		"    other: y\n    other_by: b@x\n    other_commit: "
		"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\n";
	static const char rec_c[] =
		"  - field: action\n    kept: p\n"
		"    kept_by: a@x\n    kept_commit: "
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
		"    other: q\n    other_by: b@x\n    other_commit: "
		"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\n";
	char b[2048], o[2048], t[2048];
	struct scen s;
	const struct doc_node *recs;
	(void)state;
	/* Base holds a and b; ours resolved a and added c; theirs added c
	 * too and changed status so this merge records a new one. */
	snprintf(b, sizeof(b), "%sconflicts:\n%s%s", BASE_ACTION, rec_a, rec_b);
	snprintf(o, sizeof(o), "%sconflicts:\n%s%s", BASE_ACTION, rec_b, rec_c);
	snprintf(
		t, sizeof(t), "%sconflicts:\n%s%s%s", BASE_ACTION, rec_c, rec_a,
		rec_b);
	memset(&s, 0, sizeof(s));
	table_init(&s.tab);
	s.b = load(PLAN_FILE_ACTION, b);
	s.o = load(PLAN_FILE_ACTION, o);
	s.t = load(PLAN_FILE_ACTION, t);
	tset(s.o, "timescale", "Soon");
	tset(s.t, "timescale", "Later");
	scen_merge(&s);
	recs = doc_map_get(s.r.doc, "conflicts");
	assert_int_equal(recs->n, 3);
	/* Base order first (b), then the rest by field path. */
	assert_string_equal(
		doc_str(doc_map_get(recs->items[0], "field")), "information");
	assert_string_equal(
		doc_str(doc_map_get(recs->items[1], "field")), "action");
	assert_string_equal(
		doc_str(doc_map_get(recs->items[2], "field")), "timescale");
	scen_free(&s);
}

static void test_merge__history_error_aborts(void **state)
{
	struct scen s;
	struct merge_result r = MERGE_RESULT_INIT;
	struct merge_ctx ctx = { table_who, NULL, NULL };
	(void)state;
	scen_init(&s);
	ctx.arg = &s.tab;
	s.tab.fail = 1;
	tset(s.o, "status", "done");
	tset(s.t, "status", "on-hold");
	assert_int_equal(merge_action(&r, s.b, s.o, s.t, &ctx), ERROR_GENERIC);
	assert_string_equal(error_message(), "history unavailable");
	assert_null(r.doc);
	/* No callback at all: a clear error, not a guess. */
	ctx.who = NULL;
	assert_int_equal(merge_action(&r, s.b, s.o, s.t, &ctx), ERROR_GENERIC);
	assert_non_null(strstr(error_message(), "status"));
	scen_free(&s);
}

static void test_merge__resolve(void **state)
{
	struct scen s;
	struct doc_node *a;
	int del = 7;
	(void)state;
	scen_init(&s);
	tset(s.o, "status", "done");
	tset(s.t, "status", "on-hold");
	tset(s.o, "updates/u1", NULL);
	tset(s.t, "updates/u1/text", "Edited after all");
	scen_merge(&s);
	assert_int_equal(s.r.nconflicts, 2);

	a = doc_clone(s.r.doc);
	assert_int_equal(
		merge_resolve(&del, a, "status", MERGE_OTHER, NULL), 0);
	assert_int_equal(del, 0);
	expect_field(a, "status", "done");
	assert_int_equal(doc_map_get(a, "conflicts")->n, 1);
	assert_int_equal(
		merge_resolve(&del, a, "updates/u1", MERGE_OTHER, NULL), 0);
	assert_null(at(a, "updates/u1"));
	assert_null(doc_map_get(a, "conflicts"));
	assert_int_equal(
		merge_resolve(&del, a, "status", MERGE_KEEP, NULL),
		ERROR_NOTFOUND);
	doc_free(a);

	a = doc_clone(s.r.doc);
	assert_int_equal(merge_resolve(&del, a, "status", MERGE_KEEP, NULL), 0);
	expect_field(a, "status", "on-hold");
	assert_int_equal(
		merge_resolve(&del, a, "updates/u1", MERGE_VALUE, "x"),
		ERROR_USAGE);
	assert_int_equal(
		merge_resolve(&del, a, "updates/u1", MERGE_KEEP, NULL), 0);
	expect_field(a, "updates/u1/text", "Edited after all");
	assert_null(doc_map_get(a, "conflicts"));
	doc_free(a);

	a = doc_clone(s.r.doc);
	assert_int_equal(
		merge_resolve(&del, a, "status", MERGE_VALUE, "in-progress"),
		0);
	expect_field(a, "status", "in-progress");
	doc_free(a);

	/* A bad value changes nothing. */
	a = doc_clone(s.r.doc);
	{
		char *before = emit(a), *after;
		assert_int_equal(
			merge_resolve(
				&del, a, "status", MERGE_VALUE, "finished"),
			ERROR_INVALID);
		after = emit(a);
		assert_string_equal(before, after);
		free(before);
		free(after);
	}
	doc_free(a);
	scen_free(&s);
}

static void test_merge__resolve_whole_action(void **state)
{
	struct scen s;
	int del = 0;
	(void)state;
	scen_init(&s);
	doc_free(s.o);
	s.o = NULL;
	tset(s.t, "status", "done");
	scen_merge(&s);
	assert_int_equal(
		merge_resolve(&del, s.r.doc, "", MERGE_OTHER, NULL),
		ERROR_NOTFOUND);
	assert_int_equal(
		merge_resolve(
			&del, s.r.doc, MERGE_WHOLE_ACTION, MERGE_VALUE, "x"),
		ERROR_USAGE);
	assert_int_equal(
		merge_resolve(
			&del, s.r.doc, MERGE_WHOLE_ACTION, MERGE_OTHER, NULL),
		0);
	assert_int_equal(del, 1);
	assert_null(doc_map_get(s.r.doc, "conflicts"));
	scen_free(&s);
}

static void test_merge__resolve_other_kinds_of_field(void **state)
{
	struct scen s;
	struct doc_node *a;
	int del = 0;
	(void)state;
	memset(&s, 0, sizeof(s));
	table_init(&s.tab);
	s.b = load(PLAN_FILE_ACTION, BASE_ACTION "x-note: base\n");
	s.o = load(PLAN_FILE_ACTION, BASE_ACTION "x-note: ours\n");
	s.t = load(PLAN_FILE_ACTION, BASE_ACTION "x-note: theirs\n");
	tset(s.o, "updates/u1/date", NULL);
	tset(s.t, "updates/u1/date", "2023-12-05");
	tset(s.o, "responsible", "[NYP]");
	tset(s.t, "responsible", "[CYC]");
	scen_merge(&s);
	assert_int_equal(s.r.nconflicts, 2); /* sets never conflict */
	expect_field(s.r.doc, "responsible", "");

	/* A delete recorded on an optional field: --other removes it. */
	a = doc_clone(s.r.doc);
	assert_int_equal(
		merge_resolve(&del, a, "updates/u1/date", MERGE_OTHER, NULL),
		0);
	assert_null(at(a, "updates/u1/date"));
	/* A key outside the schema: its other value, or a new string. */
	assert_int_equal(
		merge_resolve(&del, a, "x-note", MERGE_OTHER, NULL), 0);
	expect_field(a, "x-note", "ours");
	assert_null(doc_map_get(a, "conflicts"));
	doc_free(a);

	a = doc_clone(s.r.doc);
	assert_int_equal(
		merge_resolve(&del, a, "x-note", MERGE_VALUE, "agreed"), 0);
	expect_field(a, "x-note", "agreed");
	/* A bad date is refused and changes nothing. */
	assert_int_equal(
		merge_resolve(&del, a, "updates/u1/date", MERGE_VALUE, "soon"),
		ERROR_INVALID);
	expect_field(a, "updates/u1/date", "2023-12-05");
	assert_int_equal(doc_map_get(a, "conflicts")->n, 1);
	assert_int_equal(
		merge_resolve(
			&del, a, "updates/u1/date", MERGE_VALUE, "2023-12-06"),
		0);
	expect_field(a, "updates/u1/date", "2023-12-06");
	assert_null(doc_map_get(a, "conflicts"));
	doc_free(a);
	scen_free(&s);
}

#define BASE_PLAN                                                  \
	"schema: plansync/1\n"                                     \
	"title: York Hate Crime Partnership Action Plan 2022/23\n" \
	"partnership: York Hate Crime Partnership\n"               \
	"updated: December 2023\n"                                 \
	"priorities:\n"                                            \
	"  - id: P1\n"                                             \
	"    title: Improve data capture\n"                        \
	"    focus: Have a particular focus on schools.\n"         \
	"  - id: P2\n"                                             \
	"    title: Build relationships\n"

static void test_merge__plan_meta(void **state)
{
	struct doc_node *b = load(PLAN_FILE_PLAN, BASE_PLAN),
			*o =
				load(PLAN_FILE_PLAN, BASE_PLAN
				     "  - id: P10\n    title: Ours ten\n"
				     "  - id: P3\n    title: Three\n"),
			*t =
				load(PLAN_FILE_PLAN,
				     BASE_PLAN "  - id: P3\n    title: Three\n"
					       "    focus: theirs\n");
	struct merge_result r = MERGE_RESULT_INIT;
	struct table tab;
	const struct doc_node *pr;
	(void)state;
	table_init(&tab);
	tset(o, "title", "York Hate Crime Partnership Action Plan 2023/24");
	tset(t, "updated", "January 2024");
	assert_int_equal(
		doc_map_set(
			doc_map_get(o, "priorities")->items[0], "focus",
			doc_new_scalar("Have a particular focus on "
				       "primary schools.")),
		0);
	assert_int_equal(
		doc_map_set(
			doc_map_get(t, "priorities")->items[0], "focus",
			doc_new_scalar("Have a clear focus on "
				       "schools.")),
		0);
	assert_int_equal(merge_both(&r, PLAN_FILE_PLAN, b, o, t, &tab), 0);
	expect_field(
		r.doc, "title",
		"York Hate Crime Partnership Action Plan 2023/24");
	expect_field(r.doc, "updated", "January 2024");
	pr = doc_map_get(r.doc, "priorities");
	assert_int_equal(pr->n, 4);
	assert_string_equal(
		doc_str(doc_map_get(pr->items[0], "focus")),
		"Have a clear focus on primary schools.");
	/* New priorities by number: P3 (merged, no base) then P10. */
	assert_string_equal(doc_str(doc_map_get(pr->items[2], "id")), "P3");
	assert_string_equal(
		doc_str(doc_map_get(pr->items[2], "focus")), "theirs");
	assert_string_equal(doc_str(doc_map_get(pr->items[3], "id")), "P10");
	assert_int_equal(r.nconflicts, 0);
	merge_result_release(&r);
	doc_free(b);
	doc_free(o);
	doc_free(t);
}

#define KEY_A \
	"AAAAC3NzaC1lZDI1NTE5AAAAINGlrJoBX6wu97NBZzY1USoVEfQf430RGyZ/A57sXU9Y"
#define KEY_B \
	"AAAAC3NzaC1lZDI1NTE5AAAAIGq58euPfTOI9PnVhvZumf1UCA3yxEbw5YZosJwIoW3Q"
#define KEY_C \
	"AAAAC3NzaC1lZDI1NTE5AAAAIAFffmvFrq9INyQInpJSzBO1CVGmtpQSUidlz/TXgDBu"
#define KEY_D \
	"AAAAC3NzaC1lZDI1NTE5AAAAIC9QUsn9FbGaGMWE0BNjVoGYYT8MNOhECe95OHCaFZ7C"

#define PARTNER(email, key, role, revoked)              \
	"  - email: " email "\n    name: N " email "\n" \
	"    organisation: Org\n    role: " role "\n"   \
	"    key: ssh-ed25519 " key " " email "\n"      \
	"    revoked: " revoked "\n"

static void test_merge__partners_safer_value(void **state)
{
	struct doc_node *b = load(
				PLAN_FILE_PARTNERS,
				"partners:\n" PARTNER(
					"a@x", KEY_A, "coordinator", "false")
					PARTNER("b@x", KEY_B, "coordinator",
						"false")
						PARTNER("c@x", KEY_C, "editor",
							"false")),
			*o, *t;
	struct merge_result r = MERGE_RESULT_INIT;
	struct table tab;
	const struct doc_node *ps;
	(void)state;
	table_init(&tab);
	/* Ours (earlier) revokes a and deletes c, theirs makes a an editor,
	 * edits c's name; both add d, ours as editor. */
	o =
		load(PLAN_FILE_PARTNERS,
		     "partners:\n" PARTNER("a@x", KEY_A, "coordinator", "true")
			     PARTNER("b@x", KEY_B, "coordinator", "false")
				     PARTNER("d@x", KEY_D, "editor", "false"));
	t =
		load(PLAN_FILE_PARTNERS,
		     "partners:\n" PARTNER("a@x", KEY_A, "editor", "false")
			     PARTNER("b@x", KEY_B, "coordinator", "false")
				     PARTNER("c@x", KEY_C, "editor", "false")
					     PARTNER("d@x", KEY_D,
						     "coordinator", "false"));
	assert_int_equal(
		doc_map_set(
			doc_map_get(t, "partners")->items[2], "name",
			doc_new_scalar("Carol")),
		0);
	assert_int_equal(merge_both(&r, PLAN_FILE_PARTNERS, b, o, t, &tab), 0);
	ps = doc_map_get(r.doc, "partners");
	assert_int_equal(ps->n, 4);
	assert_string_equal(
		doc_str(doc_map_get(ps->items[0], "role")), "editor");
	assert_string_equal(
		doc_str(doc_map_get(ps->items[0], "revoked")), "true");
	/* Delete vs edit: kept, revoked. */
	assert_string_equal(
		doc_str(doc_map_get(ps->items[2], "name")), "Carol");
	assert_string_equal(
		doc_str(doc_map_get(ps->items[2], "revoked")), "true");
	/* Added on both: editor wins though ours is earlier. */
	assert_string_equal(doc_str(doc_map_get(ps->items[3], "email")), "d@x");
	assert_string_equal(
		doc_str(doc_map_get(ps->items[3], "role")), "editor");
	/* Reported, not written (partners.yaml has no conflicts list). */
	assert_int_equal(r.nconflicts, 2);
	assert_string_equal(r.conflicts[0].field, "partners/c@x");
	assert_string_equal(r.conflicts[1].field, "partners/d@x/role");
	assert_null(doc_map_get(r.doc, "conflicts"));
	merge_result_release(&r);
	doc_free(b);
	doc_free(o);
	doc_free(t);
}

/* ---- random scenarios -----------------------------------------------------
 */

struct rng {
	uint64_t s;
};

static uint32_t rnd(struct rng *r)
{
	r->s ^= r->s << 13;
	r->s ^= r->s >> 7;
	r->s ^= r->s << 17;
	return (uint32_t)(r->s >> 11);
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static uint64_t hash_str(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return mix(h);
}

/* Scenario state: a marker counter so every value a side makes is unique. */
struct gen {
	struct rng r;
	unsigned markers;
	uint64_t seed;
};

static void marker(struct gen *g, char *buf, size_t size, int side)
{
	snprintf(buf, size, "mk%c%u", side ? 't' : 'o', g->markers++);
}

static const char *const vocab[] = { "work", "with",    "the",       "partners",
				     "to",   "improve", "reporting", "in",
				     "York", "schools" };
static const char *const statuses[] = { "planned", "in-progress", "ongoing",
					"on-hold", "done" };
static const char *const orgs[] = { "NYP", "CYC", "Generate", "IDAS",
				    "Community Safety" };

static struct doc_node *rand_text(struct gen *g, unsigned n)
{
	char buf[512] = "";
	size_t len = 0;
	unsigned i;

	for (i = 0; i < n; i++)
		len += (size_t)snprintf(
			buf + len, sizeof(buf) - len, "%s%s", i ? " " : "",
			vocab[rnd(&g->r) % 10]);
	return doc_new_scalar(buf);
}

static struct doc_node *rand_orgs(struct gen *g)
{
	struct doc_node *s = doc_new_seq();
	unsigned i;

	for (i = 0; i < 5; i++)
		if (rnd(&g->r) % 2)
			doc_seq_append(s, doc_new_scalar(orgs[i]));
	return s;
}

static struct doc_node *rand_date(struct gen *g)
{
	char buf[16];
	snprintf(
		buf, sizeof(buf), "2023-%02u-%02u", 1 + rnd(&g->r) % 12,
		1 + rnd(&g->r) % 28);
	return doc_new_scalar(buf);
}

static struct doc_node *rand_update(struct gen *g, const char *id)
{
	struct doc_node *u = doc_new_map();
	doc_map_set(u, "id", doc_new_scalar(id));
	doc_map_set(u, "text", rand_text(g, 2 + rnd(&g->r) % 6));
	if (rnd(&g->r) % 2)
		doc_map_set(u, "date", rand_date(g));
	if (rnd(&g->r) % 3 == 0)
		doc_map_set(u, "timescale", doc_new_scalar("Ongoing"));
	if (rnd(&g->r) % 3 == 0)
		doc_map_set(u, "responsible", rand_orgs(g));
	return u;
}

static struct doc_node *rand_record(struct gen *g)
{
	struct doc_node *r = doc_new_map();
	char m[32];
	marker(g, m, sizeof(m), 0);
	doc_map_set(
		r, "field",
		doc_new_scalar(rnd(&g->r) % 2 ? "status" : "timescale"));
	doc_map_set(r, "kept", doc_new_scalar(m));
	doc_map_set(r, "kept_by", doc_new_scalar("old@example.org"));
	doc_map_set(r, "kept_commit", doc_new_scalar(OURS_C));
	doc_map_set(r, "other", doc_new_scalar("previous"));
	doc_map_set(r, "other_by", doc_new_scalar("older@example.org"));
	doc_map_set(r, "other_commit", doc_new_scalar(THEIRS_C));
	return r;
}

static struct doc_node *rand_action(struct gen *g, const char *id)
{
	struct doc_node *a = doc_new_map(), *ups = doc_new_seq();
	char prio[16], uid[16];
	unsigned i, n;

	snprintf(prio, sizeof(prio), "%.*s", (int)strcspn(id, "-"), id);
	doc_map_set(a, "id", doc_new_scalar(id));
	doc_map_set(a, "priority", doc_new_scalar(prio));
	doc_map_set(a, "action", rand_text(g, 3 + rnd(&g->r) % 8));
	doc_map_set(
		a, "information",
		rnd(&g->r) % 2 ? rand_text(g, 1 + rnd(&g->r) % 5) :
				 doc_new_scalar(""));
	doc_map_set(a, "status", doc_new_scalar(statuses[rnd(&g->r) % 5]));
	doc_map_set(a, "timescale", doc_new_scalar("Ongoing"));
	doc_map_set(a, "responsible", rand_orgs(g));
	n = rnd(&g->r) % 4;
	for (i = 0; i < n; i++) {
		snprintf(uid, sizeof(uid), "u%x", 0x100 + i);
		doc_seq_append(ups, rand_update(g, uid));
	}
	doc_map_set(a, "updates", ups);
	if (rnd(&g->r) % 5 == 0) {
		struct doc_node *c = doc_new_seq();
		doc_seq_append(c, rand_record(g));
		if (rnd(&g->r) % 2)
			doc_seq_append(c, rand_record(g));
		doc_map_set(a, "conflicts", c);
	}
	if (rnd(&g->r) % 4 == 0)
		doc_map_set(a, "x-note", doc_new_scalar("note"));
	return a;
}

/* Put key into map at its canonical place (schema order given). */
static void put_canon(
	struct doc_node *map,
	const char *const *order,
	const char *key,
	struct doc_node *v)
{
	size_t rank = 99, i, j;

	for (j = 0; order[j]; j++)
		if (!strcmp(order[j], key))
			rank = j;
	if (doc_map_index(map, key) >= 0) {
		doc_map_set(map, key, v);
		return;
	}
	for (i = 0; i < map->n; i++) {
		size_t r = 99;
		for (j = 0; order[j]; j++)
			if (!strcmp(order[j], map->keys[i]))
				r = j;
		if (r > rank || (r == rank && strcmp(map->keys[i], key) > 0))
			break;
	}
	doc_map_insert(map, i, key, v);
}

static const char *const action_order[] = {
	"id",        "priority",    "action",  "information", "status",
	"timescale", "responsible", "updates", "conflicts",   NULL
};
static const char *const update_order[] = { "id",        "text",        "date",
					    "timescale", "responsible", NULL };

/* A word-level edit of a text, with unique marker words. */
static struct doc_node *
edit_text(struct gen *g, const struct doc_node *v, int side)
{
	char out[1024] = "", m[32];
	const char *s = v ? v->str : "";
	size_t len = 0;
	unsigned op = rnd(&g->r) % 4, nwords = 0, target, w = 0;
	const char *p;

	for (p = s; *p;) {
		p += strcspn(p, " ");
		nwords++;
		p += strspn(p, " ");
	}
	target = nwords ? rnd(&g->r) % nwords : 0;
	marker(g, m, sizeof(m), side);
	if (!nwords || op == 3) { /* append */
		snprintf(out, sizeof(out), "%s%s%s", s, *s ? " " : "", m);
		return doc_new_scalar(out);
	}
	for (p = s; *p; w++) {
		size_t wl = strcspn(p, " "), sl;
		sl = strspn(p + wl, " ");
		if (w == target && op == 0) /* replace */
			len += (size_t)snprintf(
				out + len, sizeof(out) - len, "%s%.*s", m,
				(int)sl, p + wl);
		else if (w == target && op == 1) /* insert before */
			len += (size_t)snprintf(
				out + len, sizeof(out) - len, "%s %.*s", m,
				(int)(wl + sl), p);
		else if (w == target && op == 2) /* delete */
			;
		else
			len += (size_t)snprintf(
				out + len, sizeof(out) - len, "%.*s",
				(int)(wl + sl), p);
		p += wl + sl;
	}
	/* Deleting the last word can leave a trailing space. */
	while (len > 0 && out[len - 1] == ' ')
		out[--len] = '\0';
	if (len == 0) /* titles and action texts may not be empty */
		snprintf(out, sizeof(out), "%s", m);
	return doc_new_scalar(out);
}

static struct doc_node *pick_update(struct gen *g, struct doc_node *a)
{
	struct doc_node *ups = doc_map_get(a, "updates");
	if (!ups || ups->n == 0)
		return NULL;
	return ups->items[rnd(&g->r) % ups->n];
}

/* A few random edits by one side. */
static void mutate_action(struct gen *g, struct doc_node *a, int side)
{
	unsigned nops = rnd(&g->r) % 5, i;
	char m[32], id[32], path[64];

	for (i = 0; i < nops; i++) {
		struct doc_node *u, *ups = doc_map_get(a, "updates"), *l;
		switch (rnd(&g->r) % 13) {
		case 0:
			doc_map_set(
				a, "status",
				doc_new_scalar(statuses[rnd(&g->r) % 5]));
			break;
		case 1:
			marker(g, m, sizeof(m), side);
			doc_map_set(a, "timescale", doc_new_scalar(m));
			break;
		case 2:
		case 3:
			doc_map_set(
				a, "action",
				edit_text(g, doc_map_get(a, "action"), side));
			break;
		case 4:
			doc_map_set(
				a, "information",
				edit_text(
					g, doc_map_get(a, "information"),
					side));
			break;
		case 5:
			l = doc_map_get(a, "responsible");
			if (l->n && rnd(&g->r) % 2) {
				doc_seq_remove(l, rnd(&g->r) % l->n);
			} else {
				marker(g, m, sizeof(m), side);
				doc_seq_append(l, doc_new_scalar(m));
			}
			break;
		case 6:
			/* Shared ids make both sides add the same one. */
			if (rnd(&g->r) % 3)
				snprintf(
					id, sizeof(id), "u%x",
					0x900 + rnd(&g->r) % 3);
			else
				snprintf(id, sizeof(id), "u%x", g->markers++);
			snprintf(path, sizeof(path), "updates/%s", id);
			if (!at(a, path)) {
				u = rand_update(g, id);
				marker(g, m, sizeof(m), side);
				doc_map_set(
					u, "text",
					edit_text(
						g, doc_map_get(u, "text"),
						side));
				doc_seq_append(ups, u);
			}
			break;
		case 7:
			if (ups->n)
				doc_seq_remove(ups, rnd(&g->r) % ups->n);
			break;
		case 8:
			if ((u = pick_update(g, a)) != NULL)
				doc_map_set(
					u, "text",
					edit_text(
						g, doc_map_get(u, "text"),
						side));
			break;
		case 9:
			if ((u = pick_update(g, a)) != NULL) {
				if (doc_map_get(u, "date") && rnd(&g->r) % 2)
					doc_map_remove(u, "date");
				else
					put_canon(
						u, update_order, "date",
						rand_date(g));
			}
			break;
		case 10:
			if ((u = pick_update(g, a)) != NULL) {
				marker(g, m, sizeof(m), side);
				l = doc_map_get(u, "responsible");
				if (!l)
					put_canon(
						u, update_order, "responsible",
						(l = doc_new_seq()));
				doc_seq_append(l, doc_new_scalar(m));
			}
			break;
		case 11:
			marker(g, m, sizeof(m), side);
			if (doc_map_get(a, "x-note") && rnd(&g->r) % 3 == 0)
				doc_map_remove(a, "x-note");
			else
				put_canon(
					a, action_order, "x-note",
					doc_new_scalar(m));
			break;
		case 12:
			l = doc_map_get(a, "conflicts");
			if (l && l->n) {
				doc_seq_remove(l, rnd(&g->r) % l->n);
				if (l->n == 0)
					doc_map_remove(a, "conflicts");
			}
			break;
		}
	}
}

/* The time-rule oracle of a random scenario: a function of the field. */
struct oracle {
	uint64_t seed;
	const char *file;
	int swap;
	/* Answers stay valid while the merge runs: a ring of buffers. */
	char commit[8][41];
	char email[8][32];
	unsigned next;
};

static int oracle_who(
	struct merge_who *out,
	const struct merge_ctx *ctx,
	enum merge_side side,
	const char *field)
{
	struct oracle *o = ctx->arg;
	int s = o->swap ? 1 - (int)side : (int)side;
	uint64_t h = hash_str(
		hash_str(
			o->seed + (uint64_t)s, ctx->file ? ctx->file : o->file),
		field);
	unsigned slot;
	int i;

	out->time = 1700000000 + (long long)(h % 4);
	/* Rarely both sides name the same commit: the value decides. */
	if ((h >> 8) % 16 == 0)
		h = hash_str(o->seed, field);
	slot = o->next++ % 8;
	for (i = 0; i < 40; i++)
		o->commit[slot][i] =
			"0123456789abcdef"[(h >> (i % 16 * 4)) & 15];
	o->commit[slot][40] = '\0';
	snprintf(
		o->email[slot], sizeof(o->email[slot]), "side%d@example.org",
		s);
	out->commit = o->commit[slot];
	out->email = o->email[slot];
	return 0;
}

/* Leaves of an action for the loss check: (path, value). */
struct leaf {
	char path[96];
	const struct doc_node *v;
};

static size_t leaves(struct leaf *out, size_t max, const struct doc_node *a)
{
	size_t n = 0, i, j, k;

	for (i = 0; a && i < a->n && n < max; i++) {
		const char *key = a->keys[i];
		const struct doc_node *v = a->items[i];
		if (!strcmp(key, "updates")) {
			for (j = 0; j < v->n; j++) {
				const struct doc_node *u = v->items[j];
				const char *uid = doc_str(doc_map_get(u, "id"));
				for (k = 0; k < u->n && n < max; k++) {
					const struct doc_node *uv = u->items[k];
					size_t q, cnt = 1;
					if (!strcmp(u->keys[k], "responsible"))
						cnt = uv->n;
					for (q = 0; q < cnt && n < max; q++) {
						snprintf(
							out[n].path,
							sizeof(out[n].path),
							"updates/%s/%s", uid,
							u->keys[k]);
						out[n++].v =
							strcmp(u->keys[k],
							       "responsib"
							       "le") ?
								uv :
								uv->items[q];
					}
				}
			}
		} else if (
			!strcmp(key, "responsible") ||
			!strcmp(key, "conflicts")) {
			for (j = 0; j < v->n && n < max; j++) {
				snprintf(
					out[n].path, sizeof(out[n].path), "%s",
					key);
				out[n++].v = v->items[j];
			}
		} else {
			snprintf(out[n].path, sizeof(out[n].path), "%s", key);
			out[n++].v = v;
		}
	}
	return n;
}

static int leaf_in(const struct leaf *l, size_t n, const struct leaf *x)
{
	size_t i;
	for (i = 0; i < n; i++)
		if (!strcmp(l[i].path, x->path) && doc_equal(l[i].v, x->v))
			return 1;
	return 0;
}

static int is_text_path(const char *p)
{
	const char *s = strrchr(p, '/');
	return !strcmp(p, "action") || !strcmp(p, "information") ||
	       (s && !strcmp(s, "/text"));
}

/* Is the value v of path in one of the records of r? */
static int
in_records(const struct doc_node *r, const char *path, const struct doc_node *v)
{
	const struct doc_node *recs = doc_map_get(r, "conflicts");
	size_t i;
	for (i = 0; recs && i < recs->n; i++) {
		const struct doc_node *x = recs->items[i];
		if (strcmp(doc_str(doc_map_get(x, "field")), path))
			continue;
		if (doc_equal(doc_map_get(x, "kept"), v) ||
		    doc_equal(doc_map_get(x, "other"), v))
			return 1;
	}
	return 0;
}

struct failure {
	uint64_t seed;
	const char *what;
};

/* The scenario being checked, printed when a property breaks. */
static const struct doc_node *cur[4];

static void failed(uint64_t seed, const char *what, const char *detail)
{
	static const char *const names[4] = { "base", "ours", "theirs",
					      "result" };
	int i;

	for (i = 0; i < 4; i++) {
		char *s = emit(cur[i]);
		print_message("--- %s:\n%s", names[i], s);
		free(s);
	}
	print_message(
		"merge property '%s' broken: %s\n"
		"reproduce with PLANSYNC_MERGE_SEED=%llu "
		"PLANSYNC_MERGE_ROUNDS=1\n",
		what, detail ? detail : "", (unsigned long long)seed);
	fail();
}

/*
 * No loss: every leaf side s introduced (not in base) is in the result
 * (the merged action or the renumbered one), or in a record of its path;
 * a text leaf may have been merged, the marker check covers it.
 */
static void check_no_loss(
	uint64_t seed,
	const struct doc_node *b,
	const struct doc_node *s,
	const struct doc_node *res,
	const struct doc_node *ren)
{
	static struct leaf lb[512], ls[512], lr[512], ln[512];
	size_t nb = leaves(lb, 512, b), ns = leaves(ls, 512, s),
	       nr = leaves(lr, 512, res), nn = leaves(ln, 512, ren), i;
	char *es = emit(s), *er = emit(res), *en = emit(ren), *p;

	for (i = 0; i < ns; i++) {
		if (leaf_in(lb, nb, &ls[i]) || is_text_path(ls[i].path))
			continue;
		if (!strcmp(ls[i].path, "id"))
			continue; /* the renumbered one changed its id */
		if (leaf_in(lr, nr, &ls[i]) || leaf_in(ln, nn, &ls[i]) ||
		    in_records(res, ls[i].path, ls[i].v))
			continue;
		failed(seed, "no loss", ls[i].path);
	}
	/* Every marker word the side wrote is somewhere in the result. */
	for (p = es; (p = strstr(p, "mk")) != NULL; p += 2) {
		char w[32];
		size_t wl = strspn(p, "mkot0123456789");
		snprintf(w, sizeof(w), "%.*s", (int)wl, p);
		if (!strstr(er, w) && !strstr(en, w)) {
			char *eb = emit(b);
			if (!strstr(eb, w)) {
				free(eb);
				failed(seed, "no loss (marker)", w);
			}
			free(eb);
		}
	}
	free(es);
	free(er);
	free(en);
}

static void check_canonical(uint64_t seed, const struct doc_node *d)
{
	struct doc_node *c, *p = NULL;
	char *s1, *s2, *s3, path[64];
	size_t n = 0;
	const char *id = doc_str(doc_map_get(d, "id"));

	if (!d)
		return;
	snprintf(
		path, sizeof(path), "actions/%.*s/%s.yaml",
		(int)strcspn(id, "-"), id, id);
	c = doc_clone(d);
	s1 = emit(d);
	if (plan_check(c, PLAN_FILE_ACTION, path) < 0)
		failed(seed, "valid", error_message());
	s2 = emit(c);
	if (strcmp(s1, s2))
		failed(seed, "canonical", s1);
	if (doc_parse(&p, s1, strlen(s1), path) < 0)
		failed(seed, "parses", error_message());
	s3 = emit(p);
	if (strcmp(s1, s3))
		failed(seed, "round trip", s1);
	(void)n;
	doc_free(c);
	doc_free(p);
	free(s1);
	free(s2);
	free(s3);
}

static void merge_emit(
	uint64_t seed,
	char **out_doc,
	char **out_ren,
	const struct doc_node *b,
	const struct doc_node *o,
	const struct doc_node *t,
	struct oracle *orc,
	int swap,
	struct merge_result *keep)
{
	struct merge_result r = MERGE_RESULT_INIT;
	struct merge_ctx ctx = { oracle_who, orc, NULL };

	orc->swap = swap;
	if (merge_action(&r, b, o, t, &ctx) < 0)
		failed(seed, "merges", error_message());
	*out_doc = emit(r.doc);
	*out_ren = emit(r.renumber);
	if (keep)
		*keep = r;
	else
		merge_result_release(&r);
	orc->swap = 0;
}

static void
check_same(uint64_t seed, const char *what, const char *a, const char *b)
{
	if (strcmp(a, b)) {
		print_message("--- one:\n%s--- other:\n%s", a, b);
		failed(seed, what, NULL);
	}
}

/* What the random scenarios exercised, so a weak generator shows. */
static struct {
	unsigned scenarios, conflicts, text_merged, renumbered, kept_edit,
		records_kept, deleted;
} stats;

/* Emit and parse back through plan_parse, as sync/ hands trees over. */
static struct doc_node *
reparse(uint64_t seed, enum plan_file_kind kind, struct doc_node *d)
{
	struct doc_node *p = NULL;
	char *s;
	const char *path;

	if (!d)
		return NULL;
	path = kind == PLAN_FILE_ACTION ? action_path(d) : kind_path(kind);
	s = emit(d);
	if (plan_parse(&p, kind, path, s, strlen(s)) < 0) {
		print_message("%s", s);
		failed(seed, "generator makes valid files", error_message());
	}
	free(s);
	doc_free(d);
	return p;
}

/* Did a prose field end up as neither side's value (a text merge)? */
static int text_merged(
	const struct doc_node *r,
	const struct doc_node *o,
	const struct doc_node *t)
{
	static const char *const f[] = { "action", "information" };
	size_t i;

	for (i = 0; i < 2; i++) {
		const struct doc_node *v = doc_map_get(r, f[i]);
		if (v && !doc_equal(v, doc_map_get(o, f[i])) &&
		    !doc_equal(v, doc_map_get(t, f[i])))
			return 1;
	}
	return 0;
}

static void action_scenario(uint64_t seed)
{
	struct gen g;
	struct doc_node *b, *o, *t;
	struct merge_result r = MERGE_RESULT_INIT;
	struct oracle orc;
	char *d1, *r1, *d2, *r2;
	int shape;

	memset(&g, 0, sizeof(g));
	g.r.s = mix(seed) | 1;
	g.seed = seed;
	memset(&orc, 0, sizeof(orc));
	orc.seed = mix(seed ^ 0x77);
	orc.file = "P1-A1";

	b = rand_action(&g, "P1-A1");
	o = doc_clone(b);
	t = doc_clone(b);
	mutate_action(&g, o, 0);
	mutate_action(&g, t, 1);
	shape = (int)(rnd(&g.r) % 16);
	if (shape == 0) { /* ours deleted the action */
		doc_free(o);
		o = NULL;
	} else if (shape == 1) { /* theirs deleted it */
		doc_free(t);
		t = NULL;
	} else if (shape == 2) { /* both added it, no base */
		doc_free(b);
		b = NULL;
	}
	memset(cur, 0, sizeof(cur));
	b = reparse(seed, PLAN_FILE_ACTION, b);
	o = reparse(seed, PLAN_FILE_ACTION, o);
	t = reparse(seed, PLAN_FILE_ACTION, t);
	/* Convergence. */
	merge_emit(seed, &d1, &r1, b, o, t, &orc, 0, &r);
	merge_emit(seed, &d2, &r2, b, t, o, &orc, 1, NULL);
	check_same(seed, "convergence", d1, d2);
	check_same(seed, "convergence (renumbered)", r1, r2);
	free(d2);
	free(r2);
	cur[0] = b;
	cur[1] = o;
	cur[2] = t;
	cur[3] = r.doc;
	/* Valid and canonical. */
	check_canonical(seed, r.doc);
	check_canonical(seed, r.renumber);
	/* No loss, for each side. */
	check_no_loss(seed, b, o, r.doc, r.renumber);
	check_no_loss(seed, b, t, r.doc, r.renumber);
	stats.scenarios++;
	stats.conflicts += r.nconflicts > 0;
	stats.renumbered += r.renumber != NULL;
	stats.deleted += r.doc == NULL;
	stats.text_merged += o && t && r.doc && text_merged(r.doc, o, t);
	{
		size_t i;
		for (i = 0; i < r.nconflicts; i++)
			if (!r.conflicts[i].other) {
				stats.kept_edit++;
				break;
			}
		if (b && o && t && r.doc && doc_map_get(b, "conflicts") &&
		    doc_map_get(r.doc, "conflicts"))
			stats.records_kept++;
	}
	/* Idempotence: merging either side again, or the result with
	 * itself, changes nothing. */
	if (!r.renumber) {
		const struct doc_node *sides[2] = { o, t };
		int s;
		for (s = 0; s < 2; s++) {
			merge_emit(
				seed, &d2, &r2, sides[s], r.doc, sides[s], &orc,
				0, NULL);
			check_same(seed, "idempotence (side again)", d1, d2);
			free(d2);
			free(r2);
			merge_emit(
				seed, &d2, &r2, sides[s], sides[s], r.doc, &orc,
				1, NULL);
			check_same(seed, "idempotence (side again)", d1, d2);
			free(d2);
			free(r2);
		}
		merge_emit(seed, &d2, &r2, b, r.doc, r.doc, &orc, 0, NULL);
		check_same(seed, "idempotence (result twice)", d1, d2);
		free(d2);
		free(r2);
	}
	free(d1);
	free(r1);
	merge_result_release(&r);
	doc_free(b);
	doc_free(o);
	doc_free(t);
}

static uint64_t env_u64(const char *name, uint64_t dflt)
{
	const char *e = getenv(name);
	return e && *e ? strtoull(e, NULL, 0) : dflt;
}

static void test_merge__random_action_properties(void **state)
{
	uint64_t seed = env_u64("PLANSYNC_MERGE_SEED", 1),
		 n = env_u64("PLANSYNC_MERGE_ROUNDS", 3000), i;
	(void)state;
	memset(&stats, 0, sizeof(stats));
	for (i = 0; i < n; i++)
		action_scenario(seed + i);
	print_message(
		"%u scenarios: %u with conflicts, %u text merges, "
		"%u renumbered, %u kept edits over deletes, %u deleted, "
		"%u with old records\n",
		stats.scenarios, stats.conflicts, stats.text_merged,
		stats.renumbered, stats.kept_edit, stats.deleted,
		stats.records_kept);
	/* The generator must reach every rule, or the test proves little. */
	if (n >= 1000) {
		assert_true(stats.conflicts > n / 10);
		assert_true(stats.text_merged > n / 50);
		assert_true(stats.renumbered > n / 100);
		assert_true(stats.kept_edit > n / 100);
		assert_true(stats.deleted > n / 200);
		assert_true(stats.records_kept > n / 100);
	}
}

/* ---- random whole plans: many actions, renumbering -------------------------
 */

#define PLAN_MAX 32

static unsigned plan_renumbered;

struct actset {
	struct doc_node *a[PLAN_MAX];
	size_t n;
};

static struct doc_node *find_action(const struct actset *s, const char *id)
{
	size_t i;
	for (i = 0; i < s->n; i++)
		if (!strcmp(doc_str(doc_map_get(s->a[i], "id")), id))
			return s->a[i];
	return NULL;
}

static int id_cmp(const void *a, const void *b)
{
	return plan_action_id_cmp(
		*(const char *const *)a, *(const char *const *)b);
}

static int node_id_cmp(const void *a, const void *b)
{
	return plan_action_id_cmp(
		doc_str(doc_map_get(*(struct doc_node *const *)a, "id")),
		doc_str(doc_map_get(*(struct doc_node *const *)b, "id")));
}

/* The next free action ID in prio among set and base. */
static void
next_id(char *buf,
	size_t size,
	const char *prio,
	const struct actset *a,
	const struct actset *b)
{
	const char *ids[2 * PLAN_MAX];
	size_t n = 0, i;
	for (i = 0; i < a->n; i++)
		ids[n++] = doc_str(doc_map_get(a->a[i], "id"));
	for (i = 0; i < b->n; i++)
		ids[n++] = doc_str(doc_map_get(b->a[i], "id"));
	assert_int_equal(plan_next_action_id(buf, size, prio, ids, n), 0);
}

/*
 * Merge every action file one way round with merge_actions; all[] holds
 * every result.  Files equal on all three sides go in as `unchanged`.
 */
static void merge_plan_files(
	uint64_t seed,
	struct actset *all,
	const char **ids,
	size_t nids,
	const struct actset *b,
	const struct actset *o,
	const struct actset *t,
	int swap,
	struct doc_node **losers_by_id)
{
	struct merge_action_in in[3 * PLAN_MAX] = { { NULL, NULL, NULL,
						      NULL } };
	struct merge_action_out *res = NULL;
	const char *unchanged[3 * PLAN_MAX] = { NULL };
	size_t nin = 0, nun = 0, nres = 0, i, j;
	struct oracle orc;
	struct merge_ctx ctx = { oracle_who, &orc, NULL };

	memset(&orc, 0, sizeof(orc));
	orc.seed = mix(seed ^ 0x99);
	orc.swap = swap;
	all->n = 0;
	for (i = 0; i < nids; i++) {
		const struct doc_node *vb = find_action(b, ids[i]),
				      *vo = find_action(o, ids[i]),
				      *vt = find_action(t, ids[i]);
		if (vb && doc_equal(vb, vo) && doc_equal(vb, vt)) {
			unchanged[nun++] = ids[i];
			all->a[all->n++] = doc_clone(vb);
			continue;
		}
		in[nin].id = ids[i];
		in[nin].base = vb;
		in[nin].ours = vo;
		in[nin].theirs = vt;
		nin++;
	}
	if (merge_actions(&res, &nres, in, nin, unchanged, nun, &ctx) < 0)
		failed(seed, "merges", error_message());
	for (i = 0; i < nids && losers_by_id; i++)
		losers_by_id[i] = NULL;
	for (i = 0; i < nres; i++) {
		if (i > 0 && plan_action_id_cmp(res[i - 1].id, res[i].id) > 0)
			failed(seed, "merge_actions in ID order", res[i].id);
		if (!res[i].doc)
			continue;
		if (strcmp(res[i].id, doc_str(doc_map_get(res[i].doc, "id"))))
			failed(seed, "merge_actions id matches tree",
			       res[i].id);
		if (strcmp(res[i].id, res[i].from_id)) {
			plan_renumbered++;
			for (j = 0; j < nids && losers_by_id; j++)
				if (!strcmp(ids[j], res[i].from_id))
					losers_by_id[j] = res[i].doc;
		}
		all->a[all->n++] = res[i].doc;
		res[i].doc = NULL;
	}
	merge_actions_free(res, nres);
	qsort(all->a, all->n, sizeof(all->a[0]), node_id_cmp);
	for (i = 1; i < all->n; i++)
		if (!node_id_cmp(&all->a[i - 1], &all->a[i]))
			failed(seed, "unique IDs after renumbering",
			       doc_str(doc_map_get(all->a[i], "id")));
}

static char *emit_all(const struct actset *all)
{
	size_t i, cap = 1, len = 0;
	char *out, **parts = calloc(all->n + 1, sizeof(*parts));

	for (i = 0; i < all->n; i++) {
		parts[i] = emit(all->a[i]);
		cap += strlen(parts[i]) + 8;
	}
	out = malloc(cap);
	out[0] = '\0';
	for (i = 0; i < all->n; i++) {
		len += (size_t)snprintf(
			out + len, cap - len, "===\n%s", parts[i]);
		free(parts[i]);
	}
	free(parts);
	return out;
}

static void actset_free(struct actset *s)
{
	size_t i;
	for (i = 0; i < s->n; i++)
		doc_free(s->a[i]);
	s->n = 0;
}

static void plan_scenario(uint64_t seed)
{
	static const char *const base_ids[] = { "P1-A1", "P1-A2", "P1-A3",
						"P2-A1" };
	struct gen g;
	struct actset b = { { 0 }, 0 }, sides[2] = { { { 0 }, 0 } },
		      all[2] = { { { 0 }, 0 } };
	struct doc_node *losers[3 * PLAN_MAX];
	const char *ids[3 * PLAN_MAX];
	char *e0, *e1, newid[32];
	size_t nids = 0, i, j;
	int s;

	memset(&g, 0, sizeof(g));
	g.r.s = mix(seed ^ 0x5151) | 1;
	memset(cur, 0, sizeof(cur));
	for (i = 0; i < 4; i++)
		b.a[b.n++] = reparse(
			seed, PLAN_FILE_ACTION, rand_action(&g, base_ids[i]));
	for (s = 0; s < 2; s++) {
		unsigned adds = rnd(&g.r) % 3;
		for (i = 0; i < b.n; i++) {
			unsigned r = rnd(&g.r) % 10;
			struct doc_node *a;
			if (r == 0)
				continue; /* deleted */
			a = doc_clone(b.a[i]);
			if (r < 7)
				mutate_action(&g, a, s);
			sides[s].a[sides[s].n++] =
				reparse(seed, PLAN_FILE_ACTION, a);
		}
		for (i = 0; i < adds; i++) {
			const char *prio = rnd(&g.r) % 2 ? "P1" : "P2";
			struct doc_node *a;
			next_id(newid, sizeof(newid), prio, &sides[s], &b);
			a = rand_action(&g, newid);
			doc_map_set(
				a, "action",
				edit_text(
					g.r.s % 2 ? &g : &g,
					doc_map_get(a, "action"), s));
			sides[s].a[sides[s].n++] =
				reparse(seed, PLAN_FILE_ACTION, a);
		}
	}
	/* Every ID on any side, in ID order. */
	for (i = 0; i < b.n; i++)
		ids[nids++] = doc_str(doc_map_get(b.a[i], "id"));
	for (s = 0; s < 2; s++)
		for (i = 0; i < sides[s].n; i++)
			ids[nids++] = doc_str(doc_map_get(sides[s].a[i], "id"));
	qsort(ids, nids, sizeof(ids[0]), id_cmp);
	for (i = 0, j = 0; i < nids; i++)
		if (j == 0 || strcmp(ids[j - 1], ids[i]))
			ids[j++] = ids[i];
	nids = j;

	merge_plan_files(
		seed, &all[0], ids, nids, &b, &sides[0], &sides[1], 0, losers);
	merge_plan_files(
		seed, &all[1], ids, nids, &b, &sides[1], &sides[0], 1, NULL);
	e0 = emit_all(&all[0]);
	e1 = emit_all(&all[1]);
	check_same(seed, "convergence (whole plan)", e0, e1);
	free(e0);
	free(e1);
	for (i = 0; i < all[0].n; i++)
		check_canonical(seed, all[0].a[i]);
	/* No loss: each side's version of each ID is in the result under
	 * that ID, renumbered, or in records. */
	for (i = 0; i < nids; i++) {
		const struct doc_node *r = NULL;
		for (j = 0; j < all[0].n; j++)
			if (all[0].a[j] != losers[i] &&
			    !strcmp(doc_str(doc_map_get(all[0].a[j], "id")),
				    ids[i]))
				r = all[0].a[j];
		for (s = 0; s < 2; s++) {
			cur[0] = find_action(&b, ids[i]);
			cur[s + 1] = find_action(&sides[s], ids[i]);
			cur[3] = r;
			check_no_loss(seed, cur[0], cur[s + 1], r, losers[i]);
		}
	}
	memset(cur, 0, sizeof(cur));
	actset_free(&all[0]);
	actset_free(&all[1]);
	actset_free(&b);
	actset_free(&sides[0]);
	actset_free(&sides[1]);
}

static void test_merge__random_plan_properties(void **state)
{
	uint64_t seed = env_u64("PLANSYNC_MERGE_SEED", 1),
		 n = env_u64("PLANSYNC_MERGE_ROUNDS", 3000) / 3, i;
	(void)state;
	plan_renumbered = 0;
	for (i = 0; i < n; i++)
		plan_scenario(seed + i);
	print_message(
		"%llu plans, %u actions renumbered\n", (unsigned long long)n,
		plan_renumbered);
	if (n >= 300)
		assert_true(plan_renumbered > n / 20);
}

/* ---- random plan.yaml and partners.yaml -----------------------------------
 */

static struct doc_node *rand_meta(struct gen *g)
{
	struct doc_node *m = doc_new_map(), *ps = doc_new_seq();
	unsigned i;

	doc_map_set(m, "schema", doc_new_scalar(PLAN_SCHEMA));
	doc_map_set(m, "title", rand_text(g, 3 + rnd(&g->r) % 5));
	doc_map_set(m, "partnership", doc_new_scalar("York Partnership"));
	doc_map_set(m, "updated", doc_new_scalar("December 2023"));
	for (i = 1; i <= 3; i++) {
		struct doc_node *p = doc_new_map();
		char id[8];
		snprintf(id, sizeof(id), "P%u", i);
		doc_map_set(p, "id", doc_new_scalar(id));
		doc_map_set(p, "title", rand_text(g, 2 + rnd(&g->r) % 5));
		if (rnd(&g->r) % 2)
			doc_map_set(p, "focus", rand_text(g, 3));
		doc_seq_append(ps, p);
	}
	doc_map_set(m, "priorities", ps);
	return m;
}

static void mutate_meta(struct gen *g, struct doc_node *m, int side)
{
	unsigned nops = rnd(&g->r) % 4, i;
	char buf[32];
	static const char *const order[] = { "schema",      "title",
					     "partnership", "updated",
					     "priorities",  NULL };
	static const char *const porder[] = { "id", "title", "focus", NULL };

	for (i = 0; i < nops; i++) {
		struct doc_node *ps = doc_map_get(m, "priorities"), *p;
		p = ps->n ? ps->items[rnd(&g->r) % ps->n] : NULL;
		switch (rnd(&g->r) % 7) {
		case 0:
			doc_map_set(
				m, "title",
				edit_text(g, doc_map_get(m, "title"), side));
			break;
		case 1:
			marker(g, buf, sizeof(buf), side);
			doc_map_set(m, "updated", doc_new_scalar(buf));
			break;
		case 2:
			if (p)
				doc_map_set(
					p, "title",
					edit_text(
						g, doc_map_get(p, "title"),
						side));
			break;
		case 3:
			if (p && doc_map_get(p, "focus") && rnd(&g->r) % 3 == 0)
				doc_map_remove(p, "focus");
			else if (p)
				put_canon(
					p, porder, "focus",
					edit_text(
						g, doc_map_get(p, "focus"),
						side));
			break;
		case 4: { /* both sides tend to add the same new ID */
			struct doc_node *n = doc_new_map();
			snprintf(buf, sizeof(buf), "P%u", 4 + rnd(&g->r) % 2);
			if (doc_map_get(m, "x-dummy") || rnd(&g->r) % 8 == 0) {
				doc_free(n);
				break;
			}
			{
				size_t k;
				int dup = 0;
				for (k = 0; k < ps->n; k++)
					dup |= !strcmp(
						doc_str(doc_map_get(
							ps->items[k], "id")),
						buf);
				if (dup) {
					doc_free(n);
					break;
				}
			}
			doc_map_set(n, "id", doc_new_scalar(buf));
			doc_map_set(n, "title", edit_text(g, NULL, side));
			doc_seq_append(ps, n);
			break;
		}
		case 5:
			if (ps->n > 1 && rnd(&g->r) % 3 == 0)
				doc_seq_remove(ps, rnd(&g->r) % ps->n);
			break;
		case 6:
			marker(g, buf, sizeof(buf), side);
			put_canon(m, order, "x-extra", doc_new_scalar(buf));
			break;
		}
	}
}

/* A valid ssh-ed25519 key line, different for every seed value. */
static struct doc_node *rand_key(struct gen *g)
{
	unsigned char blob[51] = { 0,   0,   0,   11,  's', 's', 'h',
				   '-', 'e', 'd', '2', '5', '5', '1',
				   '9', 0,   0,   0,   32 };
	char b64[128], line[160];
	unsigned i;

	for (i = 19; i < 51; i++)
		blob[i] = (unsigned char)rnd(&g->r);
	sodium_bin2base64(
		b64, sizeof(b64), blob, sizeof(blob),
		sodium_base64_VARIANT_ORIGINAL);
	snprintf(line, sizeof(line), "ssh-ed25519 %s", b64);
	return doc_new_scalar(line);
}

static struct doc_node *rand_partner(struct gen *g, const char *email)
{
	struct doc_node *p = doc_new_map();
	doc_map_set(p, "email", doc_new_scalar(email));
	doc_map_set(p, "name", rand_text(g, 2));
	doc_map_set(p, "organisation", doc_new_scalar(orgs[rnd(&g->r) % 5]));
	doc_map_set(
		p, "role",
		doc_new_scalar(rnd(&g->r) % 2 ? "editor" : "coordinator"));
	doc_map_set(p, "key", rand_key(g));
	doc_map_set(
		p, "revoked", doc_new_plain(rnd(&g->r) % 4 ? "false" : "true"));
	return p;
}

static struct doc_node *rand_partners(struct gen *g)
{
	struct doc_node *m = doc_new_map(), *ps = doc_new_seq();
	unsigned i;
	char email[32];

	for (i = 0; i < 3; i++) {
		snprintf(email, sizeof(email), "p%u@example.org", i);
		doc_seq_append(ps, rand_partner(g, email));
	}
	doc_map_set(m, "partners", ps);
	return m;
}

static void mutate_partners(struct gen *g, struct doc_node *m, int side)
{
	unsigned nops = rnd(&g->r) % 4, i;
	char buf[32];

	for (i = 0; i < nops; i++) {
		struct doc_node *ps = doc_map_get(m, "partners"), *p;
		p = ps->n ? ps->items[rnd(&g->r) % ps->n] : NULL;
		switch (rnd(&g->r) % 7) {
		case 0:
			if (p)
				doc_map_set(
					p, "revoked", doc_new_plain("true"));
			break;
		case 1:
			if (p)
				doc_map_set(
					p, "role",
					doc_new_scalar(
						!strcmp(doc_str(doc_map_get(
								p, "role")),
							"editor") ?
							"coordinator" :
							"editor"));
			break;
		case 2:
			marker(g, buf, sizeof(buf), side);
			if (p)
				doc_map_set(p, "name", doc_new_scalar(buf));
			break;
		case 3:
			if (p)
				doc_map_set(p, "key", rand_key(g));
			break;
		case 4:
			if (p && rnd(&g->r) % 3 == 0)
				doc_seq_remove(ps, rnd(&g->r) % ps->n);
			break;
		case 5: {
			size_t k;
			int dup = 0;
			snprintf(
				buf, sizeof(buf), "n%u@example.org",
				rnd(&g->r) % 2);
			for (k = 0; k < ps->n; k++)
				dup |=
					!strcmp(doc_str(doc_map_get(
							ps->items[k], "email")),
						buf);
			if (!dup) {
				struct doc_node *n = rand_partner(g, buf);
				marker(g, buf, sizeof(buf), side);
				doc_map_set(n, "name", doc_new_scalar(buf));
				doc_seq_append(ps, n);
			}
			break;
		}
		case 6:
			marker(g, buf, sizeof(buf), side);
			if (p)
				doc_map_set(p, "x-note", doc_new_scalar(buf));
			break;
		}
	}
}

/* Every marker of side s (not in base) is in the result or a record. */
static void check_markers(
	uint64_t seed,
	const struct doc_node *b,
	const struct doc_node *s,
	const struct merge_result *r)
{
	char *es = emit(s), *eb = emit(b), *er = emit(r->doc), *p;
	size_t i;

	for (p = es; (p = strstr(p, "mk")) != NULL; p += 2) {
		char w[32];
		int found;
		snprintf(
			w, sizeof(w), "%.*s", (int)strspn(p, "mkot0123456789"),
			p);
		found = strstr(eb, w) || strstr(er, w);
		for (i = 0; i < r->nconflicts && !found; i++) {
			char *k = emit(r->conflicts[i].kept),
			     *o = emit(r->conflicts[i].other);
			found = strstr(k, w) || strstr(o, w);
			free(k);
			free(o);
		}
		if (!found)
			failed(seed, "no loss (marker)", w);
	}
	free(es);
	free(eb);
	free(er);
}

static const char *
partner_field(const struct doc_node *ps, const char *email, const char *key)
{
	size_t i;
	for (i = 0; ps && i < ps->n; i++)
		if (!strcmp(doc_str(doc_map_get(ps->items[i], "email")), email))
			return doc_str(doc_map_get(ps->items[i], key));
	return NULL;
}

/* SPEC 3: revoked wins; editor wins over coordinator. */
static void check_partner_safety(
	uint64_t seed,
	const struct doc_node *b,
	const struct doc_node *o,
	const struct doc_node *t,
	const struct doc_node *r)
{
	const struct doc_node *pr = doc_map_get(r, "partners"),
			      *pb = doc_map_get(b, "partners"),
			      *sides[2] = { doc_map_get(o, "partners"),
					    doc_map_get(t, "partners") };
	size_t i;
	int s;

	for (i = 0; pr && i < pr->n; i++) {
		const char *email = doc_str(doc_map_get(pr->items[i], "email"));
		const char *rev = partner_field(pr, email, "revoked");
		const char *role = partner_field(pr, email, "role");
		const char *brev = partner_field(pb, email, "revoked");
		const char *brole = partner_field(pb, email, "role");
		const char *srole[2];
		for (s = 0; s < 2; s++) {
			const char *v =
				partner_field(sides[s], email, "revoked");
			srole[s] = partner_field(sides[s], email, "role");
			if (v && !strcmp(v, "true") &&
			    (!brev || strcmp(brev, "true")) &&
			    strcmp(rev, "true"))
				failed(seed, "revoked wins", email);
			/* Deleted on one side while the other changed it. */
			if (brev && !v && strcmp(rev, "true")) {
				char *eb = NULL, *eo = NULL;
				const struct doc_node *x = NULL;
				size_t k;
				for (k = 0; k < sides[1 - s]->n; k++)
					if (!strcmp(doc_str(doc_map_get(
							    sides[1 - s]
								    ->items[k],
							    "email")),
						    email))
						x = sides[1 - s]->items[k];
				for (k = 0; k < pb->n; k++)
					if (!strcmp(doc_str(doc_map_get(
							    pb->items[k],
							    "email")),
						    email)) {
						eb = emit(pb->items[k]);
						eo = emit(x);
					}
				if (eb && eo && strcmp(eb, eo))
					failed(seed, "kept partner is revoked",
					       email);
				free(eb);
				free(eo);
			}
		}
		if (srole[0] && srole[1] && strcmp(srole[0], srole[1]) &&
		    (!brole ||
		     (strcmp(brole, srole[0]) && strcmp(brole, srole[1]))) &&
		    strcmp(role, "editor"))
			failed(seed, "editor wins", email);
	}
}

static void file_scenario(uint64_t seed, enum plan_file_kind kind)
{
	struct gen g;
	struct doc_node *b, *o, *t;
	struct merge_result r1 = MERGE_RESULT_INIT, r2 = MERGE_RESULT_INIT,
			    r3 = MERGE_RESULT_INIT;
	struct oracle orc;
	struct merge_ctx ctx = { oracle_who, &orc, NULL };
	char *e1, *e2;

	memset(&g, 0, sizeof(g));
	g.r.s = mix(seed ^ (kind == PLAN_FILE_PLAN ? 0xaa : 0xbb)) | 1;
	memset(&orc, 0, sizeof(orc));
	orc.seed = mix(seed ^ 0x33);
	orc.file = kind_path(kind);
	memset(cur, 0, sizeof(cur));
	b = kind == PLAN_FILE_PLAN ? rand_meta(&g) : rand_partners(&g);
	o = doc_clone(b);
	t = doc_clone(b);
	if (kind == PLAN_FILE_PLAN) {
		mutate_meta(&g, o, 0);
		mutate_meta(&g, t, 1);
	} else {
		mutate_partners(&g, o, 0);
		mutate_partners(&g, t, 1);
	}
	b = reparse(seed, kind, b);
	o = reparse(seed, kind, o);
	t = reparse(seed, kind, t);
	cur[0] = b;
	cur[1] = o;
	cur[2] = t;
	if (merge_file(&r1, kind, b, o, t, &ctx) < 0)
		failed(seed, "merges", error_message());
	orc.swap = 1;
	if (merge_file(&r2, kind, b, t, o, &ctx) < 0)
		failed(seed, "merges", error_message());
	orc.swap = 0;
	cur[3] = r1.doc;
	e1 = emit(r1.doc);
	e2 = emit(r2.doc);
	check_same(seed, "convergence", e1, e2);
	free(e2);
	{
		struct doc_node *c = doc_clone(r1.doc);
		if (plan_check(c, kind, kind_path(kind)) < 0)
			failed(seed, "valid", error_message());
		e2 = emit(c);
		check_same(seed, "canonical", e1, e2);
		free(e2);
		doc_free(c);
	}
	check_markers(seed, b, o, &r1);
	check_markers(seed, b, t, &r1);
	if (kind == PLAN_FILE_PARTNERS)
		check_partner_safety(seed, b, o, t, r1.doc);
	/* Idempotence. */
	if (merge_file(&r3, kind, o, r1.doc, o, &ctx) < 0)
		failed(seed, "merges", error_message());
	e2 = emit(r3.doc);
	check_same(seed, "idempotence", e1, e2);
	free(e2);
	merge_result_release(&r3);
	if (merge_file(&r3, kind, b, r1.doc, r1.doc, &ctx) < 0)
		failed(seed, "merges", error_message());
	e2 = emit(r3.doc);
	check_same(seed, "idempotence", e1, e2);
	free(e2);
	free(e1);
	merge_result_release(&r1);
	merge_result_release(&r2);
	merge_result_release(&r3);
	memset(cur, 0, sizeof(cur));
	doc_free(b);
	doc_free(o);
	doc_free(t);
}

static void test_merge__random_plan_meta_and_partners(void **state)
{
	uint64_t seed = env_u64("PLANSYNC_MERGE_SEED", 1),
		 n = env_u64("PLANSYNC_MERGE_ROUNDS", 3000) / 3, i;
	(void)state;
	for (i = 0; i < n; i++) {
		file_scenario(seed + i, PLAN_FILE_PLAN);
		file_scenario(seed + i, PLAN_FILE_PARTNERS);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_merge__one_side_changes_taken),
		cmocka_unit_test(test_merge__merge_actions_no_unchanged),
		cmocka_unit_test(test_merge__same_change_both_sides),
		cmocka_unit_test(test_merge__scalar_conflict_later_wins),
		cmocka_unit_test(test_merge__time_tie_larger_commit_wins),
		cmocka_unit_test(test_merge__responsible_as_sets),
		cmocka_unit_test(test_merge__updates_by_id),
		cmocka_unit_test(test_merge__update_added_both_sides_same_id),
		cmocka_unit_test(test_merge__update_delete_vs_edit),
		cmocka_unit_test(test_merge__optional_field_delete_vs_edit),
		cmocka_unit_test(test_merge__text_merged_when_disjoint),
		cmocka_unit_test(test_merge__text_conflict_when_overlapping),
		cmocka_unit_test(test_merge__opaque_keys),
		cmocka_unit_test(
			test_merge__odd_opaque_values_recorded_validly),
		cmocka_unit_test(
			test_merge__action_added_both_sides_renumbered),
		cmocka_unit_test(test_merge__renumber_many_in_id_order),
		cmocka_unit_test(
			test_merge__merge_actions_renumbers_past_unchanged),
		cmocka_unit_test(test_merge__action_delete_vs_edit),
		cmocka_unit_test(test_merge__existing_records_merge_as_sets),
		cmocka_unit_test(test_merge__history_error_aborts),
		cmocka_unit_test(test_merge__resolve),
		cmocka_unit_test(test_merge__resolve_whole_action),
		cmocka_unit_test(test_merge__resolve_other_kinds_of_field),
		cmocka_unit_test(test_merge__plan_meta),
		cmocka_unit_test(test_merge__partners_safer_value),
		cmocka_unit_test(test_merge__random_action_properties),
		cmocka_unit_test(test_merge__random_plan_properties),
		cmocka_unit_test(test_merge__random_plan_meta_and_partners),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
