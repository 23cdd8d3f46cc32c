/*
 * cli/cmd_partner.c: `plansync partner add | revoke | list`.
 */
#include "cmd.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/doc.h"
#include "core/key.h"
#include "core/plan.h"
#include "sync/commit.h"
#include "sync/edit.h"
#include "sync/repo.h"

static void print_help(void)
{
	printf("usage: plansync partner add --name N --email E --org O --key "
	       "\"ssh-ed25519 ...\"\n"
	       "                           [--role editor|coordinator]\n"
	       "       plansync partner revoke EMAIL\n"
	       "       plansync partner list [--json]\n"
	       "\n"
	       "Who may sign, kept in partners.yaml.  add and revoke make one "
	       "signed commit\n"
	       "and only a coordinator may make them.\n"
	       "\n"
	       "  add     list a person and their Ed25519 public key (the line "
	       "'plansync key\n"
	       "          show' prints on their machine); role editor unless "
	       "--role says\n"
	       "          coordinator.  An email or key already listed is "
	       "refused.\n"
	       "  revoke  mark EMAIL's key revoked: commits it signs from now "
	       "on are refused.\n"
	       "          The last coordinator who is not revoked cannot be "
	       "revoked (add\n"
	       "          another coordinator first).  Entries are never "
	       "deleted, so history\n"
	       "          stays explainable.\n"
	       "  list    every partner at HEAD: email, name, organisation, "
	       "role, status,\n"
	       "          key fingerprint\n");
}

/* partners.yaml at HEAD, with its partners sequence. */
static int
load_partners(struct doc_node **out, struct doc_node **seq, struct repo *repo)
{
	int error =
		edit_load_file(out, repo, "partners.yaml", PLAN_FILE_PARTNERS);

	if (error == ERROR_NOTFOUND)
		return error_set(ERROR_NOTFOUND, "HEAD has no partners.yaml");
	if (error < 0)
		return error;
	*seq = doc_map_get(*out, "partners");
	if (!*seq || (*seq)->kind != DOC_SEQ) {
		doc_free(*out);
		*out = NULL;
		return error_set(ERROR_INVALID, "partners.yaml has no list");
	}
	return 0;
}

