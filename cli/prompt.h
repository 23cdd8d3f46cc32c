/*
 * cli/prompt: passphrases for sealed keys.
 */
#ifndef PLANSYNC_PROMPT_H
#define PLANSYNC_PROMPT_H

#include <stddef.h>

/*
 * A key_passphrase_fn (core/key.h): PLANSYNC_PASSPHRASE if set, else read
 * from the terminal with echo off (asking twice when confirm is set).  With
 * neither, a clear error.
 */
int prompt_passphrase(char *buf, size_t size, int confirm, void *ctx);

#endif
