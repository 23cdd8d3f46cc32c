#define _XOPEN_SOURCE 700
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <ftw.h>
#include <dirent.h>

#include <cmocka.h>

#include "core/doc.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/plan.h"

#define KEY1           \
	"ssh-ed25519 " \
	"AAAAC3NzaC1lZDI1NTE5AAAAIJyblqKl117xrjfm+4UUuxzv909WBmqBqnlbfyOJieAG"
#define KEY2           \
	"ssh-ed25519 " \
	"AAAAC3NzaC1lZDI1NTE5AAAAIAQ0hFvu3BmIminzcC8g6P8X7nAJe517h6YxDDs95+1k"

/* ---- helpers ------------------------------------------------------------ */

static char fixtures[2048];

static const char *fixture(const char *rel)
{
	static char buf[4][4096];
	static int k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", fixtures, rel);
	return buf[k];
}

static char *slurp(const char *path)
{
	char *buf = NULL;
	size_t len;

	if (fsutil_read_file(&buf, &len, path, DOC_MAX_FILE) != 0)
		fail_msg("cannot read %s: %s", path, error_message());
	return buf;
}

static void spit(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void rm_rf(const char *dir)
{
	nftw(dir, rm_one, 32, FTW_DEPTH | FTW_PHYS);
}

static char *tmpdir(void)
{
	char *d = strdup("/tmp/test_plan.XXXXXX");

	assert_non_null(mkdtemp(d));
	return d;
}

/* A copy of fixtures/plan/valid in a fresh temporary folder. */
static char *valid_copy(void)
{
	char *d = tmpdir();
	struct plan *p = NULL;

	assert_int_equal(plan_load_dir(&p, fixture("valid")), 0);
	assert_int_equal(plan_write_dir(p, d), 0);
	plan_free(p);
	return d;
}

static struct doc_node *
parse_ok(enum plan_file_kind kind, const char *path, const char *text)
{
	struct doc_node *d = NULL;

	if (plan_parse(&d, kind, path, text, strlen(text)) != 0)
		fail_msg("plan_parse failed: %s\n%s", error_message(), text);
	return d;
}

/* 0 if plan_parse refuses text with a message starting with prefix and
 * holding rule; else prints why and returns 1. */
static int parse_bad(
	enum plan_file_kind kind,
	const char *path,
	const char *text,
	const char *prefix,
	const char *rule)
{
	struct doc_node *d = NULL;
	int rc;

	error_clear();
	rc = plan_parse(&d, kind, path, text, strlen(text));
	if (rc != ERROR_INVALID) {
		print_error(
			"expected ERROR_INVALID for\n%s\ngot %d (%s)\n", text,
			rc, error_message());
		doc_free(d);
		return 1;
	}
	if (d || strncmp(error_message(), prefix, strlen(prefix)) ||
	    !strstr(error_message(), rule)) {
		print_error(
			"message '%s' lacks '%s' ... '%s'\n", error_message(),
			prefix, rule);
		return 1;
	}
	return 0;
}

static char *emit(const struct doc_node *d)
{
	char *out = NULL;
	size_t len;

	assert_int_equal(doc_emit(&out, &len, d), 0);
	return out;
}

static const char *const A = "actions/P1/P1-A1.yaml";

/* A valid action with one line changed by the caller. */
#define ACTION_HEAD "id: P1-A1\npriority: P1\naction: Do it.\n"

/* ---- IDs and paths ------------------------------------------------------ */

static void test_plan__ids(void **state)
{
	(void)state;
	assert_true(plan_priority_id_valid("P1"));
	assert_true(plan_priority_id_valid("P9999"));
	assert_false(plan_priority_id_valid("P0"));
	assert_false(plan_priority_id_valid("P01"));
	assert_false(plan_priority_id_valid("P10000"));
	assert_false(plan_priority_id_valid("p1"));
	assert_false(plan_priority_id_valid("P1 "));
	assert_false(plan_priority_id_valid(""));
	assert_true(plan_action_id_valid("P1-A1"));
	assert_true(plan_action_id_valid("P12-A345"));
	assert_false(plan_action_id_valid("P1-A0"));
	assert_false(plan_action_id_valid("P1A1"));
	assert_false(plan_action_id_valid("P1-A1/../x"));
	assert_false(plan_action_id_valid("../P1-A1"));
	assert_false(plan_action_id_valid("P1-A1.yaml"));
	assert_true(plan_update_id_valid("u1"));
	assert_true(plan_update_id_valid("u0a1b2c3d"));
	assert_true(plan_update_id_valid("u0123456789abcdef0123456789abcdef"));
	assert_false(
		plan_update_id_valid("u0123456789abcdef0123456789abcdef0"));
	assert_false(plan_update_id_valid("u"));
	assert_false(plan_update_id_valid("uA1"));
	assert_false(plan_update_id_valid("u1/.."));
	assert_false(plan_update_id_valid("x1"));
}

static void test_plan__id_order(void **state)
{
	(void)state;
	assert_true(plan_action_id_cmp("P2-A9", "P2-A10") < 0);
	assert_true(plan_action_id_cmp("P9-A1", "P10-A1") < 0);
	assert_true(plan_action_id_cmp("P10-A1", "P9-A99") > 0);
	assert_int_equal(plan_action_id_cmp("P3-A3", "P3-A3"), 0);
}

static void test_plan__paths(void **state)
{
	char buf[64], id[32];
	enum plan_file_kind k;

	(void)state;
	assert_int_equal(plan_action_path(buf, sizeof(buf), "P12-A3"), 0);
	assert_string_equal(buf, "actions/P12/P12-A3.yaml");
	assert_int_equal(
		plan_action_path(buf, sizeof(buf), "../x"), ERROR_INVALID);
	assert_int_equal(
		plan_path_classify(&k, id, sizeof(id), "plan.yaml"), 0);
	assert_int_equal(k, PLAN_FILE_PLAN);
	assert_int_equal(
		plan_path_classify(&k, id, sizeof(id), "partners.yaml"), 0);
	assert_int_equal(k, PLAN_FILE_PARTNERS);
	assert_int_equal(
		plan_path_classify(&k, id, sizeof(id), ".gitattributes"), 0);
	assert_int_equal(k, PLAN_FILE_ATTRIBUTES);
	assert_int_equal(
		plan_path_classify(
			&k, id, sizeof(id), "actions/P2/P2-A10.yaml"),
		0);
	assert_int_equal(k, PLAN_FILE_ACTION);
	assert_string_equal(id, "P2-A10");
	assert_int_equal(
		plan_path_classify(&k, id, sizeof(id), "actions/P1/P2-A1.yaml"),
		ERROR_INVALID);
	assert_int_equal(
		plan_path_classify(
			&k, id, sizeof(id), "actions/P1/../P1-A1.yaml"),
		ERROR_INVALID);
	assert_int_equal(
		plan_path_classify(&k, id, sizeof(id), "actions/P1-A1.yaml"),
		ERROR_INVALID);
	assert_int_equal(
		plan_path_classify(&k, id, sizeof(id), "README"),
		ERROR_INVALID);
	assert_int_equal(
		plan_path_classify(&k, id, sizeof(id), "actions/P1/P1-A1.yml"),
		ERROR_INVALID);
	assert_non_null(strstr(error_message(), "actions/P1/P1-A1.yml"));
}

/* ---- loading and writing ------------------------------------------------- */

static void test_plan__load_valid(void **state)
{
	struct plan *p = NULL;
	const char *order[] = { "P1-A1", "P1-A2", "P2-A1", "P2-A9", "P2-A10" };
	size_t i;

	(void)state;
	assert_int_equal(plan_load_dir(&p, fixture("valid")), 0);
	assert_int_equal(plan_action_count(p), 5);
	for (i = 0; i < 5; i++)
		assert_string_equal(
			doc_str(doc_map_get(plan_action_at(p, i), "id")),
			order[i]);
	assert_null(plan_action_at(p, 5));
	assert_ptr_equal(plan_find_action(p, "P2-A9"), plan_action_at(p, 3));
	assert_null(plan_find_action(p, "P2-A2"));
	assert_string_equal(
		doc_str(doc_map_get(plan_meta(p), "title")),
		"York Hate Crime Partnership Action Plan 2022/23");
	assert_int_equal(plan_partner_count(plan_partners(p)), 2);
	assert_true(plan_priority_listed(p, "P2"));
	assert_false(plan_priority_listed(p, "P3"));
	plan_free(p);
}

static void compare_trees(const char *a, const char *b)
{
	const char *files[] = { "plan.yaml",
				"partners.yaml",
				"actions/P1/P1-A1.yaml",
				"actions/P1/P1-A2.yaml",
				"actions/P2/P2-A1.yaml",
				"actions/P2/P2-A9.yaml",
				"actions/P2/P2-A10.yaml" };
	char pa[4096], pb[4096];
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char *x, *y;

		snprintf(pa, sizeof(pa), "%s/%s", a, files[i]);
		snprintf(pb, sizeof(pb), "%s/%s", b, files[i]);
		x = slurp(pa);
		y = slurp(pb);
		if (strcmp(x, y))
			fail_msg(
				"%s differs:\n%s\n--- expected:\n%s", files[i],
				y, x);
		free(x);
		free(y);
	}
}

