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

/* The branch to check out: the only one, main, master, else the first. */
static const struct transport_tip *pick_branch(const struct transport_fetch *f)
{
	static const char *const names[] = { "main", "master" };
	size_t i, j, n = transport_fetch_count(f);

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
	if (!(tip = pick_branch(f))) {
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
