/*
 * cli/cmd_init.c: `plansync init DIR --plan PLANDIR`.
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include "cmd.h"

#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/doc.h"
#include "core/key.h"
#include "core/plan.h"
#include "sync/commit.h"
#include "sync/repo.h"

static void print_help(void)
{
	printf("usage: plansync init DIR --plan PLANDIR\n"
	       "\n"
	       "Create a plan repository in DIR (new, or an empty folder) "
	       "holding the plan\n"
	       "in PLANDIR (plan.yaml and actions/P<n>/P<n>-A<m>.yaml) in "
	       "canonical form,\n"
	       "with one signed root commit by your key.\n"
	       "\n"
	       "  DIR            the repository to create\n"
	       "  --plan PLANDIR the plan folder to start from (validated "
	       "first)\n"
	       "\n"
	       "The repository holds:\n"
	       "  partners.yaml  PLANDIR's partners.yaml, or a new one; you "
	       "are listed as a\n"
	       "                 coordinator (refused if PLANDIR lists your "
	       "email otherwise;\n"
	       "                 your key's organisation, else your email's "
	       "domain)\n"
	       "  .gitattributes *.yaml merge=plansync\n"
	       "  .git/config    gpg.format=ssh, gpg.ssh.allowedSignersFile = "
	       ".git/" REPO_SIGNERS_FILE ",\n"
	       "                 merge.plansync.driver = '<this plansync> "
	       "merge-driver %%O %%A %%B %%P'\n"
	       "                 so that git verify-commit, git log "
	       "--show-signature and\n"
	       "                 git merge work with stock git\n"
	       "  .git/hooks     post-checkout, post-commit, post-merge, "
	       "post-rewrite: run\n"
	       "                 'plansync hook' to regenerate allowed_signers "
	       "from partners.yaml\n"
	       "                 whenever git moves HEAD (plansync's own "
	       "commits do it directly).\n"
	       "                 Hooks and the merge driver call this plansync "
	       "binary by its\n"
	       "                 absolute path, falling back to 'plansync' on "
	       "PATH.\n");
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

/* Undo a failed init: remove what we created under dir. */
static void remove_tree(const char *dir, int existed)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	if (existed)
		mkdir(dir, 0777);
}

static struct doc_node *partner_entry(const struct key *key)
{
	struct doc_node *m = doc_new_map();
	char line[KEY_LINE_MAX];
	const char *org = key_org(key), *at = strchr(key_email(key), '@');

	/* A key made without --org: the email's domain stands in. */
	if (!*org)
		org = at && at[1] ? at + 1 : key_email(key);

	if (!m)
		return NULL;
	if (key_public_line(
		    line, sizeof(line), key_public(key), key_email(key)) < 0 ||
	    doc_map_set(m, "email", doc_new_scalar(key_email(key))) < 0 ||
	    doc_map_set(m, "name", doc_new_scalar(key_name(key))) < 0 ||
	    doc_map_set(m, "organisation", doc_new_scalar(org)) < 0 ||
	    doc_map_set(m, "role", doc_new_scalar("coordinator")) < 0 ||
	    doc_map_set(m, "key", doc_new_scalar(line)) < 0 ||
	    doc_map_set(m, "revoked", doc_new_plain("false")) < 0) {
		doc_free(m);
		return NULL;
	}
	return m;
}

/* partners.yaml for the new repository, the signer a coordinator in it. */
static int make_partners(
	struct doc_node **out,
	const struct plan *plan,
	const char *plandir,
	const struct key *key)
{
	const struct doc_node *given = plan_partners(plan);
	struct doc_node *doc = NULL, *seq;
	struct plan_partner p;
	unsigned char pk[KEY_PUBLIC_BYTES];
	int error;

	if (given) {
		if (!(doc = doc_clone(given))) {
			error = error_nomem();
			goto done;
		}
	} else if (
		!(doc = doc_new_map()) ||
		doc_map_set(doc, "partners", doc_new_seq()) < 0) {
		error = error_nomem();
		goto done;
	}
	if (plan_partner_by_email(&p, doc, key_email(key)) == 0) {
		if (!p.key || key_parse_public_line(pk, p.key) < 0 ||
		    memcmp(pk, key_public(key), KEY_PUBLIC_BYTES) != 0 ||
		    !p.coordinator || p.revoked) {
			error = error_set(
				ERROR_VERIFY,
				"%s/partners.yaml lists '%s' with another key, "
				"role or revoked; the first signer must be a "
				"coordinator there with your key",
				plandir, key_email(key));
			goto done;
		}
	} else {
		error_clear();
		seq = doc_map_get(doc, "partners");
		if (!seq || seq->kind != DOC_SEQ) {
			error = error_set(
				ERROR_INVALID,
				"%s/partners.yaml has no partners "
				"list",
				plandir);
			goto done;
		}
		if (doc_seq_append(seq, partner_entry(key)) < 0) {
			error = error_nomem();
			goto done;
		}
	}
	if ((error = plan_check(doc, PLAN_FILE_PARTNERS, "partners.yaml")) < 0)
		goto done;
	*out = doc;
	doc = NULL;
done:
	doc_free(doc);
	return error;
}