static void test_plan__write_canonical_same_bytes(void **state)
{
	struct plan *p = NULL, *q = NULL;
	char *d = tmpdir();
	size_t i;

	(void)state;
	assert_int_equal(plan_load_dir(&p, fixture("valid")), 0);
	assert_int_equal(plan_write_dir(p, d), 0);
	compare_trees(fixture("valid"), d);
	/* And what was written loads as the same trees. */
	assert_int_equal(plan_load_dir(&q, d), 0);
	assert_int_equal(plan_action_count(q), plan_action_count(p));
	for (i = 0; i < plan_action_count(p); i++)
		assert_true(
			doc_equal(plan_action_at(p, i), plan_action_at(q, i)));
	assert_true(doc_equal(plan_meta(p), plan_meta(q)));
	assert_true(doc_equal(plan_partners(p), plan_partners(q)));
	plan_free(p);
	plan_free(q);
	rm_rf(d);
	free(d);
}

static void test_plan__write_noncanonical_gives_canonical(void **state)
{
	struct plan *p = NULL;
	char *d = tmpdir();

	(void)state;
	assert_int_equal(plan_load_dir(&p, fixture("noncanonical")), 0);
	assert_int_equal(plan_write_dir(p, d), 0);
	compare_trees(fixture("valid"), d);
	plan_free(p);
	rm_rf(d);
	free(d);
}

static void test_plan__unknown_keys_kept_in_order(void **state)
{
	struct doc_node *d;
	char *out;

	(void)state;
	d = parse_ok(
		PLAN_FILE_ACTION, A,
		"zeta: {b: 1, a: [x]}\n" ACTION_HEAD "status: done\n"
		"Alpha: 'no'\n"
		"updates:\n"
		"  - {note: kept, id: u1, text: hi, _x: ~}\n");
	out = emit(d);
	assert_string_equal(
		out, "id: P1-A1\n"
		     "priority: P1\n"
		     "action: Do it.\n"
		     "information: \"\"\n"
		     "status: done\n"
		     "timescale: \"\"\n"
		     "responsible: []\n"
		     "updates:\n"
		     "  - id: u1\n"
		     "    text: hi\n"
		     "    _x: ~\n"
		     "    note: kept\n"
		     "Alpha: \"no\"\n"
		     "zeta:\n"
		     "  b: 1\n"
		     "  a:\n"
		     "    - x\n");
	/* The canonical bytes load and emit as themselves. */
	{
		struct doc_node *e = parse_ok(PLAN_FILE_ACTION, A, out);
		char *again = emit(e);

		assert_true(doc_equal(d, e));
		assert_string_equal(out, again);
		free(again);
		doc_free(e);
	}
	free(out);
	doc_free(d);
}

static void load_bad(const char *dir, const char *msg_part)
{
	struct plan *p = NULL;
	int rc;

	error_clear();
	rc = plan_load_dir(&p, dir);
	if (rc == 0)
		fail_msg("%s loaded, expected '%s'", dir, msg_part);
	assert_null(p);
	if (!strstr(error_message(), msg_part))
		fail_msg("message '%s' lacks '%s'", error_message(), msg_part);
}

static void test_plan__load_refuses_layout(void **state)
{
	char want[4200];

	(void)state;
	snprintf(
		want, sizeof(want),
		"%s/actions/P3' holds actions of priority P3",
		fixture("invalid/unlisted-priority"));
	load_bad(fixture("invalid/unlisted-priority"), want);
	snprintf(
		want, sizeof(want),
		"%s/actions/P1/README.txt' is outside the plan layout",
		fixture("invalid/stray-file"));
	load_bad(fixture("invalid/stray-file"), want);
	snprintf(
		want, sizeof(want),
		"%s/actions/P1/P1-A4.yaml:1:5: 'id' is P1-A3 but the file is "
		"named for P1-A4",
		fixture("invalid/id-mismatch"));
	load_bad(fixture("invalid/id-mismatch"), want);
	snprintf(
		want, sizeof(want),
		"%s/actions/P1/P1-A1.yaml:4:9: 'status' must be planned",
		fixture("invalid/bad-action"));
	load_bad(fixture("invalid/bad-action"), want);
	load_bad("/nonexistent/plan", "cannot open plan folder");
}

