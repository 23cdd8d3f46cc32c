/*
 * cli/cmd_commit.c: `plansync commit [-m MSG]`, sign edits made by hand.
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
	printf("usage: plansync commit [-m MSG]\n"
	       "\n"
	       "Validate the plan files changed by hand in the work tree "
	       "(added, modified or\n"
	       "deleted, against HEAD), write them back in canonical form and "
	       "make one signed\n"
	       "commit.  Refused, with nothing changed, when any changed file "
	       "is invalid, a\n"
	       "symlink, outside the plan layout (plan.yaml, partners.yaml, "
	       ".gitattributes,\n"
	       "actions/P<n>/P<n>-A<m>.yaml), deletes plan.yaml or "
	       "partners.yaml, adds an\n"
	       "action to a priority plan.yaml does not list, or changes "
	       "partners.yaml\n"
	       "without a coordinator's key.\n"
	       "\n"
	       "  -m, --message MSG  the commit message (default: the fields "
	       "changed, per\n"
	       "                     action: \"P1-A1: status in-progress -> "
	       "done\")\n");
}

struct pending {
	char *path;
	char *text; /* canonical bytes; NULL to delete */
	size_t len;
	char *line; /* its line of the message */
};

/* Priority IDs of a checked plan.yaml tree (borrowed strings). */
static size_t
priorities(const char **out, size_t max, const struct doc_node *plan)
{
	const struct doc_node *seq = doc_map_get(plan, "priorities");
	size_t i, n = 0;

	for (i = 0; seq && seq->kind == DOC_SEQ && i < seq->n && n < max; i++)
		if (doc_str(doc_map_get(seq->items[i], "id")))
			out[n++] = doc_str(doc_map_get(seq->items[i], "id"));
	return n;
}

static int listed(const char *const *v, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return 1;
	return 0;
}

static char *dup_printf(const char *fmt, const char *a, const char *b)
{
	size_t n = strlen(fmt) + strlen(a) + strlen(b) + 1;
	char *p = malloc(n);

	if (p)
		snprintf(p, n, fmt, a, b);
	return p;
}

/* Top-level keys that differ between two maps, as "a, b". */
static char *changed_keys(const struct doc_node *a, const struct doc_node *b)
{
	char buf[512] = "";
	size_t i, n = 0;
	const struct doc_node *m[2] = { a, b };
	int side;

	for (side = 0; side < 2; side++)
		for (i = 0; m[side] && i < m[side]->n; i++) {
			const char *k = m[side]->keys[i];
			const struct doc_node *o =
				m[!side] ? doc_map_get(m[!side], k) : NULL;

			if (side == 1 && o)
				continue; /* compared from side 0 */
			if (o && doc_equal(m[side]->items[i], o))
				continue;
			if (strstr(buf, k))
				continue;
			n += (size_t)snprintf(
				buf + n, n < sizeof(buf) ? sizeof(buf) - n : 0,
				"%s%s", n ? ", " : "", k);
			if (n >= sizeof(buf))
				break;
		}
	return dup_printf("%s%s", buf, " changed");
}

/* "add a@x, revoke b@y, c@z editor -> coordinator" between two versions. */
static char *
partners_changes(const struct doc_node *a, const struct doc_node *b)
{
	struct plan_partner p, q;
	char buf[512] = "";
	size_t i, n = 0, na = a ? plan_partner_count(a) : 0,
		  nb = b ? plan_partner_count(b) : 0;

#define ADD(...)                                                        \
	do {                                                            \
		if (n < sizeof(buf))                                    \
			n += (size_t)snprintf(                          \
				buf + n, sizeof(buf) - n, __VA_ARGS__); \
	} while (0)
	for (i = 0; i < nb; i++) {
		plan_partner_at(&q, b, i);
		if (!q.email)
			continue;
		if (!a || plan_partner_by_email(&p, a, q.email) < 0) {
			ADD("%sadd %s", n ? ", " : "", q.email);
			continue;
		}
		if (q.revoked != p.revoked)
			ADD("%s%s %s", n ? ", " : "",
			    q.revoked ? "revoke" : "unrevoke", q.email);
		if (p.role && q.role && strcmp(p.role, q.role) != 0)
			ADD("%s%s %s -> %s", n ? ", " : "", q.email, p.role,
			    q.role);
		if ((p.key && q.key && strcmp(p.key, q.key) != 0) ||
		    (p.name && q.name && strcmp(p.name, q.name) != 0) ||
		    (p.organisation && q.organisation &&
		     strcmp(p.organisation, q.organisation) != 0))
			ADD("%s%s details", n ? ", " : "", q.email);
	}
	for (i = 0; i < na; i++) {
		plan_partner_at(&p, a, i);
		if (p.email &&
		    (!b || plan_partner_by_email(&q, b, p.email) < 0))
			ADD("%sremove %s", n ? ", " : "", p.email);
	}
#undef ADD
	error_clear();
	return n ? dup_printf("%s%s", buf, "") : NULL;
}

