/*
 * sync/transport.c: remotes, fetch into quarantine, promote, push;
 * credentials, host keys, progress and the mapping of transport errors.
 */
#include "transport.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "repo.h"

extern char **environ;

#define MSG_MAX 512
#define CRED_MAX 8192 /* bytes of `git credential fill` output kept */
#define HTTP_ATTEMPTS 3

/* ---- names and URLs ----------------------------------------------------- */

static int is_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

static int has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

int transport_check_name(const char *name)
{
	const char *p;

	if (!name || !*name)
		return error_set(
			ERROR_INVALID, "invalid remote name '': empty");
	if (strlen(name) >= TRANSPORT_NAME_MAX)
		return error_set(
			ERROR_INVALID,
			"invalid remote name '%.40s...': longer than %d bytes",
			name, TRANSPORT_NAME_MAX - 1);
	for (p = name; *p; p++) {
		if (!is_alnum((unsigned char)*p) && *p != '.' && *p != '_' &&
		    *p != '-')
			return error_set(
				ERROR_INVALID,
				"invalid remote name '%s': only letters, "
				"digits, '.', '_' and '-' are allowed",
				name);
	}
	if (!is_alnum((unsigned char)name[0]))
		return error_set(
			ERROR_INVALID,
			"invalid remote name '%s': it must start with a "
			"letter or a digit",
			name);
	if (strstr(name, "..") || has_suffix(name, ".") ||
	    has_suffix(name, ".lock"))
		return error_set(
			ERROR_INVALID,
			"invalid remote name '%s': no '..', and no final '.' "
			"or '.lock'",
			name);
	return 0;
}

/*
 * The parts of a URL that matter here.  kind: "" local path, "scp" for
 * [user@]host:path, else the scheme.  auth_*: the userinfo with its '@'
 * (empty range when none).
 */
struct url_parts {
	char kind[16];
	size_t auth_start, auth_end;
	size_t host_start, host_end; /* host without port or brackets */
	int port; /* 0 when not given */
	const char *path; /* after the authority */
};

static void parse_url(struct url_parts *u, const char *url)
{
	const char *sep = strstr(url, "://");
	const char *slash = strchr(url, '/');
	const char *colon = strchr(url, ':');
	const char *a, *end, *at, *h, *he, *p;

	memset(u, 0, sizeof(*u));
	if (sep && (!slash || sep < slash) && (size_t)(sep - url) > 0 &&
	    (size_t)(sep - url) < sizeof(u->kind)) {
		memcpy(u->kind, url, (size_t)(sep - url));
		u->kind[sep - url] = '\0';
		a = sep + 3;
		end = a + strcspn(a, "/");
	} else if (colon && (!slash || colon < slash) && colon > url) {
		memcpy(u->kind, "scp", 4);
		a = url;
		end = colon;
	} else {
		u->path = url;
		return;
	}
	at = NULL;
	for (p = a; p < end; p++)
		if (*p == '@')
			at = p;
	u->auth_start = (size_t)(a - url);
	u->auth_end = at ? (size_t)(at + 1 - url) : u->auth_start;
	h = at ? at + 1 : a;
	if (*h == '[') {
		he = memchr(h, ']', (size_t)(end - h));
		u->host_start = (size_t)(h + 1 - url);
		u->host_end = he ? (size_t)(he - url) : (size_t)(end - url);
		p = he ? he + 1 : end;
	} else {
		he = memchr(h, ':', (size_t)(end - h));
		u->host_start = (size_t)(h - url);
		u->host_end = he ? (size_t)(he - url) : (size_t)(end - url);
		p = he ? he : end;
	}
	if (*p == ':' && p + 1 < end && strcmp(u->kind, "scp") != 0) {
		long port = strtol(p + 1, NULL, 10);

		u->port = port > 0 && port < 65536 ? (int)port : -1;
	}
	u->path = *end == ':' ? end + 1 : end;
}

void transport_url_redact(char *out, size_t size, const char *url)
{
	struct url_parts u;
	size_t n;

	if (size == 0)
		return;
	parse_url(&u, url);
	n = u.auth_start;
	if (n >= size)
		n = size - 1;
	memcpy(out, url, n);
	snprintf(out + n, size - n, "%s", url + u.auth_end);
}

/* Redact every "scheme://user:pass@" in a message, and make it one line. */
static void clean_message(char *out, size_t size, const char *msg)
{
	size_t o = 0;
	const char *p = msg, *sep, *end, *at;

	while (*p && o + 1 < size) {
		if ((sep = strstr(p, "://")) && sep == p) {
			end = p + 3 + strcspn(p + 3, "/ \t\r\n'\"");
			at = NULL;
			for (const char *q = p + 3; q < end; q++)
				if (*q == '@')
					at = q;
			if (o + 4 < size) {
				memcpy(out + o, "://", 3);
				o += 3;
			}
			p = at ? at + 1 : p + 3;
			continue;
		}
		out[o++] = ((unsigned char)*p < 0x20 || *p == 0x7f) ? ' ' : *p;
		p++;
	}
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
}

static int known_scheme(const char *kind)
{
	static const char *const ok[] = { "file", "git",     "http",    "https",
					  "ssh",  "git+ssh", "ssh+git", NULL };
	size_t i;

	for (i = 0; ok[i]; i++)
		if (strcmp(kind, ok[i]) == 0)
			return 1;
	return 0;
}

/* Drop "." and ".." components and doubled slashes of an absolute path. */
static void normalize_path(char *path)
{
	char *src = path, *dst = path, *seg;
	size_t n;

	while (*src) {
		while (*src == '/')
			src++;
		if (!*src)
			break;
		seg = src;
		n = strcspn(src, "/");
		src += n;
		if (n == 1 && seg[0] == '.')
			continue;
		if (n == 2 && seg[0] == '.' && seg[1] == '.') {
			while (dst > path && *--dst != '/')
				;
			continue;
		}
		*dst++ = '/';
		memmove(dst, seg, n);
		dst += n;
	}
	if (dst == path)
		*dst++ = '/';
	*dst = '\0';
}

