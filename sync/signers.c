/*
 * sync/signers.c: allowed_signers from partners.yaml.
 */
#include "signers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <git2.h>

#include "core/doc.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/key.h"
#include "core/plan.h"
#include "repo.h"

/* An allowed_signers principal must not hold blanks, quotes or commas. */
static int principal_ok(const char *s)
{
	if (!s || !*s)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == '"' || *s == ',' ||
		    *s == '*' || *s == '?' || *s == '!')
			return 0;
	return 1;
}

int signers_render(
	char **out,
	size_t *out_len,
	const struct doc_node *partners,
	const long long *revoked_before)
{
	struct plan_partner p;
	unsigned char pk[KEY_PUBLIC_BYTES];
	char line[KEY_LINE_MAX], before[64];
	char *buf = NULL, *grown;
	size_t i, n = 0, cap = 0, count, need;
	struct tm tm;
	time_t t;
	int error = 0;

	count = partners ? plan_partner_count(partners) : 0;
	if (!(buf = malloc(1))) {
		error = error_nomem();
		goto done;
	}
	buf[0] = '\0';
	for (i = 0; i < count; i++) {
		plan_partner_at(&p, partners, i);
		if (!principal_ok(p.email) || !p.key ||
		    key_parse_public_line(pk, p.key) < 0 ||
		    key_public_line(line, sizeof(line), pk, NULL) < 0) {
			error_clear();
			continue;
		}
		before[0] = '\0';
		if (p.revoked) {
			if (!revoked_before || revoked_before[i] <= 0)
				continue;
			t = (time_t)revoked_before[i];
			if (!gmtime_r(&t, &tm))
				continue;
			strftime(
				before, sizeof(before),
				",valid-before=\"%Y%m%d%H%M%SZ\"", &tm);
		}
		need = strlen(p.email) + strlen(line) + strlen(before) + 24;
		if (n + need + 1 > cap) {
			cap = (n + need + 1) * 2;
			if (!(grown = realloc(buf, cap))) {
				error = error_nomem();
				goto done;
			}
			buf = grown;
		}
		n += (size_t)snprintf(
			buf + n, cap - n, "%s namespaces=\"git\"%s %s\n",
			p.email, before, line);
	}
	*out = buf;
	*out_len = n;
	buf = NULL;
done:
	free(buf);
	return error;
}

/* ---- when was a key revoked? -------------------------------------------- */

/*
 * What the previous file said about principal's key pk: 0 nothing, 1 an
 * unlimited line, 2 a line valid before *before.
 */
static int prior_line(
	long long *before,
	const char *old,
	const char *principal,
	const unsigned char pk[KEY_PUBLIC_BYTES])
{
	const char *p = old, *nl, *sp, *vb;
	unsigned char lpk[KEY_PUBLIC_BYTES];
	char line[KEY_LINE_MAX * 2];
	size_t n = strlen(principal), len;
	struct tm tm;

	for (; p && *p; p = nl ? nl + 1 : NULL) {
		nl = strchr(p, '\n');
		len = nl ? (size_t)(nl - p) : strlen(p);
		if (len >= sizeof(line) || len <= n || p[n] != ' ' ||
		    strncmp(p, principal, n) != 0)
			continue;
		memcpy(line, p, len);
		line[len] = '\0';
		if (!(sp = strstr(line, " ssh-ed25519 ")) ||
		    key_parse_public_line(lpk, sp + 1) < 0 ||
		    memcmp(lpk, pk, KEY_PUBLIC_BYTES) != 0) {
			error_clear();
			continue;
		}
		if (!(vb = strstr(line, "valid-before=\"")) || vb > sp)
			return 1;
		memset(&tm, 0, sizeof(tm));
		vb += 14;
		if (strlen(vb) < 14)
			return 0;
		tm.tm_year = (vb[0] - '0') * 1000 + (vb[1] - '0') * 100 +
			     (vb[2] - '0') * 10 + (vb[3] - '0') - 1900;
		tm.tm_mon = (vb[4] - '0') * 10 + (vb[5] - '0') - 1;
		tm.tm_mday = (vb[6] - '0') * 10 + (vb[7] - '0');
		tm.tm_hour = (vb[8] - '0') * 10 + (vb[9] - '0');
		tm.tm_min = (vb[10] - '0') * 10 + (vb[11] - '0');
		tm.tm_sec = (vb[12] - '0') * 10 + (vb[13] - '0');
		*before = (long long)timegm(&tm);
		return 2;
	}
	return 0;
}

/* Is pk revoked for email in the partners.yaml of commit (1), listed and
 * not revoked (0), or absent (-1)? */
