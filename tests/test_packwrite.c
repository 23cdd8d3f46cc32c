/*
 * tests/test_packwrite.c: sync/packwrite against stock git and libgit2 on
 * throwaway repositories: the pack and index it writes pass
 * `git verify-pack` and `git fsck --full`, stock git and libgit2 read
 * every object back byte for byte (sizes around every header boundary),
 * and refusals (no objects, an id twice) leave nothing behind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <git2.h>

#include "core/error.h"
#include "helper_shell.h"
#include "sync/packwrite.h"

struct fx {
	char dir[256], gitdir[300];
	git_repository *git;
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_packwrite.XXXXXX");
	if (!mkdtemp(fx->dir) ||
	    helper_run(
		    "git init -q '%s/r' && git -C '%s/r' commit -q "
		    "--allow-empty -m first",
		    fx->dir, fx->dir) != 0)
		return -1;
	snprintf(fx->gitdir, sizeof(fx->gitdir), "%s/r/.git/", fx->dir);
	if (git_repository_open(&fx->git, fx->gitdir) < 0)
		return -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	git_repository_free(fx->git);
	helper_run("rm -rf '%s'", fx->dir);
	free(fx);
	return 0;
}

/* Files in objects/pack, by suffix. */
static int count_pack_files(const struct fx *fx, const char *suffix)
{
	char path[400];
	struct dirent *e;
	DIR *d;
	int n = 0;
	size_t sl = strlen(suffix), el;

	snprintf(path, sizeof(path), "%sobjects/pack", fx->gitdir);
	d = opendir(path);
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		el = strlen(e->d_name);
		if (e->d_name[0] != '.' &&
		    (!sl ||
		     (el >= sl && strcmp(e->d_name + el - sl, suffix) == 0)))
			n++;
	}
	closedir(d);
	return n;
}

/*
 * git verify-pack and git fsck --full pass, and stock git and libgit2
 * read each of objs back: its size, type and bytes.
 */
static void assert_git_reads(
	const struct fx *fx,
	const struct packwrite_obj *objs,
	size_t n)
{
	git_odb *odb = NULL;
	git_odb_object *got = NULL;
	char hex[GIT_OID_HEXSZ + 1];
	git_oid id;
	size_t i;

	assert_int_equal(
		helper_run(
			"cd '%sobjects/pack' && git verify-pack pack-*.idx "
			">/dev/null",
			fx->gitdir),
		0);
	assert_int_equal(
		helper_run(
			"git -C '%s' fsck --full --no-progress --no-dangling "
			"2>/dev/null",
			fx->gitdir),
		0);
	assert_int_equal(git_repository_odb(&odb, fx->git), 0);
	assert_int_equal(git_odb_refresh(odb), 0);
	for (i = 0; i < n; i++) {
		git_oid_fromraw(&id, objs[i].id);
		git_oid_tostr(hex, sizeof(hex), &id);
		assert_int_equal(
			helper_run(
				"test \"$(git -C '%s' cat-file -s %s)\" = %zu",
				fx->gitdir, hex, objs[i].len),
			0);
		assert_int_equal(git_odb_read(&got, odb, &id), 0);
		assert_int_equal(git_odb_object_type(got), objs[i].type);
		assert_int_equal(git_odb_object_size(got), objs[i].len);
		if (objs[i].len)
			assert_memory_equal(
				git_odb_object_data(got), objs[i].data,
				objs[i].len);
		git_odb_object_free(got);
	}
	git_odb_free(odb);
}

/* o: an object of type holding data (len bytes), its id also in *id. */
static void make_obj(
	struct packwrite_obj *o,
	git_oid *id,
	int type,
	const void *data,
	size_t len)
{
	assert_int_equal(git_odb_hash(id, data, len, (git_object_t)type), 0);
	memcpy(o->id, id->id, PACKWRITE_OID_LEN);
	o->type = type;
	o->data = data;
	o->len = len;
}

/* o: a blob of text, its id also in *id. */
static void text_blob(struct packwrite_obj *o, git_oid *id, const char *text)
{
	make_obj(o, id, GIT_OBJECT_BLOB, text, strlen(text));
}

#define NOBJ 12

static void test_packwrite__git_reads_every_object(void **state)
{
	struct fx *fx = *state;
	/* around the size header's 4-bit and 7-bit steps, and big */
	static const size_t sizes[NOBJ] = { 0,    1,     15,    16,
					    127,  128,   2047,  2048,
					    4000, 16383, 16384, 300000 };
	struct packwrite_obj objs[NOBJ];
	char *data[NOBJ];
	git_oid id[NOBJ];
	size_t i, k;

	for (i = 0; i < NOBJ; i++) {
		assert_non_null(data[i] = malloc(sizes[i] + 1));
		for (k = 0; k < sizes[i]; k++)
			data[i][k] = (char)('a' + (k * 7 + i) % 26);
		if (sizes[i] > 100)
			data[i][sizes[i] / 2] = '\n';
		assert_int_equal(
			git_odb_hash(
				&id[i], data[i], sizes[i], GIT_OBJECT_BLOB),
			0);
		memcpy(objs[i].id, id[i].id, PACKWRITE_OID_LEN);
		objs[i].type = GIT_OBJECT_BLOB;
		objs[i].data = data[i];
		objs[i].len = sizes[i];
	}
	assert_int_equal(packwrite(fx->gitdir, objs, NOBJ), 0);
	assert_int_equal(count_pack_files(fx, ".pack"), 1);
	assert_int_equal(count_pack_files(fx, ".idx"), 1);
	assert_int_equal(count_pack_files(fx, ""), 2); /* no temporaries */
	assert_git_reads(fx, objs, NOBJ);
	for (i = 0; i < NOBJ; i++)
		free(data[i]);
}

