/*
 * bench/sync_gen: add N signed commits to a plan repository, fast.
 *
 *     sync_gen REPO N
 *
 * Extends the branch HEAD names in REPO by N commits, each changing the
 * timescale line of one action file (each actions/P<k>/ file in turn, but
 * none in the last priority folder, left for the caller's edits) and
 * signed the way plansync signs (core/sshsig, namespace git) with the key
 * in $PLANSYNC_HOME, author = the key's name and email.  Objects are built
 * in memory and written as one pack; only the branch ref moves (the work
 * tree is not touched), so push it with `plansync push` or `git push`.
 * For bench/sync_bench.sh: spawning git or plansync per commit costs ~0.15
 * s each on slow machines, this takes a second for thousands.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <git2.h>
#include <git2/sys/mempack.h>
#include <git2/sys/odb_backend.h>
#include <sodium.h>

#include "core/error.h"
#include "core/key.h"
#include "core/sshsig.h"

#define MAXFILES 4096

static int fail(const char *what)
{
	const git_error *e = git_error_last();

	fprintf(stderr, "sync_gen: %s: %s\n", what,
		*error_message() ? error_message() :
		e && e->message  ? e->message :
				   "failed");
	return 1;
}

struct file {
	char dir[16]; /* "P1" */
	char name[64]; /* "P1-A1.yaml" */
	git_oid blob;
};

/* A signed commit object. */
static int write_commit(
	git_oid *out,
	git_odb *odb,
	const struct key *key,
	const git_oid *tree,
	const git_oid *parent,
	long long t,
	const char *msg)
{
	char head[1024], thex[GIT_OID_HEXSZ + 1], phex[GIT_OID_HEXSZ + 1];
	char *payload = NULL, *armor = NULL, *raw = NULL;
	size_t hl, ml = strlen(msg), al, rl, i;
	int n, error = -1;

	git_oid_tostr(thex, sizeof(thex), tree);
	git_oid_tostr(phex, sizeof(phex), parent);
	n = snprintf(
		head, sizeof(head),
		"tree %s\nparent %s\nauthor %s <%s> %lld +0000\n"
		"committer %s <%s> %lld +0000\n",
		thex, phex, key_name(key), key_email(key), t, key_name(key),
		key_email(key), t);
	if (n < 0 || (size_t)n >= sizeof(head))
		goto done;
	hl = (size_t)n;
	if (!(payload = malloc(hl + 1 + ml)))
		goto done;
	memcpy(payload, head, hl);
	payload[hl] = '\n';
	memcpy(payload + hl + 1, msg, ml);
	if (sshsig_sign(&armor, key, payload, hl + 1 + ml) < 0)
		goto done;
	al = strlen(armor);
	if (!(raw = malloc(hl + 7 + al * 2 + 2 + 1 + ml)))
		goto done;
	memcpy(raw, head, hl);
	rl = hl;
	memcpy(raw + rl, "gpgsig ", 7);
	rl += 7;
	for (i = 0; i < al; i++) {
		if (armor[i] == '\n' && i + 1 == al)
			break;
		raw[rl++] = armor[i];
		if (armor[i] == '\n')
			raw[rl++] = ' ';
	}
	raw[rl++] = '\n';
	raw[rl++] = '\n';
	memcpy(raw + rl, msg, ml);
	rl += ml;
	error = git_odb_write(out, odb, raw, rl, GIT_OBJECT_COMMIT);
done:
	free(payload);
	free(armor);
	free(raw);
	return error;
}

/* Replace the "timescale: ..." line of blob id with "timescale: Step i". */
static int new_blob(
	git_oid *out,
	git_repository *repo,
	git_odb *odb,
	const git_oid *id,
	long step)
{
	git_blob *b = NULL;
	const char *s, *ts, *eol;
	char *buf = NULL;
	size_t len, n;
	int error = -1;

	if (git_blob_lookup(&b, repo, id) < 0)
		return -1;
	s = git_blob_rawcontent(b);
	len = (size_t)git_blob_rawsize(b);
	if (!(ts = strstr(s, "\ntimescale: ")) ||
	    !(eol = memchr(ts + 1, '\n', len - (size_t)(ts + 1 - s))))
		goto done;
	if (!(buf = malloc(len + 64)))
		goto done;
	n = (size_t)(ts + 1 - s);
	memcpy(buf, s, n);
	n += (size_t)snprintf(buf + n, 64, "timescale: Step %ld", step);
	memcpy(buf + n, eol, len - (size_t)(eol - s));
	n += len - (size_t)(eol - s);
	error = git_odb_write(out, odb, buf, n, GIT_OBJECT_BLOB);
done:
	free(buf);
	git_blob_free(b);
	return error;
}

