/*
 * sync/sync.c: the fetch-verify-merge-push loop and crash recovery.
 */
#include "sync.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "sync/repo.h"

/* ---- the loop ------------------------------------------------------------ */

static void
emit(sync_event_fn fn,
     void *ctx,
     enum sync_event_kind kind,
     int round,
     const char *remote,
     const struct transport_tip *tip,
     const struct syncmerge_report *merge,
     const struct transport_pushed *pushed)
{
	struct sync_event ev;

	if (!fn)
		return;
	ev.kind = kind;
	ev.round = round;
	ev.remote = remote;
	ev.tip = tip;
	ev.merge = merge;
	ev.pushed = pushed;
	fn(&ev, ctx);
}

static const struct transport_tip *
find_tip(const struct transport_fetch *f, const char *branch)
{
	const struct transport_tip *t;
	size_t i;

	for (i = 0; i < transport_fetch_count(f); i++) {
		t = transport_fetch_tip(f, i);
		if (strcmp(t->branch, branch) == 0)
			return t;
	}
	return NULL;
}

int sync_run(
	struct sync_result *out,
	struct repo *repo,
	const struct key *key,
	const char *remote,
	const struct transport_options *opts,
	sync_event_fn on_event,
	void *ctx)
{
	git_repository *git = repo_git(repo);
	struct transport_fetch *f = NULL;
	struct syncmerge_report mr = SYNCMERGE_REPORT_INIT;
	struct transport_pushed pushed;
	struct sync_result r;
	struct repo_head head;
	const struct transport_tip *tip;
	char branch[TRANSPORT_REF_MAX], label[TRANSPORT_REF_MAX * 2];
	char pusherr[1024];
	git_oid merged_tip;
	int round, has_merged_tip = 0, pushcode = 0, error;

	memset(&r, 0, sizeof(r));
	if ((error = transport_check_name(remote)) < 0 ||
	    (error = repo_head(&head, repo)) < 0)
		goto done;
	if (head.detached) {
		error = error_set(
			ERROR_GENERIC,
			"HEAD is detached; check out a branch to sync");
		goto done;
	}
	if (head.unborn) {
		error = error_set(
			ERROR_GENERIC,
			"nothing to sync: branch '%s' has no commits",
			head.branch);
		goto done;
	}
	snprintf(branch, sizeof(branch), "%s", head.branch);
	snprintf(label, sizeof(label), "%s/%s", remote, branch);

	for (round = 1;; round++) {
		r.rounds = round;
		transport_fetch_free(f);
		f = NULL;
		if ((error = transport_fetch(&f, git, remote, opts)) < 0)
			goto done;
		tip = find_tip(f, branch);
		if (pushcode) {
			/* The push was refused: go again only if it moved. */
			if (!tip ||
			    (has_merged_tip &&
			     git_oid_equal(&tip->new_id, &merged_tip))) {
				error = error_set(pushcode, "%s", pusherr);
				goto done;
			}
			emit(on_event, ctx, SYNC_RETRY, round, remote, tip,
			     NULL, NULL);
			pushcode = 0;
		}
		emit(on_event, ctx, SYNC_FETCHED, round, remote, tip, NULL,
		     NULL);
		has_merged_tip = 0;
		if (tip) {
			syncmerge_report_release(&mr);
			memset(&mr, 0, sizeof(mr));
			error = syncmerge_commit(
				&mr, repo, key, &tip->new_id, label);
			if (error < 0)
				goto done;
			r.verified += mr.verified;
			if (mr.kind == SYNCMERGE_MERGED) {
				r.merges++;
				r.conflicts += mr.stats.nconflicts;
			} else if (mr.kind == SYNCMERGE_FAST_FORWARD) {
				r.fast_forwards++;
			}
			emit(on_event, ctx, SYNC_MERGED, round, remote, tip,
			     &mr, NULL);
			if ((error = transport_promote(git, remote, tip)) < 0)
				goto done;
			merged_tip = tip->new_id;
			has_merged_tip = 1;
		}
		error = transport_push(&pushed, git, remote, branch, opts);
		if (error == 0) {
			r.pushed = !pushed.up_to_date;
			emit(on_event, ctx, SYNC_PUSHED, round, remote, tip,
			     NULL, &pushed);
			break;
		}
		/*
		 * A refusal (not the network): if the remote moved since our
		 * fetch, the next round merges what it gained.
		 */
		if (error != ERROR_GENERIC || round >= SYNC_MAX_ROUNDS)
			goto done;
		pushcode = error;
		snprintf(pusherr, sizeof(pusherr), "%s", error_message());
		error_clear();
	}
	if ((error = repo_head(&head, repo)) < 0)
		goto done;
	snprintf(r.head, sizeof(r.head), "%s", head.id);
	if (out)
		*out = r;
done:
	syncmerge_report_release(&mr);
	transport_fetch_free(f);
	return error;
}

