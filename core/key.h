/*
 * core/key: a person's Ed25519 signing key (SPEC.md 3).
 *
 * $PLANSYNC_HOME (default $XDG_CONFIG_HOME/plansync, else
 * ~/.config/plansync) holds `key`, the secret key (mode 0600, with the
 * name, email and organisation it was made for, optionally sealed with a
 * passphrase: Argon2id via crypto_pwhash + crypto_secretbox) and `key.pub`,
 * the OpenSSH public key line.  Secret bytes live only in sodium_malloc
 * memory and are wiped on every path.
 */
#ifndef PLANSYNC_KEY_H
#define PLANSYNC_KEY_H

#include <stddef.h>

#define KEY_PUBLIC_BYTES 32
#define KEY_FINGERPRINT_MAX 52 /* "SHA256:" + 43 + NUL, rounded */
#define KEY_LINE_MAX 512
#define KEY_BLOB_BYTES 51 /* string("ssh-ed25519") || string(pk) */
#define KEY_FIELD_MAX 256 /* name, email, org: at most 255 bytes */
#define KEY_PASSPHRASE_MAX 1024

struct key;

/*
 * Asks for a passphrase: writes a NUL-terminated string of at most size-1
 * bytes into buf (which is sodium_malloc memory).  `confirm` is non-zero
 * when a new passphrase is being chosen.  Returns 0 or an ERROR_* code.
 */
typedef int (
	*key_passphrase_fn)(char *buf, size_t size, int confirm, void *ctx);

/* The variable that supplies a passphrase without a terminal (SPEC.md 3). */
#define KEY_PASSPHRASE_ENV "PLANSYNC_PASSPHRASE"

/*
 * Wipe the value of KEY_PASSPHRASE_ENV in place and remove the variable
 * from the environment, so that no process started afterwards (an editor,
 * ssh, a helper) inherits the passphrase.  key_generate, key_import_openssh
 * and key_load call it before they return, whatever the outcome: each
 * plansync process needs the passphrase at most once.
 */
void key_forget_env_passphrase(void);

/* The key folder into buf.  ERROR_GENERIC if no variable gives one. */
int key_home(char *buf, size_t size);

/*
 * Generate a key into home (created 0700 if missing); ERROR_EXISTS if a key
 * is there.  With ask != NULL the key is sealed with the passphrase it gives.
 */
int key_generate(
	const char *home,
	const char *name,
	const char *email,
	const char *org,
	key_passphrase_fn ask,
	void *ctx);

/*
 * Import an unencrypted OpenSSH Ed25519 private key file.  name, email, org
 * may be NULL (email defaults to the key's comment; name to the email).
 * An encrypted OpenSSH key is refused with a message saying how to proceed.
 */
int key_import_openssh(
	const char *home,
	const char *file,
	const char *name,
	const char *email,
	const char *org,
	key_passphrase_fn ask,
	void *ctx);

/*
 * Load home/key.  A file group or others can read is refused; a sealed key
 * asks for its passphrase (ERROR_INVALID "wrong passphrase ..." if wrong:
 * bad input, exit 1, not a refused signature).
 */
int key_load(
	struct key **out,
	const char *home,
	key_passphrase_fn ask,
	void *ctx);

/* Wipes and frees. */
void key_free(struct key *key);

const char *key_name(const struct key *key);
const char *key_email(const struct key *key);
const char *key_org(const struct key *key); /* "" if none */
const unsigned char *key_public(const struct key *key); /* 32 bytes */

/* 64-byte Ed25519 detached signature of msg. */
int key_sign(
	unsigned char sig[64],
	const struct key *key,
	const void *msg,
	size_t len);

/* "ssh-ed25519 AAAA... comment" (comment may be NULL). */
int key_public_line(
	char *buf,
	size_t size,
	const unsigned char pk[KEY_PUBLIC_BYTES],
	const char *comment);
/* Parse an OpenSSH public key line (comment ignored); ERROR_INVALID. */
int key_parse_public_line(unsigned char pk[KEY_PUBLIC_BYTES], const char *line);
/* "SHA256:..." as ssh-keygen -l prints it. */
void key_fingerprint(
	char buf[KEY_FINGERPRINT_MAX],
	const unsigned char pk[KEY_PUBLIC_BYTES]);

/* The SSH public key blob: string("ssh-ed25519") || string(pk). */
void key_public_blob(
	unsigned char out[KEY_BLOB_BYTES],
	const unsigned char pk[KEY_PUBLIC_BYTES]);

/*
 * Read home/key.pub without any passphrase: its line (no final newline)
 * into line, its key into pk (either may be NULL).  Also checks that
 * home/key is there, safe (not a symlink, mode 0600, owned by the user),
 * well formed and holds the same public key, so `key show` reports a key
 * that key_load would refuse.
 */
int key_load_public(
	char *line,
	size_t size,
	unsigned char pk[KEY_PUBLIC_BYTES],
	const char *home);

#endif
