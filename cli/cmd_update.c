/*
 * cli/cmd_update.c: `plansync update add ID --text T ...`.
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
	printf("usage: plansync update add ID --text T [--date YYYY-MM-DD] "
	       "[--timescale T]\n"
	       "                          [--responsible ORG,...]\n"
	       "\n"
	       "Add a progress update to action ID in one signed commit.  The "
	       "update is given a\n"
	       "fresh id (\"u\" + 8 random hex digits), printed on success; "
	       "change it later\n"
	       "with 'plansync set ID updates/<uid>/<field> VALUE'.\n"
	       "\n"
	       "  --text T             what was done (required)\n"
	       "  --date D             when, YYYY-MM-DD\n"
	       "  --timescale T        overrides the action's timescale\n"
	       "  --responsible LIST   comma-separated organisations\n");
}

int cmd_update(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "text", required_argument, NULL, 't' },
		{ "date", required_argument, NULL, 'd' },
		{ "timescale", required_argument, NULL, 's' },
		{ "responsible", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct key *key = NULL;
	struct repo *repo = NULL;
	struct doc_node *action = NULL;
	const char *id, *text = NULL, *date = NULL, *timescale = NULL,
			*responsible = NULL;
	char path[256], cid[41], msg[512];
	char *uid = NULL, *summary = NULL;
	const struct doc_node *utext;
	int c, error;

	if (argc >= 2 &&
	    (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		print_help();
		return 0;
	}
	if (argc < 2 || strcmp(argv[1], "add") != 0)
		return cli_usage("update", "the subcommand is 'add'");
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			text = optarg;
			break;
		case 'd':
			date = optarg;
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
				"update add", "'%s' needs a value",
				argv[optind - 1]);
		default:
			return cli_usage(
				"update add", "unknown option '%s'",
				argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return cli_usage("update add", "give one action ID");
	id = argv[optind];
	if (!plan_action_id_valid(id))
		return cli_usage(
			"update add", "'%s' is not an action ID (P<n>-A<m>)",
			id);
	if (!text)
		return cli_usage("update add", "--text is required");
	if (!*text)
		return cli_usage("update add", "--text must not be empty");
	if ((error = plan_action_path(path, sizeof(path), id)) < 0)
		return error;

	if ((error = cli_load_key(&key)) < 0 ||
	    (error = repo_open(&repo, ".", 1)) < 0 ||
	    (error = commit_check_signer(repo, key, 0)) < 0 ||
	    (error = edit_load_action(&action, repo, id)) < 0 ||
	    (error = repo_check_unedited(repo, path)) < 0)
		goto done;
	if ((error = plan_update_add(
		     &uid, action, text, date, timescale, responsible)) < 0) {
		char why[512];

		snprintf(why, sizeof(why), "%s", error_message());
		error = error_set(error, "update add %s: %s", id, why);
		goto done;
	}
	if ((error = plan_check(action, PLAN_FILE_ACTION, path)) < 0)
		goto done;
	utext = doc_map_get(action, "updates");
	summary = plan_value_summary(
		doc_map_get(utext->items[utext->n - 1], "text"), 60);
	snprintf(
		msg, sizeof(msg), "%s: update %s added: %s", id, uid,
		summary ? summary : "");
	if ((error = edit_commit_doc(cid, repo, key, path, action, msg)) < 0)
		goto done;
	printf("%s (commit %.12s)\n", msg, cid);
done:
	free(uid);
	free(summary);
	doc_free(action);
	repo_free(repo);
	key_free(key);
	return error;
}
