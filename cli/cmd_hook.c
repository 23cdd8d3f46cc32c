/*
 * cli/cmd_hook.c: `plansync hook NAME`, run by the git hooks init installs.
 */
#include "cmd.h"

#include <stdio.h>
#include <string.h>

#include "sync/repo.h"
#include "sync/signers.h"

int cmd_hook(int argc, char **argv)
{
	struct repo *repo = NULL;
	int error;

	if (argc >= 2 &&
	    (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		printf("usage: plansync hook [NAME]\n"
		       "\n"
		       "Regenerate .git/" REPO_SIGNERS_FILE " from HEAD's "
		       "partners.yaml.  The git\n"
		       "hooks 'plansync init' installs (post-checkout, "
		       "post-commit, post-merge,\n"
		       "post-rewrite) run it whenever git moves HEAD.\n");
		return 0;
	}
	if (argc > 2)
		return cli_usage("hook", "give at most one hook NAME");
	if ((error = repo_open(&repo, ".", 0)) < 0)
		goto done;
	error = signers_refresh(repo);
done:
	repo_free(repo);
	return error;
}
