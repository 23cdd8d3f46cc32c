/*
 * core/key.c: a person's Ed25519 key, its file and its OpenSSH forms.
 *
 * The secret key file home/key (mode 0600) is text, in the manner of
 * minisign and signify (STYLE.md 16):
 *
 *     plansync secret key
 *     name: Agency A Planner
 *     email: planner@agency-a.example
 *     org: Agency A                  ("org:" alone when there is none)
 *     <base64 of the 208-byte struct below, one line>
 *
 * Each line ends with "\n"; nothing else is allowed.  The struct, all
 * integers little-endian:
 *
 *     0   2  algorithm        "Ed"
 *     2   2  kdf              "A2" (Argon2id13) or 0 0 (none)
 *     4   2  checksum         "B2" (BLAKE2b-256)
 *     6   2  reserved         0 0
 *     8  16  kdf salt         (zero without a kdf)
 *    24   8  kdf opslimit     (zero without a kdf)
 *    32   8  kdf memlimit     (zero without a kdf)
 *    40  24  secretbox nonce  (zero without a kdf)
 *    64  32  public key
 *    96  80  box: crypto_secretbox_easy(secret key 64) = MAC 16 || 64,
 *            or without a kdf 16 zero bytes || the secret key
 *   176  32  checksum         BLAKE2b-256(public key || secret key)
 *
 * The secretbox key is crypto_pwhash(Argon2id13, INTERACTIVE limits) of
 * the passphrase.  The checksum catches corruption and a key that does not
 * match its public half; a wrong passphrase fails the secretbox MAC.
 */
#include "key.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "error.h"
#include "wire.h"

#define KF_COMMENT "plansync secret key"
#define KF_SIZE 208
#define KF_OFF_ALG 0
#define KF_OFF_KDF 2
#define KF_OFF_CHK 4
#define KF_OFF_RESERVED 6
#define KF_OFF_SALT 8
#define KF_OFF_OPS 24
#define KF_OFF_MEM 32
#define KF_OFF_NONCE 40
#define KF_OFF_PK 64
#define KF_OFF_BOX 96
#define KF_BOX_BYTES 80
#define KF_OFF_SUM 176
#define KF_SUM_BYTES 32
#define KF_B64_LEN 280 /* sodium_base64_ENCODED_LEN(208, ORIGINAL) - 1 */
#define KF_TEXT_MAX 4096
#define OPENSSH_FILE_MAX (64 * 1024)
#define PUB_FILE_MAX 4096
#define PATH_BYTES 4096

_Static_assert(crypto_pwhash_SALTBYTES == 16, "salt size");
_Static_assert(crypto_secretbox_NONCEBYTES == 24, "nonce size");
_Static_assert(crypto_secretbox_MACBYTES == 16, "mac size");
_Static_assert(crypto_secretbox_KEYBYTES == 32, "secretbox key size");
_Static_assert(crypto_sign_SECRETKEYBYTES == 64, "secret key size");
_Static_assert(crypto_sign_PUBLICKEYBYTES == KEY_PUBLIC_BYTES, "pk size");
_Static_assert(KF_OFF_SUM + KF_SUM_BYTES == KF_SIZE, "layout");

struct key {
	unsigned char sk[crypto_sign_SECRETKEYBYTES];
	unsigned char pk[KEY_PUBLIC_BYTES];
	char name[KEY_FIELD_MAX];
	char email[KEY_FIELD_MAX];
	char org[KEY_FIELD_MAX];
};

static int init_sodium(void)
{
	if (sodium_init() < 0)
		return error_set(ERROR_GENERIC, "cannot initialise libsodium");
	return 0;
}

static struct key *key_alloc(void)
{
	struct key *k = sodium_malloc(sizeof(*k));

	if (k)
		memset(k, 0, sizeof(*k));
	return k;
}

void key_free(struct key *key)
{
	if (key)
		sodium_free(key); /* zeroes the memory first */
}

const char *key_name(const struct key *key)
{
	return key->name;
}

const char *key_email(const struct key *key)
{
	return key->email;
}

const char *key_org(const struct key *key)
{
	return key->org;
}

const unsigned char *key_public(const struct key *key)
{
	return key->pk;
}

int key_sign(
	unsigned char sig[64],
	const struct key *key,
	const void *msg,
	size_t len)
{
	if (crypto_sign_detached(sig, NULL, msg, len, key->sk) != 0)
		return error_set(ERROR_GENERIC, "cannot sign");
	return 0;
}

/* ---- paths ---- */

static int join(char *buf, size_t size, const char *a, const char *b)
{
	int n = snprintf(buf, size, "%s/%s", a, b);

	if (n < 0 || (size_t)n >= size)
		return error_set(ERROR_GENERIC, "path too long: '%s/%s'", a, b);
	return 0;
}

int key_home(char *buf, size_t size)
{
	const char *env;
	int n;

	if ((env = getenv("PLANSYNC_HOME")) && *env)
		n = snprintf(buf, size, "%s", env);
	else if ((env = getenv("XDG_CONFIG_HOME")) && env[0] == '/')
		n = snprintf(buf, size, "%s/plansync", env);
	else if ((env = getenv("HOME")) && *env)
		n = snprintf(buf, size, "%s/.config/plansync", env);
	else
		return error_set(
			ERROR_GENERIC,
			"cannot find the key folder: set PLANSYNC_HOME or HOME");
	if (n < 0 || (size_t)n >= size)
		return error_set(ERROR_GENERIC, "key folder path too long");
	return 0;
}

