/*
 * cli/plandir: finding the plan folder a read command works on.
 *
 * The plan folder is the current directory if it holds plan.yaml, else the
 * nearest parent that does (as git finds .git), so commands work from any
 * folder inside a plan, a git repository or not.
 */
#ifndef PLANSYNC_PLANDIR_H
#define PLANSYNC_PLANDIR_H

struct plan;

/*
 * The plan folder's absolute path (malloc'd).  ERROR_NOTFOUND "not in a
 * plan folder" when neither the current directory nor a parent holds
 * plan.yaml.
 */
int plandir_find(char **out);

/*
 * plandir_find, then plan_load_dir on it, named relative to the current
 * folder ("." or "../..") so that messages name files as the user sees
 * them.  *out_dir (absolute) may be NULL.
 */
int plandir_load(struct plan **out, char **out_dir);

#endif
