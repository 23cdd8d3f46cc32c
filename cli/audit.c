/*
 * cli/audit.c: options and output helpers of plansync log and blame
 * (and the names clone prints).
 */
#include "audit.h"

#include <getopt.h>
#include <stdarg.h>
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

/*
 * The code point of the UTF-8 sequence at s into *cp; its length, or 0
 * when s does not start a valid sequence (overlong forms, surrogates and
 * values past U+10FFFF are invalid).
 */
static size_t utf8_decode(const unsigned char *s, unsigned long *cp)
{
	unsigned long c;
	size_t n, i;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xC2 && s[0] <= 0xDF) {
		n = 2;
		c = s[0] & 0x1Fu;
	} else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
		n = 3;
		c = s[0] & 0x0Fu;
	} else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
		n = 4;
		c = s[0] & 0x07u;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3Fu);
	}
	if ((n == 3 && c < 0x800) || (n == 4 && c < 0x10000) ||
	    (c >= 0xD800 && c <= 0xDFFF) || c > 0x10FFFF)
		return 0;
	*cp = c;
	return n;
}

/* Code points a terminal or a text layout acts on instead of showing. */
static int is_control(unsigned long c)
{
	return c < 0x20 || (c >= 0x7F && c <= 0x9F) || c == 0x200E ||
	       c == 0x200F || c == 0x2028 || c == 0x2029 ||
	       (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069);
}

void audit_put_text(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned long c;
	size_t n;

	while (p && *p) {
		if (!(n = utf8_decode(p, &c))) {
			printf("\\x%02x", *p);
			p++;
			continue;
		}
		if (c == '\t' || !is_control(c))
			fwrite(p, 1, n, stdout);
		else if (c < 0x80)
			printf("\\x%02lx", c);
		else
			printf("\\u%04lx", c);
		p += n;
	}
}

void audit_printf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	for (; *fmt; fmt++) {
		if (fmt[0] == '%' && fmt[1] == 's') {
			audit_put_text(va_arg(ap, const char *));
			fmt++;
		} else {
			putchar(*fmt);
		}
	}
	va_end(ap);
}

void audit_json_string(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned long c;
	size_t n;

	putchar('"');
	while (p && *p) {
		if (!(n = utf8_decode(p, &c))) {
			fputs("\\ufffd", stdout);
			p++;
			continue;
		}
		if (c == '"')
			fputs("\\\"", stdout);
		else if (c == '\\')
			fputs("\\\\", stdout);
		else if (c == '\n')
			fputs("\\n", stdout);
		else if (c == '\r')
			fputs("\\r", stdout);
		else if (c == '\t')
			fputs("\\t", stdout);
		else if (is_control(c))
			printf("\\u%04lx", c);
		else
			fwrite(p, 1, n, stdout);
		p += n;
	}
	putchar('"');
}

void audit_json_or_null(const char *s)
{
	if (s && *s)
		audit_json_string(s);
	else
		fputs("null", stdout);
}
