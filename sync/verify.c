/*
 * sync/verify: the trust rules of SPEC.md 3 over commits (see verify.h).
 */
#include "verify.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/plan.h"
#include "core/sshsig.h"
#include "mergecheck.h"

#define PARTNERS_PATH "partners.yaml"
#define SHORT_ID 7

/* ---- small helpers ---------------------------------------------------- */

static int git_fail(int code, const char *fmt, ...) ERROR_PRINTF(2, 3);

/* Record "what: libgit2's message" and map the code (STYLE.md 9). */
static int git_fail(int code, const char *fmt, ...)
{
	const git_error *e = git_error_last();
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return error_set(
		code == GIT_ENOTFOUND ? ERROR_NOTFOUND : ERROR_GENERIC,
		"%s: %s", what, e && e->message ? e->message : "unknown error");
}

static void short_id(char buf[SHORT_ID + 1], const git_oid *id)
{
	char hex[GIT_OID_HEXSZ + 1];

	git_oid_tostr(hex, sizeof(hex), id);
	memcpy(buf, hex, SHORT_ID);
	buf[SHORT_ID] = '\0';
}

static void
set_bad(struct verify_result *out,
	enum verify_verdict verdict,
	const char *fmt,
	...) ERROR_PRINTF(3, 4);

/* Record a bad verdict; control characters in the reason become '?'. */
static void
set_bad(struct verify_result *out,
	enum verify_verdict verdict,
	const char *fmt,
	...)
{
	va_list ap;
	unsigned char *p;

	out->verdict = verdict;
	va_start(ap, fmt);
	vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
	va_end(ap);
	for (p = (unsigned char *)out->reason; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = '?';
}

static void result_init(struct verify_result *out, const git_oid *id)
{
	memset(out, 0, sizeof(*out));
	if (id) {
		git_oid_cpy(&out->commit, id);
		git_oid_tostr(out->id, sizeof(out->id), id);
	}
}

static int ascii_casecmp_n(const char *a, size_t alen, const char *b)
{
	size_t i, blen = strlen(b);

	if (alen != blen)
		return 1;
	for (i = 0; i < alen; i++) {
		unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];

		if (x >= 'A' && x <= 'Z')
			x += 'a' - 'A';
		if (y >= 'A' && y <= 'Z')
			y += 'a' - 'A';
		if (x != y)
			return 1;
	}
	return 0;
}

const char *verify_verdict_name(enum verify_verdict verdict)
{
	switch (verdict) {
	case VERIFY_GOOD:
		return "good";
	case VERIFY_BAD_SIGNATURE:
		return "bad-signature";
	case VERIFY_UNSIGNED:
		return "unsigned";
	case VERIFY_UNKNOWN_KEY:
		return "unknown-key";
	case VERIFY_REVOKED:
		return "revoked";
	case VERIFY_WRONG_AUTHOR:
		return "wrong-author";
	case VERIFY_NOT_COORDINATOR:
		return "not-coordinator";
	case VERIFY_MALFORMED:
		return "malformed";
	case VERIFY_MERGE_EDIT:
		return "merge-edit";
	}
	return "unknown";
}

/* ---- trust lists ------------------------------------------------------ */

struct partner_entry {
	unsigned char pk[KEY_PUBLIC_BYTES];
	int has_pk;
	char *email, *name, *organisation;
	int coordinator, revoked;
};

struct verify_partners {
	struct partner_entry *v;
	size_t n;
};

void verify_partners_free(struct verify_partners *partners)
{
	size_t i;

	if (!partners)
		return;
	for (i = 0; i < partners->n; i++) {
		free(partners->v[i].email);
		free(partners->v[i].name);
		free(partners->v[i].organisation);
	}
	free(partners->v);
	free(partners);
}

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

int verify_partners_parse(
	struct verify_partners **out,
	const char *buf,
	size_t len,
	const char *name)
{
	struct doc_node *doc = NULL;
	struct verify_partners *p = NULL;
	struct plan_partner pp;
	size_t i, n;
	int error;

	if ((error = plan_parse(&doc, PLAN_FILE_PARTNERS, name, buf, len)) < 0)
		goto done;
	n = plan_partner_count(doc);
	if (!(p = calloc(1, sizeof(*p))) ||
	    (n && !(p->v = calloc(n, sizeof(*p->v))))) {
		error = error_nomem();
		goto done;
	}
	for (i = 0; i < n; i++) {
		struct partner_entry *e = &p->v[p->n];

		plan_partner_at(&pp, doc, i);
		p->n++;
		e->email = dup_or_empty(pp.email);
		e->name = dup_or_empty(pp.name);
		e->organisation = dup_or_empty(pp.organisation);
		if (!e->email || !e->name || !e->organisation) {
			error = error_nomem();
			goto done;
		}
		e->coordinator = pp.coordinator;
		e->revoked = pp.revoked;
		/* A key that does not parse can sign nothing. */
		e->has_pk = pp.key && key_parse_public_line(e->pk, pp.key) == 0;
		error_clear();
	}
	*out = p;
	p = NULL;
done:
	verify_partners_free(p);
	doc_free(doc);
	return error;
}