/* ---- names, emails, organisations ---- */

static int utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0, k, need;
	uint32_t cp, min;

	while (i < n) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0) {
			need = 1, cp = s[i] & 0x1f, min = 0x80;
		} else if ((s[i] & 0xf0) == 0xe0) {
			need = 2, cp = s[i] & 0x0f, min = 0x800;
		} else if ((s[i] & 0xf8) == 0xf0) {
			need = 3, cp = s[i] & 0x07, min = 0x10000;
		} else {
			return 0;
		}
		if (n - i <= need)
			return 0;
		for (k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += need + 1;
	}
	return 1;
}

/*
 * Why s is not a valid field value, or NULL.  Values end up in git
 * identities ("Name <email>"), key.pub comments and allowed_signers lines.
 */
static const char *field_problem(const char *s, int is_email, int required)
{
	size_t n = strlen(s), i, at = 0, ats = 0;

	if (n == 0)
		return required ? "is empty" : NULL;
	if (n >= KEY_FIELD_MAX)
		return "is too long (at most 255 bytes)";
	if (!utf8_valid((const unsigned char *)s, n))
		return "is not valid UTF-8";
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			return "contains a control character";
		if (c == '<' || c == '>')
			return "contains '<' or '>'";
		if (is_email && (c == ' ' || c == '"' || c == ','))
			return "contains a space, quote or comma";
		if (c == '@')
			at = i, ats++;
	}
	if (s[0] == ' ' || s[n - 1] == ' ')
		return "starts or ends with a space";
	if (is_email && (ats != 1 || at == 0 || at == n - 1))
		return "is not an address like name@example.org";
	return NULL;
}

static int check_fields(const char *name, const char *email, const char *org)
{
	const char *why;

	if ((why = field_problem(name, 0, 1)))
		return error_set(ERROR_USAGE, "name '%s' %s", name, why);
	if ((why = field_problem(email, 1, 1)))
		return error_set(ERROR_USAGE, "email '%s' %s", email, why);
	if ((why = field_problem(org, 0, 0)))
		return error_set(ERROR_USAGE, "organisation '%s' %s", org, why);
	return 0;
}

/* ---- public key forms ---- */

void key_public_blob(
	unsigned char out[KEY_BLOB_BYTES],
	const unsigned char pk[KEY_PUBLIC_BYTES])
{
	size_t n = wire_put_cstring(out, "ssh-ed25519");

	wire_put_string(out + n, pk, KEY_PUBLIC_BYTES);
}

int key_public_line(
	char *buf,
	size_t size,
	const unsigned char pk[KEY_PUBLIC_BYTES],
	const char *comment)
{
	unsigned char blob[KEY_BLOB_BYTES];
	char b64[sodium_base64_ENCODED_LEN(
		KEY_BLOB_BYTES, sodium_base64_VARIANT_ORIGINAL)];
	int n;

	if (comment && strpbrk(comment, "\r\n"))
		return error_set(
			ERROR_INVALID, "public key comment holds a line break");
	key_public_blob(blob, pk);
	sodium_bin2base64(
		b64, sizeof(b64), blob, sizeof(blob),
		sodium_base64_VARIANT_ORIGINAL);
	if (comment && *comment)
		n = snprintf(buf, size, "ssh-ed25519 %s %s", b64, comment);
	else
		n = snprintf(buf, size, "ssh-ed25519 %s", b64);
	if (n < 0 || (size_t)n >= size)
		return error_set(ERROR_GENERIC, "public key line too long");
	return 0;
}

