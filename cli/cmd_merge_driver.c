/*
 * cli/cmd_merge_driver.c: `plansync merge-driver BASE OURS THEIRS PATH`, the
 * git merge driver (merge.plansync.driver = "plansync merge-driver %O %A %B
 * %P"): the three versions of one plan file merged field by field, the
 * result written over OURS.  The driver does not know the commits, so
 * wherever a field conflicts ours is kept and theirs recorded.
 */
#include "cmd.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/doc.h"
#include "core/fsutil.h"
#include "core/merge.h"
#include "core/plan.h"

static void print_help(void)
{
	printf("usage: plansync merge-driver BASE OURS THEIRS PATH\n"
	       "\n"
	       "The git merge driver plansync init and clone register "
	       "(.gitattributes:\n"
	       "*.yaml merge=plansync), so that plain git merge and git pull "
	       "merge plan\n"
	       "files field by field.  BASE, OURS and THEIRS are the files "
	       "git gives (%%O %%A\n"
	       "%%B; an empty BASE means the file is new); PATH (%%P) is the "
	       "file's path in\n"
	       "the plan.  The merged file, canonical YAML, replaces OURS.  "
	       "Conflicting\n"
	       "fields keep ours and record theirs in the action's conflicts "
	       "list.  Exits\n"
	       "0 when the result is valid, 1 when it cannot merge (invalid "
	       "YAML on a side,\n"
	       "an action added on both sides with one ID: run plansync "
	       "merge instead).\n");
}

/* The commits are unknown here: ours always counts as the later change. */
static int driver_who(
	struct merge_who *out,
	const struct merge_ctx *ctx,
	enum merge_side side,
	const char *field)
{
	(void)ctx;
	(void)field;
	out->time = side == MERGE_OURS ? 1 : 0;
	out->commit = "";
	out->email = "";
	return 0;
}

static int
load(struct doc_node **out,
     const char *file,
     enum plan_file_kind kind,
     const char *path,
     const char *what,
     int empty_ok)
{
	char *buf = NULL;
	size_t len;
	int error;

	*out = NULL;
	if ((error = fsutil_read_file(&buf, &len, file, DOC_MAX_FILE)) < 0)
		goto done;
	if (len == 0 && empty_ok)
		goto done;
	error = plan_parse(out, kind, path, buf, len);
	if (error < 0) {
		char why[512];

		snprintf(why, sizeof(why), "%s", error_message());
		error = error_set(error, "%s (%s)", why, what);
	}
done:
	free(buf);
	return error;
}

int cmd_merge_driver(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct doc_node *base = NULL, *ours = NULL, *theirs = NULL;
	struct merge_result r = MERGE_RESULT_INIT;
	struct merge_ctx ctx;
	enum plan_file_kind kind;
	const char *path;
	char id[32], *text = NULL;
	size_t len, i;
	int c, error;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			print_help();
			return 0;
		}
		return cli_usage(
			"merge-driver", "unknown option '%s'",
			argv[optind - 1]);
	}
	if (argc - optind != 4)
		return cli_usage("merge-driver", "give BASE OURS THEIRS PATH");
	path = argv[optind + 3];
	if (plan_path_classify(&kind, id, sizeof(id), path) < 0 ||
	    kind == PLAN_FILE_ATTRIBUTES) {
		error_clear();
		return error_set(
			ERROR_INVALID,
			"merge-driver: '%s' is not a plan file; merge it by hand",
			path);
	}
	if ((error = load(&base, argv[optind], kind, path, "base", 1)) < 0 ||
	    (error = load(&ours, argv[optind + 1], kind, path, "ours", 0)) <
		    0 ||
	    (error = load(&theirs, argv[optind + 2], kind, path, "theirs", 0)) <
		    0)
		goto done;
	memset(&ctx, 0, sizeof(ctx));
	ctx.who = driver_who;
	ctx.file = kind == PLAN_FILE_ACTION ? id : path;
	if ((error = merge_file(&r, kind, base, ours, theirs, &ctx)) < 0)
		goto done;
	if (r.renumber) {
		error = error_set(
			ERROR_CONFLICT,
			"merge-driver: %s was added on both sides with different "
			"content; abort (git merge --abort) and run 'plansync "
			"merge' to renumber one",
			id);
		goto done;
	}
	if (!r.doc) {
		error = error_set(
			ERROR_CONFLICT,
			"merge-driver: %s is deleted by the merge", path);
		goto done;
	}
	if ((error = doc_emit(&text, &len, r.doc)) < 0 ||
	    (error = fsutil_write_atomic(argv[optind + 1], text, len, 0644)) <
		    0)
		goto done;
	for (i = 0; i < r.nconflicts; i++)
		fprintf(stderr,
			"plansync: %s: conflict on %s recorded (ours kept)\n",
			path, r.conflicts[i].field);
done:
	free(text);
	merge_result_release(&r);
	doc_free(base);
	doc_free(ours);
	doc_free(theirs);
	return error;
}
