/*
 * bench/verify_bench: `plansync verify --all` over a long signed history,
 * against stock git's `git log --show-signature`.
 *
 *     verify_bench PLANSYNC WORKDIR [COMMITS]
 *
 * Builds in WORKDIR/repo a history of COMMITS (default 10,000) commits, each
 * changing one action file of 50 and signed by the plan's coordinator the
 * way plansync signs (core/sshsig), written straight through libgit2 into
 * an in-memory object store and then one pack (as a clone would have it;
 * bench/helper_history).
 * Then times `PLANSYNC -C repo verify --all` (best of 3) and `git log
 * --show-signature -n 200` (stock git runs ssh-keygen per commit, so a
 * sample of 200 gives its rate), and prints a Markdown table of both rates
 * on stdout.  Exit 1 if either fails or plansync does not report every
 * commit good.
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

#define ACTIONS 50
#define SAMPLE 200

static int last_line_is(const char *path, const char *want)
{
	char line[512], last[512] = "";
	FILE *f = fopen(path, "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		snprintf(last, sizeof(last), "%s", line);
	fclose(f);
	last[strcspn(last, "\n")] = '\0';
	return strcmp(last, want) == 0;
}

int main(int argc, char **argv)
{
	char repo[4096], home[4096], out[4096], err[4096], allowed[4096];
	char keyline[KEY_LINE_MAX], want[128], cfg[4200];
	long n = 10000;
	double t0, best = 0, best_cpu = 0, t, cpu, git_s, git_cpu;
	int i, st;
	FILE *f;

	if (argc < 3 || argc > 4) {
		fprintf(stderr,
			"usage: verify_bench PLANSYNC WORKDIR [COMMITS]\n");
		return 2;
	}
	if (argc == 4 && (n = strtol(argv[3], NULL, 10)) < 1) {
		fprintf(stderr, "verify_bench: bad commit count '%s'\n",
			argv[3]);
		return 2;
	}
	if (sodium_init() < 0)
		return 1;
	git_libgit2_init();
	if (mkdir(argv[2], 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "verify_bench: cannot create '%s'\n", argv[2]);
		return 1;
	}
	snprintf(repo, sizeof(repo), "%s/repo", argv[2]);
	snprintf(home, sizeof(home), "%s/home", argv[2]);
	snprintf(out, sizeof(out), "%s/out", argv[2]);
	snprintf(err, sizeof(err), "%s/err", argv[2]);
	snprintf(allowed, sizeof(allowed), "%s/allowed_signers", argv[2]);
	t0 = helper_history_now();
	if (helper_history_build(
		    "verify_bench", repo, home, n, ACTIONS, keyline,
		    sizeof(keyline), NULL) < 0)
		return 1;
	fprintf(stderr, "verify_bench: built %ld signed commits in %.2f s\n", n,
		helper_history_now() - t0);

	/* plansync verify --all, best of 3 */
	snprintf(want, sizeof(want), "%ld commits verified, 0 bad", n);
	for (i = 0; i < 3; i++) {
		char *av[] = { argv[1],          (char *)"-C",    repo,
			       (char *)"verify", (char *)"--all", NULL };

		t0 = helper_history_now();
		st = helper_history_run(&cpu, av, out, err);
		t = helper_history_now() - t0;
		if (st != 0 || !last_line_is(out, want)) {
			fprintf(stderr,
				"verify_bench: plansync verify --all: exit %d, "
				"wanted '%s' (see %s)\n",
				st, want, out);
			return 1;
		}
		if (i == 0 || t < best)
			best = t;
		if (i == 0 || cpu < best_cpu)
			best_cpu = cpu;
	}

	/* git log --show-signature over a sample */
	if (!(f = fopen(allowed, "w")))
		return 1;
	fprintf(f, HELPER_HISTORY_EMAIL " namespaces=\"git\" %s\n", keyline);
	fclose(f);
	snprintf(cfg, sizeof(cfg), "gpg.ssh.allowedSignersFile=%s", allowed);
	{
		char *av[] = { (char *)"git",
			       (char *)"-C",
			       repo,
			       (char *)"-c",
			       cfg,
			       (char *)"log",
			       (char *)"--show-signature",
			       (char *)"-n",
			       (char *)"200",
			       (char *)"--format=%H %G?",
			       NULL };
		char line[256];
		long good = 0;

		t0 = helper_history_now();
		st = helper_history_run(&git_cpu, av, out, err);
		git_s = helper_history_now() - t0;
		if (st != 0 || !(f = fopen(out, "r"))) {
			fprintf(stderr, "verify_bench: git log failed (%d)\n",
				st);
			return 1;
		}
		while (fgets(line, sizeof(line), f))
			if (strlen(line) > 42 &&
			    strncmp(line + 41, "G", 1) == 0)
				good++;
		fclose(f);
		if (good != (n < SAMPLE ? n : SAMPLE)) {
			fprintf(stderr,
				"verify_bench: git log found %ld good "
				"signatures of %d\n",
				good, SAMPLE);
			return 1;
		}
	}
	{
		long sample = n < SAMPLE ? n : SAMPLE;
		double ps_rate = (double)n / best,
		       git_rate = (double)sample / git_s, load[1] = { 0 };

		/* CPU time tells the cost apart from other load on the box */
		getloadavg(load, 1);
		printf("| commits | plansync verify --all | commits/s | CPU s "
		       "| commits/CPU s | git log --show-signature -n %ld | "
		       "commits/s | CPU s | plansync / git | load avg |\n",
		       sample);
		printf("|---|---|---|---|---|---|---|---|---|---|\n");
		printf("| %ld | %.3f s | %.0f | %.3f | %.0f | %.3f s | %.1f | "
		       "%.3f | %.0fx | %.2f |\n",
		       n, best, ps_rate, best_cpu, (double)n / best_cpu, git_s,
		       git_rate, git_cpu, ps_rate / git_rate, load[0]);
		fprintf(stderr,
			"verify_bench: plansync %.0f commits/s (%.0f per CPU "
			"second), git log --show-signature %.1f commits/s\n",
			ps_rate, (double)n / best_cpu, git_rate);
	}
	git_libgit2_shutdown();
	return 0;
}
