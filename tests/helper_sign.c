/*
 * tests/helper_sign.c: throwaway repositories, keys and signed (or broken)
 * commits for tests (see helper_sign.h).
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include "helper_sign.h"

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "core/error.h"
#include "core/sshsig.h"

#define BASE_TIME 1767225600LL

int helper_sign_repo_new(git_repository **out, char *path, size_t size)
{
	git_repository_init_options opts;
	const char *tmp = getenv("TMPDIR");
	int n;

	git_libgit2_init();
	n = snprintf(
		path, size, "%s/plansync-test.XXXXXX",
		tmp && *tmp ? tmp : "/tmp");
	if (n < 0 || (size_t)n >= size || !mkdtemp(path))
		return -1;
	git_repository_init_options_init(
		&opts, GIT_REPOSITORY_INIT_OPTIONS_VERSION);
	opts.flags = GIT_REPOSITORY_INIT_MKPATH;
	opts.initial_head = "main";
	return git_repository_init_ext(out, path, &opts);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void helper_sign_rmrf(const char *path)
{
	if (path && *path)
		nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int helper_sign_key_new(
	struct key **out,
	const char *name,
	const char *email,
	const char *org)
{
	char home[256];
	const char *tmp = getenv("TMPDIR");
	int error;

	snprintf(
		home, sizeof(home), "%s/plansync-key.XXXXXX",
		tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(home))
		return -1;
	/* key_generate wants to create the folder's files itself. */
	if ((error = key_generate(home, name, email, org, NULL, NULL)) == 0)
		error = key_load(out, home, NULL, NULL);
	helper_sign_rmrf(home);
	return error;
}

void helper_sign_key_line(char *buf, size_t size, const struct key *key)
{
	key_public_line(buf, size, key_public(key), key_email(key));
}

/* Append to a growing malloc'd string; NULL stays NULL. */
static char *append(char *s, const char *add)
{
	size_t a = s ? strlen(s) : 0, b = strlen(add);
	char *n = realloc(s, a + b + 1);

	if (!n) {
		free(s);
		return NULL;
	}
	memcpy(n + a, add, b + 1);
	return n;
}

char *helper_sign_partners_yaml(const struct helper_sign_partner *p, size_t n)
{
	char *s = calloc(1, 1), line[1024], keyline[KEY_LINE_MAX];
	size_t i;

	s = append(s, n ? "partners:\n" : "partners: []\n");
	for (i = 0; i < n && s; i++) {
		if (p[i].key_line)
			snprintf(keyline, sizeof(keyline), "%s", p[i].key_line);
		else
			helper_sign_key_line(
				keyline, sizeof(keyline), p[i].key);
		snprintf(
			line, sizeof(line),
			"  - email: \"%s\"\n"
			"    name: \"%s\"\n"
			"    organisation: \"%s\"\n"
			"    role: %s\n"
			"    key: \"%s\"\n"
			"    revoked: %s\n",
			p[i].email ? p[i].email : key_email(p[i].key),
			p[i].key ? key_name(p[i].key) : "Someone",
			p[i].key ? key_org(p[i].key) : "Org",
			p[i].role ? p[i].role : "editor", keyline,
			p[i].revoked ? "true" : "false");
		s = append(s, line);
	}
	return s;
}

int helper_sign_tree_put(
	git_oid *out,
	git_repository *repo,
	const git_oid *base,
	const char *path,
	const char *content)
{
	git_tree *tree = NULL;
	git_treebuilder *tb = NULL;
	const git_tree_entry *e;
	const char *slash = strchr(path, '/');
	char name[256];
	git_oid id, sub;
	size_t len = slash ? (size_t)(slash - path) : strlen(path);
	int error;

	if (len >= sizeof(name))
		return -1;
	memcpy(name, path, len);
	name[len] = '\0';
	if (base && (error = git_tree_lookup(&tree, repo, base)) < 0)
		goto done;
	if ((error = git_treebuilder_new(&tb, repo, tree)) < 0)
		goto done;
	if (!slash) {
		if (content) {
			if ((error = git_blob_create_from_buffer(
				     &id, repo, content, strlen(content))) <
				    0 ||
			    (error = git_treebuilder_insert(
				     NULL, tb, name, &id, GIT_FILEMODE_BLOB)) <
				    0)
				goto done;
		} else if (git_treebuilder_get(tb, name)) {
			if ((error = git_treebuilder_remove(tb, name)) < 0)
				goto done;
		}
	} else {
		e = git_treebuilder_get(tb, name);
		if ((error = helper_sign_tree_put(
			     &sub, repo,
			     e && git_tree_entry_type(e) == GIT_OBJECT_TREE ?
				     git_tree_entry_id(e) :
				     NULL,
			     slash + 1, content)) < 0)
			goto done;
		if ((error = git_treebuilder_insert(
			     NULL, tb, name, &sub, GIT_FILEMODE_TREE)) < 0)
			goto done;
	}
	error = git_treebuilder_write(out, tb);
done:
	git_treebuilder_free(tb);
	git_tree_free(tree);
	return error;
}

