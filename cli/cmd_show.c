/*
 * plansync show: every field of one action.
 */
#include "cmd.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "core/doc.h"
#include "core/export.h"
#include "core/plan.h"
#include "plandir.h"

#define LABEL_WIDTH 14

static void print_help(void)
{
	printf("usage: plansync show ID [--json]\n"
	       "\n"
	       "Show every field of the action ID (e.g. P2-A2): its text, "
	       "status, timescale,\nwho is responsible, each update (id, "
	       "text, date, timescale, responsible)\nand any merge conflicts "
	       "recorded on it.\n"
	       "\n"
	       "  --json  print the action as a JSON object with the YAML's "
	       "field names\n"
	       "\n"
	       "The plan folder is the current folder or the nearest parent "
	       "holding plan.yaml.\n");
}

static void pad(int n)
{
	while (n-- > 0)
		putchar(' ');
}

/* Text, its continuation lines indented to column indent. */
static void print_text(const char *s, int indent)
{
	for (; *s; s++) {
		putchar(*s);
		if (*s == '\n' && s[1])
			pad(indent);
	}
}

static int all_scalars(const struct doc_node *seq)
{
	size_t i;

	for (i = 0; i < seq->n; i++)
		if (seq->items[i]->kind != DOC_SCALAR)
			return 0;
	return 1;
}

static void
print_field(const char *label, const struct doc_node *v, int indent);

/* A value after its label; nested collections go on lines below. */
static void print_value(const struct doc_node *v, int indent)
{
	size_t i;

	if (!v) {
		printf("%s(none)%s\n", cli_c_dim(), cli_c_reset());
		return;
	}
	if (v->kind == DOC_SCALAR) {
		if (v->len == 0)
			printf("%s(empty)%s", cli_c_dim(), cli_c_reset());
		print_text(v->str, indent + LABEL_WIDTH);
		putchar('\n');
		return;
	}
	if (v->n == 0) {
		printf("%s(none)%s\n", cli_c_dim(), cli_c_reset());
		return;
	}
	if (v->kind == DOC_SEQ && all_scalars(v)) {
		for (i = 0; i < v->n; i++) {
			if (i)
				fputs(", ", stdout);
			print_text(v->items[i]->str, indent + LABEL_WIDTH);
		}
		putchar('\n');
		return;
	}
	putchar('\n');
	for (i = 0; i < v->n; i++) {
		if (v->kind == DOC_MAP) {
			print_field(v->keys[i], v->items[i], indent + 2);
		} else {
			char label[32];

			snprintf(label, sizeof(label), "- %zu", i + 1);
			print_field(label, v->items[i], indent + 2);
		}
	}
}

static void print_field(const char *label, const struct doc_node *v, int indent)
{
	int n;

	pad(indent);
	n = (int)strlen(label) + 1;
	printf("%s:", label);
	pad(n < LABEL_WIDTH ? LABEL_WIDTH - n : 1);
	print_value(v, indent);
}

/* Keys of m outside the schema (known holds the schema's), if any. */
static void print_other_keys(
	const struct doc_node *m,
	const char *const *known,
	size_t nknown,
	int indent)
{
	size_t i, j;

	for (i = 0; i < m->n; i++) {
		for (j = 0; j < nknown; j++)
			if (strcmp(m->keys[i], known[j]) == 0)
				break;
		if (j == nknown)
			print_field(m->keys[i], m->items[i], indent);
	}
}

static void print_priority(const struct plan *plan, const char *pid)
{
	const struct doc_node *p = doc_map_get(plan_meta(plan), "priorities");
	size_t i;

	for (i = 0; p && p->kind == DOC_SEQ && i < p->n; i++) {
		const char *id = doc_str(doc_map_get(p->items[i], "id"));
		const char *title = doc_str(doc_map_get(p->items[i], "title"));

		if (id && strcmp(id, pid) == 0 && title) {
			print_field(
				"priority", doc_map_get(p->items[i], "id"), 0);
			pad(LABEL_WIDTH);
			print_text(title, LABEL_WIDTH);
			putchar('\n');
			return;
		}
	}
	print_field("priority", NULL, 0);
}