static int partner_add(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "email", required_argument, NULL, 'e' },
		{ "org", required_argument, NULL, 'o' },
		{ "key", required_argument, NULL, 'k' },
		{ "role", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct key *key = NULL;
	struct repo *repo = NULL;
	struct doc_node *doc = NULL, *seq = NULL, *m = NULL;
	struct plan_partner p;
	const char *name = NULL, *email = NULL, *org = NULL, *pubkey = NULL,
		   *role = "editor";
	unsigned char pk[KEY_PUBLIC_BYTES], other[KEY_PUBLIC_BYTES];
	char line[KEY_LINE_MAX], fp[KEY_FINGERPRINT_MAX], cid[41], msg[1024];
	size_t i;
	int c, error;

	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			name = optarg;
			break;
		case 'e':
			email = optarg;
			break;
		case 'o':
			org = optarg;
			break;
		case 'k':
			pubkey = optarg;
			break;
		case 'r':
			role = optarg;
			break;
		case 'h':
			print_help();
			return 0;
		case ':':
			return cli_usage(
				"partner add", "'%s' needs a value",
				argv[optind - 1]);
		default:
			return cli_usage(
				"partner add", "unknown option '%s'",
				argv[optind - 1]);
		}
	}
	if (optind != argc)
		return cli_usage(
			"partner add", "unexpected argument '%s'",
			argv[optind]);
	if (!name || !email || !org || !pubkey)
		return cli_usage(
			"partner add", "--name, --email, --org and --key are "
				       "required");
	if (strcmp(role, "editor") != 0 && strcmp(role, "coordinator") != 0)
		return cli_usage(
			"partner add",
			"--role '%s' is not editor or coordinator", role);
	if (key_parse_public_line(pk, pubkey) < 0) {
		snprintf(msg, sizeof(msg), "%s", error_message());
		return error_set(ERROR_INVALID, "--key: %s", msg);
	}
	if ((error = key_public_line(line, sizeof(line), pk, email)) < 0)
		return error;
	key_fingerprint(fp, pk);

	if ((error = cli_load_key(&key)) < 0 ||
	    (error = repo_open(&repo, ".", 1)) < 0 ||
	    (error = commit_check_signer(repo, key, 1)) < 0 ||
	    (error = repo_check_unedited(repo, "partners.yaml")) < 0 ||
	    (error = load_partners(&doc, &seq, repo)) < 0)
		goto done;
	for (i = 0; i < plan_partner_count(doc); i++) {
		plan_partner_at(&p, doc, i);
		if (p.email && strcmp(p.email, email) == 0) {
			error = error_set(
				ERROR_EXISTS,
				"partner '%s' is already listed%s", email,
				p.revoked ? " (revoked)" : "");
			goto done;
		}
		if (p.key && key_parse_public_line(other, p.key) == 0 &&
		    memcmp(other, pk, sizeof(pk)) == 0) {
			error = error_set(
				ERROR_EXISTS, "key %s already belongs to '%s'",
				fp, p.email ? p.email : "?");
			goto done;
		}
		error_clear();
	}
	if (!(m = doc_new_map()) ||
	    doc_map_set(m, "email", doc_new_scalar(email)) < 0 ||
	    doc_map_set(m, "name", doc_new_scalar(name)) < 0 ||
	    doc_map_set(m, "organisation", doc_new_scalar(org)) < 0 ||
	    doc_map_set(m, "role", doc_new_scalar(role)) < 0 ||
	    doc_map_set(m, "key", doc_new_scalar(line)) < 0 ||
	    doc_map_set(m, "revoked", doc_new_plain("false")) < 0) {
		error = error_nomem();
		goto done;
	}
	error = doc_seq_append(seq, m);
	m = NULL;
	if (error < 0 ||
	    (error = plan_check(doc, PLAN_FILE_PARTNERS, "partners.yaml")) < 0)
		goto done;
	snprintf(
		msg, sizeof(msg),
		"partners.yaml: add %s <%s> (%s) as %s\n\nkey %s", name, email,
		org, role, fp);
	if ((error = edit_commit_doc(
		     cid, repo, key, "partners.yaml", doc, msg)) < 0)
		goto done;
	printf("added %s <%s> (%s) as %s, key %s (commit %.12s)\n", name, email,
	       org, role, fp, cid);
done:
	doc_free(m);
	doc_free(doc);
	repo_free(repo);
	key_free(key);
	return error;
}

static int partner_revoke(int argc, char **argv)
{
	struct key *key = NULL;
	struct repo *repo = NULL;
	struct doc_node *doc = NULL, *seq = NULL, *entry = NULL;
	struct plan_partner p, target;
	const char *email;
	char cid[41], msg[1024];
	size_t i, coordinators = 0;
	int error;

	if (argc != 2)
		return cli_usage("partner revoke", "give one EMAIL");
	email = argv[1];
	if ((error = cli_load_key(&key)) < 0 ||
	    (error = repo_open(&repo, ".", 1)) < 0 ||
	    (error = commit_check_signer(repo, key, 1)) < 0 ||
	    (error = repo_check_unedited(repo, "partners.yaml")) < 0 ||
	    (error = load_partners(&doc, &seq, repo)) < 0)
		goto done;
	for (i = 0; i < plan_partner_count(doc); i++) {
		plan_partner_at(&p, doc, i);
		if (p.coordinator && !p.revoked)
			coordinators++;
		if (p.email && strcmp(p.email, email) == 0) {
			entry = seq->items[i];
			target = p;
		}
	}
	if (!entry) {
		error = error_set(
			ERROR_NOTFOUND, "no partner '%s' in partners.yaml",
			email);
		goto done;
	}
	if (target.revoked) {
		printf("'%s' is already revoked; nothing to commit\n", email);
		goto done;
	}
	if (target.coordinator && coordinators <= 1) {
		error = error_set(
			ERROR_GENERIC,
			"cannot revoke '%s': the last coordinator; "
			"add another coordinator first",
			email);
		goto done;
	}
	snprintf(
		msg, sizeof(msg), "partners.yaml: revoke %s (%s, %s)", email,
		target.name ? target.name : "",
		target.organisation ? target.organisation : "");
	if ((error = doc_map_set(entry, "revoked", doc_new_plain("true"))) <
		    0 ||
	    (error = plan_check(doc, PLAN_FILE_PARTNERS, "partners.yaml")) <
		    0 ||
	    (error = edit_commit_doc(
		     cid, repo, key, "partners.yaml", doc, msg)) < 0)
		goto done;
	printf("revoked %s (commit %.12s)\n", email, cid);
done:
	doc_free(doc);
	repo_free(repo);
	key_free(key);
	return error;
}

