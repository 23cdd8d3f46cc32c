/*
 * bench/helper_history: a long signed history for the benchmarks, and
 * running a program timed (see helper_history.h).
 */
#include "helper_history.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <git2.h>
#include <git2/sys/mempack.h>
#include <git2/sys/odb_backend.h>

#include "core/error.h"
#include "core/key.h"
#include "core/sshsig.h"

#define PER_PRIO HELPER_HISTORY_PER_PRIO
#define EMAIL HELPER_HISTORY_EMAIL
#define BASE_TIME 1767225600LL /* 2026-01-01T00:00:00Z */
#define ENTRY_MAX 64 /* bytes of one tree entry at most: mode, name, id */

double helper_history_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int helper_history_fail(const char *prog, const char *what)
{
	const git_error *e = git_error_last();

	fprintf(stderr, "%s: %s: %s\n", prog, what,
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
	char *buf;
	size_t len = 0, i, m;
	int error;

	/* n * ENTRY_MAX: the root's "actions" tree has a folder a priority */
	if (!(buf = malloc(n * ENTRY_MAX + 1)))
		return -1;
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
	error = git_odb_write(out, odb, buf, len, GIT_OBJECT_TREE);
	free(buf);
	return error;
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

int helper_history_build(
	const char *prog,
	const char *repo_path,
	const char *home,
	long ncommits,
	int nactions,
	char *keyline,
	size_t keyline_size,
	long *last_a1)
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
	struct entry *folders = NULL, root[3];
	git_oid partners, plan, tip, id;
	char text[2048], msg[128], partners_yaml[2048];
	char *plan_yaml = NULL;
	const char *what = "key"; /* the step under way, for the message */
	size_t pl = 0;
	long i;
	int np = (nactions + PER_PRIO - 1) / PER_PRIO, p, a, error = -1;

	if (last_a1)
		*last_a1 = 0;
	git_repository_init_options_init(
		&io, GIT_REPOSITORY_INIT_OPTIONS_VERSION);
	io.flags = GIT_REPOSITORY_INIT_MKPATH;
	io.initial_head = "main";
	if (key_generate(
		    home, "Bench Coordinator", EMAIL, "Bench", NULL, NULL) <
		    0 ||
	    key_load(&key, home, NULL, NULL) < 0)
		goto done;
	what = "repository";
	key_public_line(keyline, keyline_size, key_public(key), EMAIL);
	if (git_repository_init_ext(&repo, repo_path, &io) < 0 ||
	    git_repository_odb(&odb, repo) < 0 || git_mempack_new(&mem) < 0 ||
	    git_odb_add_backend(odb, mem, 999) < 0)
		goto done;
	what = "objects";
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
		/* pos[a]: where P<p>-A<a> sits in tree order */
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
	root[0].mode = "40000";
	snprintf(root[0].name, sizeof(root[0].name), "actions");
	root[1].mode = "100644";
	snprintf(root[1].name, sizeof(root[1].name), "partners.yaml");
	root[1].id = partners;
	root[2].mode = "100644";
	snprintf(root[2].name, sizeof(root[2].name), "plan.yaml");
	root[2].id = plan;
	for (i = 0; i < ncommits; i++) {
		int ai = (int)(i % nactions), fi;
		struct prio *pr = &prios[ai / PER_PRIO];
		char fname[32];

		p = ai / PER_PRIO + 1;
		a = ai % PER_PRIO + 1;
		if (i > 0) {
			/* one small change: the next action's update text */
			action_text(text, sizeof(text), p, a, i);
			if (git_odb_write(
				    &pr->files[pr->pos[a]].id, odb, text,
				    strlen(text), GIT_OBJECT_BLOB) < 0)
				goto done;
			if (ai == 0 && last_a1)
				*last_a1 = i;
		}
		snprintf(fname, sizeof(fname), "P%d", p);
		for (fi = 0; fi < np && strcmp(folders[fi].name, fname); fi++)
			;
		if (write_tree(
			    &folders[fi].id, odb, pr->files,
			    (size_t)pr->nfiles) < 0 ||
		    write_tree(&root[0].id, odb, folders, (size_t)np) < 0 ||
		    write_tree(&id, odb, root, 3) < 0)
			goto done;
		snprintf(msg, sizeof(msg), "P%d-A%d: update %ld\n", p, a, i);
		if (write_commit(
			    &tip, odb, key, &id, i ? &tip : NULL, BASE_TIME + i,
			    msg) < 0) {
			what = "commit";
			goto done;
		}
	}
	what = "pack";
	if (git_mempack_dump(&pack, repo, mem) < 0 ||
	    git_odb_write_pack(&wp, odb, NULL, NULL) < 0 ||
	    wp->append(wp, pack.ptr, pack.size, &stats) < 0 ||
	    wp->commit(wp, &stats) < 0 || git_mempack_reset(mem) < 0)
		goto done;
	what = "ref";
	if (git_reference_create(
		    &ref, repo, "refs/heads/main", &tip, 1, "bench") < 0)
		goto done;
	error = 0;
done:
	if (error < 0)
		helper_history_fail(prog, what);
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

int helper_history_run(
	double *cpu,
	char *const argv[],
	const char *out,
	const char *err)
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
