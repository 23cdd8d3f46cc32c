/*
 * tests/fuzz/fuzz_sshsig.c: arbitrary bytes as a raw commit object (split,
 * then verify what it holds), as an armored signature, as an OpenSSH
 * public key line, and, when they start like one, as a plansync secret key
 * file or an OpenSSH private key file (written to a private temp folder
 * and loaded / imported).  Nothing may crash, leak or read out of bounds.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "core/error.h"
#include "core/key.h"
#include "core/sshsig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Never derive a key: a fuzzed file may ask for 1 GiB of Argon2id. */
static int no_passphrase(char *buf, size_t size, int confirm, void *ctx)
{
	(void)buf;
	(void)size;
	(void)confirm;
	(void)ctx;
	return error_set(ERROR_GENERIC, "no passphrase while fuzzing");
}

static int write_whole(const char *path, const uint8_t *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	size_t off = 0;
	ssize_t r;

	if (fd < 0)
		return -1;
	while (off < size) {
		r = write(fd, data + off, size - off);
		if (r <= 0)
			break;
		off += (size_t)r;
	}
	close(fd);
	return off == size ? 0 : -1;
}

static char dir[64];

static void remove_dir(void)
{
	rmdir(dir); /* every file in it was removed after its input */
}

/* data as home/key, then loaded; as an OpenSSH key file, then imported. */
static void key_files(const uint8_t *data, size_t size)
{
	char path[256], sub[128];
	struct key *k = NULL;
	unsigned char sig[64];

	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/tmp/fuzz_sshsig.XXXXXX");
		if (!mkdtemp(dir)) {
			dir[0] = '\0';
			return;
		}
		atexit(remove_dir);
	}
	snprintf(path, sizeof(path), "%s/key", dir);
	snprintf(sub, sizeof(sub), "%s/imported", dir);
	if (size >= 8 && memcmp(data, "plansync", 8) == 0) {
		if (write_whole(path, data, size) == 0 &&
		    key_load(&k, dir, no_passphrase, NULL) == 0) {
			key_sign(sig, k, "x", 1);
			key_free(k);
		}
		unlink(path);
	} else if (size >= 10 && memcmp(data, "-----BEGIN", 10) == 0) {
		if (write_whole(path, data, size) == 0 &&
		    key_import_openssh(
			    sub, path, NULL, "fuzz@x.example", NULL, NULL,
			    NULL) == 0) {
			snprintf(path, sizeof(path), "%s/key", sub);
			unlink(path);
			snprintf(path, sizeof(path), "%s/key.pub", sub);
			unlink(path);
			rmdir(sub);
		}
		snprintf(path, sizeof(path), "%s/key", dir);
		unlink(path);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *pay = NULL, *sig = NULL, *line;
	size_t pay_len = 0, sig_len = 0;
	unsigned char pk[KEY_PUBLIC_BYTES];
	char fp[KEY_FINGERPRINT_MAX], back[KEY_LINE_MAX];

	if (sodium_init() < 0)
		return 0;
	if (sshsig_commit_split(
		    &pay, &pay_len, &sig, &sig_len, (const char *)data, size) ==
	    0) {
		if (sig)
			sshsig_verify(pk, sig, sig_len, pay, pay_len);
		free(pay);
		free(sig);
	}
	if (sshsig_verify(pk, (const char *)data, size, "payload", 7) == 0)
		key_fingerprint(fp, pk);
	if ((line = malloc(size + 1))) {
		memcpy(line, data, size);
		line[size] = '\0';
		if (key_parse_public_line(pk, line) == 0 &&
		    key_public_line(back, sizeof(back), pk, NULL) == 0 &&
		    key_parse_public_line(pk, back) != 0)
			abort(); /* what we write we must read back */
		free(line);
	}
	key_files(data, size);
	return 0;
}