int verify_partners_at(
	struct verify_partners **out,
	git_repository *repo,
	const git_oid *id)
{
	git_commit *commit = NULL;
	git_tree *tree = NULL;
	git_blob *blob = NULL;
	const git_tree_entry *e;
	char hex[GIT_OID_HEXSZ + 1];
	int error;

	git_oid_tostr(hex, sizeof(hex), id);
	if ((error = git_commit_lookup(&commit, repo, id)) < 0 ||
	    (error = git_commit_tree(&tree, commit)) < 0) {
		error = git_fail(error, "cannot read commit %s", hex);
		goto done;
	}
	if (!(e = git_tree_entry_byname(tree, PARTNERS_PATH))) {
		error = error_set(
			ERROR_NOTFOUND, "commit %s has no partners.yaml", hex);
		goto done;
	}
	if (git_tree_entry_filemode(e) != GIT_FILEMODE_BLOB &&
	    git_tree_entry_filemode(e) != GIT_FILEMODE_BLOB_EXECUTABLE) {
		error = error_set(
			ERROR_INVALID,
			"partners.yaml of commit %s is not a regular file",
			hex);
		goto done;
	}
	if ((error = git_blob_lookup(&blob, repo, git_tree_entry_id(e))) < 0) {
		error = git_fail(error, "cannot read partners.yaml of %s", hex);
		goto done;
	}
	error = verify_partners_parse(
		out, git_blob_rawcontent(blob), (size_t)git_blob_rawsize(blob),
		PARTNERS_PATH);
done:
	git_blob_free(blob);
	git_tree_free(tree);
	git_commit_free(commit);
	return error;
}

int verify_revoked_keys(
	unsigned char (**out)[KEY_PUBLIC_BYTES],
	size_t *out_n,
	const struct verify_partners *partners)
{
	unsigned char(*keys)[KEY_PUBLIC_BYTES] = NULL;
	size_t i, n = 0;

	for (i = 0; i < partners->n; i++)
		if (partners->v[i].revoked && partners->v[i].has_pk)
			n++;
	if (n && !(keys = malloc(n * sizeof(*keys))))
		return error_nomem();
	n = 0;
	for (i = 0; i < partners->n; i++)
		if (partners->v[i].revoked && partners->v[i].has_pk)
			memcpy(keys[n++], partners->v[i].pk, KEY_PUBLIC_BYTES);
	*out = keys;
	*out_n = n;
	return 0;
}

/* ---- commit headers ----------------------------------------------------- */

#define INLINE_PARENTS 2

struct commit_info {
	git_oid tree;
	size_t nparents;
	git_oid inline_parents[INLINE_PARENTS];
	git_oid *parents; /* inline_parents or malloc'd */
	const char *author_email; /* points into the payload */
	size_t author_email_len;
};

static void commit_info_release(struct commit_info *info)
{
	if (info->parents && info->parents != info->inline_parents)
		free(info->parents);
	info->parents = NULL;
}

/* "<key> <40 hex>\n" at *p (within end): the id, and *p moved past. */
static int
header_oid(git_oid *out, const char **p, const char *end, const char *key)
{
	size_t klen = strlen(key);

	if ((size_t)(end - *p) < klen + 1 + GIT_OID_HEXSZ + 1 ||
	    memcmp(*p, key, klen) != 0 || (*p)[klen] != ' ' ||
	    (*p)[klen + 1 + GIT_OID_HEXSZ] != '\n')
		return -1;
	if (git_oid_fromstrn(out, *p + klen + 1, GIT_OID_HEXSZ) < 0)
		return -1;
	*p += klen + 1 + GIT_OID_HEXSZ + 1;
	return 0;
}

/*
 * Parse the headers plansync relies on from a commit payload, strictly in
 * git's order: tree, parents, author.  -1 if malformed, ERROR_NOMEM.
 */
static int commit_parse(struct commit_info *info, const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len, *q, *eol, *lt, *gt;
	size_t n = 0, i;
	git_oid tmp;

	memset(info, 0, sizeof(*info));
	if (header_oid(&info->tree, &p, end, "tree") < 0)
		return -1;
	for (q = p; header_oid(&tmp, &q, end, "parent") == 0;)
		n++;
	info->parents = info->inline_parents;
	if (n > INLINE_PARENTS &&
	    !(info->parents = malloc(n * sizeof(*info->parents))))
		return error_nomem();
	for (i = 0; i < n; i++)
		header_oid(&info->parents[i], &p, end, "parent");
	info->nparents = n;
	if ((size_t)(end - p) < 7 || memcmp(p, "author ", 7) != 0)
		return -1;
	if (!(eol = memchr(p, '\n', (size_t)(end - p))))
		return -1;
	/*
	 * Exactly one <email>: git reads the first <...>, libgit2 (log,
	 * blame) the last, so with two the signer could be checked against
	 * one email and credited under another.
	 */
	if (!(lt = memchr(p, '<', (size_t)(eol - p))) ||
	    !(gt = memchr(lt, '>', (size_t)(eol - lt))) ||
	    memchr(lt + 1, '<', (size_t)(eol - lt - 1)) ||
	    memchr(gt + 1, '>', (size_t)(eol - gt - 1)) ||
	    memchr(p, '>', (size_t)(lt - p)))
		return -1;
	/*
	 * log and blame print the author's name and email: no control
	 * characters (C0, DEL, C1 in UTF-8) that would reach a terminal.
	 */
	for (q = p; q < eol; q++)
		if ((unsigned char)*q < 0x20 || *q == 0x7F ||
		    ((unsigned char)*q == 0xC2 && q + 1 < eol &&
		     (unsigned char)q[1] >= 0x80 &&
		     (unsigned char)q[1] <= 0x9F))
			return -1;
	info->author_email = lt + 1;
	info->author_email_len = (size_t)(gt - lt - 1);
	return 0;
}