/* A short printable excerpt of line for messages. */
static void excerpt(char out[40], const char *line)
{
	size_t i;

	for (i = 0; i < 32 && line[i]; i++)
		out[i] = (line[i] >= 0x20 && line[i] < 0x7f) ? line[i] : '?';
	if (i == 32 && line[i])
		out[i++] = '.', out[i++] = '.', out[i++] = '.';
	out[i] = '\0';
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

int key_parse_public_line(unsigned char pk[KEY_PUBLIC_BYTES], const char *line)
{
	static const char type[] = "ssh-ed25519";
	unsigned char blob[KEY_BLOB_BYTES + 3];
	const char *p = line, *tok, *b64_end = NULL;
	const unsigned char *k;
	char ex[40];
	size_t tok_len, bin_len = 0, klen;
	struct wire w;

	excerpt(ex, line);
	if (strncmp(p, type, sizeof(type) - 1) != 0 ||
	    !is_blank(p[sizeof(type) - 1]))
		return error_set(
			ERROR_INVALID,
			"'%s' is not an ssh-ed25519 public key line", ex);
	p += sizeof(type) - 1;
	while (is_blank(*p))
		p++;
	tok = p;
	while (*p && !is_blank(*p) && *p != '\r' && *p != '\n')
		p++;
	tok_len = (size_t)(p - tok);
	/* The rest: nothing, a line end, or blanks and a one-line comment. */
	if (is_blank(*p)) {
		while (*p && *p != '\r' && *p != '\n')
			p++;
	}
	if (*p == '\r')
		p++;
	if (*p == '\n')
		p++;
	if (*p)
		return error_set(
			ERROR_INVALID,
			"public key line '%s' has more than one line", ex);
	if (tok_len != 68 ||
	    sodium_base642bin(
		    blob, sizeof(blob), tok, tok_len, NULL, &bin_len, &b64_end,
		    sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    b64_end != tok + tok_len || bin_len != KEY_BLOB_BYTES)
		return error_set(
			ERROR_INVALID,
			"public key line '%s' has a malformed key", ex);
	w.p = blob;
	w.left = bin_len;
	if (wire_string_eq(&w, type) < 0 || wire_string(&k, &klen, &w) < 0 ||
	    klen != KEY_PUBLIC_BYTES || w.left != 0)
		return error_set(
			ERROR_INVALID,
			"public key line '%s' does not hold an ssh-ed25519 key",
			ex);
	memcpy(pk, k, KEY_PUBLIC_BYTES);
	return 0;
}

void key_fingerprint(
	char buf[KEY_FINGERPRINT_MAX],
	const unsigned char pk[KEY_PUBLIC_BYTES])
{
	unsigned char blob[KEY_BLOB_BYTES], h[crypto_hash_sha256_BYTES];

	key_public_blob(blob, pk);
	crypto_hash_sha256(h, blob, sizeof(blob));
	memcpy(buf, "SHA256:", 7);
	sodium_bin2base64(
		buf + 7, KEY_FINGERPRINT_MAX - 7, h, sizeof(h),
		sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
}

/* ---- files ---- */

/*
 * Read path into a sodium_malloc'd NUL-terminated buffer.  Symlinks are
 * refused; with secret set, so is a file that group or others may read or
 * that another user owns.  `what` names the file kind in messages.
 */
static int read_file(
	char **out,
	size_t *out_len,
	const char *path,
	size_t max,
	int secret,
	int nofollow,
	const char *what)
{
	struct stat st;
	char *buf = NULL;
	size_t n = 0;
	ssize_t r;
	int fd = -1, flags, error = 0;

	/* O_NONBLOCK: a FIFO planted as the key must not hang us. */
	flags = O_RDONLY | O_NOCTTY | O_CLOEXEC | O_NONBLOCK;
	if (nofollow)
		flags |= O_NOFOLLOW;
	fd = open(path, flags);
	if (fd < 0) {
		if (errno == ENOENT)
			error = error_set(
				ERROR_NOTFOUND, "%s '%s' does not exist", what,
				path);
		else if (errno == ELOOP)
			error = error_set(
				ERROR_INVALID,
				"%s '%s' is a symbolic link; refusing it", what,
				path);
		else
			error = error_set(
				ERROR_GENERIC, "cannot open %s '%s': %s", what,
				path, strerror(errno));
		goto done;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		error = error_set(
			ERROR_INVALID, "%s '%s' is not a regular file", what,
			path);
		goto done;
	}
	if (secret && (st.st_mode & 077)) {
		error = error_set(
			ERROR_GENERIC,
			"%s '%s' is readable by others (mode %04o); run "
			"'chmod 600 %s'",
			what, path, (unsigned)(st.st_mode & 07777), path);
		goto done;
	}
	if (secret && st.st_uid != geteuid()) {
		error = error_set(
			ERROR_GENERIC, "%s '%s' is owned by another user", what,
			path);
		goto done;
	}
	if ((size_t)st.st_size > max) {
		error = error_set(
			ERROR_INVALID, "%s '%s' is too large", what, path);
		goto done;
	}
	if (!(buf = sodium_malloc(max + 1))) {
		error = error_nomem();
		goto done;
	}
	while (n < max + 1) {
		r = read(fd, buf + n, max + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			error = error_set(
				ERROR_GENERIC, "cannot read %s '%s': %s", what,
				path, strerror(errno));
			goto done;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n > max) {
		error = error_set(
			ERROR_INVALID, "%s '%s' is too large", what, path);
		goto done;
	}
	buf[n] = '\0';
	*out = buf;
	*out_len = n;
	buf = NULL;
done:
	if (buf)
		sodium_free(buf);
	if (fd >= 0)
		close(fd);
	return error;
}

/* mkdir -p home, creating missing folders 0700 (XDG base dir spec). */
static int make_home(const char *home)
{
	char path[PATH_BYTES];
	struct stat st;
	size_t i, n = strlen(home);

	if (n == 0 || n >= sizeof(path))
		return error_set(ERROR_GENERIC, "bad key folder '%s'", home);
	memcpy(path, home, n + 1);
	for (i = 1; i <= n; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0700) < 0 && errno != EEXIST)
			return error_set(
				ERROR_GENERIC, "cannot create folder '%s': %s",
				path, strerror(errno));
		path[i] = home[i];
	}
	if (stat(home, &st) < 0 || !S_ISDIR(st.st_mode))
		return error_set(
			ERROR_GENERIC, "key folder '%s' is not a folder", home);
	return 0;
}

static int write_all(int fd, const char *buf, size_t len)
{
	ssize_t r;

	while (len > 0) {
		r = write(fd, buf, len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		buf += r;
		len -= (size_t)r;
	}
	return 0;
}

/*
 * Create dir/name holding buf, never overwriting and never visible
 * half-written: write a fresh temporary file (O_CREAT|O_EXCL|O_NOFOLLOW),
 * fsync it, then link() it to the final name, which fails if that exists.
 */
static int create_file(
	const char *dir,
	const char *name,
	const char *buf,
	size_t len,
	mode_t mode)
{
	char path[PATH_BYTES], tmp[PATH_BYTES], tmpname[64];
	unsigned char rnd[8];
	char hex[17];
	int fd = -1, error = 0, made = 0;

	if ((error = join(path, sizeof(path), dir, name)) < 0)
		goto done;
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(hex, sizeof(hex), rnd, sizeof(rnd));
	snprintf(tmpname, sizeof(tmpname), ".%s.tmp-%s", name, hex);
	if ((error = join(tmp, sizeof(tmp), dir, tmpname)) < 0)
		goto done;
	fd =
		open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		     mode);
	if (fd < 0) {
		error = error_set(
			ERROR_GENERIC, "cannot create '%s': %s", tmp,
			strerror(errno));
		goto done;
	}
	made = 1;
	if (fchmod(fd, mode) < 0 || write_all(fd, buf, len) < 0 ||
	    fsync(fd) < 0) {
		error = error_set(
			ERROR_GENERIC, "cannot write '%s': %s", tmp,
			strerror(errno));
		goto done;
	}
	if (close(fd) < 0) {
		fd = -1;
		error = error_set(
			ERROR_GENERIC, "cannot write '%s': %s", tmp,
			strerror(errno));
		goto done;
	}
	fd = -1;
	if (link(tmp, path) < 0) {
		if (errno == EEXIST)
			error = error_set(
				ERROR_EXISTS, "'%s' already exists", path);
		else
			error = error_set(
				ERROR_GENERIC, "cannot create '%s': %s", path,
				strerror(errno));
		goto done;
	}
done:
	if (fd >= 0)
		close(fd);
	if (made)
		unlink(tmp);
	return error;
}

static void fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

static int refuse_existing(const char *home)
{
	static const char *const names[] = { "key", "key.pub" };
	char path[PATH_BYTES];
	struct stat st;
	size_t i;
	int error;

	for (i = 0; i < 2; i++) {
		if ((error = join(path, sizeof(path), home, names[i])) < 0)
			return error;
		if (lstat(path, &st) == 0)
			return error_set(
				ERROR_EXISTS,
				"'%s' already exists; remove the old key first "
				"to replace it",
				path);
	}
	return 0;
}

/* ---- the secret key file ---- */

static void put_le64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void checksum(unsigned char out[KF_SUM_BYTES], const struct key *k)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, KF_SUM_BYTES);
	crypto_generichash_update(&st, k->pk, sizeof(k->pk));
	crypto_generichash_update(&st, k->sk, sizeof(k->sk));
	crypto_generichash_final(&st, out, KF_SUM_BYTES);
	sodium_memzero(&st, sizeof(st));
}

