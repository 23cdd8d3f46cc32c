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
 * then one pack.  Then, for the action P1-A1:
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

#define PER_PRIO 100
#define EMAIL "coordinator@bench.example"
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

	fprintf(stderr, "audit_bench: %s: %s\n", what,
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
	char buf[PER_PRIO * 64];
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

static void action_text(char *buf, size_t size, int p, int a, long rev)
{
	snprintf(
		buf, size,
		"id: P%d-A%d\npriority: P%d\naction: Bench action number %d "
		"of priority %d, to improve reporting\n"
		"information: \"\"\nstatus: ongoing\ntimescale: Ongoing\n"
		"responsible: [NYP, CYC]\nupdates:\n  - id: u1\n"
		"    text: Progress report %ld on action %d of priority %d\n",
		p, a, p, a, p, rev, a, p);
}

struct prio {
	struct entry files[PER_PRIO];
	int nfiles;
	int pos[PER_PRIO + 1]; /* action number -> index in files */
};

static int build_history(
	const char *repo_path,
	const char *home,
	long ncommits,
	int nactions,
	long *out_last_a1)
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
	struct prio *prios = NULL;
	struct entry *folders = NULL, actions[1], root[3];
	git_oid partners, plan, tip, id;
	char text[2048], msg[128], partners_yaml[2048], keyline[KEY_LINE_MAX];
	char *plan_yaml = NULL;
	size_t pl = 0;
	long i;
	int np = (nactions + PER_PRIO - 1) / PER_PRIO, p, a, error = -1;

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
	key_public_line(keyline, sizeof(keyline), key_public(key), EMAIL);
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
	if (!(plan_yaml = malloc(200 + (size_t)np * 64)))
		goto done;
	pl = (size_t)snprintf(
		plan_yaml, 200,
		"schema: plansync/1\ntitle: Bench plan\npartnership: "
		"Bench\nupdated: 2026\npriorities:\n");
	for (p = 1; p <= np; p++)
		pl += (size_t)snprintf(
			plan_yaml + pl, 64, "  - id: P%d\n    title: Part %d\n",
			p, p);
	if (git_odb_write(&plan, odb, plan_yaml, pl, GIT_OBJECT_BLOB) < 0)
		goto done;
	if (!(prios = calloc((size_t)np, sizeof(*prios))) ||
	    !(folders = calloc((size_t)np, sizeof(*folders))))
		goto done;
	for (a = 0; a < nactions; a++) {
		struct prio *pr = &prios[a / PER_PRIO];
		struct entry *e = &pr->files[pr->nfiles++];

		p = a / PER_PRIO + 1;
		e->mode = "100644";
		snprintf(
			e->name, sizeof(e->name), "P%d-A%d.yaml", p,
			a % PER_PRIO + 1);
		action_text(text, sizeof(text), p, a % PER_PRIO + 1, 0);
		if (git_odb_write(
			    &e->id, odb, text, strlen(text), GIT_OBJECT_BLOB) <
		    0)
			goto done;
	}
	for (p = 0; p < np; p++) {
		struct prio *pr = &prios[p];
		int b;

		qsort(pr->files, (size_t)pr->nfiles, sizeof(pr->files[0]),
		      cmp_entry);
		for (a = 1; a <= pr->nfiles; a++) {
			snprintf(text, sizeof(text), "P%d-A%d.yaml", p + 1, a);
			for (b = 0;
			     b < pr->nfiles && strcmp(pr->files[b].name, text);
			     b++)
				;
			pr->pos[a] = b;
		}
		folders[p].mode = "40000";
		snprintf(
			folders[p].name, sizeof(folders[p].name), "P%d", p + 1);
		if (write_tree(
			    &folders[p].id, odb, pr->files,
			    (size_t)pr->nfiles) < 0)
			goto done;
	}
	qsort(folders, (size_t)np, sizeof(folders[0]), cmp_entry);
	actions[0].mode = "40000";
	snprintf(actions[0].name, sizeof(actions[0].name), "actions");
	root[0] = actions[0];
	root[1].mode = "100644";
	snprintf(root[1].name, sizeof(root[1].name), "partners.yaml");
	root[1].id = partners;
	root[2].mode = "100644";
	snprintf(root[2].name, sizeof(root[2].name), "plan.yaml");
	root[2].id = plan;
	*out_last_a1 = 0;
	for (i = 0; i < ncommits; i++) {
		int ai = (int)(i % nactions), fi;
		struct prio *pr = &prios[ai / PER_PRIO];
		char fname[32];

		p = ai / PER_PRIO + 1;
		a = ai % PER_PRIO + 1;
		if (i > 0) {
			action_text(text, sizeof(text), p, a, i);
			if (git_odb_write(
				    &pr->files[pr->pos[a]].id, odb, text,
				    strlen(text), GIT_OBJECT_BLOB) < 0)
				goto done;
			if (ai == 0)
				*out_last_a1 = i;
		}
		snprintf(fname, sizeof(fname), "P%d", p);
		for (fi = 0; fi < np && strcmp(folders[fi].name, fname); fi++)
			;
		if (write_tree(
			    &folders[fi].id, odb, pr->files,
			    (size_t)pr->nfiles) < 0 ||
		    (i == 0 && 0) ||
		    write_tree(&root[0].id, odb, folders, (size_t)np) < 0 ||
		    write_tree(&id, odb, root, 3) < 0)
			goto done;
		snprintf(msg, sizeof(msg), "P%d-A%d: update %ld\n", p, a, i);
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
	free(prios);
	free(folders);
	free(plan_yaml);
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
		t0 = now();
		if (run(&cpu, av, out, err) != 0) {
			fprintf(stderr, "audit_bench: %s %s failed (see %s)\n",
				av[0], av[3], err);
			return -1;
		}
		t = now() - t0;
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
	char want[256], cmd[8400];
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
	t0 = now();
	if (build_history(repo, home, n, nactions, &last_a1) < 0)
		return 1;
	fprintf(stderr,
		"audit_bench: built %ld signed commits of %d actions in "
		"%.2f s\n",
		n, nactions, now() - t0);
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
