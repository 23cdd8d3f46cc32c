/*
 * tests/test_gitindex.c: sync/gitindex against libgit2 and stock git on
 * throwaway repositories: the index it writes is byte for byte the one
 * libgit2 writes for the same change, `git status` is clean after it, and
 * every index it does not handle (damaged, locked, conflicted, a split
 * index) is left exactly as it was; gitindex_recover finishes an index a
 * killed update left and never touches git's own lock.  Plus core/sha1
 * against its standard vectors and sha1sum, in both implementations.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>

#include "core/error.h"
#include "helper_shell.h"
#include "core/fsutil.h"
#include "core/sha1.h"
#include "sync/gitindex.h"

struct fx {
	char dir[256], work[300], workdir[310], gitdir[320], index[340];
};

static void write_file(const struct fx *fx, const char *rel, const char *text)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", fx->work, rel);
	assert_int_equal(
		fsutil_write_atomic(path, text, strlen(text), 0644), 0);
}

static char *read_index(const struct fx *fx, size_t *len)
{
	char *buf = NULL;

	assert_int_equal(fsutil_read_file(&buf, len, fx->index, 1 << 26), 0);
	return buf;
}

/*
 * A repository of n action files under actions/P1 .. P3, committed by
 * stock git (so its index has a TREE extension), then with the index
 * rewritten by libgit2 (no extension), as plansync's repositories have.
 */
static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	char rel[64], text[128];
	int i;

	snprintf(
		fx->dir, sizeof(fx->dir), "%s/plansync-gitindex.XXXXXX",
		getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(fx->dir))
		return -1;
	snprintf(fx->work, sizeof(fx->work), "%s/repo", fx->dir);
	snprintf(fx->workdir, sizeof(fx->workdir), "%s/", fx->work);
	snprintf(fx->gitdir, sizeof(fx->gitdir), "%s/.git/", fx->work);
	snprintf(fx->index, sizeof(fx->index), "%sindex", fx->gitdir);
	if (helper_run("git init -q '%s'", fx->work) != 0)
		return -1;
	for (i = 1; i <= 60; i++) {
		snprintf(
			rel, sizeof(rel), "actions/P%d/P%d-A%d.yaml", i % 3 + 1,
			i % 3 + 1, i);
		snprintf(
			text, sizeof(text), "id: P%d-A%d\nstatus: planned\n",
			i % 3 + 1, i);
		snprintf(
			text, sizeof(text), "id: P%d-A%d\nstatus: planned\n",
			i % 3 + 1, i);
		{
			char path[512], *slash;

			snprintf(path, sizeof(path), "%s/%s", fx->work, rel);
			slash = strrchr(path, '/');
			*slash = '\0';
			if (fsutil_mkdirs(path) < 0)
				return -1;
		}
		write_file(fx, rel, text);
	}
	write_file(fx, "plan.yaml", "schema: plansync/1\n");
	if (helper_run(
		    "cd '%s' && git add -A && git -c user.name=T "
		    "-c user.email=t@x.example commit -qm init",
		    fx->work) != 0)
		return -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	helper_run("rm -rf '%s'", fx->dir);
	free(fx);
	return 0;
}

/* libgit2's own update of the same paths, for comparison. */
static void libgit2_update(
	const struct fx *fx,
	const char **paths,
	const int *remove,
	size_t n)
{
	git_repository *repo = NULL;
	git_index *index = NULL;
	size_t i;

	assert_int_equal(git_repository_open(&repo, fx->work), 0);
	assert_int_equal(git_repository_index(&index, repo), 0);
	for (i = 0; i < n; i++)
		assert_int_equal(
			remove[i] ? git_index_remove_bypath(index, paths[i]) :
				    git_index_add_bypath(index, paths[i]),
			0);
	assert_int_equal(git_index_write(index), 0);
	git_index_free(index);
	git_repository_free(repo);
}

/* The blob of a work-tree file, written to the repository's objects. */
static void blob_id(unsigned char *out, const struct fx *fx, const char *rel)
{
	git_repository *repo = NULL;
	git_odb *odb = NULL;
	char path[512], *buf = NULL;
	size_t len;
	git_oid oid;

	snprintf(path, sizeof(path), "%s/%s", fx->work, rel);
	assert_int_equal(fsutil_read_file(&buf, &len, path, 1 << 20), 0);
	assert_int_equal(git_repository_open(&repo, fx->work), 0);
	assert_int_equal(git_repository_odb(&odb, repo), 0);
	assert_int_equal(
		git_odb_write(&oid, odb, buf, len, GIT_OBJECT_BLOB), 0);
	memcpy(out, oid.id, GITINDEX_OID_LEN);
	git_odb_free(odb);
	git_repository_free(repo);
	free(buf);
}