static void test_packwrite__trees_and_refusals(void **state)
{
	struct fx *fx = *state;
	struct packwrite_obj objs[2];
	git_oid blob, tree;
	git_tree *t = NULL;
	unsigned char raw[64];
	size_t n;
	static const char text[] = "title: x\n";

	/* no objects, and the same id twice: refused, nothing written */
	assert_true(packwrite(fx->gitdir, objs, 0) < 0);
	text_blob(&objs[0], &blob, text);
	objs[1] = objs[0];
	assert_int_equal(packwrite(fx->gitdir, objs, 2), ERROR_GENERIC);
	assert_non_null(strstr(error_message(), "twice"));
	assert_int_equal(count_pack_files(fx, ""), 0);

	/* a tree naming the blob, in the same pack: git sees both */
	n = (size_t)snprintf((char *)raw, sizeof(raw), "100644 a.yaml");
	raw[n++] = '\0';
	memcpy(raw + n, blob.id, GIT_OID_RAWSZ);
	n += GIT_OID_RAWSZ;
	make_obj(&objs[1], &tree, GIT_OBJECT_TREE, raw, n);
	assert_int_equal(packwrite(fx->gitdir, objs, 2), 0);
	assert_git_reads(fx, objs, 2);
	assert_int_equal(git_tree_lookup(&t, fx->git, &tree), 0);
	assert_int_equal(git_tree_entrycount(t), 1);
	assert_string_equal(
		git_tree_entry_name(git_tree_entry_byindex(t, 0)), "a.yaml");
	git_tree_free(t);
	/* the same pack again: the same names, still one pack */
	assert_int_equal(packwrite(fx->gitdir, objs, 2), 0);
	assert_int_equal(count_pack_files(fx, ""), 2);
}

/* A tree of n entries (all naming blob), the last name longer by pad. */
static unsigned char *
make_tree(size_t *len, size_t n, size_t pad, const git_oid *blob)
{
	unsigned char *raw = malloc(n * 64 + pad + 1), *p = raw;
	size_t i;

	assert_non_null(raw);
	for (i = 0; i < n; i++) {
		p +=
			sprintf((char *)p, "100644 f%06zu%.*s.yaml", i,
				(int)(i + 1 == n ? pad : 0),
				"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
		*p++ = '\0';
		memcpy(p, blob->id, GIT_OID_RAWSZ);
		p += GIT_OID_RAWSZ;
	}
	*len = (size_t)(p - raw);
	return raw;
}

/*
 * Trees are stored uncompressed, in zlib's stored blocks of at most
 * 65,535 bytes: an empty tree, one of exactly one block, one a byte over
 * (two blocks), one of three; git and libgit2 read each back.
 */
static void test_packwrite__stored_trees_across_blocks(void **state)
{
	struct fx *fx = *state;
	static const char text[] = "title: x\n";
	static const size_t counts[4] = { 0, 1638, 1639, 3400 };
	static const size_t pads[4] = { 0, 15, 0, 0 };
	static const size_t want[4] = { 0, 65535, 65560, 136000 };
	struct packwrite_obj objs[5];
	unsigned char *raw[4];
	size_t len[4], i;
	git_oid blob, id[4];

	text_blob(&objs[4], &blob, text);
	for (i = 0; i < 4; i++) {
		raw[i] = make_tree(&len[i], counts[i], pads[i], &blob);
		assert_int_equal(len[i], want[i]);
		make_obj(&objs[i], &id[i], GIT_OBJECT_TREE, raw[i], len[i]);
	}
	assert_int_equal(packwrite(fx->gitdir, objs, 5), 0);
	assert_git_reads(fx, objs, 5);
	for (i = 0; i < 4; i++)
		free(raw[i]);
}

/*
 * A merge's pack: 40 folders of ~40 KB (1.6 MB, written in several
 * buffers' worth) and a blob bigger than the buffer, its compressed
 * bytes not fitting it; every offset, CRC and the pack's checksum right.
 */
static void test_packwrite__pack_larger_than_its_buffer(void **state)
{
	struct fx *fx = *state;
	static const char text[] = "title: x\n";
	struct packwrite_obj objs[42];
	unsigned char *raw[40], *big;
	size_t len, i, nbig = (size_t)700 << 10;
	uint32_t x = 12345;
	git_oid blob, id;

	text_blob(&objs[40], &blob, text);
	for (i = 0; i < 40; i++) {
		raw[i] = make_tree(&len, 1000 + i, 0, &blob);
		make_obj(&objs[i], &id, GIT_OBJECT_TREE, raw[i], len);
	}
	big = malloc(nbig);
	assert_non_null(big);
	for (i = 0; i < nbig; i++) {
		x = x * 1103515245u + 12345u;
		big[i] = (unsigned char)(x >> 23);
	}
	make_obj(&objs[41], &id, GIT_OBJECT_BLOB, big, nbig);
	assert_int_equal(packwrite(fx->gitdir, objs, 42), 0);
	assert_git_reads(fx, objs, 42);
	for (i = 0; i < 40; i++)
		free(raw[i]);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_packwrite__git_reads_every_object, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_packwrite__trees_and_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_packwrite__stored_trees_across_blocks, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_packwrite__pack_larger_than_its_buffer, setup,
			teardown),
	};
	int rc;

	git_libgit2_init();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	git_libgit2_shutdown();
	return rc;
}
