/*
 * plansync verify: signature and trust check of history (SPEC.md 3).
 */
#include "cmd.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "sync/history.h"
#include "sync/repo.h"
#include "sync/verify.h"

static void print_help(void)
{
	printf("usage: plansync verify [--all | REV] [--json]\n"
	       "\n"
	       "Check every commit reachable from REV (default HEAD), or with "
	       "--all from HEAD\nand every ref (except refs/stash and "
	       "refs/notes/), by the trust rules:\n"
	       "  - one gpgsig header holding an SSH signature (git's format) "
	       "that verifies;\n"
	       "  - the key is listed, and not revoked, in the partners.yaml "
	       "of the commit's\n    first parent (a root commit: its own "
	       "partners.yaml, and a coordinator's key);\n"
	       "  - the author email is that key's partner email;\n"
	       "  - a change to partners.yaml is signed by a coordinator.\n"
	       "\n"
	       "Each bad commit is printed as '<short id> <verdict>: <reason>', "
	       "then a summary\nline.  Exit status 3 when any commit is bad.\n"
	       "\n"
	       "  --all   every ref's history, not only REV's\n"
	       "  --json  print an array of {commit, verdict, reason, signer, "
	       "organisation,\n          fingerprint} for every commit "
	       "instead\n");
}

struct out_ctx {
	int json;
	size_t n;
};

static int print_result(const struct verify_result *r, void *payload)
{
	struct out_ctx *o = payload;

	if (o->json) {
		fputs(o->n ? ",\n  {" : "\n  {", stdout);
		fputs("\"commit\": ", stdout);
		audit_json_string(r->id);
		fputs(", \"verdict\": ", stdout);
		audit_json_string(verify_verdict_name(r->verdict));
		fputs(", \"reason\": ", stdout);
		audit_json_or_null(r->reason);
		fputs(", \"signer\": ", stdout);
		audit_json_or_null(r->email);
		fputs(", \"organisation\": ", stdout);
		audit_json_or_null(r->organisation);
		fputs(", \"fingerprint\": ", stdout);
		audit_json_or_null(r->fingerprint);
		fputs("}", stdout);
	} else if (r->verdict != VERIFY_GOOD) {
		/* A reason may quote a commit or partners.yaml: escaped. */
		printf("%s%.7s %s:%s ", cli_c_bad(), r->id,
		       verify_verdict_name(r->verdict), cli_c_reset());
		audit_put_text(r->reason);
		putchar('\n');
	}
	o->n++;
	return 0;
}

/*
 * The field-history index under .git/ is a cache that is never trusted
 * over the objects: when there is one, rebuild the history from the
 * commits and compare (exit 3 when they disagree; the index is then
 * rebuilt).  No index, nothing to check.
 */
static int check_index(void)
{
	struct repo *repo = NULL;
	char path[4096];
	size_t nodes = 0;
	int error = 0;

	if (repo_open(&repo, ".", 0) < 0) {
		error_clear(); /* bare or no work tree: verify needs neither */
		return 0;
	}
	snprintf(
		path, sizeof(path), "%s%s/index", repo_gitdir(repo),
		HISTORY_DIR);
	if (access(path, F_OK) == 0)
		error = history_index_check(&nodes, repo);
	repo_free(repo);
	return error;
}

int cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct out_ctx o = { 0, 0 };
	const char *rev = NULL;
	size_t total = 0, bad = 0;
	int c, all = 0, error;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			all = 1;
			break;
		case 'j':
			o.json = 1;
			break;
		case 'h':
			print_help();
			return 0;
		default:
			return cli_usage(
				"verify", "unknown option '%s'",
				argv[optind - 1]);
		}
	}
	if (argc - optind > 1)
		return cli_usage("verify", "only one REV may be given");
	if (argc - optind == 1)
		rev = argv[optind];
	if (all && rev)
		return cli_usage("verify", "give --all or REV, not both");
	if (o.json)
		fputs("[", stdout);
	error = verify_history(&total, &bad, ".", rev, all, print_result, &o);
	if (o.json)
		fputs(o.n ? "\n]\n" : "]\n", stdout);
	if (error < 0)
		return error;
	if (!o.json)
		printf("%zu commit%s verified, %zu bad\n", total,
		       total == 1 ? "" : "s", bad);
	if (bad)
		return error_set(
			ERROR_VERIFY, "%zu of %zu commit%s failed verification",
			bad, total, total == 1 ? "" : "s");
	return check_index();
}
