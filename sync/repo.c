/*
 * sync/repo.c: opening, creating and configuring a plan repository; reading
 * files at HEAD one path at a time.
 */
#include "repo.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>

#include "core/error.h"
#include "core/doc.h"
#include "core/fsutil.h"
#include "core/sshsig.h"
#include "gitindex.h"
#include "lock.h"
#include "sync.h"
#include "signers.h"

struct repo {
	git_repository *git;
	struct lock *lock;
	char *workdir, *gitdir;
};

int repo_git_error(int code, const char *what)
{
	const git_error *e = git_error_last();
	const char *msg = e && e->message ? e->message : "unknown error";
	int mapped;

	switch (code) {
	case GIT_ENOTFOUND:
		mapped = ERROR_NOTFOUND;
		break;
	case GIT_ELOCKED:
	case GIT_EMODIFIED:
		mapped = ERROR_BUSY;
		break;
	case GIT_EEXISTS:
		mapped = ERROR_EXISTS;
		break;
	default:
		mapped = ERROR_GENERIC;
	}
	return error_set(mapped, "%s: %s", what, msg);
}

static char *dup_str(const char *s)
{
	size_t n = strlen(s);
	char *p = malloc(n + 1);

	if (p)
		memcpy(p, s, n + 1);
	return p;
}

/* Fill repo's paths and take the lock if asked. */
static int finish_open(struct repo *repo, int lock)
{
	char path[4096], what[4096], idx[4096];
	struct lock *tmp = NULL;
	const char *wd = git_repository_workdir(repo->git);
	size_t n;
	int error;

	if (!wd || git_repository_is_bare(repo->git))
		return error_set(
			ERROR_GENERIC,
			"'%s' is a bare repository; plansync "
			"needs a work tree",
			git_repository_path(repo->git));
	if (!(repo->workdir = dup_str(wd)) ||
	    !(repo->gitdir = dup_str(git_repository_path(repo->git))))
		return error_nomem();
	if (repo_git_path(path, sizeof(path), repo, REPO_LOCK_FILE) < 0)
		return ERROR_GENERIC;
	n = strlen(repo->workdir);
	snprintf(
		what, sizeof(what), "%.*s", (int)(n > 1 ? n - 1 : n),
		repo->workdir);
	if (!lock) {
		/*
		 * A reader too finishes an index a killed plansync was
		 * changing in place (libgit2 could not read it), if the lock
		 * is free this moment; else its holder will.
		 */
		if (repo_git_path(idx, sizeof(idx), repo, "index.lock") == 0 &&
		    access(idx, F_OK) == 0 &&
		    lock_acquire(&tmp, path, what, 0) == 0) {
			error = gitindex_recover(repo->gitdir);
			lock_release(tmp);
			return error;
		}
		error_clear();
		return 0;
	}
	if ((error = lock_acquire(&repo->lock, path, what, LOCK_WAIT_MS)) < 0)
		return error;
	return repo_recover(repo);
}

int repo_open(struct repo **out, const char *path, int lock)
{
	struct repo *repo = NULL;
	int error, rc;

	git_libgit2_init();
	if (!(repo = calloc(1, sizeof(*repo)))) {
		error = error_nomem();
		goto done;
	}
	rc = git_repository_open_ext(&repo->git, path, 0, NULL);
	if (rc == GIT_ENOTFOUND) {
		error = error_set(
			ERROR_NOTFOUND, "'%s' is not in a plan repository",
			path);
		goto done;
	} else if (rc < 0) {
		error = repo_git_error(rc, path);
		goto done;
	}
	if ((error = finish_open(repo, lock)) < 0)
		goto done;
	*out = repo;
	repo = NULL;
done:
	repo_free(repo);
	return error;
}

static int dir_empty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int empty = 1;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			empty = 0;
			break;
		}
	closedir(d);
	return empty;
}