static void test_plan__load_refuses_symlinks_and_strays(void **state)
{
	char *d = valid_copy();
	char a[4200], b[4200];

	(void)state;
	/* A symlinked action file. */
	snprintf(a, sizeof(a), "%s/actions/P1/P1-A2.yaml", d);
	snprintf(b, sizeof(b), "%s/actions/P1/P1-A3.yaml", d);
	assert_int_equal(symlink(a, b), 0);
	load_bad(d, "P1-A3.yaml' is a symbolic link");
	unlink(b);
	/* A symlinked plan.yaml. */
	snprintf(a, sizeof(a), "%s/plan.yaml", d);
	snprintf(b, sizeof(b), "%s/plan.real", d);
	assert_int_equal(rename(a, b), 0);
	assert_int_equal(symlink(b, a), 0);
	load_bad(d, "plan.yaml' is a symbolic link");
	unlink(a);
	assert_int_equal(rename(b, a), 0);
	/* A symlinked priority folder. */
	snprintf(a, sizeof(a), "%s/actions/P2", d);
	snprintf(b, sizeof(b), "%s/P2.real", d);
	assert_int_equal(rename(a, b), 0);
	assert_int_equal(symlink(b, a), 0);
	load_bad(d, "actions/P2' is a symbolic link");
	unlink(a);
	assert_int_equal(rename(b, a), 0);
	/* A symlinked partners.yaml. */
	snprintf(a, sizeof(a), "%s/partners.yaml", d);
	snprintf(b, sizeof(b), "%s/partners.real", d);
	assert_int_equal(rename(a, b), 0);
	assert_int_equal(symlink(b, a), 0);
	load_bad(d, "partners.yaml' is a symbolic link");
	unlink(a);
	assert_int_equal(rename(b, a), 0);
	/* A stray folder under actions/ and one inside a priority folder. */
	snprintf(a, sizeof(a), "%s/actions/misc", d);
	assert_int_equal(mkdir(a, 0777), 0);
	load_bad(d, "actions/misc' is outside the plan layout");
	rmdir(a);
	snprintf(a, sizeof(a), "%s/actions/P1/P1-A7.yaml", d);
	assert_int_equal(mkdir(a, 0777), 0);
	load_bad(d, "P1-A7.yaml' is not a regular file");
	rmdir(a);
	/* An action in the wrong priority folder. */
	snprintf(a, sizeof(a), "%s/actions/P1/P2-A1.yaml", d);
	spit(a, "id: P2-A1\n");
	load_bad(d, "actions/P1/P2-A1.yaml' is outside the plan layout");
	unlink(a);
	/* A file over the size limit (sparse), refused before reading. */
	snprintf(a, sizeof(a), "%s/actions/P1/P1-A5.yaml", d);
	spit(a, "");
	assert_int_equal(truncate(a, (off_t)DOC_MAX_FILE + 1), 0);
	load_bad(d, "over the limit");
	unlink(a);
	/* A temporary file left by a killed writer is skipped. */
	snprintf(a, sizeof(a), "%s/actions/P1/.P1-A1.yaml.0a1b2c3d.tmp", d);
	spit(a, "id: half a fi");
	{
		struct plan *p = NULL;

		assert_int_equal(plan_load_dir(&p, d), 0);
		plan_free(p);
	}
	unlink(a);
	snprintf(a, sizeof(a), "%s/actions/P1/.P1-A1.yaml.swp", d);
	spit(a, "x");
	load_bad(d, ".P1-A1.yaml.swp' is outside the plan layout");
	unlink(a);
	/* Other top-level files are ignored; partners.yaml is optional. */
	snprintf(a, sizeof(a), "%s/README", d);
	spit(a, "hello\n");
	snprintf(a, sizeof(a), "%s/partners.yaml", d);
	unlink(a);
	{
		struct plan *p = NULL;

		assert_int_equal(plan_load_dir(&p, d), 0);
		assert_null(plan_partners(p));
		assert_int_equal(plan_action_count(p), 5);
		plan_free(p);
	}
	/* No plan.yaml at all. */
	snprintf(a, sizeof(a), "%s/plan.yaml", d);
	unlink(a);
	load_bad(d, "plan.yaml' does not exist");
	rm_rf(d);
	free(d);
}

/* Write actions P1-A3 .. P1-A<last> (more than the loader's threads take
 * in one go) into a plan folder. */
static void many_actions(const char *d, unsigned last)
{
	char path[4200], text[512];
	unsigned a;

	for (a = 3; a <= last; a++) {
		snprintf(path, sizeof(path), "%s/actions/P1/P1-A%u.yaml", d, a);
		snprintf(
			text, sizeof(text),
			"id: P1-A%u\npriority: P1\naction: Action number %u.\n"
			"status: ongoing\nresponsible:\n  - NYP\n  - CYC\n"
			"updates:\n  - id: u%x\n    text: Update %u.\n",
			a, a, a, a);
		spit(path, text);
	}
}

static char *load_msg(const char *d, unsigned jobs)
{
	struct plan *p = NULL;

	error_clear();
	if (plan_load_dir_jobs(&p, d, jobs) == 0)
		fail_msg("%s loaded with %u threads", d, jobs);
	assert_null(p);
	return strdup(error_message());
}

/* The first of names (file names in actions/P1) that readdir lists. */
static const char *first_listed(const char *d, const char *const *names)
{
	char path[4200];
	DIR *dir;
	struct dirent *e;
	const char *found = NULL;
	size_t i;

	snprintf(path, sizeof(path), "%s/actions/P1", d);
	dir = opendir(path);
	assert_non_null(dir);
	while (!found && (e = readdir(dir)) != NULL)
		for (i = 0; names[i]; i++)
			if (!strcmp(e->d_name, names[i]))
				found = names[i];
	closedir(dir);
	assert_non_null(found);
	return found;
}

/*
 * Loading with threads gives the plan of a load with one, and the error a
 * load with one reports: the first bad file in listing order.
 */
static void test_plan__load_threads_deterministic(void **state)
{
	char *d = valid_copy(), *m1, *mn;
	char path[4200];
	const char *const bad[] = { "P1-A40.yaml", "P1-A200.yaml",
				    "P1-A290.yaml", "notes.txt", NULL };
	const char *first;
	struct plan *p1 = NULL, *pn = NULL;
	unsigned jobs[] = { 2, 3, 8 };
	size_t i, k;
	int round;

	(void)state;
	many_actions(d, 300);
	assert_int_equal(plan_load_dir_jobs(&p1, d, 1), 0);
	assert_int_equal(plan_action_count(p1), 303);
	for (k = 0; k < sizeof(jobs) / sizeof(jobs[0]); k++) {
		assert_int_equal(plan_load_dir_jobs(&pn, d, jobs[k]), 0);
		assert_int_equal(plan_action_count(pn), plan_action_count(p1));
		for (i = 0; i < plan_action_count(p1); i++)
			assert_true(doc_equal(
				plan_action_at(p1, i), plan_action_at(pn, i)));
		assert_true(doc_equal(plan_meta(p1), plan_meta(pn)));
		assert_true(doc_equal(plan_partners(p1), plan_partners(pn)));
		plan_free(pn);
		pn = NULL;
	}
	assert_string_equal(
		doc_str(doc_map_get(plan_action_at(p1, 2), "id")), "P1-A3");
	assert_string_equal(
		doc_str(doc_map_get(plan_action_at(p1, 299), "id")), "P1-A300");
	assert_string_equal(
		doc_str(doc_map_get(plan_action_at(p1, 300), "id")), "P2-A1");
	plan_free(p1);

	/* Three bad files and a stray one. */
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/actions/P1/%s", d, bad[i]);
		spit(path, "id: P1-A1\npriority: P1\naction: x\nstatus: bad\n");
	}
	snprintf(path, sizeof(path), "%s/actions/P1/notes.txt", d);
	spit(path, "notes\n");
	first = first_listed(d, bad);
	m1 = load_msg(d, 1);
	if (!strstr(m1, first))
		fail_msg("'%s' does not name %s, listed first", m1, first);
	for (round = 0; round < 10; round++) {
		mn = load_msg(d, jobs[round % 3]);
		assert_string_equal(mn, m1);
		free(mn);
	}
	free(m1);
	/* Loads, failed or not, leave no arena memory behind. */
	assert_int_equal(doc_arena_chunks(), 0);
	rm_rf(d);
	free(d);
}

static void test_plan__write_is_atomic_and_minimal(void **state)
{
	char *d = valid_copy();
	char a[4200];
	struct stat st1, st2;
	struct plan *p = NULL;
	struct doc_node *act;

	(void)state;
	assert_int_equal(plan_load_dir(&p, d), 0);
	snprintf(a, sizeof(a), "%s/actions/P1/P1-A2.yaml", d);
	assert_int_equal(stat(a, &st1), 0);
	act = plan_find_action(p, "P1-A1");
	assert_int_equal(plan_field_set(act, "status", "done"), 0);
	assert_int_equal(plan_write_dir(p, d), 0);
	/* The unchanged file was not rewritten; the changed one was. */
	assert_int_equal(stat(a, &st2), 0);
	assert_int_equal(st1.st_ino, st2.st_ino);
	snprintf(a, sizeof(a), "%s/actions/P1/P1-A1.yaml", d);
	{
		char *text = slurp(a);

		assert_non_null(strstr(text, "\nstatus: done\n"));
		free(text);
	}
	plan_free(p);
	rm_rf(d);
	free(d);
}

