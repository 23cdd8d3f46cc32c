/*
 * sync/transport: remotes, fetch and push (libgit2 only here in sync/).
 *
 * A remote is any git repository: a local path or file:// URL (a USB stick,
 * a shared drive), git://, http(s):// (smart HTTP) or ssh:// (also scp-like
 * "user@host:path").  A hub is a bare repository; pushing into an empty one
 * works.
 *
 * Fetch is two steps so that sync can verify before anything is trusted:
 *
 *   transport_fetch    downloads every refs/heads/<b> of the remote into the
 *                      quarantine refs refs/plansync/incoming/<remote>/<b>
 *                      and reports, per branch, the remote-tracking tip we
 *                      had (refs/remotes/<remote>/<b>) and the one fetched.
 *                      A branch whose new tip does not contain the tip we
 *                      fetched before was rewritten: the whole fetch is
 *                      refused (ERROR_VERIFY, exit 3) and no ref moves.
 *   transport_promote  moves refs/remotes/<remote>/<b> to a fetched tip by
 *                      compare-and-swap, once the caller has verified it.
 *
 * Push never forces: the remote's branch must be an ancestor of ours,
 * else ERROR_GENERIC "remote has changes you don't have; run 'plansync
 * sync'" (exit 1).
 *
 * Errors: a remote that cannot be reached, refuses the connection, fails
 * authentication or breaks the transfer gives ERROR_NET (exit 4) with one
 * line naming the remote and its URL.  URLs in messages never carry
 * userinfo ("https://user:secret@host/" is shown as "https://host/"), and
 * no credential is ever printed.
 *
 * Credentials follow git's habits: for ssh, the ssh-agent (SSH_AUTH_SOCK),
 * then ~/.ssh/id_ed25519, id_ecdsa, id_rsa (unencrypted key files; use the
 * agent for keys with a passphrase); the host key must be listed in
 * ~/.ssh/known_hosts (or /etc/ssh/ssh_known_hosts), checked with
 * `ssh-keygen -F`.  For http(s), `git credential fill` (git's credential
 * helpers, or git's own prompt when interactive), `approve` after success
 * and `reject` after a refusal; at most three attempts.  https servers are
 * checked against the system's certificate authorities, or the file that
 * GIT_SSL_CAINFO or http.sslCAInfo names (as git does).
 *
 * The caller holds the repository lock (repo_open(..., lock = 1)).
 */
#ifndef PLANSYNC_TRANSPORT_H
#define PLANSYNC_TRANSPORT_H

#include <stddef.h>

#include <git2.h>

#define TRANSPORT_NAME_MAX 64 /* a remote's name: at most 63 bytes */
#define TRANSPORT_URL_MAX 8192
#define TRANSPORT_REF_MAX 256
#define TRANSPORT_INCOMING "refs/plansync/incoming/"
#define TRANSPORT_DEFAULT_REMOTE "origin"

/* ---- progress ----------------------------------------------------------- */

enum transport_phase {
	TRANSPORT_RECEIVING, /* fetch: objects received (done/total, bytes) */
	TRANSPORT_RESOLVING, /* fetch: deltas resolved (done/total) */
	TRANSPORT_PACKING, /* push: objects packed (done/total) */
	TRANSPORT_SENDING, /* push: objects sent (done/total, bytes) */
	TRANSPORT_REMOTE, /* a line of text from the remote (text, len) */
};

struct transport_progress {
	enum transport_phase phase;
	size_t done, total, bytes;
	const char *text; /* TRANSPORT_REMOTE only: not NUL-terminated */
	size_t len;
};

/* Called often during a transfer; sync/ never prints, the caller may. */
typedef void (*transport_progress_fn)(
	const struct transport_progress *progress,
	void *ctx);

/*
 * Format a progress report as one line without a newline ("receiving
 * objects:  45% (45/100), 1.2 MiB"); for TRANSPORT_REMOTE, "remote: " and
 * the text with control characters other than \r and \n dropped.
 * Returns the line's percentage (0..100; -1 when none).
 */
int transport_progress_line(
	char *buf,
	size_t size,
	const struct transport_progress *progress);

struct transport_options {
	transport_progress_fn progress; /* NULL: quiet */
	void *progress_ctx;
	/*
	 * Non-zero when a person is at a terminal: `git credential fill` may
	 * prompt.  Zero sets GIT_TERMINAL_PROMPT=0 for it.
	 */
	int interactive;
};

#define TRANSPORT_OPTIONS_INIT \
	{                      \
		NULL, NULL, 0  \
	}

/* ---- remotes ------------------------------------------------------------ */

/*
 * A remote name is 1 to 63 of [A-Za-z0-9._-], starting with a letter or a
 * digit, without "..", not ending in "." or ".lock".  ERROR_INVALID with
 * "invalid remote name 'x': reason".
 */
int transport_check_name(const char *name);

