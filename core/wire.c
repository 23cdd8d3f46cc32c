/*
 * core/wire.c: SSH wire encoding and armor (../shared/SSHSIG.md).
 */
#include "wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "error.h"

/* No armor plansync reads (a signature, an OpenSSH key) comes near this. */
#define ARMOR_MAX (64 * 1024)

int wire_u32(uint32_t *out, struct wire *w)
{
	if (w->left < 4)
		return -1;
	*out = (uint32_t)w->p[0] << 24 | (uint32_t)w->p[1] << 16 |
	       (uint32_t)w->p[2] << 8 | (uint32_t)w->p[3];
	w->p += 4;
	w->left -= 4;
	return 0;
}

int wire_bytes(const unsigned char **out, size_t n, struct wire *w)
{
	if (w->left < n)
		return -1;
	*out = w->p;
	w->p += n;
	w->left -= n;
	return 0;
}

int wire_string(const unsigned char **out, size_t *len, struct wire *w)
{
	struct wire save = *w;
	uint32_t n;

	if (wire_u32(&n, w) < 0 || wire_bytes(out, n, w) < 0) {
		*w = save;
		return -1;
	}
	*len = n;
	return 0;
}

int wire_string_eq(struct wire *w, const char *s)
{
	const unsigned char *p;
	size_t n;

	if (wire_string(&p, &n, w) < 0)
		return -1;
	if (n != strlen(s) || memcmp(p, s, n) != 0)
		return -1;
	return 0;
}

size_t wire_put_u32(unsigned char *dst, uint32_t v)
{
	dst[0] = (unsigned char)(v >> 24);
	dst[1] = (unsigned char)(v >> 16);
	dst[2] = (unsigned char)(v >> 8);
	dst[3] = (unsigned char)v;
	return 4;
}

size_t wire_put_string(unsigned char *dst, const void *s, size_t len)
{
	wire_put_u32(dst, (uint32_t)len);
	if (len)
		memcpy(dst + 4, s, len);
	return 4 + len;
}

size_t wire_put_cstring(unsigned char *dst, const char *s)
{
	return wire_put_string(dst, s, strlen(s));
}

void wire_free(void *p, int secure)
{
	if (!p)
		return;
	if (secure)
		sodium_free(p);
	else
		free(p);
}

static void *alloc(size_t n, int secure)
{
	return secure ? sodium_malloc(n) : malloc(n);
}

/* The next line of [*p, end) without its LF or CRLF; -1 at the end. */
static int
next_line(const char **line, size_t *len, const char **p, const char *end)
{
	const char *nl;

	if (*p >= end)
		return -1;
	*line = *p;
	nl = memchr(*p, '\n', (size_t)(end - *p));
	if (nl) {
		*len = (size_t)(nl - *p);
		*p = nl + 1;
	} else {
		*len = (size_t)(end - *p);
		*p = end;
	}
	if (*len > 0 && (*line)[*len - 1] == '\r')
		(*len)--;
	return 0;
}

static int is_b64(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=';
}

static int line_is(const char *line, size_t len, const char *s)
{
	return len == strlen(s) && memcmp(line, s, len) == 0;
}

int wire_dearmor(
	unsigned char **out,
	size_t *out_len,
	const char *text,
	size_t len,
	const char *label,
	int secure,
	int code,
	const char *what)
{
	char begin[80], end[80];
	const char *p = text, *stop = text + len, *line, *b64_end = NULL;
	char *b64 = NULL;
	unsigned char *bin = NULL;
	size_t llen, n = 0, i, bin_len = 0, cap = 0;
	int error = 0, saw_end = 0;

	snprintf(begin, sizeof(begin), "-----BEGIN %s-----", label);
	snprintf(end, sizeof(end), "-----END %s-----", label);
	if (len > ARMOR_MAX) {
		error = error_set(code, "%s: armor too large", what);
		goto done;
	}
	if (next_line(&line, &llen, &p, stop) < 0 ||
	    !line_is(line, llen, begin)) {
		error = error_set(
			code, "%s: does not start with '%s'", what, begin);
		goto done;
	}
	if (!(b64 = alloc(len + 1, secure))) {
		error = error_nomem();
		goto done;
	}
	while (next_line(&line, &llen, &p, stop) == 0) {
		if (line_is(line, llen, end)) {
			saw_end = 1;
			break;
		}
		if (llen == 0) {
			error = error_set(
				code, "%s: empty line in armor", what);
			goto done;
		}
		for (i = 0; i < llen; i++) {
			if (!is_b64(line[i])) {
				error = error_set(
					code, "%s: invalid character in armor",
					what);
				goto done;
			}
		}
		memcpy(b64 + n, line, llen);
		n += llen;
	}
	if (!saw_end) {
		error = error_set(code, "%s: no '%s' line", what, end);
		goto done;
	}
	for (; p < stop; p++) {
		if (*p != '\n' && *p != '\r') {
			error = error_set(
				code, "%s: text after '%s'", what, end);
			goto done;
		}
	}
	if (n == 0) {
		error = error_set(code, "%s: empty armor", what);
		goto done;
	}
	cap = n / 4 * 3 + 3;
	if (!(bin = alloc(cap, secure))) {
		error = error_nomem();
		goto done;
	}
	if (sodium_base642bin(
		    bin, cap, b64, n, NULL, &bin_len, &b64_end,
		    sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    b64_end != b64 + n) {
		error = error_set(code, "%s: invalid base64 in armor", what);
		goto done;
	}
	*out = bin;
	*out_len = bin_len;
	bin = NULL;
done:
	if (b64 && secure)
		sodium_memzero(b64, len + 1);
	wire_free(b64, secure);
	if (bin && secure)
		sodium_memzero(bin, cap);
	wire_free(bin, secure);
	return error;
}
