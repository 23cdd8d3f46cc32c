/*
 * cli/main.c: global options, the command table, exit statuses.
 */
#include "cmd.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "core/key.h"
#include "prompt.h"

#define PLANSYNC_VERSION "0.1.0"

/* The one table of commands (STYLE.md 18); keep it in alphabetical order. */
const struct cmd_spec cli_commands[] = {
	{ "action", cmd_action, CMD_NEED_KEY, "add an action to a priority" },
	{ "blame", cmd_blame, CMD_NONE, "who set each field of an action" },
	{ "clone", cmd_clone, CMD_NONE, "copy a plan repository, verified" },
	{ "commit", cmd_commit, CMD_NEED_KEY, "sign edits made by hand" },
	{ "conflicts", cmd_conflicts, CMD_NONE, "list recorded conflicts" },
	{ "demo", cmd_demo, CMD_NONE, "four partners edit offline and sync" },
	{ "edit", cmd_edit, CMD_NEED_KEY,
	  "edit an action in $EDITOR and sign it" },
	{ "export", cmd_export, CMD_NONE, "write the plan as a report" },
	{ "fetch", cmd_fetch, CMD_NONE, "download and verify a remote's work" },
	{ "help", cmd_help, CMD_NONE, "list commands, or show one's help" },
	{ "key", cmd_key, CMD_NEED_KEY, "generate, import or show your key" },
	{ "hook", cmd_hook, CMD_HIDDEN, "refresh allowed_signers" },
	{ "init", cmd_init, CMD_NEED_KEY, "create a plan repository" },
	{ "list", cmd_list, CMD_NONE, "list the actions, filtered" },
	{ "log", cmd_log, CMD_NONE, "field-level changes, who, signature" },
	{ "merge", cmd_merge, CMD_NEED_KEY,
	  "verify a ref, merge it field by field" },
	{ "merge-driver", cmd_merge_driver, CMD_NONE, "the git merge driver" },
	{ "partner", cmd_partner, CMD_NEED_KEY,
	  "add, revoke or list partners" },
	{ "push", cmd_push, CMD_NONE, "send the current branch to a remote" },
	{ "remote", cmd_remote, CMD_NONE, "add, list or remove remotes" },
	{ "resolve", cmd_resolve, CMD_NEED_KEY, "clear a recorded conflict" },
	{ "set", cmd_set, CMD_NEED_KEY, "set one field of an action" },
	{ "show", cmd_show, CMD_NONE, "show every field of one action" },
	{ "status", cmd_status, CMD_NONE, "branch, HEAD, edits not committed" },
	{ "sync", cmd_sync, CMD_NEED_KEY, "fetch, verify, merge and push" },
	{ "update", cmd_update, CMD_NEED_KEY, "add a progress update" },
	{ "verify", cmd_verify, CMD_NONE, "check the history's signatures" },
	{ NULL, NULL, 0, NULL },
};

/* SPEC.md 5: the exit statuses, mapped in this one place. */
static int exit_status(int code)
{
	switch (code) {
	case 0:
		return 0;
	case ERROR_USAGE:
		return 2;
	case ERROR_VERIFY:
		return 3;
	case ERROR_NET:
		return 4;
	case ERROR_BUSY:
		return 5;
	default:
		return 1;
	}
}

void cli_getopt_reset(void)
{
	optind = 0;
	opterr = 0;
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return error_set(
		ERROR_USAGE, "%s: %s (see 'plansync %s --help')", cmd, msg,
		cmd);
}

int cli_color(void)
{
	static int cached = -1;
	const char *nc;

	if (cached < 0) {
		nc = getenv("NO_COLOR");
		cached = isatty(STDOUT_FILENO) && !(nc && *nc);
	}
	return cached;
}

const char *cli_c_good(void)
{
	return cli_color() ? "\033[32m" : "";
}

const char *cli_c_bad(void)
{
	return cli_color() ? "\033[31m" : "";
}