/* Derive the 32-byte secretbox key from the passphrase. */
static int
derive(unsigned char *dk,
       const char *pass,
       const unsigned char *salt,
       uint64_t ops,
       uint64_t mem)
{
	if (crypto_pwhash(
		    dk, crypto_secretbox_KEYBYTES, pass, strlen(pass), salt,
		    (unsigned long long)ops, (size_t)mem,
		    crypto_pwhash_ALG_ARGON2ID13) != 0)
		return error_set(
			ERROR_NOMEM,
			"not enough memory to derive the key from the "
			"passphrase");
	return 0;
}

/* Seal k (when ask is set) and write home/key and home/key.pub. */
static int save_key(
	const char *home,
	const struct key *k,
	key_passphrase_fn ask,
	void *ctx)
{
	unsigned char *raw = NULL, *dk = NULL;
	char *pass = NULL, *text = NULL, pub[KEY_LINE_MAX], path[PATH_BYTES];
	char b64[KF_B64_LEN + 1];
	size_t tlen;
	int n, error = 0, key_made = 0;

	if ((error = refuse_existing(home)) < 0)
		goto done;
	if ((error = key_public_line(pub, sizeof(pub) - 1, k->pk, k->email)) <
	    0)
		goto done;
	memcpy(pub + strlen(pub), "\n", 2);
	if (!(raw = sodium_malloc(KF_SIZE)) ||
	    !(text = sodium_malloc(KF_TEXT_MAX))) {
		error = error_nomem();
		goto done;
	}
	memset(raw, 0, KF_SIZE);
	memcpy(raw + KF_OFF_ALG, "Ed", 2);
	memcpy(raw + KF_OFF_CHK, "B2", 2);
	memcpy(raw + KF_OFF_PK, k->pk, KEY_PUBLIC_BYTES);
	checksum(raw + KF_OFF_SUM, k);
	if (ask) {
		if (!(pass = sodium_malloc(KEY_PASSPHRASE_MAX)) ||
		    !(dk = sodium_malloc(crypto_secretbox_KEYBYTES))) {
			error = error_nomem();
			goto done;
		}
		pass[0] = '\0';
		if ((error = ask(pass, KEY_PASSPHRASE_MAX, 1, ctx)) < 0)
			goto done;
		pass[KEY_PASSPHRASE_MAX - 1] = '\0';
		if (!*pass) {
			error = error_set(
				ERROR_USAGE, "the passphrase is empty");
			goto done;
		}
		memcpy(raw + KF_OFF_KDF, "A2", 2);
		randombytes_buf(raw + KF_OFF_SALT, crypto_pwhash_SALTBYTES);
		randombytes_buf(
			raw + KF_OFF_NONCE, crypto_secretbox_NONCEBYTES);
		put_le64(raw + KF_OFF_OPS, crypto_pwhash_OPSLIMIT_INTERACTIVE);
		put_le64(raw + KF_OFF_MEM, crypto_pwhash_MEMLIMIT_INTERACTIVE);
		if ((error =
			     derive(dk, pass, raw + KF_OFF_SALT,
				    crypto_pwhash_OPSLIMIT_INTERACTIVE,
				    crypto_pwhash_MEMLIMIT_INTERACTIVE)) < 0)
			goto done;
		crypto_secretbox_easy(
			raw + KF_OFF_BOX, k->sk, sizeof(k->sk),
			raw + KF_OFF_NONCE, dk);
	} else {
		memcpy(raw + KF_OFF_BOX + crypto_secretbox_MACBYTES, k->sk,
		       sizeof(k->sk));
	}
	sodium_bin2base64(
		b64, sizeof(b64), raw, KF_SIZE, sodium_base64_VARIANT_ORIGINAL);
	n = snprintf(
		text, KF_TEXT_MAX, "%s\nname: %s\nemail: %s\norg:%s%s\n%s\n",
		KF_COMMENT, k->name, k->email, *k->org ? " " : "", k->org, b64);
	sodium_memzero(b64, sizeof(b64));
	if (n < 0 || n >= KF_TEXT_MAX) {
		error = error_set(ERROR_GENERIC, "key file too long");
		goto done;
	}
	tlen = (size_t)n;
	if ((error = make_home(home)) < 0)
		goto done;
	if ((error = create_file(home, "key", text, tlen, 0600)) < 0)
		goto done;
	key_made = 1;
	if ((error = create_file(home, "key.pub", pub, strlen(pub), 0644)) < 0)
		goto done;
	key_made = 0;
	fsync_dir(home);
done:
	if (key_made && join(path, sizeof(path), home, "key") == 0)
		unlink(path);
	if (raw)
		sodium_free(raw);
	if (text)
		sodium_free(text);
	if (pass)
		sodium_free(pass);
	if (dk)
		sodium_free(dk);
	return error;
}

