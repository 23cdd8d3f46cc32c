/*
 * sync/commit.c: signed commits built on the changed paths only.
 */
#include "commit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <git2.h>

#include "core/doc.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/key.h"
#include "core/plan.h"
#include "core/sshsig.h"
#include "gitindex.h"
#include "repo.h"
#include "history.h"
#include "signers.h"
#include "sync.h"

/* ---- who may commit -------------------------------------------------- */

static int check_partners(
	const struct doc_node *partners,
	const struct key *key,
	int coordinator)
{
	struct plan_partner p;
	unsigned char pk[KEY_PUBLIC_BYTES];
	char mine[KEY_FINGERPRINT_MAX], theirs[KEY_FINGERPRINT_MAX];
	const char *email = key_email(key);

	key_fingerprint(mine, key_public(key));
	if (!partners || plan_partner_by_email(&p, partners, email) < 0)
		return error_set(
			ERROR_VERIFY,
			"your key (%s, %s) is not listed in partners.yaml; a "
			"coordinator must add it (plansync partner add)",
			email, mine);
	if (!p.key || key_parse_public_line(pk, p.key) < 0)
		return error_set(
			ERROR_VERIFY, "partners.yaml has no valid key for '%s'",
			email);
	if (memcmp(pk, key_public(key), KEY_PUBLIC_BYTES) != 0) {
		key_fingerprint(theirs, pk);
		return error_set(
			ERROR_VERIFY,
			"partners.yaml lists '%s' with key %s, not your key %s",
			email, theirs, mine);
	}
	if (p.revoked)
		return error_set(
			ERROR_VERIFY,
			"the key of '%s' (%s) is revoked in partners.yaml",
			email, mine);
	if (coordinator && !p.coordinator)
		return error_set(
			ERROR_VERIFY,
			"'%s' is an editor; only a coordinator may change "
			"partners.yaml",
			email);
	return 0;
}

static int check_partners_text(
	const char *buf,
	size_t len,
	const char *what,
	const struct key *key,
	int coordinator)
{
	struct doc_node *partners = NULL;
	int error;

	if ((error = plan_parse(
		     &partners, PLAN_FILE_PARTNERS, what, buf, len)) < 0)
		return error;
	error = check_partners(partners, key, coordinator);
	doc_free(partners);
	return error;
}

int commit_check_signer(
	struct repo *repo,
	const struct key *key,
	int coordinator)
{
	char *buf = NULL;
	size_t len;
	int error;

	error = repo_read_head(&buf, &len, repo, "partners.yaml", DOC_MAX_FILE);
	if (error == ERROR_NOTFOUND) {
		error = check_partners(NULL, key, coordinator);
		goto done;
	} else if (error < 0) {
		goto done;
	}
	error = check_partners_text(
		buf, len, "partners.yaml", key, coordinator);
done:
	free(buf);
	return error;
}

/* ---- trees along the changed paths ----------------------------------- */

static int change_cmp(const void *a, const void *b)
{
	return strcmp(
		((const struct commit_tree_change *)a)->path,
		((const struct commit_tree_change *)b)->path);
}

static int path_ok(const char *path)
{
	const char *p = path, *slash;
	size_t n;

	if (!*path || *path == '/')
		return 0;
	for (;;) {
		slash = strchr(p, '/');
		n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 0 || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.') ||
		    (n == 4 && strncmp(p, ".git", 4) == 0))
			return 0;
		if (!slash)
			return 1;
		p = slash + 1;
	}
}

/*
 * New tree from base (NULL: none) with the changes ch[0..n), which all lie
 * under the folder of the first `skip` bytes of their paths and are sorted.
 * *out_empty tells the caller to drop the folder.
 */
