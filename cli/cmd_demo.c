/*
 * cli/cmd_demo.c: `plansync demo [DIR] [--plan PLANDIR]`: a coordinator and
 * three partners keep the York plan through a shared hub, offline edits,
 * syncs, a conflict and its resolution, the audit trail, all by running
 * this plansync binary itself (its real commands, each partner with its own
 * key in its own PLANSYNC_HOME), so what it shows is what a user gets.
 */
#include "cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "sync/sync.h"

#define DEMO_PLAN "york-hate-crime-2022-23"
#define DEMO_OUT_MAX (1 << 20)

static void print_help(void)
{
	printf("usage: plansync demo [DIR] [--plan PLANDIR]\n"
	       "\n"
	       "Show plansync at work on the York Hate Crime Partnership plan, "
	       "offline, in\n"
	       "a few seconds.  In DIR (default ./plansync-demo; new, or an "
	       "empty folder) it\n"
	       "makes a shared hub (hub.git, a bare git repository such as a "
	       "shared drive\n"
	       "would hold), a coordinator and three partners (North Yorkshire "
	       "Police, City\n"
	       "of York Council, University of York), each with their own "
	       "signing key\n"
	       "(DIR/keys/<who>) and their own copy of the plan (DIR/<who>).  "
	       "The coordinator\n"
	       "creates the plan and registers the partners; the partners "
	       "clone it; each\n"
	       "edits offline; everyone syncs, twice round; the conflict is "
	       "shown and\n"
	       "resolved; the audit trail of one action and the signature "
	       "check follow; and\n"
	       "it ends by checking that every copy holds exactly the same "
	       "plan.  DIR is\n"
	       "left to explore (try plansync -C DIR/nyp log P1-A1).\n"
	       "\n"
	       "  --plan PLANDIR  the plan to start from; default: "
	       "$PLANSYNC_PLANS/" DEMO_PLAN ",\n"
	       "                  else ./plans/" DEMO_PLAN
	       ", else plans/" DEMO_PLAN "\n"
	       "                  next to or above this plansync binary\n"
	       "\n"
	       "Every step runs this plansync binary (plansync -C DIR/<who> "
	       "...).\n");
}

struct person {
	const char *who; /* folder and key home name */
	const char *name, *email, *org, *label;
};

static const struct person people[] = {
	{ "coordinator", "Sam Carter", "sam.carter@yorkhcp.example",
	  "Community Safety", "the partnership coordinator" },
	{ "nyp", "Jane Smith", "jane.smith@nyp.example", "NYP",
	  "North Yorkshire Police" },
	{ "cyc", "Tom Reed", "tom.reed@york.gov.example", "CYC",
	  "City of York Council" },
	{ "uoy", "Priya Shah", "priya.shah@york.ac.example", "UoY",
	  "University of York" },
};
#define NPEOPLE (sizeof(people) / sizeof(people[0]))

struct demo {
	char dir[4096]; /* absolute */
	char exe[4096];
	char *out; /* the last command's output */
	size_t len;
	int step;
};

static int path_join(char *buf, size_t size, const char *a, const char *b)
{
	if ((size_t)snprintf(buf, size, "%s/%s", a, b) >= size)
		return error_set(ERROR_GENERIC, "path too long: '%s/%s'", a, b);
	return 0;
}

/*
 * Run this plansync as person p (NULL: no key) with args; its output
 * (stdout and stderr) in d->out.  Returns its exit status, or a negative
 * error when it could not run.
 */