/*
 * An index libgit2 made from the work tree (which matches HEAD), with no
 * extension: what plansync's repositories have (stock git's carries a
 * TREE extension).
 */
static void libgit2_index(const struct fx *fx)
{
	git_repository *repo = NULL;
	git_index *index = NULL;

	assert_int_equal(git_repository_open(&repo, fx->work), 0);
	assert_int_equal(git_repository_index(&index, repo), 0);
	assert_int_equal(git_index_clear(index), 0);
	assert_int_equal(git_index_add_all(index, NULL, 0, NULL, NULL), 0);
	assert_int_equal(git_index_write(index), 0);
	git_index_free(index);
	git_repository_free(repo);
}

static int has_tree_ext(const char *buf, size_t len)
{
	size_t i;

	for (i = 0; i + 4 <= len; i++)
		if (memcmp(buf + i, "TREE", 4) == 0)
			return 1;
	return 0;
}

static void assert_status_clean(const struct fx *fx)
{
	char *out =
		helper_capture("cd '%s' && git status --porcelain", fx->work);

	assert_non_null(out);
	assert_string_equal(out, "");
	free(out);
	assert_int_equal(
		helper_run("cd '%s' && git fsck >/dev/null 2>&1", fx->work), 0);
}

/*
 * The index gitindex wrote (now in place) is byte for byte the one libgit2
 * writes for the same paths from `before`; then stock git commits from it
 * (with `git add -A` first when add_all) and finds nothing else to do.
 */
static void assert_same_as_libgit2(
	const struct fx *fx,
	char *before,
	size_t bl,
	const char **paths,
	const int *rm,
	size_t n,
	int add_all)
{
	char *ours, *theirs;
	size_t ol, tl;

	ours = read_index(fx, &ol);
	assert_int_equal(fsutil_write_atomic(fx->index, before, bl, 0644), 0);
	libgit2_update(fx, paths, rm, n);
	theirs = read_index(fx, &tl);
	assert_int_equal(ol, tl);
	assert_memory_equal(ours, theirs, tl);
	assert_int_equal(fsutil_write_atomic(fx->index, ours, ol, 0644), 0);
	assert_int_equal(
		helper_run(
			"cd '%s' && %sgit -c user.name=T "
			"-c user.email=t@x.example commit -qm edit",
			fx->work, add_all ? "git add -A && " : ""),
		0);
	assert_status_clean(fx);
	free(ours);
	free(theirs);
	free(before);
}

static void test_gitindex__in_place_matches_libgit2(void **state)
{
	struct fx *fx = *state;
	const char *paths[] = { "actions/P2/P2-A1.yaml",
				"actions/P3/P3-A59.yaml" };
	int rm[] = { 0, 0 };
	struct gitindex_change ch[2];
	unsigned char oid[2][GITINDEX_OID_LEN];
	char *ours, *before;
	size_t ol, bl;
	struct stat st0, st1;

	libgit2_index(fx);
	before = read_index(fx, &bl);
	assert_int_equal(stat(fx->index, &st0), 0);
	write_file(fx, paths[0], "id: P2-A1\nstatus: done\n");
	write_file(fx, paths[1], "id: P3-A59\nstatus: ongoing\n");
	blob_id(oid[0], fx, paths[0]);
	blob_id(oid[1], fx, paths[1]);
	ch[0].path = paths[1]; /* out of order on purpose */
	ch[0].oid = oid[1];
	ch[1].path = paths[0];
	ch[1].oid = oid[0];
	assert_int_equal(gitindex_update(fx->gitdir, fx->workdir, ch, 2), 0);
	assert_int_equal(stat(fx->index, &st1), 0);
	assert_int_equal(st0.st_ino, st1.st_ino); /* changed in place */
	ours = read_index(fx, &ol);
	assert_true(ol == bl && memcmp(ours, before, bl) != 0);
	free(ours);
	/* The same change by libgit2, from the same starting index. */
	assert_same_as_libgit2(fx, before, bl, paths, rm, 2, 1);
}

/* gitindex_update_writing's files, written when it asks. */
struct writer {
	const struct fx *fx;
	const char *const *paths;
	const char *const *texts; /* NULL: a symbolic link instead */
	int calls[8];
	size_t fail_at; /* the call that fails (0: none) */
	size_t ncalls;
};

static int write_one(void *arg, size_t i)
{
	struct writer *w = arg;
	char path[512];

	w->calls[i]++;
	if (++w->ncalls == w->fail_at)
		return error_set(ERROR_GENERIC, "cannot write (test)");
	if (w->texts[i]) {
		write_file(w->fx, w->paths[i], w->texts[i]);
		return 0;
	}
	snprintf(path, sizeof(path), "%s/%s", w->fx->work, w->paths[i]);
	unlink(path);
	return symlink("elsewhere", path) < 0 ? ERROR_GENERIC : 0;
}

