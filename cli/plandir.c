/*
 * cli/plandir: finding and loading the plan folder.
 */
#include "plandir.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/plan.h"

/* Non-zero if dir holds an entry named plan.yaml (of any type: the loader
 * refuses a symlink or a folder with a clear message). */
static int holds_plan(const char *dir, char *path, size_t size)
{
	struct stat st;
	int n;

	n = snprintf(path, size, "%s/plan.yaml", strcmp(dir, "/") ? dir : "");
	if (n < 0 || (size_t)n >= size)
		return 0;
	return lstat(path, &st) == 0;
}

int plandir_find(char **out)
{
	char *cwd = NULL, *dir = NULL, *path = NULL, *slash;
	size_t size;
	int error = 0;

	if (!(cwd = getcwd(NULL, 0))) {
		error = error_set(
			ERROR_GENERIC, "cannot read the current folder: %s",
			strerror(errno));
		goto done;
	}
	if (!(dir = strdup(cwd))) {
		error = error_nomem();
		goto done;
	}
	size = strlen(cwd) + sizeof("/plan.yaml");
	if (!(path = malloc(size))) {
		error = error_nomem();
		goto done;
	}
	for (;;) {
		if (holds_plan(dir, path, size))
			break;
		if (strcmp(dir, "/") == 0) {
			error = error_set(
				ERROR_NOTFOUND,
				"not in a plan folder: no plan.yaml in '%s' or "
				"any parent folder",
				cwd);
			goto done;
		}
		slash = strrchr(dir, '/');
		if (slash == dir)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
	*out = dir;
	dir = NULL;
done:
	free(path);
	free(dir);
	free(cwd);
	return error;
}

int plandir_load(struct plan **out, char **out_dir)
{
	struct plan *plan = NULL;
	char *dir = NULL;
	int error;

	if ((error = plandir_find(&dir)) < 0)
		goto done;
	if ((error = plan_load_dir(&plan, dir)) < 0)
		goto done;
	*out = plan;
	plan = NULL;
	if (out_dir) {
		*out_dir = dir;
		dir = NULL;
	}
done:
	plan_free(plan);
	free(dir);
	return error;
}
