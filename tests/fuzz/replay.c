/*
 * tests/fuzz/replay.c: run a libFuzzer target over a corpus without
 * libFuzzer, for `make test`.  Every regular file in the folders given as
 * arguments goes through LLVMFuzzerTestOneInput once; each prints a TAP
 * line.  A missing or empty folder is not an error.  A crash or abort of
 * the target ends the run with a non-zero status.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_file(const char *path, unsigned long *n)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	size_t len = 0, cap = 0, r;

	if (!f) {
		printf("not ok %lu - %s: cannot open\n", ++*n, path);
		return 1;
	}
	do {
		if (len == cap) {
			unsigned char *nb;

			cap = cap ? cap * 2 : 4096;
			nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				fclose(f);
				printf("not ok %lu - %s: out of memory\n", ++*n,
				       path);
				return 1;
			}
			buf = nb;
		}
		r = fread(buf + len, 1, cap - len, f);
		len += r;
	} while (r > 0);
	fclose(f);
	/* A copy of exactly len bytes, so overreads show under ASan. */
	{
		unsigned char *exact = malloc(len ? len : 1);

		if (exact) {
			memcpy(exact, buf, len);
			LLVMFuzzerTestOneInput(exact, len);
			free(exact);
		}
	}
	free(buf);
	printf("ok %lu - %s\n", ++*n, path);
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long n = 0;
	int i, failed = 0;

	for (i = 1; i < argc; i++) {
		DIR *d = opendir(argv[i]);
		struct dirent *e;
		char **names = NULL;
		size_t count = 0, cap = 0, k;
		struct stat st;

		if (!d) {
			if (stat(argv[i], &st) == 0 && S_ISREG(st.st_mode))
				failed |= run_file(argv[i], &n);
			else
				printf("# %s: no corpus\n", argv[i]);
			continue;
		}
		while ((e = readdir(d)) != NULL) {
			char path[4096];

			if (e->d_name[0] == '.')
				continue;
			snprintf(
				path, sizeof(path), "%s/%s", argv[i],
				e->d_name);
			if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
				continue;
			if (count == cap) {
				char **nn;

				cap = cap ? cap * 2 : 64;
				nn = realloc(names, cap * sizeof(*nn));
				if (!nn)
					break;
				names = nn;
			}
			names[count] = strdup(path);
			if (names[count])
				count++;
		}
		closedir(d);
		qsort(names, count, sizeof(*names), cmp);
		for (k = 0; k < count; k++) {
			failed |= run_file(names[k], &n);
			free(names[k]);
		}
		free(names);
	}
	printf("1..%lu\n", n);
	return failed;
}