static void text_id(unsigned char *out, const char *text)
{
	git_oid id;

	assert_int_equal(
		git_odb_hash(&id, text, strlen(text), GIT_OBJECT_BLOB), 0);
	memcpy(out, id.id, GITINDEX_OID_LEN);
}

/*
 * The files written as gitindex asks, its checksum computed beside the
 * writes (PLANSYNC_TEST_PIPE_ANY: any index size): each file written
 * once, before its entry is made, and the index libgit2's to the byte.
 */
static void test_gitindex__writing_in_place_matches_libgit2(void **state)
{
	struct fx *fx = *state;
	const char *paths[] = { "actions/P3/P3-A59.yaml",
				"actions/P1/P1-A3.yaml",
				"actions/P2/P2-A1.yaml" };
	const char *texts[] = { "id: P3-A59\nstatus: ongoing\n", "id: P1-A3\n",
				"id: P2-A1\nstatus: done\n" };
	int rm[] = { 0, 0, 0 };
	struct writer w = { fx, paths, texts, { 0 }, 0, 0 };
	struct gitindex_change ch[3];
	unsigned char oid[3][GITINDEX_OID_LEN];
	char *before;
	size_t bl, i;
	struct stat st0, st1;

	libgit2_index(fx);
	before = read_index(fx, &bl);
	assert_int_equal(stat(fx->index, &st0), 0);
	for (i = 0; i < 3; i++) {
		text_id(oid[i], texts[i]);
		ch[i].path = paths[i];
		ch[i].oid = oid[i];
	}
	setenv("PLANSYNC_TEST_PIPE_ANY", "1", 1);
	assert_int_equal(
		gitindex_update_writing(
			fx->gitdir, fx->workdir, ch, 3, write_one, &w),
		0);
	unsetenv("PLANSYNC_TEST_PIPE_ANY");
	for (i = 0; i < 3; i++)
		assert_int_equal(w.calls[i], 1);
	assert_int_equal(stat(fx->index, &st1), 0);
	assert_int_equal(st0.st_ino, st1.st_ino); /* changed in place */
	assert_same_as_libgit2(fx, before, bl, paths, rm, 3, 1);
}

/*
 * A failed write ends the update: its error, the files after it not
 * written, the index as it was and not locked.  A file that is not one
 * (a link) sends the index to libgit2, every file written all the same.
 */
static void test_gitindex__writing_stops_or_goes_slow(void **state)
{
	struct fx *fx = *state;
	const char *paths[] = { "actions/P1/P1-A3.yaml",
				"actions/P2/P2-A1.yaml",
				"actions/P3/P3-A59.yaml" };
	const char *texts[] = { "id: 1\n", "id: 2\n", "id: 3\n" };
	const char *link[] = { "id: 1\n", NULL, "id: 3\n" };
	struct writer w = { fx, paths, texts, { 0 }, 2, 0 };
	struct gitindex_change ch[3];
	unsigned char oid[3][GITINDEX_OID_LEN];
	char *before, *after, lock[400];
	size_t bl, al, i;

	libgit2_index(fx);
	before = read_index(fx, &bl);
	for (i = 0; i < 3; i++) {
		text_id(oid[i], texts[i]);
		ch[i].path = paths[i];
		ch[i].oid = oid[i];
	}
	snprintf(lock, sizeof(lock), "%s.lock", fx->index);
	setenv("PLANSYNC_TEST_PIPE_ANY", "1", 1);
	assert_int_equal(
		gitindex_update_writing(
			fx->gitdir, fx->workdir, ch, 3, write_one, &w),
		ERROR_GENERIC);
	assert_int_equal(w.ncalls, 2);
	assert_int_equal(w.calls[2], 0);
	after = read_index(fx, &al);
	assert_true(al == bl && memcmp(after, before, bl) == 0);
	free(after);
	assert_int_equal(access(lock, F_OK), -1);

	memset(&w, 0, sizeof(w));
	w.fx = fx;
	w.paths = paths;
	w.texts = link;
	assert_int_equal(
		gitindex_update_writing(
			fx->gitdir, fx->workdir, ch, 3, write_one, &w),
		GITINDEX_SLOW);
	unsetenv("PLANSYNC_TEST_PIPE_ANY");
	for (i = 0; i < 3; i++)
		assert_int_equal(w.calls[i], 1);
	after = read_index(fx, &al);
	assert_true(al == bl && memcmp(after, before, bl) == 0);
	assert_int_equal(access(lock, F_OK), -1);
	free(after);
	free(before);
}