int repo_create(struct repo **out, const char *dir)
{
	git_repository_init_options opts;
	struct repo *repo = NULL;
	struct stat st;
	int error, rc;

	git_libgit2_init();
	git_repository_init_options_init(
		&opts, GIT_REPOSITORY_INIT_OPTIONS_VERSION);
	if (lstat(dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode) || !dir_empty(dir)) {
			error = error_set(
				ERROR_EXISTS,
				"'%s' already exists and is not an empty "
				"folder",
				dir);
			goto done;
		}
	} else if (errno != ENOENT) {
		error = error_set(
			ERROR_GENERIC, "cannot use '%s': %s", dir,
			strerror(errno));
		goto done;
	}
	if (!(repo = calloc(1, sizeof(*repo)))) {
		error = error_nomem();
		goto done;
	}
	opts.flags = GIT_REPOSITORY_INIT_MKPATH | GIT_REPOSITORY_INIT_NO_REINIT;
	if ((rc = git_repository_init_ext(&repo->git, dir, &opts)) < 0) {
		error = repo_git_error(rc, dir);
		goto done;
	}
	if ((error = finish_open(repo, 1)) < 0)
		goto done;
	*out = repo;
	repo = NULL;
done:
	repo_free(repo);
	return error;
}

void repo_free(struct repo *repo)
{
	if (!repo)
		return;
	lock_release(repo->lock);
	git_repository_free(repo->git);
	free(repo->workdir);
	free(repo->gitdir);
	free(repo);
	git_libgit2_shutdown();
}

struct git_repository *repo_git(const struct repo *repo)
{
	return repo->git;
}

const char *repo_workdir(const struct repo *repo)
{
	return repo->workdir;
}

const char *repo_gitdir(const struct repo *repo)
{
	return repo->gitdir;
}

static int join(char *buf, size_t size, const char *base, const char *rel)
{
	int n = snprintf(buf, size, "%s%s", base, rel);

	if (n < 0 || (size_t)n >= size)
		return error_set(
			ERROR_GENERIC, "path too long: '%s%s'", base, rel);
	return 0;
}

int repo_work_path(
	char *buf,
	size_t size,
	const struct repo *repo,
	const char *rel)
{
	return join(buf, size, repo->workdir, rel);
}

int repo_git_path(
	char *buf,
	size_t size,
	const struct repo *repo,
	const char *rel)
{
	return join(buf, size, repo->gitdir, rel);
}

/* ---- configuration ------------------------------------------------- */

/* s in single quotes for sh, into buf. */
static int sh_quote(char *buf, size_t size, const char *s)
{
	size_t n = 0;

	if (size < 3)
		return ERROR_GENERIC;
	buf[n++] = '\'';
	for (; *s; s++) {
		if (*s == '\'') {
			if (n + 5 >= size)
				return error_set(
					ERROR_GENERIC, "path too long");
			memcpy(buf + n, "'\\''", 4);
			n += 4;
		} else {
			if (n + 2 >= size)
				return error_set(
					ERROR_GENERIC, "path too long");
			buf[n++] = *s;
		}
	}
	buf[n++] = '\'';
	buf[n] = '\0';
	return 0;
}

#define HOOK_MARK "# Written by plansync"

static int write_hook(struct repo *repo, const char *name, const char *qexe)
{
	char path[4096], script[8192];
	char *old = NULL;
	size_t old_len;
	int n, error;

	if ((error = repo_git_path(path, sizeof(path), repo, "hooks")) < 0 ||
	    (error = fsutil_mkdirs(path)) < 0)
		goto done;
	if ((error = repo_git_path(path, sizeof(path), repo, "hooks/")) < 0)
		goto done;
	n = snprintf(
		path + strlen(path), sizeof(path) - strlen(path), "%s", name);
	if (n < 0) {
		error = error_set(ERROR_GENERIC, "path too long");
		goto done;
	}
	error = fsutil_read_file(&old, &old_len, path, 1 << 20);
	if (error == 0 && !strstr(old, HOOK_MARK)) {
		error = error_set(
			ERROR_EXISTS,
			"hook '%s' exists; add '%s hook %s' to it by hand",
			path, qexe, name);
		goto done;
	} else if (error < 0 && error != ERROR_NOTFOUND) {
		goto done;
	}
	error_clear();
	n = snprintf(
		script, sizeof(script),
		"#!/bin/sh\n" HOOK_MARK ": git runs this after moving HEAD,\n"
		"# so that .git/" REPO_SIGNERS_FILE
		" (which git verify-commit\n"
		"# and git log --show-signature read) follows partners.yaml.\n"
		"p=%s\n"
		"[ -x \"$p\" ] || p=plansync\n"
		"if command -v \"$p\" >/dev/null 2>&1; then\n"
		"\t\"$p\" hook %s || echo \"plansync hook %s failed\" >&2\n"
		"fi\n"
		"exit 0\n",
		qexe, name, name);
	if (n < 0 || (size_t)n >= sizeof(script)) {
		error = error_set(ERROR_GENERIC, "path too long");
		goto done;
	}
	if ((error = fsutil_write_atomic(path, script, (size_t)n, 0755)) < 0)
		goto done;
done:
	free(old);
	return error;
}

