/* Tests for core/textmerge: diff3 on words. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "core/textmerge.h"

/* Merge NUL-terminated texts; returns the code, *out the text or NULL. */
static int merge3(char **out, const char *b, const char *o, const char *t)
{
	size_t len = 0;
	*out = NULL;
	return textmerge_merge3(
		out, &len, b, strlen(b), o, strlen(o), t, strlen(t));
}

static void
expect_merge(const char *b, const char *o, const char *t, const char *want)
{
	char *got = NULL, *got2 = NULL;
	assert_int_equal(merge3(&got, b, o, t), 0);
	assert_string_equal(got, want);
	/* The same both ways round. */
	assert_int_equal(merge3(&got2, b, t, o), 0);
	assert_string_equal(got2, want);
	free(got);
	free(got2);
}

static void expect_conflict(const char *b, const char *o, const char *t)
{
	char *got = NULL;
	assert_int_equal(merge3(&got, b, o, t), ERROR_CONFLICT);
	assert_null(got);
	assert_true(strlen(error_message()) > 0);
	assert_int_equal(merge3(&got, b, t, o), ERROR_CONFLICT);
	assert_null(got);
}

static void test_textmerge__one_side_changed(void **state)
{
	(void)state;
	expect_merge("a b c", "a b c", "a x c", "a x c");
	expect_merge("a b c", "", "a b c", "");
	expect_merge("", "new text", "", "new text");
	expect_merge("same", "same", "same", "same");
}

static void test_textmerge__disjoint_edits_both_taken(void **state)
{
	(void)state;
	expect_merge(
		"Meetings held with Generate to discuss support.",
		"Meetings held with Generate and NYP to discuss support.",
		"Meetings held with Generate to discuss funding support.",
		"Meetings held with Generate and NYP to discuss funding "
		"support.");
	/* Edits to neighbouring words are separated by the space token. */
	expect_merge(
		"one two three", "ONE two three", "one TWO three",
		"ONE TWO three");
	/* An append and an edit of the last word but one. */
	expect_merge("a b c", "a B c", "a b c d", "a B c d");
	/* Deletions on both sides of different words. */
	expect_merge("a b c d e", "a c d e", "a b c e", "a c e");
}

static void test_textmerge__same_edit_taken_once(void **state)
{
	(void)state;
	expect_merge("a b c", "a x c", "a x c", "a x c");
	expect_merge("a b c", "a b c d", "a b c d", "a b c d");
	expect_merge("", "both", "both", "both");
	/* Same edit plus a disjoint one on one side. */
	expect_merge("a b c d e", "a x c d E", "a x c d e", "a x c d E");
}

static void test_textmerge__overlapping_edits_conflict(void **state)
{
	(void)state;
	expect_conflict("a b c", "a x c", "a y c");
	expect_conflict("a b c", "a c", "a y c");
	expect_conflict("", "ours", "theirs");
	expect_conflict("a b c d e", "a X Y Z e", "a b C d e");
}

static void test_textmerge__touching_edits_conflict(void **state)
{
	(void)state;
	/* Both insert at the same place, differently. */
	expect_conflict("a b", "a b x", "a b y");
	/* One replaces a token, the other inserts right after it. */
	expect_conflict("a b", "a c", "a bz");
	/* Deleting "b " and changing "c": the ranges meet. */
	expect_conflict("a b c", "a c", "a b C");
}

static void test_textmerge__whitespace_and_utf8(void **state)
{
	(void)state;
	expect_merge(
		"caf\xc3\xa9 au lait", "caf\xc3\xa9 au lait chaud",
		"th\xc3\xa9 au lait", "th\xc3\xa9 au lait chaud");
	expect_merge(
		"line one\nline two\n", "line ONE\nline two\n",
		"line one\nline two\nline three\n",
		"line ONE\nline two\nline three\n");
	/* Changed whitespace is an edit too. */
	expect_merge("a b c", "a  b c", "a b c.", "a  b c.");
}

static void test_textmerge__too_large_is_conflict(void **state)
{
	size_t n = TEXTMERGE_MAX_EDITS, i;
	char *b = malloc(n * 4 + 1), *o = malloc(n * 4 + 1), *got = NULL;
	size_t len = 0;
	(void)state;
	assert_non_null(b);
	assert_non_null(o);
	for (i = 0; i < n; i++) {
		memcpy(b + 4 * i, "ab  ", 4);
		memcpy(o + 4 * i, "cd\t ", 4);
	}
	b[4 * n] = o[4 * n] = '\0';
	assert_int_equal(
		textmerge_merge3(&got, &len, b, 4 * n, o, 4 * n, b, 4 * n),
		ERROR_CONFLICT);
	assert_null(got);
	free(b);
	free(o);
}

/* ---- properties over random texts ---- */

static uint64_t rng;
static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

static const char *const words[] = { "a",   "b",           "c", "the", "York",
				     "NYP", "caf\xc3\xa9", "x", "." };
static const char *const spaces[] = { " ", " ", " ", "  ", "\n", "\t" };

static char *random_text(size_t nwords)
{
	size_t cap = nwords * 16 + 1, n = 0, i;
	char *s = malloc(cap);
	assert_non_null(s);
	for (i = 0; i < nwords; i++) {
		const char *w = words[rnd() % 9];
		const char *sp = spaces[rnd() % 6];
		memcpy(s + n, w, strlen(w));
		n += strlen(w);
		if (i + 1 < nwords) {
			memcpy(s + n, sp, strlen(sp));
			n += strlen(sp);
		}
	}
	s[n] = '\0';
	return s;
}