/*
 * On its own index (the stamp matches) gitindex parses only up to the
 * last changed entry: updates that follow one of its own, one adding a
 * file (a full parse again), still give libgit2's bytes.
 */
static void test_gitindex__own_index_updates_match_libgit2(void **state)
{
	struct fx *fx = *state;
	const char *first = "actions/P3/P3-A59.yaml";
	const char *paths[] = { "actions/P1/P1-A3.yaml",
				"actions/P2/P2-A7.yaml",
				"actions/P1/P1-A200.yaml" };
	int rm[] = { 0, 0, 0 };
	struct gitindex_change ch[2];
	unsigned char oid[3][GITINDEX_OID_LEN];
	char *ours, *theirs, *before;
	size_t ol, tl, bl, round;

	libgit2_index(fx);
	for (round = 0; round < 2; round++) {
		/* gitindex's own index first (libgit2 wrote the last) */
		write_file(fx, first, round ? "id: P3-A59\n" : "id: 59\n");
		blob_id(oid[0], fx, first);
		ch[0].path = first;
		ch[0].oid = oid[0];
		assert_int_equal(
			gitindex_update(fx->gitdir, fx->workdir, ch, 1), 0);
		/* round 0: two entries early in the index; round 1: one
		 * of them and an added file */
		before = read_index(fx, &bl);
		write_file(fx, paths[round], "id: x\nstatus: ongoing\n");
		write_file(fx, paths[round + 1], "id: y\nstatus: ongoing\n");
		blob_id(oid[1], fx, paths[round]);
		blob_id(oid[2], fx, paths[round + 1]);
		ch[0].path = paths[round];
		ch[0].oid = oid[1];
		ch[1].path = paths[round + 1];
		ch[1].oid = oid[2];
		assert_int_equal(
			gitindex_update(fx->gitdir, fx->workdir, ch, 2), 0);
		ours = read_index(fx, &ol);
		assert_int_equal(
			fsutil_write_atomic(fx->index, before, bl, 0644), 0);
		libgit2_update(fx, paths + round, rm, 2);
		theirs = read_index(fx, &tl);
		assert_int_equal(ol, tl);
		assert_memory_equal(ours, theirs, tl);
		free(ours);
		free(theirs);
		free(before);
	}
}

static void test_gitindex__add_and_remove_match_libgit2(void **state)
{
	struct fx *fx = *state;
	const char *paths[] = { "actions/P1/P1-A100.yaml",
				"actions/P2/P2-A4.yaml",
				"actions/P4/P4-A1.yaml",
				"actions/P1/P1-A3.yaml" };
	int rm[] = { 0, 1, 0, 0 };
	struct gitindex_change ch[4];
	unsigned char oid[4][GITINDEX_OID_LEN];
	char *before, path[512];
	size_t bl, i;

	libgit2_index(fx);
	before = read_index(fx, &bl);
	snprintf(path, sizeof(path), "%s/actions/P4", fx->work);
	assert_int_equal(fsutil_mkdirs(path), 0);
	write_file(fx, paths[0], "id: P1-A100\n");
	snprintf(path, sizeof(path), "%s/%s", fx->work, paths[1]);
	assert_int_equal(unlink(path), 0);
	write_file(fx, paths[2], "id: P4-A1\n");
	write_file(
		fx, paths[3],
		"id: P1-A3\nstatus: done, with a longer "
		"line that changes the entry's place\n");
	for (i = 0; i < 4; i++) {
		ch[i].path = paths[i];
		ch[i].oid = NULL;
		if (!rm[i]) {
			blob_id(oid[i], fx, paths[i]);
			ch[i].oid = oid[i];
		}
	}
	assert_int_equal(gitindex_update(fx->gitdir, fx->workdir, ch, 4), 0);
	assert_same_as_libgit2(fx, before, bl, paths, rm, 4, 0);
}

/* Stock git's index has a TREE extension: dropped, and git still works. */
static void test_gitindex__drops_git_extensions(void **state)
{
	struct fx *fx = *state;
	const char *p = "actions/P2/P2-A1.yaml";
	struct gitindex_change ch;
	unsigned char oid[GITINDEX_OID_LEN];
	char *buf, *out;
	size_t len;

	buf = read_index(fx, &len);
	assert_true(has_tree_ext(buf, len));
	free(buf);
	write_file(fx, p, "id: P2-A1\nstatus: done\n");
	blob_id(oid, fx, p);
	ch.path = p;
	ch.oid = oid;
	assert_int_equal(gitindex_update(fx->gitdir, fx->workdir, &ch, 1), 0);
	buf = read_index(fx, &len);
	assert_false(has_tree_ext(buf, len));
	free(buf);
	out = helper_capture(
		"cd '%s' && git diff --cached --name-only", fx->work);
	assert_non_null(out);
	assert_string_equal(out, "actions/P2/P2-A1.yaml\n");
	free(out);
	assert_int_equal(
		helper_run(
			"cd '%s' && git -c user.name=T "
			"-c user.email=t@x.example commit -qm edit",
			fx->work),
		0);
	assert_status_clean(fx);
}

