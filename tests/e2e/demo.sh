#!/bin/sh
# End to end: `plansync demo` runs the three-partner story and its claims
# hold when checked from outside: exit 0, every copy (and the hub) at the
# same tree, every history verifies (plansync and stock git), a conflict was
# recorded and then resolved in a signed commit, edits of different fields
# and both updates merged.
. "$(dirname "$0")/lib.sh"

D="$T/demo"
"$PLANSYNC_BIN" demo "$D" --plan "$YORK" >"$T/demo.out" 2>"$T/demo.err"
rc=$?
[ $rc -eq 0 ] && ok "demo exits 0" || notok "demo exit $rc: $(tail -n 5 "$T/demo.err" "$T/demo.out")"
grep -q "All five copies are identical" "$T/demo.out" && ok "demo says the copies are identical" || notok "demo lacks its conclusion"

t0=$(git -C "$D/coordinator" rev-parse 'HEAD^{tree}')
for r in nyp cyc uoy hub.git; do
	t=$(git -C "$D/$r" rev-parse 'HEAD^{tree}' 2>/dev/null)
	[ "$t" = "$t0" ] && ok "$r holds the coordinator's tree" || notok "$r tree $t != $t0"
done
for r in coordinator nyp cyc uoy; do
	PLANSYNC_HOME="$D/keys/$r" "$PLANSYNC_BIN" -C "$D/$r" verify >"$T/out" 2>&1 &&
		ok "$r: plansync verify passes" || notok "$r: verify: $(head -c 300 "$T/out")"
	git -C "$D/$r" fsck --no-progress >/dev/null 2>&1 && ok "$r: git fsck clean" || notok "$r: git fsck"
	[ -z "$(git -C "$D/$r" status --porcelain)" ] && ok "$r: work tree clean" || notok "$r: work tree not clean"
done
git -C "$D/uoy" log --format='%H' | while read -r c; do
	git -C "$D/uoy" verify-commit "$c" >/dev/null 2>&1 || echo "$c"
done >"$T/unverified"
[ ! -s "$T/unverified" ] && ok "stock git verifies every commit" || notok "stock git refuses $(head -n 1 "$T/unverified")"

grep -q "conflict: P1-A1 status" "$T/demo.out" && ok "a sync reported the P1-A1 status conflict" || notok "no conflict reported"
git -C "$D/nyp" log --format=%s | grep -q "resolve conflict on status" && ok "the resolution is a commit" || notok "no resolution commit"
[ "$(git -C "$D/nyp" log --merges --format=%H | wc -l)" -ge 1 ] && ok "syncs made merge commits" || notok "no merge commit"
grep -q "^status: done" "$D/cyc/actions/P1/P1-A1.yaml" && ok "the resolved value is in every copy" || notok "P1-A1 status not resolved to done"
! grep -q "field: status" "$D/cyc/actions/P1/P1-A1.yaml" &&
	ok "the conflict record is cleared" || notok "conflict record still there"
grep -q "^status: in-progress" "$D/uoy/actions/P2/P2-A2.yaml" && grep -q "^timescale: March 2024" "$D/uoy/actions/P2/P2-A2.yaml" &&
	ok "different fields of P2-A2 both merged" || notok "P2-A2 fields not both merged"
grep -q "Freshers' Fair" "$D/coordinator/actions/P1/P1-A2.yaml" && grep -q "drop-in sessions" "$D/coordinator/actions/P1/P1-A2.yaml" &&
	ok "both updates to P1-A2 kept" || notok "an update to P1-A2 was lost"
grep -q "good SHA256:" "$T/demo.out" && ok "the audit trail shows signature status" || notok "no signature status in the log"

"$PLANSYNC_BIN" demo "$D" --plan "$YORK" >"$T/out" 2>"$T/err"
[ $? -eq 1 ] && ok "demo refuses a folder that is not empty" || notok "demo reused a full folder"
grep -q "not an empty folder" "$T/err" && ok "and says why" || notok "no reason: $(cat "$T/err")"
(cd "$PLANSYNC_TOP" && "$PLANSYNC_BIN" demo --help >/dev/null) && ok "demo --help" || notok "demo --help"
(cd "$T" && PLANSYNC_PLANS="$PLANSYNC_TOP/plans" "$PLANSYNC_BIN" demo d2 >/dev/null 2>&1) &&
	ok "demo finds the plan through PLANSYNC_PLANS" || notok "demo with PLANSYNC_PLANS failed"
(cd "$T" && "$PLANSYNC_BIN" demo d3 --plan "$T/nope" >/dev/null 2>"$T/err")
[ $? -eq 1 ] && ok "demo with a missing plan folder fails" || notok "demo with a missing plan"
finish
