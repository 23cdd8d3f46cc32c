/*
 * core/wire: the SSH wire encoding (uint32 big-endian, string = uint32
 * length || bytes) and PEM-like armor, shared by core/key and core/sshsig
 * (../shared/SSHSIG.md "Encoding").  Internal to core/.
 */
#ifndef PLANSYNC_WIRE_H
#define PLANSYNC_WIRE_H

#include <stddef.h>
#include <stdint.h>

/* A read cursor over a byte buffer (plain value type). */
struct wire {
	const unsigned char *p;
	size_t left;
};

/* Each reader returns 0, or -1 when the buffer is too short. */
int wire_u32(uint32_t *out, struct wire *w);
/* A string: *out points into the buffer, *len is its length. */
int wire_string(const unsigned char **out, size_t *len, struct wire *w);
/* A string that must equal s exactly: 0, or -1 if short or different. */
int wire_string_eq(struct wire *w, const char *s);
/* n raw bytes. */
int wire_bytes(const unsigned char **out, size_t n, struct wire *w);

/* Writers: store at dst and return the number of bytes written. */
size_t wire_put_u32(unsigned char *dst, uint32_t v);
size_t wire_put_string(unsigned char *dst, const void *s, size_t len);
size_t wire_put_cstring(unsigned char *dst, const char *s);

/*
 * Decode an armor "-----BEGIN <label>-----" / base64 lines / "-----END
 * <label>-----": any line width, LF or CRLF line ends, only line ends
 * after the END line; strict base64 (padding, no stray characters).  The
 * result is malloc'd, or sodium_malloc'd when secure is set (free it with
 * wire_free(p, secure)).  On failure sets `code` with "<what>: <reason>".
 */
int wire_dearmor(
	unsigned char **out,
	size_t *out_len,
	const char *text,
	size_t len,
	const char *label,
	int secure,
	int code,
	const char *what);

void wire_free(void *p, int secure);

#endif