static void print_action(const struct plan *plan, const struct doc_node *a)
{
	static const char *const action_keys[] = {
		"id",        "priority",    "action",  "information", "status",
		"timescale", "responsible", "updates", "conflicts",
	};
	static const char *const update_keys[] = {
		"id", "text", "date", "timescale", "responsible",
	};
	static const char *const fields[] = {
		"action", "information", "status", "timescale", "responsible",
	};
	const struct doc_node *updates = doc_map_get(a, "updates");
	const struct doc_node *conflicts = doc_map_get(a, "conflicts");
	const char *pid = doc_str(doc_map_get(a, "priority"));
	size_t i, j;

	printf("%s%s%s\n", cli_c_good(), doc_str(doc_map_get(a, "id")),
	       cli_c_reset());
	print_priority(plan, pid ? pid : "");
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		print_field(fields[i], doc_map_get(a, fields[i]), 0);
	print_other_keys(
		a, action_keys, sizeof(action_keys) / sizeof(action_keys[0]),
		0);
	if (updates && updates->kind == DOC_SEQ) {
		printf("\nupdates (%zu)%s\n", updates->n,
		       updates->n ? ":" : "");
		for (i = 0; i < updates->n; i++) {
			const struct doc_node *u = updates->items[i];

			printf("  %s%s%s\n", cli_c_dim(),
			       doc_str(doc_map_get(u, "id")), cli_c_reset());
			for (j = 1;
			     j < sizeof(update_keys) / sizeof(update_keys[0]);
			     j++) {
				const struct doc_node *v;

				v = doc_map_get(u, update_keys[j]);
				if (v || j == 1)
					print_field(update_keys[j], v, 4);
			}
			print_other_keys(
				u, update_keys,
				sizeof(update_keys) / sizeof(update_keys[0]),
				4);
		}
	}
	if (conflicts && conflicts->kind == DOC_SEQ && conflicts->n) {
		printf("\n%sconflicts (%zu):%s\n", cli_c_bad(), conflicts->n,
		       cli_c_reset());
		for (i = 0; i < conflicts->n; i++) {
			const struct doc_node *c = conflicts->items[i];

			printf("  %s\n",
			       doc_str(doc_map_get(c, "field")) ?
				       doc_str(doc_map_get(c, "field")) :
				       "?");
			for (j = 0; c->kind == DOC_MAP && j < c->n; j++)
				if (strcmp(c->keys[j], "field") != 0)
					print_field(c->keys[j], c->items[j], 4);
		}
	}
}

int cmd_show(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct doc_node *action;
	struct plan *plan = NULL;
	const char *id;
	char *json = NULL;
	size_t jlen;
	int c, json_out = 0, error = 0;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json_out = 1;
			break;
		case 'h':
			print_help();
			goto done;
		default:
			error = cli_usage(
				"show", "unknown option '%s'",
				argv[optind - 1]);
			goto done;
		}
	}
	if (optind >= argc) {
		error = cli_usage(
			"show", "which action? give an ID like P1-A2");
		goto done;
	}
	if (optind + 1 < argc) {
		error = cli_usage(
			"show", "unexpected argument '%s'", argv[optind + 1]);
		goto done;
	}
	id = argv[optind];
	if (!plan_action_id_valid(id)) {
		error = cli_usage(
			"show", "'%s' is not an action ID like P1-A2", id);
		goto done;
	}
	if ((error = plandir_load(&plan, NULL)) < 0)
		goto done;
	if (!(action = plan_find_action(plan, id))) {
		error = error_set(ERROR_NOTFOUND, "no action '%s' in plan", id);
		goto done;
	}
	if (json_out) {
		if ((error = export_json_node(&json, &jlen, action)) < 0)
			goto done;
		fwrite(json, 1, jlen, stdout);
	} else {
		print_action(plan, action);
	}
done:
	free(json);
	plan_free(plan);
	return error;
}