int transport_check_url(char *out, size_t size, const char *url)
{
	struct url_parts u;
	const char *p;
	char cwd[PATH_MAX];
	int local;

	if (!url || !*url)
		return error_set(ERROR_INVALID, "invalid remote URL '': empty");
	if (strlen(url) >= 2048)
		return error_set(
			ERROR_INVALID,
			"invalid remote URL: longer than %d bytes", 2047);
	for (p = url; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return error_set(
				ERROR_INVALID,
				"invalid remote URL: it holds a control "
				"character");
	if (url[0] == '-')
		return error_set(
			ERROR_INVALID,
			"invalid remote URL '%s': it must not start with '-'",
			url);
	parse_url(&u, url);
	local = u.kind[0] == '\0';
	if (!local && strchr(url, ' ') && strcmp(u.kind, "file") != 0)
		return error_set(
			ERROR_INVALID,
			"invalid remote URL '%s': spaces must be written %%20",
			url);
	if (!local && strcmp(u.kind, "scp") != 0 && !known_scheme(u.kind))
		return error_set(
			ERROR_INVALID,
			"invalid remote URL '%s': unsupported scheme '%s' (use "
			"a path, file://, git://, http://, https:// or ssh://)",
			url, u.kind);
	if (!local &&
	    memchr(url + u.auth_start, ':', u.auth_end - u.auth_start)) {
		char shown[TRANSPORT_URL_MAX];

		transport_url_redact(shown, sizeof(shown), url);
		return error_set(
			ERROR_INVALID,
			"invalid remote URL '%s': it holds a password; use a "
			"git credential helper instead",
			shown);
	}
	if (strcmp(u.kind, "file") == 0) {
		if (u.host_end > u.host_start &&
		    strncmp(url + u.host_start, "localhost",
			    u.host_end - u.host_start) != 0)
			return error_set(
				ERROR_INVALID,
				"invalid remote URL '%s': file:// URLs name "
				"a local path (file:///path)",
				url);
		if (u.path[0] != '/')
			return error_set(
				ERROR_INVALID,
				"invalid remote URL '%s': no path", url);
	} else if (!local) {
		if (u.host_end <= u.host_start)
			return error_set(
				ERROR_INVALID,
				"invalid remote URL '%s': no host", url);
		if (u.port < 0)
			return error_set(
				ERROR_INVALID,
				"invalid remote URL '%s': bad port", url);
		for (p = url + u.host_start; p < url + u.host_end; p++)
			if (!is_alnum((unsigned char)*p) && *p != '.' &&
			    *p != '-' && *p != ':' && *p != '_')
				return error_set(
					ERROR_INVALID,
					"invalid remote URL '%s': bad host name",
					url);
	}
	if (local) {
		char joined[PATH_MAX * 2], real[PATH_MAX];

		if (url[0] == '/')
			snprintf(joined, sizeof(joined), "%s", url);
		else if (!getcwd(cwd, sizeof(cwd)))
			return error_set(
				ERROR_GENERIC,
				"cannot get the current folder: %s",
				strerror(errno));
		else
			snprintf(joined, sizeof(joined), "%s/%s", cwd, url);
		/* An existing path is stored resolved, a missing one tidied. */
		if (realpath(joined, real))
			snprintf(joined, sizeof(joined), "%s", real);
		else
			normalize_path(joined);
		if ((size_t)snprintf(out, size, "%s", joined) >= size)
			return error_set(
				ERROR_INVALID,
				"invalid remote URL '%s': too long", url);
		return 0;
	}
	if ((size_t)snprintf(out, size, "%s", url) >= size)
		return error_set(
			ERROR_INVALID, "invalid remote URL '%s': too long",
			url);
	return 0;
}

/* ---- progress ----------------------------------------------------------- */

int transport_progress_line(
	char *buf,
	size_t size,
	const struct transport_progress *p)
{
	static const char *const what[] = { "receiving objects",
					    "resolving deltas",
					    "packing objects",
					    "sending objects" };
	int pct = -1;
	size_t i, o;

	if (size == 0)
		return -1;
	if (p->phase == TRANSPORT_REMOTE) {
		o = (size_t)snprintf(buf, size, "remote: ");
		for (i = 0; i < p->len && o + 1 < size; i++) {
			unsigned char c = (unsigned char)p->text[i];

			if (c >= 0x20 || c == '\r' || c == '\n')
				buf[o++] = (char)c;
		}
		buf[o < size ? o : size - 1] = '\0';
		return -1;
	}
	if (p->total)
		pct = (int)(p->done * 100 / p->total);
	if ((p->phase == TRANSPORT_RECEIVING ||
	     p->phase == TRANSPORT_SENDING) &&
	    p->bytes > 0)
		snprintf(
			buf, size, "%s: %3d%% (%zu/%zu), %.1f MiB",
			what[p->phase], pct < 0 ? 0 : pct, p->done, p->total,
			(double)p->bytes / (1024.0 * 1024.0));
	else
		snprintf(
			buf, size, "%s: %3d%% (%zu/%zu)", what[p->phase],
			pct < 0 ? 0 : pct, p->done, p->total);
	return pct;
}

/* ---- remotes ------------------------------------------------------------ */

/*
 * libgit2 1.5.1 leaks PCRE2 match data on every regex match, and
 * git_remote_lookup, git_remote_create, git_remote_delete and
 * git_remote_list all match config names by regex.  So remotes are read
 * and written here through plain config entries and iterators (no regex),
 * and a connection uses an anonymous remote for the configured URL
 * (url.<base>.insteadOf is therefore not applied).
 */

/* The config value of remote.<name>.<key> into out ("" when unset). */
static int remote_config(
	char *out,
	size_t size,
	git_repository *repo,
	const char *name,
	const char *key)
{
	git_config *cfg = NULL;
	git_config_entry *e = NULL;
	char var[TRANSPORT_REF_MAX];
	int rc, error = 0;

	out[0] = '\0';
	snprintf(var, sizeof(var), "remote.%s.%s", name, key);
	if ((rc = git_repository_config_snapshot(&cfg, repo)) < 0) {
		error = repo_git_error(rc, "cannot read the configuration");
		goto done;
	}
	rc = git_config_get_entry(&e, cfg, var);
	if (rc == GIT_ENOTFOUND)
		goto done;
	if (rc < 0) {
		error = repo_git_error(rc, "cannot read the configuration");
		goto done;
	}
	if ((size_t)snprintf(out, size, "%s", e->value ? e->value : "") >= size)
		error = error_set(
			ERROR_INVALID, "the URL of remote '%s' is too long",
			name);
done:
	git_config_entry_free(e);
	git_config_free(cfg);
	return error;
}

/* Calls fn with every config entry named prefix...; stops on an error. */
static int config_each(
	git_repository *repo,
	const char *prefix,
	int (*fn)(git_config *cfg, const git_config_entry *e, void *ctx),
	void *ctx)
{
	git_config *cfg = NULL, *snap = NULL;
	git_config_iterator *it = NULL;
	git_config_entry *e;
	size_t plen = strlen(prefix);
	int rc, error = 0;

	if ((rc = git_repository_config(&cfg, repo)) < 0 ||
	    (rc = git_config_snapshot(&snap, cfg)) < 0 ||
	    (rc = git_config_iterator_new(&it, snap)) < 0) {
		error = repo_git_error(rc, "cannot read the configuration");
		goto done;
	}
	while ((rc = git_config_next(&e, it)) == 0) {
		if (strncmp(e->name, prefix, plen) != 0)
			continue;
		if ((error = fn(cfg, e, ctx)) < 0)
			goto done;
	}
	if (rc != GIT_ITEROVER)
		error = repo_git_error(rc, "cannot read the configuration");
done:
	git_config_iterator_free(it);
	git_config_free(snap);
	git_config_free(cfg);
	return error;
}

static int found_entry(git_config *cfg, const git_config_entry *e, void *ctx)
{
	(void)cfg;
	(void)e;
	*(int *)ctx = 1;
	return 0;
}

int transport_remote_add(
	struct git_repository *repo,
	const char *name,
	const char *url)
{
	char stored[TRANSPORT_URL_MAX], prefix[TRANSPORT_REF_MAX];
	char var[TRANSPORT_REF_MAX], spec[TRANSPORT_REF_MAX];
	git_config *cfg = NULL;
	int rc, exists = 0, error;

	if ((error = transport_check_name(name)) < 0 ||
	    (error = transport_check_url(stored, sizeof(stored), url)) < 0)
		return error;
	snprintf(prefix, sizeof(prefix), "remote.%s.", name);
	if ((error = config_each(repo, prefix, found_entry, &exists)) < 0)
		return error;
	if (exists)
		return error_set(
			ERROR_EXISTS, "remote '%s' already exists", name);
	if ((rc = git_repository_config(&cfg, repo)) < 0)
		return repo_git_error(rc, "cannot open the configuration");
	snprintf(var, sizeof(var), "remote.%s.url", name);
	snprintf(spec, sizeof(spec), "+refs/heads/*:refs/remotes/%s/*", name);
	if ((rc = git_config_set_string(cfg, var, stored)) < 0) {
		error = repo_git_error(rc, "cannot add remote");
		goto done;
	}
	snprintf(var, sizeof(var), "remote.%s.fetch", name);
	if ((rc = git_config_set_string(cfg, var, spec)) < 0)
		error = repo_git_error(rc, "cannot add remote");
done:
	git_config_free(cfg);
	return error;
}

/* Delete every ref matching glob. */
static int delete_refs(git_repository *repo, const char *glob)
{
	git_reference_iterator *it = NULL;
	git_reference *ref = NULL;
	int rc, error = 0;

	if ((rc = git_reference_iterator_glob_new(&it, repo, glob)) < 0)
		return repo_git_error(rc, "cannot list refs");
	while ((rc = git_reference_next(&ref, it)) == 0) {
		rc = git_reference_delete(ref);
		git_reference_free(ref);
		ref = NULL;
		if (rc < 0) {
			error = repo_git_error(rc, "cannot delete a ref");
			goto done;
		}
	}
	if (rc != GIT_ITEROVER)
		error = repo_git_error(rc, "cannot list refs");
done:
	git_reference_iterator_free(it);
	return error;
}

struct unset_ctx {
	const char *name;
	int found;
};

/* Delete one remote.<name>.* entry (every value of a multivar). */
static int unset_remote(git_config *cfg, const git_config_entry *e, void *ctx)
{
	struct unset_ctx *u = ctx;
	int rc;

	u->found = 1;
	rc = git_config_delete_entry(cfg, e->name);
	if (rc == GIT_ENOTFOUND)
		return 0; /* an earlier value of a multivar took it along */
	if (rc < 0)
		rc = git_config_delete_multivar(cfg, e->name, ".*");
	if (rc < 0 && rc != GIT_ENOTFOUND)
		return repo_git_error(rc, "cannot remove remote");
	return 0;
}

/* Drop branch.<b>.remote = name and its branch.<b>.merge. */
static int unset_upstream(git_config *cfg, const git_config_entry *e, void *ctx)
{
	struct unset_ctx *u = ctx;
	char merge[TRANSPORT_REF_MAX];
	size_t len = strlen(e->name);
	int rc;

	if (len < 7 || strcmp(e->name + len - 7, ".remote") != 0 || !e->value ||
	    strcmp(e->value, u->name) != 0 || len >= sizeof(merge))
		return 0;
	snprintf(merge, sizeof(merge), "%.*s.merge", (int)(len - 7), e->name);
	if ((rc = git_config_delete_entry(cfg, e->name)) < 0 &&
	    rc != GIT_ENOTFOUND)
		return repo_git_error(rc, "cannot remove remote");
	rc = git_config_delete_entry(cfg, merge);
	if (rc < 0 && rc != GIT_ENOTFOUND)
		return repo_git_error(rc, "cannot remove remote");
	return 0;
}

int transport_remote_remove(struct git_repository *repo, const char *name)
{
	struct unset_ctx u = { name, 0 };
	char glob[TRANSPORT_REF_MAX], prefix[TRANSPORT_REF_MAX];
	int error;

	if ((error = transport_check_name(name)) < 0)
		return error;
	snprintf(prefix, sizeof(prefix), "remote.%s.", name);
	if ((error = config_each(repo, prefix, found_entry, &u.found)) < 0)
		return error;
	if (!u.found)
		return error_set(ERROR_NOTFOUND, "no remote '%s'", name);
	if ((error = config_each(repo, prefix, unset_remote, &u)) < 0 ||
	    (error = config_each(repo, "branch.", unset_upstream, &u)) < 0)
		return error;
	snprintf(glob, sizeof(glob), "refs/remotes/%s/*", name);
	if ((error = delete_refs(repo, glob)) < 0)
		return error;
	snprintf(glob, sizeof(glob), "%s%s/*", TRANSPORT_INCOMING, name);
	return delete_refs(repo, glob);
}

static int cmp_remote(const void *a, const void *b)
{
	return strcmp(
		((const struct transport_remote *)a)->name,
		((const struct transport_remote *)b)->name);
}

void transport_remotes_free(struct transport_remote *remotes, size_t n)
{
	size_t i;

	if (!remotes)
		return;
	for (i = 0; i < n; i++) {
		free(remotes[i].name);
		free(remotes[i].url);
	}
	free(remotes);
}

/*
 * The remotes are read from the configuration directly (remote.<name>.url,
 * the last value winning, as git does): libgit2 1.5's git_remote_list
 * matches with a regex that leaks PCRE2 match data on every call.
 */
int transport_remote_list(
	struct transport_remote **out,
	size_t *out_n,
	struct git_repository *repo)
{
	git_config *cfg = NULL;
	git_config_iterator *it = NULL;
	git_config_entry *e;
	struct transport_remote *list = NULL, *grown;
	char shown[TRANSPORT_URL_MAX];
	size_t i, n = 0, cap = 0, len;
	int rc, error = 0;

	if ((rc = git_repository_config_snapshot(&cfg, repo)) < 0 ||
	    (rc = git_config_iterator_new(&it, cfg)) < 0) {
		error = repo_git_error(rc, "cannot read remotes");
		goto done;
	}
	while ((rc = git_config_next(&e, it)) == 0) {
		len = strlen(e->name);
		if (len <= 11 || strncmp(e->name, "remote.", 7) != 0 ||
		    strcmp(e->name + len - 4, ".url") != 0)
			continue;
		len -= 11; /* the name between "remote." and ".url" */
		transport_url_redact(
			shown, sizeof(shown), e->value ? e->value : "");
		for (i = 0; i < n; i++)
			if (strlen(list[i].name) == len &&
			    strncmp(list[i].name, e->name + 7, len) == 0)
				break;
		if (i < n) {
			free(list[i].url);
			if (!(list[i].url = strdup(shown))) {
				error = error_nomem();
				goto done;
			}
			continue;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			if (!(grown = realloc(list, cap * sizeof(*list)))) {
				error = error_nomem();
				goto done;
			}
			list = grown;
		}
		list[n].name = strndup(e->name + 7, len);
		list[n].url = strdup(shown);
		n++;
		if (!list[n - 1].name || !list[n - 1].url) {
			error = error_nomem();
			goto done;
		}
	}
	if (rc != GIT_ITEROVER) {
		error = repo_git_error(rc, "cannot read remotes");
		goto done;
	}
	if (n)
		qsort(list, n, sizeof(*list), cmp_remote);
	*out = list;
	*out_n = n;
	list = NULL;
done:
	transport_remotes_free(list, n);
	git_config_iterator_free(it);
	git_config_free(cfg);
	return error;
}

/* ---- helper processes --------------------------------------------------- */

/*
 * Run argv with input on its stdin, its stdout into out (at most size-1
 * bytes, NUL-terminated), its stderr to /dev/null.  *status: its exit
 * status (-1 if it did not exit normally).  extra_env: one more
 * "NAME=value" for its environment, or NULL.
 */
static int run_helper(
	int *status,
	char *out,
	size_t size,
	char *const argv[],
	const char *input,
	const char *extra_env)
{
	posix_spawn_file_actions_t fa;
	int in[2] = { -1, -1 }, outp[2] = { -1, -1 }, fa_ok = 0;
	pid_t pid = -1;
	size_t n = 0, envc = 0, i;
	char **envp = NULL;
	struct sigaction ign, old;
	ssize_t r;
	int wst, error = 0;

	out[0] = '\0';
	*status = -1;
	while (environ[envc])
		envc++;
	if (!(envp = calloc(envc + 2, sizeof(*envp)))) {
		error = error_nomem();
		goto done;
	}
	for (i = 0; i < envc; i++)
		envp[i] = environ[i];
	if (extra_env)
		envp[envc] = (char *)extra_env;
	if (pipe(in) < 0 || pipe(outp) < 0) {
		error = error_set(
			ERROR_GENERIC, "cannot run %s: %s", argv[0],
			strerror(errno));
		goto done;
	}
	if (posix_spawn_file_actions_init(&fa) != 0) {
		error = error_nomem();
		goto done;
	}
	fa_ok = 1;
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addclose(&fa, in[1]);
	posix_spawn_file_actions_addclose(&fa, outp[0]);
	if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, envp) != 0) {
		pid = -1;
		error = error_set(
			ERROR_GENERIC, "cannot run %s: %s", argv[0],
			strerror(errno));
		goto done;
	}
	close(in[0]);
	close(outp[1]);
	in[0] = outp[1] = -1;
	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &ign, &old);
	if (input && *input) {
		size_t len = strlen(input), off = 0;

		while (off < len) {
			r = write(in[1], input + off, len - off);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			off += (size_t)r;
		}
	}
	sigaction(SIGPIPE, &old, NULL);
	close(in[1]);
	in[1] = -1;
	for (;;) {
		char sink[512];

		if (n + 1 < size)
			r = read(outp[0], out + n, size - 1 - n);
		else
			r = read(outp[0], sink, sizeof(sink));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (n + 1 < size)
			n += (size_t)r;
		sodium_memzero(sink, sizeof(sink));
	}
	out[n] = '\0';