static void test_plan__put_action(void **state)
{
	struct plan *p = NULL;
	struct doc_node *a = NULL;

	(void)state;
	assert_int_equal(plan_load_dir(&p, fixture("valid")), 0);
	assert_int_equal(
		plan_action_new(&a, "P2-A5", "Fifth.", NULL, "NYP"), 0);
	assert_int_equal(plan_put_action(p, a), 0);
	assert_int_equal(plan_action_count(p), 6);
	assert_string_equal(
		doc_str(doc_map_get(plan_action_at(p, 3), "id")), "P2-A5");
	assert_int_equal(plan_action_new(&a, "P2-A5", "Again.", NULL, NULL), 0);
	assert_int_equal(plan_put_action(p, a), 0);
	assert_int_equal(plan_action_count(p), 6);
	assert_string_equal(
		doc_str(doc_map_get(plan_find_action(p, "P2-A5"), "action")),
		"Again.");
	assert_int_equal(
		plan_action_new(&a, "P7-A1", "No priority.", NULL, NULL), 0);
	assert_int_equal(plan_put_action(p, a), ERROR_INVALID);
	assert_non_null(strstr(error_message(), "P7"));
	plan_free(p);
}

static void test_plan__new_plan(void **state)
{
	struct doc_node *meta;
	struct plan *p = NULL;
	char *d = tmpdir(), path[4200], *text;

	(void)state;
	meta = parse_ok(
		PLAN_FILE_PLAN, "plan.yaml",
		"schema: plansync/1\ntitle: T\npriorities: [{id: P1, title: "
		"One}]\n");
	assert_int_equal(plan_new(&p, meta), 0);
	assert_int_equal(plan_action_count(p), 0);
	assert_int_equal(plan_write_dir(p, d), 0);
	snprintf(path, sizeof(path), "%s/plan.yaml", d);
	text = slurp(path);
	assert_string_equal(
		text,
		"schema: plansync/1\ntitle: T\npriorities:\n  - id: P1\n    "
		"title: One\n");
	free(text);
	plan_free(p);
	rm_rf(d);
	free(d);
}

/* ---- validation -----------------------------------------------------------
 */

struct bad_case {
	enum plan_file_kind kind;
	const char *path, *text, *prefix, *rule;
};

