/*
 * tests/test_key.c: key files, passphrases, OpenSSH import and the
 * OpenSSH public forms, checked against libsodium and stock ssh-keygen.
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

#define KEYS "tests/fixtures/keys/"

static char top[1024];
static char tmpdir[1024];
static int counter;

static int run(const char *cmd)
{
	int st = system(cmd);

	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		fail_msg("cannot open '%s'", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (len)
		*len = (size_t)n;
	return buf;
}

static void write_file(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* A new, not yet existing key folder under tmpdir. */
static void new_home(char *buf, size_t size)
{
	snprintf(buf, size, "%s/home%d/.config/plansync", tmpdir, ++counter);
}

static void file_in(char *buf, size_t size, const char *home, const char *f)
{
	snprintf(buf, size, "%s/%s", home, f);
}

static void fixture(char *buf, size_t size, const char *rel)
{
	snprintf(buf, size, "%s/%s", top, rel);
}

struct asker {
	const char *pass;
	int calls;
	int confirms;
};

static int ask(char *buf, size_t size, int confirm, void *ctx)
{
	struct asker *a = ctx;

	a->calls++;
	a->confirms += confirm != 0;
	if (strlen(a->pass) + 1 > size)
		return error_set(ERROR_USAGE, "too long");
	memcpy(buf, a->pass, strlen(a->pass) + 1);
	return 0;
}

static int exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static mode_t mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(lstat(path, &st), 0);
	return st.st_mode & 07777;
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void expect_msg(const char *part)
{
	if (!strstr(error_message(), part))
		fail_msg("message '%s' lacks '%s'", error_message(), part);
}

/* Sign and check the signature with libsodium directly. */
static void check_signs(const struct key *k)
{
	unsigned char msg[100], sig[64];

	randombytes_buf(msg, sizeof(msg));
	assert_int_equal(key_sign(sig, k, msg, sizeof(msg)), 0);
	assert_int_equal(
		crypto_sign_verify_detached(
			sig, msg, sizeof(msg), key_public(k)),
		0);
	msg[3] ^= 0x10;
	assert_int_not_equal(
		crypto_sign_verify_detached(
			sig, msg, sizeof(msg), key_public(k)),
		0);
}