done:
	if (pid > 0) {
		while (waitpid(pid, &wst, 0) < 0 && errno == EINTR)
			;
		*status = WIFEXITED(wst) ? WEXITSTATUS(wst) : -1;
	}
	if (fa_ok)
		posix_spawn_file_actions_destroy(&fa);
	for (i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (outp[i] >= 0)
			close(outp[i]);
	}
	free(envp);
	return error;
}

static const char *home_dir(void)
{
	const char *h = getenv("HOME");
	struct passwd *pw;

	if (h && *h)
		return h;
	pw = getpwuid(getuid());
	return pw && pw->pw_dir ? pw->pw_dir : "/";
}

/* ---- a session with one remote ------------------------------------------ */

struct session {
	git_repository *repo;
	const char *name; /* the remote's name */
	char url[TRANSPORT_URL_MAX]; /* redacted, for messages */
	char cred_url[TRANSPORT_URL_MAX]; /* redacted, for git credential */
	struct url_parts parts;
	char host[256];
	const struct transport_options *opts;
	int ssh_step; /* next ssh credential to try */
	int http_attempts;
	int auth_failed; /* the remote refused our credentials */
	char *cred; /* sodium_malloc: the last `git credential fill` answer */
	int cb_error; /* a callback's refusal: code and message */
	char cb_msg[MSG_MAX];
	int rejected; /* push: the remote refused a ref */
	char reject_ref[TRANSPORT_REF_MAX];
	char reject_status[MSG_MAX];
};