int repo_configure(struct repo *repo, const char *exe)
{
	static const char *const hooks[] = { REPO_HOOKS };
	git_config *cfg = NULL, *local = NULL;
	char signers[4096], qexe[4096], driver[4200];
	size_t i;
	int rc, error = 0;

	if ((error = repo_git_path(
		     signers, sizeof(signers), repo, REPO_SIGNERS_FILE)) < 0)
		goto done;
	/* git runs the driver through sh -c: the binary that configured the
	 * repository if it is still there, else plansync from PATH (as the
	 * hooks do), so that moving or reinstalling plansync does not break
	 * stock git merges.  git sq-quotes %P; %O %A %B are temp names. */
	if (exe && *exe) {
		if ((error = sh_quote(qexe, sizeof(qexe), exe)) < 0)
			goto done;
		snprintf(
			driver, sizeof(driver),
			"p=%s; [ -x \"$p\" ] || p=plansync; "
			"exec \"$p\" merge-driver %%O %%A %%B %%P",
			qexe);
	} else {
		snprintf(qexe, sizeof(qexe), "plansync");
		snprintf(
			driver, sizeof(driver),
			"plansync merge-driver %%O %%A %%B %%P");
	}
	if ((rc = git_repository_config(&cfg, repo->git)) < 0 ||
	    (rc = git_config_open_level(&local, cfg, GIT_CONFIG_LEVEL_LOCAL)) <
		    0 ||
	    (rc = git_config_set_string(local, "gpg.format", "ssh")) < 0 ||
	    (rc = git_config_set_string(
		     local, "gpg.ssh.allowedSignersFile", signers)) < 0 ||
	    (rc = git_config_set_string(
		     local, "merge.plansync.name",
		     "plansync field-by-field merge")) < 0 ||
	    (rc = git_config_set_string(
		     local, "merge.plansync.driver", driver)) < 0) {
		error = repo_git_error(
			rc, "cannot write the repository config");
		goto done;
	}
	for (i = 0; i < sizeof(hooks) / sizeof(hooks[0]); i++)
		if ((error = write_hook(repo, hooks[i], qexe)) < 0)
			goto done;
done:
	git_config_free(local);
	git_config_free(cfg);
	return error;
}

/* ---- HEAD ------------------------------------------------------------ */

int repo_head(struct repo_head *out, struct repo *repo)
{
	git_reference *head = NULL;
	git_oid id;
	const char *target;
	int rc, error = 0;

	memset(out, 0, sizeof(*out));
	out->branch = out->refname;
	if ((rc = git_reference_lookup(&head, repo->git, "HEAD")) < 0) {
		error = repo_git_error(rc, "cannot read HEAD");
		goto done;
	}
	if (git_reference_type(head) == GIT_REFERENCE_DIRECT) {
		out->detached = 1;
		git_oid_tostr(
			out->id, sizeof(out->id), git_reference_target(head));
		goto done;
	}
	target = git_reference_symbolic_target(head);
	if (strlen(target) >= sizeof(out->refname)) {
		error = error_set(ERROR_GENERIC, "HEAD names a ref too long");
		goto done;
	}
	memcpy(out->refname, target, strlen(target) + 1);
	if (strncmp(out->refname, "refs/heads/", 11) == 0)
		out->branch = out->refname + 11;
	rc = git_reference_name_to_id(&id, repo->git, out->refname);
	if (rc == GIT_ENOTFOUND) {
		out->unborn = 1;
	} else if (rc < 0) {
		error = repo_git_error(rc, "cannot resolve HEAD");
	} else {
		git_oid_tostr(out->id, sizeof(out->id), &id);
	}
done:
	git_reference_free(head);
	return error;
}

