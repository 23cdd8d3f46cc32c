/*
 * sync/clone: `plansync clone URL DIR [--trust FINGERPRINT]`.
 *
 * Creates DIR (new, or an empty folder) as a plan repository, adds URL as
 * remote "origin", fetches it into the quarantine refs, picks the branch
 * (the one the remote's HEAD names, as git clone does; when the remote does
 * not say, or is reached over ssh: its only branch, else "main", else
 * "master", else the first by name), verifies its whole history (sync/verify:
 * every commit, a root commit signed by a coordinator of its own
 * partners.yaml), and only then records origin/<branch>, creates the local
 * branch, checks it out and configures the repository as init does
 * (repo_configure: gpg.format=ssh, allowedSignersFile, the merge driver, the
 * hooks; allowed_signers written from partners.yaml).  The branch tracks
 * origin/<branch> for stock git.
 *
 * Trust on first use: the root commit's signer's fingerprint is returned
 * for the user to check; with `trust` (an "SHA256:..." fingerprint, the
 * "SHA256:" optional), a root signed by another key is refused
 * (ERROR_VERIFY).  On any failure nothing is left behind: a DIR clone_run
 * created is removed, an empty DIR that existed is emptied again.
 */
#ifndef PLANSYNC_CLONE_H
#define PLANSYNC_CLONE_H

#include <stddef.h>

#include "core/key.h"

struct transport_options;

struct clone_result {
	char branch[256];
	char head[41]; /* the checked-out tip */
	size_t commits; /* commits verified */
	char root[41]; /* the root commit */
	char root_fingerprint[KEY_FINGERPRINT_MAX];
	char root_email[256], root_name[256];
};

/*
 * Clone url into dir (see above); exe is the plansync binary the hooks and
 * merge driver run (NULL: "plansync" from PATH).  opts may be NULL.
 * ERROR_EXISTS for a dir that is not empty, ERROR_NET when the remote
 * cannot be reached, ERROR_VERIFY for a bad commit or a trust mismatch,
 * ERROR_NOTFOUND for a remote with no branch.
 */
int clone_run(
	struct clone_result *out,
	const char *url,
	const char *dir,
	const char *trust,
	const char *exe,
	const struct transport_options *opts);

#endif
