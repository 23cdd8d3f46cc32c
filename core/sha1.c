/*
 * core/sha1: SHA-1 (FIPS 180-4), portable C plus the x86 SHA extensions.
 */
#include "sha1.h"

#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SHA1_X86 1
#include <cpuid.h>
#include <immintrin.h>
#endif

static uint32_t rol(uint32_t x, int n)
{
	return (x << n) | (x >> (32 - n));
}

static uint32_t load_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void blocks_c(uint32_t h[5], const unsigned char *p, size_t nblocks)
{
	uint32_t w[80], a, b, c, d, e, t;
	int i;

	while (nblocks--) {
		for (i = 0; i < 16; i++)
			w[i] = load_be32(p + 4 * i);
		for (; i < 80; i++)
			w[i] = rol(
				w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
		a = h[0];
		b = h[1];
		c = h[2];
		d = h[3];
		e = h[4];
#define ROUND(f, k)                                   \
	do {                                          \
		t = rol(a, 5) + (f) + e + (k) + w[i]; \
		e = d;                                \
		d = c;                                \
		c = rol(b, 30);                       \
		b = a;                                \
		a = t;                                \
	} while (0)
		for (i = 0; i < 20; i++)
			ROUND((b & c) | (~b & d), 0x5a827999);
		for (; i < 40; i++)
			ROUND(b ^ c ^ d, 0x6ed9eba1);
		for (; i < 60; i++)
			ROUND((b & c) | (b & d) | (c & d), 0x8f1bbcdc);
		for (; i < 80; i++)
			ROUND(b ^ c ^ d, 0xca62c1d6);
#undef ROUND
		h[0] += a;
		h[1] += b;
		h[2] += c;
		h[3] += d;
		h[4] += e;
		p += 64;
	}
}

#ifdef SHA1_X86
/*
 * The message schedule in four 128-bit words: group g (rounds 4g..4g+3)
 * uses m[g % 4]; the word for group g + 4 is built across groups g + 1..g + 3
 * as msg2(msg1(m[g], m[g+1]) ^ m[g+2], m[g+3]).
 */
#define GROUP(g)                                                             \
	do {                                                                 \
		if ((g) < 4)                                                 \
			m[(g) % 4] = _mm_shuffle_epi8(                       \
				_mm_loadu_si128(                             \
					(const __m128i *)(p + 16 * (g))),    \
				mask);                                       \
		if ((g) == 0) {                                              \
			e = _mm_add_epi32(e, m[0]);                          \
		} else {                                                     \
			e = _mm_sha1nexte_epu32(saved, m[(g) % 4]);          \
		}                                                            \
		saved = abcd;                                                \
		if ((g) >= 3 && (g) <= 18)                                   \
			m[((g) + 1) % 4] = _mm_sha1msg2_epu32(               \
				m[((g) + 1) % 4], m[(g) % 4]);               \
		abcd = _mm_sha1rnds4_epu32(abcd, e, (g) / 5);                \
		if ((g) >= 1 && (g) <= 16)                                   \
			m[((g) + 3) % 4] = _mm_sha1msg1_epu32(               \
				m[((g) + 3) % 4], m[(g) % 4]);               \
		if ((g) >= 2 && (g) <= 17)                                   \
			m[((g) + 2) % 4] =                                   \
				_mm_xor_si128(m[((g) + 2) % 4], m[(g) % 4]); \
	} while (0)

__attribute__((target("sha,ssse3,sse4.1"))) static void
blocks_x86(uint32_t h[5], const unsigned char *p, size_t nblocks)
{
	const __m128i mask =
		_mm_set_epi64x(0x0001020304050607LL, 0x08090a0b0c0d0e0fLL);
	__m128i abcd, abcd0, e, e0, saved, m[4];

	abcd = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)h), 0x1b);
	e0 = _mm_set_epi32((int)h[4], 0, 0, 0);
	while (nblocks--) {
		abcd0 = abcd;
		e = e0;
		GROUP(0);
		GROUP(1);
		GROUP(2);
		GROUP(3);
		GROUP(4);
		GROUP(5);
		GROUP(6);
		GROUP(7);
		GROUP(8);
		GROUP(9);
		GROUP(10);
		GROUP(11);
		GROUP(12);
		GROUP(13);
		GROUP(14);
		GROUP(15);
		GROUP(16);
		GROUP(17);
		GROUP(18);
		GROUP(19);
		e0 = _mm_sha1nexte_epu32(saved, e0);
		abcd = _mm_add_epi32(abcd, abcd0);
		p += 64;
	}
	_mm_storeu_si128((__m128i *)h, _mm_shuffle_epi32(abcd, 0x1b));
	h[4] = (uint32_t)_mm_extract_epi32(e0, 3);
}
#undef GROUP

static int have_x86_sha(void)
{
	unsigned a, b, c, d;

	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_SSSE3) ||
	    !(c & bit_SSE4_1))
		return 0;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
		return 0;
	return (b & (1u << 29)) != 0;
}
#endif

static int force_portable;

void sha1_use_portable(int on)
{
	force_portable = on;
}

int sha1_accelerated(void)
{
#ifdef SHA1_X86
	static int known, have;

	if (!known) {
		have = have_x86_sha();
		known = 1;
	}
	return have && !force_portable;
#else
	return 0;
#endif
}

static void blocks(uint32_t h[5], const unsigned char *p, size_t nblocks)
{
#ifdef SHA1_X86
	if (sha1_accelerated()) {
		blocks_x86(h, p, nblocks);
		return;
	}
#endif
	blocks_c(h, p, nblocks);
}

void sha1_init(struct sha1 *ctx)
{
	ctx->h[0] = 0x67452301;
	ctx->h[1] = 0xefcdab89;
	ctx->h[2] = 0x98badcfe;
	ctx->h[3] = 0x10325476;
	ctx->h[4] = 0xc3d2e1f0;
	ctx->total = 0;
	ctx->used = 0;
}

void sha1_update(struct sha1 *ctx, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t take;

	ctx->total += len;
	if (ctx->used) {
		take = 64 - ctx->used < len ? 64 - ctx->used : len;
		memcpy(ctx->buf + ctx->used, p, take);
		ctx->used += take;
		p += take;
		len -= take;
		if (ctx->used < 64)
			return;
		blocks(ctx->h, ctx->buf, 1);
		ctx->used = 0;
	}
	if (len >= 64) {
		blocks(ctx->h, p, len / 64);
		p += len - len % 64;
		len %= 64;
	}
	if (len) {
		memcpy(ctx->buf, p, len);
		ctx->used = len;
	}
}

void sha1_final(unsigned char out[SHA1_LEN], struct sha1 *ctx)
{
	uint64_t bits = ctx->total * 8;
	unsigned char pad[72];
	size_t padlen = (ctx->used < 56 ? 56 : 120) - ctx->used;
	int i;

	memset(pad, 0, sizeof(pad));
	pad[0] = 0x80;
	for (i = 0; i < 8; i++)
		pad[padlen + (size_t)i] = (unsigned char)(bits >> (56 - 8 * i));
	sha1_update(ctx, pad, padlen + 8);
	for (i = 0; i < 5; i++) {
		out[4 * i] = (unsigned char)(ctx->h[i] >> 24);
		out[4 * i + 1] = (unsigned char)(ctx->h[i] >> 16);
		out[4 * i + 2] = (unsigned char)(ctx->h[i] >> 8);
		out[4 * i + 3] = (unsigned char)ctx->h[i];
	}
}
