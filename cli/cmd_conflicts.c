/*
 * cli/cmd_conflicts.c: `plansync conflicts [--json] [ID]`: the conflict
 * records merges left in HEAD's actions.
 */
#include "cmd.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/doc.h"
#include "core/plan.h"
#include "sync/merge.h"
#include "sync/repo.h"

static const char *const record_keys[] = {
	"field", "base",     "kept",         "kept_by", "kept_commit",
	"other", "other_by", "other_commit", NULL,
};

static void print_help(void)
{
	printf("usage: plansync conflicts [--json] [ID]\n"
	       "\n"
	       "List the conflicts merges recorded in HEAD's actions (or in "
	       "action ID):\n"
	       "per field, the merge base's value, the value kept (and who "
	       "made it, in\n"
	       "which commit) and the other value.  Clear one with plansync "
	       "resolve ID\n"
	       "FIELD --keep | --other | --value V.\n");
}

static void json_value(const struct doc_node *n)
{
	size_t i;

	if (!n) {
		fputs("null", stdout);
	} else if (n->kind == DOC_SCALAR) {
		cli_json_string(stdout, n->str);
	} else if (n->kind == DOC_SEQ) {
		fputc('[', stdout);
		for (i = 0; i < n->n; i++) {
			if (i)
				fputc(',', stdout);
			json_value(n->items[i]);
		}
		fputc(']', stdout);
	} else {
		fputc('{', stdout);
		for (i = 0; i < n->n; i++) {
			if (i)
				fputc(',', stdout);
			cli_json_string(stdout, n->keys[i]);
			fputc(':', stdout);
			json_value(n->items[i]);
		}
		fputc('}', stdout);
	}
}

static void print_value(
	const char *label,
	const struct doc_node *v,
	const struct doc_node *by,
	const struct doc_node *commit)
{
	char *s = plan_value_summary(v, 60);

	printf("  %-6s %s", label, s ? s : "(none)");
	if (doc_str(by) && *doc_str(by))
		printf("  %s%s%s", cli_c_dim(), doc_str(by), cli_c_reset());
	if (doc_str(commit) && *doc_str(commit))
		printf(" %s%.12s%s", cli_c_dim(), doc_str(commit),
		       cli_c_reset());
	putchar('\n');
	free(s);
}

int cmd_conflicts(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct repo *repo = NULL;
	struct syncmerge_record *recs = NULL;
	const struct doc_node *r;
	const char *only = NULL;
	size_t n = 0, i, k, shown = 0, actions = 0;
	int c, json = 0, error;

	while ((c = getopt_long(argc, argv, "hj", opts, NULL)) != -1) {
		if (c == 'h') {
			print_help();
			return 0;
		} else if (c == 'j') {
			json = 1;
		} else {
			return cli_usage(
				"conflicts", "unknown option '%s'",
				argv[optind - 1]);
		}
	}
	if (argc - optind > 1)
		return cli_usage("conflicts", "give at most one action ID");
	if (argc - optind == 1) {
		only = argv[optind];
		if (!plan_action_id_valid(only))
			return cli_usage(
				"conflicts",
				"'%s' is not an action ID (P<n>-A<m>)", only);
	}
	if ((error = repo_open(&repo, ".", 0)) < 0 ||
	    (error = syncmerge_records(&recs, &n, repo)) < 0)
		goto done;
	if (json)
		printf("{\"conflicts\":[");
	for (i = 0; i < n; i++) {
		if (only && strcmp(recs[i].id, only) != 0)
			continue;
		r = recs[i].record;
		if (!shown || strcmp(recs[i].id, recs[i - 1].id) != 0 ||
		    (only && shown == 0))
			actions++;
		if (json) {
			printf("%s{\"id\":", shown ? "," : "");
			cli_json_string(stdout, recs[i].id);
			for (k = 0; record_keys[k]; k++) {
				printf(",\"%s\":", record_keys[k]);
				json_value(doc_map_get(r, record_keys[k]));
			}
			putchar('}');
		} else {
			printf("%s%s %s%s\n", cli_c_bad(), recs[i].id,
			       doc_str(doc_map_get(r, "field")) ?
				       doc_str(doc_map_get(r, "field")) :
				       "?",
			       cli_c_reset());
			if (doc_map_get(r, "base"))
				print_value(
					"base:", doc_map_get(r, "base"), NULL,
					NULL);
			print_value(
				"kept:", doc_map_get(r, "kept"),
				doc_map_get(r, "kept_by"),
				doc_map_get(r, "kept_commit"));
			if (doc_map_get(r, "other"))
				print_value(
					"other:", doc_map_get(r, "other"),
					doc_map_get(r, "other_by"),
					doc_map_get(r, "other_commit"));
			else
				print_value(
					"other:", NULL,
					doc_map_get(r, "other_by"),
					doc_map_get(r, "other_commit"));
		}
		shown++;
	}
	if (json) {
		printf("]}\n");
	} else if (!shown) {
		printf("no conflicts\n");
	} else {
		printf("%zu conflict%s in %zu action%s; clear one with "
		       "plansync resolve ID FIELD --keep|--other|--value V\n",
		       shown, shown == 1 ? "" : "s", actions,
		       actions == 1 ? "" : "s");
	}
done:
	syncmerge_records_free(recs, n);
	repo_free(repo);
	return error;
}
