/*
 * tests/helper_shell: run shell commands (stock git, mostly) from the
 * cmocka tests.
 */
#ifndef PLANSYNC_HELPER_SHELL_H
#define PLANSYNC_HELPER_SHELL_H

#include "core/error.h"

/* system() of the formatted command: its wait status. */
int helper_run(const char *fmt, ...) ERROR_PRINTF(1, 2);

/* The formatted command's standard output (malloc'd, NUL-terminated), or
 * NULL if it could not be run or memory ran out. */
char *helper_capture(const char *fmt, ...) ERROR_PRINTF(1, 2);

#endif
