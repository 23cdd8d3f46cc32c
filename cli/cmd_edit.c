/*
 * cli/cmd_edit.c: `plansync edit ID`, $EDITOR on a copy, validated, signed.
 */
#include "cmd.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/doc.h"
#include "core/fsutil.h"
#include "core/key.h"
#include "core/plan.h"
#include "sync/commit.h"
#include "sync/edit.h"
#include "sync/repo.h"

static void print_help(void)
{
	printf("usage: plansync edit ID\n"
	       "\n"
	       "Open action ID (as committed at HEAD) in $VISUAL, else "
	       "$EDITOR, else vi,\n"
	       "on a copy under .git/plansync/.  When the editor exits the "
	       "copy is\n"
	       "validated: if valid it is written back canonically and "
	       "signed in one commit\n"
	       "whose message lists the fields changed.  If invalid, the "
	       "reason is shown and,\n"
	       "on a terminal, you are asked whether to edit again; with no "
	       "terminal nothing\n"
	       "changes and the exit status is 1.  The repository is not "
	       "locked while you\n"
	       "edit; if someone commits a change to the same action "
	       "meanwhile, your copy is\n"
	       "kept and its path printed.\n");
}

/* Run the editor on path through /bin/sh, as git does. */
static int run_editor(const char *path)
{
	const char *ed = getenv("VISUAL");
	char script[4200];
	pid_t pid;
	int status;

	if (!ed || !*ed)
		ed = getenv("EDITOR");
	if (!ed || !*ed)
		ed = "vi";
	if ((size_t)snprintf(script, sizeof(script), "%s \"$1\"", ed) >=
	    sizeof(script))
		return error_set(ERROR_GENERIC, "editor command too long");
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return error_set(
			ERROR_GENERIC, "cannot start the editor: %s",
			strerror(errno));
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", script, "sh", path, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return error_set(
				ERROR_GENERIC, "cannot wait for the editor: %s",
				strerror(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return error_set(
			ERROR_GENERIC,
			"editor '%s' failed (exit %d); nothing "
			"changed",
			ed, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return 0;
}

/* On a terminal, ask whether to edit again; 1 for yes. */
static int ask_again(void)
{
	char line[64];

	fprintf(stderr, "edit again? [Y/n] ");
	fflush(stderr);
	if (!fgets(line, sizeof(line), stdin))
		return 0;
	return line[0] == '\n' || line[0] == 'y' || line[0] == 'Y';
}

int cmd_edit(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct key *key = NULL;
	struct repo *repo = NULL;
	struct doc_node *before = NULL, *after = NULL;
	const char *id;
	char path[256], tmp[4096], cid[41];
	char *orig = NULL, *now = NULL, *edited = NULL, *msg = NULL;
	size_t orig_len, now_len, edited_len;
	int c, fd = -1, error, keep_tmp = 0;

	tmp[0] = '\0';
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			print_help();
			return 0;
		}
		return cli_usage(
			"edit", "unknown option '%s'", argv[optind - 1]);
	}
	if (argc - optind != 1)
		return cli_usage("edit", "give one action ID");
	id = argv[optind];
	if (!plan_action_id_valid(id))
		return cli_usage(
			"edit", "'%s' is not an action ID (P<n>-A<m>)", id);
	if ((error = plan_action_path(path, sizeof(path), id)) < 0)
		return error;

	/* Check all we can before the editor opens. */
	if ((error = cli_load_key(&key)) < 0 ||
	    (error = repo_open(&repo, ".", 0)) < 0 ||
	    (error = commit_check_signer(repo, key, 0)) < 0 ||
	    (error = edit_load_action(&before, repo, id)) < 0 ||
	    (error = repo_check_unedited(repo, path)) < 0 ||
	    (error = repo_read_head(
		     &orig, &orig_len, repo, path, DOC_MAX_FILE)) < 0)
		goto done;
	if ((error = repo_git_path(tmp, sizeof(tmp), repo, "plansync")) < 0 ||
	    (error = fsutil_mkdirs(tmp)) < 0)
		goto done;
	snprintf(
		tmp + strlen(tmp), sizeof(tmp) - strlen(tmp),
		"/edit-%s-XXXXXX.yaml", id);
	if ((fd = mkstemps(tmp, 5)) < 0) {
		error = error_set(
			ERROR_GENERIC, "cannot create '%s': %s", tmp,
			strerror(errno));
		tmp[0] = '\0';
		goto done;
	}
	if (write(fd, orig, orig_len) != (ssize_t)orig_len || close(fd) < 0) {
		fd = -1;
		error = error_set(
			ERROR_GENERIC, "cannot write '%s': %s", tmp,
			strerror(errno));
		goto done;
	}
	fd = -1;

	for (;;) {
		if ((error = run_editor(tmp)) < 0)
			goto done;
		free(edited);
		edited = NULL;
		doc_free(after);
		after = NULL;
		if ((error = fsutil_read_file(
			     &edited, &edited_len, tmp, DOC_MAX_FILE)) < 0)
			goto done;
		if (edited_len == orig_len &&
		    memcmp(edited, orig, orig_len) == 0) {
			printf("%s: no changes\n", id);
			goto done;
		}
		error = plan_parse(
			&after, PLAN_FILE_ACTION, path, edited, edited_len);
		if (error == 0)
			break;
		if (!isatty(STDIN_FILENO)) {
			char why[768];

			/* No one to ask: the reason is the one line shown. */
			snprintf(why, sizeof(why), "%s", error_message());
			error = error_set(error, "%s; nothing changed", why);
			goto done;
		}
		fprintf(stderr, "plansync: %s\n", error_message());
		if (!ask_again()) {
			error = error_set(
				error, "%s: edit abandoned; nothing changed",
				id);
			goto done;
		}
	}
	error = edit_describe(&msg, id, before, after);
	if (error == ERROR_NOTFOUND) {
		error_clear();
		error = 0;
		printf("%s: only formatting changed; nothing to commit\n", id);
		goto done;
	} else if (error < 0) {
		goto done;
	}

	/* Now lock, and make sure nobody changed the action meanwhile. */
	repo_free(repo);
	repo = NULL;
	if ((error = repo_open(&repo, ".", 1)) < 0)
		goto done;
	if ((error = repo_read_head(&now, &now_len, repo, path, DOC_MAX_FILE)) <
		    0 ||
	    now_len != orig_len || memcmp(now, orig, orig_len) != 0) {
		keep_tmp = 1;
		error = error_set(
			ERROR_CONFLICT,
			"%s changed at HEAD while you edited it; "
			"your version is kept in '%s'",
			id, tmp);
		goto done;
	}
	if ((error = repo_check_unedited(repo, path)) < 0 ||
	    (error = edit_commit_doc(cid, repo, key, path, after, msg)) < 0) {
		/* Do not lose the person's work: say where it is. */
		keep_tmp = 1;
		fprintf(stderr, "plansync: your edited copy is kept in '%s'\n",
			tmp);
		goto done;
	}
	printf("%s (commit %.12s)\n", msg, cid);
done:
	if (fd >= 0)
		close(fd);
	if (tmp[0] && !keep_tmp)
		unlink(tmp);
	free(orig);
	free(now);
	free(edited);
	free(msg);
	doc_free(before);
	doc_free(after);
	repo_free(repo);
	key_free(key);
	return error;
}
