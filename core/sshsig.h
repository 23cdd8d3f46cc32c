/*
 * core/sshsig: git's SSH signature format (../shared/SSHSIG.md).
 *
 * Signing makes the armored SSHSIG (namespace "git", hash sha512) of a
 * commit payload; verification parses an armor strictly, rebuilds the
 * signed-data blob with namespace "git" and checks the Ed25519 signature,
 * accepting sha256 and sha512.  Splitting a raw commit into payload and
 * signature follows git, never git_commit_extract_signature.
 */
#ifndef PLANSYNC_SSHSIG_H
#define PLANSYNC_SSHSIG_H

#include <stddef.h>

#include "key.h"

/*
 * Armored signature of payload, malloc'd, NUL-terminated, WITHOUT a final
 * newline (as git_commit_create_with_signature wants it).
 */
int sshsig_sign(
	char **out,
	const struct key *key,
	const void *payload,
	size_t len);

/*
 * Verify an armored signature over payload.  On success writes the
 * signer's public key.  ERROR_VERIFY with the reason (malformed armor or
 * blob, wrong namespace, unsupported hash, bad signature).
 */
int sshsig_verify(
	unsigned char signer[KEY_PUBLIC_BYTES],
	const char *armor,
	size_t armor_len,
	const void *payload,
	size_t len);

/*
 * Split a raw commit object body (as git_odb_read gives it, without the
 * "commit <len>\0" prefix) as git does: within the header block only, a
 * "gpgsig " header and its space-prefixed continuation lines are the
 * signature (continuation prefixes removed, final newline kept); other
 * gpgsig* headers (gpgsig-sha256) and their continuations are dropped from
 * the payload; everything else is the payload.  *sig is NULL when there is
 * no gpgsig header.  ERROR_VERIFY for two gpgsig headers.  Both outputs
 * malloc'd.
 */
int sshsig_commit_split(
	char **payload,
	size_t *payload_len,
	char **sig,
	size_t *sig_len,
	const char *raw,
	size_t raw_len);

#endif
