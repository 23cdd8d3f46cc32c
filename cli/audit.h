/*
 * cli/audit: what `plansync log` and `plansync blame` share: their
 * options, and the helpers that print what commits carry (status and
 * verify print authors, subjects and reasons through them too).
 *
 * Author names (and anything else read from a commit) are untrusted: stock
 * git lets anyone put ESC sequences, \r or BEL in them, which printed raw
 * would let a partner rewrite what the audit shows on a terminal.  Text
 * output goes through audit_put_text, JSON strings through
 * audit_json_string.
 */
#ifndef PLANSYNC_AUDIT_H
#define PLANSYNC_AUDIT_H

#include <stddef.h>

#include "core/error.h" /* ERROR_PRINTF */

struct doc_node;

struct audit_opts {
	int json; /* --json */
	int full; /* --full: long values untrimmed */
	int noindex; /* --no-index: walk the commits */
	const char *since, *until; /* --since D, --until D, or NULL */
};

enum audit_opts_flags {
	AUDIT_OPTS_DATES = 1 << 0, /* accept --since D and --until D */
};

#define AUDIT_OPTS_HELP 1 /* audit_opts_parse printed the help */

/*
 * Parse cmd's options from argv with getopt_long (cli_getopt_reset first):
 * --json, --full, --no-index, --help/-h, and with AUDIT_OPTS_DATES --since
 * D and --until D (not checked here).  On return optind is the first
 * operand.  Returns 0, AUDIT_OPTS_HELP after calling help(), or
 * ERROR_USAGE "CMD: unknown option '--x'" / "CMD: option '--since' needs a
 * value".
 */
int audit_opts_parse(
	struct audit_opts *o,
	const char *cmd,
	unsigned flags,
	void (*help)(void),
	int argc,
	char **argv);

enum audit_time_format {
	AUDIT_TIME_ISO, /* 2024-03-01T14:05:09+01:00 */
	AUDIT_TIME_MINUTE, /* 2024-03-01 14:05 +0100 */
	AUDIT_TIME_DAY, /* 2024-03-01 */
};

/* Author time t (seconds since the epoch) at offset tz (minutes). */
void audit_format_time(
	char *buf,
	size_t size,
	long long t,
	int tz,
	enum audit_time_format format);

/* A plan value as JSON on stdout ("null" when absent). */
void audit_json_value(const struct doc_node *v);

/*
 * s on stdout for a terminal: valid UTF-8 text and tabs as they are; C0
 * controls, DEL and bytes that are not UTF-8 as \xHH; C1 controls, bidi
 * controls and line/paragraph separators as \uXXXX.
 */
void audit_put_text(const char *s);

/*
 * fmt on stdout with every %s argument through audit_put_text (only %s
 * conversions are allowed in fmt).
 */
void audit_printf(const char *fmt, ...) ERROR_PRINTF(1, 2);

/*
 * s as a JSON string literal on stdout, valid UTF-8 whatever s holds:
 * controls (C0, DEL, C1), bidi controls and line/paragraph separators as
 * \u escapes (\n, \r, \t short), bytes that are not UTF-8 as \ufffd.
 */
void audit_json_string(const char *s);

/* audit_json_string(s), or null when s is NULL or "". */
void audit_json_or_null(const char *s);

#endif
