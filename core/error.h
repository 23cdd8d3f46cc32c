/*
 * core/error: the one error convention.
 *
 * A fallible function returns 0 on success or a negative ERROR_* code.  The
 * message is set once, where the problem is found, with error_set(), and the
 * callers pass the code up unchanged.  cli/ maps codes to exit statuses.
 */
#ifndef PLANSYNC_ERROR_H
#define PLANSYNC_ERROR_H

enum error_code {
	ERROR_OK = 0,
	ERROR_GENERIC = -1, /* any other failure: exit 1 */
	ERROR_NOTFOUND = -2, /* no such action, field, file, ref: exit 1 */
	ERROR_VERIFY = -3, /* signature or trust refused: exit 3 */
	ERROR_CONFLICT = -4, /* merge conflict (internal; never fatal) */
	ERROR_EXISTS = -5, /* would overwrite something: exit 1 */
	ERROR_USAGE = -6, /* bad arguments: exit 2 */
	ERROR_INVALID = -7, /* invalid input data (YAML, schema): exit 1 */
	ERROR_NET = -8, /* remote unreachable, transport failure: exit 4 */
	ERROR_BUSY = -9, /* repository locked by another plansync: exit 5 */
	ERROR_NOMEM = -10, /* out of memory: exit 1 */
};

#if defined(__GNUC__)
#define ERROR_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define ERROR_PRINTF(a, b)
#endif

/* Record `code` and the formatted message; returns `code`. */
int error_set(int code, const char *fmt, ...) ERROR_PRINTF(2, 3);

/* Record an out-of-memory error; returns ERROR_NOMEM. */
int error_nomem(void);

/* The last message set ("" if none) and its code. */
const char *error_message(void);
int error_last(void);

void error_clear(void);

#endif