static int revoked_at(
	git_repository *git,
	git_commit *commit,
	const char *email,
	const unsigned char pk[KEY_PUBLIC_BYTES],
	git_oid *cached_blob,
	int *cached_state)
{
	git_tree *tree = NULL;
	git_tree_entry *e = NULL;
	git_blob *blob = NULL;
	struct doc_node *doc = NULL;
	struct plan_partner p;
	unsigned char ppk[KEY_PUBLIC_BYTES];
	int state = -1;

	if (git_commit_tree(&tree, commit) < 0 ||
	    git_tree_entry_bypath(&e, tree, "partners.yaml") < 0)
		goto done;
	if (git_oid_equal(cached_blob, git_tree_entry_id(e))) {
		state = *cached_state;
		goto done;
	}
	if (git_blob_lookup(&blob, git, git_tree_entry_id(e)) < 0 ||
	    plan_parse(
		    &doc, PLAN_FILE_PARTNERS, "partners.yaml",
		    git_blob_rawcontent(blob),
		    (size_t)git_blob_rawsize(blob)) < 0)
		goto cache;
	if (plan_partner_by_email(&p, doc, email) == 0 && p.key &&
	    key_parse_public_line(ppk, p.key) == 0 &&
	    memcmp(ppk, pk, KEY_PUBLIC_BYTES) == 0)
		state = p.revoked ? 1 : 0;
cache:
	git_oid_cpy(cached_blob, git_tree_entry_id(e));
	*cached_state = state;
done:
	error_clear();
	doc_free(doc);
	git_blob_free(blob);
	git_tree_entry_free(e);
	git_tree_free(tree);
	return state;
}

#define REVOKE_WALK_MAX 100000 /* commits walked back to find a revocation */

/*
 * The committer time of the first-parent ancestor of HEAD that revoked
 * email's key pk: 0 if it was revoked from the root (or too far back).
 */
static long long revoked_time(
	git_repository *git,
	const char *email,
	const unsigned char pk[KEY_PUBLIC_BYTES])
{
	git_commit *commit = NULL, *parent = NULL;
	git_oid id, blob;
	long long last = 0;
	int state = -1, n;

	memset(&blob, 0, sizeof(blob));
	if (git_reference_name_to_id(&id, git, "HEAD") < 0 ||
	    git_commit_lookup(&commit, git, &id) < 0)
		goto done;
	for (n = 0; n < REVOKE_WALK_MAX; n++) {
		if (revoked_at(git, commit, email, pk, &blob, &state) != 1)
			break;
		last = (long long)git_commit_time(commit);
		if (git_commit_parentcount(commit) == 0) {
			last = 0; /* revoked from the start: never valid */
			break;
		}
		if (git_commit_parent(&parent, commit, 0) < 0) {
			last = 0;
			break;
		}
		git_commit_free(commit);
		commit = parent;
		parent = NULL;
	}
done:
	git_error_clear();
	git_commit_free(commit);
	return last;
}

static long long head_time(git_repository *git)
{
	git_commit *commit = NULL;
	git_oid id;
	long long t = 0;

	if (git_reference_name_to_id(&id, git, "HEAD") == 0 &&
	    git_commit_lookup(&commit, git, &id) == 0)
		t = (long long)git_commit_time(commit);
	git_commit_free(commit);
	return t;
}

int signers_refresh(struct repo *repo)
{
	struct doc_node *partners = NULL;
	struct plan_partner p;
	unsigned char pk[KEY_PUBLIC_BYTES];
	long long *before = NULL;
	char *yaml = NULL, *text = NULL, *old = NULL;
	size_t yaml_len, text_len, old_len, i, count = 0;
	char path[4096];
	int error, prior;

	error = repo_read_head(
		&yaml, &yaml_len, repo, "partners.yaml", DOC_MAX_FILE);
	if (error == 0) {
		if ((error = plan_parse(
			     &partners, PLAN_FILE_PARTNERS, "partners.yaml",
			     yaml, yaml_len)) < 0)
			goto done;
		count = plan_partner_count(partners);
	} else if (error != ERROR_NOTFOUND) {
		goto done;
	}
	error_clear();
	if ((error = repo_git_path(path, sizeof(path), repo, "plansync")) < 0 ||
	    (error = fsutil_mkdirs(path)) < 0 ||
	    (error = repo_git_path(
		     path, sizeof(path), repo, REPO_SIGNERS_FILE)) < 0)
		goto done;
	if (fsutil_read_file(&old, &old_len, path, DOC_MAX_FILE) < 0) {
		old = NULL;
		error_clear();
	}
	if (!(before = calloc(count ? count : 1, sizeof(*before)))) {
		error = error_nomem();
		goto done;
	}
	for (i = 0; i < count; i++) {
		plan_partner_at(&p, partners, i);
		if (!p.revoked || !p.key || !p.email ||
		    key_parse_public_line(pk, p.key) < 0) {
			error_clear();
			continue;
		}
		prior = old ? prior_line(&before[i], old, p.email, pk) : 0;
		if (prior == 1) /* it was valid until this HEAD */
			before[i] = head_time(repo_git(repo));
		else if (prior == 0)
			before[i] = revoked_time(repo_git(repo), p.email, pk);
	}
	if ((error = signers_render(&text, &text_len, partners, before)) < 0)
		goto done;
	if (old && old_len == text_len && memcmp(old, text, text_len) == 0)
		goto done;
	error = fsutil_write_atomic(path, text, text_len, 0644);
done:
	doc_free(partners);
	free(before);
	free(yaml);
	free(text);
	free(old);
	return error;
}
