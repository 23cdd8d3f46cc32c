/*
 * core/sshsig.c: git's SSH signature format (../shared/SSHSIG.md).
 */
#include "sshsig.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "error.h"
#include "wire.h"

#define MAGIC "SSHSIG"
#define MAGIC_LEN 6
#define NAMESPACE "git"
#define ARMOR_LABEL "SSH SIGNATURE"
#define ARMOR_WIDTH 70
#define SIG_BYTES crypto_sign_BYTES
/* "SSHSIG" string("git") string("") string("sha512") string(H): 95 */
#define SIGNED_MAX (MAGIC_LEN + 4 + 3 + 4 + 4 + 6 + 4 + 64)
/* string("ssh-ed25519") || string(sig64) */
#define SIGFIELD_BYTES (4 + 11 + 4 + SIG_BYTES)
#define BLOB_BYTES                                                    \
	(MAGIC_LEN + 4 + 4 + KEY_BLOB_BYTES + 4 + 3 + 4 + 4 + 6 + 4 + \
	 SIGFIELD_BYTES)

/*
 * The blob Ed25519 signs: namespace "git", empty reserved field, the hash
 * named by alg ("sha512" or "sha256") of payload.  Returns its length.
 */
static size_t signed_data(
	unsigned char out[SIGNED_MAX],
	const char *alg,
	const void *payload,
	size_t len)
{
	unsigned char h[crypto_hash_sha512_BYTES];
	size_t n = 0, hlen;

	if (strcmp(alg, "sha512") == 0) {
		crypto_hash_sha512(h, payload, len);
		hlen = crypto_hash_sha512_BYTES;
	} else {
		crypto_hash_sha256(h, payload, len);
		hlen = crypto_hash_sha256_BYTES;
	}
	memcpy(out, MAGIC, MAGIC_LEN);
	n += MAGIC_LEN;
	n += wire_put_cstring(out + n, NAMESPACE);
	n += wire_put_string(out + n, "", 0);
	n += wire_put_cstring(out + n, alg);
	n += wire_put_string(out + n, h, hlen);
	return n;
}

int sshsig_sign(
	char **out,
	const struct key *key,
	const void *payload,
	size_t len)
{
	unsigned char sd[SIGNED_MAX], sig[SIG_BYTES], blob[BLOB_BYTES];
	unsigned char pkblob[KEY_BLOB_BYTES], field[SIGFIELD_BYTES];
	char b64[sodium_base64_ENCODED_LEN(
		BLOB_BYTES, sodium_base64_VARIANT_ORIGINAL)];
	static const char begin[] = "-----BEGIN " ARMOR_LABEL "-----\n";
	static const char end[] = "-----END " ARMOR_LABEL "-----";
	char *armor = NULL, *p;
	size_t n = 0, sdlen, b64len, i, chunk, size;
	int error = 0;

	if (sodium_init() < 0) {
		error = error_set(ERROR_GENERIC, "cannot initialise libsodium");
		goto done;
	}
	sdlen = signed_data(sd, "sha512", payload, len);
	if ((error = key_sign(sig, key, sd, sdlen)) < 0)
		goto done;
	key_public_blob(pkblob, key_public(key));
	n = wire_put_cstring(field, "ssh-ed25519");
	wire_put_string(field + n, sig, SIG_BYTES);
	n = 0;
	memcpy(blob, MAGIC, MAGIC_LEN);
	n += MAGIC_LEN;
	n += wire_put_u32(blob + n, 1);
	n += wire_put_string(blob + n, pkblob, sizeof(pkblob));
	n += wire_put_cstring(blob + n, NAMESPACE);
	n += wire_put_string(blob + n, "", 0);
	n += wire_put_cstring(blob + n, "sha512");
	n += wire_put_string(blob + n, field, sizeof(field));
	sodium_bin2base64(
		b64, sizeof(b64), blob, n, sodium_base64_VARIANT_ORIGINAL);
	b64len = strlen(b64);
	size = sizeof(begin) - 1 + b64len + b64len / ARMOR_WIDTH + 1 +
	       sizeof(end);
	if (!(armor = malloc(size))) {
		error = error_nomem();
		goto done;
	}
	p = armor;
	memcpy(p, begin, sizeof(begin) - 1);
	p += sizeof(begin) - 1;
	for (i = 0; i < b64len; i += chunk) {
		chunk = b64len - i < ARMOR_WIDTH ? b64len - i : ARMOR_WIDTH;
		memcpy(p, b64 + i, chunk);
		p += chunk;
		*p++ = '\n';
	}
	memcpy(p, end, sizeof(end)); /* with its NUL, no final newline */
	*out = armor;
	armor = NULL;
done:
	free(armor);
	return error;
}

/* Parse string("ssh-ed25519") || string(32 bytes) exactly. */
static int parse_pubkey(unsigned char pk[KEY_PUBLIC_BYTES], struct wire w)
{
	const unsigned char *k;
	size_t len;

	if (wire_string_eq(&w, "ssh-ed25519") < 0 ||
	    wire_string(&k, &len, &w) < 0 || len != KEY_PUBLIC_BYTES ||
	    w.left != 0)
		return -1;
	memcpy(pk, k, KEY_PUBLIC_BYTES);
	return 0;
}