static int key_set_fields(
	struct key *k,
	const char *name,
	const char *email,
	const char *org)
{
	int error;

	if ((error = check_fields(name, email, org)) < 0)
		return error;
	memcpy(k->name, name, strlen(name) + 1);
	memcpy(k->email, email, strlen(email) + 1);
	memcpy(k->org, org, strlen(org) + 1);
	return 0;
}

void key_forget_env_passphrase(void)
{
	char *value = getenv(KEY_PASSPHRASE_ENV);

	/* The bytes live in environ's own memory (the process's initial
	 * environment, or putenv/setenv storage): wipe them there, since
	 * unsetenv only drops the pointer. */
	if (value)
		sodium_memzero(value, strlen(value));
	unsetenv(KEY_PASSPHRASE_ENV);
}

int key_generate(
	const char *home,
	const char *name,
	const char *email,
	const char *org,
	key_passphrase_fn ask,
	void *ctx)
{
	struct key *k = NULL;
	int error = 0;

	if ((error = init_sodium()) < 0)
		goto done;
	if (!(k = key_alloc())) {
		error = error_nomem();
		goto done;
	}
	if ((error = key_set_fields(k, name, email, org ? org : "")) < 0)
		goto done;
	crypto_sign_keypair(k->pk, k->sk);
	error = save_key(home, k, ask, ctx);
done:
	key_forget_env_passphrase();
	key_free(k);
	return error;
}

/* Take the next "\n"-terminated line of [*p, end); -1 if there is none. */
static int
take_line(const char **line, size_t *len, const char **p, const char *end)
{
	const char *nl = *p < end ? memchr(*p, '\n', (size_t)(end - *p)) : NULL;

	if (!nl)
		return -1;
	*line = *p;
	*len = (size_t)(nl - *p);
	*p = nl + 1;
	return 0;
}

/* "<label>: value" (or "<label>:" for an empty value) into out. */
static int take_field(
	char out[KEY_FIELD_MAX],
	const char *label,
	const char **p,
	const char *end)
{
	const char *line;
	size_t len, l = strlen(label);

	if (take_line(&line, &len, p, end) < 0 || len < l + 1 ||
	    memcmp(line, label, l) != 0 || line[l] != ':')
		return -1;
	if (len == l + 1) {
		out[0] = '\0';
		return 0;
	}
	if (line[l + 1] != ' ' || len - l - 2 == 0 ||
	    len - l - 2 >= KEY_FIELD_MAX)
		return -1;
	memcpy(out, line + l + 2, len - l - 2);
	out[len - l - 2] = '\0';
	if (memchr(out, '\0', len - l - 2))
		return -1;
	return 0;
}

