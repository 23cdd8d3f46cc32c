/*
 * plansync export: the plan as a report in Markdown, HTML, CSV or JSON.
 */
#include "cmd.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "core/export.h"
#include "core/fsutil.h"
#include "core/plan.h"
#include "plandir.h"

/*
 * Refuse an output path that is one of the plan's own files (plan.yaml,
 * partners.yaml, .gitattributes) or lies under its actions/ or .git/.
 * A path whose folder does not exist is left to the write to report.
 */
static int check_output(const char *output, const char *plan_dir)
{
	char *copy = NULL, *parent = NULL, *slash;
	const char *base, *folder;
	size_t n = strlen(plan_dir);
	int error = 0;

	if (!(copy = strdup(output))) {
		error = error_nomem();
		goto done;
	}
	slash = strrchr(copy, '/');
	if (slash) {
		*slash = '\0';
		base = slash + 1;
		folder = slash == copy ? "/" : copy;
	} else {
		base = copy;
		folder = ".";
	}
	if (!(parent = realpath(folder, NULL)))
		goto done;
	if (strcmp(parent, plan_dir) == 0 &&
	    (strcmp(base, "plan.yaml") == 0 ||
	     strcmp(base, "partners.yaml") == 0 ||
	     strcmp(base, ".gitattributes") == 0 ||
	     strcmp(base, "actions") == 0 || strcmp(base, ".git") == 0))
		goto refuse;
	if (strncmp(parent, plan_dir, n) == 0 &&
	    (strncmp(parent + n, "/actions", 8) == 0 ||
	     strncmp(parent + n, "/.git", 5) == 0) &&
	    (parent[n + (parent[n + 1] == 'a' ? 8 : 5)] == '\0' ||
	     parent[n + (parent[n + 1] == 'a' ? 8 : 5)] == '/'))
		goto refuse;
	goto done;
refuse:
	error = error_set(
		ERROR_EXISTS,
		"will not write the report to '%s': it is part of the plan",
		output);
done:
	free(parent);
	free(copy);
	return error;
}

static void print_help(void)
{
	printf("usage: plansync export --format md|html|csv|json [-o FILE]\n"
	       "\n"
	       "Write the whole plan as a report, to standard output or to "
	       "FILE.\n"
	       "\n"
	       "  -f, --format F     md: Markdown laid out like the plan "
	       "document (priorities\n"
	       "                     in order, each with its title, focus "
	       "and table)\n"
	       "                     html: one self-contained printable "
	       "page\n"
	       "                     csv: one row per update (RFC 4180), "
	       "with a header row\n"
	       "                     json: {\"plan\": {...}, \"actions\": "
	       "[...]}\n"
	       "  -o, --output FILE  write FILE atomically instead of "
	       "standard output\n"
	       "                     (its folder must exist; '-' is standard "
	       "output)\n"
	       "\n"
	       "The plan folder is the current folder or the nearest parent "
	       "holding plan.yaml.\n");
}

int cmd_export(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *format_name = NULL, *output = NULL;
	enum export_format format = EXPORT_MD;
	struct plan *plan = NULL;
	char *text = NULL, *plan_dir = NULL;
	size_t len;
	int c, error = 0;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, ":f:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			format_name = optarg;
			break;
		case 'o':
			output = optarg;
			break;
		case 'h':
			print_help();
			goto done;
		case ':':
			error = cli_usage(
				"export", "option '%s' needs a value",
				argv[optind - 1]);
			goto done;
		default:
			error = cli_usage(
				"export", "unknown option '%s'",
				argv[optind - 1]);
			goto done;
		}
	}
	if (optind < argc) {
		error = cli_usage(
			"export", "unexpected argument '%s'", argv[optind]);
		goto done;
	}
	if (!format_name) {
		error = cli_usage(
			"export", "which format? give --format md, html, csv "
				  "or json");
		goto done;
	}
	if (export_format_parse(&format, format_name) < 0) {
		error = cli_usage(
			"export",
			"unknown format '%s' (use md, html, csv or "
			"json)",
			format_name);
		goto done;
	}
	if (output && !*output) {
		error = cli_usage("export", "-o needs a file name");
		goto done;
	}
	if ((error = plandir_load(&plan, &plan_dir)) < 0)
		goto done;
	if (output && strcmp(output, "-") != 0 &&
	    (error = check_output(output, plan_dir)) < 0)
		goto done;
	if ((error = export_plan(&text, &len, plan, format)) < 0)
		goto done;
	if (output && strcmp(output, "-") != 0)
		error = fsutil_write_atomic(output, text, len, 0666);
	else
		fwrite(text, 1, len, stdout);
done:
	free(text);
	free(plan_dir);
	plan_free(plan);
	return error;
}