static int partner_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct repo *repo = NULL;
	struct doc_node *doc = NULL, *seq = NULL;
	struct plan_partner p;
	unsigned char pk[KEY_PUBLIC_BYTES];
	char fp[KEY_FINGERPRINT_MAX];
	size_t i, n;
	int c, error, json = 0;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'j') {
			json = 1;
		} else if (c == 'h') {
			print_help();
			return 0;
		} else {
			return cli_usage(
				"partner list", "unknown option '%s'",
				argv[optind - 1]);
		}
	}
	if (optind != argc)
		return cli_usage(
			"partner list", "unexpected argument '%s'",
			argv[optind]);
	if ((error = repo_open(&repo, ".", 0)) < 0 ||
	    (error = load_partners(&doc, &seq, repo)) < 0)
		goto done;
	n = plan_partner_count(doc);
	if (json)
		printf("[");
	for (i = 0; i < n; i++) {
		plan_partner_at(&p, doc, i);
		fp[0] = '\0';
		if (p.key && key_parse_public_line(pk, p.key) == 0)
			key_fingerprint(fp, pk);
		error_clear();
		if (json) {
			printf("%s\n  {\"email\": ", i ? "," : "");
			cli_json_string(stdout, p.email);
			printf(", \"name\": ");
			cli_json_string(stdout, p.name);
			printf(", \"organisation\": ");
			cli_json_string(stdout, p.organisation);
			printf(", \"role\": ");
			cli_json_string(stdout, p.role);
			printf(", \"revoked\": %s, \"fingerprint\": ",
			       p.revoked ? "true" : "false");
			cli_json_string(stdout, fp);
			printf(", \"key\": ");
			cli_json_string(stdout, p.key);
			printf("}");
		} else {
			printf("%s%-32s%s %-24s %-16s %-11s %s%-7s%s %s\n",
			       p.revoked ? cli_c_bad() : "", p.email,
			       p.revoked ? cli_c_reset() : "",
			       p.name ? p.name : "",
			       p.organisation ? p.organisation : "",
			       p.role ? p.role : "",
			       p.revoked ? cli_c_bad() : cli_c_good(),
			       p.revoked ? "revoked" : "active", cli_c_reset(),
			       fp);
		}
	}
	if (json)
		printf("%s]\n", n ? "\n" : "");
done:
	doc_free(doc);
	repo_free(repo);
	return error;
}

int cmd_partner(int argc, char **argv)
{
	if (argc < 2)
		return cli_usage("partner", "give add, revoke or list");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		print_help();
		return 0;
	}
	if (argc >= 3 &&
	    (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
		print_help();
		return 0;
	}
	if (strcmp(argv[1], "add") == 0)
		return partner_add(argc - 1, argv + 1);
	if (strcmp(argv[1], "revoke") == 0)
		return partner_revoke(argc - 1, argv + 1);
	if (strcmp(argv[1], "list") == 0)
		return partner_list(argc - 1, argv + 1);
	return cli_usage("partner", "unknown subcommand '%s'", argv[1]);
}
