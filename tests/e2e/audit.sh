#!/bin/sh
# plansync log and blame on a real repository made with the binary: two
# partners with their own keys, a branch merged by stock git, a commit with
# no signature.  Checks the credit (a change carried in by a merge belongs to
# the commit that made it; a merge's own decision belongs to the merge), the
# signature status and organisation shown, --since/--until, that the
# history index and --no-index give identical output, that a deleted,
# truncated or corrupt index is rebuilt, and bad arguments.
. "$(dirname "$0")/lib.sh"

B=$PLANSYNC_BIN
R="$T/repo"
TOM="$T/tom"

"$B" key generate --name "Jane Smith" --email jane@nyp.example --org NYP >/dev/null ||
	notok "key generate for jane"
PLANSYNC_HOME="$TOM" "$B" key generate --name "Tom Jones" --email tom@cyc.example --org CYC >/dev/null ||
	notok "key generate for tom"

expect 0 "init" init "$R" --plan "$YORK"
cd "$R" || exit 1
expect 0 "partner add tom" partner add --name "Tom Jones" --email tom@cyc.example --org CYC --key "$(cat "$TOM/key.pub")"
expect 0 "jane sets P1-A1 status" set P1-A1 status done
JANE1=$(git rev-parse HEAD)
expect 0 "jane adds an update" update add P1-A1 --text "Campaign launched in Micklegate" --date 2023-12-01
UID1=$(sed -n 's/.*update \(u[0-9a-f]*\) added.*/\1/p' "$T/out")
[ -n "$UID1" ] && ok "update id printed ($UID1)" || notok "update id printed"

# Tom edits on a branch; Jane edits another field on main; stock git merges
# (with its own text merge: these tests are about history, not the driver).
echo '*.yaml merge=text' >.git/info/attributes
git checkout -q -b tom
PLANSYNC_HOME="$TOM" expect 0 "tom sets P1-A1 timescale (branch)" set P1-A1 timescale "March 2024"
TOM1=$(git rev-parse HEAD)
PLANSYNC_HOME="$TOM" expect 0 "tom sets P2-A1 status (branch)" set P2-A1 status on-hold
TOM2=$(git rev-parse HEAD)
git checkout -q main
expect 0 "jane sets P1-A1 updates/$UID1/text" set P1-A1 "updates/$UID1/text" "Campaign launched in Micklegate and Guildhall"
JANE2=$(git rev-parse HEAD)
git -c user.name="Jane Smith" -c user.email=jane@nyp.example merge -q --no-ff --no-edit tom >/dev/null 2>&1 ||
	notok "git merge tom"
MERGE1=$(git rev-parse HEAD)
[ "$(git rev-list --parents -n 1 HEAD | wc -w)" -eq 3 ] && ok "HEAD is a merge" || notok "HEAD is a merge"

expect 0 "log P1-A1/timescale" log P1-A1/timescale
out_has "^[0-9-]+ [0-9:]+ [-+][0-9]{4} $(echo "$TOM1" | cut -c1-7)  Tom Jones \(CYC\)  good SHA256:" "timescale change credited to tom's commit, with org, status, fingerprint"
out_has "P1-A1/timescale: .* -> March 2024" "old -> new shown"
if grep -q "$(echo "$MERGE1" | cut -c1-7)" "$T/out"; then notok "merge not credited with tom's change"; else ok "merge not credited with tom's change"; fi

expect 0 "blame P1-A1" blame P1-A1
out_has "^timescale +$(echo "$TOM1" | cut -c1-7) .* Tom Jones \(CYC\) good: March 2024" "blame: timescale -> tom's commit through the merge"
out_has "^status +$(echo "$JANE1" | cut -c1-7) .* Jane Smith \(NYP\) good: done" "blame: status -> jane's commit"
out_has "^updates/$UID1/text +$(echo "$JANE2" | cut -c1-7) .*: Campaign launched in Micklegate and Guildhall" "blame: update text -> jane's edit"
out_has "^updates/$UID1/date " "blame lists the update entry's fields"

expect 0 "blame P2-A1 --json" blame P2-A1 --json
if grep -q "\"field\": \"status\", \"value\": \"on-hold\", \"commit\": \"$TOM2\"" "$T/out"; then ok "blame --json: P2-A1 status by tom"; else notok "blame --json: P2-A1 status by tom"; fi

# A merge that decides a value of its own: credited to the merge commit.
git checkout -q -b tom2 "$TOM2"
PLANSYNC_HOME="$TOM" expect 0 "tom sets P1-A2 status (branch 2)" set P1-A2 status done
git checkout -q main
expect 0 "jane sets P1-A2 status" set P1-A2 status on-hold
git -c user.name="Jane Smith" -c user.email=jane@nyp.example merge -q --no-ff --no-edit tom2 >/dev/null 2>&1
git show HEAD:actions/P1/P1-A2.yaml | sed 's/^status: .*/status: planned/' >actions/P1/P1-A2.yaml
git add actions/P1/P1-A2.yaml
git -c user.name="Jane Smith" -c user.email=jane@nyp.example commit -q --no-edit >/dev/null 2>&1 ||
	notok "commit the decided merge"