int sshsig_verify(
	unsigned char signer[KEY_PUBLIC_BYTES],
	const char *armor,
	size_t armor_len,
	const void *payload,
	size_t len)
{
	unsigned char *blob = NULL, sd[SIGNED_MAX], pk[KEY_PUBLIC_BYTES];
	const unsigned char *p, *sig = NULL;
	size_t blob_len = 0, plen, sdlen, siglen;
	struct wire w, sub;
	uint32_t version;
	const char *why = NULL, *alg = NULL;
	char fp[KEY_FINGERPRINT_MAX];
	int error = 0;

	if (sodium_init() < 0) {
		error = error_set(ERROR_GENERIC, "cannot initialise libsodium");
		goto done;
	}
	if ((error = wire_dearmor(
		     &blob, &blob_len, armor, armor_len, ARMOR_LABEL, 0,
		     ERROR_VERIFY, "malformed SSH signature")) < 0)
		goto done;
	w.p = blob;
	w.left = blob_len;
	if (wire_bytes(&p, MAGIC_LEN, &w) < 0 ||
	    memcmp(p, MAGIC, MAGIC_LEN) != 0) {
		why = "no SSHSIG magic";
	} else if (wire_u32(&version, &w) < 0 || version != 1) {
		why = "unsupported version";
	} else if (wire_string(&sub.p, &sub.left, &w) < 0) {
		why = "truncated public key";
	} else if (parse_pubkey(pk, sub) < 0) {
		why = "public key is not ssh-ed25519";
	} else if (wire_string(&p, &plen, &w) < 0) {
		why = "truncated namespace";
	} else if (plen != strlen(NAMESPACE) || memcmp(p, NAMESPACE, plen)) {
		why = "namespace is not \"git\"";
	} else if (wire_string(&p, &plen, &w) < 0 || plen != 0) {
		why = "reserved field is not empty";
	} else if (wire_string(&p, &plen, &w) < 0) {
		why = "truncated hash algorithm";
	} else if (plen == 6 && memcmp(p, "sha512", 6) == 0) {
		alg = "sha512";
	} else if (plen == 6 && memcmp(p, "sha256", 6) == 0) {
		alg = "sha256";
	} else {
		why = "hash algorithm is not sha256 or sha512";
	}
	if (!why) {
		if (wire_string(&sub.p, &sub.left, &w) < 0 ||
		    wire_string_eq(&sub, "ssh-ed25519") < 0 ||
		    wire_string(&sig, &siglen, &sub) < 0 ||
		    siglen != SIG_BYTES || sub.left != 0)
			why = "signature is not a 64-byte ssh-ed25519 signature";
		else if (w.left != 0)
			why = "trailing bytes after the signature";
	}
	if (why) {
		error = error_set(
			ERROR_VERIFY, "malformed SSH signature: %s", why);
		goto done;
	}
	sdlen = signed_data(sd, alg, payload, len);
	if (crypto_sign_verify_detached(sig, sd, sdlen, pk) != 0) {
		key_fingerprint(fp, pk);
		error = error_set(
			ERROR_VERIFY, "signature by key %s does not verify",
			fp);
		goto done;
	}
	memcpy(signer, pk, KEY_PUBLIC_BYTES);
done:
	free(blob);
	return error;
}

static int starts_with(const char *line, const char *end, const char *s)
{
	size_t n = strlen(s);

	return (size_t)(end - line) >= n && memcmp(line, s, n) == 0;
}

int sshsig_commit_split(
	char **payload,
	size_t *payload_len,
	char **sig,
	size_t *sig_len,
	const char *raw,
	size_t raw_len)
{
	const char *line = raw, *tail = raw + raw_len, *next, *s;
	char *pay = NULL, *sg = NULL;
	size_t pn = 0, sn = 0;
	int in_sig = 0, other = 0, headers = 0, error = 0;

	/* Each output is at most raw_len bytes; +1 for a NUL. */
	if (!(pay = malloc(raw_len + 1)) || !(sg = malloc(raw_len + 1))) {
		error = error_nomem();
		goto done;
	}
	/* git 2.39 commit.c parse_buffer_signed_by_header(), plus a check. */
	while (line < tail) {
		next = memchr(line, '\n', (size_t)(tail - line));
		next = next ? next + 1 : tail;
		s = NULL;
		if (in_sig && line[0] == ' ') {
			s = line + 1;
		} else if (starts_with(line, tail, "gpgsig ")) {
			s = line + 7;
			other = 0;
			if (++headers > 1) {
				error = error_set(
					ERROR_VERIFY,
					"commit has two gpgsig headers");
				goto done;
			}
		} else if (starts_with(line, tail, "gpgsig")) {
			other = 1;
		} else if (other && line[0] != ' ') {
			other = 0;
		}
		if (s) {
			memcpy(sg + sn, s, (size_t)(next - s));
			sn += (size_t)(next - s);
			in_sig = 1;
		} else {
			if (line[0] == '\n')
				next = tail; /* the message: all payload */
			if (!other) {
				memcpy(pay + pn, line, (size_t)(next - line));
				pn += (size_t)(next - line);
			}
			in_sig = 0;
		}
		line = next;
	}
	pay[pn] = '\0';
	sg[sn] = '\0';
	*payload = pay;
	*payload_len = pn;
	pay = NULL;
	if (headers) {
		*sig = sg;
		*sig_len = sn;
		sg = NULL;
	} else {
		*sig = NULL;
		*sig_len = 0;
	}
done:
	free(pay);
	free(sg);
	return error;
}