/*
 * As git does: GIT_SSL_CAINFO, else http.sslCAInfo, names the file of
 * certificate authorities that https servers are checked against (an
 * organisation's own CA); otherwise the system's.
 */
static int set_ca(git_repository *repo)
{
	git_config *cfg = NULL;
	git_buf path = { NULL, 0, 0 };
	const char *file = getenv("GIT_SSL_CAINFO");
	int rc, error = 0;

	if ((!file || !*file) &&
	    git_repository_config_snapshot(&cfg, repo) == 0 &&
	    git_config_get_path(&path, cfg, "http.sslcainfo") == 0)
		file = path.ptr;
	if (file && *file) {
		if (access(file, R_OK) != 0)
			error = error_set(
				ERROR_NET, "cannot read the CA file '%s': %s",
				file, strerror(errno));
		else if (
			(rc = git_libgit2_opts(
				 GIT_OPT_SET_SSL_CERT_LOCATIONS, file, NULL)) <
			0)
			error = repo_git_error(rc, "cannot use the CA file");
	}
	git_buf_dispose(&path);
	git_config_free(cfg);
	return error;
}

static int session_init(
	struct session *s,
	git_repository *repo,
	const char *name,
	const char *url,
	const struct transport_options *opts)
{
	size_t hl;

	memset(s, 0, sizeof(*s));
	s->repo = repo;
	s->name = name;
	s->opts = opts;
	transport_url_redact(s->url, sizeof(s->url), url ? url : "");
	snprintf(s->cred_url, sizeof(s->cred_url), "%s", s->url);
	parse_url(&s->parts, s->url);
	hl = s->parts.host_end - s->parts.host_start;
	if (hl >= sizeof(s->host))
		hl = sizeof(s->host) - 1;
	memcpy(s->host, s->url + s->parts.host_start, hl);
	s->host[hl] = '\0';
	if (sodium_init() < 0)
		return error_set(ERROR_GENERIC, "cannot initialise libsodium");
	if (strcmp(s->parts.kind, "https") == 0)
		return set_ca(repo);
	return 0;
}

/*
 * A local remote (path or file://) that is not there: say so plainly
 * rather than libgit2's "unsupported URL protocol".
 */
static int local_missing(struct session *s, const char *doing)
{
	const char *path = s->url;
	struct stat st;

	if (strcmp(s->parts.kind, "file") == 0)
		path = s->parts.path;
	else if (s->parts.kind[0] != '\0')
		return 0;
	if (stat(path, &st) == 0)
		return 0;
	return error_set(
		ERROR_NET,
		"cannot %s remote '%s' (%s): no repository there (%s; is the "
		"drive mounted?)",
		doing, s->name, s->url, strerror(errno));
}

static int same_path(const char *path, void *arg)
{
	return strcmp(path, arg) == 0;
}

/* Filesystems other machines may write too: their locks are not ours to
 * judge. */
static int network_fs(unsigned long type)
{
	switch (type) {
	case 0x6969UL: /* NFS */
	case 0x517BUL: /* SMB */
	case 0xFF534D42UL: /* CIFS */
	case 0xFE534D42UL: /* SMB2 */
	case 0x65735546UL: /* FUSE: sshfs and the like */
	case 0x564CUL: /* NCP */
	case 0x73757245UL: /* Coda */
	case 0x5346414FUL: /* AFS */
	case 0x00C36400UL: /* Ceph */
	case 0x01021997UL: /* 9P */
		return 1;
	default:
		return 0;
	}
}

/*
 * A local hub's branch lock (refs/heads/BRANCH.lock) that a killed push
 * left behind: every later push to the hub would fail on it.  It goes
 * when it is stale for sure: on a disk of this machine (not a network
 * share, where another machine's push cannot be seen), held open by no
 * process here, and still there STALE_LOCK_MS after it was last written
 * (a live push writes, closes and renames its lock within milliseconds;
 * a younger one is waited for).  Anything else is left for the push to
 * report.
 */
#define STALE_LOCK_MS 2000

static void clear_stale_lock(const struct session *s, const char *refname)
{
	const char *path = s->url;
	char dir[PATH_MAX], real[PATH_MAX], lock[PATH_MAX + 300];
	struct timespec now, nap = { 0, 100 * 1000 * 1000 };
	struct statfs fs;
	struct stat st;
	long long age;
	int tries;

	if (strcmp(s->parts.kind, "file") == 0)
		path = s->parts.path;
	else if (s->parts.kind[0] != '\0')
		return;
	/* a bare hub, or a repository with its .git */
	if (strlen(path) + 6 > sizeof(dir))
		return;
	snprintf(dir, sizeof(dir), "%s/.git", path);
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		dir[strlen(path)] = '\0';
	if (!realpath(dir, real) || statfs(real, &fs) < 0 ||
	    network_fs((unsigned long)fs.f_type) ||
	    (size_t)snprintf(lock, sizeof(lock), "%s/%s.lock", real, refname) >=
		    sizeof(lock))
		return;
	for (tries = 0; tries < STALE_LOCK_MS / 100 + 10; tries++) {
		if (lstat(lock, &st) < 0 || !S_ISREG(st.st_mode) ||
		    fsutil_open_elsewhere(same_path, lock))
			return; /* none, gone (a live push finished), or held */
		clock_gettime(CLOCK_REALTIME, &now);
		age = (long long)(now.tv_sec - st.st_mtim.tv_sec) * 1000 +
		      (now.tv_nsec - st.st_mtim.tv_nsec) / 1000000;
		if (age > STALE_LOCK_MS) {
			(void)unlink(lock);
			return;
		}
		nanosleep(&nap, NULL);
	}
}

