#!/bin/sh
# Crash safety and concurrency: SIGKILL plansync at random moments during
# commits (set, update add), merges (plansync merge) and syncs until COUNT
# kills have landed on a running plansync (first argument, default 50;
# `make stress` runs 500).  After each kill:
#   - git fsck is clean in the repository and the hub;
#   - every commit that existed before the kill is still reachable, locally
#     or on the hub;
#   - the next plansync command works (a sync, then an edit): a lock, index
#     lock or temporary file left by the killed process does not wedge it.
# Then two plansync processes run at once on one repository, many times:
# each either succeeds or says busy (exit 5), never both half-done.
. "$(dirname "$0")/lib.sh"

COUNT=${1:-50}
case $COUNT in
'' | *[!0-9]*) echo "usage: crash.sh [COUNT]" >&2; exit 2 ;;
esac

as() {
	_who=$1
	shift
	PLANSYNC_HOME="$T/keys/$_who" "$PLANSYNC_BIN" "$@"
}
rand() { od -An -N2 -tu2 /dev/urandom | tr -d ' '; }

cd "$T" || exit 1
mkdir -p keys/a keys/b
as a key generate --name "Ann Coord" --email ann@york.example --org CYC >/dev/null || exit 1
as b key generate --name "Bob Part" --email bob@nyp.example --org NYP >/dev/null || exit 1
as a init a --plan "$YORK" >/dev/null || exit 1
git init -q --bare hub.git
as a -C a remote add origin "$T/hub.git" >/dev/null
as a -C a partner add --name "Bob Part" --email bob@nyp.example --org NYP \
	--key "$(cat keys/b/key.pub)" >/dev/null || exit 1
as a -C a sync >/dev/null || exit 1
as b clone "$T/hub.git" b >/dev/null || exit 1

ACTIONS=$(cd a && ls actions/*/*.yaml | sed 's|.*/||; s|\.yaml$||')
NACT=$(echo "$ACTIONS" | wc -l)
pick_action() { echo "$ACTIONS" | sed -n "$(($(rand) % NACT + 1))p"; }
STATUSES="planned in-progress ongoing on-hold done"
pick_status() { echo $STATUSES | tr ' ' '\n' | sed -n "$(($(rand) % 5 + 1))p"; }

# b makes a change and pushes it, so that a's sync or merge has work.
partner_work() {
	as b -C b set "$(pick_action)" status "$(pick_status)" >/dev/null 2>&1
	as b -C b sync >/dev/null 2>&1
}

kills=0
bad=0
fail() {
	notok "$*"
	bad=$((bad + 1))
}

# Until COUNT kills have landed on a running plansync (at most 10 x COUNT
# tries: one that finished before its kill counts as a try only).  The
# window narrows (scale, in percent) after each kill that came too late,
# so a fast machine still gets its kills, and widens again after a hit.
i=0
scale=100
while [ $kills -lt "$COUNT" ] && [ $i -lt $((COUNT * 10)) ]; do
	i=$((i + 1))
	op=$(($(rand) % 4))
	[ $op -ge 2 ] && partner_work
	act=$(pick_action)
	case $op in
	0) set -- -C a set "$act" status "$(pick_status)"; what="set"; win=80 ;;
	1) set -- -C a update add "$act" --text "crash test note $i" --date 2024-01-01; what="update add"; win=80 ;;
	2) as a -C a fetch >/dev/null 2>&1
	   set -- -C a merge origin/main; what="merge"; win=120 ;;
	*) set -- -C a sync; what="sync"; win=180 ;;
	esac
	# What exists before the kill.
	pre_a=$(git -C a rev-parse HEAD)
	pre_hub=$(git -C hub.git rev-parse main)
	pre_b=$(git -C b rev-parse HEAD)
	# A random moment while it runs (a commit takes ~100 ms here, a
	# merge a little more, a sync ~200 ms).
	delay=$(awk -v r="$(rand)" -v w="$win" -v s="$scale" 'BEGIN { w = int(w * s / 100); if (w < 2) w = 2; printf "%.3f", (r % w) / 1000 }')
	# (A simple command, so that $! is plansync itself, not a subshell.)
	PLANSYNC_HOME="$T/keys/a" "$PLANSYNC_BIN" "$@" >/dev/null 2>&1 &
	pid=$!
	sleep "$delay"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	# 137 = killed by SIGKILL (a finished one is only a zombie when hit)
	if [ $? -eq 137 ]; then
		kills=$((kills + 1))
		scale=$((scale + 5 > 100 ? 100 : scale + 5))
	else
		scale=$((scale * 3 / 4 < 5 ? 5 : scale * 3 / 4))
	fi

	git -C a fsck --no-progress >"$T/fsck" 2>&1 || fail "kill $i ($what after ${delay}s): git fsck: $(head -n 3 "$T/fsck")"
	[ "$what" = sync ] && ! git -C hub.git fsck --no-progress >"$T/fsck" 2>&1 && fail "kill $i ($what): hub fsck: $(head -n 3 "$T/fsck")"
	for c in "$pre_a" "$pre_hub" "$pre_b"; do
		if ! git -C a merge-base --is-ancestor "$c" HEAD 2>/dev/null &&
			! git -C hub.git merge-base --is-ancestor "$c" main 2>/dev/null &&
			! git -C a rev-list --all 2>/dev/null | grep -q "$c"; then
			fail "kill $i ($what after ${delay}s): commit $c lost"
		fi
	done
	# The next commands work: a read, a sync (which recovers what the
	# kill left), an edit.
	if ! as a -C a status >"$T/out" 2>&1; then
		fail "kill $i ($what after ${delay}s): next status failed: $(cat "$T/out")"
	fi
	if ! as a -C a sync >"$T/out" 2>&1; then
		fail "kill $i ($what after ${delay}s): next sync failed: $(cat "$T/out")"
	fi
	if ! as a -C a set "$(pick_action)" timescale "after kill $i" >"$T/out" 2>&1; then
		fail "kill $i ($what after ${delay}s): next edit failed: $(cat "$T/out")"
	fi
	[ -z "$(git -C a status --porcelain)" ] || fail "kill $i ($what after ${delay}s): work tree not clean: $(git -C a status --porcelain | head -n 3)"
	[ $bad -gt 5 ] && break
