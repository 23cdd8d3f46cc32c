/*
 * plan_bench [-r RUNS] [-j JOBS] DIR: time plan_load_dir (load + validate)
 * of a plan folder with one thread and with JOBS threads (default: what
 * plan_load_dir uses, one per online CPU up to 8), plan_write_dir of it to
 * a temporary folder, and, as a baseline, libyaml's event parser alone
 * over the same action files (each read with fsutil_read_file).  Each load
 * runs in a fresh child process, RUNS times (default 5), the runs of the
 * three alternating so that a busy moment hits all of them; medians are
 * reported, per second of wall time and, for one thread and the baseline,
 * per second of CPU time (which other work on the machine slows less).
 *
 * The last line is "key=value" pairs for bench/run.sh:
 *
 *     actions=N jobs=J load_s=S load_per_s=R load1_s=S load1_per_s=R
 *     write_s=S write_per_s=R libyaml_s=S libyaml_per_s=R
 *     load1_cpu_per_s=R libyaml_cpu_per_s=R maxrss_kb=K
 *
 * load_* with J threads, load1_* with one.
 */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <yaml.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/plan.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of the process, all threads. */
static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Read and parse every actions/P* / *.yaml with the event API only. */
static long libyaml_only(const char *dir)
{
	char path[4096];
	DIR *top, *sub;
	struct dirent *p, *f;
	long files = 0;

	snprintf(path, sizeof(path), "%s/actions", dir);
	top = opendir(path);
	if (!top)
		return 0;
	while ((p = readdir(top)) != NULL) {
		if (p->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/actions/%s", dir, p->d_name);
		sub = opendir(path);
		if (!sub)
			continue;
		while ((f = readdir(sub)) != NULL) {
			char *buf = NULL;
			size_t len;
			yaml_parser_t parser;
			yaml_event_t ev;
			int end = 0;

			if (f->d_name[0] == '.')
				continue;
			snprintf(
				path, sizeof(path), "%s/actions/%s/%s", dir,
				p->d_name, f->d_name);
			if (fsutil_read_file(&buf, &len, path, 1 << 24) < 0)
				continue;
			yaml_parser_initialize(&parser);
			yaml_parser_set_input_string(
				&parser, (const unsigned char *)buf, len);
			while (!end && yaml_parser_parse(&parser, &ev)) {
				end = ev.type == YAML_STREAM_END_EVENT;
				yaml_event_delete(&ev);
			}
			yaml_parser_delete(&parser);
			free(buf);
			files++;
		}
		closedir(sub);
	}
	closedir(top);
	return files;
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), dbl_cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* What one measurement in a child process sends back. */
struct result {
	double t, cpu, write_t; /* cpu: CPU time of all threads */
	size_t n;
	long files;
	char error[512];
};

/*
 * One measurement in a child process, so that each load starts from a
 * fresh heap as plansync does, and the peak RSS (of the children) is that
 * of one load: jobs 0 is the libyaml baseline, otherwise a load with that
 * many threads, then, if write_to, plan_write_dir into it.
 */
static void
measure(struct result *res,
	const char *dir,
	unsigned jobs,
	const char *write_to)
{
	struct plan *plan = NULL;
	int fds[2], status;
	pid_t pid;
	double t0, c0;

	memset(res, 0, sizeof(*res));
	if (pipe(fds) < 0 || (pid = fork()) < 0) {
		perror("plan_bench");
		exit(1);
	}
	if (pid == 0) {
		close(fds[0]);
		c0 = cpu_now();
		t0 = now();
		if (jobs == 0) {
			res->files = libyaml_only(dir);
			res->t = now() - t0;
			res->cpu = cpu_now() - c0;
		} else if (plan_load_dir_jobs(&plan, dir, jobs) < 0) {
			snprintf(
				res->error, sizeof(res->error), "%s",
				error_message());
		} else {
			res->t = now() - t0;
			res->cpu = cpu_now() - c0;
			res->n = plan_action_count(plan);
			t0 = now();
			if (write_to && plan_write_dir(plan, write_to) < 0)
				snprintf(
					res->error, sizeof(res->error), "%s",
					error_message());
			res->write_t = now() - t0;
			plan_free(plan);
		}
		_exit(write(fds[1], res, sizeof(*res)) == sizeof(*res) ? 0 : 1);
	}
	close(fds[1]);
	if (read(fds[0], res, sizeof(*res)) != sizeof(*res) ||
	    waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		snprintf(res->error, sizeof(res->error), "child failed");
	close(fds[0]);
	if (res->error[0]) {
		fprintf(stderr, "plan_bench: %s\n", res->error);
		exit(1);
	}
}

#define MAX_RUNS 51

int main(int argc, char **argv)
{
	char tmp[] = "/tmp/plan_bench.XXXXXX";
	double t1[MAX_RUNS], tj[MAX_RUNS], ty[MAX_RUNS];
	double c1[MAX_RUNS], cy[MAX_RUNS];
	double l1, lj, ly, lc1, lcy;
	struct result r, w;
	long ncpu;
	int runs = 5, i, opt;
	unsigned jobs;
	struct rusage ru;

	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	jobs = ncpu < 1 ? 1 : ncpu > 8 ? 8 : (unsigned)ncpu;
	while ((opt = getopt(argc, argv, "r:j:")) != -1) {
		if (opt == 'r')
			runs = (int)strtol(optarg, NULL, 10);
		else if (opt == 'j')
			jobs = (unsigned)strtoul(optarg, NULL, 10);
		else
			optind = argc + 1;
	}
	if (optind != argc - 1 || runs < 1 || runs > MAX_RUNS || jobs < 1) {
		fprintf(stderr, "usage: plan_bench [-r RUNS] [-j JOBS] DIR\n");
		return 2;
	}
	/* Warm the page cache the same way for every measurement. */
	libyaml_only(argv[optind]);

	for (i = 0; i < runs; i++) {
		measure(&r, argv[optind], 0, NULL);
		ty[i] = r.t;
		cy[i] = r.cpu;
		measure(&r, argv[optind], 1, NULL);
		t1[i] = r.t;
		c1[i] = r.cpu;
		measure(&r, argv[optind], jobs, NULL);
		tj[i] = r.t;
	}
	ly = median(ty, runs);
	l1 = median(t1, runs);
	lj = median(tj, runs);
	lc1 = median(c1, runs);
	lcy = median(cy, runs);
	if (!mkdtemp(tmp)) {
		perror("plan_bench: mkdtemp");
		return 1;
	}
	measure(&w, argv[optind], jobs, tmp);
	getrusage(RUSAGE_CHILDREN, &ru);
	nftw(tmp, rm_one, 64, FTW_DEPTH | FTW_PHYS);
	measure(&r, argv[optind], 0, NULL); /* the file count */

	printf("load+validate, 1 thread: %zu actions in %.3f s (%.0f "
	       "actions/s), median of %d\n",
	       w.n, l1, (double)w.n / l1, runs);
	printf("load+validate, %u threads: %zu actions in %.3f s (%.0f "
	       "actions/s), median of %d\n",
	       jobs, w.n, lj, (double)w.n / lj, runs);
	printf("write: %zu actions in %.3f s (%.0f actions/s)\n", w.n,
	       w.write_t, (double)w.n / w.write_t);
	printf("libyaml events only: %ld files in %.3f s (%.0f files/s), "
	       "median of %d\n",
	       r.files, ly, (double)r.files / ly, runs);
	printf("per second of CPU time: load+validate, 1 thread, %.0f "
	       "actions/s; libyaml events only %.0f files/s\n",
	       (double)w.n / lc1, (double)r.files / lcy);
	printf("peak RSS (one load + write): %ld KiB\n", ru.ru_maxrss);
	printf("actions=%zu jobs=%u load_s=%.4f load_per_s=%.0f load1_s=%.4f "
	       "load1_per_s=%.0f write_s=%.4f write_per_s=%.0f "
	       "libyaml_s=%.4f libyaml_per_s=%.0f load1_cpu_per_s=%.0f "
	       "libyaml_cpu_per_s=%.0f maxrss_kb=%ld\n",
	       w.n, jobs, lj, (double)w.n / lj, l1, (double)w.n / l1, w.write_t,
	       (double)w.n / w.write_t, ly, (double)r.files / ly,
	       (double)w.n / lc1, (double)r.files / lcy, ru.ru_maxrss);
	return 0;
}
