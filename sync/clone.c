/*
 * sync/clone.c: a new plan repository from a remote, verified before it is
 * checked out.
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include "clone.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>

#include "core/error.h"
#include "sync/repo.h"
#include "sync/signers.h"
#include "sync/transport.h"
#include "sync/verify.h"

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

struct walk {
	git_repository *git;
	struct clone_result *r;
	const char *trust; /* without "SHA256:" */
	int has_root;
};

static int on_commit(const struct verify_result *res, void *payload)
{
	struct walk *w = payload;
	git_commit *c = NULL;
	unsigned parents;
	const char *fp;
	int rc;

	if (res->verdict != VERIFY_GOOD)
		return error_set(
			ERROR_VERIFY, "commit %.7s %s: %s", res->id,
			verify_verdict_name(res->verdict), res->reason);
	w->r->commits++;
	if ((rc = git_commit_lookup(&c, w->git, &res->commit)) < 0)
		return repo_git_error(rc, res->id);
	parents = git_commit_parentcount(c);
	git_commit_free(c);
	if (parents)
		return 0;
	fp = res->fingerprint;
	if (strncmp(fp, "SHA256:", 7) == 0)
		fp += 7;
	if (w->trust && strcmp(fp, w->trust) != 0)
		return error_set(
			ERROR_VERIFY,
			"root commit %.7s is signed by %s (%s), not by the "
			"trusted key SHA256:%s; refusing the clone",
			res->id, res->fingerprint,
			res->email ? res->email : "unknown", w->trust);
	if (!w->has_root) {
		w->has_root = 1;
		snprintf(w->r->root, sizeof(w->r->root), "%s", res->id);
		snprintf(
			w->r->root_fingerprint, sizeof(w->r->root_fingerprint),
			"%s", res->fingerprint);
		snprintf(
			w->r->root_email, sizeof(w->r->root_email), "%s",
			res->email ? res->email : "");
		snprintf(
			w->r->root_name, sizeof(w->r->root_name), "%s",
			res->name ? res->name : "");
	}
	return 0;
}

/*
 * Non-zero when the remote at url can be asked for its HEAD on a second,
 * bare connection: a local path, file://, git://, http(s)://.  ssh (and
 * scp-like "host:path") needs the credential and known_hosts checks of
 * sync/transport, so it keeps the old rule.
 */
static int can_ask_head(const char *url)
{
	static const char *const schemes[] = { "file://", "git://", "http://",
					       "https://" };
	const char *colon = strchr(url, ':'), *slash = strchr(url, '/');
	size_t i;

	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (strncmp(url, schemes[i], strlen(schemes[i])) == 0)
			return 1;
	if (strstr(url, "://"))
		return 0;
	/* scp-like: a colon before any slash. */
	return !colon || (slash && slash < colon);
}

/*
 * The branch the remote's HEAD names (libgit2's git_remote_default_branch:
 * the advertised symref, else the branch HEAD's id matches) into buf; ""
 * when the remote does not say or cannot be asked.  Never an error: the
 * branch is then picked by the old rule.  No credentials are offered and
 * TLS certificates must verify (a private https hub keeps the old rule).
 */
static void remote_head(char *buf, size_t size, git_repository *git)
{
	git_remote *remote = NULL;
	git_remote_callbacks cb;
	git_proxy_options proxy;
	git_config *cfg = NULL;
	git_buf out = { 0 };
	const char *url = NULL;

	buf[0] = '\0';
	if (git_repository_config_snapshot(&cfg, git) < 0 ||
	    git_config_get_string(
		    &url, cfg, "remote." TRANSPORT_DEFAULT_REMOTE ".url") < 0 ||
	    !can_ask_head(url) || git_remote_create_detached(&remote, url) < 0)
		goto done;
	git_remote_init_callbacks(&cb, GIT_REMOTE_CALLBACKS_VERSION);
	git_proxy_options_init(&proxy, GIT_PROXY_OPTIONS_VERSION);
	proxy.type = GIT_PROXY_AUTO;
	if (git_remote_connect(remote, GIT_DIRECTION_FETCH, &cb, &proxy, NULL) <
		    0 ||
	    git_remote_default_branch(&out, remote) < 0)
		goto done;
	if (out.ptr && strncmp(out.ptr, "refs/heads/", 11) == 0)
		snprintf(buf, size, "%s", out.ptr + 11);
done:
	git_buf_dispose(&out);
	if (remote)
		git_remote_disconnect(remote);
	git_remote_free(remote);
	git_config_free(cfg);
	git_error_clear();
}

/*
 * The branch to check out: the one the remote's HEAD names (head, "" if
 * none), else the only one, main, master, else the first.
 */