static void test_plan__validation_errors(void **state)
{
	static const struct bad_case cases[] = {
		/* required fields */
		{ PLAN_FILE_ACTION, "actions/P1/P1-A1.yaml",
		  "priority: P1\naction: x\nstatus: done\n",
		  "actions/P1/P1-A1.yaml:1:1:", "an action lacks 'id'" },
		{ PLAN_FILE_ACTION, A,
		  "id: P1-A1\npriority: P1\nstatus: done\n",
		  "actions/P1/P1-A1.yaml:1:1:", "an action lacks 'action'" },
		{ PLAN_FILE_ACTION, A,
		  "id: P1-A1\npriority: P1\naction: \"a\\e[2Jb\"\n",
		  "actions/P1/P1-A1.yaml:3:9:",
		  "'action' holds a control character (U+001B)" },
		/* after long printable runs and line breaks */
		{ PLAN_FILE_ACTION, A,
		  "id: P1-A1\npriority: P1\naction: \"0123456789abcdefg\\x7f\"\n",
		  "actions/P1/P1-A1.yaml:3:9:",
		  "'action' holds a control character (U+007F)" },
		{ PLAN_FILE_ACTION, A,
		  "id: P1-A1\npriority: P1\naction: \"first line, long enough\\n"
		  "second line\\tand a tab, then\\e\"\n",
		  "actions/P1/P1-A1.yaml:3:9:",
		  "'action' holds a control character (U+001B)" },
		{ PLAN_FILE_ACTION, A,
		  "id: P1-A1\npriority: P1\naction: \"0123456789abcdef\\x9b\"\n",
		  "actions/P1/P1-A1.yaml:3:9:",
		  "'action' holds a control character (U+009B)" },
		{ PLAN_FILE_ACTION, A, ACTION_HEAD,
		  "actions/P1/P1-A1.yaml:1:1:", "an action lacks 'status'" },
		{ PLAN_FILE_ACTION, A, "- id: P1-A1\n",
		  "actions/P1/P1-A1.yaml:1:1:",
		  "must be a mapping, not a list" },
		{ PLAN_FILE_ACTION, A, "",
		  "actions/P1/P1-A1.yaml:1:1:", "must be a mapping" },
		/* wrong types */
		{ PLAN_FILE_ACTION, A, ACTION_HEAD "status: [done]\n",
		  "actions/P1/P1-A1.yaml:4:9:",
		  "'status' must be text, not a list" },
		{ PLAN_FILE_ACTION, A,
		  ACTION_HEAD "status: done\ninformation: {a: 1}\n",
		  "actions/P1/P1-A1.yaml:5:14:",
		  "'information' must be text, not a mapping" },
		{ PLAN_FILE_ACTION, A, ACTION_HEAD "status: done\ntimescale:\n",
		  "actions/P1/P1-A1.yaml:5:11:",
		  "'timescale' is empty (null)" },
		{ PLAN_FILE_ACTION, A,
		  ACTION_HEAD "status: done\ntimescale: yes\n",
		  "actions/P1/P1-A1.yaml:5:12:",
		  "not a boolean 'yes' (quote it)" },
		{ PLAN_FILE_ACTION, A,
		  ACTION_HEAD "status: done\nresponsible: NYP\n",
		  "actions/P1/P1-A1.yaml:5:14:",
		  "'responsible' must be a list of organisations" },
		{ PLAN_FILE_ACTION, A,
		  ACTION_HEAD "status: done\nresponsible: [NYP, [x]]\n",
		  "actions/P1/P1-A1.yaml:5:20:", "must be text, not a list" },
		{ PLAN_FILE_ACTION, A,
		  ACTION_HEAD "status: done\nresponsible: [NYP, CYC, NYP]\n",
		  "actions/P1/P1-A1.yaml:5:25:",
		  "lists organisation 'NYP' twice" },
		{ PLAN_FILE_ACTION, A,
		  ACTION_HEAD "status: done\nresponsible: [NYP, '']\n",
		  "actions/P1/P1-A1.yaml:5:20:", "bad organisation name" },
		{ PLAN_FILE_ACTION, A,
		  "id: P1-A1\npriority: P1\naction: ''\n"
		  "status: done\n",
		  "actions/P1/P1-A1.yaml:3:9:", "'action' must not be empty" },
		{ PLAN_FILE_ACTION, A,
		  ACTION_HEAD "status: done\nupdates: {}\n",
		  "actions/P1/P1-A1.yaml:5:10:",
		  "'updates' must be a list, not a mapping" },
		/* status values */
		{ PLAN_FILE_ACTION, A, ACTION_HEAD "status: finished\n",
		  "actions/P1/P1-A1.yaml:4:9:",
		  "'status' must be planned, in-progress, ongoing, on-hold "
		  "or done, not 'finished'" },
		{ PLAN_FILE_ACTION, A, ACTION_HEAD "status: Done\n",
		  "actions/P1/P1-A1.yaml:4:9:", "not 'Done'" },
		/* IDs */
		{ PLAN_FILE_ACTION, A,
		  "id: ../../etc\npriority: P1\naction: x\nstatus: done\n",
		  "actions/P1/P1-A1.yaml:1:5:",
		  "'id' must be an action ID like P1-A3, not '../../etc'" },
		{ PLAN_FILE_ACTION, A,
		  "id: P1-A1\npriority: 1\naction: x\nstatus: done\n",
		  "actions/P1/P1-A1.yaml:2:11:",
		  "'priority' must be a priority ID" },
		{ PLAN_FILE_ACTION, A,
		  "id: P1-A1\npriority: P2\naction: x\nstatus: done\n",
		  "actions/P1/P1-A1.yaml:2:11:",
		  "'priority' is P2 but the action ID P1-A1 is in P1" },
		{ PLAN_FILE_ACTION, "actions/P1/P1-A2.yaml",
		  ACTION_HEAD "status: done\n", "actions/P1/P1-A2.yaml:1:5:",
		  "'id' is P1-A1 but the file is named for P1-A2" },
		{ PLAN_FILE_ACTION, A,
		  ACTION_HEAD "status: done\nupdates:\n  - {id: U1, text: x}\n",
		  "actions/P1/P1-A1.yaml:6:10:",
		  "'id' must be an update id u<hex>" },
		{ PLAN_FILE_ACTION, A,
		  ACTION_HEAD "status: done\nupdates:\n  - {id: u1/../x, "
			      "text: x}\n",
		  "actions/P1/P1-A1.yaml:6:10:", "must be an update id" },
		{ PLAN_FILE_ACTION, A,
		  ACTION_HEAD "status: done\nupdates:\n  - {id: u1, text: "
			      "a}\n  - {id: u1, text: b}\n",
		  "actions/P1/P1-A1.yaml:7:10:", "lists update id 'u1' twice" },
		{ PLAN_FILE_ACTION, A,
		  ACTION_HEAD "status: done\nupdates:\n  - {id: u1}\n",
		  "actions/P1/P1-A1.yaml:6:5:", "an update lacks 'text'" },
		{ PLAN_FILE_ACTION, A,
		  ACTION_HEAD "status: done\nupdates:\n  - {id: u1, text: "
			      "x, date: 2023-02-30}\n",
		  "actions/P1/P1-A1.yaml:6:29:",
		  "'date' must be a date YYYY-MM-DD, not '2023-02-30'" },
		{ PLAN_FILE_ACTION, A,
		  ACTION_HEAD "status: done\nupdates:\n  - {id: u1, text: "
			      "x, date: 1 Dec 2023}\n",
		  "actions/P1/P1-A1.yaml:6:29:", "must be a date" },
		{ PLAN_FILE_ACTION, A,
		  ACTION_HEAD "status: done\nconflicts:\n  - {kept: x}\n",
		  "actions/P1/P1-A1.yaml:6:5:",
		  "a conflict record lacks 'field'" },
		{ PLAN_FILE_ACTION, A,
		  ACTION_HEAD "status: done\nconflicts:\n  - {field: status, "
			      "kept_commit: abc}\n",
		  "actions/P1/P1-A1.yaml:6:34:",
		  "'kept_commit' must be a commit id" },
		/* plan.yaml */
		{ PLAN_FILE_PLAN, "plan.yaml",
		  "schema: plansync/2\ntitle: T\npriorities: []\n",
		  "plan.yaml:1:9:", "'schema' must be plansync/1" },
		{ PLAN_FILE_PLAN, "plan.yaml", "title: T\npriorities: []\n",
		  "plan.yaml:1:1:", "plan.yaml lacks 'schema'" },
		{ PLAN_FILE_PLAN, "plan.yaml",
		  "schema: plansync/1\ntitle: T\npriorities:\n  - {id: P1, "
		  "title: a}\n  - {id: P1, title: b}\n",
		  "plan.yaml:5:10:", "lists priority 'P1' twice" },
		{ PLAN_FILE_PLAN, "plan.yaml",
		  "schema: plansync/1\ntitle: T\npriorities:\n  - {id: P1}\n",
		  "plan.yaml:4:5:", "a priority lacks 'title'" },
		{ PLAN_FILE_PLAN, "plan.yaml",
		  "schema: plansync/1\ntitle: T\npriorities:\n  - {id: "
		  "A1, title: x}\n",
		  "plan.yaml:4:10:", "must be a priority ID like P1" },
		/* partners.yaml */
		{ PLAN_FILE_PARTNERS, "partners.yaml",
		  "partners:\n  - {email: a@b.example, name: A, "
		  "organisation: O, role: admin, key: " KEY1 "}\n",
		  "partners.yaml:2:58:",
		  "'role' must be coordinator or editor, not 'admin'" },
		{ PLAN_FILE_PARTNERS, "partners.yaml",
		  "partners:\n  - {email: nobody, name: A, organisation: O, "
		  "role: editor, key: " KEY1 "}\n",
		  "partners.yaml:2:13:", "'email' is not an email address" },
		{ PLAN_FILE_PARTNERS, "partners.yaml",
		  "partners:\n  - {email: a@b.example, name: A, "
		  "organisation: O, role: editor, key: " KEY1 "}\n"
		  "  - {email: A@B.example, name: B, organisation: O, "
		  "role: editor, key: " KEY2 "}\n",
		  "partners.yaml:3:13:", "lists email 'A@B.example' twice" },
		{ PLAN_FILE_PARTNERS, "partners.yaml",
		  "partners:\n  - {email: a@b.example, name: A, "
		  "organisation: O, role: editor, key: " KEY1 "}\n"
		  "  - {email: c@b.example, name: B, organisation: O, "
		  "role: editor, key: " KEY1 "}\n",
		  "partners.yaml:3:", "same key as partner 1" },
		{ PLAN_FILE_PARTNERS, "partners.yaml",
		  "partners:\n  - {email: a@b.example, name: A, "
		  "organisation: O, role: editor, key: ssh-rsa AAAAB3Nza}\n",
		  "partners.yaml:2:", "must be an OpenSSH public key line" },
		{ PLAN_FILE_PARTNERS, "partners.yaml",
		  "partners:\n  - {email: a@b.example, name: A, "
		  "organisation: O, role: editor, key: 'ssh-ed25519 "
		  "AAAAC3NzaC1lZDI1NTE5AAAAIJyblqKl117xrjfm+4UUuxzv909WBmqBq"
		  "nlbfyOJie'}\n",
		  "partners.yaml:2:", "must be an OpenSSH public key line" },
		{ PLAN_FILE_PARTNERS, "partners.yaml",
		  "partners:\n  - {email: a@b.example, name: A, "
		  "organisation: O, role: editor, key: 'ssh-ed25519 "
		  "AAAAC3NzaC1yc2EAAAAIJyblqKl117xrjfm+4UUuxzv909WBmqBqnlbfy"
		  "OJieAG'}\n",
		  "partners.yaml:2:", "must be an OpenSSH public key line" },
		{ PLAN_FILE_PARTNERS, "partners.yaml",
		  "partners:\n  - {email: a@b.example, name: A, "
		  "organisation: O, role: editor, key: " KEY1
		  ", revoked: 'false'}\n",
		  "partners.yaml:2:", "'revoked' must be true or false" },
		{ PLAN_FILE_PARTNERS, "partners.yaml", "people: []\n",
		  "partners.yaml:1:1:", "partners.yaml lacks 'partners'" },
		/* YAML-level refusals reach plan_parse with the path too */
		{ PLAN_FILE_ACTION, A, "id: P1-A1\nid: P1-A2\n",
		  "actions/P1/P1-A1.yaml:2:1:", "duplicate key 'id'" },
		{ PLAN_FILE_ACTION, A, "id: &a P1-A1\npriority: *a\n",
		  "actions/P1/P1-A1.yaml:1:5:", "anchors are not allowed" },
	};
	size_t i;
	int failed = 0;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		failed += parse_bad(
			cases[i].kind, cases[i].path, cases[i].text,
			cases[i].prefix, cases[i].rule);
	assert_int_equal(failed, 0);
}

