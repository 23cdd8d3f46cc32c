#include "textmerge.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

struct tok {
	const char *p;
	size_t len;
	uint64_t hash;
};

struct toks {
	struct tok *v;
	size_t n;
};

/* A hunk: base tokens [bs, be) replaced by side tokens [ss, se). */
struct hunk {
	size_t bs, be, ss, se;
};

struct hunks {
	struct hunk *v;
	size_t n, cap;
};

static int is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
	       c == '\v';
}

static int tokenize(struct toks *out, const char *s, size_t len)
{
	size_t i = 0, n = 0;
	struct tok *v;

	/* Count first so one allocation suffices. */
	while (i < len) {
		int sp = is_space((unsigned char)s[i]);
		while (i < len && is_space((unsigned char)s[i]) == sp)
			i++;
		n++;
	}
	v = calloc(n ? n : 1, sizeof(*v));
	if (!v)
		return error_nomem();
	i = 0;
	n = 0;
	while (i < len) {
		size_t start = i;
		uint64_t h = 14695981039346656037u;
		int sp = is_space((unsigned char)s[i]);
		while (i < len && is_space((unsigned char)s[i]) == sp) {
			h ^= (unsigned char)s[i];
			h *= 1099511628211u;
			i++;
		}
		v[n].p = s + start;
		v[n].len = i - start;
		v[n].hash = h;
		n++;
	}
	out->v = v;
	out->n = n;
	return 0;
}

static int tok_eq(const struct tok *a, const struct tok *b)
{
	return a->hash == b->hash && a->len == b->len &&
	       memcmp(a->p, b->p, a->len) == 0;
}

static int
hunks_add(struct hunks *h, size_t bs, size_t be, size_t ss, size_t se)
{
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 8;
		struct hunk *v = realloc(h->v, cap * sizeof(*v));
		if (!v)
			return error_nomem();
		h->v = v;
		h->cap = cap;
	}
	h->v[h->n].bs = bs;
	h->v[h->n].be = be;
	h->v[h->n].ss = ss;
	h->v[h->n].se = se;
	h->n++;
	return 0;
}

/*
 * Myers' greedy O(ND) diff of a[0..n) and b[0..m), keeping each round's
 * V array for the backtrack.  Writes match[i] = j for each base token i
 * matched to b[j], leaving the others at SIZE_MAX.
 */
static int
myers(size_t *match,
      const struct tok *a,
      size_t n,
      const struct tok *b,
      size_t m)
{
	long max = (long)(n + m), d, k, found = -1, x, y;
	long *v = NULL;
	int *trace = NULL;
	int error = 0;

	if (max > TEXTMERGE_MAX_EDITS) {
		error = error_set(
			ERROR_CONFLICT,
			"text edits too large to merge by words");
		goto done;
	}
	if (max == 0)
		goto done;
	v = calloc((size_t)(2 * max + 3), sizeof(*v));
	trace = calloc((size_t)(max + 1) * (size_t)(max + 1), sizeof(*trace));
	if (!v || !trace) {
		error = error_nomem();
		goto done;
	}
#define V(kk) v[(kk) + max + 1]
#define T(dd, kk) trace[(dd) * (dd) + ((kk) + (dd))]
	for (d = 0; d <= max && found < 0; d++) {
		for (k = -d; k <= d; k += 2) {
			if (k == -d || (k != d && V(k - 1) < V(k + 1)))
				x = V(k + 1);
			else
				x = V(k - 1) + 1;
			y = x - k;
			while (x < (long)n && y < (long)m &&
			       tok_eq(&a[x], &b[y])) {
				x++;
				y++;
			}
			V(k) = x;
			if (x >= (long)n && y >= (long)m) {
				found = d;
				break;
			}
		}
		for (k = -d; k <= d; k += 2)
			T(d, k) = (int)V(k);
	}
	/* Backtrack from (n, m): each round is one edit then a snake. */
	x = (long)n;
	y = (long)m;
	for (d = found; d > 0; d--) {
		long prev_k, prev_x, prev_y;
		k = x - y;
		if (k == -d || (k != d && T(d - 1, k - 1) < T(d - 1, k + 1)))
			prev_k = k + 1;
		else
			prev_k = k - 1;
		prev_x = T(d - 1, prev_k);
		prev_y = prev_x - prev_k;
		while (x > prev_x && y > prev_y) {
			x--;
			y--;
			match[x] = (size_t)y;
		}
		x = prev_x;
		y = prev_y;
	}
	while (x > 0 && y > 0) {
		x--;
		y--;
		match[x] = (size_t)y;
	}
#undef T
#undef V
done:
	free(v);
	free(trace);
	return error;
}