/* A copy of s with a few word-level edits; unique words "m<tag><k>". */
static char *random_edit(const char *s, unsigned tag)
{
	size_t len = strlen(s), cap = len * 2 + 256, n = 0, i = 0;
	char *o = malloc(cap);
	unsigned k = 0;
	assert_non_null(o);
	while (i < len) {
		size_t j = i;
		int sp = strchr(" \t\n", s[i]) != NULL;
		while (j < len && (strchr(" \t\n", s[j]) != NULL) == sp)
			j++;
		if (!sp && rnd() % 6 == 0 && n + 32 < cap) {
			uint32_t r = rnd() % 3;
			if (r == 0) { /* replace */
				n += (size_t)snprintf(
					o + n, cap - n, "m%u_%u", tag, k++);
			} else if (r == 1) { /* insert before */
				n += (size_t)snprintf(
					o + n, cap - n, "m%u_%u ", tag, k++);
				memcpy(o + n, s + i, j - i);
				n += j - i;
			} /* else delete */
		} else {
			memcpy(o + n, s + i, j - i);
			n += j - i;
		}
		i = j;
	}
	if (rnd() % 4 == 0 && n + 32 < cap)
		n += (size_t)snprintf(o + n, cap - n, " m%u_end", tag);
	o[n] = '\0';
	return o;
}

static uint64_t seed_from_env(void)
{
	const char *e = getenv("PLANSYNC_MERGE_SEED");
	if (e && *e)
		return strtoull(e, NULL, 0);
	return 0x5eed1234abcdULL;
}

static void test_textmerge__random_properties(void **state)
{
	uint64_t seed0 = seed_from_env(), s;
	(void)state;
	for (s = seed0; s < seed0 + 2000; s++) {
		char *b, *o, *t, *m1 = NULL, *m2 = NULL, *only = NULL;
		int e1, e2;
		rng = s * 2654435761u + 1;
		b = random_text(rnd() % 30);
		o = random_edit(b, 1);
		t = random_edit(b, 2);
		/* One side changed: the result is exactly that side. */
		if (merge3(&only, b, o, b) != 0 || strcmp(only, o) != 0) {
			print_message(
				"seed %llu: one-sided merge lost edits\n",
				(unsigned long long)s);
			fail();
		}
		e1 = merge3(&m1, b, o, t);
		e2 = merge3(&m2, b, t, o);
		if (e1 != e2 || (e1 == 0 && strcmp(m1, m2) != 0)) {
			print_message(
				"seed %llu: merge not symmetric\n",
				(unsigned long long)s);
			fail();
		}
		if (e1 == 0) {
			/* Every word a side introduced is in the result. */
			const char *sides[2] = { o, t };
			int i;
			for (i = 0; i < 2; i++) {
				const char *p = sides[i];
				while ((p = strchr(p, 'm')) != NULL) {
					size_t wl = strcspn(p, " \t\n");
					char w[64];
					if (wl < sizeof(w) &&
					    (p == sides[i] ||
					     strchr(" \t\n", p[-1]))) {
						memcpy(w, p, wl);
						w[wl] = '\0';
						if (!strstr(m1, w)) {
							print_message(
								"seed %llu: lost "
								"'%s'\n",
								(unsigned long long)
									s,
								w);
							fail();
						}
					}
					p += wl ? wl : 1;
				}
			}
			/* Merging again changes nothing. */
			free(only);
			only = NULL;
			assert_int_equal(merge3(&only, o, m1, o), 0);
			assert_string_equal(only, m1);
		}
		free(b);
		free(o);
		free(t);
		free(m1);
		free(m2);
		free(only);
	}
}

/* Long texts with many edits: the diff must rebuild each side exactly. */
static void test_textmerge__long_texts_rebuilt_exactly(void **state)
{
	uint64_t s;
	(void)state;
	for (s = 1; s <= 60; s++) {
		char *b, *o, *t, *m = NULL;
		rng = s * 7919 + 3;
		b = random_text(200 + rnd() % 300);
		o = random_edit(b, 1);
		t = random_edit(o, 2); /* edits on top of edits */
		assert_int_equal(merge3(&m, b, t, b), 0);
		assert_string_equal(m, t);
		free(m);
		assert_int_equal(merge3(&m, b, b, t), 0);
		assert_string_equal(m, t);
		free(m);
		assert_int_equal(merge3(&m, o, b, o), 0);
		assert_string_equal(m, b);
		free(m);
		free(b);
		free(o);
		free(t);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_textmerge__one_side_changed),
		cmocka_unit_test(test_textmerge__disjoint_edits_both_taken),
		cmocka_unit_test(test_textmerge__same_edit_taken_once),
		cmocka_unit_test(test_textmerge__overlapping_edits_conflict),
		cmocka_unit_test(test_textmerge__touching_edits_conflict),
		cmocka_unit_test(test_textmerge__whitespace_and_utf8),
		cmocka_unit_test(test_textmerge__too_large_is_conflict),
		cmocka_unit_test(test_textmerge__random_properties),
		cmocka_unit_test(test_textmerge__long_texts_rebuilt_exactly),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
