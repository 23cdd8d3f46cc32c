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
#include "sync/history.h"
#include "sync/repo.h"

#include <time.h>

#define AUDIT_TRIM 80

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

/* ---- --audit -------------------------------------------------------- */

struct audit_data {
	struct export_audit audit;
	struct export_audit_item *items;
	struct export_audit_change *changes;
	long long *times; /* of each item's who */
	char **strs; /* every string the two arrays point to */
	size_t nstrs, capstrs;
};

static const char *keep(struct audit_data *d, char *s)
{
	if (!s)
		return NULL;
	if (d->nstrs == d->capstrs) {
		size_t cap = d->capstrs ? d->capstrs * 2 : 256;
		char **v = realloc(d->strs, cap * sizeof(*v));

		if (!v) {
			free(s);
			return NULL;
		}
		d->strs = v;
		d->capstrs = cap;
	}
	d->strs[d->nstrs++] = s;
	return s;
}

static void audit_release(struct audit_data *d)
{
	size_t i;

	for (i = 0; i < d->nstrs; i++)
		free(d->strs[i]);
	free(d->strs);
	free(d->items);
	free(d->times);
	free(d->changes);
}

static int fill_who(
	struct audit_data *d,
	struct export_who *out,
	const struct history_who *w)
{
	time_t tt = (time_t)(w->time + (long long)w->tz * 60);
	struct tm tm;
	char buf[80];
	int a = w->tz < 0 ? -w->tz : w->tz;

	gmtime_r(&tt, &tm);
	snprintf(
		buf, sizeof(buf), "%04d-%02d-%02d %02d:%02d %c%02d%02d",
		tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		tm.tm_min, w->tz < 0 ? '-' : '+', a / 60, a % 60);
	out->name = w->name;
	out->organisation = w->organisation;
	out->signature = history_signature_status(w->verdict);
	out->commit = w->commit;
	if (!(out->date = keep(d, strdup(buf))))
		return error_nomem();
	return 0;
}

/* Who last changed each update (its fields together) of every action in
 * the plan, and every change of the period. */
static int audit_collect(
	struct audit_data *d,
	struct history *h,
	const struct plan *plan,
	long long since,
	long long until)
{
	struct history_blame *bl = NULL;
	struct history_change *ch = NULL;
	size_t nbl = 0, nch = 0, i, j, cap = 0;
	int error = 0;

	for (i = 0; i < plan_action_count(plan) && !error; i++) {
		const char *aid =
			doc_str(doc_map_get(plan_action_at(plan, i), "id"));

		size_t first = d->audit.nitems;

		error = history_blame(&bl, &nbl, h, aid);
		if (error == ERROR_NOTFOUND) {
			/* Not committed yet: nothing to credit. */
			error_clear();
			error = 0;
			continue;
		}
		for (j = 0; j < nbl && !error; j++) {
			const char *f = bl[j].field, *slash;
			struct export_audit_item *it = NULL;
			size_t k;
			char *uid;

			if (strncmp(f, "updates/", 8) != 0 ||
			    !(slash = strchr(f + 8, '/')))
				continue;
			if (!(uid = strndup(f + 8, (size_t)(slash - f - 8)))) {
				error = error_nomem();
				break;
			}
			for (k = first; k < d->audit.nitems && !it; k++)
				if (strcmp(d->items[k].action, aid) == 0 &&
				    strcmp(d->items[k].update, uid) == 0)
					it = &d->items[k];
			if (it) {
				free(uid);
			} else {
				if (d->audit.nitems == cap) {
					size_t nc = cap ? cap * 2 : 64;
					struct export_audit_item *v = realloc(
						d->items, nc * sizeof(*v));
					long long *t = realloc(
						d->times, nc * sizeof(*t));

					if (v)
						d->items = v;
					if (t)
						d->times = t;
					if (!v || !t) {
						free(uid);
						error = error_nomem();
						break;
					}
					cap = nc;
				}
				k = d->audit.nitems++;
				it = &d->items[k];
				memset(it, 0, sizeof(*it));
				d->times[k] = -1;
				it->update = keep(d, uid);
				it->action = keep(d, strdup(aid));
				if (!it->update || !it->action) {
					error = error_nomem();
					break;
				}
			}
			/* The latest change among the entry's fields. */
			k = (size_t)(it - d->items);
			if (bl[j].who->time > d->times[k]) {
				if ((error = fill_who(d, &it->who, bl[j].who)) <
				    0)
					break;
				d->times[k] = bl[j].who->time;
			}
		}
		history_blame_free(bl, nbl);
		bl = NULL;
		nbl = 0;
	}
	if (error < 0)
		goto done;
	if ((error = history_log(&ch, &nch, h, NULL, NULL, since, until)) < 0)
		goto done;
	if (!(d->changes = calloc(nch + 1, sizeof(*d->changes)))) {
		error = error_nomem();
		goto done;
	}
	for (i = 0; i < nch && !error; i++) {
		struct export_audit_change *c = &d->changes[i];

		if ((error = fill_who(d, &c->who, ch[i].who)) < 0)
			break;
		c->action = keep(d, strdup(ch[i].action));
		c->field = keep(d, strdup(ch[i].field));
		c->old = keep(d, plan_value_summary(ch[i].old, AUDIT_TRIM));
		c->new = keep(d, plan_value_summary(ch[i].new, AUDIT_TRIM));
		if (!c->action || !c->field || !c->old || !c->new)
			error = error_nomem();
	}
	d->audit.nchanges = nch;
	d->audit.items = d->items;
	d->audit.changes = d->changes;
done:
	history_blame_free(bl, nbl);
	history_changes_free(ch, nch);
	return error;
}

