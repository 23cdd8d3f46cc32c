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

/*
 * The way from the current folder up to dir ("." or "../.."), so that the
 * loader's messages name files as the user sees them from here.
 */
static int relative_up(char **out, const char *dir)
{
	char *cwd = NULL, *rel = NULL;
	size_t up = 0, i, base;
	int error = 0;

	if (!(cwd = getcwd(NULL, 0))) {
		error = error_set(
			ERROR_GENERIC, "cannot read the current folder: %s",
			strerror(errno));
		goto done;
	}
	base = strcmp(dir, "/") == 0 ? 0 : strlen(dir);
	if (strncmp(cwd, dir, base) != 0) {
		/* not below dir: keep the absolute path */
		rel = strdup(dir);
	} else {
		for (i = base; cwd[i]; i++)
			if (cwd[i] == '/' && cwd[i + 1])
				up++;
		rel = malloc(up ? 3 * up : 2);
		if (rel && up == 0) {
			memcpy(rel, ".", 2);
		} else if (rel) {
			for (i = 0; i < up; i++)
				memcpy(rel + 3 * i, "../", 3);
			rel[3 * up - 1] = '\0';
		}
	}
	if (!rel) {
		error = error_nomem();
		goto done;
	}
	*out = rel;
	rel = NULL;
done:
	free(rel);
	free(cwd);
	return error;
}

int plandir_load(struct plan **out, char **out_dir)
{
	struct plan *plan = NULL;
	char *dir = NULL, *rel = NULL;
	int error;

	if ((error = plandir_find(&dir)) < 0 ||
	    (error = relative_up(&rel, dir)) < 0)
		goto done;
	if ((error = plan_load_dir(&plan, rel)) < 0)
		goto done;
	*out = plan;
	plan = NULL;
	if (out_dir) {
		*out_dir = dir;
		dir = NULL;
	}
done:
	plan_free(plan);
	free(rel);
	free(dir);
	return error;
}