/* Every index the fast path does not take is left as it was. */
static void
assert_slow_unchanged(const struct fx *fx, const char *path, int expect)
{
	struct gitindex_change ch;
	unsigned char oid[GITINDEX_OID_LEN];
	char *before, *after;
	size_t bl, al;
	struct stat st0, st1;

	before = read_index(fx, &bl);
	assert_int_equal(stat(fx->index, &st0), 0);
	write_file(fx, path, "id: changed\n");
	blob_id(oid, fx, path);
	ch.path = path;
	ch.oid = oid;
	assert_int_equal(
		gitindex_update(fx->gitdir, fx->workdir, &ch, 1), expect);
	after = read_index(fx, &al);
	assert_int_equal(stat(fx->index, &st1), 0);
	assert_int_equal(al, bl);
	assert_memory_equal(after, before, bl);
	assert_int_equal(st0.st_ino, st1.st_ino);
	free(before);
	free(after);
}

static void test_gitindex__damaged_index_left_alone(void **state)
{
	struct fx *fx = *state;
	int fd;

	libgit2_index(fx);
	/* One byte of an entry's mtime changed, the checksum not. */
	fd = open(fx->index, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "\x7f", 1, 12 + 62 + 8 + 9), 1);
	close(fd);
	assert_slow_unchanged(fx, "actions/P2/P2-A1.yaml", GITINDEX_SLOW);
	/* Lookups leave it to libgit2 too, which reports the damage. */
	{
		const char *p = "plan.yaml";
		struct gitindex_entry e;
		struct timespec mt;
		int conflicts;

		assert_int_equal(
			gitindex_lookup(&e, &conflicts, &mt, fx->gitdir, &p, 1),
			GITINDEX_SLOW);
	}
}

/* Even right after gitindex wrote it (its stamp then matches). */
static void test_gitindex__damage_after_own_write_caught(void **state)
{
	struct fx *fx = *state;
	const char *p = "actions/P2/P2-A1.yaml";
	struct gitindex_change ch;
	unsigned char oid[GITINDEX_OID_LEN];
	int fd;

	libgit2_index(fx);
	write_file(fx, p, "id: P2-A1\nstatus: done\n");
	blob_id(oid, fx, p);
	ch.path = p;
	ch.oid = oid;
	assert_int_equal(gitindex_update(fx->gitdir, fx->workdir, &ch, 1), 0);
	sleep(1); /* a later mtime, whatever the clock's grain */
	fd = open(fx->index, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "\x7f", 1, 12 + 62 + 8 + 9), 1);
	close(fd);
	assert_slow_unchanged(fx, "actions/P3/P3-A2.yaml", GITINDEX_SLOW);
}

/*
 * The checksum checked on a thread while the caller goes on (as a merge
 * does): a damaged index is still left to libgit2, and a good one read.
 */
static void test_gitindex__precheck_catches_damage(void **state)
{
	struct fx *fx = *state;
	const char *p = "plan.yaml";
	struct gitindex_entry e;
	struct timespec mt;
	int conflicts, fd;

	libgit2_index(fx);
	setenv("PLANSYNC_TEST_PRECHECK_ANY", "1", 1);
	gitindex_precheck(fx->gitdir);
	assert_int_equal(
		gitindex_lookup(&e, &conflicts, &mt, fx->gitdir, &p, 1), 0);
	assert_int_equal(e.found, 1);
	sleep(1); /* a later mtime, whatever the clock's grain */
	fd = open(fx->index, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "\x7f", 1, 12 + 62 + 8 + 9), 1);
	close(fd);
	gitindex_precheck(fx->gitdir);
	assert_int_equal(
		gitindex_lookup(&e, &conflicts, &mt, fx->gitdir, &p, 1),
		GITINDEX_SLOW);
	gitindex_precheck(fx->gitdir);
	assert_slow_unchanged(fx, "actions/P2/P2-A1.yaml", GITINDEX_SLOW);
	gitindex_precheck_wait();
	unsetenv("PLANSYNC_TEST_PRECHECK_ANY");
}

/*
 * An index many times the check's 128 KB buffer: the check reads it all.
 * Whole, its verdict lets a change through; damaged past the first
 * buffers (the last entry's name), the next call finds the damage.
 */
