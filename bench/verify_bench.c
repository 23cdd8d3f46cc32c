/*
 * bench/verify_bench: `plansync verify --all` over a long signed history,
 * against stock git's `git log --show-signature`.
 *
 *     verify_bench PLANSYNC WORKDIR [COMMITS]
 *
 * Builds in WORKDIR/repo a history of COMMITS (default 10,000) commits, each
 * changing one action file of 50 and signed by the plan's coordinator the
 * way plansync signs (core/sshsig), written straight through libgit2 into
 * an in-memory object store and then one pack (as a clone would have it).
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
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <git2.h>
#include <git2/sys/mempack.h>
#include <git2/sys/odb_backend.h>
#include <sodium.h>

#include "core/error.h"
#include "core/key.h"
#include "core/sshsig.h"

#define ACTIONS 50
#define EMAIL "coordinator@bench.example"
#define SAMPLE 200
#define BASE_TIME 1767225600LL

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fail(const char *what)
{
	const git_error *e = git_error_last();

	fprintf(stderr, "verify_bench: %s: %s\n", what,
		*error_message() ? error_message() :
		e && e->message  ? e->message :
				   "failed");
	return -1;
}

/* A tree object from entries already in git's order. */
struct entry {
	const char *mode;
	char name[32];
	git_oid id;
};

static int
write_tree(git_oid *out, git_odb *odb, const struct entry *e, size_t n)
{
	char buf[ACTIONS * 64];
	size_t len = 0, i, m;

	for (i = 0; i < n; i++) {
		m = strlen(e[i].mode) + 1 + strlen(e[i].name) + 1;
		memcpy(buf + len, e[i].mode, strlen(e[i].mode));
		buf[len + strlen(e[i].mode)] = ' ';
		memcpy(buf + len + strlen(e[i].mode) + 1, e[i].name,
		       strlen(e[i].name) + 1);
		len += m;
		memcpy(buf + len, e[i].id.id, GIT_OID_RAWSZ);
		len += GIT_OID_RAWSZ;
	}
	return git_odb_write(out, odb, buf, len, GIT_OBJECT_TREE);
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(
		((const struct entry *)a)->name,
		((const struct entry *)b)->name);
}

/* One signed commit object: tree, parent (NULL: root), message. */
static int write_commit(
	git_oid *out,
	git_odb *odb,
	const struct key *key,
	const git_oid *tree,
	const git_oid *parent,
	long long t,
	const char *msg)
{
	char head[512], thex[GIT_OID_HEXSZ + 1], phex[GIT_OID_HEXSZ + 1];
	char *payload = NULL, *armor = NULL, *raw = NULL;
	size_t hl, ml = strlen(msg), al, rl, i;
	int n, error = -1;

	git_oid_tostr(thex, sizeof(thex), tree);
	if (parent)
		git_oid_tostr(phex, sizeof(phex), parent);
	n = snprintf(
		head, sizeof(head),
		"tree %s\n%s%s%s"
		"author Bench Coordinator <" EMAIL "> %lld +0000\n"
		"committer Bench Coordinator <" EMAIL "> %lld +0000\n",
		thex, parent ? "parent " : "", parent ? phex : "",
		parent ? "\n" : "", t, t);
	if (n < 0 || (size_t)n >= sizeof(head))
		goto done;
	hl = (size_t)n;
	if (!(payload = malloc(hl + 1 + ml)))
		goto done;
	memcpy(payload, head, hl);
	payload[hl] = '\n';
	memcpy(payload + hl + 1, msg, ml);
	if (sshsig_sign(&armor, key, payload, hl + 1 + ml) < 0)
		goto done;
	al = strlen(armor);
	if (!(raw = malloc(hl + 7 + al * 2 + 2 + 1 + ml)))
		goto done;
	memcpy(raw, head, hl);
	rl = hl;
	memcpy(raw + rl, "gpgsig ", 7);
	rl += 7;
	for (i = 0; i < al; i++) {
		raw[rl++] = armor[i];
		if (armor[i] == '\n')
			raw[rl++] = ' ';
	}
	raw[rl++] = '\n';
	raw[rl++] = '\n';
	memcpy(raw + rl, msg, ml);
	rl += ml;
	error = git_odb_write(out, odb, raw, rl, GIT_OBJECT_COMMIT);
done:
	free(payload);
	free(armor);
	free(raw);
	return error;
}

static void action_text(char *buf, size_t size, int a, long rev)
{
	snprintf(
		buf, size,
		"id: P1-A%d\npriority: P1\naction: Bench action number %d\n"
		"information: \"\"\nstatus: ongoing\ntimescale: Ongoing\n"
		"responsible: [NYP, CYC]\nupdates:\n  - id: u1\n"
		"    text: Progress report %ld on action %d\n",
		a + 1, a + 1, rev, a + 1);
}

