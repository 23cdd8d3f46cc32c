#include "error.h"

#include <stdarg.h>
#include <stdio.h>

/* Per thread: sync/verify checks signatures on worker threads. */
static _Thread_local char message[1024];
static _Thread_local int last;

int error_set(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	last = code;
	return code;
}

int error_nomem(void)
{
	return error_set(ERROR_NOMEM, "out of memory");
}

const char *error_message(void)
{
	return message;
}

int error_last(void)
{
	return last;
}

void error_clear(void)
{
	message[0] = '\0';
	last = 0;
}
