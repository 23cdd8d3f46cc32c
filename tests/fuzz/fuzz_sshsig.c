/*
 * tests/fuzz/fuzz_sshsig.c: arbitrary bytes as a raw commit object (split,
 * then verify what it holds), as an armored signature and as an OpenSSH
 * public key line.  Nothing may crash, leak or read out of bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/key.h"
#include "core/sshsig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
	return 0;
}
