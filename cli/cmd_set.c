/*
 * cli/cmd_set.c: `plansync set ID FIELD VALUE`, one field, one signed commit.
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
	printf("usage: plansync set ID FIELD VALUE\n"
	       "\n"
	       "Set one field of action ID and make one signed commit whose "
	       "message says\n"
	       "what changed (\"P1-A1: status in-progress -> done\").\n"
	       "\n"
	       "FIELD is one of:\n"
	       "  action, information, timescale   text\n"
	       "  status        planned, in-progress, ongoing, on-hold or "
	       "done\n"
	       "  responsible   a comma-separated list of organisations\n"
	       "  updates/<uid>/text, updates/<uid>/date (YYYY-MM-DD),\n"
	       "  updates/<uid>/timescale, updates/<uid>/responsible\n"
	       "\n"
	       "Only that action's file is read and written.  Refused while "
	       "the file has\n"
	       "edits not yet committed (see plansync commit).  Use -- "
	       "before a VALUE that\n"
	       "starts with '-'.\n");
}

int cmd_set(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct key *key = NULL;
	struct repo *repo = NULL;
	struct doc_node *before = NULL, *after = NULL;
	const struct doc_node *old;
	const char *id, *field, *value;
	char path[256], cid[41];
	char *msg = NULL, *summary = NULL;
	int c, error;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			print_help();
			return 0;
		}
		return cli_usage(
			"set", "unknown option '%s'", argv[optind - 1]);
	}
	if (argc - optind != 3)
		return cli_usage("set", "give ID FIELD VALUE");
	id = argv[optind];
	field = argv[optind + 1];
	value = argv[optind + 2];
	if (!plan_action_id_valid(id))
		return cli_usage(
			"set", "'%s' is not an action ID (P<n>-A<m>)", id);
	if ((error = plan_action_path(path, sizeof(path), id)) < 0)
		return error;

	if ((error = cli_load_key(&key)) < 0 ||
	    (error = repo_open(&repo, ".", 1)) < 0 ||
	    (error = commit_check_signer(repo, key, 0)) < 0 ||
	    (error = edit_load_action(&before, repo, id)) < 0 ||
	    (error = repo_check_unedited(repo, path)) < 0)
		goto done;
	if (!(after = doc_clone(before))) {
		error = error_nomem();
		goto done;
	}
	error = plan_field_set(after, field, value);
	if (error == ERROR_USAGE) {
		error = cli_usage("set", "%s", error_message());
		goto done;
	} else if (error < 0) {
		char why[512];

		snprintf(why, sizeof(why), "%s", error_message());
		error = error_set(error, "%s %s: %s", id, field, why);
		goto done;
	}
	if ((error = plan_check(after, PLAN_FILE_ACTION, path)) < 0)
		goto done;
	error = edit_describe(&msg, id, before, after);
	if (error == ERROR_NOTFOUND) {
		error = 0;
		error_clear();
		if (plan_field_get(&old, after, field) == 0)
			summary = plan_value_summary(old, 60);
		printf("%s: %s is already %s; nothing to commit\n", id, field,
		       summary ? summary : "that");
		goto done;
	} else if (error < 0) {
		goto done;
	}
	if ((error = edit_commit_doc(cid, repo, key, path, after, msg)) < 0)
		goto done;
	printf("%s (commit %.12s)\n", msg, cid);
done:
	free(msg);
	free(summary);
	doc_free(before);
	doc_free(after);
	repo_free(repo);
	key_free(key);
	return error;
}
