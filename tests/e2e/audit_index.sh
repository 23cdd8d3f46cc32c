# The field-history index follows plansync's own commits: once built, a
# set moves its tip to the new HEAD without a query; verify checks it
# against the objects and refuses (exit 3) an index that lies.
. "$(dirname "$0")/lib.sh"

expect 0 "key generate" key generate --name Jane --email jane@nyp.example --org NYP
expect 0 "init" init "$T/r" --plan "$YORK"
cd "$T/r" || exit 1
tipfile=.git/plansync/history/tip
expect 0 "log builds the index" log
if [ -f "$tipfile" ]; then ok "index written"; else notok "index written"; fi
expect 0 "set" set P1-A1 status done
head=$(git rev-parse HEAD)
if grep -q "$head" "$tipfile"; then ok "set brought the index to HEAD"; else notok "set brought the index to HEAD ($(cat "$tipfile"))"; fi
expect 0 "verify with a true index" verify
# Corrupt one recorded commit id in the index: verify must notice.
idx=.git/plansync/history/index
if [ -f "$idx" ] && grep -q "$head" "$idx" 2>/dev/null; then
	sed -i "s/$head/$(echo "$head" | tr '0-9a-f' '1-9a-f0')/" "$idx"
	expect 3 "verify refuses an index that disagrees with the commits" verify
	expect 0 "the index was rebuilt: verify passes again" verify
else
	ok "# skip index is binary; corruption covered by test_history"
fi
expect 0 "blame after the rebuild" blame P1-A1
out_has "done" "blame shows the new status"
finish