/*
 * Parse the text of a key file into k's fields and the raw struct
 * (KF_SIZE bytes of sodium_malloc memory).  Checks everything but the
 * secret part, which unseal() handles.
 */
static int parse_key_text(
	struct key *k,
	unsigned char *raw,
	const char *text,
	size_t len,
	const char *path)
{
	const char *p = text, *end = text + len, *line, *b64_end = NULL;
	size_t llen, bin_len = 0;
	const char *why = NULL;
	uint64_t ops, mem;
	static const unsigned char zero[KF_OFF_PK] = { 0 };

	if (take_line(&line, &llen, &p, end) < 0 ||
	    llen != strlen(KF_COMMENT) || memcmp(line, KF_COMMENT, llen) != 0)
		why = "first line is not '" KF_COMMENT "'";
	else if (take_field(k->name, "name", &p, end) < 0)
		why = "bad 'name:' line";
	else if (take_field(k->email, "email", &p, end) < 0)
		why = "bad 'email:' line";
	else if (take_field(k->org, "org", &p, end) < 0)
		why = "bad 'org:' line";
	else if (
		field_problem(k->name, 0, 1) || field_problem(k->email, 1, 1) ||
		field_problem(k->org, 0, 0))
		why = "bad name, email or organisation";
	else if (take_line(&line, &llen, &p, end) < 0 || llen != KF_B64_LEN)
		why = "bad key line";
	else if (p != end)
		why = "text after the key line";
	else if (
		sodium_base642bin(
			raw, KF_SIZE, line, llen, NULL, &bin_len, &b64_end,
			sodium_base64_VARIANT_ORIGINAL) != 0 ||
		bin_len != KF_SIZE || b64_end != line + llen)
		why = "bad base64 in the key line";
	else if (
		memcmp(raw + KF_OFF_ALG, "Ed", 2) != 0 ||
		memcmp(raw + KF_OFF_CHK, "B2", 2) != 0 ||
		raw[KF_OFF_RESERVED] || raw[KF_OFF_RESERVED + 1])
		why = "unknown algorithm";
	if (why)
		return error_set(
			ERROR_INVALID, "key file '%s' is malformed: %s", path,
			why);
	ops = get_le64(raw + KF_OFF_OPS);
	mem = get_le64(raw + KF_OFF_MEM);
	if (memcmp(raw + KF_OFF_KDF, "A2", 2) == 0) {
		if (ops < crypto_pwhash_OPSLIMIT_MIN ||
		    ops > crypto_pwhash_OPSLIMIT_SENSITIVE ||
		    mem < crypto_pwhash_MEMLIMIT_MIN ||
		    mem > crypto_pwhash_MEMLIMIT_SENSITIVE)
			why = "passphrase limits out of range";
	} else if (raw[KF_OFF_KDF] == 0 && raw[KF_OFF_KDF + 1] == 0) {
		if (sodium_memcmp(
			    raw + KF_OFF_SALT, zero, KF_OFF_PK - KF_OFF_SALT) !=
			    0 ||
		    sodium_memcmp(
			    raw + KF_OFF_BOX, zero,
			    crypto_secretbox_MACBYTES) != 0)
			why = "unsealed key with passphrase parameters";
	} else {
		why = "unknown passphrase algorithm";
	}
	if (why)
		return error_set(
			ERROR_INVALID, "key file '%s' is malformed: %s", path,
			why);
	memcpy(k->pk, raw + KF_OFF_PK, KEY_PUBLIC_BYTES);
	return 0;
}

/* Check that sk's seed gives pk and that sk ends with pk. */
static int keypair_consistent(
	const unsigned char sk[64],
	const unsigned char pk[KEY_PUBLIC_BYTES])
{
	unsigned char *tmp = sodium_malloc(96);
	int ok;

	if (!tmp)
		return -1;
	crypto_sign_seed_keypair(tmp, tmp + 32, sk);
	ok = sodium_memcmp(tmp, pk, 32) == 0 &&
	     sodium_memcmp(sk + 32, pk, 32) == 0;
	sodium_free(tmp);
	return ok ? 0 : -1;
}

/* Recover k->sk from raw, asking for the passphrase if it is sealed. */
static int
unseal(struct key *k,
       const unsigned char *raw,
       key_passphrase_fn ask,
       void *ctx,
       const char *path)
{
	unsigned char *dk = NULL, sum[KF_SUM_BYTES];
	char *pass = NULL;
	int error = 0;

	if (memcmp(raw + KF_OFF_KDF, "A2", 2) == 0) {
		if (!ask) {
			error = error_set(
				ERROR_GENERIC,
				"key '%s' has a passphrase and none was given",
				path);
			goto done;
		}
		if (!(pass = sodium_malloc(KEY_PASSPHRASE_MAX)) ||
		    !(dk = sodium_malloc(crypto_secretbox_KEYBYTES))) {
			error = error_nomem();
			goto done;
		}
		pass[0] = '\0';
		if ((error = ask(pass, KEY_PASSPHRASE_MAX, 0, ctx)) < 0)
			goto done;
		pass[KEY_PASSPHRASE_MAX - 1] = '\0';
		if ((error =
			     derive(dk, pass, raw + KF_OFF_SALT,
				    get_le64(raw + KF_OFF_OPS),
				    get_le64(raw + KF_OFF_MEM))) < 0)
			goto done;
		if (crypto_secretbox_open_easy(
			    k->sk, raw + KF_OFF_BOX, KF_BOX_BYTES,
			    raw + KF_OFF_NONCE, dk) != 0) {
			/* Bad input (exit 1), not a refused signature. */
			error = error_set(
				ERROR_INVALID, "wrong passphrase for key '%s'",
				path);
			goto done;
		}
	} else {
		memcpy(k->sk, raw + KF_OFF_BOX + crypto_secretbox_MACBYTES,
		       sizeof(k->sk));
	}
	checksum(sum, k);
	if (sodium_memcmp(sum, raw + KF_OFF_SUM, KF_SUM_BYTES) != 0 ||
	    keypair_consistent(k->sk, k->pk) < 0) {
		error = error_set(
			ERROR_INVALID,
			"key file '%s' is corrupt: its checksum does not match",
			path);
		goto done;
	}
done:
	sodium_memzero(sum, sizeof(sum));
	if (error < 0)
		sodium_memzero(k->sk, sizeof(k->sk));
	if (pass)
		sodium_free(pass);
	if (dk)
		sodium_free(dk);
	return error;
}