/*
 * Check a remote URL and write the form to store into out: a local path is
 * made absolute (it need not exist yet: a USB stick may be unplugged).
 * Refused with ERROR_INVALID "invalid remote URL 'u': reason": empty, a
 * leading '-', control characters, spaces outside a local path, a scheme
 * other than file, git, http, https, ssh, an empty host, a password in the
 * URL (use a credential helper), file:// with a host.
 */
int transport_check_url(char *out, size_t size, const char *url);

/*
 * Copy url into out without userinfo ("https://u:p@h/x" -> "https://h/x",
 * also for "u@h:path" scp-like ssh -> "h:path").  Never fails; truncates.
 */
void transport_url_redact(char *out, size_t size, const char *url);

/*
 * Add remote name with url (checked as above; ERROR_INVALID) fetching
 * refs/heads/ *:refs/remotes/<name>/ *.  ERROR_EXISTS if it exists.
 */
int transport_remote_add(
	struct git_repository *repo,
	const char *name,
	const char *url);

/*
 * Remove remote name, its remote-tracking refs and its quarantine refs.
 * ERROR_NOTFOUND "no remote 'name'".
 */
int transport_remote_remove(struct git_repository *repo, const char *name);

struct transport_remote {
	char *name;
	char *url; /* redacted */
};

/* Every configured remote, sorted by name.  Free with transport_remotes_free.
 */
int transport_remote_list(
	struct transport_remote **out,
	size_t *out_n,
	struct git_repository *repo);
void transport_remotes_free(struct transport_remote *remotes, size_t n);

/* ---- fetch -------------------------------------------------------------- */

/* One remote branch after a fetch: a plain value type. */
struct transport_tip {
	char branch[TRANSPORT_REF_MAX]; /* "main" */
	char tracking[TRANSPORT_REF_MAX]; /* "refs/remotes/origin/main" */
	char incoming[TRANSPORT_REF_MAX]; /* TRANSPORT_INCOMING "origin/main" */
	int has_old; /* a remote-tracking ref existed */
	git_oid old_id; /* its tip (zero when !has_old) */
	git_oid new_id; /* the fetched tip, held by `incoming` */
	char old_hex[GIT_OID_HEXSZ + 1]; /* "" when !has_old */
	char new_hex[GIT_OID_HEXSZ + 1];
};

struct transport_fetch;

/*
 * Fetch every branch of remote into the quarantine refs (which mirror the
 * remote's branches: a branch the remote no longer has loses its
 * quarantine ref; remote-tracking refs are left alone).  opts may be NULL.
 * ERROR_NOTFOUND "no remote 'x'"; ERROR_NET when it cannot be reached;
 * ERROR_VERIFY "remote branch 'origin/main' was rewritten: it no longer
 * contains 1a2b3c4, fetched from it before" (no ref moved).
 */
int transport_fetch(
	struct transport_fetch **out,
	struct git_repository *repo,
	const char *remote,
	const struct transport_options *opts);

void transport_fetch_free(struct transport_fetch *fetch);

/* The remote's branches, sorted by name; tips borrowed from fetch. */
size_t transport_fetch_count(const struct transport_fetch *fetch);
const struct transport_tip *
transport_fetch_tip(const struct transport_fetch *fetch, size_t i);

/* Non-zero when tip moved (new branch, or a new tip). */
int transport_tip_changed(const struct transport_tip *tip);

/*
 * Move tip->tracking from tip->old_id (absent when !has_old) to
 * tip->new_id, refusing with ERROR_BUSY if it moved meanwhile and with
 * ERROR_VERIFY if the new tip does not contain the old one.  Does nothing
 * for an unchanged tip.  Only for tips the caller has verified.
 */
int transport_promote(
	struct git_repository *repo,
	const char *remote,
	const struct transport_tip *tip);

/* ---- push --------------------------------------------------------------- */

struct transport_pushed {
	char branch[TRANSPORT_REF_MAX]; /* "main" */
	int had_old; /* the remote had the branch */
	char old_hex[GIT_OID_HEXSZ + 1]; /* its tip before ("" if none) */
	char new_hex[GIT_OID_HEXSZ + 1]; /* our tip, now the remote's */
	int up_to_date; /* nothing to send */
};

/*
 * Push refs/heads/<branch> (NULL: HEAD's branch) to the same branch of
 * remote, never forcing; on success refs/remotes/<remote>/<branch> is set
 * to what the remote now has.  out may be NULL.  ERROR_GENERIC "remote
 * 'origin' has changes to 'main' you don't have; run 'plansync sync'" for
 * a non-fast-forward, ERROR_GENERIC naming the remote's reason for another
 * rejection, ERROR_NET when it cannot be reached.
 */
int transport_push(
	struct transport_pushed *out,
	struct git_repository *repo,
	const char *remote,
	const char *branch,
	const struct transport_options *opts);

#endif