/* ---- the cache ------------------------------------------------------------
 */

enum pstate {
	PS_EMPTY = 0, /* free hash slot */
	PS_NONE, /* no partners.yaml in the tree */
	PS_BLOB, /* a regular file: blob id */
	PS_NOTFILE, /* a symlink, folder or submodule */
};

struct commit_slot {
	git_oid commit;
	git_oid blob;
	unsigned char state;
};

struct blob_slot {
	git_oid blob;
	int used;
	struct verify_partners *partners; /* NULL when invalid */
	char *error; /* why it is invalid */
};

struct verify_cache {
	struct commit_slot *commits;
	size_t ccap, cused;
	struct blob_slot *blobs;
	size_t bcap, bused;
};

static size_t oid_hash(const git_oid *id)
{
	uint64_t h;

	memcpy(&h, id->id, sizeof(h));
	return (size_t)h;
}

int verify_cache_new(struct verify_cache **out)
{
	struct verify_cache *c;

	if (!(c = calloc(1, sizeof(*c))))
		return error_nomem();
	*out = c;
	return 0;
}

void verify_cache_free(struct verify_cache *cache)
{
	size_t i;

	if (!cache)
		return;
	for (i = 0; i < cache->bcap; i++) {
		verify_partners_free(cache->blobs[i].partners);
		free(cache->blobs[i].error);
	}
	free(cache->blobs);
	free(cache->commits);
	free(cache);
}

static struct commit_slot *
commit_find(struct verify_cache *c, const git_oid *id)
{
	size_t i;

	if (!c->ccap)
		return NULL;
	for (i = oid_hash(id) & (c->ccap - 1); c->commits[i].state;
	     i = (i + 1) & (c->ccap - 1))
		if (git_oid_equal(&c->commits[i].commit, id))
			return &c->commits[i];
	return NULL;
}

static int commit_put(
	struct verify_cache *c,
	const git_oid *id,
	enum pstate state,
	const git_oid *blob)
{
	struct commit_slot *s;
	size_t i;

	if ((c->cused + 1) * 2 > c->ccap) {
		size_t ncap = c->ccap ? c->ccap * 2 : 1024, j;
		struct commit_slot *n = calloc(ncap, sizeof(*n));

		if (!n)
			return error_nomem();
		for (j = 0; j < c->ccap; j++) {
			if (!c->commits[j].state)
				continue;
			for (i = oid_hash(&c->commits[j].commit) & (ncap - 1);
			     n[i].state; i = (i + 1) & (ncap - 1))
				;
			n[i] = c->commits[j];
		}
		free(c->commits);
		c->commits = n;
		c->ccap = ncap;
	}
	for (i = oid_hash(id) & (c->ccap - 1); c->commits[i].state;
	     i = (i + 1) & (c->ccap - 1))
		if (git_oid_equal(&c->commits[i].commit, id))
			return 0;
	s = &c->commits[i];
	git_oid_cpy(&s->commit, id);
	if (blob)
		git_oid_cpy(&s->blob, blob);
	s->state = (unsigned char)state;
	c->cused++;
	return 0;
}

static struct blob_slot *blob_find(struct verify_cache *c, const git_oid *id)
{
	size_t i;

	if (!c->bcap)
		return NULL;
	for (i = oid_hash(id) & (c->bcap - 1); c->blobs[i].used;
	     i = (i + 1) & (c->bcap - 1))
		if (git_oid_equal(&c->blobs[i].blob, id))
			return &c->blobs[i];
	return NULL;
}

/* A new slot for blob id (not present); takes ownership of p and msg. */
static int blob_put(
	struct blob_slot **out,
	struct verify_cache *c,
	const git_oid *id,
	struct verify_partners *p,
	char *msg)
{
	size_t i;

	if ((c->bused + 1) * 2 > c->bcap) {
		size_t ncap = c->bcap ? c->bcap * 2 : 16, j;
		struct blob_slot *n = calloc(ncap, sizeof(*n));

		if (!n) {
			verify_partners_free(p);
			free(msg);
			return error_nomem();
		}
		for (j = 0; j < c->bcap; j++) {
			if (!c->blobs[j].used)
				continue;
			for (i = oid_hash(&c->blobs[j].blob) & (ncap - 1);
			     n[i].used; i = (i + 1) & (ncap - 1))
				;
			n[i] = c->blobs[j];
		}
		free(c->blobs);
		c->blobs = n;
		c->bcap = ncap;
	}
	for (i = oid_hash(id) & (c->bcap - 1); c->blobs[i].used;
	     i = (i + 1) & (c->bcap - 1))
		;
	git_oid_cpy(&c->blobs[i].blob, id);
	c->blobs[i].used = 1;
	c->blobs[i].partners = p;
	c->blobs[i].error = msg;
	c->bused++;
	*out = &c->blobs[i];
	return 0;
}

/* The parsed partners.yaml of blob id (cached), or its parse error. */
static int partners_load(
	struct blob_slot **out,
	struct verify_cache *c,
	git_repository *repo,
	const git_oid *id)
{
	git_blob *blob = NULL;
	struct verify_partners *p = NULL;
	char *msg = NULL;
	int error;

	if ((*out = blob_find(c, id)))
		return 0;
	if ((error = git_blob_lookup(&blob, repo, id)) < 0) {
		char hex[GIT_OID_HEXSZ + 1];

		git_oid_tostr(hex, sizeof(hex), id);
		error = git_fail(
			error, "cannot read partners.yaml blob %s", hex);
		goto done;
	}
	error = verify_partners_parse(
		&p, git_blob_rawcontent(blob), (size_t)git_blob_rawsize(blob),
		PARTNERS_PATH);
	if (error == ERROR_INVALID) {
		if (!(msg = strdup(error_message()))) {
			error = error_nomem();
			goto done;
		}
		error_clear();
	} else if (error < 0) {
		goto done;
	}
	error = blob_put(out, c, id, p, msg);
	p = NULL;
	msg = NULL;
done:
	git_blob_free(blob);
	return error;
}