/* Read and parse home/key (secret part still in raw). */
static int read_key_file(
	struct key *k,
	unsigned char *raw,
	char *path,
	size_t path_size,
	const char *home)
{
	char *text = NULL;
	size_t len = 0;
	int error = 0;

	if ((error = join(path, path_size, home, "key")) < 0)
		goto done;
	error = read_file(&text, &len, path, KF_TEXT_MAX, 1, 1, "secret key");
	if (error == ERROR_NOTFOUND)
		error = error_set(
			ERROR_NOTFOUND,
			"no key in '%s'; run 'plansync key generate' or "
			"'plansync key import'",
			home);
	if (error < 0)
		goto done;
	error = parse_key_text(k, raw, text, len, path);
done:
	if (text)
		sodium_free(text);
	return error;
}

int key_load(
	struct key **out,
	const char *home,
	key_passphrase_fn ask,
	void *ctx)
{
	struct key *k = NULL;
	unsigned char *raw = NULL;
	char path[PATH_BYTES];
	int error = 0;

	if ((error = init_sodium()) < 0)
		goto done;
	if (!(k = key_alloc()) || !(raw = sodium_malloc(KF_SIZE))) {
		error = error_nomem();
		goto done;
	}
	if ((error = read_key_file(k, raw, path, sizeof(path), home)) < 0)
		goto done;
	if ((error = unseal(k, raw, ask, ctx, path)) < 0)
		goto done;
	*out = k;
	k = NULL;
done:
	key_forget_env_passphrase();
	if (raw)
		sodium_free(raw);
	key_free(k);
	return error;
}

int key_load_public(
	char *line,
	size_t size,
	unsigned char pk[KEY_PUBLIC_BYTES],
	const char *home)
{
	struct key *k = NULL;
	unsigned char *raw = NULL, pub_pk[KEY_PUBLIC_BYTES];
	char path[PATH_BYTES], pub_path[PATH_BYTES], *text = NULL;
	size_t len = 0;
	int error = 0;

	if ((error = init_sodium()) < 0)
		goto done;
	if (!(k = key_alloc()) || !(raw = sodium_malloc(KF_SIZE))) {
		error = error_nomem();
		goto done;
	}
	if ((error = read_key_file(k, raw, path, sizeof(path), home)) < 0)
		goto done;
	if ((error = join(pub_path, sizeof(pub_path), home, "key.pub")) < 0)
		goto done;
	if ((error = read_file(
		     &text, &len, pub_path, PUB_FILE_MAX, 0, 1, "public key")) <
	    0)
		goto done;
	if (strlen(text) != len) {
		error = error_set(
			ERROR_INVALID, "public key '%s' holds a NUL byte",
			pub_path);
		goto done;
	}
	if ((error = key_parse_public_line(pub_pk, text)) < 0)
		goto done;
	if (sodium_memcmp(pub_pk, k->pk, KEY_PUBLIC_BYTES) != 0) {
		error = error_set(
			ERROR_INVALID, "'%s' does not match '%s'", pub_path,
			path);
		goto done;
	}
	len = strcspn(text, "\r\n");
	if (line) {
		if (len >= size) {
			error = error_set(
				ERROR_INVALID, "public key '%s' is too long",
				pub_path);
			goto done;
		}
		memcpy(line, text, len);
		line[len] = '\0';
	}
	if (pk)
		memcpy(pk, pub_pk, KEY_PUBLIC_BYTES);
done:
	if (text)
		sodium_free(text);
	if (raw)
		sodium_free(raw);
	key_free(k);
	return error;
}

/* ---- OpenSSH private keys ---- */

#define OPENSSH_MAGIC "openssh-key-v1"

