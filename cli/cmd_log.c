/*
 * plansync log: every field-level change, who made it, and its signature.
 */
#include "cmd.h"

#include "audit.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/plan.h"
#include "sync/history.h"
#include "sync/repo.h"

#define TRIM 60

static void print_help(void)
{
	printf("usage: plansync log [ID[/FIELD]] [--since D] [--until D] "
	       "[--full] [--json]\n"
	       "              [--no-index]\n"
	       "\n"
	       "Every change to the plan's actions in the history of HEAD, "
	       "newest first,\nfield by field: the date, the author and "
	       "organisation, the signing key's\nfingerprint, the signature "
	       "status (good, bad, unknown-key, revoked, unsigned),\nthe "
	       "commit, the field and its old -> new value.  A change carried "
	       "in by a\nmerge is shown under the commit that made it; a "
	       "merge commit shows only what\nit decided itself (conflict "
	       "records, resolutions).\n"
	       "\n"
	       "  ID           only the action ID (e.g. P2-A2)\n"
	       "  ID/FIELD     only that field, or every field under it "
	       "(P2-A2/status,\n"
	       "               P2-A2/updates/u1, P2-A2/updates/u1/text)\n"
	       "  --since D    only commits dated D (YYYY-MM-DD, UTC) or "
	       "later\n"
	       "  --until D    only commits dated D or earlier\n"
	       "  --full       long values in full (they are trimmed to %d "
	       "bytes)\n"
	       "  --json       an array of {date, commit, author, email, "
	       "organisation,\n"
	       "               fingerprint, signature, verdict, merge, action, "
	       "field,\n               old, new}\n"
	       "  --no-index   walk the commits instead of reading the "
	       "history index\n"
	       "               (.git/plansync/history; the output is the "
	       "same)\n",
	       TRIM);
}

/*
 * Seconds since the epoch at the start (end: 0) or the end of day D (UTC);
 * -1 when D is not a YYYY-MM-DD calendar date.
 */
static long long parse_day(const char *d, int end)
{
	struct tm tm;
	char buf[11];
	long long t;
	time_t tt;

	if (strlen(d) != 10 || !doc_is_date(d, 10))
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = (int)strtol(d, NULL, 10) - 1900;
	tm.tm_mon = (int)strtol(d + 5, NULL, 10) - 1;
	tm.tm_mday = (int)strtol(d + 8, NULL, 10);
	tt = timegm(&tm);
	if (tt == (time_t)-1 || !gmtime_r(&tt, &tm))
		return -1;
	strftime(buf, sizeof(buf), "%Y-%m-%d", &tm);
	if (strcmp(buf, d) != 0)
		return -1;
	t = (long long)tt;
	return end ? t + 86399 : t;
}

static void print_json(const struct history_change *v, size_t n)
{
	char date[80];
	size_t i;

	fputs("[", stdout);
	for (i = 0; i < n; i++) {
		const struct history_who *w = v[i].who;

		audit_format_time(
			date, sizeof(date), w->time, w->tz, AUDIT_TIME_ISO);
		fputs(i ? ",\n  {" : "\n  {", stdout);
		fputs("\"date\": ", stdout);
		audit_json_string(date);
		fputs(", \"commit\": ", stdout);
		audit_json_string(w->commit);
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
		fputs(", \"verdict\": ", stdout);
		audit_json_string(verify_verdict_name(w->verdict));
		printf(", \"merge\": %s", w->merge ? "true" : "false");
		fputs(", \"action\": ", stdout);
		audit_json_string(v[i].action);
		fputs(", \"field\": ", stdout);
		audit_json_string(v[i].field);
		fputs(", \"old\": ", stdout);
		audit_json_value(v[i].old);
		fputs(", \"new\": ", stdout);
		audit_json_value(v[i].new);
		fputs("}", stdout);
	}
	fputs(n ? "\n]\n" : "]\n", stdout);
}

static const char *sig_color(enum verify_verdict v)
{
	return v == VERIFY_GOOD ? cli_c_good() : cli_c_bad();
}

static int record_in(const struct doc_node *list, const struct doc_node *rec)
{
	size_t i;

	for (i = 0; list && list->kind == DOC_SEQ && i < list->n; i++)
		if (doc_equal(list->items[i], rec))
			return 1;
	return 0;
}

static const char *str_or(const struct doc_node *map, const char *key)
{
	const char *s = doc_str(doc_map_get(map, key));

	return s && *s ? s : "?";
}