static int cb_fail(struct session *s, int code, const char *fmt, ...)
	ERROR_PRINTF(3, 4);

static int cb_fail(struct session *s, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->cb_msg, sizeof(s->cb_msg), fmt, ap);
	va_end(ap);
	s->cb_error = code;
	return -1;
}

/* `git credential approve|reject` with the last answer; forgets it. */
static void cred_report(struct session *s, const char *verb)
{
	char *argv[] = { (char *)"git", (char *)"credential", (char *)verb,
			 NULL };
	char sink[256];
	int status;

	if (!s->cred)
		return;
	run_helper(
		&status, sink, sizeof(sink), argv, s->cred,
		"GIT_TERMINAL_PROMPT=0");
	sodium_free(s->cred);
	s->cred = NULL;
}

static void session_release(struct session *s, int ok)
{
	if (ok)
		cred_report(s, "approve");
	else if (s->auth_failed)
		cred_report(s, "reject");
	if (s->cred)
		sodium_free(s->cred);
	s->cred = NULL;
}

/*
 * Map a failed libgit2 network call to ERROR_NET (a callback's own refusal
 * keeps its code and message).  doing: "fetch from" or "push to".
 */
static int net_fail(struct session *s, int rc, const char *doing)
{
	const git_error *e = git_error_last();
	char msg[MSG_MAX];

	if (s->cb_error)
		return error_set(s->cb_error, "%s", s->cb_msg);
	clean_message(
		msg, sizeof(msg),
		e && e->message ? e->message : "unknown error");
	if (e && e->klass == GIT_ERROR_NOMEMORY)
		return error_nomem();
	if (rc == GIT_EAUTH || strstr(msg, "authentication"))
		s->auth_failed = 1;
	if (rc == GIT_EAUTH)
		return error_set(
			ERROR_NET,
			"cannot %s remote '%s' (%s): authentication failed: %s",
			doing, s->name, s->url, msg);
	return error_set(
		ERROR_NET, "cannot %s remote '%s' (%s): %s", doing, s->name,
		s->url, msg);
}

/* ---- callbacks ---------------------------------------------------------- */

static void report(struct session *s, struct transport_progress *p)
{
	if (s->opts && s->opts->progress)
		s->opts->progress(p, s->opts->progress_ctx);
}

static int on_sideband(const char *str, int len, void *payload)
{
	struct transport_progress p = { TRANSPORT_REMOTE,         0, 0, 0, str,
					len > 0 ? (size_t)len : 0 };

	report(payload, &p);
	return 0;
}

static int on_transfer(const git_indexer_progress *stats, void *payload)
{
	struct transport_progress p = { TRANSPORT_RECEIVING, 0, 0, 0, NULL, 0 };

	if (stats->received_objects < stats->total_objects ||
	    stats->total_deltas == 0) {
		p.done = stats->received_objects;
		p.total = stats->total_objects;
		p.bytes = stats->received_bytes;
	} else {
		p.phase = TRANSPORT_RESOLVING;
		p.done = stats->indexed_deltas;
		p.total = stats->total_deltas;
	}
	report(payload, &p);
	return 0;
}

static int on_pack(int stage, uint32_t current, uint32_t total, void *payload)
{
	struct transport_progress p = {
		TRANSPORT_PACKING, current, total, 0, NULL, 0
	};

	(void)stage;
	report(payload, &p);
	return 0;
}

static int on_push_transfer(
	unsigned int current,
	unsigned int total,
	size_t bytes,
	void *payload)
{
	struct transport_progress p = {
		TRANSPORT_SENDING, current, total, bytes, NULL, 0
	};

	report(payload, &p);
	return 0;
}

static int on_push_ref(const char *refname, const char *status, void *payload)
{
	struct session *s = payload;

	if (status && !s->rejected) {
		s->rejected = 1;
		snprintf(s->reject_ref, sizeof(s->reject_ref), "%s", refname);
		clean_message(
			s->reject_status, sizeof(s->reject_status), status);
	}
	return 0;
}