/* Long lists find repeats quickly and name the later one. */
static void test_plan__validation_long_lists(void **state)
{
	size_t n = 50000, i, len = 0, cap = n * 16 + 4096;
	char *buf = malloc(cap);
	struct doc_node *d = NULL;

	(void)state;
	len += (size_t)snprintf(
		buf + len, cap - len,
		ACTION_HEAD "status: done\nresponsible:\n");
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(
			buf + len, cap - len, "  - org%zu\n", (i * 7919) % n);
	assert_int_equal(plan_parse(&d, PLAN_FILE_ACTION, A, buf, len), 0);
	doc_free(d);
	d = NULL;
	snprintf(buf + len, cap - len, "  - org%zu\n", (size_t)123);
	assert_int_equal(
		plan_parse(&d, PLAN_FILE_ACTION, A, buf, strlen(buf)),
		ERROR_INVALID);
	assert_non_null(
		strstr(error_message(), ":50006:5: 'responsible' lists "
					"organisation 'org123' twice"));
	/* Emails repeat ignoring case, in a long list too. */
	len = (size_t)snprintf(buf, cap, "partners:\n");
	for (i = 0; i < 40; i++)
		len += (size_t)snprintf(
			buf + len, cap - len,
			"  - {email: %s%zu@x.example, name: A, organisation: O, "
			"role: editor, key: %s}\n",
			i == 39 ? "p" : "P", i == 39 ? (size_t)7 : i,
			i == 0 ? KEY1 : KEY2);
	assert_int_equal(
		plan_parse(&d, PLAN_FILE_PARTNERS, "partners.yaml", buf, len),
		ERROR_INVALID);
	assert_non_null(strstr(
		error_message(),
		"partners.yaml:41:13: 'partners' lists email 'p7@x.example' "
		"twice"));
	/* Keys repeat in a long list: the later partner is named. */
	len = (size_t)snprintf(buf, cap, "partners:\n");
	for (i = 0; i < 40; i++)
		len += (size_t)snprintf(
			buf + len, cap - len,
			"  - {email: p%zu@x.example, name: A, organisation: O, "
			"role: editor, key: %s}\n",
			i, i == 3 || i == 30 ? KEY1 : KEY2 " k");
	assert_int_equal(
		plan_parse(&d, PLAN_FILE_PARTNERS, "partners.yaml", buf, len),
		ERROR_INVALID);
	assert_non_null(strstr(error_message(), "partners.yaml:"));
	assert_non_null(strstr(error_message(), "same key as partner"));
	free(buf);
}

static void test_plan__validation_accepts(void **state)
{
	struct doc_node *d;
	char *out;

	(void)state;
	/* Numbers are text too; defaults are filled in; empty conflicts
	 * are dropped. */
	d = parse_ok(
		PLAN_FILE_ACTION, A,
		ACTION_HEAD "status: done\ntimescale: 2024\nconflicts: []\n");
	out = emit(d);
	assert_string_equal(
		out, "id: P1-A1\npriority: P1\naction: Do it.\ninformation: "
		     "\"\"\nstatus: done\ntimescale: 2024\nresponsible: "
		     "[]\nupdates: []\n");
	free(out);
	doc_free(d);
	/* A path outside the layout skips the file-name check. */
	d = parse_ok(
		PLAN_FILE_ACTION, "/tmp/merge.tmp",
		"id: P3-A4\npriority: P3\naction: x\nstatus: done\n");
	doc_free(d);
	/* Revoked defaults to false. */
	d = parse_ok(
		PLAN_FILE_PARTNERS, "partners.yaml",
		"partners:\n  - {email: a@b.example, name: A, organisation: O, "
		"role: editor, key: " KEY1 " a@b}\n");
	out = emit(d);
	assert_non_null(strstr(out, "    revoked: false\n"));
	free(out);
	doc_free(d);
}

static void test_plan__key_line(void **state)
{
	unsigned char pk[32];

	(void)state;
	assert_true(plan_key_line_valid(KEY1, pk));
	assert_int_equal(pk[0], 0x9c);
	assert_true(plan_key_line_valid(KEY1 " jane@x", NULL));
	assert_false(plan_key_line_valid("ssh-ed25519", NULL));
	assert_false(plan_key_line_valid("ssh-ed25519 !!!!", NULL));
	assert_false(plan_key_line_valid(KEY1 "AAAA", NULL));
	assert_false(plan_key_line_valid("ecdsa-sha2-nistp256 AAAA", NULL));
}

/* ---- field paths ---------------------------------------------------- */

static struct doc_node *sample_action(void)
{
	return parse_ok(
		PLAN_FILE_ACTION, A,
		ACTION_HEAD
		"status: ongoing\ntimescale: Ongoing\n"
		"responsible: [NYP, CYC]\n"
		"updates:\n"
		"  - {id: u1, text: First., date: 2023-01-02}\n"
		"  - {id: u2, text: Second., responsible: [NYP]}\n");
}

static void test_plan__field_get(void **state)
{
	struct doc_node *a = sample_action();
	const struct doc_node *v = NULL;

	(void)state;
	assert_int_equal(plan_field_get(&v, a, "status"), 0);
	assert_string_equal(v->str, "ongoing");
	assert_int_equal(plan_field_get(&v, a, "responsible"), 0);
	assert_int_equal(v->kind, DOC_SEQ);
	assert_int_equal(plan_field_get(&v, a, "updates/u2/text"), 0);
	assert_string_equal(v->str, "Second.");
	assert_int_equal(
		plan_field_get(&v, a, "updates/u2/date"), ERROR_NOTFOUND);
	assert_int_equal(
		plan_field_get(&v, a, "updates/u9/text"), ERROR_NOTFOUND);
	assert_int_equal(plan_field_get(&v, a, "colour"), ERROR_USAGE);
	assert_int_equal(plan_field_get(&v, a, "id"), ERROR_USAGE);
	assert_int_equal(plan_field_get(&v, a, "updates/u1/id"), ERROR_USAGE);
	assert_int_equal(plan_field_get(&v, a, "updates/u1"), ERROR_USAGE);
	assert_int_equal(plan_field_get(&v, a, "updates/../text"), ERROR_USAGE);
	doc_free(a);
}