/* The state of partners.yaml in tree id; remembered for commit. */
static int tree_state(
	enum pstate *state,
	git_oid *blob,
	struct verify_cache *c,
	git_repository *repo,
	const git_oid *commit,
	const git_oid *tree_id)
{
	git_tree *tree = NULL;
	const git_tree_entry *e;
	int error;

	if ((error = git_tree_lookup(&tree, repo, tree_id)) < 0) {
		char hex[GIT_OID_HEXSZ + 1];

		git_oid_tostr(hex, sizeof(hex), commit);
		error = git_fail(
			error, "cannot read the tree of commit %s", hex);
		goto done;
	}
	if (!(e = git_tree_entry_byname(tree, PARTNERS_PATH))) {
		*state = PS_NONE;
	} else if (
		git_tree_entry_filemode(e) == GIT_FILEMODE_BLOB ||
		git_tree_entry_filemode(e) == GIT_FILEMODE_BLOB_EXECUTABLE) {
		*state = PS_BLOB;
		git_oid_cpy(blob, git_tree_entry_id(e));
	} else {
		*state = PS_NOTFILE;
	}
	error = commit_put(c, commit, *state, *state == PS_BLOB ? blob : NULL);
done:
	git_tree_free(tree);
	return error;
}

/* The state of partners.yaml at commit id (cached, else read). */
static int commit_state(
	enum pstate *state,
	git_oid *blob,
	struct verify_cache *c,
	git_repository *repo,
	git_odb *odb,
	const git_oid *id)
{
	struct commit_slot *s;
	git_odb_object *obj = NULL;
	const char *p;
	git_oid tree;
	int error;

	if ((s = commit_find(c, id))) {
		*state = (enum pstate)s->state;
		git_oid_cpy(blob, &s->blob);
		return 0;
	}
	if ((error = git_odb_read(&obj, odb, id)) < 0) {
		char hex[GIT_OID_HEXSZ + 1];

		git_oid_tostr(hex, sizeof(hex), id);
		error = git_fail(error, "cannot read commit %s", hex);
		goto done;
	}
	p = git_odb_object_data(obj);
	if (git_odb_object_type(obj) != GIT_OBJECT_COMMIT ||
	    header_oid(&tree, &p, p + git_odb_object_size(obj), "tree") < 0) {
		char hex[GIT_OID_HEXSZ + 1];

		git_oid_tostr(hex, sizeof(hex), id);
		error = error_set(
			ERROR_INVALID, "object %s is not a valid commit", hex);
		goto done;
	}
	error = tree_state(state, blob, c, repo, id, &tree);
done:
	git_odb_object_free(obj);
	return error;
}

/* ---- the rules ---------------------------------------------------------- */

static int key_revoked_locally(
	const struct verify_options *opts,
	const unsigned char pk[KEY_PUBLIC_BYTES])
{
	size_t i;

	if (!opts)
		return 0;
	for (i = 0; i < opts->nrevoked; i++)
		if (memcmp(opts->revoked[i], pk, KEY_PUBLIC_BYTES) == 0)
			return 1;
	return 0;
}

/* One commit on its way through the checks. */
struct job {
	struct verify_result res;
	int bad; /* verdict decided before the signature check */
	char *payload, *sig;
	size_t payload_len, sig_len;
	struct commit_info info;
	int sig_error; /* what sshsig_verify returned */
	unsigned char pk[KEY_PUBLIC_BYTES];
};

static void job_release(struct job *j)
{
	commit_info_release(&j->info);
	free(j->payload);
	free(j->sig);
	j->payload = j->sig = NULL;
}

/*
 * Split and parse a raw commit.  The verdict is set, and j->bad, when the
 * commit is already bad (malformed, unsigned).
 */
static int job_split(struct job *j, const char *raw, size_t raw_len)
{
	int error;

	j->bad = 1;
	error = sshsig_commit_split(
		&j->payload, &j->payload_len, &j->sig, &j->sig_len, raw,
		raw_len);
	if (error == ERROR_VERIFY) {
		set_bad(&j->res, VERIFY_MALFORMED, "%s", error_message());
		error_clear();
		return 0;
	}
	if (error < 0)
		return error;
	if (!j->sig) {
		set_bad(&j->res, VERIFY_UNSIGNED,
			"not signed (no gpgsig header)");
		return 0;
	}
	if ((error = commit_parse(&j->info, j->payload, j->payload_len)) < 0) {
		if (error != -1)
			return error;
		set_bad(&j->res, VERIFY_MALFORMED,
			"commit headers are not tree, parents, author "
			"with one <email> and no control characters");
		return 0;
	}
	j->bad = 0;
	return 0;
}