done
[ $bad -eq 0 ] && ok "$kills SIGKILLs landed during set, update add, merge and sync ($i runs): fsck clean, no commit lost, the next command works"
[ $kills -ge "$COUNT" ] && ok "at least $COUNT kills landed" || notok "only $kills of $COUNT kills landed in $i runs"
git -C a fsck --no-progress >/dev/null 2>&1 && ok "final fsck clean" || notok "final fsck"
as a -C a verify >"$T/out" 2>&1 && ok "final verify passes" || notok "final verify: $(tail -n 2 "$T/out")"

# Two plansync processes on one repository at once.
busy=0
both=0
j=0
while [ $j -lt 20 ]; do
	j=$((j + 1))
	partner_work
	before=$(git -C a rev-parse HEAD)
	as a -C a sync >"$T/o1" 2>&1 &
	p1=$!
	as a -C a set P1-A1 timescale "concurrent $j" >"$T/o2" 2>&1 &
	p2=$!
	wait $p1
	r1=$?
	wait $p2
	r2=$?
	for r in $r1 $r2; do
		case $r in
		0) ;;
		5) busy=$((busy + 1)) ;;
		*) notok "concurrent run $j: exit $r: $(cat "$T/o1" "$T/o2")" ;;
		esac
	done
	[ $r1 -eq 0 ] && [ $r2 -eq 0 ] && both=$((both + 1))
	git -C a fsck --no-progress >/dev/null 2>&1 || notok "concurrent run $j: fsck"
	git -C a merge-base --is-ancestor "$before" HEAD || notok "concurrent run $j: lost $before"
	if [ $r2 -eq 0 ] && ! grep -q "concurrent $j" a/actions/P1/P1-A1.yaml; then
		notok "concurrent run $j: the edit that succeeded is missing"
	fi
done
ok "20 concurrent sync + edit pairs: each finished or said busy ($both both ran, $busy busy)"
[ -z "$(git -C a status --porcelain)" ] && ok "work tree clean after concurrency" || notok "work tree not clean"
finish
