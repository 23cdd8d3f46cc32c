/*
 * plan_bench DIR: time plan_load_dir (load + validate) of a plan folder,
 * plan_write_dir of it to a temporary folder, and, as a baseline, libyaml's
 * event parser alone over the same action files.  The last line is
 * "key=value" pairs for bench/run.sh:
 *   actions=N load_s=S load_per_s=R write_s=S write_per_s=R
 *   libyaml_s=S libyaml_per_s=R maxrss_kb=K
 */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
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

int main(int argc, char **argv)
{
	struct plan *plan = NULL;
	char tmp[] = "/tmp/plan_bench.XXXXXX";
	double t0, t1, t2, t3, t4;
	size_t n;
	long files;
	struct rusage ru;

	if (argc != 2) {
		fprintf(stderr, "usage: plan_bench DIR\n");
		return 2;
	}
	/* Warm the page cache the same way for every measurement. */
	libyaml_only(argv[1]);

	t0 = now();
	if (plan_load_dir(&plan, argv[1]) < 0) {
		fprintf(stderr, "plan_bench: %s\n", error_message());
		return 1;
	}
	t1 = now();
	n = plan_action_count(plan);
	if (!mkdtemp(tmp)) {
		perror("plan_bench: mkdtemp");
		return 1;
	}
	t2 = now();
	if (plan_write_dir(plan, tmp) < 0) {
		fprintf(stderr, "plan_bench: %s\n", error_message());
		return 1;
	}
	t3 = now();
	plan_free(plan);
	getrusage(RUSAGE_SELF, &ru);
	nftw(tmp, rm_one, 64, FTW_DEPTH | FTW_PHYS);

	t4 = now();
	files = libyaml_only(argv[1]);
	t4 = now() - t4;

	printf("load+validate: %zu actions in %.3f s (%.0f actions/s)\n", n,
	       t1 - t0, (double)n / (t1 - t0));
	printf("write: %zu actions in %.3f s (%.0f actions/s)\n", n, t3 - t2,
	       (double)n / (t3 - t2));
	printf("libyaml events only: %ld files in %.3f s (%.0f files/s)\n",
	       files, t4, (double)files / t4);
	printf("peak RSS: %ld KiB\n", ru.ru_maxrss);
	printf("actions=%zu load_s=%.4f load_per_s=%.0f write_s=%.4f "
	       "write_per_s=%.0f libyaml_s=%.4f libyaml_per_s=%.0f "
	       "maxrss_kb=%ld\n",
	       n, t1 - t0, (double)n / (t1 - t0), t3 - t2,
	       (double)n / (t3 - t2), t4, (double)files / t4, ru.ru_maxrss);
	return 0;
}