/* "P1-A3" for an action's path, else the path itself. */
static const char *short_name(const char *path)
{
	static char id[64];
	enum plan_file_kind kind;

	if (plan_path_classify(&kind, id, sizeof(id), path) == 0 &&
	    kind == PLAN_FILE_ACTION)
		return id;
	return path;
}

int cmd_commit(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "message", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct key *key = NULL;
	struct repo *repo = NULL;
	struct repo_change *ch = NULL;
	struct pending *pend = NULL;
	struct commit_file *files = NULL;
	struct doc_node *head_doc = NULL, *work_doc = NULL, *new_plan = NULL,
			*head_plan = NULL;
	const char *message = NULL, *prios[1024];
	char *head = NULL, *work = NULL, *msg = NULL, *keys = NULL;
	char **names = NULL;
	char id[64], dir[64], cid[41];
	size_t i, j, k, n = 0, np = 0, head_len, work_len, nprios, msg_len,
			nnames = 0;
	enum plan_file_kind kind;
	int c, error;

	while ((c = getopt_long(argc, argv, ":hm:", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			message = optarg;
			break;
		case 'h':
			print_help();
			return 0;
		case ':':
			return cli_usage(
				"commit", "'%s' needs a value",
				argv[optind - 1]);
		default:
			return cli_usage(
				"commit", "unknown option '%s'",
				argv[optind - 1]);
		}
	}
	if (optind != argc)
		return cli_usage(
			"commit", "unexpected argument '%s'", argv[optind]);
	if (message && !*message)
		return cli_usage("commit", "the message is empty");

	if ((error = cli_load_key(&key)) < 0 ||
	    (error = repo_open(&repo, ".", 1)) < 0 ||
	    (error = repo_changes(&ch, &n, repo)) < 0)
		goto done;
	if (!(pend = calloc(n ? n : 1, sizeof(*pend))) ||
	    !(files = calloc(n ? n : 1, sizeof(*files)))) {
		error = error_nomem();
		goto done;
	}
	for (i = 0; i < n; i++) {
		const char *path = ch[i].path;

		free(head);
		free(work);
		head = work = NULL;
		doc_free(head_doc);
		doc_free(work_doc);
		head_doc = work_doc = NULL;
		if (ch[i].kind == REPO_UNMERGED) {
			error = error_set(
				ERROR_CONFLICT,
				"'%s' has an unresolved git merge "
				"conflict; resolve it first",
				path);
			goto done;
		}
		if (strcmp(path, ".gitattributes") == 0) {
			error = error_set(
				ERROR_INVALID,
				"'.gitattributes' is written by "
				"plansync; restore it (git checkout "
				"-- .gitattributes)");
			goto done;
		}
		if (plan_path_classify(&kind, id, sizeof(id), path) < 0) {
			error = error_set(
				ERROR_INVALID,
				"'%s' is outside the plan layout; "
				"move it away or list it in "
				".gitignore",
				path);
			goto done;
		}
		if (ch[i].kind != REPO_ADDED &&
		    (error = repo_read_head(
			     &head, &head_len, repo, path, DOC_MAX_FILE)) < 0)
			goto done;
		if (head &&
		    (error = plan_parse(
			     &head_doc, kind, path, head, head_len)) < 0)
			goto done;
		if (ch[i].kind == REPO_DELETED) {
			if (kind != PLAN_FILE_ACTION) {
				error = error_set(
					ERROR_INVALID,
					"'%s' was deleted; a plan "
					"needs it (git checkout -- "
					"%s)",
					path, path);
				goto done;
			}
		} else {
			if ((error = repo_read_work(
				     &work, &work_len, repo, path,
				     DOC_MAX_FILE)) < 0 ||
			    (error = plan_parse(
				     &work_doc, kind, path, work, work_len)) <
				    0 ||
			    (error = doc_emit(
				     &pend[np].text, &pend[np].len, work_doc)) <
				    0)
				goto done;
			if (head && head_len == pend[np].len &&
			    memcmp(head, pend[np].text, head_len) == 0) {
				/* Only formatting: nothing to sign. */
				free(pend[np].text);
				pend[np].text = NULL;
				continue;
			}
		}
		if (kind == PLAN_FILE_ACTION) {
			error = edit_describe(
				&pend[np].line, id, head_doc, work_doc);
			if (error == ERROR_NOTFOUND) {
				error_clear();
				pend[np].line =
					dup_printf("%s: %s", id, "reformatted");
			} else if (error < 0) {
				goto done;
			}
		} else {
			keys = kind == PLAN_FILE_PARTNERS ?
				       partners_changes(head_doc, work_doc) :
				       changed_keys(head_doc, work_doc);
			pend[np].line = dup_printf(
				"%s: %s", path, keys ? keys : "changed");
			free(keys);
			keys = NULL;
			if (kind == PLAN_FILE_PLAN) {
				new_plan = work_doc;
				work_doc = NULL;
			}
		}
		if (!pend[np].line ||
		    !(pend[np].path = malloc(strlen(path) + 1))) {
			error = error_nomem();
			goto done;
		}
		memcpy(pend[np].path, path, strlen(path) + 1);
		np++;
	}
	if (np == 0) {
		printf("nothing to commit: the plan files match HEAD%s\n",
		       n ? " (differences in formatting only)" : "");
		goto done;
	}

	/* Actions must belong to a priority plan.yaml lists. */
	if (!new_plan &&
	    (error = edit_load_file(
		     &head_plan, repo, "plan.yaml", PLAN_FILE_PLAN)) < 0)
		goto done;
	nprios = priorities(
		prios, sizeof(prios) / sizeof(prios[0]),
		new_plan ? new_plan : head_plan);
	for (i = 0; i < np; i++) {
		if (!pend[i].text ||
		    plan_path_classify(&kind, id, sizeof(id), pend[i].path) <
			    0 ||
		    kind != PLAN_FILE_ACTION)
			continue;
		*strchr(id, '-') = '\0';
		if (!listed(prios, nprios, id)) {
			error = error_set(
				ERROR_INVALID,
				"%s: priority '%s' is not in "
				"plan.yaml",
				pend[i].path, id);
			goto done;
		}
	}
	if (new_plan) {
		/* A priority dropped from plan.yaml must have no actions left.
		 */
		if ((error = edit_load_file(
			     &head_plan, repo, "plan.yaml", PLAN_FILE_PLAN)) <
		    0)
			goto done;
		{
			const char *old[1024];
			size_t nold = priorities(old, 1024, head_plan);

			for (j = 0; j < nold; j++) {
				if (listed(prios, nprios, old[j]))
					continue;
				snprintf(
					dir, sizeof(dir), "actions/%s", old[j]);
				repo_strv_free(names, nnames);
				names = NULL;
				if ((error = repo_list_head(
					     &names, &nnames, repo, dir)) < 0)
					goto done;
				for (k = 0; k < nnames; k++) {
					char p[256];
					size_t q;
					int gone = 0;

					snprintf(
						p, sizeof(p), "%s/%s", dir,
						names[k]);
					for (q = 0; q < np; q++)
						if (!pend[q].text &&
						    strcmp(pend[q].path, p) ==
							    0)
							gone = 1;
					if (!gone) {
						error = error_set(
							ERROR_INVALID,
							"plan.yaml drops "
							"priority '%s' but "
							"'%s' is still in it",
							old[j], p);
						goto done;
					}
				}
			}
		}
	}

	/* The message: given, or one line per file. */
	if (message) {
		if (!(msg = dup_printf("%s%s", message, ""))) {
			error = error_nomem();
			goto done;
		}
	} else {
		msg_len = 64;
		for (i = 0; i < np; i++)
			msg_len +=
				strlen(pend[i].line) + strlen(pend[i].path) + 8;
		if (!(msg = malloc(msg_len))) {
			error = error_nomem();
			goto done;
		}
		if (np == 1) {
			snprintf(msg, msg_len, "%s", pend[0].line);
		} else {
			size_t m = (size_t)snprintf(
				msg, msg_len, "edit %zu files:", np);

			for (i = 0; i < np && m < msg_len; i++)
				m += (size_t)snprintf(
					msg + m, msg_len - m, "%s %s",
					i ? "," : "", short_name(pend[i].path));
			m += (size_t)snprintf(msg + m, msg_len - m, "\n");
			for (i = 0; i < np && m < msg_len; i++)
				m += (size_t)snprintf(
					msg + m, msg_len - m, "\n%s",
					pend[i].line);
		}
	}
	for (i = 0; i < np; i++) {
		files[i].path = pend[i].path;
		files[i].buf = pend[i].text;
		files[i].len = pend[i].len;
	}
	if ((error = commit_files(cid, repo, key, files, np, msg)) < 0)
		goto done;
	printf("%.*s (commit %.12s)\n", (int)strcspn(msg, "\n"), msg, cid);
done:
	for (i = 0; pend && i < n; i++) {
		free(pend[i].path);
		free(pend[i].text);
		free(pend[i].line);
	}
	free(pend);
	free(files);
	free(head);
	free(work);
	free(msg);
	repo_strv_free(names, nnames);
	doc_free(head_doc);
	doc_free(work_doc);
	doc_free(new_plan);
	doc_free(head_plan);
	repo_changes_free(ch, n);
	repo_free(repo);
	key_free(key);
	return error;
}
