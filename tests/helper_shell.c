/*
 * tests/helper_shell: see helper_shell.h.
 */
#include "helper_shell.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

int helper_run(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

char *helper_capture(const char *fmt, ...)
{
	char cmd[4096], *buf = NULL, *grown;
	size_t len = 0, cap = 0, got;
	va_list ap;
	FILE *p;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (!(p = popen(cmd, "r")))
		return NULL;
	do {
		if (len + 4096 + 1 > cap) {
			cap = cap * 2 + 8192;
			if (!(grown = realloc(buf, cap))) {
				free(buf);
				pclose(p);
				return NULL;
			}
			buf = grown;
		}
		got = fread(buf + len, 1, 4096, p);
		len += got;
	} while (got > 0);
	buf[len] = '\0';
	pclose(p);
	return buf;
}
