/*
 * sync/edit.c: one action in, one signed commit out.
 */
#include "edit.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <git2.h>

#include "commit.h"
#include "core/doc.h"
#include "core/error.h"
#include "core/plan.h"
#include "repo.h"

#define SUMMARY_MAX 48 /* bytes of a value shown in a message */
#define DESCRIBE_FIELDS 4 /* fields named before "and N more" */

int edit_load_file(
	struct doc_node **out,
	struct repo *repo,
	const char *path,
	int kind)
{
	char *buf = NULL;
	size_t len;
	int error;

	if ((error = repo_read_head(&buf, &len, repo, path, DOC_MAX_FILE)) < 0)
		goto done;
	error = plan_parse(out, (enum plan_file_kind)kind, path, buf, len);
done:
	free(buf);
	return error;
}

int edit_load_action(struct doc_node **out, struct repo *repo, const char *id)
{
	char path[256];
	int error;

	if (!plan_action_id_valid(id))
		return error_set(
			ERROR_INVALID, "'%s' is not an action ID (P<n>-A<m>)",
			id);
	if ((error = plan_action_path(path, sizeof(path), id)) < 0)
		return error;
	error = edit_load_file(out, repo, path, PLAN_FILE_ACTION);
	if (error == ERROR_NOTFOUND)
		error = error_set(
			ERROR_NOTFOUND, "no action '%s' (no %s)", id, path);
	return error;
}

/* Append printf output to a growing buffer. */
struct sbuf {
	char *p;
	size_t n, cap;
	int failed;
};

static void sb_add(struct sbuf *sb, const char *fmt, ...) ERROR_PRINTF(2, 3);

static void sb_add(struct sbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int need;
	char *grown;

	if (sb->failed)
		return;
	va_start(ap, fmt);
	need = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (need < 0) {
		sb->failed = 1;
		return;
	}
	if (sb->n + (size_t)need + 1 > sb->cap) {
		size_t cap = (sb->n + (size_t)need + 1) * 2;

		if (!(grown = realloc(sb->p, cap))) {
			sb->failed = 1;
			return;
		}
		sb->p = grown;
		sb->cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(sb->p + sb->n, sb->cap - sb->n, fmt, ap);
	va_end(ap);
	sb->n += (size_t)need;
}

int edit_describe(
	char **out,
	const char *id,
	const struct doc_node *a,
	const struct doc_node *b)
{
	struct plan_change *ch = NULL;
	struct sbuf sb = { NULL, 0, 0, 0 };
	char *olds = NULL, *news = NULL;
	const char *text;
	size_t i, n = 0, shown = 0;
	int error;

	if (!a || !b) {
		text = b ? doc_str(doc_map_get(b, "action")) : NULL;
		if (text && !(news = plan_value_summary(
				      doc_map_get(b, "action"), SUMMARY_MAX))) {
			error = error_nomem();
			goto done;
		}
		sb_add(&sb, "%s: action %s%s%s", id, b ? "added" : "deleted",
		       news ? ": " : "", news ? news : "");
		goto finish;
	}
	if ((error = plan_action_diff(&ch, &n, a, b)) < 0)
		goto done;
	if (n == 0) {
		error = ERROR_NOTFOUND;
		goto done;
	}
	sb_add(&sb, "%s: ", id);
	for (i = 0; i < n; i++) {
		if (shown == DESCRIBE_FIELDS) {
			sb_add(&sb, "; and %zu more", n - i);
			break;
		}
		free(olds);
		free(news);
		olds = plan_value_summary(ch[i].old, SUMMARY_MAX);
		news = plan_value_summary(ch[i].new, SUMMARY_MAX);
		if (!olds || !news) {
			error = error_nomem();
			goto done;
		}
		sb_add(&sb, "%s%s %s -> %s", shown ? "; " : "", ch[i].path,
		       olds, news);
		shown++;
	}
finish:
	if (sb.failed) {
		error = error_nomem();
		goto done;
	}
	*out = sb.p;
	sb.p = NULL;
	error = 0;
done:
	free(olds);
	free(news);
	free(sb.p);
	plan_changes_free(ch, n);
	return error;
}

int edit_commit_doc(
	char *out_id,
	struct repo *repo,
	const struct key *key,
	const char *path,
	const struct doc_node *doc,
	const char *message)
{
	struct commit_file f;
	char *text = NULL;
	size_t len;
	int error;

	if ((error = doc_emit(&text, &len, doc)) < 0)
		goto done;
	f.path = path;
	f.buf = text;
	f.len = len;
	error = commit_files(out_id, repo, key, &f, 1, message);
done:
	free(text);
	return error;
}

/* Does some line of data start with prefix? */
static int has_line(const char *data, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);
	const char *p = data, *end = data + len, *nl;

	while (p < end) {
		if ((size_t)(end - p) >= n && memcmp(p, prefix, n) == 0)
			return 1;
		if (!(nl = memchr(p, '\n', (size_t)(end - p))))
			break;
		p = nl + 1;
	}
	return 0;
}