int helper_sign_commit_tree(
	git_oid *out,
	git_repository *repo,
	const git_oid *id)
{
	git_commit *c = NULL;
	int error;

	if ((error = git_commit_lookup(&c, repo, id)) == 0)
		git_oid_cpy(out, git_commit_tree_id(c));
	git_commit_free(c);
	return error;
}

/* ---- the helper's own SSHSIG writer ------------------------------------ */

static size_t put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
	return 4;
}

static size_t put_string(unsigned char *p, const void *s, size_t len)
{
	put_u32(p, (uint32_t)len);
	memcpy(p + 4, s, len);
	return 4 + len;
}

static size_t put_cstring(unsigned char *p, const char *s)
{
	return put_string(p, s, strlen(s));
}

static int own_sshsig(
	char **out,
	const struct key *key,
	const char *payload,
	size_t len,
	unsigned flags)
{
	unsigned char h[crypto_hash_sha512_BYTES], sd[256], sig[64];
	unsigned char blob[512], pkblob[KEY_BLOB_BYTES], field[128];
	const char *signed_alg = "sha512", *outer_alg = "sha512";
	const char *ns = flags & HELPER_SIGN_WRONG_NAMESPACE ? "file" : "git";
	char b64[1024], *armor, *p;
	size_t n = 0, fn, b64len, i, chunk;
	int error;

	if (flags & HELPER_SIGN_SHA256)
		signed_alg = outer_alg = "sha256";
	if (flags & HELPER_SIGN_HASH_MISMATCH)
		outer_alg = "sha256";
	if (strcmp(signed_alg, "sha512") == 0)
		crypto_hash_sha512(h, (const unsigned char *)payload, len);
	else
		crypto_hash_sha256(h, (const unsigned char *)payload, len);
	memcpy(sd, "SSHSIG", 6);
	n = 6;
	n += put_cstring(sd + n, ns);
	n += put_string(sd + n, "", 0);
	n += put_cstring(sd + n, signed_alg);
	n += put_string(
		sd + n, h,
		strcmp(signed_alg, "sha512") == 0 ? crypto_hash_sha512_BYTES :
						    crypto_hash_sha256_BYTES);
	if ((error = key_sign(sig, key, sd, n)) < 0)
		return error;
	if (flags & HELPER_SIGN_TAMPER_SIG)
		sig[17] ^= 0x04;
	key_public_blob(pkblob, key_public(key));
	fn = put_cstring(field, "ssh-ed25519");
	fn += put_string(field + fn, sig, 64);
	memcpy(blob, "SSHSIG", 6);
	n = 6;
	n += put_u32(blob + n, 1);
	n += put_string(blob + n, pkblob, sizeof(pkblob));
	n += put_cstring(blob + n, ns);
	n += put_string(blob + n, "", 0);
	n += put_cstring(blob + n, outer_alg);
	n += put_string(blob + n, field, fn);
	sodium_bin2base64(
		b64, sizeof(b64), blob, n, sodium_base64_VARIANT_ORIGINAL);
	b64len = strlen(b64);
	if (!(armor = malloc(b64len + b64len / 70 + 128)))
		return ERROR_NOMEM;
	p = armor;
	p += snprintf(p, 64, "-----BEGIN SSH SIGNATURE-----\n");
	for (i = 0; i < b64len; i += chunk) {
		chunk = b64len - i < 70 ? b64len - i : 70;
		memcpy(p, b64 + i, chunk);
		p += chunk;
		*p++ = '\n';
	}
	snprintf(p, 64, "-----END SSH SIGNATURE-----");
	*out = armor;
	return 0;
}

static int sign_payload(
	char **out,
	const struct key *key,
	const char *payload,
	size_t len,
	unsigned flags)
{
	if (flags &
	    (HELPER_SIGN_OWN | HELPER_SIGN_SHA256 | HELPER_SIGN_HASH_MISMATCH |
	     HELPER_SIGN_TAMPER_SIG | HELPER_SIGN_WRONG_NAMESPACE))
		return own_sshsig(out, key, payload, len, flags);
	return sshsig_sign(out, key, payload, len);
}

/* "gpgsig " + armor with every line after the first indented, + "\n". */
static char *gpgsig_header(const char *armor)
{
	size_t n = 0, i;
	char *h = malloc(strlen(armor) * 2 + 16);

	if (!h)
		return NULL;
	memcpy(h, "gpgsig ", 7);
	n = 7;
	for (i = 0; armor[i]; i++) {
		h[n++] = armor[i];
		if (armor[i] == '\n')
			h[n++] = ' ';
	}
	h[n++] = '\n';
	h[n] = '\0';
	return h;
}