/* Parse an openssh-key-v1 blob (SSHSIG.md last section) strictly. */
static int parse_openssh(
	struct key *k,
	char comment[KEY_FIELD_MAX],
	const unsigned char *bin,
	size_t len,
	const char *file)
{
	struct wire w = { bin, len }, priv, pub;
	const unsigned char *p, *s, *pk, *sk, *c;
	size_t plen, slen, pklen, sklen, clen, i;
	uint32_t nkeys, check1, check2;
	const char *why = NULL;

	if (wire_bytes(&p, sizeof(OPENSSH_MAGIC), &w) < 0 ||
	    memcmp(p, OPENSSH_MAGIC, sizeof(OPENSSH_MAGIC)) != 0) {
		why = "bad magic";
		goto bad;
	}
	if (wire_string(&s, &slen, &w) < 0) {
		why = "truncated";
		goto bad;
	}
	if (slen != 4 || memcmp(s, "none", 4) != 0)
		return error_set(
			ERROR_GENERIC,
			"key '%s' is encrypted; export an unencrypted copy "
			"(ssh-keygen -p -N '' -f COPY) or run 'plansync key "
			"generate'",
			file);
	if (wire_string_eq(&w, "none") < 0 || wire_string(&s, &slen, &w) < 0 ||
	    slen != 0) {
		why = "unexpected key derivation";
		goto bad;
	}
	if (wire_u32(&nkeys, &w) < 0 || nkeys != 1) {
		why = "not exactly one key";
		goto bad;
	}
	if (wire_string(&p, &plen, &w) < 0) {
		why = "truncated";
		goto bad;
	}
	pub.p = p;
	pub.left = plen;
	if (wire_string(&s, &slen, &pub) < 0) {
		why = "bad public key";
		goto bad;
	}
	if (slen != 11 || memcmp(s, "ssh-ed25519", 11) != 0) {
		for (i = 0; i < slen && i < 32; i++)
			if (s[i] < 0x21 || s[i] > 0x7e)
				break;
		return error_set(
			ERROR_INVALID,
			"key '%s' holds a '%.*s' key; plansync needs an "
			"Ed25519 key (ssh-keygen -t ed25519)",
			file, (int)i, (const char *)s);
	}
	if (wire_string(&pk, &pklen, &pub) < 0 || pklen != 32 ||
	    pub.left != 0) {
		why = "bad public key";
		goto bad;
	}
	if (wire_string(&p, &plen, &w) < 0 || w.left != 0) {
		why = "bad private section";
		goto bad;
	}
	priv.p = p;
	priv.left = plen;
	if (plen % 8 != 0 || wire_u32(&check1, &priv) < 0 ||
	    wire_u32(&check2, &priv) < 0 || check1 != check2) {
		why = "bad check bytes";
		goto bad;
	}
	if (wire_string_eq(&priv, "ssh-ed25519") < 0 ||
	    wire_string(&s, &slen, &priv) < 0 || slen != 32 ||
	    memcmp(s, pk, 32) != 0) {
		why = "private and public keys differ";
		goto bad;
	}
	if (wire_string(&sk, &sklen, &priv) < 0 || sklen != 64 ||
	    keypair_consistent(sk, pk) < 0) {
		why = "bad secret key";
		goto bad;
	}
	if (wire_string(&c, &clen, &priv) < 0 || clen >= KEY_FIELD_MAX ||
	    memchr(c, '\0', clen)) {
		why = "bad comment";
		goto bad;
	}
	if (priv.left >= 8) {
		why = "bad padding";
		goto bad;
	}
	for (i = 0; i < priv.left; i++) {
		if (priv.p[i] != (unsigned char)(i + 1)) {
			why = "bad padding";
			goto bad;
		}
	}
	memcpy(k->pk, pk, 32);
	memcpy(k->sk, sk, 64);
	memcpy(comment, c, clen);
	comment[clen] = '\0';
	return 0;
bad:
	return error_set(
		ERROR_INVALID,
		"key '%s' is not a valid OpenSSH private key: %s", file, why);
}

int key_import_openssh(
	const char *home,
	const char *file,
	const char *name,
	const char *email,
	const char *org,
	key_passphrase_fn ask,
	void *ctx)
{
	struct key *k = NULL;
	char *text = NULL, comment[KEY_FIELD_MAX], what[PATH_BYTES + 8];
	unsigned char *bin = NULL;
	size_t len = 0, bin_len = 0;
	const char *why;
	int error = 0;

	if ((error = init_sodium()) < 0)
		goto done;
	if (!(k = key_alloc())) {
		error = error_nomem();
		goto done;
	}
	if ((error = read_file(
		     &text, &len, file, OPENSSH_FILE_MAX, 0, 0, "key file")) <
	    0)
		goto done;
	snprintf(what, sizeof(what), "key '%s'", file);
	if ((error = wire_dearmor(
		     &bin, &bin_len, text, len, "OPENSSH PRIVATE KEY", 1,
		     ERROR_INVALID, what)) < 0)
		goto done;
	if ((error = parse_openssh(k, comment, bin, bin_len, file)) < 0)
		goto done;
	if (!email) {
		if ((why = field_problem(comment, 1, 1))) {
			error = error_set(
				ERROR_USAGE,
				"key '%s' has no email as its comment (it %s); "
				"give --email",
				file, why);
			goto done;
		}
		email = comment;
	}
	if ((error = key_set_fields(
		     k, name ? name : email, email, org ? org : "")) < 0)
		goto done;
	error = save_key(home, k, ask, ctx);
done:
	key_forget_env_passphrase();
	if (text)
		sodium_free(text);
	wire_free(bin, 1);
	key_free(k);
	return error;
}
