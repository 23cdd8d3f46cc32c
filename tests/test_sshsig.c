/*
 * tests/test_sshsig.c: git's SSH signatures against the shared vectors
 * (tests/fixtures/sshsig, copied from testdata/sshsig) and stock
 * ssh-keygen / git.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "core/error.h"
#include "core/key.h"
#include "core/sshsig.h"

#define FIX "tests/fixtures/sshsig/"

static char top[1024];
static char tmpdir[1024];

static void path_of(char *buf, size_t size, const char *rel)
{
	snprintf(buf, size, "%s/%s", top, rel);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (len)
		*len = (size_t)n;
	return buf;
}

static char *fixture(const char *rel, size_t *len)
{
	char path[4096];

	path_of(path, sizeof(path), rel);
	return slurp(path, len);
}

/* The commit file of vector id ("A", "B2", ...). */
static char *vector(const char *id, size_t *len)
{
	char dir[4096], path[4096 + 256], want[16];
	struct dirent *e;
	DIR *d;
	char *buf = NULL;

	path_of(dir, sizeof(dir), FIX "commits");
	snprintf(want, sizeof(want), "%s-", id);
	d = opendir(dir);
	assert_non_null(d);
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, want, strlen(want)) == 0) {
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			buf = slurp(path, len);
			break;
		}
	}
	closedir(d);
	assert_non_null(buf);
	return buf;
}

static void pubkey(unsigned char pk[KEY_PUBLIC_BYTES], const char *name)
{
	char rel[256];
	char *line;

	snprintf(rel, sizeof(rel), FIX "pubkeys/%s.pub", name);
	line = fixture(rel, NULL);
	assert_int_equal(key_parse_public_line(pk, line), 0);
	free(line);
}

/* Split vector id and verify it; returns sshsig_verify's result. */
static int verify_vector(const char *id, unsigned char signer[32])
{
	char *raw, *pay = NULL, *sig = NULL;
	size_t raw_len, pay_len, sig_len;
	int error;

	raw = vector(id, &raw_len);
	assert_int_equal(
		sshsig_commit_split(
			&pay, &pay_len, &sig, &sig_len, raw, raw_len),
		0);
	assert_non_null(sig);
	error = sshsig_verify(signer, sig, sig_len, pay, pay_len);
	free(raw);
	free(pay);
	free(sig);
	return error;
}

static void test_sshsig__vectors_good(void **state)
{
	static const struct {
		const char *id, *key;
	} good[] = {
		{ "A", "partner_agency-b_ssh-keygen" },
		{ "B", "planner_agency-a_libsodium" },
		{ "B2", "planner_agency-a_libsodium" },
	};
	unsigned char signer[32], want[32];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		memset(signer, 0, sizeof(signer));
		pubkey(want, good[i].key);
		assert_int_equal(verify_vector(good[i].id, signer), 0);
		assert_memory_equal(signer, want, 32);
	}
}

static void test_sshsig__vectors_bad(void **state)
{
	unsigned char signer[32];

	(void)state;
	assert_int_equal(verify_vector("C", signer), ERROR_VERIFY);
	assert_non_null(strstr(error_message(), "does not verify"));
	assert_int_equal(verify_vector("C2", signer), ERROR_VERIFY);
	assert_non_null(strstr(error_message(), "does not verify"));
}

/*
 * D verifies cryptographically with the rogue key: sshsig_verify says so
 * and names that key, and it is none of the allowed_signers keys (the
 * caller's trust check must refuse it; the committer email is a lie).
 */
