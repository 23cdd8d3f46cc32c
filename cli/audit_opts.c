/*
 * cli/audit_opts.c: options and output helpers of plansync log and blame.
 */
#include "audit_opts.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cmd.h"
#include "core/export.h"

int audit_opts_parse(
	struct audit_opts *o,
	const char *cmd,
	unsigned flags,
	void (*help)(void),
	int argc,
	char **argv)
{
	static const struct option plain[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "full", no_argument, NULL, 'f' },
		{ "no-index", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct option dates[] = {
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "full", no_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "no-index", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct option *opts = (flags & AUDIT_OPTS_DATES) ? dates : plain;
	int c;

	o->json = o->full = o->noindex = 0;
	o->since = o->until = NULL;
	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			o->since = optarg;
			break;
		case 'u':
			o->until = optarg;
			break;
		case 'f':
			o->full = 1;
			break;
		case 'j':
			o->json = 1;
			break;
		case 'n':
			o->noindex = 1;
			break;
		case 'h':
			help();
			return AUDIT_OPTS_HELP;
		case ':':
			return cli_usage(
				cmd, "option '%s' needs a value",
				argv[optind - 1]);
		default:
			return cli_usage(
				cmd, "unknown option '%s'", argv[optind - 1]);
		}
	}
	return 0;
}

void audit_format_time(
	char *buf,
	size_t size,
	long long t,
	int tz,
	enum audit_time_format format)
{
	time_t tt = (time_t)(t + (long long)tz * 60);
	struct tm tm;
	int a = tz < 0 ? -tz : tz;

	gmtime_r(&tt, &tm);
	switch (format) {
	case AUDIT_TIME_ISO:
		snprintf(
			buf, size, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d",
			tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			tm.tm_hour, tm.tm_min, tm.tm_sec, tz < 0 ? '-' : '+',
			a / 60, a % 60);
		break;
	case AUDIT_TIME_MINUTE:
		snprintf(
			buf, size, "%04d-%02d-%02d %02d:%02d %c%02d%02d",
			tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			tm.tm_hour, tm.tm_min, tz < 0 ? '-' : '+', a / 60,
			a % 60);
		break;
	case AUDIT_TIME_DAY:
		snprintf(
			buf, size, "%04d-%02d-%02d", tm.tm_year + 1900,
			tm.tm_mon + 1, tm.tm_mday);
		break;
	}
}

void audit_json_value(const struct doc_node *v)
{
	char *text = NULL;
	size_t len;

	if (!v || export_json_node(&text, &len, v) < 0) {
		fputs("null", stdout);
		free(text);
		return;
	}
	while (len && text[len - 1] == '\n')
		len--;
	fwrite(text, 1, len, stdout);
	free(text);
}

void audit_json_or_null(const char *s)
{
	if (s && *s)
		cli_json_string(stdout, s);
	else
		fputs("null", stdout);
}