/* Read commit id and split it. */
static int job_prepare(struct job *j, git_odb *odb, const git_oid *id)
{
	git_odb_object *obj = NULL;
	int error;

	memset(j, 0, sizeof(*j));
	result_init(&j->res, id);
	if ((error = git_odb_read(&obj, odb, id)) < 0) {
		error = git_fail(error, "cannot read commit %s", j->res.id);
		goto done;
	}
	if (git_odb_object_type(obj) != GIT_OBJECT_COMMIT) {
		error = error_set(
			ERROR_INVALID, "object %s is not a commit", j->res.id);
		goto done;
	}
	error = job_split(
		j, git_odb_object_data(obj), git_odb_object_size(obj));
done:
	if (error < 0)
		job_release(j);
	git_odb_object_free(obj);
	return error;
}

/*
 * The Ed25519 check, the costly part, free of any shared state but the
 * error message sshsig_verify sets when it fails: verify_range runs this
 * on several threads and never reads that message (check_signature
 * verifies a failed signature again, on one thread, for its reason).
 */
static void job_crypto(struct job *j)
{
	if (!j->bad)
		j->sig_error = sshsig_verify(
			j->pk, j->sig, j->sig_len, j->payload, j->payload_len);
}

/*
 * Signature, key and author rules.  trust NULL: untrusted, and `where`
 * says why; else `where` names the trust list ("partners.yaml of parent
 * 1a2b3c4").
 */
static int check_signature(
	struct job *j,
	const struct verify_partners *trust,
	const char *where,
	const struct verify_options *opts)
{
	struct verify_result *out = &j->res;
	const struct commit_info *info = &j->info;
	const struct partner_entry *match = NULL, *e;
	int error, revoked = 0;
	size_t i;

	if (j->sig_error < 0 && (error = sshsig_verify(
					 j->pk, j->sig, j->sig_len, j->payload,
					 j->payload_len)) < 0) {
		if (error != ERROR_VERIFY)
			return error;
		set_bad(out, VERIFY_BAD_SIGNATURE, "%s", error_message());
		error_clear();
		return 0;
	}
	memcpy(out->key, j->pk, KEY_PUBLIC_BYTES);
	out->has_key = 1;
	key_fingerprint(out->fingerprint, out->key);
	if (!trust) {
		set_bad(out, VERIFY_UNKNOWN_KEY, "key %s cannot be trusted: %s",
			out->fingerprint, where);
		return 0;
	}
	/* The entry for this key, preferring the author's own; revoked wins. */
	for (i = 0; i < trust->n; i++) {
		e = &trust->v[i];
		if (!e->has_pk ||
		    memcmp(e->pk, out->key, KEY_PUBLIC_BYTES) != 0)
			continue;
		if (e->revoked) {
			revoked = 1;
			match = e;
			break;
		}
		if (!match || ascii_casecmp_n(
				      info->author_email,
				      info->author_email_len, e->email) == 0)
			match = e;
	}
	if (!match) {
		set_bad(out, VERIFY_UNKNOWN_KEY, "key %s is not listed in %s",
			out->fingerprint, where);
		return 0;
	}
	out->email = match->email;
	out->name = match->name;
	out->organisation = match->organisation;
	out->coordinator = match->coordinator;
	if (revoked) {
		set_bad(out, VERIFY_REVOKED, "key %s of %s is revoked in %s",
			out->fingerprint, match->email, where);
		return 0;
	}
	if (key_revoked_locally(opts, out->key)) {
		set_bad(out, VERIFY_REVOKED,
			"key %s of %s is revoked in the local partners.yaml",
			out->fingerprint, match->email);
		return 0;
	}
	if (ascii_casecmp_n(
		    info->author_email, info->author_email_len, match->email)) {
		set_bad(out, VERIFY_WRONG_AUTHOR,
			"author <%.*s> is not the signer: key %s belongs to %s",
			(int)(info->author_email_len > 200 ?
				      200 :
				      info->author_email_len),
			info->author_email, out->fingerprint, match->email);
		return 0;
	}
	return 0;
}

int verify_signature(
	struct verify_result *out,
	const char *raw,
	size_t raw_len,
	const struct verify_partners *trust,
	const struct verify_options *opts)
{
	struct job j;
	int error;

	memset(&j, 0, sizeof(j));
	result_init(&j.res, NULL);
	if ((error = job_split(&j, raw, raw_len)) < 0 || j.bad)
		goto done;
	job_crypto(&j);
	error = check_signature(&j, trust, "the trusted partners", opts);
done:
	*out = j.res;
	job_release(&j);
	return error;
}

/* The trust list in a partners.yaml state, or a reason in why. */
static int trust_of(
	const struct verify_partners **out,
	char *why,
	size_t why_size,
	struct verify_cache *c,
	git_repository *repo,
	enum pstate state,
	const git_oid *blob,
	const char *where)
{
	struct blob_slot *s;
	int error;

	*out = NULL;
	if (state == PS_NONE) {
		snprintf(why, why_size, "%s has no partners.yaml", where);
		return 0;
	}
	if (state == PS_NOTFILE) {
		snprintf(
			why, why_size,
			"partners.yaml of %s is not a regular file", where);
		return 0;
	}
	if ((error = partners_load(&s, c, repo, blob)) < 0)
		return error;
	if (!s->partners)
		snprintf(
			why, why_size, "partners.yaml of %s is invalid: %s",
			where, s->error);
	*out = s->partners;
	return 0;
}

/* Every rule but the split, on a prepared job whose crypto ran. */
static int job_rules(
	struct job *j,
	git_repository *repo,
	git_odb *odb,
	const struct verify_options *opts,
	struct verify_cache *cache)
{
	struct verify_result *out = &j->res;
	const struct commit_info *info = &j->info;
	const struct verify_partners *trust = NULL;
	enum pstate own = PS_NONE, ps = PS_NONE;
	git_oid own_blob, pblob;
	char where[64], why[VERIFY_REASON_MAX], hex[SHORT_ID + 1];
	int error, changed;
	size_t i;

