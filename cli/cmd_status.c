/*
 * cli/cmd_status.c: `plansync status [--json]`.
 */
#include "cmd.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "core/doc.h"
#include "core/key.h"
#include "core/plan.h"
#include "sync/edit.h"
#include "sync/repo.h"

static void print_help(void)
{
	printf("usage: plansync status [--json]\n"
	       "\n"
	       "The branch; HEAD's commit, its author and whether its SSH "
	       "signature verifies\n"
	       "with a key partners.yaml lists for that author (plansync "
	       "verify checks the\n"
	       "full trust rules over history); the plan files edited by hand "
	       "and not yet\n"
	       "committed, each with whether it is valid (commit them with "
	       "plansync commit);\n"
	       "paths git left unmerged; and the conflict records in the "
	       "plan (plansync\n"
	       "conflicts lists them).\n");
}

static const char *kind_name(enum repo_change_kind k)
{
	switch (k) {
	case REPO_ADDED:
		return "added";
	case REPO_MODIFIED:
		return "modified";
	case REPO_DELETED:
		return "deleted";
	default:
		return "unmerged";
	}
}

/* NULL when the file at path is a valid plan file, else a malloc'd why. */
static char *why_invalid(struct repo *repo, const struct repo_change *c)
{
	enum plan_file_kind kind;
	struct doc_node *doc = NULL;
	char id[64], *buf = NULL, *why = NULL;
	size_t len;
	int error;

	if (c->kind == REPO_UNMERGED)
		error = error_set(ERROR_CONFLICT, "unresolved git conflict");
	else if (plan_path_classify(&kind, id, sizeof(id), c->path) < 0)
		error = error_set(ERROR_INVALID, "outside the plan layout");
	else if (c->kind == REPO_DELETED)
		error = kind == PLAN_FILE_ACTION ?
				0 :
				error_set(ERROR_INVALID, "a plan needs it");
	else if (
		(error = repo_read_work(
			 &buf, &len, repo, c->path, DOC_MAX_FILE)) == 0)
		error = plan_parse(&doc, kind, c->path, buf, len);
	if (error < 0) {
		const char *m = error_message();

		why = malloc(strlen(m) + 1);
		if (why)
			memcpy(why, m, strlen(m) + 1);
	}
	error_clear();
	doc_free(doc);
	free(buf);
	return why;
}

/* Is key the not-revoked key of email in HEAD's partners.yaml? */
static const char *signer_standing(
	struct repo *repo,
	const char *email,
	const unsigned char *signer)
{
	struct doc_node *partners = NULL;
	struct plan_partner p;
	unsigned char pk[KEY_PUBLIC_BYTES];
	const char *s = "unlisted";

	if (edit_load_file(
		    &partners, repo, "partners.yaml", PLAN_FILE_PARTNERS) ==
		    0 &&
	    plan_partner_by_email(&p, partners, email) == 0 && p.key &&
	    key_parse_public_line(pk, p.key) == 0 &&
	    memcmp(pk, signer, KEY_PUBLIC_BYTES) == 0)
		s = p.revoked ? "revoked" : "listed";
	error_clear();
	doc_free(partners);
	return s;
}

