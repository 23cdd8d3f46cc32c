/*
 * cli/cmd_clone.c: `plansync clone URL DIR [--trust SHA256:...]`.
 */
#include "cmd.h"

#include "audit.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/key.h"
#include "sync/clone.h"
#include "sync/transport.h"

/* The transfer progress printer (cli/cmd_fetch.c). */
void cli_transport_options(struct transport_options *o);
void cli_transport_done(void);

static void print_help(void)
{
	printf("usage: plansync clone URL DIR [--trust SHA256:...]\n"
	       "\n"
	       "Copy the plan repository at URL (a path, file://, git://, "
	       "http(s)://, ssh://\n"
	       "or user@host:path) into DIR (new, or an empty folder), "
	       "verifying every\n"
	       "commit's signature and trust before anything is checked out.  "
	       "The root\n"
	       "commit's signer (the plan's first coordinator) is printed with "
	       "its key's\n"
	       "fingerprint: check it with them.  --trust pins it: a plan whose "
	       "root was\n"
	       "signed by another key is refused.\n"
	       "\n"
	       "  --trust FP   the root signer's key fingerprint "
	       "(SHA256:..., as 'plansync key\n"
	       "               show' prints it)\n"
	       "\n"
	       "DIR is set up as 'plansync init' does (signature checking and "
	       "the field-by-\n"
	       "field merge driver for stock git, hooks keeping "
	       "allowed_signers current);\n"
	       "URL becomes the remote 'origin' for 'plansync sync'.  The "
	       "branch checked out\n"
	       "is the one URL's HEAD names, as git clone does (over ssh, or "
	       "when URL does\n"
	       "not say: its only branch, else main, else master).\n"
	       "\n"
	       "Exit status: 0 cloned, 1 DIR exists and is not empty (or "
	       "another failure),\n"
	       "3 a commit failed verification or the root signer is not the "
	       "trusted key,\n"
	       "4 URL cannot be reached.  On failure nothing is left in DIR.\n");
}

int cmd_clone(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "trust", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct transport_options to = TRANSPORT_OPTIONS_INIT;
	struct clone_result r;
	const char *trust = NULL, *url, *dir;
	char exe[4096];
	ssize_t n;
	int c, error;

	/* clone signs nothing: the passphrase must not reach the helpers it
	 * runs (git credential, ssh-keygen). */
	key_forget_env_passphrase();
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			trust = optarg;
			break;
		case 'h':
			print_help();
			return 0;
		case ':':
			return cli_usage(
				"clone", "'%s' needs a value",
				argv[optind - 1]);
		default:
			return cli_usage(
				"clone", "unknown option '%s'",
				argv[optind - 1]);
		}
	}
	if (argc - optind != 2)
		return cli_usage("clone", "give a URL and a DIR");
	url = argv[optind];
	dir = argv[optind + 1];
	if (trust && (strncmp(trust, "SHA256:", 7) == 0 ? !trust[7] : !*trust))
		return cli_usage("clone", "--trust needs a fingerprint");
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	cli_transport_options(&to);
	error = clone_run(&r, url, dir, trust, exe, &to);
	cli_transport_done();
	if (error < 0)
		return error;
	/* Names and the branch come from the remote: shown escaped. */
	audit_printf("cloned into '%s': branch %s", dir, r.branch);
	printf(" at %.7s, %zu commit%s verified\n", r.head, r.commits,
	       r.commits == 1 ? "" : "s");
	printf("root commit %.7s signed by ", r.root);
	audit_printf("%s <%s>\n", r.root_name, r.root_email);
	printf("  key %s\n", r.root_fingerprint);
	if (trust)
		printf("  matches the trusted key given with --trust\n");
	else
		printf("  check this fingerprint with them (trust on first "
		       "use); to pin it:\n"
		       "  plansync clone --trust %s URL DIR\n",
		       r.root_fingerprint);
	return 0;
}