int edit_count_conflicts(
	size_t *out_fields,
	size_t *out_actions,
	struct repo *repo)
{
	git_repository *git = repo_git(repo);
	git_object *root = NULL;
	git_tree *actions = NULL, *prio = NULL;
	git_blob *blob = NULL;
	git_tree_entry *e = NULL;
	struct doc_node *doc = NULL;
	const struct doc_node *list;
	const char *data;
	size_t i, j, len, fields = 0, holders = 0;
	int rc, error = 0;

	rc = git_revparse_single(&root, git, "HEAD^{tree}");
	if (rc == GIT_ENOTFOUND)
		goto out;
	if (rc < 0) {
		error = repo_git_error(rc, "cannot read HEAD");
		goto done;
	}
	rc = git_tree_entry_bypath(&e, (git_tree *)root, "actions");
	if (rc == GIT_ENOTFOUND)
		goto out;
	if (rc < 0 ||
	    (rc = git_tree_lookup(&actions, git, git_tree_entry_id(e))) < 0) {
		error = repo_git_error(rc, "cannot read actions/");
		goto done;
	}
	for (i = 0; i < git_tree_entrycount(actions); i++) {
		const git_tree_entry *pe = git_tree_entry_byindex(actions, i);

		if (git_tree_entry_type(pe) != GIT_OBJECT_TREE)
			continue;
		git_tree_free(prio);
		prio = NULL;
		if ((rc = git_tree_lookup(&prio, git, git_tree_entry_id(pe))) <
		    0) {
			error = repo_git_error(rc, "cannot read actions/");
			goto done;
		}
		for (j = 0; j < git_tree_entrycount(prio); j++) {
			const git_tree_entry *ae =
				git_tree_entry_byindex(prio, j);
			char path[256];

			if (git_tree_entry_type(ae) != GIT_OBJECT_BLOB)
				continue;
			git_blob_free(blob);
			blob = NULL;
			if ((rc = git_blob_lookup(
				     &blob, git, git_tree_entry_id(ae))) < 0) {
				error = repo_git_error(rc, "cannot read blob");
				goto done;
			}
			data = git_blob_rawcontent(blob);
			len = (size_t)git_blob_rawsize(blob);
			if (!has_line(data, len, "conflicts:"))
				continue;
			snprintf(
				path, sizeof(path), "actions/%s/%s",
				git_tree_entry_name(pe),
				git_tree_entry_name(ae));
			doc_free(doc);
			doc = NULL;
			if (plan_parse(
				    &doc, PLAN_FILE_ACTION, path, data, len) <
			    0) {
				error_clear();
				continue;
			}
			list = doc_map_get(doc, "conflicts");
			if (list && list->kind == DOC_SEQ && list->n) {
				fields += list->n;
				holders++;
			}
		}
	}
out:
	*out_fields = fields;
	*out_actions = holders;
done:
	doc_free(doc);
	git_blob_free(blob);
	git_tree_free(prio);
	git_tree_free(actions);
	git_tree_entry_free(e);
	git_object_free(root);
	return error;
}
