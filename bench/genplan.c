/*
 * genplan DIR N_ACTIONS [SEED]: write a synthetic canonical plan for the
 * benchmarks: plan.yaml with priorities of up to 1,000 actions each,
 * actions/P<n>/P<n>-A<m>.yaml with realistic field sizes (an action of a
 * sentence or three, 1-3 updates, 1-4 responsible organisations), and a
 * partners.yaml of five partners.  The same SEED gives the same bytes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/doc.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/plan.h"

static uint64_t rng;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)((rng >> 11) % n);
}

static const char *const words[] = {
	"work",      "with",     "partners",    "to",        "improve",
	"reporting", "of",       "hate",        "crime",     "in",
	"schools",   "and",      "communities", "across",    "the",
	"city",      "review",   "data",        "capture",   "training",
	"for",       "staff",    "victims",     "support",   "services",
	"awareness", "campaign", "third",       "party",     "reporting",
	"centres",   "engage",   "young",       "people",    "faith",
	"groups",    "monitor",  "incidents",   "share",     "information",
	"quarterly", "meetings", "held",        "develop",   "guidance",
	"publish",   "annual",   "report",      "York",      "partnership",
	"online",    "safety",   "transport",   "network",   "disability",
	"LGBTQ+",    "refugees", "Gypsy",       "Traveller", "residents",
	"businesses"
};

static const char *const orgs[] = { "NYP",
				    "CYC",
				    "Community Safety",
				    "Generate",
				    "York Travellers Trust",
				    "IDAS",
				    "York CVS",
				    "Schools Partnership",
				    "Victim Support",
				    "Refugee Action York",
				    "York Mind",
				    "Healthwatch York" };

static const char *const timescales[] = { "Ongoing",       "March 2023",
					  "December 2023", "Quarterly",
					  "2023/24",       "Annually" };

static const char *const statuses[] = { "planned", "in-progress", "ongoing",
					"on-hold", "done" };

/* One to three sentences of 8 to 25 words. */
static void sentences(char *buf, size_t size, int max)
{
	int s, w, ns = 1 + (int)rnd((uint32_t)max), nw;
	size_t len = 0;

	buf[0] = '\0';
	for (s = 0; s < ns; s++) {
		nw = 8 + (int)rnd(18);
		for (w = 0; w < nw && len + 32 < size; w++) {
			const char *word =
				words[rnd(sizeof(words) / sizeof(words[0]))];
			int n = snprintf(
				buf + len, size - len, "%s%s",
				(s || w) ? " " : "", word);

			if (w == 0 && buf[len + (s ? 1 : 0)] >= 'a' &&
			    buf[len + (s ? 1 : 0)] <= 'z')
				buf[len + (s ? 1 : 0)] -= 32;
			len += (size_t)n;
		}
		if (len + 2 < size) {
			buf[len++] = '.';
			buf[len] = '\0';
		}
	}
}

static struct doc_node *org_list(int max)
{
	struct doc_node *seq = doc_new_seq();
	int n = 1 + (int)rnd((uint32_t)max), i, first = (int)rnd(12);

	for (i = 0; i < n; i++)
		doc_seq_append(seq, doc_new_scalar(orgs[(first + i * 5) % 12]));
	return seq;
}

static int write_doc(const char *path, const struct doc_node *doc)
{
	char *text = NULL;
	size_t len;
	FILE *f;
	int error;

	if ((error = doc_emit(&text, &len, doc)) < 0)
		return error;
	f = fopen(path, "w");
	if (!f || fwrite(text, 1, len, f) != len || fclose(f) != 0) {
		free(text);
		return error_set(ERROR_GENERIC, "cannot write '%s'", path);
	}
	free(text);
	return 0;
}

static int fail(void)
{
	fprintf(stderr, "genplan: %s\n", error_message());
	return 1;
}

