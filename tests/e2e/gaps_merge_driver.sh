#!/bin/sh
# The merge driver init and clone configure for stock git keeps working
# when the plansync binary that ran them moves: the configured command runs
# the recorded absolute path if it is still there, else `plansync` from
# PATH (as the hooks do).  Stock `git merge` of two sides that both edit one
# action file must go through the driver (a text merge conflicts).
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/bin" "$T/moved"
cp "$PLANSYNC_BIN" "$T/bin/plansync"
P="$T/bin/plansync"
"$P" key generate --name "Jane Smith" --email jane@nyp.example --org NYP >/dev/null || notok "key"
(cd "$T" && "$P" init base --plan "$YORK" >/dev/null) || notok "init"
(cd "$T" && "$P" clone base a >/dev/null 2>&1) || notok "plansync clone"
git clone -q "$T/base" "$T/b"
for d in base a; do
	drv=$(git -C "$T/$d" config merge.plansync.driver)
	case "$drv" in
	*"'$P'"*"merge-driver %O %A %B %P") ok "$d: the driver names the binary's absolute path" ;;
	*) notok "$d: the driver names the binary's absolute path ($drv)" ;;
	esac
done
# A path with a quote and a space survives the shell quoting.
mkdir -p "$T/it's here"
cp "$PLANSYNC_BIN" "$T/it's here/plansync"
(cd "$T" && "$T/it's here/plansync" init quoted --plan "$YORK" >/dev/null) || notok "init from a quoted path"
drv=$(git -C "$T/quoted" config merge.plansync.driver)
out=$(sh -c "$(echo "$drv" | sed 's/ merge-driver %O %A %B %P$/ --version/')" 2>&1)
case "$out" in
plansync*) ok "the configured command runs the quoted path ($out)" ;;
*) notok "the configured command runs the quoted path ($drv -> $out)" ;;
esac

(cd "$T/a" && "$P" set P2-A1 status done >/dev/null && "$P" update add P2-A2 --text "A adds" >/dev/null) || notok "edits in a"
(cd "$T/b" && "$P" set P2-A1 timescale "May 2024" >/dev/null && "$P" update add P2-A2 --text "B adds" >/dev/null) || notok "edits in b"
git -C "$T/a" fetch -q "$T/b" +main:refs/remotes/b/main

# The binary moves away.
mv "$T/bin/plansync" "$T/moved/plansync"
# With no plansync anywhere, the driver cannot run: git leaves a conflict
# (the test can fail).
NOPS_PATH=/usr/local/bin:/usr/bin:/bin
if PATH=$NOPS_PATH command -v plansync >/dev/null 2>&1; then
	ok "skipped: a plansync is installed on the system PATH"
else
	if PATH=$NOPS_PATH git -C "$T/a" -c commit.gpgsign=false merge -q --no-edit b/main >"$T/out" 2>"$T/err"; then
		notok "no plansync at all: git merge fails"
	else
		ok "no plansync at all: git merge fails"
	fi
	git -C "$T/a" merge --abort 2>/dev/null
fi
# plansync on PATH: the driver falls back to it.
if PATH="$T/moved:$NOPS_PATH" git -C "$T/a" -c commit.gpgsign=false merge -q --no-edit b/main >"$T/out" 2>"$T/err"; then
	ok "binary moved, plansync on PATH: stock git merge succeeds"
else
	notok "binary moved, plansync on PATH: stock git merge succeeds ($(head -c 300 "$T/err"))"
fi
if [ -z "$(git -C "$T/a" status --porcelain)" ]; then ok "git status clean"; else notok "git status clean"; fi
if grep -q "A adds" "$T/a/actions/P2/P2-A2.yaml" && grep -q "B adds" "$T/a/actions/P2/P2-A2.yaml"; then ok "the driver merged: both updates kept"; else notok "the driver merged: both updates kept"; fi
if grep -q "^status: done" "$T/a/actions/P2/P2-A1.yaml" && grep -q "^timescale: May 2024" "$T/a/actions/P2/P2-A1.yaml"; then ok "the driver merged: both fields kept"; else notok "the driver merged: both fields kept"; fi
if grep -q "^<<<<<<<" "$T/a/actions/P2/"*.yaml; then notok "no conflict markers"; else ok "no conflict markers"; fi
finish
