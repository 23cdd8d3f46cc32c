/*
 * plansync remote add NAME URL | remote list [--json] | remote remove NAME
 */
#include "cmd.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "sync/repo.h"
#include "sync/transport.h"

static void print_help(void)
{
	printf("usage: plansync remote add NAME URL\n"
	       "       plansync remote list [--json]\n"
	       "       plansync remote remove NAME\n"
	       "\n"
	       "Manage the remotes this plan repository syncs with.  A remote "
	       "is any git\nrepository, usually a bare one (`git init --bare`) "
	       "used as a hub:\n"
	       "\n"
	       "  /media/stick/plan.git           a local path (USB stick, "
	       "shared drive)\n"
	       "  file:///srv/plan.git            the same as a URL\n"
	       "  git://host/plan.git             git daemon\n"
	       "  https://host/plan.git           smart HTTP (credentials from "
	       "git's helpers)\n"
	       "  ssh://user@host/srv/plan.git    ssh (ssh-agent or "
	       "~/.ssh/id_*; the host key\n"
	       "  user@host:srv/plan.git          must be in "
	       "~/.ssh/known_hosts)\n"
	       "\n"
	       "A relative path is stored as an absolute one.  URLs holding a "
	       "password are\nrefused: use a git credential helper.  Names are "
	       "letters, digits, '.', '_'\nand '-'.  `remote` alone lists.  "
	       "`remove` also drops the remote's\nremote-tracking refs.\n"
	       "\n"
	       "  --json   list as a JSON array of {\"name\", \"url\"}\n");
}

static int remote_list(int json)
{
	struct repo *repo = NULL;
	struct transport_remote *list = NULL;
	size_t n = 0, i;
	int error;

	if ((error = repo_open(&repo, ".", 0)) < 0 ||
	    (error = transport_remote_list(&list, &n, repo_git(repo))) < 0)
		goto done;
	if (json)
		fputc('[', stdout);
	for (i = 0; i < n; i++) {
		if (json) {
			fputs(i ? ",\n {\"name\": " : "{\"name\": ", stdout);
			cli_json_string(stdout, list[i].name);
			fputs(", \"url\": ", stdout);
			cli_json_string(stdout, list[i].url);
			fputc('}', stdout);
		} else {
			printf("%s\t%s\n", list[i].name, list[i].url);
		}
	}
	if (json)
		fputs("]\n", stdout);
done:
	transport_remotes_free(list, n);
	repo_free(repo);
	return error;
}

int cmd_remote(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct repo *repo = NULL;
	char url[TRANSPORT_URL_MAX], shown[TRANSPORT_URL_MAX];
	const char *verb;
	int c, json = 0, error;

	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		if (c == 'h') {
			print_help();
			return 0;
		}
		if (c == 'j') {
			json = 1;
			continue;
		}
		return cli_usage(
			"remote", "unknown option '%s'", argv[optind - 1]);
	}
	verb = optind < argc ? argv[optind++] : "list";
	/* Options may also follow the verb: `remote list --json`. */
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		if (c == 'h') {
			print_help();
			return 0;
		}
		if (c == 'j') {
			json = 1;
			continue;
		}
		return cli_usage(
			"remote", "unknown option '%s'", argv[optind - 1]);
	}
	argc -= optind;
	argv += optind;
	if (strcmp(verb, "list") == 0) {
		if (argc != 0)
			return cli_usage("remote", "list takes no arguments");
		return remote_list(json);
	}
	if (json)
		return cli_usage("remote", "--json goes with list");
	if (strcmp(verb, "add") == 0) {
		if (argc != 2)
			return cli_usage("remote", "add needs NAME URL");
		if (transport_check_name(argv[0]) < 0 ||
		    transport_check_url(url, sizeof(url), argv[1]) < 0)
			return cli_usage("remote", "%s", error_message());
		if ((error = repo_open(&repo, ".", 1)) < 0 ||
		    (error = transport_remote_add(
			     repo_git(repo), argv[0], url)) < 0)
			goto done;
		transport_url_redact(shown, sizeof(shown), url);
		printf("remote '%s' added: %s\n", argv[0], shown);
	} else if (strcmp(verb, "remove") == 0 || strcmp(verb, "rm") == 0) {
		if (argc != 1)
			return cli_usage("remote", "remove needs NAME");
		if (transport_check_name(argv[0]) < 0)
			return cli_usage("remote", "%s", error_message());
		if ((error = repo_open(&repo, ".", 1)) < 0 ||
		    (error = transport_remote_remove(repo_git(repo), argv[0])) <
			    0)
			goto done;
		printf("remote '%s' removed\n", argv[0]);
	} else {
		return cli_usage(
			"remote", "unknown subcommand '%s' (add, list, remove)",
			verb);
	}
	error = 0;
done:
	repo_free(repo);
	return error;
}
