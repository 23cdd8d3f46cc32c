/*
 * plansync key generate --name N --email E [--org ORG] [--passphrase]
 * plansync key import FILE [--name N] [--email E] [--org O] [--passphrase]
 * plansync key show [--json]
 */
#include "cmd.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "core/key.h"
#include "prompt.h"

#define HOME_MAX 4096

static void print_help(void)
{
	printf("usage: plansync key generate --name N --email E [--org ORG] "
	       "[--passphrase]\n"
	       "       plansync key import FILE [--name N] [--email E] "
	       "[--org ORG] [--passphrase]\n"
	       "       plansync key show [--json]\n"
	       "\n"
	       "Your Ed25519 signing key.  It lives in $PLANSYNC_HOME "
	       "(default\n$XDG_CONFIG_HOME/plansync, else ~/.config/plansync): "
	       "the secret key in\n`key` (mode 0600, with the name, email and "
	       "organisation it was made for)\nand the public key line in "
	       "`key.pub`.  An existing key is never replaced.\n"
	       "\n"
	       "  generate        make a new key\n"
	       "  import FILE     take an unencrypted OpenSSH Ed25519 key "
	       "(~/.ssh/id_ed25519);\n"
	       "                  the email defaults to the key's comment, the "
	       "name to the email\n"
	       "  show            print the key.pub line, then its SHA256 "
	       "fingerprint\n"
	       "\n"
	       "  --name N        your name, as in your commits\n"
	       "  --email E       your email: the principal partners.yaml "
	       "lists for this key\n"
	       "  --org ORG       your organisation\n"
	       "  --passphrase    seal the key with a passphrase (Argon2id); it "
	       "comes from\n"
	       "                  PLANSYNC_PASSPHRASE, else the terminal, and "
	       "is asked for\n"
	       "                  whenever the key signs\n"
	       "  --json          show: {\"public_key\", \"fingerprint\"}\n");
}

static int key_folder(char home[HOME_MAX])
{
	return key_home(home, HOME_MAX);
}

/* After generate or import: where the key went and what it is. */
static int print_created(const char *home, const char *verb)
{
	char line[KEY_LINE_MAX], fp[KEY_FINGERPRINT_MAX];
	unsigned char pk[KEY_PUBLIC_BYTES];
	int error;

	if ((error = key_load_public(line, sizeof(line), pk, home)) < 0)
		return error;
	key_fingerprint(fp, pk);
	printf("%s key in '%s'\n%s\n%s\n", verb, home, line, fp);
	return 0;
}

static int key_show(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	char home[HOME_MAX], line[KEY_LINE_MAX], fp[KEY_FINGERPRINT_MAX];
	unsigned char pk[KEY_PUBLIC_BYTES];
	int c, json = 0, error;

	cli_getopt_reset();
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
			"key", "unknown option '%s'", argv[optind - 1]);
	}
	if (optind != argc)
		return cli_usage("key", "show takes no arguments");
	if ((error = key_folder(home)) < 0 ||
	    (error = key_load_public(line, sizeof(line), pk, home)) < 0)
		return error;
	key_fingerprint(fp, pk);
	if (json) {
		fputs("{\"public_key\": ", stdout);
		cli_json_string(stdout, line);
		fputs(", \"fingerprint\": ", stdout);
		cli_json_string(stdout, fp);
		fputs("}\n", stdout);
	} else {
		printf("%s\n%s\n", line, fp);
	}
	return 0;
}

/* generate and import: the same options, import also takes FILE. */
static int key_make(int argc, char **argv, int import)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "name", required_argument, NULL, 'n' },
		{ "email", required_argument, NULL, 'e' },
		{ "org", required_argument, NULL, 'o' },
		{ "passphrase", no_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	const char *name = NULL, *email = NULL, *org = NULL;
	char home[HOME_MAX];
	int c, sealed = 0, error;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			print_help();
			return 0;
		case 'n':
			name = optarg;
			break;
		case 'e':
			email = optarg;
			break;
		case 'o':
			org = optarg;
			break;
		case 'p':
			sealed = 1;
			break;
		case ':':
			return cli_usage(
				"key", "%s needs a value", argv[optind - 1]);
		default:
			return cli_usage(
				"key", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (import && optind + 1 != argc)
		return cli_usage("key", "import takes one FILE");
	if (!import && optind != argc)
		return cli_usage(
			"key", "unexpected argument '%s'", argv[optind]);
	if (!import && (!name || !email))
		return cli_usage("key", "generate needs --name and --email");
	if ((error = key_folder(home)) < 0)
		return error;
	if (import)
		error = key_import_openssh(
			home, argv[optind], name, email, org,
			sealed ? prompt_passphrase : NULL, NULL);
	else
		error = key_generate(
			home, name, email, org,
			sealed ? prompt_passphrase : NULL, NULL);
	if (error < 0)
		return error;
	return print_created(home, import ? "Imported" : "Generated");
}

int cmd_key(int argc, char **argv)
{
	const char *verb;

	if (argc < 2)
		return cli_usage("key", "give generate, import or show");
	verb = argv[1];
	if (strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0 ||
	    strcmp(verb, "help") == 0) {
		print_help();
		return 0;
	}
	if (strcmp(verb, "generate") == 0)
		return key_make(argc - 1, argv + 1, 0);
	if (strcmp(verb, "import") == 0)
		return key_make(argc - 1, argv + 1, 1);
	if (strcmp(verb, "show") == 0)
		return key_show(argc - 1, argv + 1);
	return cli_usage("key", "unknown subcommand '%s'", verb);
}