/* Look the host key up in one known_hosts file: 1 match, 0 none, -1 bad. */
static int
known_host(const char *file, const char *lookup, const char *key64, int *listed)
{
	char *argv[] = { (char *)"ssh-keygen", (char *)"-F", (char *)lookup,
			 (char *)"-f",         (char *)file, NULL };
	char out[16384], *line, *save = NULL;
	int status, found = 0;

	if (access(file, R_OK) != 0)
		return 0;
	if (run_helper(&status, out, sizeof(out), argv, "", NULL) < 0)
		return -2;
	for (line = strtok_r(out, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *f[4] = { NULL }, *tok, *s2 = NULL;
		int nf = 0, revoked = 0;

		if (line[0] == '#' || line[0] == '\0')
			continue;
		for (tok = strtok_r(line, " \t", &s2); tok && nf < 4;
		     tok = strtok_r(NULL, " \t", &s2))
			f[nf++] = tok;
		if (nf >= 1 && f[0][0] == '@') {
			if (strcmp(f[0], "@revoked") != 0)
				continue; /* @cert-authority: not used here */
			revoked = 1;
			memmove(f, f + 1, 3 * sizeof(f[0]));
			nf--;
		}
		if (nf < 3)
			continue;
		if (strcmp(f[2], key64) == 0) {
			if (revoked)
				return -1;
			found = 1;
		} else if (!revoked) {
			*listed = 1;
		}
	}
	return found;
}

static int
on_certificate(git_cert *cert, int valid, const char *host, void *payload)
{
	struct session *s = payload;
	git_cert_hostkey *hk = (git_cert_hostkey *)cert;
	char lookup[300], file[PATH_MAX], *key64 = NULL;
	const char *files[2];
	size_t len, i;
	int listed = 0, found = 0, r, port;

	if (cert->cert_type != GIT_CERT_HOSTKEY_LIBSSH2) {
		if (valid)
			return 0;
		return cb_fail(
			s, ERROR_NET,
			"cannot connect to remote '%s' (%s): the TLS "
			"certificate of '%s' is not trusted (for an "
			"organisation's own CA, set http.sslCAInfo)",
			s->name, s->url, host);
	}
	if (!(hk->type & GIT_CERT_SSH_RAW) || !hk->hostkey || !hk->hostkey_len)
		return cb_fail(
			s, ERROR_NET,
			"cannot check the host key of '%s' for remote '%s': "
			"libgit2 gave no raw key",
			host, s->name);
	port = s->parts.port > 0 ? s->parts.port : 22;
	if (port == 22)
		snprintf(lookup, sizeof(lookup), "%s", host);
	else
		snprintf(lookup, sizeof(lookup), "[%s]:%d", host, port);
	len = sodium_base64_encoded_len(
		hk->hostkey_len, sodium_base64_VARIANT_ORIGINAL);
	if (!(key64 = malloc(len))) {
		cb_fail(s, ERROR_NOMEM, "out of memory");
		return -1;
	}
	sodium_bin2base64(
		key64, len, (const unsigned char *)hk->hostkey, hk->hostkey_len,
		sodium_base64_VARIANT_ORIGINAL);
	snprintf(file, sizeof(file), "%s/.ssh/known_hosts", home_dir());
	files[0] = file;
	files[1] = "/etc/ssh/ssh_known_hosts";
	for (i = 0; i < 2 && !found; i++) {
		r = known_host(files[i], lookup, key64, &listed);
		if (r == -1) {
			free(key64);
			return cb_fail(
				s, ERROR_NET,
				"the host key of '%s' (remote '%s') is revoked "
				"in %s",
				lookup, s->name, files[i]);
		}
		if (r < -1) {
			free(key64);
			return cb_fail(
				s, ERROR_NET,
				"cannot check the host key of '%s' for remote "
				"'%s': ssh-keygen is missing",
				lookup, s->name);
		}
		found = r == 1;
	}
	free(key64);
	if (found)
		return 0;
	if (listed)
		return cb_fail(
			s, ERROR_NET,
			"the host key of '%s' (remote '%s') does not match "
			"~/.ssh/known_hosts: refusing to connect (it may be "
			"an impostor)",
			lookup, s->name);
	return cb_fail(
		s, ERROR_NET,
		"the host key of '%s' (remote '%s') is not in "
		"~/.ssh/known_hosts; connect once with ssh%s%.0d %s to check "
		"and record it",
		lookup, s->name, port == 22 ? "" : " -p ",
		port == 22 ? 0 : port, host);
}

static int
ssh_key_exists(char *priv, size_t psize, char *pub, size_t pubsz, int i)
{
	static const char *const names[] = { "id_ed25519", "id_ecdsa",
					     "id_rsa" };

	snprintf(priv, psize, "%s/.ssh/%s", home_dir(), names[i]);
	snprintf(pub, pubsz, "%s.pub", priv);
	return access(priv, R_OK) == 0;
}

static int cred_ssh(
	git_credential **out,
	struct session *s,
	const char *user,
	unsigned allowed)
{
	char priv[PATH_MAX], pub[PATH_MAX + 8];
	const char *sock = getenv("SSH_AUTH_SOCK");

	if (!(allowed & GIT_CREDENTIAL_SSH_KEY))
		return cb_fail(
			s, ERROR_NET,
			"cannot authenticate to remote '%s' (%s): the server "
			"accepts no ssh keys",
			s->name, s->url);
	/* Step 0: the agent; steps 1..3: key files. */
	while (s->ssh_step < 4) {
		int step = s->ssh_step++;

		if (step == 0) {
			if (sock && *sock)
				return git_credential_ssh_key_from_agent(
					out, user);
			continue;
		}
		if (ssh_key_exists(
			    priv, sizeof(priv), pub, sizeof(pub), step - 1))
			return git_credential_ssh_key_new(
				out, user, access(pub, R_OK) == 0 ? pub : NULL,
				priv, NULL);
	}
	return cb_fail(
		s, ERROR_NET,
		"cannot authenticate to remote '%s' (%s) as '%s': no ssh key "
		"was accepted (tried the ssh-agent and ~/.ssh/id_ed25519, "
		"id_ecdsa, id_rsa)",
		s->name, s->url, user);
}

static int cred_http(git_credential **out, struct session *s, const char *user)
{
	char *argv[] = { (char *)"git", (char *)"credential", (char *)"fill",
			 NULL };
	char input[TRANSPORT_URL_MAX + 600];
	char *answer = NULL, *work = NULL, *u, *p, *line, *next;
	int status, rc = -1;

	if (s->http_attempts >= HTTP_ATTEMPTS) {
		s->auth_failed = 1;
		return cb_fail(
			s, ERROR_NET,
			"cannot authenticate to remote '%s' (%s): credentials "
			"refused %d times",
			s->name, s->url, HTTP_ATTEMPTS);
	}
	s->http_attempts++;
	cred_report(s, "reject"); /* the last answer did not work */
	if (user && *user)
		snprintf(
			input, sizeof(input), "url=%s\nusername=%s\n\n",
			s->cred_url, user);
	else
		snprintf(input, sizeof(input), "url=%s\n\n", s->cred_url);
	if (!(answer = sodium_malloc(CRED_MAX)) ||
	    !(work = sodium_malloc(CRED_MAX))) {
		cb_fail(s, ERROR_NOMEM, "out of memory");
		goto done;
	}
	if (run_helper(
		    &status, answer, CRED_MAX, argv, input,
		    s->opts && s->opts->interactive ?
			    NULL :
			    "GIT_TERMINAL_PROMPT=0") < 0) {
		cb_fail(s, error_last(), "%s", error_message());
		goto done;
	}
	memcpy(work, answer, CRED_MAX);
	u = p = NULL;
	for (line = work; line && *line; line = next) {
		if ((next = strchr(line, '\n')))
			*next++ = '\0';
		if (strncmp(line, "username=", 9) == 0)
			u = line + 9;
		else if (strncmp(line, "password=", 9) == 0)
			p = line + 9;
	}
	if ((status != 0 || !u || !p) && s->http_attempts > 1) {
		s->auth_failed = 1;
		cb_fail(s, ERROR_NET,
			"cannot authenticate to remote '%s' (%s): the "
			"credentials were refused",
			s->name, s->url);
		goto done;
	}
	if (status != 0 || !u || !p) {
		cb_fail(s, ERROR_NET,
			"cannot authenticate to remote '%s' (%s): no "
			"credentials (set up a git credential helper)",
			s->name, s->url);
		goto done;
	}
	if ((rc = git_credential_userpass_plaintext_new(out, u, p)) < 0)
		goto done;
	s->cred = answer;
	answer = NULL;
done:
	if (answer)
		sodium_free(answer);
	if (work)
		sodium_free(work);
	return rc;
}

static int on_credentials(
	git_credential **out,
	const char *url,
	const char *username_from_url,
	unsigned int allowed,
	void *payload)
{
	struct session *s = payload;
	const char *user = username_from_url;
	struct passwd *pw;

	(void)url;
	if (!user || !*user) {
		user = getenv("USER");
		if (!user || !*user) {
			pw = getpwuid(getuid());
			user = pw ? pw->pw_name : "git";
		}
	}
	if (allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT)
		return cred_http(out, s, username_from_url);
	if (allowed & GIT_CREDENTIAL_USERNAME)
		return git_credential_username_new(out, user);
	if (allowed & (GIT_CREDENTIAL_SSH_KEY | GIT_CREDENTIAL_SSH_CUSTOM |
		       GIT_CREDENTIAL_SSH_INTERACTIVE))
		return cred_ssh(out, s, user, allowed);
	return cb_fail(
		s, ERROR_NET,
		"cannot authenticate to remote '%s' (%s): no supported "
		"method",
		s->name, s->url);
}

static void set_callbacks(git_remote_callbacks *cb, struct session *s)
{
	git_remote_init_callbacks(cb, GIT_REMOTE_CALLBACKS_VERSION);
	cb->sideband_progress = on_sideband;
	cb->transfer_progress = on_transfer;
	cb->pack_progress = on_pack;
	cb->push_transfer_progress = on_push_transfer;
	cb->push_update_reference = on_push_ref;
	cb->credentials = on_credentials;
	cb->certificate_check = on_certificate;
	cb->payload = s;
}

/*
 * An anonymous remote for remote name's URL (pushurl when push is set and
 * one is configured); the URL into url.
 */
static int lookup_remote(
	git_remote **out,
	char *url,
	size_t size,
	git_repository *repo,
	const char *name,
	int push)
{
	git_remote_create_options o;
	int rc, error;

	url[0] = '\0';
	if ((error = transport_check_name(name)) < 0)
		return error;
	if (push &&
	    (error = remote_config(url, size, repo, name, "pushurl")) < 0)
		return error;
	if (!url[0] &&
	    (error = remote_config(url, size, repo, name, "url")) < 0)
		return error;
	if (!url[0])
		return error_set(
			ERROR_NOTFOUND,
			"no remote '%s'; add one with 'plansync remote add %s "
			"URL'",
			name, name);
	git_remote_create_options_init(&o, GIT_REMOTE_CREATE_OPTIONS_VERSION);
	o.repository = repo;
	o.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF |
		  GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
	if ((rc = git_remote_create_with_opts(out, url, &o)) < 0)
		return error_set(
			ERROR_INVALID, "remote '%s' has an unusable URL: %s",
			name,
			git_error_last() && git_error_last()->message ?
				git_error_last()->message :
				"unknown error");
	return 0;
}

/* ---- fetch -------------------------------------------------------------- */

struct transport_fetch {
	size_t n;
	struct transport_tip *tips;
};

void transport_fetch_free(struct transport_fetch *fetch)
{
	if (!fetch)
		return;
	free(fetch->tips);
	free(fetch);
}

size_t transport_fetch_count(const struct transport_fetch *fetch)
{
	return fetch ? fetch->n : 0;
}

const struct transport_tip *
transport_fetch_tip(const struct transport_fetch *fetch, size_t i)
{
	return fetch && i < fetch->n ? &fetch->tips[i] : NULL;
}

int transport_tip_changed(const struct transport_tip *tip)
{
	return !tip->has_old || !git_oid_equal(&tip->old_id, &tip->new_id);
}

static int cmp_tip(const void *a, const void *b)
{
	return strcmp(
		((const struct transport_tip *)a)->branch,
		((const struct transport_tip *)b)->branch);
}

static int rewritten(const char *remote, const struct transport_tip *t)
{
	return error_set(
		ERROR_VERIFY,
		"remote branch '%s/%s' was rewritten: it no longer contains "
		"%.7s, fetched from it before; refusing it (if this is "
		"intended, 'plansync remote remove %s' and add it again)",
		remote, t->branch, t->old_hex, remote);
}

/* Fill tip t's names from branch; 0, or 1 when a name does not fit. */
static int
tip_names(struct transport_tip *t, const char *remote, const char *branch)
{
	int a, b, c;

	a = snprintf(t->branch, sizeof(t->branch), "%s", branch);
	b = snprintf(
		t->tracking, sizeof(t->tracking), "refs/remotes/%s/%s", remote,
		branch);
	c = snprintf(
		t->incoming, sizeof(t->incoming), "%s%s/%s", TRANSPORT_INCOMING,
		remote, branch);
	return (size_t)a >= sizeof(t->branch) ||
	       (size_t)b >= sizeof(t->tracking) ||
	       (size_t)c >= sizeof(t->incoming);
}

int transport_fetch(
	struct transport_fetch **out,
	struct git_repository *repo,
	const char *name,
	const struct transport_options *opts)
{
	git_remote *remote = NULL;
	git_remote_callbacks cb;
	git_fetch_options fo;
	git_proxy_options proxy;
	git_reference_iterator *it = NULL;
	git_reference *ref = NULL;
	git_odb *odb = NULL;
	const git_remote_head **heads = NULL;
	struct transport_fetch *f = NULL;
	struct session s;
	char spec[TRANSPORT_REF_MAX * 2], glob[TRANSPORT_REF_MAX];
	char url[TRANSPORT_URL_MAX];
	char *specp = spec;
	git_strarray specs = { &specp, 1 };
	size_t nheads = 0, i, j;
	int rc, valid = 0, error = 0, ok = 0, session = 0;

	if ((error = lookup_remote(&remote, url, sizeof(url), repo, name, 0)) <
	    0)
		goto done;
	if ((error = session_init(&s, repo, name, url, opts)) < 0)
		goto done;
	session = 1;
	if ((error = local_missing(&s, "fetch from")) < 0)
		goto done;
	set_callbacks(&cb, &s);
	git_proxy_options_init(&proxy, GIT_PROXY_OPTIONS_VERSION);
	proxy.type = GIT_PROXY_AUTO;
	if ((rc = git_remote_connect(
		     remote, GIT_DIRECTION_FETCH, &cb, &proxy, NULL)) < 0) {
		error = net_fail(&s, rc, "fetch from");
		goto done;
	}
	if ((rc = git_remote_ls(&heads, &nheads, remote)) < 0) {
		error = net_fail(&s, rc, "fetch from");
		goto done;
	}
	if (!(f = calloc(1, sizeof(*f))) ||
	    (nheads && !(f->tips = calloc(nheads, sizeof(*f->tips))))) {
		error = error_nomem();
		goto done;
	}
	for (i = 0; i < nheads; i++) {
		struct transport_tip *t = &f->tips[f->n];
		const char *rn = heads[i]->name;

		if (strncmp(rn, "refs/heads/", 11) != 0)
			continue;
		if (tip_names(t, name, rn + 11) ||
		    git_reference_name_is_valid(&valid, t->incoming) < 0 ||
		    !valid)
			continue; /* a branch name we cannot mirror */
		git_oid_cpy(&t->new_id, &heads[i]->oid);
		git_oid_tostr(t->new_hex, sizeof(t->new_hex), &t->new_id);
		f->n++;
	}
	if (f->n) {
		snprintf(
			spec, sizeof(spec), "+refs/heads/*:%s%s/*",
			TRANSPORT_INCOMING, name);
		git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
		fo.callbacks = cb;
		fo.proxy_opts = proxy;
		fo.prune = GIT_FETCH_NO_PRUNE;
		fo.update_fetchhead = 0;
		fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
		if ((rc = git_remote_download(remote, &specs, &fo)) < 0) {
			error = net_fail(&s, rc, "fetch from");
			goto done;
		}
	}
	git_remote_disconnect(remote);
	if (f->n)
		qsort(f->tips, f->n, sizeof(*f->tips), cmp_tip);

	/* Check every tip before any ref moves. */
	if ((rc = git_repository_odb(&odb, repo)) < 0) {
		error = repo_git_error(rc, "cannot open the object database");
		goto done;
	}
	for (i = 0; i < f->n; i++) {
		struct transport_tip *t = &f->tips[i];

		if (!git_odb_exists(odb, &t->new_id)) {
			error = error_set(
				ERROR_NET,
				"cannot fetch from remote '%s' (%s): it did "
				"not send %.7s ('%s')",
				name, s.url, t->new_hex, t->branch);
			goto done;
		}
		rc = git_reference_name_to_id(&t->old_id, repo, t->tracking);
		if (rc == GIT_ENOTFOUND)
			continue;
		if (rc < 0) {
			error = repo_git_error(rc, t->tracking);
			goto done;
		}
		t->has_old = 1;
		git_oid_tostr(t->old_hex, sizeof(t->old_hex), &t->old_id);
		if (git_oid_equal(&t->old_id, &t->new_id))
			continue;
		rc = git_graph_descendant_of(repo, &t->new_id, &t->old_id);
		if (rc == 0) {
			error = rewritten(name, t);
			goto done;
		}
		if (rc < 0) {
			error = repo_git_error(rc, "cannot compare histories");
			goto done;
		}
	}

	/* The quarantine refs mirror the remote's branches. */
	for (i = 0; i < f->n; i++) {
		rc = git_reference_create(
			&ref, repo, f->tips[i].incoming, &f->tips[i].new_id, 1,
			"plansync: fetch (unverified)");
		git_reference_free(ref);
		ref = NULL;
		if (rc < 0) {
			error = repo_git_error(rc, f->tips[i].incoming);
			goto done;
		}
	}
	snprintf(glob, sizeof(glob), "%s%s/*", TRANSPORT_INCOMING, name);
	if ((rc = git_reference_iterator_glob_new(&it, repo, glob)) < 0) {
		error = repo_git_error(rc, "cannot list refs");
		goto done;
	}
	while ((rc = git_reference_next(&ref, it)) == 0) {
		const char *rn = git_reference_name(ref);

		for (j = 0; j < f->n; j++)
			if (strcmp(rn, f->tips[j].incoming) == 0)
				break;
		if (j == f->n && (rc = git_reference_delete(ref)) < 0) {
			error = repo_git_error(rc, rn);
			goto done;
		}
		git_reference_free(ref);
		ref = NULL;
	}
	if (rc != GIT_ITEROVER) {
		error = repo_git_error(rc, "cannot list refs");
		goto done;
	}
	ok = 1;
	*out = f;
	f = NULL;
done:
	if (remote)
		git_remote_disconnect(remote);
	if (session)
		session_release(&s, ok);
	git_reference_free(ref);
	git_reference_iterator_free(it);
	git_odb_free(odb);
	git_remote_free(remote);
	transport_fetch_free(f);
	return error;
}

int transport_promote(
	struct git_repository *repo,
	const char *remote,
	const struct transport_tip *tip)
{
	git_reference *ref = NULL;
	int rc;

	if (!transport_tip_changed(tip))
		return 0;
	if (tip->has_old) {
		rc = git_graph_descendant_of(repo, &tip->new_id, &tip->old_id);
		if (rc == 0)
			return rewritten(remote, tip);
		if (rc < 0)
			return repo_git_error(rc, "cannot compare histories");
		rc = git_reference_create_matching(
			&ref, repo, tip->tracking, &tip->new_id, 1,
			&tip->old_id, "plansync: fetch (verified)");
	} else {
		rc = git_reference_create(
			&ref, repo, tip->tracking, &tip->new_id, 0,
			"plansync: fetch (verified)");
	}
	git_reference_free(ref);
	if (rc == GIT_EMODIFIED || rc == GIT_EEXISTS)
		return error_set(
			ERROR_BUSY, "'%s' moved while fetching; fetch again",
			tip->tracking);
	if (rc < 0)
		return repo_git_error(rc, tip->tracking);
	return 0;
}

/* ---- push --------------------------------------------------------------- */

static int push_behind(const char *remote, const char *branch)
{
	return error_set(
		ERROR_GENERIC,
		"remote '%s' has changes to '%s' you don't have; run "
		"'plansync sync'",
		remote, branch);
}

int transport_push(
	struct transport_pushed *out,
	struct git_repository *repo,
	const char *name,
	const char *branch,
	const struct transport_options *opts)
{
	git_remote *remote = NULL;
	git_remote_callbacks cb;
	git_push_options po;
	git_proxy_options proxy;
	git_reference *head = NULL, *ref = NULL;
	const git_remote_head **heads = NULL;
	struct transport_pushed r;
	struct session s;
	char local[TRANSPORT_REF_MAX], tracking[TRANSPORT_REF_MAX];
	char url[TRANSPORT_URL_MAX];
	char spec[TRANSPORT_REF_MAX * 2], *specp = spec;
	git_strarray specs = { &specp, 1 };
	git_oid ours, theirs;
	size_t nheads = 0, i;
	int rc, error = 0, ok = 0, session = 0;

	memset(&r, 0, sizeof(r));
	if (!branch) {
		rc = git_repository_head(&head, repo);
		if (rc == GIT_EUNBORNBRANCH || rc == GIT_ENOTFOUND) {
			error = error_set(
				ERROR_NOTFOUND,
				"nothing to push: the branch has no commits");
			goto done;
		}
		if (rc < 0) {
			error = repo_git_error(rc, "cannot read HEAD");
			goto done;
		}
		if (!git_reference_is_branch(head)) {
			error = error_set(
				ERROR_GENERIC,
				"nothing to push: HEAD is not on a branch");
			goto done;
		}
		branch = git_reference_shorthand(head);
	}
	if ((size_t)snprintf(local, sizeof(local), "refs/heads/%s", branch) >=
		    sizeof(local) ||
	    (size_t)snprintf(
		    tracking, sizeof(tracking), "refs/remotes/%s/%s", name,
		    branch) >= sizeof(tracking)) {
		error = error_set(
			ERROR_INVALID, "branch name '%s' too long", branch);
		goto done;
	}
	snprintf(r.branch, sizeof(r.branch), "%s", branch);
	if ((rc = git_reference_name_to_id(&ours, repo, local)) < 0) {
		error = rc == GIT_ENOTFOUND ?
				error_set(
					ERROR_NOTFOUND, "no branch '%s'",
					branch) :
				repo_git_error(rc, local);
		goto done;
	}
	git_oid_tostr(r.new_hex, sizeof(r.new_hex), &ours);
	if ((error = lookup_remote(&remote, url, sizeof(url), repo, name, 1)) <
	    0)
		goto done;
	if ((error = session_init(&s, repo, name, url, opts)) < 0)
		goto done;
	session = 1;
	if ((error = local_missing(&s, "push to")) < 0)
		goto done;
	set_callbacks(&cb, &s);
	git_proxy_options_init(&proxy, GIT_PROXY_OPTIONS_VERSION);
	proxy.type = GIT_PROXY_AUTO;
	if ((rc = git_remote_connect(
		     remote, GIT_DIRECTION_PUSH, &cb, &proxy, NULL)) < 0) {
		error = net_fail(&s, rc, "push to");
		goto done;
	}
	if ((rc = git_remote_ls(&heads, &nheads, remote)) < 0) {
		error = net_fail(&s, rc, "push to");
		goto done;
	}
	for (i = 0; i < nheads; i++) {
		if (strcmp(heads[i]->name, local) == 0) {
			r.had_old = 1;
			git_oid_cpy(&theirs, &heads[i]->oid);
			git_oid_tostr(r.old_hex, sizeof(r.old_hex), &theirs);
		}
	}
	if (r.had_old && git_oid_equal(&theirs, &ours)) {
		r.up_to_date = 1;
	} else {
		if (r.had_old) {
			git_odb *odb = NULL;
			int have = 0;

			if (git_repository_odb(&odb, repo) == 0)
				have = git_odb_exists(odb, &theirs);
			git_odb_free(odb);
			if (!have || git_graph_descendant_of(
					     repo, &ours, &theirs) != 1) {
				error = push_behind(name, branch);
				goto done;
			}
		}
		snprintf(spec, sizeof(spec), "%s:%s", local, local);
		clear_stale_lock(&s, local);
		git_push_options_init(&po, GIT_PUSH_OPTIONS_VERSION);
		po.callbacks = cb;
		po.proxy_opts = proxy;
		if ((rc = git_remote_upload(remote, &specs, &po)) < 0) {
			error = rc == GIT_ENONFASTFORWARD ?
					push_behind(name, branch) :
					net_fail(&s, rc, "push to");
			goto done;
		}
		if (s.rejected) {
			if (strstr(s.reject_status, "non-fast-forward") ||
			    strstr(s.reject_status, "fetch first") ||
			    strstr(s.reject_status, "stale"))
				error = push_behind(name, branch);
			else
				error = error_set(
					ERROR_GENERIC,
					"remote '%s' (%s) refused '%s': %s",
					name, s.url, s.reject_ref,
					s.reject_status);
			goto done;
		}
	}
	git_remote_disconnect(remote);
	rc = git_reference_create(
		&ref, repo, tracking, &ours, 1, "plansync: push");
	if (rc < 0) {
		error = repo_git_error(rc, tracking);
		goto done;
	}
	ok = 1;
	if (out)
		*out = r;
done:
	if (remote)
		git_remote_disconnect(remote);
	if (session)
		session_release(&s, ok);
	git_reference_free(ref);
	git_reference_free(head);
	git_remote_free(remote);
	return error;
}
