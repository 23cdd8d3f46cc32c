/*
 * sync/packwrite: write a few hundred new objects into a repository as
 * one pack, for a merge's merged files.
 *
 * libgit2's pack builder searches every pair of objects for deltas and
 * its indexer then reads the pack back to index it: for the 300 merged
 * files of a large merge that is a tenth of the merge.  A merge's files
 * are small and new, so packwrite stores each one whole, and writes the
 * index (version 2) itself from what it just wrote.  Blobs are compressed
 * at libdeflate's fastest level; trees are stored (level 0): a priority
 * folder's tree is 40 KB of names and random ids that compress to about
 * half, at a fifth of a large merge's time.  git gc packs them tighter.
 * (libdeflate, not zlib: zlib's compress2 sets up a whole deflate state
 * for each object, ~60 us even to store 40 KB; libdeflate stores it in
 * ~1.5 us, and its CRC-32 is three times zlib's speed.)
 *
 * Both files are written under temporary names in objects/pack and
 * renamed into place, the index last, as git does: a reader sees the pack
 * whole or not at all, and a kill leaves at most a temporary file (which
 * `git gc` removes).  Like libgit2's own object writes, nothing is
 * fsync'd.
 */
#ifndef PLANSYNC_PACKWRITE_H
#define PLANSYNC_PACKWRITE_H

#include <stddef.h>

#define PACKWRITE_OID_LEN 20

struct packwrite_obj {
	unsigned char id[PACKWRITE_OID_LEN]; /* its object id, computed */
	int type; /* 1 commit, 2 tree, 3 blob, 4 tag (git's numbers) */
	const void *data;
	size_t len;
};

/* qsort order of objects by id (packwrite's, for callers that dedupe). */
int packwrite_cmp(const void *a, const void *b);

/*
 * Write objs[0..n) (n > 0, no id twice; reordered by id) as a pack of
 * gitdir (ending in '/').  0, or a negative ERROR_* with nothing left
 * behind but, after a failed rename, a temporary file.
 */
int packwrite(const char *gitdir, struct packwrite_obj *objs, size_t n);

#endif
