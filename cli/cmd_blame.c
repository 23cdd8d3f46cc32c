/*
 * plansync blame: who set each field of an action, and whether it is signed.
 */
#include "cmd.h"

#include "audit.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "core/plan.h"
#include "sync/history.h"
#include "sync/repo.h"

#define TRIM 50

static void print_help(void)
{
	printf("usage: plansync blame ID [--json] [--full] [--no-index]\n"
	       "\n"
	       "For every field of the action ID at HEAD, each update "
	       "entry's fields\nincluded: the current value and the commit "
	       "that set it, its author and\norganisation, the date and the "
	       "signature status (good, bad, unknown-key,\nrevoked, "
	       "unsigned).  A value carried in by a merge is credited to the "
	       "commit\nthat made it, not to the merge.\n"
	       "\n"
	       "  --json      an array of {field, value, commit, date, author, "
	       "email,\n"
	       "              organisation, fingerprint, signature, merge}\n"
	       "  --full      long values in full (they are trimmed to %d "
	       "bytes)\n"
	       "  --no-index  walk the commits instead of reading the history "
	       "index\n",
	       TRIM);
}

static void print_json(const struct history_blame *v, size_t n)
{
	char date[80];
	size_t i;

	fputs("[", stdout);
	for (i = 0; i < n; i++) {
		const struct history_who *w = v[i].who;

		audit_format_time(
			date, sizeof(date), w->time, w->tz, AUDIT_TIME_ISO);
		fputs(i ? ",\n  {" : "\n  {", stdout);
		fputs("\"field\": ", stdout);
		audit_json_string(v[i].field);
		fputs(", \"value\": ", stdout);
		audit_json_value(v[i].value);
		fputs(", \"commit\": ", stdout);
		audit_json_string(w->commit);
		fputs(", \"date\": ", stdout);
		audit_json_string(date);
		fputs(", \"author\": ", stdout);
		audit_json_string(w->name);
		fputs(", \"email\": ", stdout);
		audit_json_string(w->email);
		fputs(", \"organisation\": ", stdout);
		audit_json_or_null(w->organisation);
		fputs(", \"fingerprint\": ", stdout);
		audit_json_or_null(w->fingerprint);
		fputs(", \"signature\": ", stdout);
		audit_json_string(history_signature_status(w->verdict));
		printf(", \"merge\": %s}", w->merge ? "true" : "false");
	}
	fputs(n ? "\n]\n" : "]\n", stdout);
}

static int print_text(const struct history_blame *v, size_t n, int full)
{
	size_t width = 6, i;
	char date[80];

	for (i = 0; i < n; i++)
		if (strlen(v[i].field) > width)
			width = strlen(v[i].field);
	for (i = 0; i < n; i++) {
		const struct history_who *w = v[i].who;
		char *val = plan_value_summary(
			v[i].value, full ? (size_t)DOC_MAX_FILE : TRIM);

		if (!val)
			return error_nomem();
		audit_format_time(
			date, sizeof(date), w->time, w->tz, AUDIT_TIME_DAY);
		audit_put_text(v[i].field);
		printf("%*s %s%.7s %s%s ", (int)(width - strlen(v[i].field)),
		       "", cli_c_dim(), w->commit, date, cli_c_reset());
		audit_put_text(w->name);
		if (w->organisation)
			audit_printf(" (%s)", w->organisation);
		printf(" %s%s%s: ",
		       w->verdict == VERIFY_GOOD ? cli_c_good() : cli_c_bad(),
		       history_signature_status(w->verdict), cli_c_reset());
		audit_printf("%s\n", val);
		free(val);
	}
	return 0;
}

int cmd_blame(int argc, char **argv)
{
	struct audit_opts o;
	struct repo *repo = NULL;
	struct history *h = NULL;
	struct history_blame *v = NULL;
	size_t n = 0;
	int error;

	if ((error = audit_opts_parse(
		     &o, "blame", 0, print_help, argc, argv)) != 0) {
		if (error == AUDIT_OPTS_HELP)
			error = 0;
		goto done;
	}
	if (argc - optind != 1) {
		error = cli_usage(
			"blame", argc - optind ? "give one action ID" :
						 "which action? give an ID");
		goto done;
	}
	if (!plan_action_id_valid(argv[optind])) {
		error = cli_usage(
			"blame", "'%s' is not an action ID (P<n>-A<n>)",
			argv[optind]);
		goto done;
	}
	if ((error = repo_open(&repo, ".", 0)) < 0 ||
	    (error = history_open(
		     &h, repo, o.noindex ? HISTORY_NO_INDEX : HISTORY_LAZY)) <
		    0 ||
	    (error = history_blame(&v, &n, h, argv[optind])) < 0)
		goto done;
	if (o.json)
		print_json(v, n);
	else
		error = print_text(v, n, o.full);
done:
	history_blame_free(v, n);
	history_free(h);
	repo_free(repo);
	return error;
}
