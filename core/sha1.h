/*
 * core/sha1: SHA-1, for the checksums that end git's index and pack files
 * (sync/gitindex, sync/packwrite) and the ids of the trees a merge builds
 * where no collision attack can hide in them (sync/merge's tree_hash).
 * Every other object id comes from libgit2's collision-detecting SHA-1.
 *
 * On x86-64 processors with the SHA extensions the blocks are hashed with
 * them (about 4x faster); elsewhere, portable C.  Both give the same digest.
 */
#ifndef PLANSYNC_SHA1_H
#define PLANSYNC_SHA1_H

#include <stddef.h>
#include <stdint.h>

#define SHA1_LEN 20

struct sha1 {
	uint32_t h[5];
	uint64_t total; /* bytes hashed so far */
	unsigned char buf[64]; /* a partial block */
	size_t used; /* bytes in buf */
};

void sha1_init(struct sha1 *ctx);
void sha1_update(struct sha1 *ctx, const void *data, size_t len);
void sha1_final(unsigned char out[SHA1_LEN], struct sha1 *ctx);

/* For tests and benchmarks: 1 forces portable C, 0 picks the fastest. */
void sha1_use_portable(int on);

/* 1 if the SHA extensions are in use. */
int sha1_accelerated(void);

#endif