static void test_gitindex__precheck_reads_a_large_index(void **state)
{
	struct fx *fx = *state;
	const char *p = "plan.yaml";
	struct gitindex_entry e;
	struct gitindex_change ch;
	unsigned char oid[GITINDEX_OID_LEN];
	struct timespec mt;
	char path[512], hex[GITINDEX_OID_LEN * 2 + 1], *buf, *out;
	size_t len;
	int conflicts, fd, i;
	FILE *f;

	assert_int_equal(helper_run("mkdir -p '%s/actions/P9'", fx->work), 0);
	for (i = 0; i < 5000; i++) { /* (no fsync: 5,000 of them) */
		snprintf(
			path, sizeof(path), "%s/actions/P9/P9-A%d.yaml",
			fx->work, i + 1);
		assert_non_null(f = fopen(path, "w"));
		assert_int_equal(fputs("id: x\n", f) >= 0, 1);
		assert_int_equal(fclose(f), 0);
	}
	libgit2_index(fx);
	buf = read_index(fx, &len);
	free(buf);
	assert_true(len > 3 * (128 << 10));
	setenv("PLANSYNC_TEST_PRECHECK_ANY", "1", 1);
	gitindex_precheck(fx->gitdir);
	write_file(fx, "actions/P9/P9-A999.yaml", "id: changed\n");
	blob_id(oid, fx, "actions/P9/P9-A999.yaml");
	ch.path = "actions/P9/P9-A999.yaml";
	ch.oid = oid;
	assert_int_equal(gitindex_update(fx->gitdir, fx->workdir, &ch, 1), 0);
	/* stock git reads the index and finds the new id */
	for (i = 0; i < GITINDEX_OID_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", oid[i]);
	out = helper_capture(
		"cd '%s' && git ls-files -s actions/P9/P9-A999.yaml", fx->work);
	assert_non_null(out);
	assert_non_null(strstr(out, hex));
	free(out);

	sleep(1); /* a later mtime, whatever the clock's grain */
	buf = read_index(fx, &len);
	free(buf);
	fd = open(fx->index, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "\x7f", 1, (off_t)len - 20 - 30), 1);
	close(fd);
	gitindex_precheck(fx->gitdir);
	assert_int_equal(
		gitindex_lookup(&e, &conflicts, &mt, fx->gitdir, &p, 1),
		GITINDEX_SLOW);
	unsetenv("PLANSYNC_TEST_PRECHECK_ANY");
}

/* An index replaced while its check runs is checked again. */
static void test_gitindex__precheck_of_replaced_index(void **state)
{
	struct fx *fx = *state;
	const char *p = "plan.yaml";
	struct gitindex_entry e;
	struct timespec mt;
	char *buf, tmp[400];
	size_t len;
	int conflicts;

	libgit2_index(fx);
	setenv("PLANSYNC_TEST_PRECHECK_ANY", "1", 1);
	gitindex_precheck(fx->gitdir);
	/* the same bytes, one flipped, as a new file renamed over it */
	buf = read_index(fx, &len);
	buf[12 + 62 + 8 + 9] ^= 0x40;
	snprintf(tmp, sizeof(tmp), "%s.new", fx->index);
	assert_int_equal(fsutil_write_atomic(tmp, buf, len, 0644), 0);
	assert_int_equal(rename(tmp, fx->index), 0);
	free(buf);
	assert_int_equal(
		gitindex_lookup(&e, &conflicts, &mt, fx->gitdir, &p, 1),
		GITINDEX_SLOW);
	unsetenv("PLANSYNC_TEST_PRECHECK_ANY");
}

static void test_gitindex__git_lock_left_alone(void **state)
{
	struct fx *fx = *state;
	char lock[400], *buf = NULL;
	size_t len;

	libgit2_index(fx);
	snprintf(lock, sizeof(lock), "%sindex.lock", fx->gitdir);
	assert_int_equal(fsutil_write_atomic(lock, "DIRC", 4, 0644), 0);
	assert_slow_unchanged(fx, "actions/P2/P2-A1.yaml", GITINDEX_SLOW);
	/* git's lock: recovery does not touch it either. */
	assert_int_equal(gitindex_recover(fx->gitdir), 0);
	assert_int_equal(fsutil_read_file(&buf, &len, lock, 100), 0);
	assert_string_equal(buf, "DIRC");
	free(buf);
	unlink(lock);
}

/* A merge conflict on P2-A1, by stock git: stages 1-3 in the index. */
static void make_conflict(const struct fx *fx)
{
	assert_int_equal(
		helper_run(
			"cd '%s' && git checkout -qb side && "
			"echo 'id: side' > actions/P2/P2-A1.yaml && "
			"git -c user.name=T -c user.email=t@x.example commit "
			"-qam side && git checkout -q - && "
			"echo 'id: main' > actions/P2/P2-A1.yaml && "
			"git -c user.name=T -c user.email=t@x.example commit "
			"-qam main && (git -c user.name=T "
			"-c user.email=t@x.example merge -q side "
			">/dev/null 2>&1; true)",
			fx->work),
		0);
}