	if (j->bad)
		return 0;
	memset(&own_blob, 0, sizeof(own_blob));
	memset(&pblob, 0, sizeof(pblob));
	if ((error = tree_state(
		     &own, &own_blob, cache, repo, &out->commit, &info->tree)) <
	    0)
		return error;
	why[0] = '\0';
	if (info->nparents == 0) {
		snprintf(where, sizeof(where), "the root commit itself");
		if ((error = trust_of(
			     &trust, why, sizeof(why), cache, repo, own,
			     &own_blob, where)) < 0)
			return error;
	} else {
		short_id(hex, &info->parents[0]);
		snprintf(where, sizeof(where), "parent %s", hex);
		if ((error = commit_state(
			     &ps, &pblob, cache, repo, odb,
			     &info->parents[0])) < 0 ||
		    (error = trust_of(
			     &trust, why, sizeof(why), cache, repo, ps, &pblob,
			     where)) < 0)
			return error;
	}
	if (trust)
		snprintf(why, sizeof(why), "partners.yaml of %s", where);
	if ((error = check_signature(j, trust, why, opts)) < 0 ||
	    out->verdict != VERIFY_GOOD)
		return error;

	if (info->nparents == 0) {
		if (!out->coordinator)
			set_bad(out, VERIFY_NOT_COORDINATOR,
				"root commit signed by %s, who is not a "
				"coordinator in its partners.yaml",
				out->email);
		return 0;
	}
	/* Changed: differs from every parent (SPEC.md 3; see verify.h). */
	changed = 1;
	for (i = 0; i < info->nparents && changed; i++) {
		if (i > 0 && (error = commit_state(
				      &ps, &pblob, cache, repo, odb,
				      &info->parents[i])) < 0)
			return error;
		if (ps == own &&
		    (own != PS_BLOB || git_oid_equal(&pblob, &own_blob)))
			changed = 0;
	}
	if (!changed)
		return 0;
	if (!out->coordinator) {
		set_bad(out, VERIFY_NOT_COORDINATOR,
			"changes partners.yaml, but %s is not a coordinator in "
			"partners.yaml of %s",
			out->email, where);
		return 0;
	}
	if (own == PS_NONE) {
		set_bad(out, VERIFY_MALFORMED, "removes partners.yaml");
	} else if (own == PS_NOTFILE) {
		set_bad(out, VERIFY_MALFORMED,
			"partners.yaml is not a regular file");
	} else {
		struct blob_slot *s;

		if ((error = partners_load(&s, cache, repo, &own_blob)) < 0)
			return error;
		if (!s->partners)
			set_bad(out, VERIFY_MALFORMED, "invalid %s", s->error);
	}
	return 0;
}

int verify_commit(
	struct verify_result *out,
	git_repository *repo,
	const git_oid *id,
	const struct verify_options *opts,
	struct verify_cache *cache)
{
	git_odb *odb = NULL;
	struct job j;
	int error;

	memset(&j, 0, sizeof(j));
	result_init(out, id);
	if ((error = git_repository_odb(&odb, repo)) < 0) {
		error = git_fail(error, "cannot open the object database");
		goto done;
	}
	if ((error = job_prepare(&j, odb, id)) < 0)
		goto done;
	job_crypto(&j);
	if ((error = job_rules(&j, repo, odb, opts, cache)) < 0)
		goto done;
	*out = j.res;
done:
	job_release(&j);
	git_odb_free(odb);
	return error;
}

/* ---- history ------------------------------------------------------------ */

#define BATCH 256 /* commits read ahead, their signatures checked at once */
#define MAX_THREADS 8

/*
 * The jobs go to whichever thread is free next, not in fixed shares: a
 * thread that loses its core for a while (to the index check or the heap
 * warming a merge runs alongside, or to another program) then leaves
 * its work to the others instead of holding them all up at the join.
 */
struct crypto_share {
	struct job *jobs;
	size_t n;
	atomic_size_t next;
};

static void *crypto_worker(void *arg)
{
	struct crypto_share *s = arg;
	size_t i;

	while ((i = atomic_fetch_add(&s->next, 1)) < s->n)
		job_crypto(&s->jobs[i]);
	return NULL;
}

/* Check the signatures of n jobs, on up to nthreads threads. */
static void run_crypto(struct job *jobs, size_t n, size_t nthreads)
{
	pthread_t th[MAX_THREADS];
	struct crypto_share share;
	int started[MAX_THREADS];
	size_t k;

	if (nthreads > n / 8)
		nthreads = n / 8; /* not worth a thread for a few */
	share.jobs = jobs;
	share.n = n;
	atomic_init(&share.next, 0);
	for (k = 1; k < nthreads; k++)
		started[k] = pthread_create(
				     &th[k], NULL, crypto_worker, &share) == 0;
	crypto_worker(&share);
	for (k = 1; k < nthreads; k++)
		if (started[k])
			pthread_join(th[k], NULL);
}

static size_t thread_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (size_t)n;
}

static int check_merge(struct verify_result *r, git_repository *repo);

/*
 * 1 if the two parents of a merge hold different partners.yaml: then which
 * one the merge keeps matters, and taking either unchanged is no change
 * for job_rules (so needs no coordinator) even where the field merge would
 * keep the other side's revocation or role change.
 */