struct files {
	struct commit_file *v;
	char **bufs, **paths;
	size_t n, cap;
};

static void files_release(struct files *f)
{
	size_t i;

	for (i = 0; i < f->n; i++) {
		free(f->bufs[i]);
		free(f->paths[i]);
	}
	free(f->v);
	free(f->bufs);
	free(f->paths);
}

/* Add path with doc's canonical text (or raw text when doc is NULL). */
static int files_add(
	struct files *f,
	const char *path,
	const struct doc_node *doc,
	const char *raw)
{
	char *text = NULL, *p = NULL;
	size_t len, cap;
	int error;

	if (f->n == f->cap) {
		cap = f->cap ? f->cap * 2 : 64;
		void *a = realloc(f->v, cap * sizeof(*f->v));
		if (a)
			f->v = a;
		void *b = realloc(f->bufs, cap * sizeof(*f->bufs));
		if (b)
			f->bufs = b;
		void *c = realloc(f->paths, cap * sizeof(*f->paths));
		if (c)
			f->paths = c;
		if (!a || !b || !c)
			return error_nomem();
		f->cap = cap;
	}
	if (doc) {
		if ((error = doc_emit(&text, &len, doc)) < 0)
			return error;
	} else {
		len = strlen(raw);
		if (!(text = malloc(len + 1)))
			return error_nomem();
		memcpy(text, raw, len + 1);
	}
	if (!(p = malloc(strlen(path) + 1))) {
		free(text);
		return error_nomem();
	}
	memcpy(p, path, strlen(path) + 1);
	f->bufs[f->n] = text;
	f->paths[f->n] = p;
	f->v[f->n].path = p;
	f->v[f->n].buf = text;
	f->v[f->n].len = len;
	f->n++;
	return 0;
}

int cmd_init(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "plan", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct key *key = NULL;
	struct plan *plan = NULL;
	struct doc_node *partners = NULL;
	struct repo *repo = NULL;
	struct files files = { NULL, NULL, NULL, 0, 0 };
	const struct doc_node *action, *title;
	const char *plandir = NULL, *dir;
	char path[256], exe[4096], msg[1024], id[41];
	struct stat st;
	ssize_t exe_len;
	size_t i, count;
	int c, error, existed = 0, created = 0;

	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			plandir = optarg;
			break;
		case 'h':
			print_help();
			return 0;
		case ':':
			return cli_usage(
				"init", "'%s' needs a value", argv[optind - 1]);
		default:
			return cli_usage(
				"init", "unknown option '%s'",
				argv[optind - 1]);
		}
	}
	if (optind + 1 != argc)
		return cli_usage("init", "give one DIR to create");
	dir = argv[optind];
	if (!plandir)
		return cli_usage("init", "--plan PLANDIR is required");

	/* Everything is checked before DIR is touched. */
	if (lstat(dir, &st) == 0)
		existed = 1;
	if ((error = plan_load_dir(&plan, plandir)) < 0 ||
	    (error = cli_load_key(&key)) < 0 ||
	    (error = make_partners(&partners, plan, plandir, key)) < 0)
		goto done;
	if ((error = files_add(
		     &files, ".gitattributes", NULL, REPO_GITATTRIBUTES)) < 0 ||
	    (error = files_add(&files, "plan.yaml", plan_meta(plan), NULL)) <
		    0 ||
	    (error = files_add(&files, "partners.yaml", partners, NULL)) < 0)
		goto done;
	count = plan_action_count(plan);
	for (i = 0; i < count; i++) {
		action = plan_action_at(plan, i);
		if ((error = plan_action_path(
			     path, sizeof(path),
			     doc_str(doc_map_get(action, "id")))) < 0 ||
		    (error = files_add(&files, path, action, NULL)) < 0)
			goto done;
	}
	title = doc_map_get(plan_meta(plan), "title");
	snprintf(
		msg, sizeof(msg),
		"init: %s\n\n%zu actions; %s <%s> is the first coordinator.",
		doc_str(title) ? doc_str(title) : "plan", count, key_name(key),
		key_email(key));

	if ((error = repo_create(&repo, dir)) < 0)
		goto done;
	created = 1;
	exe_len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[exe_len > 0 ? exe_len : 0] = '\0';
	if ((error = repo_configure(repo, exe)) < 0 ||
	    (error = commit_files(id, repo, key, files.v, files.n, msg)) < 0)
		goto done;
	printf("initialised plan repository '%s': %zu actions, commit %.12s "
	       "signed by %s <%s>\n",
	       dir, count, id, key_name(key), key_email(key));
done:
	repo_free(repo);
	if (error < 0 && created)
		remove_tree(dir, existed);
	files_release(&files);
	doc_free(partners);
	plan_free(plan);
	key_free(key);
	return error;
}