static void test_gitindex__conflicted_path_left_to_libgit2(void **state)
{
	struct fx *fx = *state;

	make_conflict(fx);
	assert_slow_unchanged(fx, "actions/P2/P2-A1.yaml", GITINDEX_SLOW);
}

static void test_gitindex__split_index_left_to_libgit2(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(
		helper_run(
			"cd '%s' && git update-index --split-index", fx->work),
		0);
	assert_slow_unchanged(fx, "actions/P2/P2-A1.yaml", GITINDEX_SLOW);
}

/* A file where a new file's folder would go, or the reverse: libgit2. */
static void test_gitindex__file_folder_clash_left_to_libgit2(void **state)
{
	struct fx *fx = *state;
	struct gitindex_change ch;
	unsigned char oid[GITINDEX_OID_LEN];
	char *before, *after;
	size_t bl, al;

	libgit2_index(fx);
	before = read_index(fx, &bl);
	memset(oid, 1, sizeof(oid));
	ch.oid = oid;
	ch.path = "plan.yaml/x";
	assert_int_equal(
		gitindex_update(fx->gitdir, fx->workdir, &ch, 1),
		GITINDEX_SLOW);
	ch.path = "actions/P1";
	assert_int_equal(
		gitindex_update(fx->gitdir, fx->workdir, &ch, 1),
		GITINDEX_SLOW);
	after = read_index(fx, &al);
	assert_int_equal(al, bl);
	assert_memory_equal(after, before, bl);
	free(before);
	free(after);
}