/* HEAD's tree, or NULL (return 0) when HEAD is unborn. */
static int head_tree(git_tree **out, struct repo *repo)
{
	git_oid id;
	git_commit *commit = NULL;
	int rc, error = 0;

	*out = NULL;
	rc = git_reference_name_to_id(&id, repo->git, "HEAD");
	if (rc == GIT_ENOTFOUND)
		goto done;
	if (rc < 0 || (rc = git_commit_lookup(&commit, repo->git, &id)) < 0 ||
	    (rc = git_commit_tree(out, commit)) < 0) {
		error = repo_git_error(rc, "cannot read HEAD");
		goto done;
	}
done:
	git_commit_free(commit);
	return error;
}

int repo_read_head(
	char **out,
	size_t *out_len,
	struct repo *repo,
	const char *path,
	size_t max)
{
	git_tree *tree = NULL;
	git_tree_entry *entry = NULL;
	git_blob *blob = NULL;
	git_object_size_t size;
	char *buf = NULL;
	int rc, error;

	if ((error = head_tree(&tree, repo)) < 0)
		goto done;
	if (!tree ||
	    (rc = git_tree_entry_bypath(&entry, tree, path)) == GIT_ENOTFOUND) {
		error = error_set(ERROR_NOTFOUND, "'%s' is not in HEAD", path);
		goto done;
	} else if (rc < 0) {
		error = repo_git_error(rc, path);
		goto done;
	}
	if (git_tree_entry_filemode(entry) != GIT_FILEMODE_BLOB) {
		error = error_set(
			ERROR_INVALID, "'%s' in HEAD is not a regular file",
			path);
		goto done;
	}
	if ((rc = git_blob_lookup(&blob, repo->git, git_tree_entry_id(entry))) <
	    0) {
		error = repo_git_error(rc, path);
		goto done;
	}
	size = git_blob_rawsize(blob);
	if (size > max) {
		error = error_set(
			ERROR_INVALID, "'%s' in HEAD is too large (%llu bytes)",
			path, (unsigned long long)size);
		goto done;
	}
	if (!(buf = malloc((size_t)size + 1))) {
		error = error_nomem();
		goto done;
	}
	memcpy(buf, git_blob_rawcontent(blob), (size_t)size);
	buf[size] = '\0';
	*out = buf;
	*out_len = (size_t)size;
	buf = NULL;
done:
	free(buf);
	git_blob_free(blob);
	git_tree_entry_free(entry);
	git_tree_free(tree);
	return error;
}

void repo_strv_free(char **v, size_t n)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int repo_list_head(
	char ***out,
	size_t *out_n,
	struct repo *repo,
	const char *dir)
{
	git_tree *tree = NULL, *sub = NULL;
	git_tree_entry *entry = NULL;
	char **v = NULL;
	size_t i, n = 0, count;
	int rc, error;

	if ((error = head_tree(&tree, repo)) < 0)
		goto done;
	if (!tree ||
	    (rc = git_tree_entry_bypath(&entry, tree, dir)) == GIT_ENOTFOUND)
		goto empty;
	if (rc < 0) {
		error = repo_git_error(rc, dir);
		goto done;
	}
	if (git_tree_entry_type(entry) != GIT_OBJECT_TREE)
		goto empty;
	if ((rc = git_tree_lookup(&sub, repo->git, git_tree_entry_id(entry))) <
	    0) {
		error = repo_git_error(rc, dir);
		goto done;
	}
	count = git_tree_entrycount(sub);
	if (!(v = calloc(count ? count : 1, sizeof(*v)))) {
		error = error_nomem();
		goto done;
	}
	for (i = 0; i < count; i++, n++)
		if (!(v[i] = dup_str(git_tree_entry_name(
			      git_tree_entry_byindex(sub, i))))) {
			error = error_nomem();
			goto done;
		}
	*out = v;
	*out_n = n;
	v = NULL;
	goto done;
empty:
	if (!(*out = calloc(1, sizeof(char *)))) {
		error = error_nomem();
		goto done;
	}
	*out_n = 0;
done:
	repo_strv_free(v, n);
	git_tree_entry_free(entry);
	git_tree_free(sub);
	git_tree_free(tree);
	return error;
}

