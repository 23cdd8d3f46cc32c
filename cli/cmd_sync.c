/*
 * cli/cmd_sync.c: `plansync sync [REMOTE]`: fetch, verify, merge, push.
 */
#include "cmd.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/key.h"
#include "core/merge.h"
#include "sync/repo.h"
#include "sync/sync.h"

/* The transfer progress printer (cli/cmd_fetch.c). */
void cli_transport_options(struct transport_options *o);
void cli_transport_done(void);

static void print_help(void)
{
	printf("usage: plansync sync [REMOTE]\n"
	       "\n"
	       "Bring the current branch and REMOTE (default origin) level:\n"
	       "  1. fetch REMOTE's branches into quarantine refs;\n"
	       "  2. verify every commit not seen before (signature, key "
	       "listed and not\n"
	       "     revoked in its parent's partners.yaml nor in yours, "
	       "author = signer);\n"
	       "     one bad commit stops the sync: it is named with the "
	       "reason, nothing\n"
	       "     is merged, your branch, work tree and REMOTE/<branch> "
	       "stay as they were;\n"
	       "  3. merge REMOTE's branch into yours field by field (a "
	       "fast-forward, or\n"
	       "     one signed merge commit; conflicts are recorded in the "
	       "actions, never\n"
	       "     stop the sync: see plansync conflicts);\n"
	       "  4. push, never forcing.  If REMOTE moved meanwhile, fetch "
	       "and merge again\n"
	       "     (at most %d rounds).\n"
	       "A remote branch whose history was rewritten (it no longer "
	       "contains what was\n"
	       "fetched from it before) is refused.  Working offline is "
	       "normal: when REMOTE\n"
	       "cannot be reached nothing changes, your commits stay, and the "
	       "next sync sends\n"
	       "them.  Before it starts, sync removes lock and temporary files "
	       "a killed\n"
	       "plansync left behind (never while a git process works in the "
	       "repository),\n"
	       "and finishes writing files a killed commit or merge left at "
	       "their old version.\n"
	       "A branch lock a killed push left in a hub on a disk of this "
	       "machine goes too,\n"
	       "once no process holds it and it is two seconds old (on a "
	       "network share it\n"
	       "stays: another machine may be pushing).\n"
	       "\n"
	       "Exit status: 0 in step (conflicts recorded still count as "
	       "success), 1 other\nfailure (REMOTE refused the push, edits "
	       "not committed to a file the merge\nchanges), 3 a commit failed "
	       "verification or REMOTE's history was rewritten,\n4 REMOTE "
	       "cannot be reached, 5 the repository is busy.\n",
	       SYNC_MAX_ROUNDS);
}

struct printer {
	size_t conflicts;
};

static void on_event(const struct sync_event *ev, void *ctx)
{
	struct printer *p = ctx;
	const struct syncmerge_report *m = ev->merge;
	const struct syncmerge_stats *s;
	size_t i;

	cli_transport_done(); /* end a progress line before we print */
	switch (ev->kind) {
	case SYNC_RETRY:
		printf("%s moved while we synced; fetching and merging again "
		       "(round %d)\n",
		       ev->remote, ev->round);
		break;
	case SYNC_FETCHED:
		if (!ev->tip)
			break;
		if (!ev->tip->has_old)
			printf("fetched %s/%s at %.7s\n", ev->remote,
			       ev->tip->branch, ev->tip->new_hex);
		else if (transport_tip_changed(ev->tip))
			printf("fetched %s/%s: %.7s..%.7s\n", ev->remote,
			       ev->tip->branch, ev->tip->old_hex,
			       ev->tip->new_hex);
		break;
	case SYNC_MERGED:
		s = &m->stats;
		if (m->kind == SYNCMERGE_FAST_FORWARD) {
			printf("fast-forward to %s/%s (%.7s): %zu commit%s "
			       "verified, %zu file%s updated\n",
			       ev->remote, ev->tip->branch, m->commit,
			       m->verified, m->verified == 1 ? "" : "s",
			       s->files, s->files == 1 ? "" : "s");
		} else if (m->kind == SYNCMERGE_MERGED) {
			printf("merged %s/%s (commit %.7s): %zu commit%s "
			       "verified, %zu action%s merged, %zu field%s "
			       "merged automatically, %zu conflict%s "
			       "recorded\n",
			       ev->remote, ev->tip->branch, m->commit,
			       m->verified, m->verified == 1 ? "" : "s",
			       s->actions, s->actions == 1 ? "" : "s",
			       s->fields_auto, s->fields_auto == 1 ? "" : "s",
			       s->nconflicts, s->nconflicts == 1 ? "" : "s");
			for (i = 0; i < s->nrenumbered; i++)
				printf("  renumbered %s -> %s (added on both "
				       "sides)\n",
				       s->renumbered[i].old_id,
				       s->renumbered[i].new_id);
			for (i = 0; i < s->nnotes; i++)
				printf("  conflict: %s\n", s->notes[i]);
			if (s->nconflicts > s->nnotes)
				printf("  ... and %zu more conflicts\n",
				       s->nconflicts - s->nnotes);
			p->conflicts += s->nconflicts;
		}
		break;
	case SYNC_PUSHED:
		if (ev->pushed->up_to_date)
			break;
		if (ev->pushed->had_old)
			printf("pushed to %s/%s: %.7s..%.7s\n", ev->remote,
			       ev->pushed->branch, ev->pushed->old_hex,
			       ev->pushed->new_hex);
		else
			printf("pushed to %s/%s: new branch at %.7s\n",
			       ev->remote, ev->pushed->branch,
			       ev->pushed->new_hex);
		break;
	}
}

int cmd_sync(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct transport_options to = TRANSPORT_OPTIONS_INIT;
	struct printer pr = { 0 };
	struct sync_result r;
	struct key *key = NULL;
	struct repo *repo = NULL;
	const char *remote = TRANSPORT_DEFAULT_REMOTE;
	int c, error;

	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		if (c == 'h') {
			print_help();
			return 0;
		}
		return cli_usage(
			"sync", "unknown option '%s'", argv[optind - 1]);
	}
	if (argc - optind > 1)
		return cli_usage("sync", "give at most one REMOTE");
	if (optind < argc)
		remote = argv[optind];
	if (transport_check_name(remote) < 0)
		return cli_usage("sync", "%s", error_message());
	cli_transport_options(&to);
	if ((error = cli_load_key(&key)) < 0 ||
	    (error = repo_open(&repo, ".", 1)) < 0 ||
	    (error = sync_recover(NULL, repo)) < 0)
		goto done;
	error = sync_run(&r, repo, key, remote, &to, on_event, &pr);
	cli_transport_done();
	if (error < 0)
		goto done;
	if (!r.pushed && !r.merges && !r.fast_forwards)
		printf("%s: up to date (HEAD %.7s)\n", remote, r.head);
	else
		printf("in step with %s at %.7s\n", remote, r.head);
	if (pr.conflicts)
		printf("%zu conflict%s recorded: the value changed last was "
		       "kept and the other saved;\nsee 'plansync conflicts', "
		       "and 'plansync resolve ID FIELD --keep|--other|--value "
		       "V'.\n",
		       pr.conflicts, pr.conflicts == 1 ? "" : "s");
done:
	repo_free(repo);
	key_free(key);
	return error;
}
