/*
 * bench/helper_history: what the benchmarks over a long signed history
 * (audit_bench, verify_bench) share: the history itself, written straight
 * through libgit2 into memory and then one pack (as a clone would have
 * it), and running a program with its wall and CPU time.
 *
 * Linked into every bench program (Makefile: bench/helper_*.c are not
 * programs of their own).
 */
#ifndef PLANSYNC_HELPER_HISTORY_H
#define PLANSYNC_HELPER_HISTORY_H

#include <stddef.h>

/* The coordinator who signs every commit, and actions per priority. */
#define HELPER_HISTORY_EMAIL "coordinator@bench.example"
#define HELPER_HISTORY_PER_PRIO 100

/* Seconds on the monotonic clock. */
double helper_history_now(void);

/*
 * "PROG: WHAT: <plansync's error, else libgit2's, else failed>" on
 * stderr.  Returns -1.
 */
int helper_history_fail(const char *prog, const char *what);

/*
 * Build in repo_path (created) a plan of nactions actions P<p>-A<a> in
 * folders actions/P<p>/ of HELPER_HISTORY_PER_PRIO each, with ncommits
 * commits on refs/heads/main (HEAD), signed as plansync signs by the
 * coordinator key generated in home (name "Bench Coordinator", email
 * HELPER_HISTORY_EMAIL, organisation Bench, no passphrase), dated one
 * second apart from 2026-01-01.  The root commit adds the plan; commit i
 * > 0 changes the update text of action i % nactions (in P1-A1, P1-A2, ...
 * order) to "Progress report i on action A of priority P", with the
 * message "P<p>-A<a>: update i".  keyline receives the key's public line
 * (KEY_LINE_MAX); *last_a1, when not NULL, the last commit that changed
 * P1-A1 (0: only the root).  Returns 0, or -1 with the reason printed
 * (prefixed "PROG: ").
 */
int helper_history_build(
	const char *prog,
	const char *repo_path,
	const char *home,
	long ncommits,
	int nactions,
	char *keyline,
	size_t keyline_size,
	long *last_a1);

/*
 * Run argv (PATH searched) with stdout to the file out and stderr to the
 * file err; *cpu its user + system CPU seconds.  Returns its exit status,
 * or -1 when it could not run or did not exit.
 */
int helper_history_run(
	double *cpu,
	char *const argv[],
	const char *out,
	const char *err);

#endif