const char *cli_c_dim(void)
{
	return cli_color() ? "\033[2m" : "";
}

const char *cli_c_reset(void)
{
	return cli_color() ? "\033[0m" : "";
}

int cli_load_key(struct key **out)
{
	char home[4096];
	int error;

	if ((error = key_home(home, sizeof(home))) < 0)
		return error;
	return key_load(out, home, prompt_passphrase, NULL);
}

void cli_json_string(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', f);
	for (; p && *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			if (*p < 0x20)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

static const struct cmd_spec *find_command(const char *name)
{
	const struct cmd_spec *c;

	for (c = cli_commands; c->name; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

static void print_usage(FILE *f)
{
	const struct cmd_spec *c;

	fprintf(f, "usage: plansync [-C DIR] [--version] [--help] COMMAND "
		   "[ARGS]\n\n"
		   "Keep a multi-agency action plan in git: signed, merged "
		   "field by field, audited.\n\ncommands:\n");
	for (c = cli_commands; c->name; c++)
		if (!(c->flags & CMD_HIDDEN))
			fprintf(f, "  %-14s %s\n", c->name, c->summary);
	fprintf(f, "\nRun 'plansync COMMAND --help' for a command's options. "
		   "See plansync(1).\n");
}

int cmd_help(int argc, char **argv)
{
	const struct cmd_spec *c;
	char *args[3];

	if (argc < 2) {
		print_usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		printf("usage: plansync help [COMMAND]\n\n"
		       "List the commands, or show COMMAND's help.\n");
		return 0;
	}
	if (!(c = find_command(argv[1])))
		return cli_usage("help", "unknown command '%s'", argv[1]);
	args[0] = argv[1];
	args[1] = (char *)"--help";
	args[2] = NULL;
	cli_getopt_reset();
	return c->fn(2, args);
}

int main(int argc, char **argv)
{
	const struct cmd_spec *c;
	int i = 1, error;

	if (sodium_init() < 0) {
		fprintf(stderr, "plansync: cannot initialise libsodium\n");
		return 1;
	}
	while (i < argc && argv[i][0] == '-') {
		if (strcmp(argv[i], "-C") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr,
					"plansync: -C needs a folder\n");
				return 2;
			}
			if (chdir(argv[i + 1]) < 0) {
				fprintf(stderr,
					"plansync: cannot change to '%s': "
					"%s\n",
					argv[i + 1], strerror(errno));
				return 1;
			}
			i += 2;
		} else if (strncmp(argv[i], "-C", 2) == 0) {
			if (chdir(argv[i] + 2) < 0) {
				fprintf(stderr,
					"plansync: cannot change to '%s': "
					"%s\n",
					argv[i] + 2, strerror(errno));
				return 1;
			}
			i++;
		} else if (
			strcmp(argv[i], "--help") == 0 ||
			strcmp(argv[i], "-h") == 0) {
			print_usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("plansync %s\n", PLANSYNC_VERSION);
			return 0;
		} else {
			fprintf(stderr, "plansync: unknown option '%s'\n",
				argv[i]);
			print_usage(stderr);
			return 2;
		}
	}
	if (i >= argc) {
		print_usage(stderr);
		return 2;
	}
	if (!(c = find_command(argv[i]))) {
		fprintf(stderr,
			"plansync: '%s' is not a command; see 'plansync "
			"help'\n",
			argv[i]);
		return 2;
	}
	/*
	 * SPEC.md 3: the passphrase is for the key alone; a command that
	 * loads none must not hand it to the helpers it starts.
	 */
	if (!(c->flags & CMD_NEED_KEY))
		key_forget_env_passphrase();
	error_clear();
	cli_getopt_reset();
	error = c->fn(argc - i, argv + i);
	if (error < 0) {
		fflush(stdout);
		fprintf(stderr, "plansync: %s\n",
			*error_message() ? error_message() : "failed");
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "plansync: cannot write output: %s\n",
			strerror(errno));
		return 1;
	}
	return exit_status(error);
}
