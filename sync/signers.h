/*
 * sync/signers: the allowed_signers file stock git verifies with.
 *
 * .git/plansync/allowed_signers holds one line per partner of HEAD's
 * partners.yaml:
 *     email namespaces="git" ssh-ed25519 AAAA...
 * and, for a partner whose key was revoked, a line limited to the time
 * the revocation was committed, so that stock git still shows the
 * commits made before it as good and refuses later ones:
 *     email namespaces="git",valid-before="20240105103000Z" ssh-ed25519 ...
 * (a key revoked since the root commit has no line).  That time comes
 * from the previous allowed_signers file when it knew the key, else from
 * a walk back along HEAD's first parents to the commit that revoked it.
 * Stock git compares it with committer times, which signers choose:
 * plansync's own verification never relies on it (SPEC.md 3).
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

/*
 * The file's text for a checked partners.yaml tree (NULL: no partners).
 * revoked_before[i] is the time (seconds since the epoch) partner i's key
 * was revoked, 0 to leave a revoked partner out; revoked_before may be
 * NULL (every revoked partner left out).
 */
int signers_render(
	char **out,
	size_t *out_len,
	const struct doc_node *partners,
	const long long *revoked_before);

/*
 * Rewrite the repository's allowed_signers from HEAD's partners.yaml
 * (atomically; left alone when it already says the same).
 */
int signers_refresh(struct repo *repo);

#endif