MERGE2=$(git rev-parse HEAD)
[ "$(git rev-list --parents -n 1 HEAD | wc -w)" -eq 3 ] && ok "second merge made" || notok "second merge made"
expect 0 "log P1-A2/status --json" log P1-A2/status --json
if grep -q "\"commit\": \"$MERGE2\".*\"signature\": \"unsigned\".*\"merge\": true.*\"field\": \"status\", \"old\": \"on-hold\", \"new\": \"planned\"" "$T/out"; then
	ok "merge's own value credited to the merge (unsigned)"
else notok "merge's own value credited to the merge (unsigned)"; fi
if grep -q '"new": "done"' "$T/out"; then ok "tom's side change listed under tom"; else notok "tom's side change listed under tom"; fi
expect 0 "blame P1-A2" blame P1-A2
out_has "^status +$(echo "$MERGE2" | cut -c1-7) .* unsigned: planned" "blame: decided value -> merge, unsigned"

# An unsigned commit by stock git.
sed -i 's/^timescale: .*/timescale: Summer 2024/' actions/P1/P1-A3.yaml
git -c user.name=Mallory -c user.email=m@x.example commit -q -am "hand edit" >/dev/null 2>&1
expect 0 "log P1-A3" log P1-A3
out_has "Mallory  unsigned" "unsigned commit shown as unsigned"

# Conflict records shown record by record: recorded, then resolved.
printf 'conflicts:\n  - field: timescale\n    base: Ongoing\n    kept: Summer 2024\n    kept_by: m@x.example\n    other: Never\n    other_by: tom@cyc.example\n' >>actions/P1/P1-A3.yaml
git -c user.name=Mallory -c user.email=m@x.example commit -q -am "record" >/dev/null 2>&1
expect 0 "log P1-A3/conflicts" log P1-A3/conflicts
out_has "P1-A3/conflicts: \+ timescale: kept Summer 2024 \(m@x.example\), other Never \(tom@cyc.example\)" "conflict record shown as recorded"
head -n -7 actions/P1/P1-A3.yaml >"$T/a3" && cp "$T/a3" actions/P1/P1-A3.yaml
git -c user.name=Mallory -c user.email=m@x.example commit -q -am "resolve" >/dev/null 2>&1
expect 0 "log P1-A3/conflicts after resolving" log P1-A3/conflicts
out_has "P1-A3/conflicts: - timescale resolved \(was kept Summer 2024, other Never\)" "resolution shown"

# Index and --no-index agree, whole log and per action.
expect 0 "log --json (index)" log --json
cp "$T/out" "$T/log-index"
expect 0 "log --json --no-index" log --json --no-index
if cmp -s "$T/out" "$T/log-index"; then ok "log: index and --no-index identical"; else notok "log: index and --no-index identical"; fi
[ "$(grep -c '"field"' "$T/log-index")" -gt 50 ] && ok "whole log lists every change" || notok "whole log lists every change"
for id in P1-A1 P1-A2 P2-A1; do
	"$B" blame "$id" >"$T/b1" 2>&1
	"$B" blame "$id" --no-index >"$T/b2" 2>&1
	if cmp -s "$T/b1" "$T/b2"; then ok "blame $id: index and --no-index identical"; else notok "blame $id: index and --no-index identical"; fi
done
[ -s .git/plansync/history/index ] && [ -s .git/plansync/history/tip ] && ok "index kept under .git/plansync/history" || notok "index kept under .git/plansync/history"
grep -q "^plansync-history 1 $(git rev-parse HEAD) " .git/plansync/history/tip && ok "index tip is HEAD" || notok "index tip is HEAD"

# Without an index, blame of one action walks that file alone: same answer,
# no index written (the whole index is built by log of everything, export
# --audit, verify, and after commits).
"$B" blame P1-A1 >"$T/blame-index"
rm -rf .git/plansync/history
expect 0 "blame with no index" blame P1-A1
cmp -s "$T/out" "$T/blame-index" && ok "blame without an index: same answer" || notok "blame without an index: same answer"
[ ! -e .git/plansync/history/index ] && ok "blame of one action wrote no index" || notok "blame of one action wrote no index"

# Deleted, truncated, corrupt, lying: rebuilt, same answers.
rm -rf .git/plansync/history
expect 0 "log after deleting the index" log --json
cmp -s "$T/out" "$T/log-index" && ok "deleted index rebuilt, same log" || notok "deleted index rebuilt, same log"
head -c 100 .git/plansync/history/index >"$T/trunc" && cp "$T/trunc" .git/plansync/history/index
expect 0 "log after truncating the index" log --json
cmp -s "$T/out" "$T/log-index" && ok "truncated index rebuilt, same log" || notok "truncated index rebuilt, same log"
printf 'garbage\n' >.git/plansync/history/tip
expect 0 "log after corrupting the tip" log --json
cmp -s "$T/out" "$T/log-index" && ok "corrupt tip rebuilt, same log" || notok "corrupt tip rebuilt, same log"
# A lie that parses: swap two blob ids of P1-A1's versions.
idx=.git/plansync/history/index
b1=$(grep ' actions/P1/P1-A1.yaml$' $idx | sed -n 1p | cut -d' ' -f2)
b2=$(grep ' actions/P1/P1-A1.yaml$' $idx | sed -n 2p | cut -d' ' -f2)
sed -i "s/$b1/TMPBLOB/; s/$b2/$b1/; s/TMPBLOB/$b2/" $idx
expect 0 "log after the index lies" log --json
cmp -s "$T/out" "$T/log-index" && ok "lying index caught and rebuilt, same log" || notok "lying index caught and rebuilt, same log"

