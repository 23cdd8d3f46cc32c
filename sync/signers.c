/*
 * sync/signers.c: allowed_signers from partners.yaml.
 */
#include "signers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/doc.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/key.h"
#include "core/plan.h"
#include "repo.h"

/* An allowed_signers principal must not hold blanks, quotes or commas. */
static int principal_ok(const char *s)
{
	if (!s || !*s)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == '"' || *s == ',' ||
		    *s == '*' || *s == '?' || *s == '!')
			return 0;
	return 1;
}

int signers_render(char **out, size_t *out_len, const struct doc_node *partners)
{
	struct plan_partner p;
	unsigned char pk[KEY_PUBLIC_BYTES];
	char line[KEY_LINE_MAX];
	char *buf = NULL, *grown;
	size_t i, n = 0, cap = 0, count, need;
	int error = 0;

	count = partners ? plan_partner_count(partners) : 0;
	if (!(buf = malloc(1))) {
		error = error_nomem();
		goto done;
	}
	buf[0] = '\0';
	for (i = 0; i < count; i++) {
		plan_partner_at(&p, partners, i);
		if (p.revoked || !principal_ok(p.email) || !p.key ||
		    key_parse_public_line(pk, p.key) < 0 ||
		    key_public_line(line, sizeof(line), pk, NULL) < 0) {
			error_clear();
			continue;
		}
		need = strlen(p.email) + strlen(line) + 24;
		if (n + need + 1 > cap) {
			cap = (n + need + 1) * 2;
			if (!(grown = realloc(buf, cap))) {
				error = error_nomem();
				goto done;
			}
			buf = grown;
		}
		n += (size_t)snprintf(
			buf + n, cap - n, "%s namespaces=\"git\" %s\n", p.email,
			line);
	}
	*out = buf;
	*out_len = n;
	buf = NULL;
done:
	free(buf);
	return error;
}

int signers_refresh(struct repo *repo)
{
	struct doc_node *partners = NULL;
	char *yaml = NULL, *text = NULL, *old = NULL;
	size_t yaml_len, text_len, old_len;
	char path[4096];
	int error;

	error = repo_read_head(
		&yaml, &yaml_len, repo, "partners.yaml", DOC_MAX_FILE);
	if (error == 0) {
		if ((error = plan_parse(
			     &partners, PLAN_FILE_PARTNERS, "partners.yaml",
			     yaml, yaml_len)) < 0)
			goto done;
	} else if (error != ERROR_NOTFOUND) {
		goto done;
	}
	error_clear();
	if ((error = signers_render(&text, &text_len, partners)) < 0 ||
	    (error = repo_git_path(path, sizeof(path), repo, "plansync")) < 0 ||
	    (error = fsutil_mkdirs(path)) < 0 ||
	    (error = repo_git_path(
		     path, sizeof(path), repo, REPO_SIGNERS_FILE)) < 0)
		goto done;
	if (fsutil_read_file(&old, &old_len, path, DOC_MAX_FILE) == 0 &&
	    old_len == text_len && memcmp(old, text, text_len) == 0)
		goto done;
	error_clear();
	error = fsutil_write_atomic(path, text, text_len, 0644);
done:
	doc_free(partners);
	free(yaml);
	free(text);
	free(old);
	return error;
}