static int partners_differ(
	int *out,
	struct verify_cache *cache,
	git_repository *repo,
	git_odb *odb,
	const git_oid parents[2])
{
	enum pstate s1, s2;
	git_oid b1, b2;
	int error;

	memset(&b1, 0, sizeof(b1));
	memset(&b2, 0, sizeof(b2));
	if ((error = commit_state(&s1, &b1, cache, repo, odb, &parents[0])) <
		    0 ||
	    (error = commit_state(&s2, &b2, cache, repo, odb, &parents[1])) < 0)
		return error;
	*out = s1 != s2 || (s1 == PS_BLOB && !git_oid_equal(&b1, &b2));
	return 0;
}

static int walk_verify(
	git_repository *repo,
	git_revwalk *walk,
	const struct verify_options *opts,
	struct verify_cache *cache,
	int max_roots,
	int check_merges,
	verify_cb cb,
	void *payload)
{
	struct verify_cache *own = NULL;
	struct job *jobs = NULL;
	int roots = 0;
	git_odb *odb = NULL;
	size_t n = 0, i, nthreads = thread_count();
	git_oid id;
	int error = 0, walked = 0;

	if (!cache) {
		if ((error = verify_cache_new(&own)) < 0)
			goto done;
		cache = own;
	}
	if (!(jobs = calloc(BATCH, sizeof(*jobs)))) {
		error = error_nomem();
		goto done;
	}
	if ((error = git_repository_odb(&odb, repo)) < 0) {
		error = git_fail(error, "cannot open the object database");
		goto done;
	}
	while (!walked) {
		for (n = 0; n < BATCH; n++) {
			if ((error = git_revwalk_next(&id, walk)) ==
			    GIT_ITEROVER) {
				walked = 1;
				break;
			}
			if (error < 0) {
				error = git_fail(
					error, "cannot walk the history");
				goto done;
			}
			if ((error = job_prepare(&jobs[n], odb, &id)) < 0)
				goto done;
		}
		run_crypto(jobs, n, nthreads);
		for (i = 0; i < n; i++) {
			struct verify_result *r = &jobs[i].res;

			if ((error = job_rules(
				     &jobs[i], repo, odb, opts, cache)) < 0)
				goto done;
			if (r->verdict == VERIFY_GOOD &&
			    jobs[i].info.nparents == 0 && max_roots >= 0 &&
			    roots++ >= max_roots)
				set_bad(r, VERIFY_UNKNOWN_KEY,
					"%s root commit: only its own "
					"partners.yaml vouches for its signer "
					"%s",
					max_roots ? "a second" :
						    "an untrusted (new)",
					r->fingerprint);
			if (check_merges && r->verdict == VERIFY_GOOD &&
			    jobs[i].info.nparents == 2) {
				int differ = 0;

				if ((error = partners_differ(
					     &differ, cache, repo, odb,
					     jobs[i].info.parents)) < 0 ||
				    (differ &&
				     (error = check_merge(r, repo)) < 0))
					goto done;
			}
			job_release(&jobs[i]);
			if (cb) {
				if ((error = cb(r, payload)) != 0)
					goto done;
			} else if (r->verdict != VERIFY_GOOD) {
				error = error_set(
					ERROR_VERIFY, "commit %.*s %s: %s",
					SHORT_ID, r->id,
					verify_verdict_name(r->verdict),
					r->reason);
				goto done;
			}
		}
	}
	error = 0;
	n = 0;
done:
	for (i = 0; jobs && i < n; i++)
		job_release(&jobs[i]);
	free(jobs);
	git_odb_free(odb);
	verify_cache_free(own);
	return error;
}

static int walk_new(git_revwalk **out, git_repository *repo)
{
	int error;

	if ((error = git_revwalk_new(out, repo)) < 0)
		return git_fail(error, "cannot walk the history");
	if ((error = git_revwalk_sorting(
		     *out, GIT_SORT_TOPOLOGICAL | GIT_SORT_REVERSE)) < 0) {
		git_revwalk_free(*out);
		*out = NULL;
		return git_fail(error, "cannot walk the history");
	}
	return 0;
}

int verify_range(
	git_repository *repo,
	const git_oid *tips,
	size_t ntips,
	const git_oid *hide,
	size_t nhide,
	const struct verify_options *opts,
	struct verify_cache *cache,
	verify_cb cb,
	void *payload)
{
	git_revwalk *walk = NULL;
	char hex[GIT_OID_HEXSZ + 1];
	size_t i, j;
	int max_roots = 0;
	int error;

	if ((error = walk_new(&walk, repo)) < 0)
		goto done;
	for (i = 0; i < ntips; i++)
		if ((error = git_revwalk_push(walk, &tips[i])) < 0) {
			git_oid_tostr(hex, sizeof(hex), &tips[i]);
			error = git_fail(error, "cannot walk from %s", hex);
			goto done;
		}
	for (i = 0; i < nhide; i++)
		if ((error = git_revwalk_hide(walk, &hide[i])) < 0) {
			git_oid_tostr(hex, sizeof(hex), &hide[i]);
			error = git_fail(error, "cannot hide %s", hex);
			goto done;
		}
	/*
	 * A root vouches for itself (its own partners.yaml), so one merged
	 * into a plan's history could name any signer a coordinator under any
	 * email.  A plan's history has one root (merges of unrelated plans
	 * are refused): a tip that builds on trusted (hidden) commits may
	 * bring none, any other single tip at most one.
	 */
	max_roots = ntips == 1 ? 1 : -1; /* one history has one root */
	for (i = 0; i < ntips && max_roots != 0; i++)
		for (j = 0; j < nhide && max_roots != 0; j++)
			if (git_oid_equal(&tips[i], &hide[j]) ||
			    git_graph_descendant_of(repo, &tips[i], &hide[j]) ==
				    1)
				max_roots = 0;
	error = walk_verify(repo, walk, opts, cache, max_roots, 1, cb, payload);
done:
	git_revwalk_free(walk);
	return error;
}

