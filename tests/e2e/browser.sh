#!/bin/sh
# The audit report (export --format html --audit) rendered by a real
# browser: Debian's chromium, headless, loads the file, and the test asserts
# on what the rendered page holds (its DOM after parsing and layout), then
# saves a screenshot as a test artifact (build/artifacts/, or
# $PLANSYNC_ARTIFACTS).  The Markdown audit report is checked as text.
. "$(dirname "$0")/lib.sh"

CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ]; then
	echo "ok # skip chromium is not installed (apt-get install chromium)"
	exit 0
fi
ART=${PLANSYNC_ARTIFACTS:-$PLANSYNC_TOP/build/artifacts}
mkdir -p "$ART"

B=$PLANSYNC_BIN
R="$T/repo"
TOM="$T/tom"

# chrome ARGS... FILE: one headless run with a fresh profile, no network.
chrome() {
	_prof=$(mktemp -d "$T/profile.XXXXXX")
	timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu \
		--disable-quic --no-first-run --disable-background-networking \
		--disable-component-update --disable-sync \
		--user-data-dir="$_prof" "$@" 2>>"$T/chrome.err"
}

"$B" key generate --name "Jane Smith" --email jane@nyp.example --org NYP >/dev/null
PLANSYNC_HOME="$TOM" "$B" key generate --name "Tom Jones" --email tom@cyc.example --org CYC >/dev/null
expect 0 "init" init "$R" --plan "$YORK"
cd "$R" || exit 1
expect 0 "partner add tom" partner add --name "Tom Jones" --email tom@cyc.example --org CYC --key "$(cat "$TOM/key.pub")"
PLANSYNC_HOME="$TOM" expect 0 "tom adds an update with markup in it" update add P1-A2 --text "Training <b>booked</b> with Tom & Co" --date 2024-01-15
TUID=$(sed -n 's/.*update \(u[0-9a-f]*\) added.*/\1/p' "$T/out")
expect 0 "jane sets P1-A1 status" set P1-A1 status done
sed -i 's/^status: .*/status: on-hold/' actions/P1/P1-A3.yaml
git -c user.name=Mallory -c user.email=m@x.example commit -q -am "hand edit" >/dev/null 2>&1 ||
	notok "unsigned hand commit"
today=$(date -u +%Y-%m-%d)

expect 0 "export html --audit" export --format html --audit --since 2020-01-01 --until "$today" -o "$T/report.html"
chrome --dump-dom "file://$T/report.html" >"$T/dom.html"
if [ -s "$T/dom.html" ] && grep -q '<body' "$T/dom.html"; then ok "chromium rendered the report"; else
	notok "chromium rendered the report ($(tail -n 3 "$T/chrome.err"))"
fi
# The page's text, one line per block, entities decoded.
sed -e 's/<\/\(td\|th\|tr\|p\|div\|h[12]\|li\)>/\n/g' -e 's/<[^>]*>//g' \
	-e 's/&lt;/</g; s/&gt;/>/g; s/&quot;/"/g; s/&#39;/'"'"'/g; s/&amp;/\&/g' \
	"$T/dom.html" >"$T/page.txt"
has() { if grep -qE -- "$1" "$T/page.txt"; then ok "page shows: $2"; else notok "page shows: $2 (lacks '$1')"; fi; }
has "^York Hate Crime Partnership Action Plan 2022/23" "the title"
has "Training <b>booked</b> with Tom & Co" "tom's text exactly as typed (markup shown, not applied)"
if grep -q '<b>booked</b>' "$T/dom.html"; then notok "no <b> element made from update text"; else ok "no <b> element made from update text"; fi
# Under tom's update: who, when, signature.
if grep -A 2 "Training <b>booked</b>" "$T/page.txt" | grep -qE "Last changed by Tom Jones \(CYC\), $today [0-9:]+ [-+][0-9]{4}, signature good, commit [0-9a-f]{7}"; then
	ok "page shows under tom's update: Tom Jones (CYC), date, signature good"
else notok "page shows under tom's update: Tom Jones (CYC), date, signature good"; fi
has "Last changed by Jane Smith \(NYP\), $today .*signature good" "jane credited under the updates she wrote"
has "^Appendix: Changes from 2020-01-01 to $today" "the appendix heading with the period"
has "^P1-A2/updates/$TUID/text" "appendix: tom's new update text"
has "^P1-A1/status" "appendix: jane's status change"
has "^Mallory" "appendix: the unsigned hand edit's author"
has "^unsigned" "appendix: the unsigned hand edit's status"
has "^in-progress → done" "appendix: old → new"
nrows=$(grep -c '<tr><td class="when">' "$T/dom.html")
nlog=$("$B" log --since 2020-01-01 --until "$today" --json | grep -c '"field"')
[ "$nrows" -eq "$nlog" ] && [ "$nrows" -gt 0 ] && ok "appendix rows = log entries ($nrows)" || notok "appendix rows ($nrows) = log entries ($nlog)"
chrome --window-size=1280,1800 --screenshot="$ART/audit-report.png" "file://$T/report.html" >/dev/null
if [ -s "$ART/audit-report.png" ] && [ "$(head -c 4 "$ART/audit-report.png" | tail -c 3)" = "PNG" ]; then
	ok "screenshot saved to $ART/audit-report.png"
else notok "screenshot saved"; fi

# A period with no changes says so.
expect 0 "export html --audit, empty period" export --format html --audit --until 2000-01-01 -o "$T/empty.html"
chrome --dump-dom "file://$T/empty.html" >"$T/dom2.html"
grep -q "No changes in this period." "$T/dom2.html" && ok "empty period: 'No changes in this period.'" || notok "empty period: 'No changes in this period.'"

# Markdown: the same facts as text.
expect 0 "export md --audit" export --format md --audit
out_has "Training <b>booked</b> with Tom &amp; Co|Training \\\\<b\\\\>booked" "md keeps tom's text"
out_has "\*Last changed by Tom Jones \(CYC\), $today [0-9:]+ [-+][0-9]{4}, signature good, commit [0-9a-f]{7}\*" "md: who, when, signature under the update"
out_has "^## Appendix: All changes" "md: appendix of all changes"
out_has "^\| [0-9-]+ [0-9:]+ [-+][0-9]{4} \| P1-A3/status \| ongoing → on-hold \| Mallory \| unsigned \|" "md: appendix row of the unsigned edit"

# Bad combinations.
expect 2 "export csv --audit refused" export --format csv --audit
expect 2 "--since without --audit refused" export --format html --since 2023-01-01
expect 2 "bad --until refused" export --format md --audit --until 2023-13-01
expect 0 "export html without --audit unchanged" export --format html
if grep -q "Last changed by" "$T/out"; then notok "no audit lines without --audit"; else ok "no audit lines without --audit"; fi
finish