static int run(struct demo *d, const struct person *p, const char *const *args)
{
	const char *argv[32];
	char home[4096];
	int fds[2], status, i, n;
	pid_t pid;
	ssize_t r;
	char *buf;

	argv[0] = "plansync";
	for (n = 1; args[n - 1] && n < 31; n++)
		argv[n] = args[n - 1];
	argv[n] = NULL;
	if (p && (size_t)snprintf(
			 home, sizeof(home), "%s/keys/%s", d->dir, p->who) >=
			 sizeof(home))
		return error_set(ERROR_GENERIC, "path too long");
	if (pipe(fds) < 0)
		return error_set(
			ERROR_GENERIC, "cannot run plansync: %s",
			strerror(errno));
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return error_set(
			ERROR_GENERIC, "cannot run plansync: %s",
			strerror(errno));
	}
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		dup2(fds[1], STDERR_FILENO);
		close(fds[0]);
		close(fds[1]);
		i = open("/dev/null", O_RDONLY);
		if (i >= 0)
			dup2(i, STDIN_FILENO);
		if (chdir(d->dir) < 0)
			_exit(127);
		if (p)
			setenv("PLANSYNC_HOME", home, 1);
		unsetenv("PLANSYNC_PASSPHRASE");
		setenv("NO_COLOR", "1", 1);
		execv(d->exe, (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	d->len = 0;
	for (;;) {
		if (d->len + 4096 + 1 > DEMO_OUT_MAX)
			break;
		if (!(buf = realloc(d->out, d->len + 4096 + 1)))
			break;
		d->out = buf;
		r = read(fds[0], d->out + d->len, 4096);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		d->len += (size_t)r;
	}
	close(fds[0]);
	if (d->out)
		d->out[d->len] = '\0';
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return error_set(
				ERROR_GENERIC, "cannot wait for plansync: %s",
				strerror(errno));
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* Print the last output, indented. */
static void show(const struct demo *d)
{
	const char *s = d->out, *nl;

	if (!s)
		return;
	while (*s) {
		nl = strchr(s, '\n');
		if (!nl)
			nl = s + strlen(s);
		printf("      %.*s\n", (int)(nl - s), s);
		s = *nl ? nl + 1 : nl;
	}
}

/*
 * Run as p in repository folder `repo` (NULL: none; relative to the demo
 * folder); a non-zero status fails the demo with the command's output.
 * With print, show the command line (key_file: show the value after --key
 * as "$(cat key_file)") and its output.
 */
static int step_key(
	struct demo *d,
	const struct person *p,
	const char *repo,
	int print,
	const char *key_file,
	const char *const *args)
{
	const char *argv[32];
	char where[4096];
	char cmdline[1024] = "";
	const char *q;
	size_t n = 0, i, l;
	int rc;

	if (repo) {
		snprintf(where, sizeof(where), "%s", repo);
		argv[n++] = "-C";
		argv[n++] = where;
	}
	for (i = 0; args[i] && n < 30; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	for (i = 0; args[i]; i++) {
		l = strlen(cmdline);
		q = args[i][strcspn(args[i], " '\";$&|<>()*?")] ? "'" : "";
		if (i && strcmp(args[i - 1], "--key") == 0 && key_file)
			snprintf(
				cmdline + l, sizeof(cmdline) - l,
				" \"$(cat %s)\"", key_file);
		else
			snprintf(
				cmdline + l, sizeof(cmdline) - l, "%s%s%s%s",
				i ? " " : "", q, args[i], q);
	}
	if (print)
		printf("    $ plansync%s%s %s\n", repo ? " -C " : "",
		       repo ? repo : "", cmdline);
	rc = run(d, p, argv);
	if (rc < 0)
		return rc;
	if (rc != 0) {
		show(d);
		return error_set(
			ERROR_GENERIC,
			"demo step 'plansync %s' (as %s) failed "
			"with exit status %d",
			cmdline, p ? p->who : "nobody", rc);
	}
	if (print)
		show(d);
	return 0;
}

static int
step(struct demo *d,
     const struct person *p,
     const char *repo,
     int print,
     const char *const *args)
{
	return step_key(d, p, repo, print, NULL, args);
}

#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })

static void heading(struct demo *d, const char *text)
{
	printf("\n%d. %s\n", ++d->step, text);
}

/* The first line of a file (the key.pub line), without its newline. */
static int first_line(char *out, size_t size, const char *path)
{
	char *buf = NULL, *nl;
	size_t len;
	int error;

	if ((error = fsutil_read_file(&buf, &len, path, 65536)) < 0)
		return error;
	if ((nl = strchr(buf, '\n')))
		*nl = '\0';
	snprintf(out, size, "%s", buf);
	free(buf);
	return 0;
}

static int is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* --plan's default: see print_help. */
static int find_plan(char *out, size_t size, const char *exe)
{
	const char *env = getenv("PLANSYNC_PLANS");
	char base[4096], *slash;
	int up;

	if (env && *env) {
		snprintf(out, size, "%s/%s", env, DEMO_PLAN);
		if (is_dir(out))
			return 0;
	}
	snprintf(out, size, "plans/%s", DEMO_PLAN);
	if (is_dir(out))
		return 0;
	snprintf(base, sizeof(base), "%s", exe);
	for (up = 0; up < 3; up++) {
		if (!(slash = strrchr(base, '/')))
			break;
		*slash = '\0';
		if ((size_t)snprintf(
			    out, size, "%s/plans/%s", base, DEMO_PLAN) < size &&
		    is_dir(out))
			return 0;
	}
	return error_set(
		ERROR_NOTFOUND,
		"cannot find the York plan (plans/%s); give --plan PLANDIR or "
		"set PLANSYNC_PLANS",
		DEMO_PLAN);
}

static int demo_run(struct demo *d, const char *plan)
{
	const struct person *co = &people[0], *nyp = &people[1],
			    *cyc = &people[2], *uoy = &people[3];
	char path[4096], hub[4096], pub[4096], fp[128], tree[NPEOPLE + 1][41];
	const char *nl, *s;
	size_t i, round;
	int error;

	printf("plansync demo: the York Hate Crime Partnership action plan, "
	       "kept by four\norganisations that each hold a signed copy and "
	       "work offline.\nEverything happens in %s\n",
	       d->dir);

	heading(d, "Each person makes their own signing key (Ed25519); "
		   "the secret never leaves them.");
	for (i = 0; i < NPEOPLE; i++) {
		if ((error = step(
			     d, &people[i], NULL, 0,
			     ARGS("key", "generate", "--name", people[i].name,
				  "--email", people[i].email, "--org",
				  people[i].org))) < 0)
			return error;
		printf("    %-11s %s <%s>, %s\n", people[i].who, people[i].name,
		       people[i].email, people[i].label);
	}

	heading(d, "The coordinator creates the plan repository from the "
		   "York plan and a shared hub.");
	if ((error = path_join(hub, sizeof(hub), d->dir, "hub.git")) < 0)
		return error;
	if ((error =
		     step(d, co, NULL, 1,
			  ARGS("init", "coordinator", "--plan", plan))) < 0 ||
	    (error = sync_hub_create(hub)) < 0)
		return error;
	printf("    (hub.git: an empty shared repository, as on a shared "
	       "drive or git server)\n");
	if ((error =
		     step(d, co, "coordinator", 1,
			  ARGS("remote", "add", "origin", "../hub.git"))) < 0)
		return error;

	heading(d,
		"The coordinator registers the three partners' public keys "
		"(signed changes\n   to partners.yaml) and shares the plan.");
	for (i = 1; i < NPEOPLE; i++) {
		char rel[64];

		snprintf(rel, sizeof(rel), "keys/%s/key.pub", people[i].who);
		if ((error = path_join(path, sizeof(path), d->dir, rel)) < 0 ||
		    (error = first_line(pub, sizeof(pub), path)) < 0 ||
		    (error = step_key(
			     d, co, "coordinator", 1, rel,
			     ARGS("partner", "add", "--name", people[i].name,
				  "--email", people[i].email, "--org",
				  people[i].org, "--key", pub))) < 0)
			return error;
	}
	if ((error = step(d, co, "coordinator", 1, ARGS("sync"))) < 0)
		return error;

	heading(d,
		"Each partner copies the plan, checking every signature "
		"and pinning the\n   coordinator's key fingerprint they were "
		"given in person.");
	if ((error = step(d, co, NULL, 0, ARGS("key", "show"))) < 0)
		return error;
	s = d->out ? strstr(d->out, "SHA256:") : NULL;
	if (!s)
		return error_set(ERROR_GENERIC, "no fingerprint from key show");
	nl = strchr(s, '\n');
	snprintf(
		fp, sizeof(fp), "%.*s", nl ? (int)(nl - s) : (int)strlen(s), s);
	for (i = 1; i < NPEOPLE; i++)
		if ((error =
			     step(d, &people[i], NULL, 1,
				  ARGS("clone", "--trust", fp, "hub.git",
				       people[i].who))) < 0)
			return error;

	heading(d, "Everyone works offline.");
	printf("    Different fields of one action (P2-A2): NYP changes its "
	       "status, CYC its timescale.\n");
	if ((error =
		     step(d, nyp, "nyp", 1,
			  ARGS("set", "P2-A2", "status", "in-progress"))) < 0 ||
	    (error =
		     step(d, cyc, "cyc", 1,
			  ARGS("set", "P2-A2", "timescale", "March 2024"))) < 0)
		return error;
	printf("    The same field of another action (P1-A1 status): NYP "
	       "and the University\n    disagree.\n");
	if ((error =
		     step(d, nyp, "nyp", 1,
			  ARGS("set", "P1-A1", "status", "done"))) < 0)
		return error;
	sleep(1); /* the University's edit is the later one */
	if ((error =
		     step(d, uoy, "uoy", 1,
			  ARGS("set", "P1-A1", "status", "on-hold"))) < 0)
		return error;
	printf("    Two partners add a progress update to the same action "
	       "(P1-A2).\n");
	if ((error = step(
		     d, uoy, "uoy", 1,
		     ARGS("update", "add", "P1-A2", "--text",
			  "Hate crime reporting stall at Freshers' Fair; 140 "
			  "students signed up to the campaign",
			  "--date", "2023-10-02"))) < 0 ||
	    (error =
		     step(d, nyp, "nyp", 1,
			  ARGS("update", "add", "P1-A2", "--text",
			       "Campus officers ran two drop-in sessions on "
			       "reporting",
			       "--date", "2023-10-10"))) < 0)
		return error;

	for (round = 1; round <= 2; round++) {
		heading(d, round == 1 ?
				   "Back online, everyone syncs (fetch, "
				   "verify every signature, merge field by "
				   "field, push)." :
				   "Everyone syncs a second time, so each "
				   "copy has everyone's work.");
		for (i = 1; i <= NPEOPLE; i++) {
			const struct person *p = &people[i % NPEOPLE];

			if ((error = step(d, p, p->who, 1, ARGS("sync"))) < 0)
				return error;
		}
	}

	heading(d, "The conflict is recorded, not lost: the later change "
		   "(the University's)\n   was kept and NYP's value is kept "
		   "beside it for the coordinator to decide.");
	if ((error = step(d, co, "coordinator", 1, ARGS("conflicts"))) < 0)
		return error;
	printf("    The coordinator checks with both and settles it: the "
	       "action is done.\n");
	if ((error =
		     step(d, co, "coordinator", 1,
			  ARGS("resolve", "P1-A1", "status", "--other"))) < 0 ||
	    (error = step(d, co, "coordinator", 1, ARGS("sync"))) < 0)
		return error;
	for (i = 1; i < NPEOPLE; i++)
		if ((error =
			     step(d, &people[i], people[i].who, 1,
				  ARGS("sync"))) < 0)
			return error;
	if ((error = step(d, nyp, "nyp", 1, ARGS("conflicts"))) < 0)
		return error;

	heading(d, "The audit trail of P1-A1, as any partner sees it: who "
		   "changed what, when,\n   and whether the signature checks "
		   "out.");
	if ((error = step(d, cyc, "cyc", 1, ARGS("log", "P1-A1"))) < 0)
		return error;

	heading(d, "Any partner can check every signature in the history.");
	if ((error = step(d, uoy, "uoy", 1, ARGS("verify"))) < 0)
		return error;

	heading(d, "Every copy now holds exactly the same plan.");
	for (i = 0; i < NPEOPLE; i++) {
		if ((error = path_join(
			     path, sizeof(path), d->dir, people[i].who)) < 0 ||
		    (error = sync_head_tree(tree[i], path)) < 0)
			return error;
		printf("    %-11s plan tree %s\n", people[i].who, tree[i]);
	}
	if ((error = sync_head_tree(tree[NPEOPLE], hub)) < 0)
		return error;
	printf("    %-11s plan tree %s\n", "hub.git", tree[NPEOPLE]);
	for (i = 1; i <= NPEOPLE; i++)
		if (strcmp(tree[i], tree[0]) != 0)
			return error_set(
				ERROR_GENERIC,
				"demo: the copies differ (%s holds tree %s, "
				"the coordinator %s)",
				i < NPEOPLE ? people[i].who : "hub.git",
				tree[i], tree[0]);
	printf("\nAll five copies are identical (byte for byte: same git "
	       "tree).  Explore them in\n%s, e.g.:\n"
	       "    plansync -C %s/nyp log P1-A2\n"
	       "    plansync -C %s/cyc blame P2-A2\n",
	       d->dir, d->dir, d->dir);
	return 0;
}

int cmd_demo(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "plan", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct demo d;
	const char *dir = "plansync-demo", *plan = NULL;
	char planbuf[4096], cwd[4096];
	struct stat st;
	ssize_t n;
	int c, error;

	memset(&d, 0, sizeof(d));
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			plan = optarg;
			break;
		case 'h':
			print_help();
			return 0;
		case ':':
			return cli_usage(
				"demo", "'%s' needs a value", argv[optind - 1]);
		default:
			return cli_usage(
				"demo", "unknown option '%s'",
				argv[optind - 1]);
		}
	}
	if (argc - optind > 1)
		return cli_usage("demo", "give at most one DIR");
	if (optind < argc)
		dir = argv[optind];
	n = readlink("/proc/self/exe", d.exe, sizeof(d.exe) - 1);
	if (n <= 0)
		return error_set(
			ERROR_GENERIC, "cannot find this plansync binary: %s",
			strerror(errno));
	d.exe[n] = '\0';
	if (!plan) {
		if ((error = find_plan(planbuf, sizeof(planbuf), d.exe)) < 0)
			return error;
		plan = planbuf;
	}
	if (!is_dir(plan))
		return error_set(
			ERROR_NOTFOUND, "plan folder '%s' does not exist",
			plan);
	if (lstat(dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode) || rmdir(dir) < 0)
			return error_set(
				ERROR_EXISTS,
				"'%s' already exists and is not an empty "
				"folder; give another DIR",
				dir);
	}
	if (mkdir(dir, 0777) < 0)
		return error_set(
			ERROR_GENERIC, "cannot create '%s': %s", dir,
			strerror(errno));
	if (dir[0] == '/') {
		snprintf(d.dir, sizeof(d.dir), "%s", dir);
	} else {
		if (!getcwd(cwd, sizeof(cwd)))
			return error_set(
				ERROR_GENERIC,
				"cannot find the current folder");
		if ((size_t)snprintf(d.dir, sizeof(d.dir), "%s/%s", cwd, dir) >=
		    sizeof(d.dir))
			return error_set(ERROR_GENERIC, "path too long");
	}
	if (plan[0] != '/' && getcwd(cwd, sizeof(cwd))) {
		char abs[4096];

		if (path_join(abs, sizeof(abs), cwd, plan) < 0)
			return ERROR_GENERIC;
		snprintf(planbuf, sizeof(planbuf), "%s", abs);
		plan = planbuf;
	}
	error = demo_run(&d, plan);
	free(d.out);
	return error;
}
