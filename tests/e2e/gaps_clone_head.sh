#!/bin/sh
# plansync clone checks out the branch the remote's HEAD names (as git
# clone does), over a local path, file://, git:// and http://; when the
# remote names none it can offer (HEAD on a missing branch) it keeps the
# old rule: the only branch, else main, else master, else the first.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/servers.sh"

B=$PLANSYNC_BIN
SRV="$T/srv"
mkdir -p "$SRV"
"$B" key generate --name "Jane Smith" --email jane@nyp.example --org NYP >/dev/null || notok "key"
expect 0 "init" init "$T/src" --plan "$YORK"
git -C "$T/src" checkout -q -b plan
(cd "$T/src" && "$B" set P1-A1 status done >/dev/null) || notok "a commit on plan"
git -C "$T/src" checkout -q main
PLAN_TIP=$(git -C "$T/src" rev-parse plan)
MAIN_TIP=$(git -C "$T/src" rev-parse main)
[ "$PLAN_TIP" != "$MAIN_TIP" ] && ok "plan and main differ" || notok "plan and main differ"

# hub NAME HEADREF: a bare hub with main and plan, HEAD -> HEADREF
hub() {
	git clone -q --bare "$T/src" "$SRV/$1.git"
	git -C "$SRV/$1.git" symbolic-ref HEAD "$2"
}
# cloned LABEL URL DIR BRANCH TIP: clone checks out BRANCH at TIP
cloned() {
	expect 0 "$1: clone" clone "$2" "$T/$3"
	out_has "^cloned into '$T/$3': branch $4 at " "$1: says branch $4"
	_b=$(git -C "$T/$3" symbolic-ref --short HEAD 2>/dev/null)
	if [ "$_b" = "$4" ]; then ok "$1: on branch $4"; else notok "$1: on branch $4 (on '$_b')"; fi
	if [ "$(git -C "$T/$3" rev-parse HEAD 2>/dev/null)" = "$5" ]; then ok "$1: at the tip of $4"; else notok "$1: at the tip of $4"; fi
	if [ "$(git -C "$T/$3" config "branch.$4.merge")" = "refs/heads/$4" ]; then ok "$1: $4 tracks origin/$4"; else notok "$1: $4 tracks origin/$4"; fi
	if [ -z "$(git -C "$T/$3" status --porcelain)" ]; then ok "$1: clean work tree"; else notok "$1: clean work tree"; fi
}

hub plan refs/heads/plan
cloned "local path, HEAD -> plan" "$SRV/plan.git" c-path plan "$PLAN_TIP"
cloned "file://, HEAD -> plan" "file://$SRV/plan.git" c-file plan "$PLAN_TIP"
hub main refs/heads/main
cloned "HEAD -> main" "$SRV/main.git" c-main main "$MAIN_TIP"
# HEAD on a branch the hub does not have: the old rule (main).
hub lost refs/heads/nothing
cloned "HEAD on a missing branch: main" "$SRV/lost.git" c-lost main "$MAIN_TIP"
# Only plan: the only branch, whatever HEAD says.
git clone -q --bare "$T/src" "$SRV/only.git"
git -C "$SRV/only.git" symbolic-ref HEAD refs/heads/nothing
git -C "$SRV/only.git" branch -q -D main
cloned "one branch, HEAD on a missing one: that branch" "$SRV/only.git" c-only plan "$PLAN_TIP"

if start_git_daemon "$SRV"; then
	cloned "git://, HEAD -> plan" "git://127.0.0.1:$GIT_DAEMON_PORT/plan.git" c-daemon plan "$PLAN_TIP"
	stop_server "$GIT_DAEMON_PID"
else
	notok "git daemon: $SERVER_WHY"
fi
if start_http "$SRV"; then
	cloned "http://, HEAD -> plan" "http://127.0.0.1:$HTTP_PORT/git/plan.git" c-http plan "$PLAN_TIP"
	cloned "http://, HEAD -> main" "http://127.0.0.1:$HTTP_PORT/git/main.git" c-http-main main "$MAIN_TIP"
	stop_server "$HTTP_PID"
else
	notok "http: $SERVER_WHY"
fi
finish
