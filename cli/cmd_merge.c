/*
 * cli/cmd_merge.c: `plansync merge REF`: verify what REF brings, then
 * fast-forward or make one signed merge commit, field by field.
 */
#include "cmd.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/key.h"
#include "core/merge.h"
#include "sync/merge.h"
#include "sync/repo.h"

static void print_help(void)
{
	printf("usage: plansync merge REF\n"
	       "\n"
	       "Merge REF (a branch, a remote-tracking branch such as "
	       "origin/main that\n"
	       "stock git fetched, or a commit id) into the current branch.\n"
	       "\n"
	       "Every commit REF brings is verified first (signature, key "
	       "listed and not\n"
	       "revoked, author = signer; a key the local partners.yaml "
	       "revokes is refused):\n"
	       "one bad commit refuses the whole merge with exit status 3 and "
	       "changes\n"
	       "nothing.  Then the branch fast-forwards when it can; "
	       "otherwise one signed\n"
	       "merge commit with two parents is made, merging each action "
	       "field by field\n"
	       "(SPEC 4).  A field changed differently on both sides keeps "
	       "the value changed\n"
	       "last and records the other in the action's conflicts list "
	       "(see plansync\n"
	       "conflicts, plansync resolve).  Invalid YAML on either side "
	       "refuses the merge.\n"
	       "Only the files the merge changes are written in the work "
	       "tree; edits not\n"
	       "committed to those files refuse the merge.\n");
}

int cmd_merge(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct key *key = NULL;
	struct repo *repo = NULL;
	struct syncmerge_report rep = SYNCMERGE_REPORT_INIT;
	const struct syncmerge_stats *s = &rep.stats;
	size_t i;
	int c, error;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			print_help();
			return 0;
		}
		return cli_usage(
			"merge", "unknown option '%s'", argv[optind - 1]);
	}
	if (argc - optind != 1)
		return cli_usage("merge", "give one REF to merge");
	if ((error = cli_load_key(&key)) < 0 ||
	    (error = repo_open(&repo, ".", 1)) < 0 ||
	    (error = syncmerge_ref(&rep, repo, key, argv[optind])) < 0)
		goto done;
	switch (rep.kind) {
	case SYNCMERGE_UP_TO_DATE:
		printf("Already up to date.\n");
		break;
	case SYNCMERGE_FAST_FORWARD:
		printf("Fast-forward to %.12s: %zu commit%s verified, %zu "
		       "file%s updated\n",
		       rep.commit, rep.verified, rep.verified == 1 ? "" : "s",
		       s->files, s->files == 1 ? "" : "s");
		break;
	case SYNCMERGE_MERGED:
		printf("Merged %s (commit %.12s): %zu commit%s verified, %zu "
		       "action%s merged, %zu field%s merged automatically, "
		       "%zu conflict%s recorded\n",
		       argv[optind], rep.commit, rep.verified,
		       rep.verified == 1 ? "" : "s", s->actions,
		       s->actions == 1 ? "" : "s", s->fields_auto,
		       s->fields_auto == 1 ? "" : "s", s->nconflicts,
		       s->nconflicts == 1 ? "" : "s");
		for (i = 0; i < s->nrenumbered; i++)
			printf("  renumbered %s -> %s (added on both sides)\n",
			       s->renumbered[i].old_id,
			       s->renumbered[i].new_id);
		for (i = 0; i < s->nnotes; i++)
			printf("  conflict: %s\n", s->notes[i]);
		if (s->nconflicts > s->nnotes)
			printf("  ... and %zu more conflicts\n",
			       s->nconflicts - s->nnotes);
		if (s->nconflicts)
			printf("See plansync conflicts; clear one with "
			       "plansync resolve ID FIELD --keep|--other|"
			       "--value V.\n");
		break;
	}
done:
	syncmerge_report_release(&rep);
	repo_free(repo);
	key_free(key);
	return error;
}