static const struct transport_tip *
pick_branch(const struct transport_fetch *f, const char *head)
{
	static const char *const names[] = { "main", "master" };
	size_t i, j, n = transport_fetch_count(f);

	for (i = 0; *head && i < n; i++)
		if (strcmp(transport_fetch_tip(f, i)->branch, head) == 0)
			return transport_fetch_tip(f, i);
	if (n == 1)
		return transport_fetch_tip(f, 0);
	for (j = 0; j < 2; j++)
		for (i = 0; i < n; i++)
			if (strcmp(transport_fetch_tip(f, i)->branch,
				   names[j]) == 0)
				return transport_fetch_tip(f, i);
	return n ? transport_fetch_tip(f, 0) : NULL;
}

int clone_run(
	struct clone_result *out,
	const char *url,
	const char *dir,
	const char *trust,
	const char *exe,
	const struct transport_options *opts)
{
	struct repo *repo = NULL;
	struct transport_fetch *f = NULL;
	struct verify_cache *cache = NULL;
	const struct transport_tip *tip;
	git_reference *ref = NULL;
	git_checkout_options co;
	struct clone_result r;
	struct walk w;
	struct stat st;
	git_repository *git;
	char local[TRANSPORT_REF_MAX + 16], key[TRANSPORT_REF_MAX + 16];
	char head[TRANSPORT_REF_MAX];
	git_config *cfg = NULL;
	int rc, error, existed = 0, created = 0;

	memset(&r, 0, sizeof(r));
	memset(&w, 0, sizeof(w));
	if (trust) {
		w.trust = strncmp(trust, "SHA256:", 7) == 0 ? trust + 7 : trust;
		if (!*w.trust) {
			error = error_set(
				ERROR_USAGE, "invalid fingerprint '%s'", trust);
			goto done;
		}
	}
	if (lstat(dir, &st) == 0)
		existed = 1;
	if ((error = repo_create(&repo, dir)) < 0)
		goto done;
	created = 1;
	git = repo_git(repo);
	if ((error = transport_remote_add(git, TRANSPORT_DEFAULT_REMOTE, url)) <
		    0 ||
	    (error = transport_fetch(&f, git, TRANSPORT_DEFAULT_REMOTE, opts)) <
		    0)
		goto done;
	remote_head(head, sizeof(head), git);
	if (!(tip = pick_branch(f, head))) {
		error = error_set(
			ERROR_NOTFOUND,
			"remote '%s' has no branch to clone (an empty hub? "
			"'plansync init' a plan and push it there first)",
			url);
		goto done;
	}
	snprintf(r.branch, sizeof(r.branch), "%s", tip->branch);
	snprintf(r.head, sizeof(r.head), "%s", tip->new_hex);

	/* The whole history, before anything is trusted. */
	w.git = git;
	w.r = &r;
	if ((error = verify_cache_new(&cache)) < 0 ||
	    (error = verify_range(
		     git, &tip->new_id, 1, NULL, 0, NULL, cache, on_commit,
		     &w)) < 0)
		goto done;
	if (!w.has_root) {
		error = error_set(
			ERROR_VERIFY, "'%s' has no root commit to trust",
			tip->branch);
		goto done;
	}

	/* Record, branch, check out, configure. */
	if ((error = transport_promote(git, TRANSPORT_DEFAULT_REMOTE, tip)) < 0)
		goto done;
	snprintf(local, sizeof(local), "refs/heads/%s", tip->branch);
	if ((rc = git_reference_create(
		     &ref, git, local, &tip->new_id, 0, "plansync: clone")) <
		    0 ||
	    (rc = git_repository_set_head(git, local)) < 0) {
		error = repo_git_error(rc, local);
		goto done;
	}
	/* The upstream for stock git (set directly: libgit2 1.5.1's
	 * git_branch_set_upstream goes through its leaking regex path). */
	if ((rc = git_repository_config(&cfg, git)) < 0) {
		error = repo_git_error(rc, "cannot open the configuration");
		goto done;
	}
	snprintf(key, sizeof(key), "branch.%s.remote", tip->branch);
	if ((rc = git_config_set_string(cfg, key, TRANSPORT_DEFAULT_REMOTE)) <
	    0) {
		error = repo_git_error(rc, key);
		goto done;
	}
	snprintf(key, sizeof(key), "branch.%s.merge", tip->branch);
	if ((rc = git_config_set_string(cfg, key, local)) < 0) {
		error = repo_git_error(rc, key);
		goto done;
	}
	git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
	co.checkout_strategy =
		GIT_CHECKOUT_SAFE | GIT_CHECKOUT_RECREATE_MISSING;
	if ((rc = git_checkout_head(git, &co)) < 0) {
		error = repo_git_error(rc, "cannot write the work tree");
		goto done;
	}
	if ((error = repo_configure(repo, exe)) < 0 ||
	    (error = signers_refresh(repo)) < 0)
		goto done;
	if (out)
		*out = r;
done:
	git_config_free(cfg);
	git_reference_free(ref);
	verify_cache_free(cache);
	transport_fetch_free(f);
	repo_free(repo);
	if (error < 0 && created) {
		nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
		if (existed)
			mkdir(dir, 0777);
	}
	return error;
}
