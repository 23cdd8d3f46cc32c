/*
 * cli/cmd_resolve.c: `plansync resolve ID FIELD (--keep | --other | --value
 * V)`: clear the conflict records of one field in one signed commit.
 */
#include "cmd.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/doc.h"
#include "core/key.h"
#include "core/merge.h"
#include "core/plan.h"
#include "sync/commit.h"
#include "sync/edit.h"
#include "sync/repo.h"

static void print_help(void)
{
	printf("usage: plansync resolve ID FIELD (--keep | --other | --value "
	       "V)\n"
	       "\n"
	       "Clear the conflict a merge recorded on FIELD of action ID "
	       "(see plansync\n"
	       "conflicts) in one signed commit:\n"
	       "  --keep       keep the value now in the field\n"
	       "  --other      take the record's other value (for a delete: "
	       "delete)\n"
	       "  --value V    set a new value (as plansync set takes it)\n"
	       "FIELD is the record's field: status, updates/<uid>/text, "
	       "updates/<uid>,\n"
	       "(action) for an action deleted on one side and edited on "
	       "the other.\n");
}

int cmd_resolve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "keep", no_argument, NULL, 'k' },
		{ "other", no_argument, NULL, 'o' },
		{ "value", required_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	struct key *key = NULL;
	struct repo *repo = NULL;
	struct doc_node *before = NULL, *after = NULL;
	const struct doc_node *now;
	struct commit_file file;
	enum merge_resolution how = MERGE_KEEP;
	const char *id, *field, *value = NULL;
	char path[256], cid[41], msg[1024];
	char *summary = NULL;
	int c, nhow = 0, del = 0, error;

	while ((c = getopt_long(argc, argv, "hkov:", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			print_help();
			return 0;
		case 'k':
			how = MERGE_KEEP;
			nhow++;
			break;
		case 'o':
			how = MERGE_OTHER;
			nhow++;
			break;
		case 'v':
			how = MERGE_VALUE;
			value = optarg;
			nhow++;
			break;
		default:
			return cli_usage(
				"resolve", "unknown option '%s'",
				argv[optind - 1]);
		}
	}
	if (argc - optind != 2)
		return cli_usage("resolve", "give ID FIELD");
	if (nhow != 1)
		return cli_usage(
			"resolve", "give exactly one of --keep, --other, "
				   "--value V");
	id = argv[optind];
	field = argv[optind + 1];
	if (!plan_action_id_valid(id))
		return cli_usage(
			"resolve", "'%s' is not an action ID (P<n>-A<m>)", id);
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
	error = merge_resolve(&del, after, field, how, value);
	if (error == ERROR_NOTFOUND) {
		error = error_set(
			ERROR_NOTFOUND,
			"%s has no conflict recorded on '%s' (see plansync "
			"conflicts %s)",
			id, field, id);
		goto done;
	} else if (error == ERROR_USAGE) {
		error = cli_usage("resolve", "%s", error_message());
		goto done;
	} else if (error < 0) {
		char why[512];

		snprintf(why, sizeof(why), "%s", error_message());
		error = error_set(error, "%s %s: %s", id, field, why);
		goto done;
	}
	if (del) {
		snprintf(
			msg, sizeof(msg),
			"%s: resolve conflict on %s: delete the action", id,
			field);
		file.path = path;
		file.buf = NULL;
		file.len = 0;
		if ((error = commit_files(cid, repo, key, &file, 1, msg)) < 0)
			goto done;
	} else {
		if (plan_field_get(&now, after, field) == 0)
			summary = plan_value_summary(now, 60);
		error_clear();
		snprintf(
			msg, sizeof(msg), "%s: resolve conflict on %s: %s%s%s",
			id, field,
			how == MERGE_KEEP  ? "keep" :
			how == MERGE_OTHER ? "take the other value" :
					     "set",
			summary ? " " : "", summary ? summary : "");
		if ((error = edit_commit_doc(
			     cid, repo, key, path, after, msg)) < 0)
			goto done;
	}
	printf("%s (commit %.12s)\n", msg, cid);
done:
	free(summary);
	doc_free(before);
	doc_free(after);
	repo_free(repo);
	key_free(key);
	return error;
}
