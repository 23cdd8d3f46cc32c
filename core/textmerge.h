/*
 * core/textmerge: three-way merge of prose fields (diff3 on words).
 *
 * A text is cut into tokens: each maximal run of ASCII whitespace is one
 * token and each maximal run of anything else (a "word", UTF-8 bytes
 * included, so a character is never split) is one token; the tokens
 * concatenated give the text back byte for byte.  Words, not lines: the
 * prose fields of a plan (action, information, update text) are usually one
 * long line, so a line diff would make any two edits of one paragraph a
 * conflict.  Whitespace is a token of its own so that edits to two
 * neighbouring words are separated by an unchanged token and do not touch.
 *
 * base->ours and base->theirs are diffed on tokens (Myers' O(ND) algorithm,
 * after stripping the common prefix and suffix); each diff gives hunks, a
 * base range and its replacement.  Hunks of both sides that overlap or
 * touch (one ends where the other starts, or both insert at the same place)
 * form one cluster.  A cluster made by one side only takes that side's
 * text; a cluster both sides changed is taken once if both sides produced
 * the same text for it, and is a conflict otherwise.  Treating touching
 * edits as a conflict is the conservative choice git's own merge makes:
 * two edits that meet may belong together and no order of them is right.
 *
 * The result does not depend on which side is "ours": clusters are formed
 * from the union of both sides' hunks and a two-sided cluster is either
 * taken once or refused.
 */
#ifndef PLANSYNC_TEXTMERGE_H
#define PLANSYNC_TEXTMERGE_H

#include <stddef.h>

/*
 * Diffs needing more than this many inserted plus deleted tokens (after the
 * common prefix and suffix are stripped) are not attempted: the merge is
 * reported as a conflict, which is always safe.  Bounds time and memory
 * (about 4 * TEXTMERGE_MAX_EDITS^2 bytes).
 */
#define TEXTMERGE_MAX_EDITS 2000

/*
 * Merge the changes base->ours and base->theirs.  On success *out is the
 * merged text (malloc'd, NUL-terminated, *out_len bytes).  ERROR_CONFLICT
 * (message set) when the edits overlap or touch, or the diff is too large;
 * ERROR_NOMEM.  *out is written only on success.
 */
int textmerge_merge3(
	char **out,
	size_t *out_len,
	const char *base,
	size_t base_len,
	const char *ours,
	size_t ours_len,
	const char *theirs,
	size_t theirs_len);

#endif