/* Seconds at the start (or end) of day D (UTC); -1 if not a date. */
static long long parse_day(const char *d, int end)
{
	struct tm tm;
	char buf[11];
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
	return end ? (long long)tt + 86399 : (long long)tt;
}

static void print_help(void)
{
	printf("usage: plansync export --format md|html|csv|json [-o FILE]\n"
	       "       plansync export --format md|html --audit [--since D] "
	       "[--until D] [-o FILE]\n"
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
	       "  --audit            md and html: under each update, who last "
	       "changed it,\n"
	       "                     when, and the signature status (good, "
	       "bad, unknown-key,\n"
	       "                     revoked, unsigned); then an appendix of "
	       "every change\n"
	       "                     in the period (from the history of "
	       "HEAD)\n"
	       "  --since D          the appendix from day D (YYYY-MM-DD, UTC)\n"
	       "  --until D          the appendix up to day D\n"
	       "\n"
	       "The plan folder is the current folder or the nearest parent "
	       "holding plan.yaml.\n");
}

int cmd_export(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "audit", no_argument, NULL, 'a' },
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *format_name = NULL, *output = NULL;
	const char *since_s = NULL, *until_s = NULL;
	long long since = 0, until = 0;
	enum export_format format = EXPORT_MD;
	struct audit_data ad;
	struct repo *repo = NULL;
	struct history *h = NULL;
	int audit = 0;
	struct plan *plan = NULL;
	char *text = NULL, *plan_dir = NULL;
	size_t len;
	int c, error = 0;

	memset(&ad, 0, sizeof(ad));
	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, ":f:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			audit = 1;
			break;
		case 's':
			since_s = optarg;
			break;
		case 'u':
			until_s = optarg;
			break;
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
	if ((since_s || until_s) && !audit) {
		error = cli_usage("export", "--since and --until need --audit");
		goto done;
	}
	if (audit && format != EXPORT_MD && format != EXPORT_HTML) {
		error = cli_usage(
			"export", "--audit needs --format md or html, not '%s'",
			format_name);
		goto done;
	}
	if (since_s && (since = parse_day(since_s, 0)) < 0) {
		error = cli_usage(
			"export", "--since '%s' is not a date (YYYY-MM-DD)",
			since_s);
		goto done;
	}
	if (until_s && (until = parse_day(until_s, 1)) < 0) {
		error = cli_usage(
			"export", "--until '%s' is not a date (YYYY-MM-DD)",
			until_s);
		goto done;
	}
	if (since_s && until_s && until < since) {
		error = cli_usage(
			"export", "--until '%s' is before --since '%s'",
			until_s, since_s);
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
	if (audit) {
		ad.audit.since = since_s;
		ad.audit.until = until_s;
		if ((error = repo_open(&repo, plan_dir, 0)) < 0 ||
		    (error = history_open(&h, repo, 0)) < 0 ||
		    (error = audit_collect(&ad, h, plan, since, until)) < 0 ||
		    (error = export_plan_audit(
			     &text, &len, plan, format, &ad.audit)) < 0)
			goto done;
	} else if ((error = export_plan(&text, &len, plan, format)) < 0) {
		goto done;
	}
	if (output && strcmp(output, "-") != 0)
		error = fsutil_write_atomic(output, text, len, 0666);
	else
		fwrite(text, 1, len, stdout);
done:
	audit_release(&ad);
	history_free(h);
	repo_free(repo);
	free(text);
	free(plan_dir);
	plan_free(plan);
	return error;
}