/* What a kill between the entry writes and the checksum leaves. */
static void test_gitindex__recover_finishes_killed_update(void **state)
{
	struct fx *fx = *state;
	const char *p = "actions/P2/P2-A1.yaml";
	struct gitindex_change ch;
	unsigned char oid[GITINDEX_OID_LEN];
	char lock[400], *good, *out;
	size_t gl, len;
	int fd;

	libgit2_index(fx);
	write_file(fx, p, "id: P2-A1\nstatus: done\n");
	blob_id(oid, fx, p);
	ch.path = p;
	ch.oid = oid;
	assert_int_equal(gitindex_update(fx->gitdir, fx->workdir, &ch, 1), 0);
	good = read_index(fx, &gl);
	/* The old checksum back in place, gitindex's lock left behind. */
	fd = open(fx->index, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(
		pwrite(fd, "01234567890123456789", SHA1_LEN,
		       (off_t)(gl - SHA1_LEN)),
		SHA1_LEN);
	close(fd);
	snprintf(lock, sizeof(lock), "%sindex.lock", fx->gitdir);
	assert_int_equal(
		fsutil_write_atomic(
			lock, GITINDEX_LOCK_MARK " 99999\n",
			strlen(GITINDEX_LOCK_MARK " 99999\n"), 0644),
		0);
	out = helper_capture(
		"cd '%s' && git status --porcelain 2>&1", fx->work);
	free(out);
	assert_int_equal(gitindex_recover(fx->gitdir), 0);
	assert_int_equal(access(lock, F_OK), -1);
	out = read_index(fx, &len);
	assert_int_equal(len, gl);
	assert_memory_equal(out, good, gl);
	free(out);
	free(good);
	/* libgit2 reads it again. */
	{
		git_repository *repo = NULL;
		git_index *index = NULL;

		assert_int_equal(git_repository_open(&repo, fx->work), 0);
		assert_int_equal(git_repository_index(&index, repo), 0);
		assert_non_null(git_index_get_bypath(index, p, 0));
		git_index_free(index);
		git_repository_free(repo);
	}
	/* Nothing to do the second time. */
	assert_int_equal(gitindex_recover(fx->gitdir), 0);
}

/* Lookups agree with libgit2's entries; conflicts are seen. */
static void test_gitindex__lookup_matches_libgit2(void **state)
{
	struct fx *fx = *state;
	const char *paths[] = { "actions/P2/P2-A1.yaml", "nope.yaml",
				"plan.yaml" };
	struct gitindex_entry got[3];
	git_repository *repo = NULL;
	git_index *index = NULL;
	const git_index_entry *e;
	struct timespec mt;
	struct stat st;
	int conflicts = -1, i;

	libgit2_index(fx);
	assert_int_equal(
		gitindex_lookup(got, &conflicts, &mt, fx->gitdir, paths, 3), 0);
	assert_int_equal(conflicts, 0);
	assert_int_equal(stat(fx->index, &st), 0);
	assert_int_equal(mt.tv_sec, st.st_mtim.tv_sec);
	assert_int_equal(mt.tv_nsec, st.st_mtim.tv_nsec);
	assert_int_equal(git_repository_open(&repo, fx->work), 0);
	assert_int_equal(git_repository_index(&index, repo), 0);
	for (i = 0; i < 3; i++) {
		e = git_index_get_bypath(index, paths[i], 0);
		assert_int_equal(got[i].found, e != NULL);
		if (!e)
			continue;
		assert_memory_equal(got[i].oid, e->id.id, GITINDEX_OID_LEN);
		assert_int_equal(got[i].size, e->file_size);
		assert_int_equal(got[i].ino, e->ino);
		assert_int_equal(got[i].mtime_s, (uint32_t)e->mtime.seconds);
		assert_int_equal(got[i].mtime_ns, e->mtime.nanoseconds);
		assert_int_equal(got[i].mode, e->mode);
	}
	git_index_free(index);
	git_repository_free(repo);
	make_conflict(fx);
	assert_int_equal(
		gitindex_lookup(got, &conflicts, &mt, fx->gitdir, paths, 3), 0);
	assert_int_equal(conflicts, 1);
	assert_int_equal(got[0].found, 0); /* only stages 1-3 now */
	assert_int_equal(got[2].found, 1);
}

static void test_sha1__vectors_and_sha1sum(void **state)
{
	static const char *abc = "a9993e364706816aba3e25717850c26c9cd0d89d";
	static const char *empty = "da39a3ee5e6b4b0d3255bfef95601890afd80709";
	static const char *two = "84983e441c3bd26ebaae4aa1f95129e5e54670f1";
	const char *msg =
		"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	unsigned char d[SHA1_LEN], *big;
	char hex[2 * SHA1_LEN + 1], path[300], *out;
	struct fx *fx = *state;
	struct sha1 ctx;
	size_t n = 1000003, i, step;
	int port, k;

	big = malloc(n);
	assert_non_null(big);
	for (i = 0; i < n; i++)
		big[i] = (unsigned char)(i * 7 + i / 13);
	snprintf(path, sizeof(path), "%s/big", fx->dir);
	assert_int_equal(fsutil_write_atomic(path, big, n, 0644), 0);
	out = helper_capture("sha1sum '%s'", path);
	assert_non_null(out);
	for (port = 0; port < 2; port++) {
		sha1_use_portable(port);
		sha1_init(&ctx);
		sha1_update(&ctx, "abc", 3);
		sha1_final(d, &ctx);
		for (k = 0; k < SHA1_LEN; k++)
			snprintf(hex + 2 * k, 3, "%02x", d[k]);
		assert_string_equal(hex, abc);
		sha1_init(&ctx);
		sha1_final(d, &ctx);
		for (k = 0; k < SHA1_LEN; k++)
			snprintf(hex + 2 * k, 3, "%02x", d[k]);
		assert_string_equal(hex, empty);
		sha1_init(&ctx);
		sha1_update(&ctx, msg, strlen(msg));
		sha1_final(d, &ctx);
		for (k = 0; k < SHA1_LEN; k++)
			snprintf(hex + 2 * k, 3, "%02x", d[k]);
		assert_string_equal(hex, two);
		/* A large buffer in uneven pieces, against sha1sum. */
		sha1_init(&ctx);
		for (i = 0, step = 1; i < n; i += step, step = step * 3 % 997)
			sha1_update(&ctx, big + i, step < n - i ? step : n - i);
		sha1_final(d, &ctx);
		for (k = 0; k < SHA1_LEN; k++)
			snprintf(hex + 2 * k, 3, "%02x", d[k]);
		assert_memory_equal(out, hex, 2 * SHA1_LEN);
	}
	sha1_use_portable(0);
	free(out);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_gitindex__in_place_matches_libgit2, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_gitindex__writing_in_place_matches_libgit2, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_gitindex__writing_stops_or_goes_slow, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_gitindex__own_index_updates_match_libgit2, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_gitindex__add_and_remove_match_libgit2, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_gitindex__drops_git_extensions, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_gitindex__damaged_index_left_alone, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_gitindex__precheck_catches_damage, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_gitindex__precheck_reads_a_large_index, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_gitindex__precheck_of_replaced_index, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_gitindex__damage_after_own_write_caught, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_gitindex__git_lock_left_alone, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_gitindex__conflicted_path_left_to_libgit2, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_gitindex__split_index_left_to_libgit2, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_gitindex__file_folder_clash_left_to_libgit2, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_gitindex__recover_finishes_killed_update, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_gitindex__lookup_matches_libgit2, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_sha1__vectors_and_sha1sum, setup, teardown),
	};
	int rc;

	git_libgit2_init();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	git_libgit2_shutdown();
	return rc;
}