static void test_key__home_from_environment(void **state)
{
	char buf[1024], *home = getenv("HOME"),
			*xdg = getenv("XDG_CONFIG_HOME");
	char *ph = getenv("PLANSYNC_HOME");

	(void)state;
	home = home ? strdup(home) : NULL;
	xdg = xdg ? strdup(xdg) : NULL;
	ph = ph ? strdup(ph) : NULL;
	setenv("PLANSYNC_HOME", "/p/home", 1);
	setenv("XDG_CONFIG_HOME", "/xdg", 1);
	setenv("HOME", "/h", 1);
	assert_int_equal(key_home(buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/p/home");
	unsetenv("PLANSYNC_HOME");
	assert_int_equal(key_home(buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/xdg/plansync");
	setenv("XDG_CONFIG_HOME", "relative", 1); /* ignored, as XDG says */
	assert_int_equal(key_home(buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/h/.config/plansync");
	unsetenv("XDG_CONFIG_HOME");
	assert_int_equal(key_home(buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/h/.config/plansync");
	assert_int_equal(key_home(buf, 8), ERROR_GENERIC);
	unsetenv("HOME");
	assert_int_equal(key_home(buf, sizeof(buf)), ERROR_GENERIC);
	expect_msg("PLANSYNC_HOME");
	if (home)
		setenv("HOME", home, 1);
	if (xdg)
		setenv("XDG_CONFIG_HOME", xdg, 1);
	if (ph)
		setenv("PLANSYNC_HOME", ph, 1);
	free(home);
	free(xdg);
	free(ph);
}

static void test_key__generate_and_load(void **state)
{
	char home[1100], path[1200], line[KEY_LINE_MAX], pub[KEY_LINE_MAX];
	char *text;
	struct key *k = NULL;
	unsigned char pk[32];
	mode_t old = umask(0);

	(void)state;
	new_home(home, sizeof(home));
	assert_int_equal(
		key_generate(
			home, "Agency A Planner", "planner@agency-a.example",
			"Agency A", NULL, NULL),
		0);
	umask(old);
	assert_int_equal(mode_of(home), 0700);
	file_in(path, sizeof(path), home, "key");
	assert_int_equal(mode_of(path), 0600);
	text = slurp(path, NULL);
	assert_int_equal(
		strncmp(text,
			"plansync secret key\nname: Agency A "
			"Planner\nemail: planner@agency-a.example\n"
			"org: Agency A\n",
			84),
		0);
	free(text);
	file_in(path, sizeof(path), home, "key.pub");
	assert_int_equal(mode_of(path), 0644);
	assert_int_equal(count_entries(home), 2); /* no temp file left */
	assert_int_equal(key_load(&k, home, NULL, NULL), 0);
	assert_string_equal(key_name(k), "Agency A Planner");
	assert_string_equal(key_email(k), "planner@agency-a.example");
	assert_string_equal(key_org(k), "Agency A");
	check_signs(k);
	/* key.pub is the OpenSSH line with the email as comment */
	text = slurp(path, NULL);
	assert_int_equal(
		key_public_line(
			pub, sizeof(pub), key_public(k),
			"planner@agency-a.example"),
		0);
	assert_int_equal(strlen(text), strlen(pub) + 1);
	assert_memory_equal(text, pub, strlen(pub));
	assert_int_equal(key_load_public(line, sizeof(line), pk, home), 0);
	assert_string_equal(line, pub);
	assert_memory_equal(pk, key_public(k), 32);
	free(text);
	key_free(k);
}

static void test_key__no_org(void **state)
{
	char home[1100], path[1200], *text;
	struct key *k = NULL;

	(void)state;
	new_home(home, sizeof(home));
	assert_int_equal(
		key_generate(home, "N", "n@x.example", NULL, NULL, NULL), 0);
	file_in(path, sizeof(path), home, "key");
	text = slurp(path, NULL);
	assert_non_null(strstr(text, "\norg:\n"));
	free(text);
	assert_int_equal(key_load(&k, home, NULL, NULL), 0);
	assert_string_equal(key_org(k), "");
	key_free(k);
}

static void test_key__passphrase_round_trip(void **state)
{
	char home[1100];
	struct asker good = { "correct horse battery staple", 0, 0 };
	struct asker none = { "unused", 0, 0 };
	struct key *k = NULL;
	unsigned char pk[32];

	(void)state;
	new_home(home, sizeof(home));
	assert_int_equal(
		key_generate(
			home, "Sealed", "sealed@x.example", "", ask, &good),
		0);
	assert_int_equal(good.calls, 1);
	assert_int_equal(good.confirms, 1);
	assert_int_equal(key_load(&k, home, ask, &good), 0);
	assert_int_equal(good.calls, 2);
	assert_int_equal(good.confirms, 1); /* loading does not confirm */
	assert_int_equal(key_load_public(NULL, 0, pk, home), 0);
	assert_memory_equal(pk, key_public(k), 32);
	check_signs(k);
	key_free(k);
	k = NULL;
	/* an unsealed key never asks */
	new_home(home, sizeof(home));
	assert_int_equal(
		key_generate(home, "Open", "open@x.example", "", NULL, NULL),
		0);
	assert_int_equal(key_load(&k, home, ask, &none), 0);
	assert_int_equal(none.calls, 0);
	key_free(k);
}

static void test_key__wrong_passphrase(void **state)
{
	char home[1100], path[1200], msg[1400];
	struct asker good = { "right one", 0, 0 }, bad = { "right on", 0, 0 };
	struct asker empty = { "", 0, 0 };
	struct key *k = NULL;

	(void)state;
	new_home(home, sizeof(home));
	assert_int_equal(
		key_generate(home, "S", "s@x.example", "", ask, &good), 0);
	/* bad input (exit 1), not a refused signature (ERROR_VERIFY, exit 3) */
	assert_int_equal(key_load(&k, home, ask, &bad), ERROR_INVALID);
	assert_null(k);
	file_in(path, sizeof(path), home, "key");
	snprintf(msg, sizeof(msg), "wrong passphrase for key '%s'", path);
	assert_string_equal(error_message(), msg);
	assert_int_equal(key_load(&k, home, ask, &empty), ERROR_INVALID);
	/* a sealed key with no way to ask */
	assert_int_equal(key_load(&k, home, NULL, NULL), ERROR_GENERIC);
	expect_msg("passphrase");
	assert_null(k);
}

/* Like cli/prompt.c: the passphrase from PLANSYNC_PASSPHRASE. */
static int ask_env(char *buf, size_t size, int confirm, void *ctx)
{
	const char *env = getenv("PLANSYNC_PASSPHRASE");

	(void)confirm;
	(void)ctx;
	if (!env || strlen(env) + 1 > size)
		return error_set(ERROR_USAGE, "no passphrase");
	memcpy(buf, env, strlen(env) + 1);
	return 0;
}

/*
 * Once a key is loaded, generated or imported, PLANSYNC_PASSPHRASE is gone
 * from the environment (no child process inherits it) and its bytes are
 * wiped; also after a wrong passphrase, and for an unsealed key.
 */
static void test_key__env_passphrase_forgotten(void **state)
{
	static char var[] = "PLANSYNC_PASSPHRASE=env secret";
	static char var2[] = "PLANSYNC_PASSPHRASE=env wrong!";
	static char var3[] = "PLANSYNC_PASSPHRASE=env unused";
	char *value = var + strlen("PLANSYNC_PASSPHRASE=");
	char home[1100], open_home[1100];
	struct key *k = NULL;
	size_t i;

	(void)state;
	new_home(home, sizeof(home));
	assert_int_equal(putenv(var), 0);
	assert_int_equal(
		key_generate(home, "S", "s@x.example", "", ask_env, NULL), 0);
	assert_null(getenv("PLANSYNC_PASSPHRASE"));
	for (i = 0; i < strlen("env secret"); i++)
		assert_int_equal(value[i], 0);
	/* Reading it again needs it again: load with it, then it is gone. */
	memcpy(value, "env secret", strlen("env secret"));
	assert_int_equal(putenv(var), 0);
	assert_int_equal(key_load(&k, home, ask_env, NULL), 0);
	assert_non_null(k);
	key_free(k);
	k = NULL;
	assert_null(getenv("PLANSYNC_PASSPHRASE"));
	assert_int_equal(value[0], 0);
	assert_int_equal(value[9], 0);
	/* A wrong one is forgotten too. */
	assert_int_equal(putenv(var2), 0);
	assert_int_equal(key_load(&k, home, ask_env, NULL), ERROR_INVALID);
	assert_null(k);
	assert_null(getenv("PLANSYNC_PASSPHRASE"));
	assert_int_equal(var2[strlen("PLANSYNC_PASSPHRASE=")], 0);
	/* An unsealed key never reads it, but it is not passed on either. */
	new_home(open_home, sizeof(open_home));
	assert_int_equal(
		key_generate(open_home, "O", "o@x.example", "", NULL, NULL), 0);
	assert_int_equal(putenv(var3), 0);
	assert_int_equal(key_load(&k, open_home, ask_env, NULL), 0);
	key_free(k);
	assert_null(getenv("PLANSYNC_PASSPHRASE"));
	assert_int_equal(var3[strlen("PLANSYNC_PASSPHRASE=")], 0);
}

static void test_key__empty_passphrase_refused(void **state)
{
	char home[1100];
	struct asker empty = { "", 0, 0 };

	(void)state;
	new_home(home, sizeof(home));
	assert_int_equal(
		key_generate(home, "S", "s@x.example", "", ask, &empty),
		ERROR_USAGE);
	expect_msg("empty");
	assert_false(exists(home));
}

static void test_key__readable_by_others_refused(void **state)
{
	static const mode_t bad[] = { 0644, 0640, 0604, 0660, 0601, 0610 };
	char home[1100], path[1200];
	struct key *k = NULL;
	size_t i;

	(void)state;
	new_home(home, sizeof(home));
	assert_int_equal(
		key_generate(home, "M", "m@x.example", "", NULL, NULL), 0);
	file_in(path, sizeof(path), home, "key");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(chmod(path, bad[i]), 0);
		assert_int_equal(key_load(&k, home, NULL, NULL), ERROR_GENERIC);
		assert_null(k);
		expect_msg("readable by others");
		expect_msg(path);
		expect_msg("chmod 600");
		assert_int_equal(
			key_load_public(NULL, 0, NULL, home), ERROR_GENERIC);
	}
	assert_int_equal(chmod(path, 0400), 0);
	assert_int_equal(key_load(&k, home, NULL, NULL), 0);
	key_free(k);
}

static void test_key__symlink_refused(void **state)
{
	char home[1100], home2[1100], path[1200], link[1200];
	struct key *k = NULL;

	(void)state;
	new_home(home, sizeof(home));
	new_home(home2, sizeof(home2));
	assert_int_equal(
		key_generate(home, "L", "l@x.example", "", NULL, NULL), 0);
	assert_int_equal(
		key_generate(home2, "L2", "l2@x.example", "", NULL, NULL), 0);
	file_in(path, sizeof(path), home, "key");
	file_in(link, sizeof(link), home2, "key");
	assert_int_equal(unlink(link), 0);
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(key_load(&k, home2, NULL, NULL), ERROR_INVALID);
	assert_null(k);
	expect_msg("symbolic link");
	expect_msg(link);
}

/* A FIFO or a folder in the key's place is refused, never waited on. */
static void test_key__not_regular_refused(void **state)
{
	char home[1100], path[1200];
	struct key *k = NULL;

	(void)state;
	new_home(home, sizeof(home));
	assert_int_equal(
		key_generate(home, "F", "f@x.example", "", NULL, NULL), 0);
	file_in(path, sizeof(path), home, "key");
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(key_load(&k, home, NULL, NULL), ERROR_INVALID);
	expect_msg("not a regular file");
	assert_int_equal(
		key_import_openssh(
			tmpdir, path, NULL, "a@x.example", NULL, NULL, NULL),
		ERROR_INVALID);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(key_load(&k, home, NULL, NULL), ERROR_INVALID);
	assert_null(k);
}

static void test_key__existing_key_refused(void **state)
{
	char home[1100], path[1200], pub[1200], *before, *after, *pb, *pa;
	size_t bl, al, pbl, pal;

	(void)state;
	new_home(home, sizeof(home));
	assert_int_equal(
		key_generate(home, "E", "e@x.example", "", NULL, NULL), 0);
	file_in(path, sizeof(path), home, "key");
	file_in(pub, sizeof(pub), home, "key.pub");
	before = slurp(path, &bl);
	pb = slurp(pub, &pbl);
	assert_int_equal(
		key_generate(home, "E2", "e2@x.example", "", NULL, NULL),
		ERROR_EXISTS);
	expect_msg(path);
	after = slurp(path, &al);
	pa = slurp(pub, &pal);
	assert_int_equal(bl, al);
	assert_memory_equal(before, after, bl);
	assert_int_equal(pbl, pal);
	assert_memory_equal(pb, pa, pbl);
	assert_int_equal(count_entries(home), 2);
	/* a lone key.pub is not overwritten either */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(
		key_generate(home, "E2", "e2@x.example", "", NULL, NULL),
		ERROR_EXISTS);
	assert_false(exists(path));
	free(before);
	free(after);
	free(pb);
	free(pa);
}

static void test_key__bad_fields_refused(void **state)
{
	static const char *const bad[][3] = {
		{ "", "a@x.example", "" },
		{ "Name", "", "" },
		{ "Name", "no-at-sign", "" },
		{ "Name", "two@@x.example", "" },
		{ "Name", "sp ace@x.example", "" },
		{ "Name", "@x.example", "" },
		{ "Line\nbreak", "a@x.example", "" },
		{ "Name", "a@x.example", "Org\twith tab" },
		{ "Name <evil>", "a@x.example", "" },
		{ " Name", "a@x.example", "" },
		{ "Bad \xc3\x28 UTF-8", "a@x.example", "" },
	};
	char home[1100], longname[400];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		new_home(home, sizeof(home));
		assert_int_equal(
			key_generate(
				home, bad[i][0], bad[i][1], bad[i][2], NULL,
				NULL),
			ERROR_USAGE);
		assert_false(exists(home));
	}
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(
		key_generate(home, longname, "a@x.example", "", NULL, NULL),
		ERROR_USAGE);
	/* UTF-8 names are fine */
	assert_int_equal(
		key_generate(
			home, "Agència Łódź", "a@x.example", "Ağ", NULL, NULL),
		0);
}

/* Rewrite home/key with edit applied; expect load to fail with code. */
static void tamper(const char *home, const char *from, const char *to, int code)
{
	char path[1200], *text, *p, *out;
	struct key *k = NULL;
	size_t len;

	file_in(path, sizeof(path), home, "key");
	text = slurp(path, &len);
	p = strstr(text, from);
	assert_non_null(p);
	out = malloc(len + strlen(to) + 1);
	memcpy(out, text, (size_t)(p - text));
	memcpy(out + (p - text), to, strlen(to));
	memcpy(out + (p - text) + strlen(to), p + strlen(from),
	       len - (size_t)(p - text) - strlen(from) + 1);
	assert_int_equal(unlink(path), 0);
	write_file(path, out, strlen(out));
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(key_load(&k, home, NULL, NULL), code);
	assert_null(k);
	/* put it back */
	assert_int_equal(unlink(path), 0);
	write_file(path, text, len);
	assert_int_equal(chmod(path, 0600), 0);
	free(text);
	free(out);
}

static void test_key__malformed_file_refused(void **state)
{
	char home[1100], path[1200], *text, *b64, flipped[400], *nl;
	struct key *k = NULL;
	unsigned char raw[208];
	size_t n;

	(void)state;
	new_home(home, sizeof(home));
	assert_int_equal(
		key_generate(home, "T", "t@x.example", "O", NULL, NULL), 0);
	tamper(home, "plansync secret key\n", "plansync secret kay\n",
	       ERROR_INVALID);
	tamper(home, "name: T\n", "name:T\n", ERROR_INVALID);
	tamper(home, "name: T\n", "name: T\nname: T\n", ERROR_INVALID);
	tamper(home, "email: t@x.example\n", "email: nope\n", ERROR_INVALID);
	tamper(home, "org: O\n", "", ERROR_INVALID);
	tamper(home, "org: O\n", "org: O\r\n", ERROR_INVALID);
	tamper(home, "org: O\n", "organisation: O\n", ERROR_INVALID);
	/* the base64 line: truncated, extended, trailing text */
	file_in(path, sizeof(path), home, "key");
	text = slurp(path, NULL);
	b64 = strstr(text, "org: O\n") + 7;
	nl = strchr(b64, '\n');
	*nl = '\0';
	tamper(home, b64, "AAAA", ERROR_INVALID);
	tamper(home, "\n", "\n\n", ERROR_INVALID);
	/* each single change inside the struct is caught */
	assert_int_equal(
		sodium_base642bin(
			raw, sizeof(raw), b64, strlen(b64), NULL, &n, NULL,
			sodium_base64_VARIANT_ORIGINAL),
		0);
	assert_int_equal(n, 208);
	{
		static const size_t offs[] = { 0, 3, 6, 8, 70, 100, 150, 200 };
		size_t i;

		for (i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
			raw[offs[i]] ^= 0x01;
			sodium_bin2base64(
				flipped, sizeof(flipped), raw, sizeof(raw),
				sodium_base64_VARIANT_ORIGINAL);
			raw[offs[i]] ^= 0x01;
			tamper(home, b64, flipped, ERROR_INVALID);
		}
	}
	free(text);
	assert_int_equal(key_load(&k, home, NULL, NULL), 0);
	key_free(k);
}

/* ---- OpenSSH import ---- */

static void pub_of_fixture(unsigned char pk[32], const char *rel)
{
	char path[1200], *line;

	fixture(path, sizeof(path), rel);
	line = slurp(path, NULL);
	assert_int_equal(key_parse_public_line(pk, line), 0);
	free(line);
}

static void test_key__import_openssh(void **state)
{
	char home[1100], file[1200], path[1200], *pub, *fpub;
	struct key *k = NULL;
	unsigned char pk[32];

	(void)state;
	new_home(home, sizeof(home));
	fixture(file, sizeof(file), KEYS "id_ed25519");
	assert_int_equal(
		key_import_openssh(home, file, NULL, NULL, NULL, NULL, NULL),
		0);
	assert_int_equal(key_load(&k, home, NULL, NULL), 0);
	pub_of_fixture(pk, KEYS "id_ed25519.pub");
	assert_memory_equal(key_public(k), pk, 32);
	assert_string_equal(key_email(k), "fixture@agency-c.example");
	assert_string_equal(key_name(k), "fixture@agency-c.example");
	assert_string_equal(key_org(k), "");
	check_signs(k);
	/* key.pub is byte for byte ssh-keygen's .pub (same comment) */
	file_in(path, sizeof(path), home, "key.pub");
	pub = slurp(path, NULL);
	fixture(path, sizeof(path), KEYS "id_ed25519.pub");
	fpub = slurp(path, NULL);
	assert_string_equal(pub, fpub);
	free(pub);
	free(fpub);
	key_free(k);
	k = NULL;
	/* name, email, org given; sealed with a passphrase */
	{
		struct asker a = { "import pass", 0, 0 };

		new_home(home, sizeof(home));
		assert_int_equal(
			key_import_openssh(
				home, file, "Fix Ture", "ft@agency-c.example",
				"Agency C", ask, &a),
			0);
		assert_int_equal(key_load(&k, home, NULL, NULL), ERROR_GENERIC);
		assert_int_equal(key_load(&k, home, ask, &a), 0);
		assert_string_equal(key_name(k), "Fix Ture");
		assert_string_equal(key_email(k), "ft@agency-c.example");
		assert_string_equal(key_org(k), "Agency C");
		assert_memory_equal(key_public(k), pk, 32);
		key_free(k);
		k = NULL;
	}
	/* no comment: the email must be given */
	new_home(home, sizeof(home));
	fixture(file, sizeof(file), KEYS "id_ed25519_nocomment");
	assert_int_equal(
		key_import_openssh(home, file, NULL, NULL, NULL, NULL, NULL),
		ERROR_USAGE);
	expect_msg("--email");
	assert_false(exists(home));
	assert_int_equal(
		key_import_openssh(
			home, file, NULL, "nc@agency-c.example", NULL, NULL,
			NULL),
		0);
	assert_int_equal(key_load(&k, home, NULL, NULL), 0);
	pub_of_fixture(pk, KEYS "id_ed25519_nocomment.pub");
	assert_memory_equal(key_public(k), pk, 32);
	key_free(k);
	/* and an existing key is not replaced */
	assert_int_equal(
		key_import_openssh(
			home, file, NULL, "nc@agency-c.example", NULL, NULL,
			NULL),
		ERROR_EXISTS);
}

static void test_key__import_refusals(void **state)
{
	char home[1100], file[1200];

	(void)state;
	new_home(home, sizeof(home));
	fixture(file, sizeof(file), KEYS "id_ed25519_encrypted");
	assert_int_equal(
		key_import_openssh(home, file, NULL, NULL, NULL, NULL, NULL),
		ERROR_GENERIC);
	expect_msg("is encrypted");
	expect_msg("ssh-keygen -p -N '' -f COPY");
	expect_msg("plansync key generate");
	expect_msg(file);
	fixture(file, sizeof(file), KEYS "id_rsa");
	assert_int_equal(
		key_import_openssh(home, file, NULL, NULL, NULL, NULL, NULL),
		ERROR_INVALID);
	expect_msg("ssh-rsa");
	expect_msg("Ed25519");
	fixture(file, sizeof(file), KEYS "id_ed25519.pub");
	assert_int_equal(
		key_import_openssh(home, file, NULL, NULL, NULL, NULL, NULL),
		ERROR_INVALID);
	expect_msg("BEGIN OPENSSH PRIVATE KEY");
	fixture(file, sizeof(file), KEYS "does-not-exist");
	assert_int_equal(
		key_import_openssh(home, file, NULL, NULL, NULL, NULL, NULL),
		ERROR_NOTFOUND);
	assert_false(exists(home));
}

/* Decode the fixture id_ed25519, apply an edit, re-armor, import. */
static int import_edited(size_t off, unsigned char x, long delta_len)
{
	char file[1200], path[1200], home[1100], *text, *b64, *p, *out;
	unsigned char bin[1024];
	size_t n = 0, len, blen;
	int error;

	fixture(file, sizeof(file), KEYS "id_ed25519");
	text = slurp(file, NULL);
	b64 = malloc(strlen(text));
	p = strchr(text, '\n') + 1;
	while (strncmp(p, "-----END", 8) != 0) {
		while (*p != '\n')
			b64[n++] = *p++;
		p++;
	}
	assert_int_equal(
		sodium_base642bin(
			bin, sizeof(bin), b64, n, NULL, &blen, NULL,
			sodium_base64_VARIANT_ORIGINAL),
		0);
	if (off < blen)
		bin[off] ^= x;
	len = (size_t)((long)blen + delta_len);
	out = malloc(2048);
	p = out + snprintf(out, 64, "-----BEGIN OPENSSH PRIVATE KEY-----\n");
	sodium_bin2base64(p, 1500, bin, len, sodium_base64_VARIANT_ORIGINAL);
	snprintf(p + strlen(p), 64, "\n-----END OPENSSH PRIVATE KEY-----\n");
	snprintf(path, sizeof(path), "%s/edited%d", tmpdir, ++counter);
	write_file(path, out, strlen(out));
	new_home(home, sizeof(home));
	error = key_import_openssh(home, path, NULL, NULL, NULL, NULL, NULL);
	if (error < 0)
		assert_false(exists(home));
	free(text);
	free(b64);
	free(out);
	return error;
}

static void test_key__import_strict(void **state)
{
	/*
	 * The fixture's layout: magic 15, "none" 8, "none" 8, "" 4, nkeys 4,
	 * pub blob 4+51, private section length 4 at 94, then check1 at 98,
	 * check2 at 102, "ssh-ed25519" 15, pk 36 at 121, sk 68 at 157, the
	 * comment at 225.
	 */
	(void)state;
	assert_int_equal(import_edited(9999, 0, 0), 0); /* unchanged: fine */
	assert_int_equal(import_edited(0, 1, 0), ERROR_INVALID); /* magic */
	assert_int_equal(import_edited(38, 2, 0), ERROR_INVALID); /* nkeys */
	assert_int_equal(import_edited(90, 2, 0), ERROR_INVALID); /* pub */
	assert_int_equal(import_edited(102, 1, 0), ERROR_INVALID); /* check */
	assert_int_equal(import_edited(130, 1, 0), ERROR_INVALID); /* pk */
	assert_int_equal(import_edited(170, 1, 0), ERROR_INVALID); /* seed */
	assert_int_equal(import_edited(200, 1, 0), ERROR_INVALID); /* sk pk */
	assert_int_equal(import_edited(9999, 0, -1), ERROR_INVALID);
	assert_int_equal(import_edited(9999, 0, -8), ERROR_INVALID);
}

/* ---- public forms ---- */

/* The fingerprint `ssh-keygen -lf FILE` prints. */
static void ssh_keygen_fp(char *out, size_t size, const char *file)
{
	char cmd[1400], buf[512], *sp, *end;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "ssh-keygen -lf '%s'", file);
	f = popen(cmd, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	assert_int_equal(pclose(f), 0);
	sp = strchr(buf, ' ');
	assert_non_null(sp);
	end = strchr(sp + 1, ' ');
	assert_non_null(end);
	*end = '\0';
	snprintf(out, size, "%s", sp + 1);
}

static void test_key__fingerprint_matches_ssh_keygen(void **state)
{
	static const char *const pubs[] = {
		KEYS "id_ed25519.pub",
		KEYS "id_ed25519_nocomment.pub",
		KEYS "id_ed25519_encrypted.pub",
		"tests/fixtures/sshsig/pubkeys/partner_agency-b_ssh-keygen.pub",
		"tests/fixtures/sshsig/pubkeys/planner_agency-a_libsodium.pub",
		"tests/fixtures/sshsig/pubkeys/rogue_not-allowed.pub",
	};
	char path[1200], want[128], fp[KEY_FINGERPRINT_MAX], home[1100];
	unsigned char pk[32];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(pubs) / sizeof(pubs[0]); i++) {
		fixture(path, sizeof(path), pubs[i]);
		pub_of_fixture(pk, pubs[i]);
		key_fingerprint(fp, pk);
		ssh_keygen_fp(want, sizeof(want), path);
		assert_string_equal(fp, want);
		assert_int_equal(strlen(fp), 50);
	}
	/* and a key.pub plansync wrote */
	new_home(home, sizeof(home));
	assert_int_equal(
		key_generate(home, "F", "f@x.example", "", NULL, NULL), 0);
	file_in(path, sizeof(path), home, "key.pub");
	assert_int_equal(key_load_public(NULL, 0, pk, home), 0);
	key_fingerprint(fp, pk);
	ssh_keygen_fp(want, sizeof(want), path);
	assert_string_equal(fp, want);
}

static void test_key__public_line_round_trip(void **state)
{
	char path[1200], *text, line[KEY_LINE_MAX];
	unsigned char pk[32];

	(void)state;
	fixture(path, sizeof(path), KEYS "id_ed25519.pub");
	text = slurp(path, NULL);
	assert_int_equal(key_parse_public_line(pk, text), 0);
	assert_int_equal(
		key_public_line(
			line, sizeof(line), pk, "fixture@agency-c.example"),
		0);
	assert_int_equal(strlen(text), strlen(line) + 1);
	assert_memory_equal(text, line, strlen(line));
	assert_int_equal(key_public_line(line, sizeof(line), pk, NULL), 0);
	assert_int_equal(strlen(line), 12 + 68);
	assert_int_equal(
		strncmp(line, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI", 37), 0);
	assert_int_equal(key_public_line(line, 40, pk, NULL), ERROR_GENERIC);
	assert_int_equal(
		key_public_line(line, sizeof(line), pk, "a\nb"), ERROR_INVALID);
	free(text);
}

static void test_key__parse_public_line_strict(void **state)
{
	static const char good[] = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOATbe"
				   "FeaDnNLFCdHD4jWEyx3VZgCVeh1R6+nEFwMEge";
	char buf[512], rsa_path[1200], *rsa;
	unsigned char pk[32], blob[KEY_BLOB_BYTES];
	static const char *const ok_suffix[] = { "",   "\n",      "\r\n",
						 " c", "  c d\n", "\tc" };
	static const char *const bad_suffix[] = { "A", "=", "\nx", "\n\n",
						  " c\nssh-ed25519 x" };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok_suffix) / sizeof(ok_suffix[0]); i++) {
		snprintf(buf, sizeof(buf), "%s%s", good, ok_suffix[i]);
		assert_int_equal(key_parse_public_line(pk, buf), 0);
		key_public_blob(blob, pk);
	}
	for (i = 0; i < sizeof(bad_suffix) / sizeof(bad_suffix[0]); i++) {
		snprintf(buf, sizeof(buf), "%s%s", good, bad_suffix[i]);
		assert_int_equal(key_parse_public_line(pk, buf), ERROR_INVALID);
	}
	assert_int_equal(key_parse_public_line(pk, ""), ERROR_INVALID);
	assert_int_equal(
		key_parse_public_line(pk, "ssh-ed25519"), ERROR_INVALID);
	assert_int_equal(
		key_parse_public_line(pk, "ssh-ed25519 "), ERROR_INVALID);
	assert_int_equal(key_parse_public_line(pk, good + 1), ERROR_INVALID);
	snprintf(buf, sizeof(buf), " %s", good);
	assert_int_equal(key_parse_public_line(pk, buf), ERROR_INVALID);
	/* one character changed inside the blob's type: not ed25519 */
	snprintf(buf, sizeof(buf), "%s", good);
	buf[20] = 'X';
	assert_int_equal(key_parse_public_line(pk, buf), ERROR_INVALID);
	/* a key of 31 bytes with a valid-looking blob */
	{
		unsigned char b[50];
		char b64[80];
		size_t n = 0;

		memcpy(b, "\0\0\0\013ssh-ed25519\0\0\0\037", 19);
		n = 19;
		memset(b + n, 7, 31);
		n += 31;
		sodium_bin2base64(
			b64, sizeof(b64), b, n, sodium_base64_VARIANT_ORIGINAL);
		snprintf(buf, sizeof(buf), "ssh-ed25519 %s", b64);
		assert_int_equal(key_parse_public_line(pk, buf), ERROR_INVALID);
	}
	fixture(rsa_path, sizeof(rsa_path), KEYS "id_rsa.pub");
	rsa = slurp(rsa_path, NULL);
	assert_int_equal(key_parse_public_line(pk, rsa), ERROR_INVALID);
	expect_msg("ssh-rsa");
	free(rsa);
}

/* key_sign's bytes, wrapped by sshsig_sign, pass ssh-keygen -Y verify. */
static void test_key__signature_verifies_with_ssh_keygen(void **state)
{
	char home[1100], cmd[8000], path[1200], line[KEY_LINE_MAX], *a;
	static const char msg[] = "a message\n";
	struct key *k = NULL;
	FILE *f;

	(void)state;
	new_home(home, sizeof(home));
	assert_int_equal(
		key_generate(home, "V", "v@x.example", "", NULL, NULL), 0);
	assert_int_equal(key_load(&k, home, NULL, NULL), 0);
	check_signs(k);
	assert_int_equal(sshsig_sign(&a, k, msg, sizeof(msg) - 1), 0);
	assert_int_equal(key_load_public(line, sizeof(line), NULL, home), 0);
	snprintf(path, sizeof(path), "%s/v.allowed", tmpdir);
	f = fopen(path, "w");
	fprintf(f, "v@x.example %s\n", line);
	fclose(f);
	snprintf(path, sizeof(path), "%s/v.sig", tmpdir);
	f = fopen(path, "w");
	fprintf(f, "%s\n", a);
	fclose(f);
	snprintf(path, sizeof(path), "%s/v.msg", tmpdir);
	write_file(path, msg, sizeof(msg) - 1);
	snprintf(
		cmd, sizeof(cmd),
		"ssh-keygen -Y verify -n git -f %s/v.allowed -I v@x.example "
		"-s %s/v.sig < %s/v.msg >/dev/null 2>&1",
		tmpdir, tmpdir, tmpdir);
	assert_int_equal(run(cmd), 0);
	snprintf(
		cmd, sizeof(cmd),
		"ssh-keygen -Y verify -n git -f %s/v.allowed -I "
		"other@x.example -s %s/v.sig < %s/v.msg >/dev/null 2>&1",
		tmpdir, tmpdir, tmpdir);
	assert_int_not_equal(run(cmd), 0);
	free(a);
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
		tmpdir, sizeof(tmpdir), "%s/test_key.XXXXXX",
		tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(tmpdir))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	char cmd[1200];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return run(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key__home_from_environment),
		cmocka_unit_test(test_key__generate_and_load),
		cmocka_unit_test(test_key__no_org),
		cmocka_unit_test(test_key__passphrase_round_trip),
		cmocka_unit_test(test_key__wrong_passphrase),
		cmocka_unit_test(test_key__env_passphrase_forgotten),
		cmocka_unit_test(test_key__empty_passphrase_refused),
		cmocka_unit_test(test_key__readable_by_others_refused),
		cmocka_unit_test(test_key__symlink_refused),
		cmocka_unit_test(test_key__not_regular_refused),
		cmocka_unit_test(test_key__existing_key_refused),
		cmocka_unit_test(test_key__bad_fields_refused),
		cmocka_unit_test(test_key__malformed_file_refused),
		cmocka_unit_test(test_key__import_openssh),
		cmocka_unit_test(test_key__import_refusals),
		cmocka_unit_test(test_key__import_strict),
		cmocka_unit_test(test_key__fingerprint_matches_ssh_keygen),
		cmocka_unit_test(test_key__public_line_round_trip),
		cmocka_unit_test(test_key__parse_public_line_strict),
		cmocka_unit_test(test_key__signature_verifies_with_ssh_keygen),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