static int build_tree_at(
	git_oid *out,
	int *out_empty,
	git_repository *git,
	const git_tree *base,
	const struct commit_tree_change *ch,
	size_t n,
	size_t skip)
{
	git_treebuilder *bld = NULL;
	git_tree *sub = NULL;
	const git_tree_entry *e;
	git_oid sub_id;
	char name[256];
	const char *rel, *slash;
	size_t i = 0, j, len;
	int rc = 0, error = 0, sub_empty;

	if ((rc = git_treebuilder_new(&bld, git, base)) < 0)
		goto git_fail;
	while (i < n) {
		rel = ch[i].path + skip;
		slash = strchr(rel, '/');
		if (!slash) {
			if (ch[i].remove) {
				rc = git_treebuilder_remove(bld, rel);
				if (rc < 0 && rc != GIT_ENOTFOUND)
					goto git_fail;
			} else if (
				(rc = git_treebuilder_insert(
					 NULL, bld, rel, &ch[i].blob,
					 ch[i].mode ?
						 (git_filemode_t)ch[i].mode :
						 GIT_FILEMODE_BLOB)) < 0) {
				goto git_fail;
			}
			i++;
			continue;
		}
		len = (size_t)(slash - rel);
		if (len >= sizeof(name)) {
			error = error_set(
				ERROR_INVALID, "path too long: '%s'",
				ch[i].path);
			goto done;
		}
		memcpy(name, rel, len);
		name[len] = '\0';
		for (j = i + 1; j < n; j++)
			if (strncmp(ch[j].path + skip, rel, len + 1) != 0)
				break;
		e = base ? git_tree_entry_byname(base, name) : NULL;
		if (e && git_tree_entry_type(e) == GIT_OBJECT_TREE &&
		    (rc = git_tree_lookup(&sub, git, git_tree_entry_id(e))) < 0)
			goto git_fail;
		if ((error = build_tree_at(
			     &sub_id, &sub_empty, git, sub, ch + i, j - i,
			     skip + len + 1)) < 0)
			goto done;
		git_tree_free(sub);
		sub = NULL;
		if (sub_empty) {
			rc = git_treebuilder_remove(bld, name);
			if (rc < 0 && rc != GIT_ENOTFOUND)
				goto git_fail;
		} else if (
			(rc = git_treebuilder_insert(
				 NULL, bld, name, &sub_id, GIT_FILEMODE_TREE)) <
			0) {
			goto git_fail;
		}
		i = j;
	}
	*out_empty = git_treebuilder_entrycount(bld) == 0;
	if ((rc = git_treebuilder_write(out, bld)) < 0)
		goto git_fail;
	goto done;
git_fail:
	error = repo_git_error(rc, "cannot build the commit's tree");
done:
	git_tree_free(sub);
	git_treebuilder_free(bld);
	return error;
}

int commit_build_tree(
	git_oid *out,
	git_repository *git,
	const git_tree *base,
	const struct commit_tree_change *ch,
	size_t n)
{
	int empty;

	return build_tree_at(out, &empty, git, base, ch, n, 0);
}

/* ---- the work tree ----------------------------------------------------- */

/* Remove now-empty folders above path (relative), up to the work tree. */
static void prune_dirs(struct repo *repo, const char *path)
{
	char full[4096];
	char *slash;
	size_t base = strlen(repo_workdir(repo));

	if (repo_work_path(full, sizeof(full), repo, path) < 0)
		return;
	while ((slash = strrchr(full + base, '/'))) {
		*slash = '\0';
		if (rmdir(full) < 0)
			break;
	}
}

/*
 * The changed files' index entries: gitindex's copy of the file with only
 * those entries replaced when it can (the cost of libgit2 reading and
 * writing every entry grows with the plan), else libgit2.
 */
