/*
 * cli/cmd.h: the command table's types and the helpers every command uses.
 *
 * A command is `int cmd_<verb>(int argc, char **argv)`: argv[0] is the
 * command name, options follow.  It parses them with getopt_long (reset
 * optind = 0 first, as cli_getopt_reset() does), prints its help to stdout
 * and returns 0 for --help, and returns 0 or a negative ERROR_* code from
 * core/error.h with the message set (main prints "plansync: <message>" and
 * maps the code to the exit status of SPEC.md 5).  A usage mistake returns
 * cli_usage(), which sets ERROR_USAGE (exit 2).
 */
#ifndef PLANSYNC_CMD_H
#define PLANSYNC_CMD_H

#include <stdio.h>

#include "core/error.h"

struct key;

enum cmd_flags {
	CMD_NONE = 0,
	CMD_HIDDEN = 1 << 0, /* not listed by `plansync help` */
	/*
	 * May load the signing key, so may read PLANSYNC_PASSPHRASE (the key
	 * module forgets it once the key is open).  main forgets it before
	 * any other command runs, so that nothing those start (git's
	 * credential helpers, ssh) inherits it.
	 */
	CMD_NEED_KEY = 1 << 1,
};

struct cmd_spec {
	const char *name;
	int (*fn)(int argc, char **argv);
	unsigned flags;
	const char *summary;
};

/* Commands, one per cli/cmd_<verb>.c (keep in table order). */
int cmd_action(int argc, char **argv);
int cmd_blame(int argc, char **argv);
int cmd_clone(int argc, char **argv);
int cmd_commit(int argc, char **argv);
int cmd_conflicts(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_edit(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_fetch(int argc, char **argv);
int cmd_help(int argc, char **argv);
int cmd_key(int argc, char **argv);
int cmd_hook(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_log(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_merge_driver(int argc, char **argv);
int cmd_partner(int argc, char **argv);
int cmd_push(int argc, char **argv);
int cmd_remote(int argc, char **argv);
int cmd_resolve(int argc, char **argv);
int cmd_set(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_sync(int argc, char **argv);
int cmd_update(int argc, char **argv);
int cmd_verify(int argc, char **argv);

/* The table, NULL-terminated (cli/main.c). */
extern const struct cmd_spec cli_commands[];

/* Reset getopt before a command parses its options. */
void cli_getopt_reset(void);

/*
 * Record a usage error: "CMD: message" plus a hint to run CMD --help.
 * Returns ERROR_USAGE.
 */
int cli_usage(const char *cmd, const char *fmt, ...) ERROR_PRINTF(2, 3);

/* Non-zero when stdout may be coloured (a terminal and NO_COLOR unset). */
int cli_color(void);

/* ANSI colour wrappers: "" when cli_color() is false. */
const char *cli_c_good(void);
const char *cli_c_bad(void);
const char *cli_c_dim(void);
const char *cli_c_reset(void);

/*
 * Load the signer's key from key_home(), asking for a passphrase when the
 * key is sealed (PLANSYNC_PASSPHRASE, else the terminal).
 */
int cli_load_key(struct key **out);

/* Write s to f as a JSON string literal (quotes and escapes included). */
void cli_json_string(FILE *f, const char *s);

#endif