static void test_plan__field_set(void **state)
{
	struct doc_node *a = sample_action(), *b;
	char *out;

	(void)state;
	assert_int_equal(plan_field_set(a, "status", "done"), 0);
	assert_int_equal(
		plan_field_set(a, "status", "finished"), ERROR_INVALID);
	assert_int_equal(
		plan_field_set(a, "responsible", " CYC , ,Generate,"), 0);
	assert_int_equal(
		plan_field_set(a, "responsible", "A, B, A"), ERROR_INVALID);
	assert_int_equal(
		plan_field_set(a, "information", "Line one\nline two"), 0);
	assert_int_equal(plan_field_set(a, "action", ""), ERROR_INVALID);
	assert_int_equal(plan_field_set(a, "action", "caf\xc3"), ERROR_INVALID);
	/* control characters (terminal escapes) but tab and newline */
	assert_int_equal(
		plan_field_set(a, "action", "a\x1b[2Jb"), ERROR_INVALID);
	assert_int_equal(
		plan_field_set(a, "updates/u1/text", "a\rb"), ERROR_INVALID);
	assert_int_equal(
		plan_field_set(
			a, "action",
			"a\xc2\x9b"
			"2Jb"),
		ERROR_INVALID);
	assert_int_equal(
		plan_field_set(a, "timescale", "a\x7f"), ERROR_INVALID);
	assert_int_equal(plan_field_set(a, "timescale", "yes"), 0);
	assert_int_equal(plan_field_set(a, "updates/u2/date", "2023-02-28"), 0);
	assert_int_equal(
		plan_field_set(a, "updates/u2/date", "2023-02-29"),
		ERROR_INVALID);
	assert_int_equal(plan_field_set(a, "updates/u2/timescale", "Soon"), 0);
	assert_int_equal(plan_field_set(a, "updates/u1/responsible", ""), 0);
	assert_int_equal(
		plan_field_set(a, "updates/u7/text", "x"), ERROR_NOTFOUND);
	assert_int_equal(plan_field_set(a, "priority", "P2"), ERROR_USAGE);
	out = emit(a);
	assert_string_equal(
		out, "id: P1-A1\n"
		     "priority: P1\n"
		     "action: Do it.\n"
		     "information: |-\n"
		     "  Line one\n"
		     "  line two\n"
		     "status: done\n"
		     "timescale: \"yes\"\n"
		     "responsible:\n"
		     "  - CYC\n"
		     "  - Generate\n"
		     "updates:\n"
		     "  - id: u1\n"
		     "    text: First.\n"
		     "    date: 2023-01-02\n"
		     "    responsible: []\n"
		     "  - id: u2\n"
		     "    text: Second.\n"
		     "    date: 2023-02-28\n"
		     "    timescale: Soon\n"
		     "    responsible:\n"
		     "      - NYP\n");
	/* The result is still a valid, canonical action. */
	b = parse_ok(PLAN_FILE_ACTION, A, out);
	assert_true(doc_equal(a, b));
	doc_free(b);
	free(out);
	doc_free(a);
}

static void test_plan__field_list(void **state)
{
	struct doc_node *a = sample_action();
	char **v = NULL;
	size_t n = 0;
	const char *want[] = {
		"action",          "information",     "status",
		"timescale",       "responsible",     "updates/u1/text",
		"updates/u1/date", "updates/u2/text", "updates/u2/responsible"
	};
	size_t i;

	(void)state;
	assert_int_equal(plan_field_list(&v, &n, a), 0);
	assert_int_equal(n, sizeof(want) / sizeof(want[0]));
	for (i = 0; i < n; i++)
		assert_string_equal(v[i], want[i]);
	plan_strv_free(v, n);
	doc_free(a);
}

static void test_plan__value_summary(void **state)
{
	struct doc_node *a = sample_action();
	char *s;

	(void)state;
	s = plan_value_summary(doc_map_get(a, "responsible"), 0);
	assert_string_equal(s, "NYP, CYC");
	free(s);
	s = plan_value_summary(NULL, 10);
	assert_string_equal(s, "(none)");
	free(s);
	s = plan_value_summary(doc_map_get(a, "action"), 5);
	assert_string_equal(s, "Do...");
	free(s);
	assert_int_equal(plan_field_set(a, "information", "a\nb"), 0);
	s = plan_value_summary(doc_map_get(a, "information"), 0);
	assert_string_equal(s, "a b");
	free(s);
	/* Trimming never splits a UTF-8 character. */
	assert_int_equal(
		plan_field_set(
			a, "information", "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"),
		0);
	s = plan_value_summary(doc_map_get(a, "information"), 6);
	assert_string_equal(s, "\xc3\xa9...");
	free(s);
	doc_free(a);
}

static void test_plan__update_add(void **state)
{
	struct doc_node *a = sample_action(), *b;
	char *id1 = NULL, *id2 = NULL, *out;
	const struct doc_node *v;
	size_t i;

	(void)state;
	assert_int_equal(
		plan_update_add(
			&id1, a, "Third.", "2023-03-01", NULL, "NYP, CYC"),
		0);
	assert_int_equal(strlen(id1), 9);
	assert_true(plan_update_id_valid(id1));
	assert_int_equal(
		plan_update_add(&id2, a, "Fourth.", NULL, "Later", NULL), 0);
	assert_string_not_equal(id1, id2);
	assert_int_equal(doc_map_get(a, "updates")->n, 4);
	{
		char path[64];

		snprintf(path, sizeof(path), "updates/%s/responsible", id1);
		assert_int_equal(plan_field_get(&v, a, path), 0);
		assert_int_equal(v->n, 2);
		snprintf(path, sizeof(path), "updates/%s/date", id2);
		assert_int_equal(plan_field_get(&v, a, path), ERROR_NOTFOUND);
	}
	assert_int_equal(
		plan_update_add(&id2, a, "x", "2023-13-01", NULL, NULL),
		ERROR_INVALID);
	out = emit(a);
	b = parse_ok(PLAN_FILE_ACTION, A, out);
	assert_true(doc_equal(a, b));
	free(out);
	doc_free(b);
	/* Ids stay unique over many additions. */
	for (i = 0; i < 200; i++) {
		char *id = NULL;

		assert_int_equal(
			plan_update_add(&id, a, "x", NULL, NULL, NULL), 0);
		free(id);
	}
	out = emit(a);
	b = parse_ok(PLAN_FILE_ACTION, A, out);
	doc_free(b);
	free(out);
	free(id1);
	free(id2);
	doc_free(a);
	/* An action without updates gets the list. */
	a = doc_new_map();
	assert_int_equal(doc_map_set(a, "id", doc_new_scalar("P1-A1")), 0);
	assert_int_equal(plan_update_add(&id1, a, "t", NULL, NULL, NULL), 0);
	assert_int_equal(doc_map_get(a, "updates")->n, 1);
	free(id1);
	doc_free(a);
}

static void test_plan__next_action_id(void **state)
{
	const char *ids[] = { "P1-A1", "P1-A9", "P2-A40", "P1-A10", "junk" };
	char buf[32];

	(void)state;
	assert_int_equal(
		plan_next_action_id(buf, sizeof(buf), "P1", ids, 5), 0);
	assert_string_equal(buf, "P1-A11");
	assert_int_equal(
		plan_next_action_id(buf, sizeof(buf), "P2", ids, 5), 0);
	assert_string_equal(buf, "P2-A41");
	assert_int_equal(
		plan_next_action_id(buf, sizeof(buf), "P3", ids, 5), 0);
	assert_string_equal(buf, "P3-A1");
	assert_int_equal(
		plan_next_action_id(buf, sizeof(buf), "P3", NULL, 0), 0);
	assert_string_equal(buf, "P3-A1");
	assert_int_equal(
		plan_next_action_id(buf, sizeof(buf), "X", ids, 5),
		ERROR_INVALID);
	{
		const char *full[] = { "P4-A9999" };

		assert_int_equal(
			plan_next_action_id(buf, sizeof(buf), "P4", full, 1),
			ERROR_INVALID);
	}
}

