#!/bin/sh
# bench/sync_bench.sh [COMMITS] [RUNS]: `plansync sync` of COMMITS (default
# 1000) new signed commits from a hub served by git daemon on 127.0.0.1
# (git://), every commit verified and merged, against stock `git fetch` +
# `git merge` of the same commits in the same run.  RUNS (default 3) fresh
# copies of each side are timed; the medians are compared.  Two cases:
#   ff     the local branch has no new work: plansync verifies every commit
#          and fast-forwards; git fetches and fast-forwards;
#   merge  the local branch has one commit of its own: plansync verifies
#          and makes a signed field-by-field merge commit; git merges with
#          its own text merge (no signature checks).
# Prints a Markdown table on stdout; target: ratio <= 1.2.
# Environment: PLANSYNC (the binary; default build/plansync), SYNC_GEN (the
# commit generator, default build/bench/sync_gen, built by make from
# bench/sync_gen.c).
set -u
N=${1:-1000}
RUNS=${2:-3}
top=$(cd "$(dirname "$0")/.." && pwd)
PS=${PLANSYNC:-$top/${BUILD:-build}/plansync}
GEN=${SYNC_GEN:-$top/${BUILD:-build}/bench/sync_gen}
[ -x "$GEN" ] || GEN=$top/${BUILD:-build}/bench/sync_gen
[ -x "$GEN" ] || { echo "sync_bench: build $GEN first (make build/bench/sync_gen)" >&2; exit 1; }
W=$(mktemp -d "${TMPDIR:-/tmp}/plansync-syncbench.XXXXXX")
DPID=
cleanup() {
	[ -n "$DPID" ] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM
export HOME="$W/home" PLANSYNC_HOME="$W/home/.config/plansync"
export GIT_CONFIG_NOSYSTEM=1 NO_COLOR=1
mkdir -p "$HOME"
git config --global user.name "Bench Coord"
git config --global user.email coord@bench.example
git config --global init.defaultBranch main
die() { echo "sync_bench: $*" >&2; exit 1; }
now() { date +%s.%N; }
el() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", b - a}'; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

cd "$W" || exit 1
# One ssh key: plansync signs with it (imported) and so does stock git.
ssh-keygen -q -t ed25519 -N '' -C coord@bench.example -f "$W/key" || die "ssh-keygen"
"$PS" key import "$W/key" --name "Bench Coord" --email coord@bench.example \
	--org Bench >/dev/null || die "key import"
git config --global gpg.format ssh
git config --global user.signingkey "$W/key"
"$PS" init src --plan "$top/plans/york-hate-crime-2022-23" >/dev/null || die "init"
mkdir srv
git init -q --bare srv/hub.git
"$PS" -C src remote add origin "$W/srv/hub.git" >/dev/null
"$PS" -C src push >/dev/null || die "push"

# git daemon on 127.0.0.1
for try in 1 2 3 4 5; do
	PORT=$(($(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 40000 + 20000))
	: >daemon.log
	git daemon --reuseaddr --listen=127.0.0.1 --port=$PORT --base-path="$W/srv" \
		--export-all --enable=receive-pack "$W/srv" >daemon.log 2>&1 &
	DPID=$!
	i=0
	while [ $i -lt 50 ] && ! git ls-remote "git://127.0.0.1:$PORT/hub.git" >/dev/null 2>&1; do
		sleep 0.1
		i=$((i + 1))
	done
	[ $i -lt 50 ] && break
	kill $DPID 2>/dev/null
	DPID=
done
[ -n "$DPID" ] || die "git daemon did not start"
URL="git://127.0.0.1:$PORT/hub.git"

# Fresh copies at the base, before the hub moves.
r=1
while [ $r -le "$RUNS" ]; do
	for c in ff merge; do
		"$PS" clone "$URL" "ps-$c-$r" >/dev/null || die "clone"
		git clone -q "$URL" "git-$c-$r" || die "git clone"
		if [ $c = merge ]; then
			"$PS" -C "ps-$c-$r" set P7-A1 status done >/dev/null || die "set"
			sed -i 's/^status: .*/status: done/' "git-$c-$r/actions/P7/P7-A1.yaml"
			git -C "git-$c-$r" commit -q -S -am "P7-A1: status -> done" || die "git commit"
		fi
	done
	r=$((r + 1))
done

# N new signed commits, each changing one field of one action, signed by
# the coordinator's key as plansync signs (bench/sync_gen builds them in
# memory: spawning a process per commit would take minutes), pushed to the
# hub.  A few stock git commits (ssh signatures) go on top, so both kinds
# of signature are verified.
echo "sync_bench: making $N signed commits..." >&2
"$GEN" src $((N - 5)) >/dev/null || die "sync_gen"
git -C src reset -q --hard
i=1
while [ $i -le 5 ]; do
	sed -i "s/^timescale: .*/timescale: Git $i/" src/actions/P1/P1-A1.yaml
	git -C src commit -q -S -am "P1-A1: timescale -> Git $i" || die "commit $i"
	i=$((i + 1))
done
git -C src push -q origin main || die "push"
[ "$(git -C src rev-list --count HEAD)" -ge "$N" ] || die "too few commits"

: >ps.t
: >git.t
for c in ff merge; do
	: >"ps-$c.t"
	: >"git-$c.t"
	r=1
	while [ $r -le "$RUNS" ]; do
		t0=$(now)
		"$PS" -C "ps-$c-$r" sync >"ps.out" 2>&1 || die "plansync sync ($c): $(tail -n 3 ps.out)"
		t1=$(now)
		el "$t0" "$t1" >>"ps-$c.t"
		echo >>"ps-$c.t"
		t0=$(now)
		git -C "git-$c-$r" fetch -q origin || die "git fetch"
		git -C "git-$c-$r" merge -q --no-edit origin/main >/dev/null 2>&1 || die "git merge ($c)"
		t1=$(now)
		el "$t0" "$t1" >>"git-$c.t"
		echo >>"git-$c.t"
		# Both sides hold every new commit.
		git -C "ps-$c-$r" merge-base --is-ancestor "$(git -C src rev-parse HEAD)" HEAD ||
			die "plansync did not merge everything ($c)"
		r=$((r + 1))
	done
	v=$(sed -n 's/.*: \([0-9]*\) commits verified.*/\1/p' ps.out | head -n 1)
	[ "${v:-0}" -ge "$N" ] || die "plansync did not verify $N commits ($c): $(cat ps.out)"
done

echo "## plansync sync vs git fetch + git merge ($N new signed commits over git:// on 127.0.0.1, median of $RUNS)"
echo
echo "| case | plansync sync s | git fetch + merge s | ratio (target <= 1.2) |"
echo "|---|---|---|---|"
for c in ff merge; do
	p=$(grep . "ps-$c.t" | median)
	g=$(grep . "git-$c.t" | median)
	echo "| $c | $p | $g | $(awk -v a="$p" -v b="$g" 'BEGIN {printf "%.2f", a / b}')x |"
done