static int update_index(
	struct repo *repo,
	const struct commit_file *files,
	const struct commit_tree_change *ch,
	size_t n)
{
	git_index *index = NULL;
	struct gitindex_change *gc = NULL;
	size_t i;
	int rc, error = 0;

	if (!(gc = calloc(n, sizeof(*gc)))) {
		error = error_nomem();
		goto done;
	}
	for (i = 0; i < n; i++) {
		gc[i].path = ch[i].path;
		gc[i].oid = files[ch[i].file].buf ? ch[i].blob.id : NULL;
	}
	error = gitindex_update(repo_gitdir(repo), repo_workdir(repo), gc, n);
	if (error <= 0)
		goto done;
	error = 0;
	if ((rc = git_repository_index(&index, repo_git(repo))) < 0 ||
	    (rc = git_index_read(index, 0)) < 0) {
		error = repo_git_error(rc, "cannot read the index");
		goto done;
	}
	for (i = 0; i < n; i++) {
		rc = files[i].buf ?
			     git_index_add_bypath(index, files[i].path) :
			     git_index_remove_bypath(index, files[i].path);
		if (rc < 0) {
			error = repo_git_error(rc, files[i].path);
			goto done;
		}
	}
	if ((rc = git_index_write(index)) < 0)
		error = repo_git_error(rc, "cannot write the index");
done:
	git_index_free(index);
	free(gc);
	return error;
}

static int update_work_tree(
	struct repo *repo,
	const struct commit_file *files,
	const struct commit_tree_change *ch,
	size_t n)
{
	char full[4096];
	char *slash;
	size_t i;
	int error = 0;

	for (i = 0; i < n; i++) {
		if ((error = repo_work_path(
			     full, sizeof(full), repo, files[i].path)) < 0)
			return error;
		if (!files[i].buf) {
			if (unlink(full) < 0 && errno != ENOENT)
				return error_set(
					ERROR_GENERIC, "cannot remove '%s': %s",
					full, strerror(errno));
			prune_dirs(repo, files[i].path);
		} else {
			slash = strrchr(full, '/');
			*slash = '\0';
			error = fsutil_mkdirs(full);
			*slash = '/';
			if (error < 0 || (error = fsutil_write_atomic(
						  full, files[i].buf,
						  files[i].len, 0644)) < 0)
				return error;
		}
	}
	return update_index(repo, files, ch, n);
}

/*
 * The root commit lands in an empty work tree (repo_create makes sure):
 * no file can be half-replaced there, so one libgit2 checkout writes them
 * all and the index, far faster than a rename and two fsyncs per file.
 */
static int check_out_root(struct repo *repo)
{
	git_checkout_options opts;
	int rc;

	git_checkout_options_init(&opts, GIT_CHECKOUT_OPTIONS_VERSION);
	opts.checkout_strategy =
		GIT_CHECKOUT_SAFE | GIT_CHECKOUT_RECREATE_MISSING;
	if ((rc = git_checkout_head(repo_git(repo), &opts)) < 0)
		return repo_git_error(rc, "cannot write the work tree");
	return 0;
}

/* ---- the journal -------------------------------------------------------- */

int commit_journal_write(
	struct repo *repo,
	const char *hex,
	const char *const *paths,
	size_t n)
{
	char path[4096];
	char *buf = NULL;
	size_t i, len = 48, at;
	int error;

	for (i = 0; i < n; i++)
		len += strlen(paths[i]) + 1;
	if (!(buf = malloc(len + 1)))
		return error_nomem();
	at = (size_t)snprintf(buf, len + 1, "commit %s\n", hex);
	for (i = 0; i < n; i++)
		at += (size_t)snprintf(
			buf + at, len + 1 - at, "%s\n", paths[i]);
	if ((error = repo_git_path(path, sizeof(path), repo, "plansync")) < 0 ||
	    (error = fsutil_mkdirs(path)) < 0 ||
	    (error = repo_git_path(
		     path, sizeof(path), repo, REPO_JOURNAL_FILE)) < 0)
		goto done;
	error = fsutil_write_atomic(path, buf, at, 0644);
done:
	free(buf);
	return error;
}

static int write_journal(
	struct repo *repo,
	const char *hex,
	const struct commit_file *files,
	size_t n)
{
	const char **paths = NULL;
	size_t i;
	int error;

	if (n && !(paths = calloc(n, sizeof(*paths))))
		return error_nomem();
	for (i = 0; i < n; i++)
		paths[i] = files[i].path;
	error = commit_journal_write(repo, hex, paths, n);
	free(paths);
	return error;
}