/* ---- recovery ------------------------------------------------------------ */

/* s starts with dir (given with a final '/'), or equals it without. */
static int under(const char *s, const char *dir)
{
	size_t n = strlen(dir);

	if (n && dir[n - 1] == '/')
		n--;
	return strncmp(s, dir, n) == 0 && (s[n] == '\0' || s[n] == '/');
}

/* A *.lock file of the git dir arg, but plansync's own lock. */
static int is_git_lock(const char *path, void *arg)
{
	size_t len = strlen(path);

	return len > 5 && strcmp(path + len - 5, ".lock") == 0 &&
	       under(path, arg) && !strstr(path, "/" REPO_LOCK_FILE);
}

/*
 * Non-zero when a process other than us may be writing the repository: a
 * git process working in it, or any process holding a *.lock file of its
 * git dir open.
 */
static int someone_writing(struct repo *repo)
{
	DIR *proc = NULL;
	struct dirent *e;
	char path[512], link[4096], comm[64];
	const char *gitdir = repo_gitdir(repo), *workdir = repo_workdir(repo);
	long self = (long)getpid(), pid;
	ssize_t n;
	FILE *fp;
	char *end;
	int busy = 0;

	if (!(proc = opendir("/proc")))
		return 1; /* cannot tell: assume someone is */
	while (!busy && (e = readdir(proc))) {
		pid = strtol(e->d_name, &end, 10);
		if (*end || pid <= 0 || pid == self)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
		comm[0] = '\0';
		if ((fp = fopen(path, "r"))) {
			if (!fgets(comm, sizeof(comm), fp))
				comm[0] = '\0';
			fclose(fp);
		}
		if (strncmp(comm, "git", 3) != 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/cwd", pid);
		n = readlink(path, link, sizeof(link) - 1);
		if (n > 0) {
			link[n] = '\0';
			busy = under(link, workdir) || under(link, gitdir);
		}
	}
	closedir(proc);
	return busy ||
	       fsutil_open_elsewhere(is_git_lock, (void *)(uintptr_t)gitdir);
}

/* ".NAME.1a2b3c4d.tmp", as core/fsutil names its temporary files. */
static int is_fsutil_temp(const char *name)
{
	size_t n = strlen(name), i;

	if (n < 15 || name[0] != '.' || strcmp(name + n - 4, ".tmp") != 0 ||
	    name[n - 13] != '.')
		return 0;
	for (i = n - 12; i < n - 4; i++)
		if (!((name[i] >= '0' && name[i] <= '9') ||
		      (name[i] >= 'a' && name[i] <= 'f')))
			return 0;
	return 1;
}

struct found {
	char **v;
	size_t n, cap;
};

static int found_add(struct found *f, const char *path)
{
	size_t len = strlen(path);
	char **v;

	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 8;
		if (!(v = realloc(f->v, f->cap * sizeof(*v))))
			return error_nomem();
		f->v = v;
	}
	if (!(f->v[f->n] = malloc(len + 1)))
		return error_nomem();
	memcpy(f->v[f->n], path, len + 1);
	f->n++;
	return 0;
}

/*
 * Collect in dir the files that match: *.lock (locks) or fsutil temporary
 * names (temps); recurse into sub-folders when depth > 0.
 */