/* Conflict records added ("+") and removed ("-": resolved), one a line. */
static int print_records(
	const struct history_change *c,
	size_t max,
	const struct doc_node *from,
	const struct doc_node *to,
	char sign)
{
	size_t i;

	for (i = 0; to && to->kind == DOC_SEQ && i < to->n; i++) {
		const struct doc_node *r = to->items[i];
		char *kept, *other;

		if (record_in(from, r))
			continue;
		kept = plan_value_summary(doc_map_get(r, "kept"), max);
		other = plan_value_summary(doc_map_get(r, "other"), max);
		if (!kept || !other) {
			free(kept);
			free(other);
			return error_nomem();
		}
		if (sign == '+')
			audit_printf(
				"  %s/conflicts: + %s: kept %s (%s), other %s "
				"(%s)\n",
				c->action, str_or(r, "field"), kept,
				str_or(r, "kept_by"), other,
				str_or(r, "other_by"));
		else
			audit_printf(
				"  %s/conflicts: - %s resolved (was kept %s, "
				"other %s)\n",
				c->action, str_or(r, "field"), kept, other);
		free(kept);
		free(other);
	}
	return 0;
}

static int print_text(const struct history_change *v, size_t n, int full)
{
	size_t max = full ? (size_t)DOC_MAX_FILE : TRIM, i;
	const struct history_who *prev = NULL;
	char date[80];

	for (i = 0; i < n; i++) {
		const struct history_who *w = v[i].who;
		char *o, *nw;

		if (w != prev) {
			audit_format_time(
				date, sizeof(date), w->time, w->tz,
				AUDIT_TIME_MINUTE);
			printf("%s%s%s %.7s%s  ", i ? "\n" : "", cli_c_dim(),
			       date, w->commit, cli_c_reset());
			audit_put_text(w->name);
			if (w->organisation)
				audit_printf(" (%s)", w->organisation);
			printf("  %s%s%s", sig_color(w->verdict),
			       history_signature_status(w->verdict),
			       cli_c_reset());
			if (*w->fingerprint)
				printf(" %s", w->fingerprint);
			if (w->merge)
				printf("  (merge)");
			putchar('\n');
			prev = w;
		}
		if (strcmp(v[i].field, "conflicts") == 0) {
			int error = print_records(
				&v[i], max, v[i].old, v[i].new, '+');

			if (!error)
				error = print_records(
					&v[i], max, v[i].new, v[i].old, '-');
			if (error)
				return error;
			continue;
		}
		o = plan_value_summary(v[i].old, max);
		nw = plan_value_summary(v[i].new, max);
		if (!o || !nw) {
			free(o);
			free(nw);
			return error_nomem();
		}
		audit_printf(
			"  %s/%s: %s -> %s\n", v[i].action, v[i].field, o, nw);
		free(o);
		free(nw);
	}
	return 0;
}

int cmd_log(int argc, char **argv)
{
	struct audit_opts o;
	struct repo *repo = NULL;
	struct history *h = NULL;
	struct history_change *v = NULL;
	size_t n = 0;
	char *sel = NULL, *field = NULL;
	const char *since_s, *until_s;
	long long since = 0, until = 0;
	int error;

	if ((error = audit_opts_parse(
		     &o, "log", AUDIT_OPTS_DATES, print_help, argc, argv)) !=
	    0) {
		if (error == AUDIT_OPTS_HELP)
			error = 0;
		goto done;
	}
	since_s = o.since;
	until_s = o.until;
	if (argc - optind > 1) {
		error = cli_usage(
			"log", "unexpected argument '%s'", argv[optind + 1]);
		goto done;
	}
	if (since_s && (since = parse_day(since_s, 0)) < 0) {
		error = cli_usage(
			"log", "--since '%s' is not a date (YYYY-MM-DD)",
			since_s);
		goto done;
	}
	if (until_s && (until = parse_day(until_s, 1)) < 0) {
		error = cli_usage(
			"log", "--until '%s' is not a date (YYYY-MM-DD)",
			until_s);
		goto done;
	}
	if (since_s && until_s && until < since) {
		error = cli_usage(
			"log", "--until '%s' is before --since '%s'", until_s,
			since_s);
		goto done;
	}
	if (argc - optind == 1) {
		if (!(sel = strdup(argv[optind]))) {
			error = error_nomem();
			goto done;
		}
		if ((field = strchr(sel, '/')))
			*field++ = '\0';
		if (!plan_action_id_valid(sel)) {
			error = cli_usage(
				"log", "'%s' is not an action ID (P<n>-A<n>)",
				sel);
			goto done;
		}
		if (field && (!*field || field[strlen(field) - 1] == '/')) {
			error = cli_usage(
				"log", "'%s' names no field", argv[optind]);
			goto done;
		}
	}
	if ((error = repo_open(&repo, ".", 0)) < 0 ||
	    (error = history_open(
		     &h, repo,
		     o.noindex ? HISTORY_NO_INDEX : (sel ? HISTORY_LAZY : 0))) <
		    0 ||
	    (error = history_log(&v, &n, h, sel, field, since, until)) < 0)
		goto done;
	if (o.json)
		print_json(v, n);
	else
		error = print_text(v, n, o.full);
done:
	history_changes_free(v, n);
	history_free(h);
	repo_free(repo);
	free(sel);
	return error;
}