int commit_journal_drop(struct repo *repo)
{
	char path[4096];
	int error;

	if ((error = repo_git_path(
		     path, sizeof(path), repo, REPO_JOURNAL_FILE)) < 0)
		return error;
	if (unlink(path) < 0 && errno != ENOENT)
		return error_set(
			ERROR_GENERIC, "cannot remove '%s': %s", path,
			strerror(errno));
	return 0;
}

/* ---- the commit ---------------------------------------------------------- */

int commit_files(
	char *out_id,
	struct repo *repo,
	const struct key *key,
	const struct commit_file *files,
	size_t n,
	const char *message)
{
	git_repository *git = repo_git(repo);
	struct repo_head head;
	struct commit_tree_change *ch = NULL;
	git_commit *parent = NULL;
	git_tree *base = NULL, *tree = NULL;
	git_signature *sig = NULL;
	git_reference *ref = NULL;
	git_buf buf = { NULL, 0, 0 };
	git_oid parent_id, tree_id, commit_id;
	const git_commit *parents[1];
	const struct commit_file *partners = NULL;
	char *msg = NULL, *armor = NULL, *logmsg = NULL;
	char hex[41];
	size_t i, len;
	int rc = 0, error, empty, journal = 0, moved = 0;

	if (n == 0) {
		error = error_set(ERROR_GENERIC, "nothing to commit");
		goto done;
	}
	if ((error = repo_head(&head, repo)) < 0)
		goto done;
	if (head.detached) {
		error = error_set(
			ERROR_GENERIC,
			"HEAD is detached; check out a branch first");
		goto done;
	}
	if (repo_check_index_lock(repo) < 0) {
		/* Left by a killed process?  sync_recover removes it only when
		 * nobody (no git process) can be holding it. */
		error_clear();
		if ((error = sync_recover(NULL, repo)) < 0 ||
		    (error = repo_check_index_lock(repo)) < 0)
			goto done;
	}
	if (!(ch = calloc(n, sizeof(*ch)))) {
		error = error_nomem();
		goto done;
	}
	for (i = 0; i < n; i++) {
		if (!path_ok(files[i].path)) {
			error = error_set(
				ERROR_INVALID, "cannot commit path '%s'",
				files[i].path);
			goto done;
		}
		if (strcmp(files[i].path, "partners.yaml") == 0)
			partners = &files[i];
		ch[i].path = files[i].path;
		ch[i].remove = files[i].buf == NULL;
		ch[i].file = i;
	}
	qsort(ch, n, sizeof(*ch), change_cmp);
	for (i = 1; i < n; i++)
		if (strcmp(ch[i - 1].path, ch[i].path) == 0) {
			error = error_set(
				ERROR_GENERIC, "'%s' given twice in one commit",
				ch[i].path);
			goto done;
		}

	/* Trust first: nothing is written for a signer others would refuse. */
	if (head.unborn) {
		if (!partners || !partners->buf) {
			error = error_set(
				ERROR_VERIFY,
				"the first commit must hold partners.yaml "
				"listing its signer as a coordinator");
			goto done;
		}
		if ((error = check_partners_text(
			     partners->buf, partners->len, "partners.yaml", key,
			     1)) < 0)
			goto done;
	} else if (
		(error = commit_check_signer(repo, key, partners != NULL)) <
		0) {
		goto done;
	}

	/* Blobs, then the trees on their paths. */
	for (i = 0; i < n; i++) {
		const struct commit_file *f = &files[ch[i].file];

		if (f->buf && (rc = git_blob_create_from_buffer(
				       &ch[i].blob, git, f->buf, f->len)) < 0) {
			error = repo_git_error(rc, f->path);
			goto done;
		}
	}
	if (!head.unborn) {
		if ((rc = git_oid_fromstr(&parent_id, head.id)) < 0 ||
		    (rc = git_commit_lookup(&parent, git, &parent_id)) < 0 ||
		    (rc = git_commit_tree(&base, parent)) < 0) {
			error = repo_git_error(rc, "cannot read HEAD");
			goto done;
		}
	}
	if ((error = build_tree_at(&tree_id, &empty, git, base, ch, n, 0)) < 0)
		goto done;
	if (base && git_oid_equal(&tree_id, git_tree_id(base))) {
		error = error_set(
			ERROR_GENERIC,
			"nothing to commit: the files match HEAD");
		goto done;
	}
	if ((rc = git_tree_lookup(&tree, git, &tree_id)) < 0) {
		error = repo_git_error(rc, "cannot read the new tree");
		goto done;
	}

	/* The commit object, signed. */
	len = strlen(message);
	if (!(msg = malloc(len + 2))) {
		error = error_nomem();
		goto done;
	}
	memcpy(msg, message, len + 1);
	if (len == 0 || msg[len - 1] != '\n') {
		msg[len] = '\n';
		msg[len + 1] = '\0';
	}
	if ((rc = git_signature_now(&sig, key_name(key), key_email(key))) < 0) {
		error = repo_git_error(
			rc, "cannot use the key's name and email "
			    "as the author");
		goto done;
	}
	parents[0] = parent;
	if ((rc = git_commit_create_buffer(
		     &buf, git, sig, sig, NULL, msg, tree, parent ? 1 : 0,
		     parents)) < 0) {
		error = repo_git_error(rc, "cannot build the commit");
		goto done;
	}
	if ((error = sshsig_sign(&armor, key, buf.ptr, buf.size)) < 0)
		goto done;
	if ((rc = git_commit_create_with_signature(
		     &commit_id, git, buf.ptr, armor, "gpgsig")) < 0) {
		error = repo_git_error(rc, "cannot write the commit");
		goto done;
	}

	/* The journal first: a death from here on is finished by repo_recover.
	 */
	git_oid_tostr(hex, sizeof(hex), &commit_id);
	if ((error = write_journal(repo, hex, files, n)) < 0)
		goto done;
	journal = 1;

	/* Move the branch by compare-and-swap against the tip we built on. */
	len = strcspn(msg, "\n");
	if (!(logmsg = malloc(len + 32))) {
		error = error_nomem();
		goto done;
	}
	snprintf(
		logmsg, len + 32, "commit%s: %.*s",
		head.unborn ? " (initial)" : "", (int)len, msg);
	if (head.unborn)
		rc = git_reference_create(
			&ref, git, head.refname, &commit_id, 0, logmsg);
	else
		rc = git_reference_create_matching(
			&ref, git, head.refname, &commit_id, 1, &parent_id,
			logmsg);
	if (rc == GIT_EMODIFIED || rc == GIT_EEXISTS) {
		error = error_set(
			ERROR_BUSY,
			"branch '%s' moved while committing; nothing changed, "
			"try again",
			head.branch);
		goto done;
	} else if (rc < 0) {
		error = repo_git_error(rc, head.refname);
		goto done;
	}
	moved = 1;

	/* The work tree and index follow; the commit is made whatever happens.
	 */
	if ((error = head.unborn ? check_out_root(repo) :
				   update_work_tree(repo, files, ch, n)) < 0 ||
	    (error = signers_refresh(repo)) < 0) {
		char why[512];

		snprintf(why, sizeof(why), "%s", error_message());
		error = error_set(
			error,
			"committed %.12s, but the work tree was not "
			"updated (the next plansync command will): %s",
			hex, why);
		goto done;
	}
	journal = 0;
	if ((error = commit_journal_drop(repo)) < 0)
		goto done;
	history_index_refresh(repo);
	if (out_id)
		memcpy(out_id, hex, sizeof(hex));
done:
	if (journal && error < 0 && !moved)
		commit_journal_drop(
			repo); /* the branch did not move: nothing to do */
	free(ch);
	free(msg);
	free(logmsg);
	free(armor);
	git_buf_dispose(&buf);
	git_reference_free(ref);
	git_signature_free(sig);
	git_tree_free(tree);
	git_tree_free(base);
	git_commit_free(parent);
	return error;
}
