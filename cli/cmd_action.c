/*
 * cli/cmd_action.c: `plansync action add --priority P --action TEXT ...`.
 */
#include "cmd.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/doc.h"
#include "core/key.h"
#include "core/plan.h"
#include "sync/commit.h"
#include "sync/edit.h"
#include "sync/repo.h"

static void print_help(void)
{
	printf("usage: plansync action add --priority P --action TEXT "
	       "[--timescale T]\n"
	       "                          [--responsible ORG,...]\n"
	       "\n"
	       "Add an action to priority P (listed in plan.yaml) in one "
	       "signed commit.  It\n"
	       "takes the next free ID in that priority (P2-A7 after P2-A6), "
	       "status planned,\n"
	       "and no updates; the new ID is printed.\n");
}

/* Is priority listed in HEAD's plan.yaml? */
static int check_priority(struct repo *repo, const char *priority)
{
	struct doc_node *plan = NULL;
	const struct doc_node *prios;
	size_t i;
	int error, found = 0;

	if ((error = edit_load_file(&plan, repo, "plan.yaml", PLAN_FILE_PLAN)) <
	    0)
		goto done;
	prios = doc_map_get(plan, "priorities");
	for (i = 0; prios && prios->kind == DOC_SEQ && i < prios->n; i++) {
		const char *p = doc_str(doc_map_get(prios->items[i], "id"));

		if (p && strcmp(p, priority) == 0)
			found = 1;
	}
	if (!found)
		error = error_set(
			ERROR_NOTFOUND, "plan.yaml lists no priority '%s'",
			priority);
done:
	doc_free(plan);
	return error;
}

int cmd_action(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "priority", required_argument, NULL, 'p' },
		{ "action", required_argument, NULL, 'a' },
		{ "timescale", required_argument, NULL, 's' },
		{ "responsible", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct key *key = NULL;
	struct repo *repo = NULL;
	struct doc_node *action = NULL;
	const char *priority = NULL, *text = NULL, *timescale = NULL,
		   *responsible = NULL;
	char dir[64], id[64], path[256], cid[41], msg[512];
	char **names = NULL, **ids = NULL;
	char *summary = NULL;
	size_t i, n = 0, nids = 0, len;
	int c, error;

	if (argc >= 2 &&
	    (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		print_help();
		return 0;
	}
	if (argc < 2 || strcmp(argv[1], "add") != 0)
		return cli_usage("action", "the subcommand is 'add'");
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			priority = optarg;
			break;
		case 'a':
			text = optarg;
			break;
		case 's':
			timescale = optarg;
			break;
		case 'r':
			responsible = optarg;
			break;
		case 'h':
			print_help();
			return 0;
		case ':':
			return cli_usage(
				"action add", "'%s' needs a value",
				argv[optind - 1]);
		default:
			return cli_usage(
				"action add", "unknown option '%s'",
				argv[optind - 1]);
		}
	}
	if (optind != argc)
		return cli_usage(
			"action add", "unexpected argument '%s'", argv[optind]);
	if (!priority || !text)
		return cli_usage(
			"action add", "--priority and --action are required");
	if (!plan_priority_id_valid(priority))
		return cli_usage(
			"action add", "'%s' is not a priority ID (P<n>)",
			priority);

	snprintf(dir, sizeof(dir), "actions/%s", priority);
	if ((error = cli_load_key(&key)) < 0 ||
	    (error = repo_open(&repo, ".", 1)) < 0 ||
	    (error = commit_check_signer(repo, key, 0)) < 0 ||
	    (error = check_priority(repo, priority)) < 0 ||
	    (error = repo_list_head(&names, &n, repo, dir)) < 0)
		goto done;
	/* One tree read: the IDs already used in this priority. */
	if (!(ids = calloc(n ? n : 1, sizeof(*ids)))) {
		error = error_nomem();
		goto done;
	}
	for (i = 0; i < n; i++) {
		len = strlen(names[i]);
		if (len > 5 && strcmp(names[i] + len - 5, ".yaml") == 0) {
			names[i][len - 5] = '\0';
			if (plan_action_id_valid(names[i]))
				ids[nids++] = names[i];
		}
	}
	if ((error = plan_next_action_id(
		     id, sizeof(id), priority, (const char *const *)ids,
		     nids)) < 0 ||
	    (error = plan_action_path(path, sizeof(path), id)) < 0 ||
	    (error = repo_check_unedited(repo, path)) < 0 ||
	    (error = plan_action_new(
		     &action, id, text, timescale, responsible)) < 0 ||
	    (error = plan_check(action, PLAN_FILE_ACTION, path)) < 0)
		goto done;
	summary = plan_value_summary(doc_map_get(action, "action"), 60);
	snprintf(
		msg, sizeof(msg), "%s: action added: %s", id,
		summary ? summary : "");
	if ((error = edit_commit_doc(cid, repo, key, path, action, msg)) < 0)
		goto done;
	printf("%s (commit %.12s)\n", msg, cid);
done:
	free(summary);
	free(ids);
	repo_strv_free(names, n);
	doc_free(action);
	repo_free(repo);
	key_free(key);
	return error;
}
