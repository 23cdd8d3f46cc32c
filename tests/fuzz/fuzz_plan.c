/*
 * tests/fuzz/fuzz_plan.c: arbitrary bytes as a YAML document, then as an
 * action, plan.yaml and partners.yaml.  Nothing may crash or leak, and
 * whatever is accepted must survive the canonical writer:
 * parse(emit(t)) == t and emit(parse(emit(t))) == emit(t).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/doc.h"
#include "core/error.h"
#include "core/plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what, const char *text)
{
	fprintf(stderr, "fuzz_plan: %s (%s)\n%s\n", what, error_message(),
		text ? text : "");
	abort();
}

/* Emit t, read it back as kind (or plain YAML if kind < 0), compare. */
static void roundtrip(const struct doc_node *t, int kind, const char *path)
{
	char *text = NULL, *again = NULL;
	size_t len = 0, len2 = 0;
	struct doc_node *back = NULL;

	if (doc_emit(&text, &len, t) != 0) {
		/* Only trees the reader could not have produced may fail. */
		if (kind >= 0)
			die("checked tree does not emit", NULL);
		return;
	}
	if ((kind < 0 ? doc_parse(&back, text, len, "emitted") :
			plan_parse(
				&back, (enum plan_file_kind)kind, path, text,
				len)) != 0)
		die("emitted text does not read back", text);
	if (!doc_equal(t, back))
		die("emitted text reads back different", text);
	if (doc_emit(&again, &len2, back) != 0 || len != len2 ||
	    memcmp(text, again, len))
		die("second emit differs", text);
	free(text);
	free(again);
	doc_free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int kinds[] = { PLAN_FILE_ACTION, PLAN_FILE_PLAN,
				     PLAN_FILE_PARTNERS };
	static const char *const paths[] = { "fuzz/action.yaml", "plan.yaml",
					     "partners.yaml" };
	struct doc_node *doc = NULL;
	size_t k;

	if (doc_parse(&doc, (const char *)data, size, "fuzz.yaml") != 0)
		return 0;
	roundtrip(doc, -1, NULL);
	for (k = 0; k < 3; k++) {
		struct doc_node *c = doc_clone(doc);

		if (!c)
			break;
		if (plan_check(c, (enum plan_file_kind)kinds[k], paths[k]) == 0)
			roundtrip(c, kinds[k], paths[k]);
		doc_free(c);
	}
	doc_free(doc);
	return 0;
}
