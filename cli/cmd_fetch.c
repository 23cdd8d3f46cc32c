/*
 * plansync fetch [REMOTE]: download, verify, then record the remote's
 * branches.  Also home of the transfer progress printer push uses.
 */
#include "cmd.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sync/repo.h"
#include "sync/transport.h"
#include "sync/verify.h"

static void print_help(void)
{
	printf("usage: plansync fetch [REMOTE]\n"
	       "\n"
	       "Download REMOTE's branches (default origin) and check every new "
	       "commit's\nsignature and trust (as `plansync verify` does, also "
	       "refusing keys that the\nlocal partners.yaml revokes) before "
	       "recording them as REMOTE/<branch>.  The\nlocal branch and the "
	       "work tree are not touched; `plansync sync` merges.\n"
	       "\n"
	       "Fetched commits wait in refs/plansync/incoming/REMOTE/ until "
	       "they verify.  A\nremote branch that no longer contains what was "
	       "fetched from it before (its\nhistory was rewritten) is refused.  "
	       "Progress goes to stderr when it is a\nterminal.\n"
	       "\n"
	       "Exit status: 0 fetched (or up to date), 3 a commit failed "
	       "verification or\nthe remote's history was rewritten (nothing "
	       "recorded), 4 the remote cannot\nbe reached (nothing changed), "
	       "5 the repository is busy.\n");
}

/* Progress on stderr, one line rewritten in place per phase. */
struct progress_state {
	int phase, pct;
};

static void print_progress(const struct transport_progress *p, void *ctx)
{
	struct progress_state *st = ctx;
	char line[512];
	int pct = transport_progress_line(line, sizeof(line), p);

	if (p->phase == TRANSPORT_REMOTE) {
		if (st->phase >= 0)
			fputc('\n', stderr);
		st->phase = -1;
		fputs(line, stderr);
		return;
	}
	if (p->total == 0)
		return; /* nothing counted yet */
	if ((int)p->phase == st->phase && pct == st->pct && p->done != p->total)
		return;
	if (st->phase >= 0 && (int)p->phase != st->phase)
		fputc('\n', stderr);
	fprintf(stderr, "\r%-60s", line);
	st->phase = (int)p->phase;
	st->pct = pct;
}

/*
 * Transfer options for fetch, push and sync: progress on stderr when it is
 * a terminal, git's credential prompt when a person is there.  Call
 * cli_transport_done() after the transfer to end the progress line.
 * (Declared here and in the commands that use them; one transfer runs at
 * a time.)
 */
void cli_transport_options(struct transport_options *o);
void cli_transport_done(void);

static struct progress_state progress;

void cli_transport_options(struct transport_options *o)
{
	progress.phase = -1;
	progress.pct = -1;
	o->progress = isatty(STDERR_FILENO) ? print_progress : NULL;
	o->progress_ctx = &progress;
	o->interactive = isatty(STDIN_FILENO) && isatty(STDERR_FILENO);
}

void cli_transport_done(void)
{
	if (progress.phase >= 0)
		fputc('\n', stderr);
	progress.phase = -1;
}

/* Verify every changed tip; ERROR_VERIFY names the branch and commit. */
static int verify_tips(
	struct repo *repo,
	const struct transport_fetch *f,
	const char *remote)
{
	git_repository *git = repo_git(repo);
	struct verify_options vo = VERIFY_OPTIONS_INIT;
	struct verify_partners *partners = NULL;
	struct verify_cache *cache = NULL;
	unsigned char(*revoked)[KEY_PUBLIC_BYTES] = NULL;
	struct repo_head head;
	const struct transport_tip *t;
	git_oid hide[2], head_id;
	size_t nrevoked = 0, nhide, i;
	char why[1024];
	int has_head = 0, error;

	if ((error = repo_head(&head, repo)) < 0)
		goto done;
	if (!head.unborn && head.id[0] &&
	    git_oid_fromstr(&head_id, head.id) == 0)
		has_head = 1;
	if (has_head) {
		error = verify_partners_at(&partners, git, &head_id);
		if (error == ERROR_NOTFOUND) {
			error_clear();
		} else if (error < 0) {
			goto done;
		} else if (
			(error = verify_revoked_keys(
				 &revoked, &nrevoked, partners)) < 0) {
			goto done;
		}
		error = 0;
	}
	vo.revoked = (const unsigned char(*)[KEY_PUBLIC_BYTES])revoked;
	vo.nrevoked = nrevoked;
	if ((error = verify_cache_new(&cache)) < 0)
		goto done;
	for (i = 0; i < transport_fetch_count(f); i++) {
		t = transport_fetch_tip(f, i);
		if (!transport_tip_changed(t))
			continue;
		nhide = 0;
		if (t->has_old)
			hide[nhide++] = t->old_id;
		if (has_head)
			hide[nhide++] = head_id;
		error = verify_range(
			git, &t->new_id, 1, hide, nhide, &vo, cache, NULL,
			NULL);
		if (error < 0) {
			snprintf(why, sizeof(why), "%s", error_message());
			error = error_set(
				error, "refusing %s/%s: %s", remote, t->branch,
				why);
			goto done;
		}
	}
done:
	verify_cache_free(cache);
	free(revoked);
	verify_partners_free(partners);
	return error;
}

int cmd_fetch(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct transport_options to = TRANSPORT_OPTIONS_INIT;
	struct repo *repo = NULL;
	struct transport_fetch *f = NULL;
	const struct transport_tip *t;
	const char *remote = TRANSPORT_DEFAULT_REMOTE;
	size_t i, changed = 0;
	int c, error;

	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		if (c == 'h') {
			print_help();
			return 0;
		}
		return cli_usage(
			"fetch", "unknown option '%s'", argv[optind - 1]);
	}
	if (argc - optind > 1)
		return cli_usage("fetch", "give at most one REMOTE");
	if (optind < argc)
		remote = argv[optind];
	if (transport_check_name(remote) < 0)
		return cli_usage("fetch", "%s", error_message());
	cli_transport_options(&to);
	if ((error = repo_open(&repo, ".", 1)) < 0)
		goto done;
	error = transport_fetch(&f, repo_git(repo), remote, &to);
	cli_transport_done();
	if (error < 0)
		goto done;
	if ((error = verify_tips(repo, f, remote)) < 0)
		goto done;
	for (i = 0; i < transport_fetch_count(f); i++) {
		t = transport_fetch_tip(f, i);
		if (!transport_tip_changed(t))
			continue;
		if ((error = transport_promote(repo_git(repo), remote, t)) < 0)
			goto done;
		changed++;
		if (t->has_old)
			printf("%s/%s: %.7s..%.7s\n", remote, t->branch,
			       t->old_hex, t->new_hex);
		else
			printf("%s/%s: new branch at %.7s\n", remote, t->branch,
			       t->new_hex);
	}
	if (!changed)
		printf("%s: up to date\n", remote);
done:
	transport_fetch_free(f);
	repo_free(repo);
	return error;
}