int main(int argc, char **argv)
{
	git_repository *repo = NULL;
	git_odb *odb = NULL;
	git_odb_backend *mem = NULL;
	git_odb_writepack *wp = NULL;
	git_indexer_progress stats;
	git_buf pack = { 0 };
	git_reference *head = NULL, *ref = NULL;
	git_commit *c = NULL;
	git_tree *root = NULL, *actions = NULL, *sub = NULL;
	git_treebuilder *tb = NULL;
	struct key *key = NULL;
	static struct file files[MAXFILES];
	git_oid tip, tree_id, sub_id, act_id, root_id;
	char home[4096], msg[256];
	size_t nfiles = 0, i, j;
	long n, k;
	long long t = (long long)time(NULL);

	if (argc != 3 || (n = strtol(argv[2], NULL, 10)) < 1) {
		fprintf(stderr, "usage: sync_gen REPO N\n");
		return 2;
	}
	if (sodium_init() < 0)
		return 1;
	git_libgit2_init();
	if (key_home(home, sizeof(home)) < 0 ||
	    key_load(&key, home, NULL, NULL) < 0)
		return fail("key");
	if (git_repository_open(&repo, argv[1]) < 0 ||
	    git_repository_head(&head, repo) < 0 ||
	    git_repository_odb(&odb, repo) < 0 || git_mempack_new(&mem) < 0 ||
	    git_odb_add_backend(odb, mem, 999) < 0)
		return fail("repository");
	tip = *git_reference_target(head);
	if (git_commit_lookup(&c, repo, &tip) < 0 ||
	    git_commit_tree(&root, c) < 0)
		return fail("HEAD");
	{
		const git_tree_entry *e =
			git_tree_entry_byname(root, "actions");

		if (!e ||
		    git_tree_lookup(&actions, repo, git_tree_entry_id(e)) < 0)
			return fail("actions/");
	}
	/* The last priority folder is left for the caller's own edits. */
	for (i = 0; i + 1 < git_tree_entrycount(actions); i++) {
		const git_tree_entry *pe = git_tree_entry_byindex(actions, i);

		if (git_tree_lookup(&sub, repo, git_tree_entry_id(pe)) < 0)
			return fail("priority folder");
		for (j = 0; j < git_tree_entrycount(sub) && nfiles < MAXFILES;
		     j++) {
			const git_tree_entry *fe =
				git_tree_entry_byindex(sub, j);

			snprintf(
				files[nfiles].dir, sizeof(files[nfiles].dir),
				"%s", git_tree_entry_name(pe));
			snprintf(
				files[nfiles].name, sizeof(files[nfiles].name),
				"%s", git_tree_entry_name(fe));
			files[nfiles].blob = *git_tree_entry_id(fe);
			nfiles++;
		}
		git_tree_free(sub);
		sub = NULL;
	}
	if (!nfiles)
		return fail("no action files");
	for (k = 1; k <= n; k++) {
		struct file *f = &files[(size_t)k % nfiles];
		git_oid blob;

		if (new_blob(&blob, repo, odb, &f->blob, k) < 0)
			return fail("blob");
		f->blob = blob;
		/* actions/<dir>/<name> <- blob, then up to the root */
		{
			const git_tree_entry *pe =
				git_tree_entry_byname(actions, f->dir);

			if (!pe ||
			    git_tree_lookup(&sub, repo, git_tree_entry_id(pe)) <
				    0 ||
			    git_treebuilder_new(&tb, repo, sub) < 0 ||
			    git_treebuilder_insert(
				    NULL, tb, f->name, &blob,
				    GIT_FILEMODE_BLOB) < 0 ||
			    git_treebuilder_write(&sub_id, tb) < 0)
				return fail("tree");
			git_treebuilder_free(tb);
			git_tree_free(sub);
			sub = NULL;
			if (git_treebuilder_new(&tb, repo, actions) < 0 ||
			    git_treebuilder_insert(
				    NULL, tb, f->dir, &sub_id,
				    GIT_FILEMODE_TREE) < 0 ||
			    git_treebuilder_write(&act_id, tb) < 0)
				return fail("tree");
			git_treebuilder_free(tb);
			if (git_treebuilder_new(&tb, repo, root) < 0 ||
			    git_treebuilder_insert(
				    NULL, tb, "actions", &act_id,
				    GIT_FILEMODE_TREE) < 0 ||
			    git_treebuilder_write(&root_id, tb) < 0)
				return fail("tree");
			git_treebuilder_free(tb);
			tb = NULL;
			git_tree_free(actions);
			git_tree_free(root);
			if (git_tree_lookup(&actions, repo, &act_id) < 0 ||
			    git_tree_lookup(&root, repo, &root_id) < 0)
				return fail("tree");
		}
		tree_id = root_id;
		snprintf(
			msg, sizeof(msg), "%.*s: timescale -> Step %ld\n",
			(int)(strlen(f->name) - 5), f->name, k);
		if (write_commit(&tip, odb, key, &tree_id, &tip, t, msg) < 0)
			return fail("commit");
	}
	if (git_mempack_dump(&pack, repo, mem) < 0 ||
	    git_odb_write_pack(&wp, odb, NULL, NULL) < 0 ||
	    wp->append(wp, pack.ptr, pack.size, &stats) < 0 ||
	    wp->commit(wp, &stats) < 0 || git_mempack_reset(mem) < 0)
		return fail("pack");
	if (git_reference_create(
		    &ref, repo, git_reference_name(head), &tip, 1, "sync_gen") <
	    0)
		return fail("ref");
	printf("%s\n", git_oid_tostr_s(&tip));
	wp->free(wp);
	git_buf_dispose(&pack);
	git_reference_free(ref);
	git_reference_free(head);
	git_commit_free(c);
	git_tree_free(root);
	git_tree_free(actions);
	git_odb_free(odb);
	git_repository_free(repo);
	key_free(key);
	return 0;
}
