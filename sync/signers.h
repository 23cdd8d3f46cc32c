/*
 * sync/signers: the allowed_signers file stock git verifies with.
 *
 * .git/plansync/allowed_signers holds one line per partner of HEAD's
 * partners.yaml that is not revoked:
 *     email namespaces="git" ssh-ed25519 AAAA...
 * gpg.ssh.allowedSignersFile points at it (sync/repo repo_configure), so
 * `git verify-commit` and `git log --show-signature` work in a plan
 * repository.  plansync rewrites it after each of its commits, and the
 * hooks repo_configure installs rewrite it when stock git moves HEAD.
 */
#ifndef PLANSYNC_SIGNERS_H
#define PLANSYNC_SIGNERS_H

#include <stddef.h>

struct doc_node;
struct repo;

/* The file's text for a checked partners.yaml tree (NULL: no partners). */
int signers_render(
	char **out,
	size_t *out_len,
	const struct doc_node *partners);

/*
 * Rewrite the repository's allowed_signers from HEAD's partners.yaml
 * (atomically; left alone when it already says the same).
 */
int signers_refresh(struct repo *repo);

#endif