/* ERROR_INVALID when a folder on the way to rel is a symlink. */
static int check_no_symlink_dirs(struct repo *repo, const char *rel)
{
	char path[4096];
	const char *p;
	struct stat st;
	size_t base = strlen(repo->workdir);

	if (repo_work_path(path, sizeof(path), repo, rel) < 0)
		return ERROR_GENERIC;
	for (p = strchr(rel, '/'); p; p = strchr(p + 1, '/')) {
		path[base + (size_t)(p - rel)] = '\0';
		if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
			return error_set(
				ERROR_INVALID,
				"'%.*s' is a symlink; plansync "
				"refuses symlinks in the plan tree",
				(int)(p - rel), rel);
		path[base + (size_t)(p - rel)] = '/';
	}
	return 0;
}

int repo_read_work(
	char **out,
	size_t *out_len,
	struct repo *repo,
	const char *path,
	size_t max)
{
	char full[4096];
	int error;

	if ((error = check_no_symlink_dirs(repo, path)) < 0 ||
	    (error = repo_work_path(full, sizeof(full), repo, path)) < 0)
		return error;
	return fsutil_read_file(out, out_len, full, max);
}

int repo_check_unedited(struct repo *repo, const char *path)
{
	char *head = NULL, *work = NULL;
	size_t head_len = 0, work_len = 0;
	int error, same;

	error = repo_read_head(&head, &head_len, repo, path, DOC_MAX_FILE);
	if (error < 0 && error != ERROR_NOTFOUND)
		goto done;
	error = repo_read_work(&work, &work_len, repo, path, DOC_MAX_FILE);
	if (error < 0 && error != ERROR_NOTFOUND && error != ERROR_INVALID)
		goto done;
	error = 0;
	error_clear();
	same = (!head && !work) || (head && work && head_len == work_len &&
				    memcmp(head, work, head_len) == 0);
	if (!same)
		error = error_set(
			ERROR_EXISTS,
			"'%s' has edits not committed; commit them (plansync "
			"commit) or discard them (git checkout -- %s) first",
			path, path);
done:
	free(head);
	free(work);
	return error;
}

/* ---- changes in the work tree --------------------------------------- */

void repo_changes_free(struct repo_change *changes, size_t n)
{
	size_t i;

	if (!changes)
		return;
	for (i = 0; i < n; i++)
		free(changes[i].path);
	free(changes);
}

static int change_cmp(const void *a, const void *b)
{
	return strcmp(
		((const struct repo_change *)a)->path,
		((const struct repo_change *)b)->path);
}