static void test_sshsig__vector_d_rogue_key(void **state)
{
	unsigned char signer[32], rogue[32], pk[32];
	char *allowed, *line, *save = NULL, *k;
	int n = 0;

	(void)state;
	pubkey(rogue, "rogue_not-allowed");
	assert_int_equal(verify_vector("D", signer), 0);
	assert_memory_equal(signer, rogue, 32);
	allowed = fixture(FIX "allowed_signers", NULL);
	for (line = strtok_r(allowed, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		k = strstr(line, "ssh-ed25519 ");
		assert_non_null(k);
		assert_int_equal(key_parse_public_line(pk, k), 0);
		assert_memory_not_equal(pk, signer, 32);
		n++;
	}
	assert_int_equal(n, 2);
	free(allowed);
}

/* Hex of the line after `label` in LAYERS-A-B.txt, section `vec`. */
static unsigned char *layers_hex(const char *vec, const char *label, size_t *n)
{
	char *txt = fixture(FIX "LAYERS-A-B.txt", NULL), *p, *eol;
	unsigned char *bin;
	char head[64];

	snprintf(head, sizeof(head), "===== Vector %s:", vec);
	p = strstr(txt, head);
	assert_non_null(p);
	p = strstr(p, label);
	assert_non_null(p);
	p = strchr(p, '\n') + 1;
	eol = strchr(p, '\n');
	bin = malloc((size_t)(eol - p) / 2 + 1);
	assert_int_equal(
		sodium_hex2bin(
			bin, (size_t)(eol - p) / 2, p, (size_t)(eol - p), NULL,
			n, NULL),
		0);
	free(txt);
	return bin;
}

static void test_sshsig__split_matches_layers(void **state)
{
	static const char *const ids[] = { "A", "B" };
	char *raw, *pay, *sig, *arm;
	size_t raw_len, pay_len, sig_len, want_len, i;
	unsigned char *want;

	(void)state;
	for (i = 0; i < 2; i++) {
		raw = vector(ids[i], &raw_len);
		want = layers_hex(ids[i], "signed payload (hex):", &want_len);
		assert_int_equal(
			sshsig_commit_split(
				&pay, &pay_len, &sig, &sig_len, raw, raw_len),
			0);
		assert_int_equal(pay_len, want_len);
		assert_memory_equal(pay, want, want_len);
		/* The signature is the armor, continuation spaces removed. */
		arm = strstr(raw, "gpgsig ");
		assert_non_null(arm);
		assert_int_equal(strncmp(sig, arm + 7, 29), 0);
		assert_int_equal(sig_len, 293 + 1); /* LAYERS: 293 + "\n" */
		assert_int_equal(sig[sig_len - 1], '\n');
		assert_null(strstr(sig, "\n "));
		assert_int_equal(strlen(sig), sig_len);
		free(want);
		free(raw);
		free(pay);
		free(sig);
	}
}

static void test_sshsig__split_no_signature(void **state)
{
	static const char raw[] =
		"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n"
		"author A <a@x.example> 1 +0000\n"
		"committer A <a@x.example> 1 +0000\n"
		"\nmessage\n";
	char *pay = NULL, *sig = (char *)"x";
	size_t pay_len, sig_len = 9;

	(void)state;
	assert_int_equal(
		sshsig_commit_split(
			&pay, &pay_len, &sig, &sig_len, raw, sizeof(raw) - 1),
		0);
	assert_null(sig);
	assert_int_equal(sig_len, 0);
	assert_int_equal(pay_len, sizeof(raw) - 1);
	assert_memory_equal(pay, raw, pay_len);
	free(pay);
}

/* Vector A's gpgsig block moved into the message body: no signature. */
static void test_sshsig__split_gpgsig_in_body(void **state)
{
	char *raw, *pay, *sig, *pay2 = NULL, *sig2 = NULL, *forged;
	size_t raw_len, pay_len, sig_len, pay2_len, sig2_len, n;

	(void)state;
	raw = vector("A", &raw_len);
	assert_int_equal(
		sshsig_commit_split(
			&pay, &pay_len, &sig, &sig_len, raw, raw_len),
		0);
	/* payload + "gpgsig " + sig with continuation spaces, in the body */
	forged = malloc(raw_len * 2);
	memcpy(forged, pay, pay_len);
	n = pay_len;
	n += (size_t)snprintf(
		forged + n, raw_len, "%s", strstr(raw, "gpgsig "));
	n = strlen(forged);
	assert_non_null(strstr(strstr(forged, "\n\n"), "gpgsig -----BEGIN"));
	assert_int_equal(
		sshsig_commit_split(
			&pay2, &pay2_len, &sig2, &sig2_len, forged, n),
		0);
	assert_null(sig2);
	assert_int_equal(pay2_len, n);
	assert_memory_equal(pay2, forged, n);
	free(raw);
	free(pay);
	free(sig);
	free(pay2);
	free(forged);
}

/* Insert text into vector id's raw object before its gpgsig header. */
static char *with_header(const char *id, const char *text, size_t *len)
{
	size_t raw_len, tl = strlen(text), off;
	char *raw = vector(id, &raw_len), *out, *g;

	g = strstr(raw, "\ngpgsig ");
	assert_non_null(g);
	off = (size_t)(g - raw) + 1;
	out = malloc(raw_len + tl + 1);
	memcpy(out, raw, off);
	memcpy(out + off, text, tl);
	memcpy(out + off + tl, raw + off, raw_len - off + 1);
	*len = raw_len + tl;
	free(raw);
	return out;
}

static void test_sshsig__split_two_gpgsig_refused(void **state)
{
	char *raw, *pay = NULL, *sig = NULL;
	size_t len, pay_len, sig_len;

	(void)state;
	raw = with_header(
		"A",
		"gpgsig -----BEGIN SSH SIGNATURE-----\n AAAA\n -----END SSH "
		"SIGNATURE-----\n",
		&len);
	assert_int_equal(
		sshsig_commit_split(&pay, &pay_len, &sig, &sig_len, raw, len),
		ERROR_VERIFY);
	assert_non_null(strstr(error_message(), "two gpgsig"));
	assert_null(pay);
	assert_null(sig);
	free(raw);
}

/* A gpgsig-sha256 header and its continuations leave the payload. */
static void test_sshsig__split_drops_gpgsig_sha256(void **state)
{
	char *raw, *pay, *sig, *pay0, *sig0, *a;
	size_t len, a_len, pay_len, sig_len, pay0_len, sig0_len;
	unsigned char signer[32], want[32];

	(void)state;
	a = vector("A", &a_len);
	assert_int_equal(
		sshsig_commit_split(
			&pay0, &pay0_len, &sig0, &sig0_len, a, a_len),
		0);
	raw = with_header(
		"A",
		"gpgsig-sha256 -----BEGIN PGP SIGNATURE-----\n xyz\n end\n",
		&len);
	assert_int_equal(
		sshsig_commit_split(&pay, &pay_len, &sig, &sig_len, raw, len),
		0);
	assert_int_equal(pay_len, pay0_len);
	assert_memory_equal(pay, pay0, pay_len);
	assert_int_equal(sig_len, sig0_len);
	assert_memory_equal(sig, sig0, sig_len);
	pubkey(want, "partner_agency-b_ssh-keygen");
	assert_int_equal(sshsig_verify(signer, sig, sig_len, pay, pay_len), 0);
	assert_memory_equal(signer, want, 32);
	free(a);
	free(raw);
	free(pay);
	free(sig);
	free(pay0);
	free(sig0);
}

/* Vector id's payload and decoded SSHSIG blob. */
static void vector_parts(
	const char *id,
	char **pay,
	size_t *pay_len,
	unsigned char **blob,
	size_t *blob_len)
{
	char *raw, *sig, *b64, *p;
	size_t raw_len, sig_len, n = 0;

	raw = vector(id, &raw_len);
	assert_int_equal(
		sshsig_commit_split(pay, pay_len, &sig, &sig_len, raw, raw_len),
		0);
	b64 = malloc(sig_len);
	p = strchr(sig, '\n') + 1;
	while (strncmp(p, "-----END", 8) != 0) {
		while (*p != '\n')
			b64[n++] = *p++;
		p++;
	}
	*blob = malloc(n);
	assert_int_equal(
		sodium_base642bin(
			*blob, n, b64, n, NULL, blob_len, NULL,
			sodium_base64_VARIANT_ORIGINAL),
		0);
	free(b64);
	free(sig);
	free(raw);
}

/* Armor blob with the given line width and line end. */
static char *
armor(const unsigned char *blob, size_t len, size_t width, const char *eol)
{
	size_t b64max =
		sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	char *b64 = malloc(b64max), *out = malloc(b64max * 3 + 128);
	size_t i, n;

	sodium_bin2base64(
		b64, b64max, blob, len, sodium_base64_VARIANT_ORIGINAL);
	n = (size_t)snprintf(out, 64, "-----BEGIN SSH SIGNATURE-----%s", eol);
	for (i = 0; i < strlen(b64); i += width) {
		memcpy(out + n, b64 + i,
		       strlen(b64) - i < width ? strlen(b64) - i : width);
		n += strlen(b64) - i < width ? strlen(b64) - i : width;
		n += (size_t)snprintf(out + n, 8, "%s", eol);
	}
	snprintf(out + n, 64, "-----END SSH SIGNATURE-----%s", eol);
	free(b64);
	return out;
}

static int verify_blob(
	const unsigned char *blob,
	size_t blob_len,
	const char *pay,
	size_t pay_len)
{
	unsigned char signer[32];
	char *a = armor(blob, blob_len, 70, "\n");
	int error = sshsig_verify(signer, a, strlen(a), pay, pay_len);

	free(a);
	return error;
}

static void test_sshsig__armor_any_width_and_crlf(void **state)
{
	static const size_t widths[] = { 1, 4, 64, 70, 76, 1000 };
	unsigned char *blob, signer[32], want[32];
	char *pay, *a;
	size_t pay_len, blob_len, i;

	(void)state;
	pubkey(want, "partner_agency-b_ssh-keygen");
	vector_parts("A", &pay, &pay_len, &blob, &blob_len);
	assert_int_equal(blob_len, 173);
	for (i = 0; i < sizeof(widths) / sizeof(widths[0]); i++) {
		a = armor(blob, blob_len, widths[i], "\r\n");
		assert_int_equal(
			sshsig_verify(signer, a, strlen(a), pay, pay_len), 0);
		assert_memory_equal(signer, want, 32);
		free(a);
		a = armor(blob, blob_len, widths[i], "\n");
		/* also without the final newline */
		assert_int_equal(
			sshsig_verify(signer, a, strlen(a) - 1, pay, pay_len),
			0);
		free(a);
	}
	free(pay);
	free(blob);
}

static void test_sshsig__armor_malformed(void **state)
{
	unsigned char *blob, signer[32];
	char *pay, *a, *b;
	size_t pay_len, blob_len, i, len;
	static const char *const bad[] = {
		"",
		"garbage",
		"-----BEGIN SSH SIGNATURE-----\n",
		"-----BEGIN SSH SIGNATURE-----\n-----END SSH SIGNATURE-----\n",
		"-----BEGIN SSH SIGNATURE-----\nU1NI\n",
		"-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH "
		"SIGNATURE-----\n",
		"-----BEGIN SSH SIGNATURE-----\nU1N*U0lH\n-----END SSH "
		"SIGNATURE-----\n",
		"-----BEGIN SSH SIGNATURE-----\nU1NIU0l\n-----END SSH "
		"SIGNATURE-----\n",
		"-----BEGIN PGP SIGNATURE-----\nU1NIU0lH\n-----END PGP "
		"SIGNATURE-----\n",
	};

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(
			sshsig_verify(signer, bad[i], strlen(bad[i]), "x", 1),
			ERROR_VERIFY);
	vector_parts("A", &pay, &pay_len, &blob, &blob_len);
	a = armor(blob, blob_len, 70, "\n");
	len = strlen(a);
	/* Every truncation of a good armor is refused. */
	for (i = 0; i + 1 < len; i++)
		assert_int_equal(
			sshsig_verify(signer, a, i, pay, pay_len),
			ERROR_VERIFY);
	/* Text after END, a blank line inside, leading space. */
	b = malloc(len + 16);
	snprintf(b, len + 16, "%sX\n", a);
	assert_int_equal(
		sshsig_verify(signer, b, strlen(b), pay, pay_len),
		ERROR_VERIFY);
	snprintf(b, len + 16, " %s", a);
	assert_int_equal(
		sshsig_verify(signer, b, strlen(b), pay, pay_len),
		ERROR_VERIFY);
	memcpy(b, a, 30);
	b[30] = '\n';
	memcpy(b + 31, a + 30, len - 30 + 1);
	assert_int_equal(
		sshsig_verify(signer, b, strlen(b), pay, pay_len),
		ERROR_VERIFY);
	/* Random garbage inside a well-formed armor. */
	for (i = 0; i < 200; i++) {
		unsigned char junk[173];

		randombytes_buf(junk, sizeof(junk));
		free(b);
		b = armor(junk, sizeof(junk), 70, "\n");
		assert_int_equal(
			sshsig_verify(signer, b, strlen(b), pay, pay_len),
			ERROR_VERIFY);
	}
	free(b);
	free(a);
	free(pay);
	free(blob);
}

/* Replace the n-byte field at off of blob with rep (m bytes). */
static unsigned char *
edit(const unsigned char *blob,
     size_t len,
     size_t off,
     size_t n,
     const void *rep,
     size_t m,
     size_t *out_len)
{
	unsigned char *b = malloc(len - n + m + 1);

	memcpy(b, blob, off);
	memcpy(b + off, rep, m);
	memcpy(b + off + m, blob + off + n, len - off - n);
	*out_len = len - n + m;
	return b;
}

static void expect_blob_refused(
	const unsigned char *b,
	size_t len,
	const char *pay,
	size_t pay_len,
	const char *why)
{
	assert_int_equal(verify_blob(b, len, pay, pay_len), ERROR_VERIFY);
	if (!strstr(error_message(), why))
		fail_msg("'%s' lacks '%s'", error_message(), why);
}

static void test_sshsig__blob_strict(void **state)
{
	unsigned char *blob, *b;
	char *pay;
	size_t pay_len, blob_len, len;
	/* Offsets in the 173-byte blob (LAYERS-A-B.txt). */
	const size_t off_version = 6, off_ns = 65, off_hash = 76, off_sig = 86;

	(void)state;
	vector_parts("A", &pay, &pay_len, &blob, &blob_len);
	assert_int_equal(verify_blob(blob, blob_len, pay, pay_len), 0);
	assert_memory_equal(blob + off_ns, "\0\0\0\3git", 7);
	assert_memory_equal(blob + off_hash, "\0\0\0\6sha512", 10);
	/* trailing byte */
	b = edit(blob, blob_len, blob_len, 0, "\0", 1, &len);
	expect_blob_refused(b, len, pay, pay_len, "trailing");
	free(b);
	/* truncated by one byte */
	expect_blob_refused(blob, blob_len - 1, pay, pay_len, "signature");
	/* version 2 */
	b = edit(blob, blob_len, off_version, 4, "\0\0\0\2", 4, &len);
	expect_blob_refused(b, len, pay, pay_len, "version");
	free(b);
	/* namespace "file", the other namespace ssh-keygen knows */
	b = edit(blob, blob_len, off_ns, 7, "\0\0\0\4file", 8, &len);
	expect_blob_refused(b, len, pay, pay_len, "namespace");
	free(b);
	b = edit(blob, blob_len, off_ns, 7, "\0\0\0\3gix", 7, &len);
	expect_blob_refused(b, len, pay, pay_len, "namespace");
	free(b);
	/* reserved not empty */
	b = edit(blob, blob_len, off_ns + 7, 4, "\0\0\0\1x", 5, &len);
	expect_blob_refused(b, len, pay, pay_len, "reserved");
	free(b);
	/* hash algorithm sha1 */
	b = edit(blob, blob_len, off_hash, 10, "\0\0\0\4sha1", 8, &len);
	expect_blob_refused(b, len, pay, pay_len, "hash algorithm");
	free(b);
	/* blob says sha256 but the signature was made over sha512 */
	b = edit(blob, blob_len, off_hash, 10, "\0\0\0\6sha256", 10, &len);
	expect_blob_refused(b, len, pay, pay_len, "does not verify");
	free(b);
	/* signature type and length */
	b =
		edit(blob, blob_len, off_sig + 4, 15, "\0\0\0\013ssh-ed25518",
		     15, &len);
	expect_blob_refused(b, len, pay, pay_len, "signature");
	free(b);
	b = edit(blob, blob_len, off_sig, 4, "\0\0\0\122", 4, &len);
	expect_blob_refused(b, len, pay, pay_len, "signature");
	free(b);
	/* public key of another type */
	b = edit(blob, blob_len, 14, 15, "\0\0\0\013ssh-ed448XX", 15, &len);
	expect_blob_refused(b, len, pay, pay_len, "public key");
	free(b);
	/* magic */
	b = edit(blob, blob_len, 0, 6, "SSHSIH", 6, &len);
	expect_blob_refused(b, len, pay, pay_len, "magic");
	free(b);
	free(pay);
	free(blob);
}

/* B2's blob says sha256; changing it to sha512 breaks the signature. */
static void test_sshsig__sha256_vector_hash_bound(void **state)
{
	unsigned char *blob, *b;
	char *pay;
	size_t pay_len, blob_len, len;

	(void)state;
	vector_parts("B2", &pay, &pay_len, &blob, &blob_len);
	assert_memory_equal(blob + 76, "\0\0\0\6sha256", 10);
	assert_int_equal(verify_blob(blob, blob_len, pay, pay_len), 0);
	b = edit(blob, blob_len, 76, 10, "\0\0\0\6sha512", 10, &len);
	expect_blob_refused(b, len, pay, pay_len, "does not verify");
	free(b);
	free(pay);
	free(blob);
}

/* ---- signing ---- */

static int run(const char *cmd)
{
	int st = system(cmd);

	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void write_file(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* A fresh unsealed key in tmpdir/<name>. */
static struct key *new_key(const char *name, const char *email)
{
	char home[4200];
	struct key *k = NULL;

	snprintf(home, sizeof(home), "%s/%s", tmpdir, name);
	assert_int_equal(key_generate(home, name, email, "Org", NULL, NULL), 0);
	assert_int_equal(key_load(&k, home, NULL, NULL), 0);
	return k;
}

static void test_sshsig__sign_verify_round_trip(void **state)
{
	struct key *k = new_key("round", "round@x.example");
	unsigned char payload[300], signer[32];
	char *a, *b, *line, *save = NULL;
	size_t widths[8], n = 0, i;

	(void)state;
	randombytes_buf(payload, sizeof(payload));
	assert_int_equal(sshsig_sign(&a, k, payload, sizeof(payload)), 0);
	assert_int_equal(
		sshsig_verify(signer, a, strlen(a), payload, sizeof(payload)),
		0);
	assert_memory_equal(signer, key_public(k), 32);
	/* Deterministic, and git's armor layout: 70 columns, no final \n. */
	assert_int_equal(sshsig_sign(&b, k, payload, sizeof(payload)), 0);
	assert_string_equal(a, b);
	assert_int_not_equal(a[strlen(a) - 1], '\n');
	assert_int_equal(strncmp(a, "-----BEGIN SSH SIGNATURE-----\n", 30), 0);
	for (line = strtok_r(b, "\n", &save); line && n < 8;
	     line = strtok_r(NULL, "\n", &save))
		widths[n++] = strlen(line);
	assert_int_equal(n, 6);
	for (i = 1; i < 4; i++)
		assert_int_equal(widths[i], 70);
	assert_int_equal(widths[4], 22);
	/* A changed payload does not verify. */
	payload[0] ^= 1;
	assert_int_equal(
		sshsig_verify(signer, a, strlen(a), payload, sizeof(payload)),
		ERROR_VERIFY);
	free(a);
	free(b);
	key_free(k);
}

/* ssh-keygen -Y verify accepts plansync's signature; a bad one it refuses. */
static void test_sshsig__ssh_keygen_verifies(void **state)
{
	struct key *k = new_key("sshk", "signer@x.example");
	char pub[KEY_LINE_MAX], path[4300], cmd[20000], *a;
	static const char payload[] = "tree x\n\nsome payload\n";
	FILE *f;

	(void)state;
	assert_int_equal(sshsig_sign(&a, k, payload, sizeof(payload) - 1), 0);
	assert_int_equal(
		key_public_line(pub, sizeof(pub), key_public(k), NULL), 0);
	snprintf(path, sizeof(path), "%s/allowed", tmpdir);
	f = fopen(path, "w");
	fprintf(f, "signer@x.example namespaces=\"git\" %s\n", pub);
	fclose(f);
	snprintf(path, sizeof(path), "%s/payload", tmpdir);
	write_file(path, payload, sizeof(payload) - 1);
	snprintf(path, sizeof(path), "%s/payload.sig", tmpdir);
	f = fopen(path, "w");
	fprintf(f, "%s\n", a);
	fclose(f);
	snprintf(
		cmd, sizeof(cmd),
		"ssh-keygen -Y verify -n git -f %s/allowed -I "
		"signer@x.example -s %s/payload.sig < %s/payload "
		">/dev/null 2>&1",
		tmpdir, tmpdir, tmpdir);
	assert_int_equal(run(cmd), 0);
	/* The same check fails for another namespace or another payload. */
	snprintf(
		cmd, sizeof(cmd),
		"ssh-keygen -Y verify -n file -f %s/allowed -I "
		"signer@x.example -s %s/payload.sig < %s/payload "
		">/dev/null 2>&1",
		tmpdir, tmpdir, tmpdir);
	assert_int_not_equal(run(cmd), 0);
	snprintf(path, sizeof(path), "%s/payload", tmpdir);
	write_file(path, "tampered", 8);
	snprintf(
		cmd, sizeof(cmd),
		"ssh-keygen -Y verify -n git -f %s/allowed -I "
		"signer@x.example -s %s/payload.sig < %s/payload "
		">/dev/null 2>&1",
		tmpdir, tmpdir, tmpdir);
	assert_int_not_equal(run(cmd), 0);
	free(a);
	key_free(k);
}

/*
 * A commit object signed here, laid out as git lays it out, is accepted
 * by stock `git verify-commit`, and sshsig_commit_split gives back the
 * exact payload.
 */
static void test_sshsig__git_verifies_commit(void **state)
{
	struct key *k = new_key("gitk", "committer@x.example");
	char payload[512], *a, *obj, *p, *q, *pay, *sig, pub[KEY_LINE_MAX];
	char cmd[20000], id[64], path[4300];
	size_t pay_len, sig_len, n, hdr;
	unsigned char signer[32];
	FILE *f;

	(void)state;
	n = (size_t)snprintf(
		payload, sizeof(payload),
		"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n"
		"author Tester <committer@x.example> 1767225600 +0000\n"
		"committer Tester <committer@x.example> 1767225600 +0000\n"
		"\nSigned by plansync's test\n");
	assert_int_equal(sshsig_sign(&a, k, payload, n), 0);
	/* headers, "gpgsig " + armor with "\n " continuations, "\n", body */
	hdr = (size_t)(strstr(payload, "\n\n") - payload) + 1;
	obj = malloc(n + strlen(a) * 2 + 16);
	memcpy(obj, payload, hdr);
	q = obj + hdr;
	q += snprintf(q, 8, "gpgsig ");
	for (p = a; *p; p++) {
		*q++ = *p;
		if (*p == '\n')
			*q++ = ' ';
	}
	*q++ = '\n';
	memcpy(q, payload + hdr, n - hdr);
	q += n - hdr;
	assert_int_equal(
		sshsig_commit_split(
			&pay, &pay_len, &sig, &sig_len, obj, (size_t)(q - obj)),
		0);
	assert_int_equal(pay_len, n);
	assert_memory_equal(pay, payload, n);
	assert_int_equal(sshsig_verify(signer, sig, sig_len, pay, pay_len), 0);
	/* stock git */
	snprintf(path, sizeof(path), "%s/commit", tmpdir);
	write_file(path, obj, (size_t)(q - obj));
	assert_int_equal(
		key_public_line(pub, sizeof(pub), key_public(k), NULL), 0);
	snprintf(path, sizeof(path), "%s/allowed_git", tmpdir);
	f = fopen(path, "w");
	fprintf(f, "committer@x.example namespaces=\"git\" %s\n", pub);
	fclose(f);
	snprintf(
		cmd, sizeof(cmd),
		"cd %s && git init -q --bare repo.git && "
		"git --git-dir=repo.git hash-object -t commit -w commit",
		tmpdir);
	f = popen(cmd, "r");
	assert_non_null(f);
	assert_non_null(fgets(id, sizeof(id), f));
	assert_int_equal(pclose(f), 0);
	id[strcspn(id, "\n")] = '\0';
	snprintf(
		cmd, sizeof(cmd),
		"cd %s && git --git-dir=repo.git -c "
		"gpg.ssh.allowedSignersFile=%s/allowed_git verify-commit %s "
		">/dev/null 2>&1",
		tmpdir, tmpdir, id);
	assert_int_equal(run(cmd), 0);
	/* Negative control: an allowed_signers without this key fails. */
	snprintf(
		cmd, sizeof(cmd),
		"cd %s && git --git-dir=repo.git -c "
		"gpg.ssh.allowedSignersFile=%s/%s verify-commit %s "
		">/dev/null 2>&1",
		tmpdir, top, FIX "allowed_signers", id);
	assert_int_not_equal(run(cmd), 0);
	free(a);
	free(obj);
	free(pay);
	free(sig);
	key_free(k);
}

/*
 * ssh-keygen -Y sign with an imported OpenSSH key gives byte for byte the
 * armor sshsig_sign gives (Ed25519 is deterministic), and sshsig_verify
 * refuses ssh-keygen's signature in the "file" namespace.
 */
static void test_sshsig__matches_ssh_keygen_sign(void **state)
{
	char home[4200], keyf[4200], cmd[20000], path[4300], *mine, *theirs;
	struct key *k = NULL;
	static const char payload[] = "payload signed twice\n";
	unsigned char signer[32];
	size_t len;

	(void)state;
	snprintf(home, sizeof(home), "%s/imported", tmpdir);
	path_of(keyf, sizeof(keyf), "tests/fixtures/keys/id_ed25519");
	assert_int_equal(
		key_import_openssh(home, keyf, NULL, NULL, NULL, NULL, NULL),
		0);
	assert_int_equal(key_load(&k, home, NULL, NULL), 0);
	assert_int_equal(
		sshsig_sign(&mine, k, payload, sizeof(payload) - 1), 0);
	snprintf(path, sizeof(path), "%s/msg", tmpdir);
	write_file(path, payload, sizeof(payload) - 1);
	/* ssh-keygen wants a private key file of mode 0600 */
	snprintf(
		cmd, sizeof(cmd),
		"cp %s %s/sk && chmod 600 %s/sk && ssh-keygen -q -Y sign -n "
		"git -f %s/sk %s/msg >/dev/null 2>&1",
		keyf, tmpdir, tmpdir, tmpdir, tmpdir);
	assert_int_equal(run(cmd), 0);
	snprintf(path, sizeof(path), "%s/msg.sig", tmpdir);
	theirs = slurp(path, &len);
	assert_int_equal(len, strlen(mine) + 1);
	assert_memory_equal(theirs, mine, strlen(mine));
	assert_int_equal(
		sshsig_verify(
			signer, theirs, len, payload, sizeof(payload) - 1),
		0);
	assert_memory_equal(signer, key_public(k), 32);
	free(theirs);
	unlink(path);
	snprintf(
		cmd, sizeof(cmd),
		"ssh-keygen -q -Y sign -n file -f %s/sk %s/msg >/dev/null "
		"2>&1",
		tmpdir, tmpdir);
	assert_int_equal(run(cmd), 0);
	theirs = slurp(path, &len);
	assert_int_equal(
		sshsig_verify(
			signer, theirs, len, payload, sizeof(payload) - 1),
		ERROR_VERIFY);
	assert_non_null(strstr(error_message(), "namespace"));
	free(theirs);
	free(mine);
	key_free(k);
}

static int setup(void **state)
{
	const char *t = getenv("PLANSYNC_TOP");
	const char *tmp = getenv("TMPDIR");

	(void)state;
	if (sodium_init() < 0)
		return -1;
	if (t && *t)
		snprintf(top, sizeof(top), "%s", t);
	else if (!getcwd(top, sizeof(top)))
		return -1;
	snprintf(
		tmpdir, sizeof(tmpdir), "%s/test_sshsig.XXXXXX",
		tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(tmpdir))
		return -1;
	/* git and ssh-keygen must not read the user's configuration */
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("GIT_CONFIG_GLOBAL", "/dev/null", 1);
	return 0;
}

static int teardown(void **state)
{
	char cmd[4200];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return run(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sshsig__vectors_good),
		cmocka_unit_test(test_sshsig__vectors_bad),
		cmocka_unit_test(test_sshsig__vector_d_rogue_key),
		cmocka_unit_test(test_sshsig__split_matches_layers),
		cmocka_unit_test(test_sshsig__split_no_signature),
		cmocka_unit_test(test_sshsig__split_gpgsig_in_body),
		cmocka_unit_test(test_sshsig__split_two_gpgsig_refused),
		cmocka_unit_test(test_sshsig__split_drops_gpgsig_sha256),
		cmocka_unit_test(test_sshsig__armor_any_width_and_crlf),
		cmocka_unit_test(test_sshsig__armor_malformed),
		cmocka_unit_test(test_sshsig__blob_strict),
		cmocka_unit_test(test_sshsig__sha256_vector_hash_bound),
		cmocka_unit_test(test_sshsig__sign_verify_round_trip),
		cmocka_unit_test(test_sshsig__ssh_keygen_verifies),
		cmocka_unit_test(test_sshsig__git_verifies_commit),
		cmocka_unit_test(test_sshsig__matches_ssh_keygen_sign),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