# Incremental: a new commit appends to the index.
before=$(wc -l <$idx)
expect 0 "jane sets P3-A1 status" set P3-A1 status done
expect 0 "log P3-A1/status" log P3-A1/status
out_has "P3-A1/status: .* -> done" "new commit in the log"
after=$(wc -l <$idx)
[ "$after" -eq $((before + 1)) ] && ok "index grew by one line (incremental)" || notok "index grew by one line ($before -> $after)"

# Moving HEAD back (not a descendant of the tip): rebuilt for the old HEAD.
git reset -q --hard HEAD~1
expect 0 "log P3-A1/status after reset" log P3-A1/status
if grep -q -- '-> done' "$T/out"; then notok "reset: dropped commit gone from the log"; else ok "reset: dropped commit gone from the log"; fi

# --since / --until (author dates are now; the root is now too).
today=$(date -u +%Y-%m-%d)
expect 0 "log --since today" log P1-A1 --since "$today"
out_has "P1-A1/status" "--since today keeps today's changes"
expect 0 "log --until 2000-01-01" log --until 2000-01-01 --json
[ "$(cat "$T/out")" = "[]" ] && ok "--until before everything: empty" || notok "--until before everything: empty"
expect 0 "log --full" log P1-A1/action --full
out_has "P1-A1/action: \(none\) -> .{80,}" "--full does not trim"
expect 0 "log trims long text" log P1-A1/action
out_has "P1-A1/action: \(none\) -> .{1,64}\.\.\.$" "long text trimmed with ..."

# plansync merge: a text edited on both sides is merged word by word (credited
# to the later of the two edits, not to the merge); a conflict is the
# merge's own record.
expect 0 "update for the text merge" update add P4-A1 --text "Reports go to the working group each quarter"
U2=$(sed -n 's/.*update \(u[0-9a-f]*\) added.*/\1/p' "$T/out")
git checkout -q -b tom3
PLANSYNC_HOME="$TOM" expect 0 "tom edits the end of the text" set P4-A1 "updates/$U2/text" "Reports go to the working group each quarter, with figures"
PLANSYNC_HOME="$TOM" expect 0 "tom sets P4-A1 status" set P4-A1 status done
git checkout -q main
sleep 1
expect 0 "jane edits the start of the text" set P4-A1 "updates/$U2/text" "All reports go to the working group each quarter"
JTXT=$(git rev-parse HEAD)
expect 0 "jane sets P4-A1 status" set P4-A1 status on-hold
JST=$(git rev-parse HEAD)
expect 0 "plansync merge tom3" merge tom3
MERGE3=$(git rev-parse HEAD)
expect 0 "log P4-A1 --json after the merge" log P4-A1 --json
if grep "\"commit\": \"$MERGE3\"" "$T/out" | grep -q "\"field\": \"updates/$U2/text\""; then
	notok "text merged word by word not credited to the merge"
else ok "text merged word by word not credited to the merge"; fi
if grep "\"commit\": \"$MERGE3\"" "$T/out" | grep -q '"field": "conflicts"'; then
	ok "the merge credited with its conflict record"
else notok "the merge credited with its conflict record"; fi
expect 0 "blame P4-A1 --full" blame P4-A1 --full
out_has "^updates/$U2/text +$(echo "$JTXT" | cut -c1-7) .*: All reports go to the working group each quarter, with figures" "blame: merged text -> the later edit"
out_has "^status +$(echo "$JST" | cut -c1-7) " "blame: conflicted status -> the kept side's commit"
"$B" blame P4-A1 --full --no-index >"$T/b3"
cmp -s "$T/out" "$T/b3" && ok "blame after a merge: index and --no-index identical" || notok "blame after a merge: index and --no-index identical"

# Bad input: exit 2, one line.
expect 2 "log with a bad ID" log P1-X1
err_one_line "bad ID: one line"
expect 2 "log with a bad date" log --since 2023-02-30
err_one_line "bad date: one line"
expect 2 "log --until before --since" log --since 2023-02-02 --until 2023-02-01
expect 2 "blame with no ID" blame
expect 2 "blame with a bad ID" blame ../../etc
expect 1 "blame of an absent action" blame P9-A9
err_has "no action 'P9-A9'" "absent action named"
expect 1 "log of an action with no history" log P9-A9
expect 0 "log --help" log --help
expect 0 "blame --help" blame --help
cd "$T" || exit 1
expect 1 "log outside a repository" log
finish