struct history_ctx {
	size_t total, bad;
	verify_cb cb;
	void *payload;
	git_repository *repo;
};

/*
 * A well-signed merge must also be explained by its parents (SPEC.md 4):
 * recompute it with the field merge and turn a value neither parent, a
 * conflict rule nor a resolution explains into a merge-edit verdict.
 */
static int check_merge(struct verify_result *r, git_repository *repo)
{
	struct mergecheck_finding *f = NULL;
	size_t n = 0;
	int error;

	if ((error = mergecheck_commit(&f, &n, repo, &r->commit)) < 0)
		return error;
	if (n > 0) {
		r->verdict = VERIFY_MERGE_EDIT;
		snprintf(
			r->reason, sizeof(r->reason), "%s%s%s: %s%s", f[0].path,
			*f[0].field ? " " : "", f[0].field, f[0].reason,
			n > 1 ? " (and more)" : "");
	}
	mergecheck_findings_free(f, n);
	return 0;
}

static int history_cb(const struct verify_result *r, void *payload)
{
	struct history_ctx *h = payload;
	struct verify_result checked;
	int error;

	if (r->verdict == VERIFY_GOOD) {
		checked = *r;
		if ((error = check_merge(&checked, h->repo)) < 0)
			return error;
		r = &checked;
	}
	h->total++;
	if (r->verdict != VERIFY_GOOD)
		h->bad++;
	return h->cb ? h->cb(r, h->payload) : 0;
}

/* Push HEAD and every ref's commit (not refs/stash nor refs/notes/). */
static int push_all(git_revwalk *walk, git_repository *repo)
{
	git_reference_iterator *it = NULL;
	git_reference *ref = NULL;
	git_object *obj = NULL;
	git_oid head;
	const char *name;
	int error;

	if (git_reference_name_to_id(&head, repo, "HEAD") == 0 &&
	    (error = git_revwalk_push(walk, &head)) < 0) {
		error = git_fail(error, "cannot walk from HEAD");
		goto done;
	}
	if ((error = git_reference_iterator_new(&it, repo)) < 0) {
		error = git_fail(error, "cannot list the refs");
		goto done;
	}
	while ((error = git_reference_next(&ref, it)) == 0) {
		name = git_reference_name(ref);
		if (strcmp(name, "refs/stash") != 0 &&
		    strncmp(name, "refs/notes/", 11) != 0 &&
		    git_reference_peel(&obj, ref, GIT_OBJECT_COMMIT) == 0 &&
		    (error = git_revwalk_push(walk, git_object_id(obj))) < 0) {
			error = git_fail(error, "cannot walk from '%s'", name);
			goto done;
		}
		git_object_free(obj);
		obj = NULL;
		git_reference_free(ref);
		ref = NULL;
	}
	if (error == GIT_ITEROVER)
		error = 0;
	else
		error = git_fail(error, "cannot list the refs");
done:
	git_object_free(obj);
	git_reference_free(ref);
	git_reference_iterator_free(it);
	return error;
}

int verify_history(
	size_t *out_total,
	size_t *out_bad,
	const char *path,
	const char *rev,
	int all,
	verify_cb cb,
	void *payload)
{
	git_repository *repo = NULL;
	git_revwalk *walk = NULL;
	git_object *obj = NULL, *commit = NULL;
	struct history_ctx h = { 0, 0, cb, payload, NULL };
	git_oid head;
	int error;

	git_libgit2_init();
	if ((error = git_repository_open_ext(&repo, path, 0, NULL)) < 0) {
		char cwd[4096];

		if (strcmp(path, ".") == 0 && getcwd(cwd, sizeof(cwd)))
			path = cwd;
		error = error_set(
			ERROR_NOTFOUND, "'%s' is not in a git repository",
			path);
		goto done;
	}
	if ((error = walk_new(&walk, repo)) < 0)
		goto done;
	if (all) {
		if ((error = push_all(walk, repo)) < 0)
			goto done;
	} else if (rev) {
		if (git_revparse_single(&obj, repo, rev) < 0 ||
		    git_object_peel(&commit, obj, GIT_OBJECT_COMMIT) < 0) {
			error = error_set(
				ERROR_NOTFOUND, "'%s' does not name a commit",
				rev);
			goto done;
		}
		if ((error = git_revwalk_push(walk, git_object_id(commit))) <
		    0) {
			error = git_fail(error, "cannot walk from '%s'", rev);
			goto done;
		}
	} else if (git_reference_name_to_id(&head, repo, "HEAD") == 0) {
		if ((error = git_revwalk_push(walk, &head)) < 0) {
			error = git_fail(error, "cannot walk from HEAD");
			goto done;
		}
	} else {
		error_clear(); /* unborn HEAD: no commits */
		goto done;
	}
	h.repo = repo;
	error = walk_verify(repo, walk, NULL, NULL, 1, 0, history_cb, &h);
done:
	*out_total = h.total;
	*out_bad = h.bad;
	git_object_free(commit);
	git_object_free(obj);
	git_revwalk_free(walk);
	git_repository_free(repo);
	git_libgit2_shutdown();
	return error;
}