int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct repo *repo = NULL;
	struct repo_head head;
	struct repo_commit_info info;
	struct repo_change *ch = NULL;
	char **why = NULL;
	char fp[KEY_FINGERPRINT_MAX] = "", when[64] = "";
	const char *sig = "none", *standing = "";
	size_t i, n = 0, fields = 0, holders = 0, unmerged = 0, invalid = 0;
	struct tm tm;
	time_t t;
	int c, error, json = 0, have_info = 0;

	memset(&info, 0, sizeof(info));
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'j') {
			json = 1;
		} else if (c == 'h') {
			print_help();
			return 0;
		} else {
			return cli_usage(
				"status", "unknown option '%s'",
				argv[optind - 1]);
		}
	}
	if (optind != argc)
		return cli_usage(
			"status", "unexpected argument '%s'", argv[optind]);
	if ((error = repo_open(&repo, ".", 0)) < 0 ||
	    (error = repo_head(&head, repo)) < 0)
		goto done;
	if (!head.unborn) {
		if ((error = repo_commit_info(&info, repo, "HEAD")) < 0)
			goto done;
		have_info = 1;
		if (info.sig_good) {
			key_fingerprint(fp, info.signer);
			sig = "good";
			standing = signer_standing(
				repo, info.author_email, info.signer);
		} else if (info.signed_) {
			sig = "bad";
		}
		t = (time_t)info.time;
		if (gmtime_r(&t, &tm))
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm);
	}
	if ((error = repo_changes(&ch, &n, repo)) < 0 ||
	    (error = edit_count_conflicts(&fields, &holders, repo)) < 0)
		goto done;
	if (!(why = calloc(n ? n : 1, sizeof(*why)))) {
		error = error_nomem();
		goto done;
	}
	for (i = 0; i < n; i++) {
		why[i] = why_invalid(repo, &ch[i]);
		if (ch[i].kind == REPO_UNMERGED)
			unmerged++;
		if (why[i])
			invalid++;
	}

	if (json) {
		printf("{\"branch\": ");
		audit_json_string(head.detached ? "" : head.branch);
		printf(", \"detached\": %s, \"head\": ",
		       head.detached ? "true" : "false");
		if (have_info) {
			printf("{\"id\": ");
			audit_json_string(info.id);
			printf(", \"subject\": ");
			audit_json_string(info.subject);
			printf(", \"author\": ");
			audit_json_string(info.author_name);
			printf(", \"email\": ");
			audit_json_string(info.author_email);
			printf(", \"time\": %lld, \"signature\": \"%s\", "
			       "\"fingerprint\": ",
			       info.time, sig);
			audit_json_string(fp);
			printf(", \"signer\": ");
			audit_json_string(standing);
			printf("}");
		} else {
			printf("null");
		}
		printf(", \"changes\": [");
		for (i = 0; i < n; i++) {
			printf("%s{\"path\": ", i ? ", " : "");
			audit_json_string(ch[i].path);
			printf(", \"change\": \"%s\", \"valid\": %s",
			       kind_name(ch[i].kind),
			       why[i] ? "false" : "true");
			if (why[i]) {
				printf(", \"error\": ");
				audit_json_string(why[i]);
			}
			printf("}");
		}
		printf("], \"unmerged\": %zu, \"conflicts\": %zu, "
		       "\"conflicted_actions\": %zu}\n",
		       unmerged, fields, holders);
		goto done;
	}

	/*
	 * Branch, subject, author, file names and reasons come from commits
	 * and the work tree: through audit_printf/audit_put_text, never raw.
	 */
	if (head.detached)
		printf("HEAD detached at %.12s\n", head.id);
	else
		audit_printf(
			"on branch %s%s\n", head.branch,
			head.unborn ? " (no commits yet)" : "");
	if (have_info) {
		printf("HEAD %.12s ", info.id);
		audit_printf("%s\n", info.subject);
		audit_printf(
			"     by %s <%s>, %s\n", info.author_name,
			info.author_email, when);
		if (info.sig_good)
			printf("     signature %sgood%s, key %s (%s in "
			       "partners.yaml)\n",
			       cli_c_good(), cli_c_reset(), fp, standing);
		else
			printf("     signature %s%s%s\n", cli_c_bad(),
			       info.signed_ ? "does not verify" : "none",
			       cli_c_reset());
	}
	if (n == 0) {
		printf("work tree clean\n");
	} else {
		printf("%zu file%s changed by hand, not committed%s:\n", n,
		       n == 1 ? "" : "s",
		       invalid ? "" : " (plansync commit signs them)");
		for (i = 0; i < n; i++) {
			printf("  %-9s ", kind_name(ch[i].kind));
			audit_put_text(ch[i].path);
			if (why[i]) {
				printf("  %s", cli_c_bad());
				audit_put_text(why[i]);
				fputs(cli_c_reset(), stdout);
			}
			putchar('\n');
		}
	}
	if (unmerged)
		printf("%zu path%s unmerged by git\n", unmerged,
		       unmerged == 1 ? "" : "s");
	if (fields)
		printf("%zu conflict%s recorded in %zu action%s (plansync "
		       "conflicts)\n",
		       fields, fields == 1 ? "" : "s", holders,
		       holders == 1 ? "" : "s");
done:
	for (i = 0; why && i < n; i++)
		free(why[i]);
	free(why);
	repo_changes_free(ch, n);
	repo_commit_info_release(&info);
	repo_free(repo);
	return error;
}