static int build_history(
	const char *repo_path,
	const char *home,
	char *keyline,
	size_t keyline_size,
	long ncommits)
{
	git_repository_init_options io;
	git_repository *repo = NULL;
	git_odb *odb = NULL;
	git_odb_backend *mem = NULL;
	git_odb_writepack *wp = NULL;
	git_indexer_progress stats;
	git_buf pack = { 0 };
	git_reference *ref = NULL;
	struct key *key = NULL;
	struct entry p1[ACTIONS], actions[1], root[3];
	git_oid partners, plan, tip, id;
	char text[1024], msg[128], partners_yaml[2048];
	long i;
	int a, pos[ACTIONS], error = -1;

	git_repository_init_options_init(
		&io, GIT_REPOSITORY_INIT_OPTIONS_VERSION);
	io.flags = GIT_REPOSITORY_INIT_MKPATH;
	io.initial_head = "main";
	if (key_generate(
		    home, "Bench Coordinator", EMAIL, "Bench", NULL, NULL) <
		    0 ||
	    key_load(&key, home, NULL, NULL) < 0) {
		fail("key");
		goto done;
	}
	key_public_line(keyline, keyline_size, key_public(key), EMAIL);
	if (git_repository_init_ext(&repo, repo_path, &io) < 0 ||
	    git_repository_odb(&odb, repo) < 0 || git_mempack_new(&mem) < 0 ||
	    git_odb_add_backend(odb, mem, 999) < 0) {
		fail("repository");
		goto done;
	}
	snprintf(
		partners_yaml, sizeof(partners_yaml),
		"partners:\n  - email: " EMAIL "\n    name: Bench "
		"Coordinator\n    organisation: Bench\n    role: "
		"coordinator\n    key: %s\n    revoked: false\n",
		keyline);
	if (git_odb_write(
		    &partners, odb, partners_yaml, strlen(partners_yaml),
		    GIT_OBJECT_BLOB) < 0)
		goto done;
	snprintf(
		text, sizeof(text),
		"schema: plansync/1\ntitle: Bench plan\npartnership: "
		"Bench\nupdated: 2026\npriorities:\n  - id: P1\n    title: "
		"Everything\n");
	if (git_odb_write(&plan, odb, text, strlen(text), GIT_OBJECT_BLOB) < 0)
		goto done;
	for (a = 0; a < ACTIONS; a++) {
		p1[a].mode = "100644";
		snprintf(p1[a].name, sizeof(p1[a].name), "P1-A%d.yaml", a + 1);
		action_text(text, sizeof(text), a, 0);
		if (git_odb_write(
			    &p1[a].id, odb, text, strlen(text),
			    GIT_OBJECT_BLOB) < 0)
			goto done;
	}
	qsort(p1, ACTIONS, sizeof(p1[0]), cmp_entry);
	/* pos[a]: where P1-A<a+1> sits in tree order */
	for (a = 0; a < ACTIONS; a++) {
		int b;

		snprintf(text, sizeof(text), "P1-A%d.yaml", a + 1);
		for (b = 0; b < ACTIONS && strcmp(p1[b].name, text); b++)
			;
		pos[a] = b;
	}
	actions[0].mode = "40000";
	snprintf(actions[0].name, sizeof(actions[0].name), "P1");
	root[0].mode = "40000";
	snprintf(root[0].name, sizeof(root[0].name), "actions");
	root[1].mode = "100644";
	snprintf(root[1].name, sizeof(root[1].name), "partners.yaml");
	root[1].id = partners;
	root[2].mode = "100644";
	snprintf(root[2].name, sizeof(root[2].name), "plan.yaml");
	root[2].id = plan;
	for (i = 0; i < ncommits; i++) {
		if (i > 0) {
			/* one small change: the next action's update text */
			a = (int)(i % ACTIONS);
			action_text(text, sizeof(text), a, i);
			if (git_odb_write(
				    &p1[pos[a]].id, odb, text, strlen(text),
				    GIT_OBJECT_BLOB) < 0)
				goto done;
		}
		if (write_tree(&actions[0].id, odb, p1, ACTIONS) < 0 ||
		    write_tree(&root[0].id, odb, actions, 1) < 0 ||
		    write_tree(&id, odb, root, 3) < 0)
			goto done;
		snprintf(
			msg, sizeof(msg), "P1-A%ld: update %ld\n",
			i % ACTIONS + 1, i);
		if (write_commit(
			    &tip, odb, key, &id, i ? &tip : NULL, BASE_TIME + i,
			    msg) < 0) {
			fail("commit");
			goto done;
		}
	}
	if (git_mempack_dump(&pack, repo, mem) < 0 ||
	    git_odb_write_pack(&wp, odb, NULL, NULL) < 0 ||
	    wp->append(wp, pack.ptr, pack.size, &stats) < 0 ||
	    wp->commit(wp, &stats) < 0 || git_mempack_reset(mem) < 0) {
		fail("pack");
		goto done;
	}
	if (git_reference_create(
		    &ref, repo, "refs/heads/main", &tip, 1, "bench") < 0) {
		fail("ref");
		goto done;
	}
	error = 0;
done:
	if (wp)
		wp->free(wp);
	git_buf_dispose(&pack);
	git_reference_free(ref);
	git_odb_free(odb);
	git_repository_free(repo);
	key_free(key);
	return error;
}

/* Run argv with stdout to out (a file path) and stderr to err; status. */
static int
run(double *cpu, char *const argv[], const char *out, const char *err)
{
	struct rusage ru;
	pid_t pid;
	int st;

	fflush(NULL);
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		if (!freopen(out, "w", stdout) || !freopen(err, "w", stderr))
			_exit(127);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (wait4(pid, &st, 0, &ru) < 0)
		return -1;
	*cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

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
	t0 = now();
	if (build_history(repo, home, keyline, sizeof(keyline), n) < 0)
		return 1;
	fprintf(stderr, "verify_bench: built %ld signed commits in %.2f s\n", n,
		now() - t0);

	/* plansync verify --all, best of 3 */
	snprintf(want, sizeof(want), "%ld commits verified, 0 bad", n);
	for (i = 0; i < 3; i++) {
		char *av[] = { argv[1],          (char *)"-C",    repo,
			       (char *)"verify", (char *)"--all", NULL };

		t0 = now();
		st = run(&cpu, av, out, err);
		t = now() - t0;
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
	fprintf(f, EMAIL " namespaces=\"git\" %s\n", keyline);
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

		t0 = now();
		st = run(&git_cpu, av, out, err);
		git_s = now() - t0;
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
