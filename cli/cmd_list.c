/*
 * plansync list: one line per action, filtered.
 */
#include "cmd.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/doc.h"
#include "core/export.h"
#include "core/plan.h"
#include "plandir.h"

#define ACTION_WIDTH 56 /* characters of action text shown */

static const char *const statuses[] = {
	"planned", "in-progress", "ongoing", "on-hold", "done",
};

static void print_help(void)
{
	printf("usage: plansync list [--priority P] [--responsible ORG] "
	       "[--status S] [--json]\n"
	       "\n"
	       "List the plan's actions, one a line: ID, status, the start of "
	       "the action\ntext and who is responsible.  Filters combine.\n"
	       "\n"
	       "  --priority P       only actions of priority P (e.g. P2)\n"
	       "  --responsible ORG  only actions that ORG is responsible "
	       "for, on the action\n"
	       "                     or on one of its updates (exact name, "
	       "any case)\n"
	       "  --status S         only actions with status S: planned, "
	       "in-progress,\n"
	       "                     ongoing, on-hold or done\n"
	       "  --json             print a JSON array of the actions, every "
	       "field\n"
	       "\n"
	       "The plan folder is the current folder or the nearest parent "
	       "holding plan.yaml.\n");
}

static int status_valid(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
		if (strcmp(s, statuses[i]) == 0)
			return 1;
	return 0;
}

/* Non-zero if list (a sequence, or one scalar) names org, in any case. */
static int list_has(const struct doc_node *list, const char *org)
{
	size_t i;

	if (!list)
		return 0;
	if (list->kind == DOC_SCALAR)
		return strcasecmp(list->str, org) == 0;
	if (list->kind != DOC_SEQ)
		return 0;
	for (i = 0; i < list->n; i++)
		if (list->items[i]->kind == DOC_SCALAR &&
		    strcasecmp(list->items[i]->str, org) == 0)
			return 1;
	return 0;
}

static int responsible_for(const struct doc_node *action, const char *org)
{
	const struct doc_node *updates = doc_map_get(action, "updates");
	size_t i;

	if (list_has(doc_map_get(action, "responsible"), org))
		return 1;
	if (!updates || updates->kind != DOC_SEQ)
		return 0;
	for (i = 0; i < updates->n; i++)
		if (list_has(
			    doc_map_get(updates->items[i], "responsible"), org))
			return 1;
	return 0;
}

static int priority_listed(const struct plan *plan, const char *id)
{
	const struct doc_node *p = doc_map_get(plan_meta(plan), "priorities");
	size_t i;

	for (i = 0; p && p->kind == DOC_SEQ && i < p->n; i++)
		if (strcmp(doc_str(doc_map_get(p->items[i], "id")) ?
				   doc_str(doc_map_get(p->items[i], "id")) :
				   "",
			   id) == 0)
			return 1;
	return 0;
}

/* Number of UTF-8 characters in s[0..len). */
static size_t utf8_chars(const char *s, size_t len)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			n++;
	return n;
}

/*
 * Print s on one line: runs of white space become one space; text longer
 * than width characters is cut (at a word break when there is one near)
 * and ends "...".  With pad, fill to width columns and add the gap to the
 * next column.
 */
static int print_trimmed(const char *s, size_t width, int pad)
{
	char *t = malloc(strlen(s) + 1);
	size_t len = 0, cut, chars, i;
	int space = 0;

	if (!t)
		return error_nomem();
	for (; *s; s++) {
		if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') {
			space = len > 0;
			continue;
		}
		if (space)
			t[len++] = ' ';
		space = 0;
		t[len++] = *s;
	}
	t[len] = '\0';
	chars = utf8_chars(t, len);
	if (chars > width) {
		/* the byte where character width - 3 starts */
		for (cut = 0, i = 0; cut < len; cut++) {
			if (((unsigned char)t[cut] & 0xc0) != 0x80 &&
			    i++ == width - 3)
				break;
		}
		for (i = cut; i > 0 && cut - i < 16; i--)
			if (t[i] == ' ')
				break;
		if (i > 0 && t[i] == ' ')
			cut = i;
		while (cut > 0 && (t[cut - 1] == ' ' || t[cut - 1] == ','))
			cut--;
		fwrite(t, 1, cut, stdout);
		fputs("...", stdout);
		chars = utf8_chars(t, cut) + 3;
	} else {
		fputs(t, stdout);
	}
	while (pad && chars++ < width)
		putchar(' ');
	if (pad)
		fputs("  ", stdout);
	free(t);
	return 0;
}