static int
scan(struct found *f, const char *dir, int locks, int temps, int depth)
{
	DIR *d;
	struct dirent *e;
	struct stat st;
	char path[4096];
	size_t n;
	int error = 0;

	if (!(d = opendir(dir)))
		return 0;
	while (error == 0 && (e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if ((size_t)snprintf(
			    path, sizeof(path), "%s/%s", dir, e->d_name) >=
		    sizeof(path))
			continue;
		if (lstat(path, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			if (depth > 0 && strcmp(e->d_name, ".git") != 0)
				error = scan(f, path, locks, temps, depth - 1);
			continue;
		}
		if (!S_ISREG(st.st_mode))
			continue;
		n = strlen(e->d_name);
		if (locks && n > 5 && strcmp(e->d_name + n - 5, ".lock") == 0 &&
		    strcmp(e->d_name, REPO_LOCK_FILE) != 0)
			error = found_add(f, path);
		else if (temps && is_fsutil_temp(e->d_name))
			error = found_add(f, path);
	}
	closedir(d);
	return error;
}

#define FINISH_ENTRIES 16 /* reflog entries looked back over */

static int seen_has(const struct found *seen, const char *path)
{
	size_t i;

	for (i = 0; i < seen->n; i++)
		if (strcmp(seen->v[i], path) == 0)
			return 1;
	return 0;
}

/*
 * One reflog entry old -> new of HEAD's branch: bring each file it changed
 * (and no later entry did: `seen`) up to HEAD where the index still has
 * old's blob; see finish_checkout.
 */
static int finish_entry(
	int *changed,
	struct repo *repo,
	git_index *index,
	git_tree *head_tree,
	const git_oid *old_id,
	const git_oid *new_id,
	struct found *seen)
{
	git_repository *git = repo_git(repo);
	git_commit *oc = NULL, *nc = NULL;
	git_tree *ot = NULL, *nt = NULL;
	git_diff *diff = NULL;
	git_blob *blob = NULL;
	git_tree_entry *he = NULL;
	const git_index_entry *ie;
	const git_diff_delta *dd;
	git_oid work_id;
	char full[4096];
	char *buf = NULL;
	size_t len, i, n;
	int rc, error = 0, work_state;

	if (git_oid_is_zero(old_id) ||
	    git_commit_lookup(&oc, git, old_id) < 0 ||
	    git_commit_lookup(&nc, git, new_id) < 0 ||
	    git_commit_tree(&ot, oc) < 0 || git_commit_tree(&nt, nc) < 0)
		goto done; /* a tip we no longer have: nothing to do */
	if ((rc = git_diff_tree_to_tree(&diff, git, ot, nt, NULL)) < 0) {
		error = repo_git_error(rc, "cannot check the work tree");
		goto done;
	}
	n = git_diff_num_deltas(diff);
	for (i = 0; i < n; i++) {
		dd = git_diff_get_delta(diff, i);
		const char *path = dd->new_file.path ? dd->new_file.path :
						       dd->old_file.path;
		const git_oid *ob = &dd->old_file.id, *nb = &dd->new_file.id;
		int is_new_absent = git_oid_is_zero(nb), in_head;

		if (seen_has(seen, path))
			continue; /* a later entry decided it */
		if ((error = found_add(seen, path)) < 0)
			goto done;
		/* HEAD must still hold what this entry wrote. */
		git_tree_entry_free(he);
		he = NULL;
		in_head = git_tree_entry_bypath(&he, head_tree, path) == 0;
		if (is_new_absent ?
			    in_head :
			    !in_head ||
				    !git_oid_equal(git_tree_entry_id(he), nb))
			continue;
		ie = git_index_get_bypath(index, path, 0);
		if (ie ? git_oid_equal(&ie->id, nb) : is_new_absent)
			continue; /* the index has it */
		if (ie ? !git_oid_equal(&ie->id, ob) : !git_oid_is_zero(ob))
			continue; /* staged by someone: theirs */
		if ((error = repo_work_path(full, sizeof(full), repo, path)) <
		    0)
			goto done;
		free(buf);
		buf = NULL;
		/* 0 missing, 1 old's bytes, 2 new's bytes, 3 other */
		error = fsutil_read_file(&buf, &len, full, 64 << 20);
		if (error == ERROR_NOTFOUND) {
			error_clear();
			error = 0;
			work_state = 0;
		} else if (error < 0) {
			error_clear();
			error = 0;
			continue;
		} else if (
			git_odb_hash(&work_id, buf, len, GIT_OBJECT_BLOB) < 0) {
			continue;
		} else {
			work_state = git_oid_equal(&work_id, ob) ? 1 :
				     git_oid_equal(&work_id, nb) ? 2 :
								   3;
		}
		if (work_state == 3 ||
		    (work_state == 0 && !git_oid_is_zero(ob) && !is_new_absent))
			continue; /* edited or removed by someone */
		if (is_new_absent) {
			if (work_state != 0 && unlink(full) < 0)
				continue;
			rc = git_index_remove_bypath(index, path);
		} else {
			if (work_state != 2) {
				char *slash = strrchr(full, '/');

				if (git_blob_lookup(&blob, git, nb) < 0)
					continue;
				*slash = '\0';
				error = fsutil_mkdirs(full);
				*slash = '/';
				if (error < 0 ||
				    (error = fsutil_write_atomic(
					     full, git_blob_rawcontent(blob),
					     (size_t)git_blob_rawsize(blob),
					     0644)) < 0)
					goto done;
				git_blob_free(blob);
				blob = NULL;
			}
			rc = git_index_add_bypath(index, path);
		}
		if (rc < 0) {
			error = repo_git_error(rc, path);
			goto done;
		}
		(*changed)++;
	}
done:
	free(buf);
	git_tree_entry_free(he);
	git_blob_free(blob);
	git_diff_free(diff);
	git_tree_free(ot);
	git_tree_free(nt);
	git_commit_free(oc);
	git_commit_free(nc);
	return error;
}

/*
 * Finish the work tree of commits or merges whose ref moved but whose
 * process died before every changed file and index entry was written.
 * Over the last FINISH_ENTRIES reflog entries of HEAD's branch (old ->
 * new), newest first, each file an entry changed (and no later one did)
 * whose index entry is still at old's blob while HEAD holds new's is
 * brought to new's, with the work tree file when it still holds old's
 * bytes (or is missing where old had none).  A file whose index entry or
 * bytes are neither old's nor new's holds someone's edit: left alone.
 * Only entries of commits and merges count; the look back stops at any
 * other (a reset, a checkout: they may leave the index behind on purpose).
 */
static int finish_checkout(size_t *fixed, struct repo *repo)
{
	git_repository *git = repo_git(repo);
	git_reference *head = NULL;
	git_reflog *log = NULL;
	git_commit *hc = NULL;
	git_tree *ht = NULL;
	git_index *index = NULL;
	const git_reflog_entry *e;
	const char *msg;
	struct found seen = { NULL, 0, 0 };
	size_t i, n;
	int rc, error = 0, changed = 0;

	rc = git_repository_head(&head, git);
	if (rc < 0 || !git_reference_is_branch(head) ||
	    !git_reference_target(head))
		goto done; /* unborn or detached: nothing to finish */
	if (git_reflog_read(&log, git, git_reference_name(head)) < 0 ||
	    !(n = git_reflog_entrycount(log)))
		goto done;
	if (git_commit_lookup(&hc, git, git_reference_target(head)) < 0 ||
	    git_commit_tree(&ht, hc) < 0)
		goto done;
	if ((rc = git_repository_index(&index, git)) < 0 ||
	    (rc = git_index_read(index, 1)) < 0) {
		error = repo_git_error(rc, "cannot read the index");
		goto done;
	}
	for (i = 0; i < n && i < FINISH_ENTRIES; i++) {
		e = git_reflog_entry_byindex(log, i);
		msg = git_reflog_entry_message(e);
		/*
		 * Only commits and merges (plansync's and git's own words):
		 * a reset or checkout that left the index behind on purpose
		 * (git reset --soft) ends the look back.
		 */
		if (!msg || (strncmp(msg, "commit", 6) != 0 &&
			     strncmp(msg, "merge ", 6) != 0))
			break;
		if ((error = finish_entry(
			     &changed, repo, index, ht,
			     git_reflog_entry_id_old(e),
			     git_reflog_entry_id_new(e), &seen)) < 0)
			goto done;
	}
	if (changed && (rc = git_index_write(index)) < 0) {
		error = repo_git_error(rc, "cannot write the index");
		goto done;
	}
	if (fixed)
		*fixed += (size_t)changed;
done:
	for (i = 0; i < seen.n; i++)
		free(seen.v[i]);
	free(seen.v);
	git_index_free(index);
	git_tree_free(ht);
	git_commit_free(hc);
	git_reflog_free(log);
	git_reference_free(head);
	return error;
}

int sync_recover(size_t *out_removed, struct repo *repo)
{
	struct found f = { NULL, 0, 0 };
	char dir[4096];
	size_t i, removed = 0;
	int error = 0;

	/* Git's own lock files: at the top of the git dir and under refs/. */
	snprintf(
		dir, sizeof(dir), "%.*s", (int)strlen(repo_gitdir(repo)) - 1,
		repo_gitdir(repo));
	if ((error = scan(&f, dir, 1, 0, 0)) < 0)
		goto done;
	if ((error = repo_git_path(dir, sizeof(dir), repo, "refs")) < 0 ||
	    (error = scan(&f, dir, 1, 0, 16)) < 0)
		goto done;
	/* fsutil's temporary files: the git dir's plansync/ and the plan. */
	if ((error = repo_git_path(dir, sizeof(dir), repo, "plansync")) < 0 ||
	    (error = scan(&f, dir, 0, 1, 0)) < 0)
		goto done;
	snprintf(
		dir, sizeof(dir), "%.*s", (int)strlen(repo_workdir(repo)) - 1,
		repo_workdir(repo));
	if ((error = scan(&f, dir, 0, 1, 0)) < 0)
		goto done;
	if ((error = repo_work_path(dir, sizeof(dir), repo, "actions")) < 0 ||
	    (error = scan(&f, dir, 0, 1, 1)) < 0)
		goto done;
	if (f.n && !someone_writing(repo)) {
		for (i = 0; i < f.n; i++)
			if (unlink(f.v[i]) == 0)
				removed++;
	}
	if ((error = finish_checkout(&removed, repo)) < 0)
		goto done;
	if (out_removed)
		*out_removed = removed;
done:
	for (i = 0; i < f.n; i++)
		free(f.v[i]);
	free(f.v);
	return error;
}

/* ---- helpers ------------------------------------------------------------- */

int sync_hub_create(const char *path)
{
	git_repository *git = NULL;
	struct stat st;
	DIR *d;
	struct dirent *e;
	int rc, error = 0;

	git_libgit2_init();
	if (lstat(path, &st) == 0) {
		if (!S_ISDIR(st.st_mode) || !(d = opendir(path)))
			return error_set(
				ERROR_EXISTS, "'%s' already exists", path);
		while ((e = readdir(d)))
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
				error = error_set(
					ERROR_EXISTS,
					"'%s' already exists and is not an "
					"empty folder",
					path);
				break;
			}
		closedir(d);
		if (error < 0)
			return error;
	}
	if ((rc = git_repository_init(&git, path, 1)) < 0)
		error = repo_git_error(rc, path);
	git_repository_free(git);
	return error;
}

int sync_head_tree(char *out, const char *path)
{
	git_repository *git = NULL;
	git_object *obj = NULL;
	int rc, error = 0;

	git_libgit2_init();
	if ((rc = git_repository_open_ext(
		     &git, path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL)) < 0 ||
	    (rc = git_revparse_single(&obj, git, "HEAD^{tree}")) < 0) {
		error = repo_git_error(rc, path);
		goto done;
	}
	git_oid_tostr(out, GIT_OID_HEXSZ + 1, git_object_id(obj));
done:
	git_object_free(obj);
	git_repository_free(git);
	return error;
}
