#!/bin/sh
# The options of plansync log and blame (parsed by one shared function,
# cli/audit.c): what each accepts, and the usage errors (exit 2, one
# line naming the command and the argument) for what it does not.
. "$(dirname "$0")/lib.sh"

R="$T/repo"
"$PLANSYNC_BIN" key generate --name "Jane Smith" --email jane@nyp.example --org NYP >/dev/null || notok "key"
expect 0 "init" init "$R" --plan "$YORK"
cd "$R" || exit 1
expect 0 "set" set P1-A1 status done

usage() { # DESC PATTERN ARGS...: exit 2, one line matching PATTERN
	_d=$1
	_p=$2
	shift 2
	expect 2 "$_d" "$@"
	err_one_line "$_d: one line"
	err_has "$_p" "$_d: says why"
}

# ---- both -------------------------------------------------------------------
for c in log blame; do
	expect 0 "$c --help" $c --help
	out_has "^usage: plansync $c " "$c --help prints the usage"
	expect 0 "$c -h" $c -h
	out_has "^usage: plansync $c " "$c -h prints the usage"
	usage "$c --bogus" "^plansync: $c: unknown option '--bogus' \(see 'plansync $c --help'\)$" $c --bogus P1-A1
	usage "$c -x" "^plansync: $c: unknown option '-x'" $c -x P1-A1
	expect 0 "$c P1-A1 --json --full --no-index" $c P1-A1 --json --full --no-index
	out_has '"field": "status"' "$c --json is JSON"
	cp "$T/out" "$T/$c-long"
	expect 0 "$c --js --fu --no P1-A1 (unique prefixes)" $c --js --fu --no P1-A1
	if cmp -s "$T/out" "$T/$c-long"; then ok "$c: prefixes mean the same options"; else notok "$c: prefixes mean the same options"; fi
	usage "$c bad ID" "^plansync: $c: 'P1A1' is not an action ID \(P<n>-A<n>\)" $c P1A1
done
expect 0 "blame P1-A1 (text)" blame P1-A1
out_has "^status +[0-9a-f]{7} .* Jane Smith \(NYP\) good: done$" "blame text line"
expect 0 "log P1-A1 (text)" log P1-A1
out_has "^  P1-A1/status: .* -> done$" "log text line"

# ---- log: dates, one selector -----------------------------------------------
today=$(date -u +%Y-%m-%d)
expect 0 "log --since today --until today" log --since "$today" --until "$today" P1-A1/status
out_has "P1-A1/status: .* -> done" "log --since/--until select today's change"
expect 0 "log --since=DATE form" log --since="$today" P1-A1/status
out_has "P1-A1/status: .* -> done" "log --since=DATE works"
expect 0 "log --until 2000-01-01" log --until 2000-01-01 P1-A1/status
if [ -s "$T/out" ]; then notok "log --until 2000-01-01 lists nothing"; else ok "log --until 2000-01-01 lists nothing"; fi
usage "log --since without a value" "^plansync: log: option '--since' needs a value" log --since
usage "log --until without a value" "^plansync: log: option '--until' needs a value" log --until
usage "log --since not a date" "^plansync: log: --since '2024-02-30' is not a date \(YYYY-MM-DD\)" log --since 2024-02-30
usage "log --until not a date" "^plansync: log: --until 'soon' is not a date" log --until soon
usage "log --until before --since" "^plansync: log: --until '2024-01-01' is before --since '2024-02-01'" log --since 2024-02-01 --until 2024-01-01
usage "log two selectors" "^plansync: log: unexpected argument 'P1-A2'" log P1-A1 P1-A2
usage "log ID/ names no field" "^plansync: log: 'P1-A1/' names no field" log P1-A1/
expect 0 "log with no selector" log
out_has "P1-A1/status: .* -> done" "log of everything"

# ---- blame: exactly one ID, no dates -----------------------------------------
usage "blame without an ID" "^plansync: blame: which action\? give an ID" blame
usage "blame with two IDs" "^plansync: blame: give one action ID" blame P1-A1 P1-A2
usage "blame --since (log only)" "^plansync: blame: unknown option '--since'" blame --since 2024-01-01 P1-A1
finish