int main(int argc, char **argv)
{
	const char *dir;
	long n, per, nprio, p, i, k;
	char path[4096], text[1024], id[32], b64[128];
	struct doc_node *meta, *prios, *partners, *list;
	unsigned char blob[51];

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: genplan DIR N_ACTIONS [SEED]\n");
		return 2;
	}
	dir = argv[1];
	n = strtol(argv[2], NULL, 10);
	rng = argc > 3 ? strtoull(argv[3], NULL, 10) : 1;
	rng = rng * 0x9E3779B97F4A7C15ULL + 0x632BE59BD9B4E019ULL;
	if (n < 0 || n > 9999L * 1000) {
		fprintf(stderr, "genplan: N_ACTIONS must be 0..9999000\n");
		return 2;
	}
	per = n / 10;
	if (per < 1)
		per = 1;
	if (per > 1000)
		per = 1000;
	nprio = n ? (n + per - 1) / per : 1;
	if (fsutil_mkdirs(dir) < 0)
		return fail();

	meta = doc_new_map();
	doc_map_set(meta, "schema", doc_new_scalar(PLAN_SCHEMA));
	doc_map_set(meta, "title", doc_new_scalar("Synthetic Action Plan"));
	doc_map_set(
		meta, "partnership", doc_new_scalar("Benchmark Partnership"));
	doc_map_set(meta, "updated", doc_new_scalar("December 2023"));
	prios = doc_new_seq();
	for (p = 1; p <= nprio; p++) {
		struct doc_node *pr = doc_new_map();

		snprintf(id, sizeof(id), "P%ld", p);
		doc_map_set(pr, "id", doc_new_scalar(id));
		sentences(text, 200, 1);
		doc_map_set(pr, "title", doc_new_scalar(text));
		if (rnd(2)) {
			sentences(text, 300, 1);
			doc_map_set(pr, "focus", doc_new_scalar(text));
		}
		doc_seq_append(prios, pr);
	}
	doc_map_set(meta, "priorities", prios);
	if (plan_check(meta, PLAN_FILE_PLAN, "plan.yaml") < 0)
		return fail();
	snprintf(path, sizeof(path), "%s/plan.yaml", dir);
	if (write_doc(path, meta) < 0)
		return fail();
	doc_free(meta);

	partners = doc_new_map();
	list = doc_new_seq();
	for (i = 0; i < 5; i++) {
		struct doc_node *pt = doc_new_map();
		static const unsigned char prefix[] = { 0,   0,   0,   11,  's',
							's', 'h', '-', 'e', 'd',
							'2', '5', '5', '1', '9',
							0,   0,   0,   32 };

		memcpy(blob, prefix, sizeof(prefix));
		for (k = 0; k < 32; k++)
			blob[19 + k] = (unsigned char)rnd(256);
		sodium_bin2base64(
			b64, sizeof(b64), blob, sizeof(blob),
			sodium_base64_VARIANT_ORIGINAL);
		snprintf(text, sizeof(text), "partner%ld@org%ld.example", i, i);
		doc_map_set(pt, "email", doc_new_scalar(text));
		snprintf(text, sizeof(text), "Partner %ld", i);
		doc_map_set(pt, "name", doc_new_scalar(text));
		doc_map_set(pt, "organisation", doc_new_scalar(orgs[i]));
		doc_map_set(
			pt, "role",
			doc_new_scalar(i == 0 ? "coordinator" : "editor"));
		snprintf(
			text, sizeof(text), "ssh-ed25519 %s partner%ld", b64,
			i);
		doc_map_set(pt, "key", doc_new_scalar(text));
		doc_map_set(pt, "revoked", doc_new_plain("false"));
		doc_seq_append(list, pt);
	}
	doc_map_set(partners, "partners", list);
	if (plan_check(partners, PLAN_FILE_PARTNERS, "partners.yaml") < 0)
		return fail();
	snprintf(path, sizeof(path), "%s/partners.yaml", dir);
	if (write_doc(path, partners) < 0)
		return fail();
	doc_free(partners);

	for (i = 0; i < n; i++) {
		long pn = 1 + i / per, an = 1 + i % per;
		struct doc_node *a = doc_new_map(), *ups = doc_new_seq();
		int nu = 1 + (int)rnd(3), u;

		if (an == 1) {
			snprintf(
				path, sizeof(path), "%s/actions/P%ld", dir, pn);
			if (fsutil_mkdirs(path) < 0)
				return fail();
		}
		snprintf(id, sizeof(id), "P%ld-A%ld", pn, an);
		doc_map_set(a, "id", doc_new_scalar(id));
		snprintf(text, sizeof(text), "P%ld", pn);
		doc_map_set(a, "priority", doc_new_scalar(text));
		sentences(text, sizeof(text), 3);
		doc_map_set(a, "action", doc_new_scalar(text));
		if (rnd(3) == 0)
			sentences(text, sizeof(text), 1);
		else
			text[0] = '\0';
		doc_map_set(a, "information", doc_new_scalar(text));
		doc_map_set(a, "status", doc_new_scalar(statuses[rnd(5)]));
		doc_map_set(a, "timescale", doc_new_scalar(timescales[rnd(6)]));
		doc_map_set(a, "responsible", org_list(4));
		for (u = 0; u < nu; u++) {
			struct doc_node *up = doc_new_map();

			snprintf(
				text, sizeof(text), "u%08x",
				(unsigned)rnd(0xFFFFFFFFu));
			doc_map_set(up, "id", doc_new_scalar(text));
			sentences(text, sizeof(text), 2);
			doc_map_set(up, "text", doc_new_scalar(text));
			snprintf(
				text, sizeof(text), "2023-%02u-%02u",
				1 + rnd(12), 1 + rnd(28));
			doc_map_set(up, "date", doc_new_scalar(text));
			if (rnd(4) == 0)
				doc_map_set(up, "responsible", org_list(2));
			doc_seq_append(ups, up);
		}
		doc_map_set(a, "updates", ups);
		snprintf(path, sizeof(path), "actions/P%ld/%s.yaml", pn, id);
		if (plan_check(a, PLAN_FILE_ACTION, path) < 0)
			return fail();
		snprintf(
			path, sizeof(path), "%s/actions/P%ld/%s.yaml", dir, pn,
			id);
		if (write_doc(path, a) < 0)
			return fail();
		doc_free(a);
	}
	printf("%s: %ld actions in %ld priorities\n", dir, n, nprio);
	return 0;
}
