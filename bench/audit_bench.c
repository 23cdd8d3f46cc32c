/*
 * bench/audit_bench: `plansync blame` and `plansync log` of one action over
 * a long signed history, against stock git's `git blame` and `git log -p`
 * of the same file, in the same run.
 *
 *     audit_bench PLANSYNC WORKDIR [COMMITS [ACTIONS]]
 *
 * Builds in WORKDIR/repo a history of COMMITS (default 100,000) commits on
 * a plan of ACTIONS (default 1,000) actions in folders of 100 per priority,
 * each commit changing one action's update text (actions in turn, so each
 * file changes every ACTIONS commits), signed by the plan's coordinator as
 * plansync signs (core/sshsig), written through libgit2 into memory and
 * then one pack (bench/helper_history).  Then, for the action P1-A1:
 *   - git blame and git log -p of its file (best of 3 each);
 *   - plansync blame/log --no-index (walks the commits, no index);
 *   - the first plansync blame with no index (walks that one file's
 *     history, as git does; the index is not built for one action);
 *   - the index build (`plansync log --until 1970-01-02`: a log of every
 *     action, which builds and writes the index, printing nothing);
 *   - plansync blame and log with the warm index (best of 3).
 * Every plansync output is checked (blame credits the last commit that
 * changed the update text; log lists every change), and the outputs with
 * and without the index must be identical.  Prints a Markdown table; exit
 * 1 on any failure.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>
#include <sodium.h>

#include "core/key.h"
#include "helper_history.h"

static int file_has(const char *path, const char *needle)
{
	char *buf = NULL;
	size_t cap = 0, len = 0, r;
	FILE *f = fopen(path, "r");
	int found = 0;

	if (!f)
		return 0;
	for (;;) {
		if (len + 65536 + 1 > cap) {
			char *nb = realloc(buf, cap = (cap + 65536) * 2);

			if (!nb)
				break;
			buf = nb;
		}
		r = fread(buf + len, 1, 65536, f);
		if (r == 0)
			break;
		len += r;
	}
	fclose(f);
	if (buf) {
		buf[len] = '\0';
		found = strstr(buf, needle) != NULL;
	}
	free(buf);
	return found;
}

static long count_lines_with(const char *path, const char *needle)
{
	char line[4096];
	long n = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			n++;
	fclose(f);
	return n;
}

static int same_file(const char *a, const char *b)
{
	char cmd[9000];

	snprintf(cmd, sizeof(cmd), "cmp -s '%s' '%s'", a, b);
	return system(cmd) == 0;
}

/* Best wall time of `reps` runs of av (stdout to out); -1 on failure. */
static double
best_of(int reps,
	char *const av[],
	const char *out,
	const char *err,
	double *cpu_out)
{
	double best = -1, t0, t, cpu;
	int i;

	for (i = 0; i < reps; i++) {
		t0 = helper_history_now();
		if (helper_history_run(&cpu, av, out, err) != 0) {
			fprintf(stderr, "audit_bench: %s %s failed (see %s)\n",
				av[0], av[3], err);
			return -1;
		}
		t = helper_history_now() - t0;
		if (best < 0 || t < best) {
			best = t;
			*cpu_out = cpu;
		}
	}
	return best;
}

static void row(const char *what, double t, double cpu, double gt, double gc)
{
	printf("| %s | %.3f | %.3f | %.3fx | %.3fx |\n", what, t, cpu, t / gt,
	       cpu / gc);
}

