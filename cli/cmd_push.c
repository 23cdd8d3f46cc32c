/*
 * plansync push [REMOTE]: send the current branch, never forcing.
 */
#include "cmd.h"

#include <getopt.h>
#include <stdio.h>

#include "sync/repo.h"
#include "sync/transport.h"

/* The transfer progress printer (cli/cmd_fetch.c). */
void cli_transport_options(struct transport_options *o);
void cli_transport_done(void);

static void print_help(void)
{
	printf("usage: plansync push [REMOTE]\n"
	       "\n"
	       "Send the current branch to the same branch of REMOTE (default "
	       "origin), which\nmay be an empty bare repository.  Never forces: "
	       "when REMOTE has commits you\ndon't have, push refuses and asks "
	       "you to run `plansync sync` first.  On\nsuccess REMOTE/<branch> "
	       "records what was sent.  Progress goes to stderr when\nit is a "
	       "terminal.\n"
	       "\n"
	       "Exit status: 0 pushed (or up to date), 1 refused (REMOTE has "
	       "changes you\ndon't have, or it declined), 4 the remote cannot "
	       "be reached (nothing\nchanged), 5 the repository is busy.\n");
}

int cmd_push(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct transport_options to = TRANSPORT_OPTIONS_INIT;
	struct transport_pushed r;
	struct repo *repo = NULL;
	const char *remote = TRANSPORT_DEFAULT_REMOTE;
	int c, error;

	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		if (c == 'h') {
			print_help();
			return 0;
		}
		return cli_usage(
			"push", "unknown option '%s'", argv[optind - 1]);
	}
	if (argc - optind > 1)
		return cli_usage("push", "give at most one REMOTE");
	if (optind < argc)
		remote = argv[optind];
	if (transport_check_name(remote) < 0)
		return cli_usage("push", "%s", error_message());
	cli_transport_options(&to);
	if ((error = repo_open(&repo, ".", 1)) < 0)
		goto done;
	error = transport_push(&r, repo_git(repo), remote, NULL, &to);
	cli_transport_done();
	if (error < 0)
		goto done;
	if (r.up_to_date)
		printf("%s/%s: up to date\n", remote, r.branch);
	else if (r.had_old)
		printf("%s/%s: %.7s..%.7s\n", remote, r.branch, r.old_hex,
		       r.new_hex);
	else
		printf("%s/%s: new branch at %.7s\n", remote, r.branch,
		       r.new_hex);
done:
	repo_free(repo);
	return error;
}