int repo_changes(struct repo_change **out, size_t *out_n, struct repo *repo)
{
	git_status_options opts;
	git_status_list *list = NULL;
	git_tree *tree = NULL;
	git_tree_entry *entry = NULL;
	struct repo_change *v = NULL;
	const git_status_entry *s;
	const char *path;
	char full[4096];
	struct stat st;
	size_t i, n = 0, count;
	int rc, error, in_head, in_work;

	git_status_options_init(&opts, GIT_STATUS_OPTIONS_VERSION);
	opts.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
	opts.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED |
		     GIT_STATUS_OPT_RECURSE_UNTRACKED_DIRS |
		     GIT_STATUS_OPT_EXCLUDE_SUBMODULES;
	if ((error = head_tree(&tree, repo)) < 0)
		goto done;
	if ((rc = git_status_list_new(&list, repo->git, &opts)) < 0) {
		error = repo_git_error(rc, "cannot read the work tree status");
		goto done;
	}
	count = git_status_list_entrycount(list);
	if (!(v = calloc(count ? count : 1, sizeof(*v)))) {
		error = error_nomem();
		goto done;
	}
	for (i = 0; i < count; i++) {
		s = git_status_byindex(list, i);
		if (s->status == GIT_STATUS_CURRENT ||
		    (s->status & GIT_STATUS_IGNORED))
			continue;
		if (s->index_to_workdir)
			path = s->index_to_workdir->new_file.path;
		else if (s->head_to_index)
			path = s->head_to_index->new_file.path;
		else
			continue;
		in_head =
			tree && git_tree_entry_bypath(&entry, tree, path) == 0;
		git_tree_entry_free(entry);
		entry = NULL;
		if ((error = repo_work_path(full, sizeof(full), repo, path)) <
		    0)
			goto done;
		in_work = lstat(full, &st) == 0;
		if (!(v[n].path = dup_str(path))) {
			error = error_nomem();
			goto done;
		}
		if (s->status & GIT_STATUS_CONFLICTED)
			v[n].kind = REPO_UNMERGED;
		else if (in_head && in_work)
			v[n].kind = REPO_MODIFIED;
		else if (in_head)
			v[n].kind = REPO_DELETED;
		else if (in_work)
			v[n].kind = REPO_ADDED;
		else {
			free(v[n].path);
			continue; /* staged, then removed: nothing vs HEAD */
		}
		n++;
	}
	qsort(v, n, sizeof(*v), change_cmp);
	*out = v;
	*out_n = n;
	v = NULL;
done:
	repo_changes_free(v, n);
	git_status_list_free(list);
	git_tree_free(tree);
	return error;
}

/* ---- one commit ---------------------------------------------------------- */

void repo_commit_info_release(struct repo_commit_info *info)
{
	if (!info)
		return;
	free(info->author_name);
	free(info->author_email);
	free(info->subject);
	memset(info, 0, sizeof(*info));
}

int repo_commit_info(
	struct repo_commit_info *out,
	struct repo *repo,
	const char *rev)
{
	git_object *obj = NULL;
	git_commit *commit = NULL;
	git_odb *odb = NULL;
	git_odb_object *raw = NULL;
	const git_signature *author;
	const char *summary;
	char *payload = NULL, *sig = NULL;
	size_t payload_len, sig_len;
	int rc, error = 0;

	memset(out, 0, sizeof(*out));
	if ((rc = git_revparse_single(&obj, repo->git, rev)) < 0 ||
	    (rc = git_object_peel(
		     (git_object **)&commit, obj, GIT_OBJECT_COMMIT)) < 0) {
		error = repo_git_error(rc, rev);
		goto done;
	}
	git_oid_tostr(out->id, sizeof(out->id), git_commit_id(commit));
	author = git_commit_author(commit);
	summary = git_commit_summary(commit);
	out->time = (long long)author->when.time;
	if (!(out->author_name = dup_str(author->name)) ||
	    !(out->author_email = dup_str(author->email)) ||
	    !(out->subject = dup_str(summary ? summary : ""))) {
		error = error_nomem();
		goto done;
	}
	if ((rc = git_repository_odb(&odb, repo->git)) < 0 ||
	    (rc = git_odb_read(&raw, odb, git_commit_id(commit))) < 0) {
		error = repo_git_error(rc, rev);
		goto done;
	}
	if (sshsig_commit_split(
		    &payload, &payload_len, &sig, &sig_len,
		    git_odb_object_data(raw), git_odb_object_size(raw)) < 0) {
		error_clear();
		out->signed_ = 1;
		goto done;
	}
	if (sig) {
		out->signed_ = 1;
		out->sig_good = sshsig_verify(
					out->signer, sig, sig_len, payload,
					payload_len) == 0;
		error_clear();
	}
done:
	if (error < 0)
		repo_commit_info_release(out);
	free(payload);
	free(sig);
	git_odb_object_free(raw);
	git_odb_free(odb);
	git_commit_free(commit);
	git_object_free(obj);
	return error;
}