int main(int argc, char **argv)
{
	char repo[4096], home[4096], out[4096], err[4096], idx[4200];
	char o_blame[4096], o_log[4096], o_blame_ni[4096], o_log_ni[4096];
	char want[256], cmd[8400], keyline[KEY_LINE_MAX];
	const char *file = "actions/P1/P1-A1.yaml";
	long n = 100000, last_a1 = 0, nlog;
	int nactions = 1000;
	double t0, cpu_cold, cpu_build, tbuild, gb, gl, pb_ni, pl_ni, pb_cold,
		pb, pl, load[1] = { 0 };
	double cpu_gb, cpu_gl, cpu_pb_ni, cpu_pl_ni, cpu_pb, cpu_pl;
	struct stat st;

	if (argc < 3 || argc > 5) {
		fprintf(stderr, "usage: audit_bench PLANSYNC WORKDIR "
				"[COMMITS [ACTIONS]]\n");
		return 2;
	}
	if (argc >= 4 && (n = strtol(argv[3], NULL, 10)) < 2) {
		fprintf(stderr, "audit_bench: bad commit count '%s'\n",
			argv[3]);
		return 2;
	}
	if (argc == 5 && ((nactions = (int)strtol(argv[4], NULL, 10)) < 1 ||
			  nactions > 100000)) {
		fprintf(stderr, "audit_bench: bad action count '%s'\n",
			argv[4]);
		return 2;
	}
	if (sodium_init() < 0)
		return 1;
	git_libgit2_init();
	if (mkdir(argv[2], 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "audit_bench: cannot create '%s'\n", argv[2]);
		return 1;
	}
	snprintf(repo, sizeof(repo), "%s/repo", argv[2]);
	snprintf(home, sizeof(home), "%s/home", argv[2]);
	snprintf(out, sizeof(out), "%s/out", argv[2]);
	snprintf(err, sizeof(err), "%s/err", argv[2]);
	snprintf(o_blame, sizeof(o_blame), "%s/blame", argv[2]);
	snprintf(o_log, sizeof(o_log), "%s/log", argv[2]);
	snprintf(o_blame_ni, sizeof(o_blame_ni), "%s/blame-ni", argv[2]);
	snprintf(o_log_ni, sizeof(o_log_ni), "%s/log-ni", argv[2]);
	snprintf(idx, sizeof(idx), "%s/.git/plansync/history/index", repo);
	t0 = helper_history_now();
	if (helper_history_build(
		    "audit_bench", repo, home, n, nactions, keyline,
		    sizeof(keyline), &last_a1) < 0)
		return 1;
	fprintf(stderr,
		"audit_bench: built %ld signed commits of %d actions in "
		"%.2f s\n",
		n, nactions, helper_history_now() - t0);
	{
		char *av[] = { (char *)"git",  (char *)"-C",
			       repo,           (char *)"blame",
			       (char *)"HEAD", (char *)"--",
			       (char *)file,   NULL };

		if ((gb = best_of(3, av, out, err, &cpu_gb)) < 0)
			return 1;
	}
	{
		char *av[] = { (char *)"git", (char *)"-C", repo,
			       (char *)"log", (char *)"-p", (char *)"--",
			       (char *)file,  NULL };

		if ((gl = best_of(3, av, out, err, &cpu_gl)) < 0)
			return 1;
	}
	{
		char *av[] = { argv[1],
			       (char *)"-C",
			       repo,
			       (char *)"blame",
			       (char *)"P1-A1",
			       (char *)"--json",
			       (char *)"--no-index",
			       NULL };

		if ((pb_ni = best_of(1, av, o_blame_ni, err, &cpu_pb_ni)) < 0)
			return 1;
	}
	{
		char *av[] = { argv[1],
			       (char *)"-C",
			       repo,
			       (char *)"log",
			       (char *)"P1-A1",
			       (char *)"--json",
			       (char *)"--no-index",
			       NULL };

		if ((pl_ni = best_of(1, av, o_log_ni, err, &cpu_pl_ni)) < 0)
			return 1;
	}
	if (stat(idx, &st) == 0) {
		fprintf(stderr, "audit_bench: --no-index wrote an index\n");
		return 1;
	}
	{
		/* The first run with no index: one file's history walked
		 * alone (the index is not built for one action). */
		char *av[] = { argv[1],
			       (char *)"-C",
			       repo,
			       (char *)"blame",
			       (char *)"P1-A1",
			       (char *)"--json",
			       NULL };
		/* log of everything in an empty period: builds the index. */
		char *build[] = {
			argv[1],       (char *)"-C",      repo,
			(char *)"log", (char *)"--until", (char *)"1970-01-02",
			NULL
		};

		if ((pb_cold = best_of(1, av, o_blame, err, &cpu_cold)) < 0)
			return 1;
		if (stat(idx, &st) == 0) {
			fprintf(stderr, "audit_bench: blame built the index\n");
			return 1;
		}
		if ((tbuild = best_of(1, build, out, err, &cpu_build)) < 0)
			return 1;
		if (stat(idx, &st) != 0) {
			fprintf(stderr, "audit_bench: no index written\n");
			return 1;
		}
		if ((pb = best_of(3, av, o_blame, err, &cpu_pb)) < 0)
			return 1;
	}
	{
		char *av[] = { argv[1],       (char *)"-C",    repo,
			       (char *)"log", (char *)"P1-A1", (char *)"--json",
			       NULL };

		if ((pl = best_of(3, av, o_log, err, &cpu_pl)) < 0)
			return 1;
	}
	/* The answers: right, and the same with and without the index. */
	if (!same_file(o_blame, o_blame_ni) || !same_file(o_log, o_log_ni)) {
		fprintf(stderr, "audit_bench: index and --no-index differ\n");
		return 1;
	}
	snprintf(
		want, sizeof(want),
		"\"value\": \"Progress report %ld on action 1 of priority "
		"1\"",
		last_a1);
	if (!file_has(o_blame, want) || !file_has(o_blame, "\"good\"")) {
		fprintf(stderr, "audit_bench: blame lacks %s, signed good\n",
			want);
		return 1;
	}
	nlog = count_lines_with(o_log, "\"field\": \"updates/u1/text\"");
	if (nlog != (n - 1) / nactions + 1) {
		fprintf(stderr,
			"audit_bench: log lists %ld text changes, wanted "
			"%ld\n",
			nlog, (n - 1) / nactions + 1);
		return 1;
	}
	snprintf(cmd, sizeof(cmd), "%s", idx);
	stat(cmd, &st);
	getloadavg(load, 1);
	printf("History of %ld signed commits, %d actions; the action's file "
	       "changed %ld times.\n\n",
	       n, nactions, nlog);
	printf("| query | wall s | CPU s | wall vs git | CPU vs git |\n"
	       "|---|---|---|---|---|\n");
	printf("| git blame HEAD -- %s | %.3f | %.3f | 1 | 1 |\n", file, gb,
	       cpu_gb);
	printf("| git log -p -- %s | %.3f | %.3f | 1 | 1 |\n", file, gl,
	       cpu_gl);
	row("plansync blame P1-A1 --no-index", pb_ni, cpu_pb_ni, gb, cpu_gb);
	row("plansync log P1-A1 --no-index", pl_ni, cpu_pl_ni, gl, cpu_gl);
	row("plansync blame P1-A1, no index yet", pb_cold, cpu_cold, gb,
	    cpu_gb);
	printf("| index build, all %d actions (log --until 1970-01-02) | "
	       "%.3f | %.3f | %.2fx git blame | %.2fx |\n",
	       nactions, tbuild, cpu_build, tbuild / gb, cpu_build / cpu_gb);
	row("plansync blame P1-A1, warm index", pb, cpu_pb, gb, cpu_gb);
	row("plansync log P1-A1, warm index", pl, cpu_pl, gl, cpu_gl);
	printf("\nIndex: %.1f MiB; load average %.2f.  Targets: without a "
	       "warm index <= 1.0x git, with one <= 0.1x (git blame for "
	       "blame, git log -p for log).\n",
	       (double)st.st_size / 1048576.0, load[0]);
	git_libgit2_shutdown();
	return 0;
}
