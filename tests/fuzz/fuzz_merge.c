/*
 * tests/fuzz/fuzz_merge.c: three versions of one plan file merged both
 * ways round.
 *
 * Input: one byte choosing the kind of file (action, plan.yaml,
 * partners.yaml) and the history the merge is told, then up to three YAML
 * texts (base, ours, theirs) separated by lines "----"; an empty or
 * missing text is an absent file, one that does not load ends the run.
 * Nothing may crash or leak, and: both directions give the same bytes
 * (convergence); the result is valid and canonical (partners.yaml apart:
 * two partners may meet on one key); merging the result with a side again
 * changes nothing (idempotence).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/doc.h"
#include "core/error.h"
#include "core/merge.h"
#include "core/plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct history {
	unsigned char mode;
	int swap;
	char commit[2][41];
};

/* A deterministic history: time and commit from the field's bytes. */
static int fuzz_who(
	struct merge_who *out,
	const struct merge_ctx *ctx,
	enum merge_side side,
	const char *field)
{
	struct history *h = ctx->arg;
	int s = h->swap ? 1 - (int)side : (int)side, i;
	unsigned long xf = 5381, xs;

	for (; *field; field++)
		xf = xf * 33 + (unsigned char)*field;
	xs = xf * 31 + (unsigned long)s * (h->mode & 1);
	out->time = (long long)(xs % (1u + (h->mode >> 4)));
	/* Mode bit 2: both sides name the same commit, the value decides. */
	if (!(h->mode & 2))
		xf = xs;
	for (i = 0; i < 40; i++)
		h->commit[s][i] = "0123456789abcdef"[(xf >> (i % 8)) & 15];
	h->commit[s][40] = '\0';
	out->commit = h->commit[s];
	out->email = s ? "theirs@example.org" : "ours@example.org";
	return 0;
}

static const char *path_of(enum plan_file_kind kind, const struct doc_node *d)
{
	static char buf[64];
	const char *id = doc_str(doc_map_get(d, "id"));

	if (kind == PLAN_FILE_PLAN)
		return "plan.yaml";
	if (kind == PLAN_FILE_PARTNERS)
		return "partners.yaml";
	if (!id)
		return "actions/P1/P1-A1.yaml";
	snprintf(
		buf, sizeof(buf), "actions/%.*s/%s.yaml", (int)strcspn(id, "-"),
		id, id);
	return buf;
}

static char *emit(const struct doc_node *d)
{
	char *s = NULL;
	size_t n = 0;

	if (!d)
		return strdup("");
	if (doc_emit(&s, &n, d) < 0)
		abort(); /* a merged tree must always be writable */
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum plan_file_kind kinds[3] = { PLAN_FILE_ACTION,
						      PLAN_FILE_PLAN,
						      PLAN_FILE_PARTNERS };
	struct doc_node *v[3] = { NULL, NULL, NULL };
	struct merge_result r1 = MERGE_RESULT_INIT, r2 = MERGE_RESULT_INIT,
			    r3 = MERGE_RESULT_INIT;
	struct history h;
	struct merge_ctx ctx = { fuzz_who, &h, NULL };
	enum plan_file_kind kind;
	const char *p, *end;
	char *e1 = NULL, *e2 = NULL;
	int i, err1, err2;

	if (size < 1 || size > 65536)
		return 0;
	memset(&h, 0, sizeof(h));
	h.mode = data[0];
	kind = kinds[data[0] % 3];
	p = (const char *)data + 1;
	end = (const char *)data + size;
	for (i = 0; i < 3 && p < end; i++) {
		const char *sep = NULL, *q;
		for (q = p; q + 5 <= end; q++)
			if ((q == p || q[-1] == '\n') &&
			    !memcmp(q, "----", 4) && q[4] == '\n') {
				sep = q;
				break;
			}
		if (!sep)
			sep = end;
		if (sep > p) {
			struct doc_node *d = NULL;
			if (doc_parse(&d, p, (size_t)(sep - p), "fuzz") < 0 ||
			    plan_check(d, kind, path_of(kind, d)) < 0) {
				doc_free(d);
				goto done;
			}
			v[i] = d;
		}
		p = sep + (sep < end ? 5 : 0);
	}
	err1 = merge_file(&r1, kind, v[0], v[1], v[2], &ctx);
	h.swap = 1;
	err2 = merge_file(&r2, kind, v[0], v[2], v[1], &ctx);
	h.swap = 0;
	if (err1 != err2)
		abort();
	if (err1 < 0)
		goto done;
	e1 = emit(r1.doc);
	e2 = emit(r2.doc);
	if (strcmp(e1, e2))
		abort(); /* convergence */
	free(e2);
	e2 = NULL;
	if (r1.doc && kind != PLAN_FILE_PARTNERS) {
		struct doc_node *c = doc_clone(r1.doc);
		if (!c || plan_check(c, kind, path_of(kind, c)) < 0)
			abort(); /* valid */
		e2 = emit(c);
		doc_free(c);
		if (strcmp(e1, e2))
			abort(); /* canonical */
		free(e2);
		e2 = NULL;
	}
	if (!r1.renumber && v[1]) {
		if (merge_file(&r3, kind, v[1], r1.doc, v[1], &ctx) < 0)
			abort();
		e2 = emit(r3.doc);
		if (strcmp(e1, e2))
			abort(); /* idempotence */
	}
done:
	free(e1);
	free(e2);
	merge_result_release(&r1);
	merge_result_release(&r2);
	merge_result_release(&r3);
	for (i = 0; i < 3; i++)
		doc_free(v[i]);
	error_clear();
	return 0;
}
