/*
 * sync/gitindex: change a few entries of git's index file (.git/index)
 * without reading and writing all of it through libgit2.
 *
 * libgit2 parses every entry of the index into its own structures and
 * writes every one back: on a plan of 100,000 actions that is most of the
 * time of a one-field commit.  gitindex copies the file's bytes, replacing
 * only the entries of the changed paths, and computes the new checksum;
 * the cost is a memory copy and one SHA-1 pass (core/sha1).
 *
 * index.lock is created O_EXCL first, as git does, so git and libgit2
 * writers are kept out.  When only existing entries change (the common
 * case: one edited action), their bytes and the checksum are written in
 * place; else the new file is written to index.lock and renamed over
 * index.  A process killed half-way leaves either the old index whole or
 * one gitindex_recover finishes.  Optional
 * extensions (TREE, UNTR, REUC, ...: caches and history git rebuilds or
 * can do without) are dropped; index version 4, mandatory extensions (a
 * split or sparse index), conflict stages or flags on a changed path are
 * not handled: the caller then uses libgit2.
 */
#ifndef PLANSYNC_GITINDEX_H
#define PLANSYNC_GITINDEX_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define GITINDEX_OID_LEN 20

/* The first line of an index.lock gitindex holds (then its pid). */
#define GITINDEX_LOCK_MARK "plansync-gitindex"

/* The fast path does not apply; nothing was changed (use libgit2). */
#define GITINDEX_SLOW 1

struct gitindex_change {
	const char *path; /* relative to the work tree, '/'-separated */
	/* the blob the work-tree file holds now; NULL removes the entry */
	const unsigned char *oid;
};

/*
 * Set the index entries of ch[0..n) (no path twice): each one's blob id
 * and the stat data of its work-tree file as it is now (so the file reads
 * as unchanged), or remove it.  gitdir and workdir end with '/'.
 * Returns 0 when done, GITINDEX_SLOW when this index is not one the fast
 * path handles, a negative ERROR_* when writing failed; in both of the
 * latter the index is as it was.
 */
int gitindex_update(
	const char *gitdir,
	const char *workdir,
	const struct gitindex_change *ch,
	size_t n);

/*
 * Writes the work-tree file of change i (an index into gitindex_update's
 * ch); 0, or a negative ERROR_* that ends the update.
 */
typedef int (*gitindex_write_fn)(void *arg, size_t i);

/*
 * gitindex_update, the files written on the way: write_fn(arg, i) for each
 * change, before its entry is made, exactly once unless one fails (then
 * its error is returned, the index as it was).  A large index changed in
 * place gets its new checksum computed on a thread of its own meanwhile.
 * On GITINDEX_SLOW, as on an index error, every file has been written.
 */
int gitindex_update_writing(
	const char *gitdir,
	const char *workdir,
	const struct gitindex_change *ch,
	size_t n,
	gitindex_write_fn write_fn,
	void *arg);

struct gitindex_entry {
	int found; /* 0: no such path at stage 0 */
	unsigned char oid[GITINDEX_OID_LEN];
	uint32_t mtime_s, mtime_ns, ino, mode, size; /* as git records them */
};

/*
 * Read the entries of paths[0..n) (for a racy-clean check: is a work file
 * still what the index recorded?), whether the index holds conflicts
 * (stages 1-3), and the index file's mtime.  GITINDEX_SLOW when the index
 * is missing, damaged (its checksum is verified unless it is the file
 * gitindex wrote last) or not one gitindex reads: then use libgit2.
 */
int gitindex_lookup(
	struct gitindex_entry *out,
	int *out_conflicts,
	struct timespec *out_mtime,
	const char *gitdir,
	const char *const *paths,
	size_t n);

/*
 * Finish what a killed gitindex_update left: an index.lock that says it
 * is gitindex's (never git's own), over an index changed in place but
 * not yet given its new checksum.  Only with the repository lock held
 * (then no gitindex_update is running).  0 when there was nothing to do.
 */
int gitindex_recover(const char *gitdir);

/*
 * Begin checking the checksum of gitdir's index on a thread of its own,
 * when it is large (1 MB or more), so that the next gitindex call finds
 * it checked; gitindex_precheck_wait (which every gitindex call makes
 * first) waits for the thread and takes its verdict.  Nothing happens if
 * the index cannot be read: the call that needs it reports that.
 */
void gitindex_precheck(const char *gitdir);

void gitindex_precheck_wait(void);

#endif