static void test_plan__action_new(void **state)
{
	struct doc_node *a = NULL;
	char *out;

	(void)state;
	assert_int_equal(
		plan_action_new(
			&a, "P3-A2", "Run a campaign: online.", "2024/25",
			"NYP,CYC"),
		0);
	out = emit(a);
	assert_string_equal(
		out, "id: P3-A2\n"
		     "priority: P3\n"
		     "action: \"Run a campaign: online.\"\n"
		     "information: \"\"\n"
		     "status: planned\n"
		     "timescale: 2024/25\n"
		     "responsible:\n"
		     "  - NYP\n"
		     "  - CYC\n"
		     "updates: []\n");
	free(out);
	doc_free(a);
	a = NULL;
	assert_int_equal(
		plan_action_new(&a, "P3", "x", NULL, NULL), ERROR_INVALID);
	assert_int_equal(
		plan_action_new(&a, "P3-A1", "", NULL, NULL), ERROR_INVALID);
	assert_null(a);
}

/* ---- diff --------------------------------------------------------------- */

static void test_plan__diff(void **state)
{
	struct doc_node *a = sample_action(), *b = sample_action();
	struct plan_change *c = NULL;
	size_t n = 0;
	char *id = NULL;

	(void)state;
	assert_int_equal(plan_action_diff(&c, &n, a, b), 0);
	assert_int_equal(n, 0);
	plan_changes_free(c, n);

	assert_int_equal(plan_field_set(b, "status", "done"), 0);
	assert_int_equal(plan_field_set(b, "updates/u1/text", "First!"), 0);
	assert_int_equal(plan_field_set(b, "updates/u2/date", "2023-05-05"), 0);
	assert_int_equal(plan_update_add(&id, b, "New.", NULL, NULL, NULL), 0);
	assert_int_equal(doc_map_set(b, "note", doc_new_scalar("hi")), 0);
	assert_int_equal(plan_action_diff(&c, &n, a, b), 0);
	assert_int_equal(n, 5);
	assert_string_equal(c[0].path, "status");
	assert_string_equal(c[0].old->str, "ongoing");
	assert_string_equal(c[0].new->str, "done");
	assert_string_equal(c[1].path, "updates/u1/text");
	assert_string_equal(c[2].path, "updates/u2/date");
	assert_null(c[2].old);
	assert_string_equal(c[3].path + strlen(c[3].path) - 5, "/text");
	assert_null(c[3].old);
	assert_string_equal(c[3].new->str, "New.");
	assert_string_equal(c[4].path, "note");
	plan_changes_free(c, n);

	/* A deleted action shows each field going away. */
	assert_int_equal(plan_action_diff(&c, &n, a, NULL), 0);
	assert_int_equal(n, 9);
	assert_string_equal(c[0].path, "action");
	assert_null(c[0].new);
	assert_string_equal(c[8].path, "updates/u2/responsible");
	plan_changes_free(c, n);
	free(id);
	doc_free(a);
	doc_free(b);
}

/* Diff of actions with many updates matches them by id, not by pairs. */
static void test_plan__diff_many_updates(void **state)
{
	size_t n = 30000, i, len = 0, cap = n * 40 + 256;
	char *buf = malloc(cap);
	struct doc_node *a = NULL, *b = NULL;
	struct plan_change *c = NULL;
	size_t nc = 0;

	(void)state;
	len += (size_t)snprintf(
		buf + len, cap - len, ACTION_HEAD "status: done\nupdates:\n");
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(
			buf + len, cap - len, "  - {id: u%zx, text: t%zu}\n",
			i + 1, i);
	assert_int_equal(plan_parse(&a, PLAN_FILE_ACTION, A, buf, len), 0);
	b = doc_clone(a);
	/* b lacks the first update, changes one and adds one. */
	doc_seq_remove(doc_map_get(b, "updates"), 0);
	assert_int_equal(plan_field_set(b, "updates/u3e8/text", "changed"), 0);
	{
		char *id = NULL;

		assert_int_equal(
			plan_update_add(&id, b, "new", NULL, NULL, NULL), 0);
		free(id);
	}
	assert_int_equal(plan_action_diff(&c, &nc, a, b), 0);
	assert_int_equal(nc, 3);
	assert_string_equal(c[0].path, "updates/u1/text");
	assert_null(c[0].new);
	assert_string_equal(c[1].path, "updates/u3e8/text");
	assert_string_equal(c[1].new->str, "changed");
	assert_string_equal(c[2].new->str, "new");
	plan_changes_free(c, nc);
	doc_free(a);
	doc_free(b);
	free(buf);
}

/* ---- partners ------------------------------------------------------- */

static void test_plan__partners(void **state)
{
	struct plan *p = NULL;
	struct plan_partner pt;
	const struct doc_node *ps;

	(void)state;
	assert_int_equal(plan_load_dir(&p, fixture("valid")), 0);
	ps = plan_partners(p);
	assert_int_equal(plan_partner_count(ps), 2);
	plan_partner_at(&pt, ps, 0);
	assert_string_equal(pt.email, "jane.smith@nyp.example");
	assert_string_equal(pt.name, "Jane Smith");
	assert_string_equal(pt.organisation, "NYP");
	assert_true(pt.coordinator);
	assert_false(pt.revoked);
	assert_string_equal(pt.key, KEY1 " jane.smith@nyp.example");
	assert_int_equal(plan_partner_by_email(&pt, ps, "tom@cyc.example"), 0);
	assert_string_equal(pt.role, "editor");
	assert_false(pt.coordinator);
	assert_true(pt.revoked);
	assert_int_equal(
		plan_partner_by_email(&pt, ps, "who@x.example"),
		ERROR_NOTFOUND);
	assert_int_equal(plan_partner_count(NULL), 0);
	plan_free(p);
}

static int setup(void **state)
{
	const char *top = getenv("PLANSYNC_TOP");

	(void)state;
	snprintf(
		fixtures, sizeof(fixtures), "%s/tests/fixtures/plan",
		top ? top : ".");
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plan__ids),
		cmocka_unit_test(test_plan__id_order),
		cmocka_unit_test(test_plan__paths),
		cmocka_unit_test(test_plan__load_valid),
		cmocka_unit_test(test_plan__write_canonical_same_bytes),
		cmocka_unit_test(test_plan__write_noncanonical_gives_canonical),
		cmocka_unit_test(test_plan__unknown_keys_kept_in_order),
		cmocka_unit_test(test_plan__load_refuses_layout),
		cmocka_unit_test(test_plan__load_refuses_symlinks_and_strays),
		cmocka_unit_test(test_plan__load_threads_deterministic),
		cmocka_unit_test(test_plan__write_is_atomic_and_minimal),
		cmocka_unit_test(test_plan__put_action),
		cmocka_unit_test(test_plan__new_plan),
		cmocka_unit_test(test_plan__validation_errors),
		cmocka_unit_test(test_plan__validation_long_lists),
		cmocka_unit_test(test_plan__validation_accepts),
		cmocka_unit_test(test_plan__key_line),
		cmocka_unit_test(test_plan__field_get),
		cmocka_unit_test(test_plan__field_set),
		cmocka_unit_test(test_plan__field_list),
		cmocka_unit_test(test_plan__value_summary),
		cmocka_unit_test(test_plan__update_add),
		cmocka_unit_test(test_plan__next_action_id),
		cmocka_unit_test(test_plan__action_new),
		cmocka_unit_test(test_plan__diff),
		cmocka_unit_test(test_plan__diff_many_updates),
		cmocka_unit_test(test_plan__partners),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
