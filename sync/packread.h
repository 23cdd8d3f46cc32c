/*
 * sync/packread: read objects straight from a repository's pack files,
 * for the history walks of a merge.
 *
 * A merge's who-changed-it walk reads every version of the changed
 * folders' trees since the merge base: thousands of 50 KB trees, each
 * stored as a delta on a neighbour version.  libgit2 keeps only the bases
 * of a delta chain in its cache, never the object asked for, so each
 * read rebuilds part of the chain again.  packread keeps every object it
 * builds (up to a memory limit, least recently used out first), so a walk
 * over neighbour versions applies one delta per read.
 *
 * Only what a walk needs: version 2 pack indexes, offset and reference
 * deltas inside one pack, zlib streams (inflated with libdeflate, each
 * one's Adler-32 checked).  Anything else (a loose object, an object in a
 * pack made after packread_open, a version 1 index, a damaged or
 * oversized entry) reads as PACKREAD_ABSENT and the caller asks libgit2,
 * which reports damage properly.  No hash is checked, as with libgit2's
 * reads under the merge (its strict hash verification is off there): the
 * packs were checked when they arrived.
 */
#ifndef PLANSYNC_PACKREAD_H
#define PLANSYNC_PACKREAD_H

#include <stddef.h>

#define PACKREAD_OID_LEN 20

/* Not read here: ask libgit2. */
#define PACKREAD_ABSENT 1

/* Object types, as in the pack format (and libgit2's GIT_OBJECT_*). */
enum packread_type {
	PACKREAD_COMMIT = 1,
	PACKREAD_TREE = 2,
	PACKREAD_BLOB = 3,
	PACKREAD_TAG = 4,
};

struct packread;

/*
 * The packs of the repository whose git folder is gitdir (ending in '/'),
 * with at most cache_bytes of built objects kept.  Returns 0 or
 * ERROR_NOMEM; a repository without packs gives a reader that finds
 * nothing.
 */
int packread_open(
	struct packread **out,
	const char *gitdir,
	size_t cache_bytes);

void packread_free(struct packread *pr);

/*
 * Object id: its type and bytes (*data valid until the next packread call
 * on pr; not NUL-terminated).  Returns 0, or PACKREAD_ABSENT.
 */
int packread_get(
	const unsigned char **data,
	size_t *len,
	enum packread_type *type,
	struct packread *pr,
	const unsigned char *id);

/*
 * packread_get, the object then held in the cache (never evicted, *data
 * valid) until packread_release(pr, *pin): for a reader that keeps
 * several objects at once, and would otherwise copy each (a merge's
 * 40 KB folder trees).  packread_pin holds a held object once more.  An
 * object too big for the cache reads as PACKREAD_ABSENT here.  Held
 * objects are not evicted, nor counted against the cache's limit.
 */
int packread_hold(
	const unsigned char **data,
	size_t *len,
	enum packread_type *type,
	void **pin,
	struct packread *pr,
	const unsigned char *id);

void packread_pin(struct packread *pr, void *pin);

void packread_release(struct packread *pr, void *pin);

/*
 * The merge's reads through libgit2 (its tree diffs, blob reads, tree
 * builder) served by a packread: a backend of libgit2's object database
 * asked before its own, answering "not found" for what it cannot read,
 * so libgit2's backends then serve it.  packread_attach adds it to git's
 * object database once (libgit2 cannot remove a backend: it lives as long
 * as the database) and switches it on with a fresh reader;
 * packread_detach switches it off and frees the reader.  The reader, for
 * direct reads, is packread_attached(git) while on (else NULL).
 */
struct git_repository;

int packread_attach(struct git_repository *git, size_t cache_bytes);

void packread_detach(struct git_repository *git);

struct packread *packread_attached(struct git_repository *git);

#endif