/* ---- a commit left half done ----------------------------------------------
 */

int repo_check_index_lock(struct repo *repo)
{
	char path[4096];
	struct stat st;

	if (repo_git_path(path, sizeof(path), repo, "index.lock") < 0)
		return ERROR_GENERIC;
	if (lstat(path, &st) == 0)
		return error_set(
			ERROR_BUSY,
			"'%s' exists: another git process is "
			"changing the index, or one was killed (then "
			"remove the file)",
			path);
	return 0;
}

/* Rewrite path in the work tree and index from HEAD (absent: remove). */
static int restore_path(struct repo *repo, git_index *index, const char *path)
{
	char full[4096];
	char *buf = NULL, *slash;
	size_t len;
	int rc, error;

	if ((error = repo_work_path(full, sizeof(full), repo, path)) < 0)
		return error;
	error = repo_read_head(&buf, &len, repo, path, DOC_MAX_FILE);
	if (error == ERROR_NOTFOUND) {
		error_clear();
		if (unlink(full) < 0 && errno != ENOENT)
			return error_set(
				ERROR_GENERIC, "cannot remove '%s': %s", full,
				strerror(errno));
		rc = git_index_remove_bypath(index, path);
		return rc < 0 ? repo_git_error(rc, path) : 0;
	} else if (error < 0) {
		return error;
	}
	slash = strrchr(full, '/');
	*slash = '\0';
	error = fsutil_mkdirs(full);
	*slash = '/';
	if (error == 0)
		error = fsutil_write_atomic(full, buf, len, 0644);
	free(buf);
	if (error < 0)
		return error;
	rc = git_index_add_bypath(index, path);
	return rc < 0 ? repo_git_error(rc, path) : 0;
}

int repo_recover(struct repo *repo)
{
	git_index *index = NULL;
	struct repo_head head;
	char path[4096];
	char *journal = NULL, *line, *next;
	size_t len;
	int rc, error;

	/* An index a killed plansync was changing in place, first. */
	if ((error = gitindex_recover(repo->gitdir)) < 0)
		return error;
	if ((error = repo_git_path(
		     path, sizeof(path), repo, REPO_JOURNAL_FILE)) < 0)
		return error;
	error = fsutil_read_file(&journal, &len, path, DOC_MAX_FILE);
	if (error == ERROR_NOTFOUND) {
		error_clear();
		return 0;
	} else if (error < 0) {
		return error;
	}
	/* A commit or merge was killed: lock files it left (git's index.lock
	 * among them) go first, when no process can be holding them. */
	if ((error = sync_recover(NULL, repo)) < 0)
		goto done;
	if ((error = repo_head(&head, repo)) < 0)
		goto done;
	if (strncmp(journal, "commit ", 7) != 0 || len < 48 ||
	    strncmp(journal + 7, head.id, 40) != 0 || !head.id[0])
		goto drop; /* the branch never moved to it */
	if ((rc = git_repository_index(&index, repo->git)) < 0 ||
	    (rc = git_index_read(index, 0)) < 0) {
		error = repo_git_error(rc, "cannot read the index");
		goto done;
	}
	for (line = strchr(journal, '\n'); line && line[1]; line = next) {
		line++;
		if ((next = strchr(line, '\n')))
			*next = '\0';
		if (*line && (error = restore_path(repo, index, line)) < 0)
			goto done;
		if (!next)
			break;
	}
	if ((rc = git_index_write(index)) < 0) {
		error = repo_git_error(rc, "cannot write the index");
		goto done;
	}
	if ((error = signers_refresh(repo)) < 0)
		goto done;
drop:
	if (unlink(path) < 0 && errno != ENOENT)
		error = error_set(
			ERROR_GENERIC, "cannot remove '%s': %s", path,
			strerror(errno));
done:
	git_index_free(index);
	free(journal);
	return error;
}
