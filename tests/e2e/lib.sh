# Shared helpers for the end-to-end scripts: source it, call the checks, end
# with `finish`.  Each check prints a TAP-style "ok - ..." or "not ok - ...".
# $PLANSYNC_BIN is the binary under test and $PLANSYNC_TOP the source tree.
set -u
: "${PLANSYNC_TOP:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${PLANSYNC_BIN:=$PLANSYNC_TOP/build/plansync}"
T=$(mktemp -d "${TMPDIR:-/tmp}/plansync-e2e.XXXXXX")
trap 'rm -rf "$T"' EXIT
export HOME="$T/home"
export PLANSYNC_HOME="$T/home/.config/plansync"
export GIT_CONFIG_NOSYSTEM=1
export NO_COLOR=1
# every merge also diffs its trees to check the changes it recorded
export PLANSYNC_TEST_CHECK_CHANGES=1
# and warms its heap on a thread, whatever the index's size
export PLANSYNC_TEST_WARM_ANY=1
# and computes the index's checksum on a thread as it writes the files
export PLANSYNC_TEST_PIPE_ANY=1
unset PLANSYNC_PASSPHRASE EDITOR VISUAL
mkdir -p "$HOME"
git config --global user.name "plansync tests"
git config --global user.email "tests@plansync.example"
git config --global init.defaultBranch main
YORK="$PLANSYNC_TOP/plans/york-hate-crime-2022-23"
_fails=0

ok() { echo "ok - $*"; }
notok() { echo "not ok - $*"; _fails=$((_fails + 1)); }

# ps ARGS...: run plansync, stdout in $T/out, stderr in $T/err, status in $rc
ps() {
	"$PLANSYNC_BIN" "$@" >"$T/out" 2>"$T/err"
	rc=$?
}

# expect CODE DESCRIPTION ARGS...: run plansync and check its exit status
expect() {
	_want=$1
	_desc=$2
	shift 2
	ps "$@"
	if [ "$rc" -eq "$_want" ]; then
		ok "$_desc"
	else
		notok "$_desc (exit $rc, wanted $_want; stderr: $(head -c 300 "$T/err"))"
	fi
}

# out_has / err_has PATTERN DESCRIPTION: grep -E the last run's output
out_has() { if grep -qE -- "$1" "$T/out"; then ok "$2"; else notok "$2 (stdout lacks '$1')"; fi; }
err_has() { if grep -qE -- "$1" "$T/err"; then ok "$2"; else notok "$2 (stderr lacks '$1': $(head -c 300 "$T/err"))"; fi; }
err_one_line() {
	if [ "$(wc -l <"$T/err")" -eq 1 ]; then ok "$1"; else notok "$1 (stderr has $(wc -l <"$T/err") lines)"; fi
}

# tree_sum DIR: a checksum of every file's path and bytes under DIR
tree_sum() { (cd "$1" && find . -type f ! -path './.git/*' -print0 | sort -z | xargs -0 sha256sum | sha256sum); }

finish() {
	[ "$_fails" -eq 0 ]
	exit $?
}