/* Hunks turning a into b, in base order. */
static int diff(struct hunks *out, const struct toks *a, const struct toks *b)
{
	size_t pre = 0, suf = 0, i, j, *match = NULL;
	int error = 0;

	while (pre < a->n && pre < b->n && tok_eq(&a->v[pre], &b->v[pre]))
		pre++;
	while (suf < a->n - pre && suf < b->n - pre &&
	       tok_eq(&a->v[a->n - 1 - suf], &b->v[b->n - 1 - suf]))
		suf++;
	match = malloc((a->n ? a->n : 1) * sizeof(*match));
	if (!match) {
		error = error_nomem();
		goto done;
	}
	for (i = 0; i < a->n; i++)
		match[i] = SIZE_MAX;
	for (i = 0; i < pre; i++)
		match[i] = i;
	for (i = 0; i < suf; i++)
		match[a->n - 1 - i] = b->n - 1 - i;
	if ((error =
		     myers(match + pre, a->v + pre, a->n - pre - suf,
			   b->v + pre, b->n - pre - suf)) < 0)
		goto done;
	/* myers() wrote indices relative to the middle parts. */
	for (i = pre; i < a->n - suf; i++)
		if (match[i] != SIZE_MAX)
			match[i] += pre;
	i = 0;
	j = 0;
	while (i < a->n || j < b->n) {
		size_t ni = i, nj;
		if (i < a->n && match[i] == j) {
			i++;
			j++;
			continue;
		}
		while (ni < a->n && match[ni] == SIZE_MAX)
			ni++;
		nj = ni < a->n ? match[ni] : b->n;
		if ((error = hunks_add(out, i, ni, j, nj)) < 0)
			goto done;
		i = ni;
		j = nj;
	}
done:
	free(match);
	return error;
}

struct buf {
	char *p;
	size_t n, cap;
};

static int buf_put(struct buf *b, const char *s, size_t len)
{
	if (b->n + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		char *p;
		while (cap < b->n + len + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p)
			return error_nomem();
		b->p = p;
		b->cap = cap;
	}
	if (len)
		memcpy(b->p + b->n, s, len);
	b->n += len;
	b->p[b->n] = '\0';
	return 0;
}

static int put_toks(struct buf *b, const struct toks *t, size_t from, size_t to)
{
	int error;
	for (; from < to; from++)
		if ((error = buf_put(b, t->v[from].p, t->v[from].len)) < 0)
			return error;
	return 0;
}

/*
 * One side's text for base tokens [lo, hi): base with that side's hunks
 * h[from..to) applied.
 */
static int side_text(
	struct buf *out,
	const struct toks *base,
	const struct toks *side,
	const struct hunks *h,
	size_t from,
	size_t to,
	size_t lo,
	size_t hi)
{
	size_t pos = lo, i;
	int error;

	for (i = from; i < to; i++) {
		if ((error = put_toks(out, base, pos, h->v[i].bs)) < 0 ||
		    (error = put_toks(out, side, h->v[i].ss, h->v[i].se)) < 0)
			return error;
		pos = h->v[i].be;
	}
	return put_toks(out, base, pos, hi);
}

int textmerge_merge3(
	char **out,
	size_t *out_len,
	const char *base,
	size_t base_len,
	const char *ours,
	size_t ours_len,
	const char *theirs,
	size_t theirs_len)
{
	struct toks tb = { 0 }, to = { 0 }, tt = { 0 };
	struct hunks ho = { 0 }, ht = { 0 };
	struct buf res = { 0 }, bo = { 0 }, bt = { 0 };
	size_t io = 0, it = 0, pos = 0;
	int error;

	if ((error = tokenize(&tb, base, base_len)) < 0 ||
	    (error = tokenize(&to, ours, ours_len)) < 0 ||
	    (error = tokenize(&tt, theirs, theirs_len)) < 0 ||
	    (error = diff(&ho, &tb, &to)) < 0 ||
	    (error = diff(&ht, &tb, &tt)) < 0 ||
	    (error = buf_put(&res, "", 0)) < 0)
		goto done;

	while (io < ho.n || it < ht.n) {
		size_t lo, hi, so = io, st = it;
		int grew = 1;

		/* Start the cluster at the hunk that starts first. */
		if (it >= ht.n || (io < ho.n && ho.v[io].bs <= ht.v[it].bs))
			lo = ho.v[io].bs;
		else
			lo = ht.v[it].bs;
		hi = lo;
		/* Absorb every hunk of either side that overlaps or touches. */
		while (grew) {
			grew = 0;
			if (io < ho.n && ho.v[io].bs <= hi) {
				if (ho.v[io].be > hi)
					hi = ho.v[io].be;
				io++;
				grew = 1;
			}
			if (it < ht.n && ht.v[it].bs <= hi) {
				if (ht.v[it].be > hi)
					hi = ht.v[it].be;
				it++;
				grew = 1;
			}
		}
		if ((error = put_toks(&res, &tb, pos, lo)) < 0)
			goto done;
		bo.n = 0;
		bt.n = 0;
		if ((error = side_text(&bo, &tb, &to, &ho, so, io, lo, hi)) <
			    0 ||
		    (error = side_text(&bt, &tb, &tt, &ht, st, it, lo, hi)) < 0)
			goto done;
		if (so == io) {
			error = buf_put(&res, bt.p, bt.n);
		} else if (st == it) {
			error = buf_put(&res, bo.p, bo.n);
		} else if (
			bo.n == bt.n &&
			(bo.n == 0 || memcmp(bo.p, bt.p, bo.n) == 0)) {
			error = buf_put(&res, bo.p, bo.n);
		} else {
			error = error_set(
				ERROR_CONFLICT,
				"text edits overlap at word %zu", lo + 1);
		}
		if (error < 0)
			goto done;
		pos = hi;
	}
	if ((error = put_toks(&res, &tb, pos, tb.n)) < 0)
		goto done;
	*out = res.p;
	*out_len = res.n;
	res.p = NULL;
done:
	free(tb.v);
	free(to.v);
	free(tt.v);
	free(ho.v);
	free(ht.v);
	free(res.p);
	free(bo.p);
	free(bt.p);
	return error;
}