static const char *status_color(const char *status)
{
	if (strcmp(status, "done") == 0)
		return cli_c_good();
	if (strcmp(status, "on-hold") == 0)
		return cli_c_bad();
	if (strcmp(status, "planned") == 0)
		return cli_c_dim();
	return "";
}

static int print_line(const struct doc_node *a, int idw)
{
	const struct doc_node *resp = doc_map_get(a, "responsible");
	const char *id = doc_str(doc_map_get(a, "id"));
	const char *status = doc_str(doc_map_get(a, "status"));
	const char *text = doc_str(doc_map_get(a, "action"));
	size_t i;
	int error;

	printf("%-*s  %s%-11s%s  ", idw, id ? id : "", status_color(status),
	       status ? status : "", cli_c_reset());
	if ((error = print_trimmed(
		     text ? text : "", ACTION_WIDTH,
		     resp && (resp->kind == DOC_SCALAR || resp->n > 0))) < 0)
		return error;
	if (resp && resp->kind == DOC_SCALAR)
		fputs(resp->str, stdout);
	for (i = 0; resp && resp->kind == DOC_SEQ && i < resp->n; i++) {
		const char *org = doc_str(resp->items[i]);

		printf("%s%s", i ? ", " : "", org ? org : "");
	}
	putchar('\n');
	return 0;
}

int cmd_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "priority", required_argument, NULL, 'p' },
		{ "responsible", required_argument, NULL, 'r' },
		{ "status", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *priority = NULL, *org = NULL, *status = NULL;
	const struct doc_node **shown = NULL;
	struct plan *plan = NULL;
	char *json = NULL;
	size_t i, n, nshown = 0, jlen;
	int c, json_out = 0, idw = 5, error = 0;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			priority = optarg;
			break;
		case 'r':
			org = optarg;
			break;
		case 's':
			status = optarg;
			break;
		case 'j':
			json_out = 1;
			break;
		case 'h':
			print_help();
			goto done;
		case ':':
			error = cli_usage(
				"list", "option '%s' needs a value",
				argv[optind - 1]);
			goto done;
		default:
			error = cli_usage(
				"list", "unknown option '%s'",
				argv[optind - 1]);
			goto done;
		}
	}
	if (optind < argc) {
		error = cli_usage(
			"list", "unexpected argument '%s'", argv[optind]);
		goto done;
	}
	if (priority && !plan_priority_id_valid(priority)) {
		error = cli_usage(
			"list", "'%s' is not a priority ID like P2", priority);
		goto done;
	}
	if (status && !status_valid(status)) {
		error = cli_usage(
			"list",
			"unknown status '%s' (use planned, in-progress, "
			"ongoing, on-hold or done)",
			status);
		goto done;
	}
	if (org && !*org) {
		error = cli_usage("list", "--responsible needs a name");
		goto done;
	}
	if ((error = plandir_load(&plan, NULL)) < 0)
		goto done;
	if (priority && !priority_listed(plan, priority)) {
		error = error_set(
			ERROR_NOTFOUND, "no priority '%s' in plan", priority);
		goto done;
	}
	n = plan_action_count(plan);
	if (n && !(shown = calloc(n, sizeof(*shown)))) {
		error = error_nomem();
		goto done;
	}
	for (i = 0; i < n; i++) {
		const struct doc_node *a = plan_action_at(plan, i);
		const char *v;

		v = doc_str(doc_map_get(a, "priority"));
		if (priority && (!v || strcmp(v, priority) != 0))
			continue;
		v = doc_str(doc_map_get(a, "status"));
		if (status && (!v || strcmp(v, status) != 0))
			continue;
		if (org && !responsible_for(a, org))
			continue;
		shown[nshown++] = a;
		v = doc_str(doc_map_get(a, "id"));
		if (v && (int)strlen(v) > idw)
			idw = (int)strlen(v);
	}
	if (json_out) {
		if ((error = export_json_actions(&json, &jlen, shown, nshown)) <
		    0)
			goto done;
		fwrite(json, 1, jlen, stdout);
		goto done;
	}
	for (i = 0; i < nshown && error == 0; i++)
		error = print_line(shown[i], idw);
done:
	free(json);
	free(shown);
	plan_free(plan);
	return error;
}