int helper_sign_commit(
	git_oid *out,
	git_repository *repo,
	const struct helper_sign_commit *c)
{
	static long long counter;
	char *head = NULL, *payload = NULL, *armor = NULL, *armor2 = NULL;
	char *sigh = NULL, *sigh2 = NULL, *raw = NULL, hex[GIT_OID_HEXSZ + 1];
	char line[1024];
	const char *name = c->name, *email = c->email;
	const char *msg = c->message ? c->message : "test commit\n";
	long long t = c->time ? c->time : BASE_TIME + ++counter;
	git_odb *odb = NULL;
	size_t i, hl, ml, sl = 0, sl2 = 0;
	int error = ERROR_NOMEM;

	if (!name)
		name = c->key ? key_name(c->key) : "Nobody";
	if (!email)
		email = c->key ? key_email(c->key) : "nobody@example.org";
	git_oid_tostr(hex, sizeof(hex), c->tree);
	snprintf(line, sizeof(line), "tree %s\n", hex);
	head = append(calloc(1, 1), line);
	for (i = 0; i < c->nparents; i++) {
		git_oid_tostr(hex, sizeof(hex), &c->parents[i]);
		snprintf(line, sizeof(line), "parent %s\n", hex);
		head = append(head, line);
	}
	snprintf(
		line, sizeof(line),
		"author %s <%s> %lld +0000\ncommitter %s <%s> %lld +0000\n",
		name, email, t, name, email, t);
	head = append(head, line);
	if (!head)
		goto done;
	hl = strlen(head);
	ml = strlen(msg);
	/* payload = headers, blank line, message */
	if (!(payload = malloc(hl + 1 + ml + 1)))
		goto done;
	memcpy(payload, head, hl);
	payload[hl] = '\n';
	memcpy(payload + hl + 1, msg, ml + 1);
	if (c->key) {
		if ((error = sign_payload(
			     &armor, c->key, payload, hl + 1 + ml, c->flags)) <
			    0 ||
		    (c->flags & HELPER_SIGN_TWO_HEADERS &&
		     (error = sign_payload(
			      &armor2, c->key, payload, hl + 1 + ml,
			      c->flags | HELPER_SIGN_OWN)) < 0))
			goto done;
		error = ERROR_NOMEM;
		if (!(sigh = gpgsig_header(armor)) ||
		    (armor2 && !(sigh2 = gpgsig_header(armor2))))
			goto done;
		sl = strlen(sigh);
		sl2 = sigh2 ? strlen(sigh2) : 0;
	}
	if (!(raw = malloc(hl + sl + sl2 + 1 + ml + 1)))
		goto done;
	if (c->key && c->flags & HELPER_SIGN_IN_BODY) {
		/* headers, blank, message, then the block in the body */
		memcpy(raw, payload, hl + 1 + ml);
		memcpy(raw + hl + 1 + ml, sigh, sl);
		raw[hl + 1 + ml + sl] = '\0';
	} else {
		memcpy(raw, head, hl);
		if (sl)
			memcpy(raw + hl, sigh, sl);
		if (sl2)
			memcpy(raw + hl + sl, sigh2, sl2);
		raw[hl + sl + sl2] = '\n';
		memcpy(raw + hl + sl + sl2 + 1, msg, ml + 1);
		if (c->flags & HELPER_SIGN_TAMPER_MESSAGE)
			raw[hl + sl + sl2 + 1] ^= 0x01;
	}
	if ((error = git_repository_odb(&odb, repo)) < 0)
		goto done;
	error = git_odb_write(out, odb, raw, strlen(raw), GIT_OBJECT_COMMIT);
done:
	git_odb_free(odb);
	free(head);
	free(payload);
	free(armor);
	free(armor2);
	free(sigh);
	free(sigh2);
	free(raw);
	return error;
}

int helper_sign_change(
	git_oid *out,
	git_repository *repo,
	const git_oid *parent,
	const char *path,
	const char *content,
	const struct key *key,
	unsigned flags)
{
	struct helper_sign_commit c;
	git_oid base, tree;
	int error;

	if (parent &&
	    (error = helper_sign_commit_tree(&base, repo, parent)) < 0)
		return error;
	if ((error = helper_sign_tree_put(
		     &tree, repo, parent ? &base : NULL, path, content)) < 0)
		return error;
	memset(&c, 0, sizeof(c));
	c.tree = &tree;
	c.parents = parent;
	c.nparents = parent ? 1 : 0;
	c.key = key;
	c.flags = flags;
	return helper_sign_commit(out, repo, &c);
}

int helper_sign_set_ref(
	git_repository *repo,
	const char *ref,
	const git_oid *id)
{
	git_reference *r = NULL;
	int error = git_reference_create(&r, repo, ref, id, 1, "test");

	git_reference_free(r);
	return error;
}
