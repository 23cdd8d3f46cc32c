#!/bin/sh
# The read commands (list, show, export) on the York plan and on the small
# fixture plan, in a plain folder and in a git repository, from the plan's
# own folder, from a folder inside it and with -C.  Expected counts are
# worked out from the YAML files themselves (and across formats), not
# written down here.
. "$(dirname "$0")/lib.sh"

SMALL="$PLANSYNC_TOP/tests/fixtures/bad/base"
Y="$T/york"
cp -R "$YORK" "$Y"
rm -f "$Y/README.md"
NACT=$(find "$Y/actions" -name '*.yaml' | wc -l)
york_sum=$(tree_sum "$Y")

# A git repository holding the same plan.
G="$T/york-git"
cp -R "$Y" "$G"
git -C "$G" init -q && git -C "$G" add -A && git -C "$G" commit -qm plan

# ---- help ----
for c in list show export; do
	expect 0 "$c --help exits 0" "$c" --help
	out_has "^usage: plansync $c" "$c --help prints its usage to stdout"
	if [ -s "$T/err" ]; then notok "$c --help: stderr empty"; else ok "$c --help: stderr empty"; fi
	expect 0 "help $c exits 0" help "$c"
	out_has "^usage: plansync $c" "help $c prints $c's usage"
	expect 0 "$c -h exits 0" "$c" -h
done
expect 0 "plansync --help" --help
for c in list show export; do
	out_has "^  $c " "plansync --help lists $c"
done

# ---- finding the plan folder ----
expect 0 "list with -C on the York plan" -C "$Y" list
if [ "$(wc -l <"$T/out")" -eq "$NACT" ]; then ok "list: one line per action ($NACT)"; else notok "list: one line per action ($(wc -l <"$T/out") for $NACT)"; fi
cp "$T/out" "$T/list-all"
first=$(find "$Y/actions" -name '*.yaml' | sed 's#.*/##; s#\.yaml$##' | sort -t- -k1.2n -k2.2n | head -n 1)
if [ "$(head -n 1 "$T/list-all" | cut -d' ' -f1)" = "$first" ]; then ok "list starts with $first"; else notok "list starts with $first ($(head -n 1 "$T/list-all"))"; fi
# P1-A1 ... in ID order: each line's ID matches the sorted file names
find "$Y/actions" -name '*.yaml' | sed 's#.*/##; s#\.yaml$##' | sort -t- -k1.2n -k2.2n >"$T/ids"
if cut -d' ' -f1 "$T/list-all" | cmp -s - "$T/ids"; then ok "list in ID order"; else notok "list in ID order"; fi
# ID, status, action text, responsible on each line
line=$(grep '^P2-A2 ' "$T/list-all")
case "$line" in
"P2-A2  ongoing "*"Work with communities"*"Generate, NYP, Community Safety, CYC, York Travellers Trust")
	ok "list line: ID, status, text, responsible" ;;
*) notok "list line: ID, status, text, responsible ($line)" ;;
esac
maxlen=$(awk '{ print length($0) }' "$T/list-all" | sort -n | tail -n 1)
long=$(grep '^P2-A3 ' "$T/list-all")
case "$long" in
*"..."*) ok "long action text is trimmed" ;;
*) notok "long action text is trimmed ($long)" ;;
esac

(cd "$Y/actions/P2" && "$PLANSYNC_BIN" list >"$T/out" 2>"$T/err")
if cmp -s "$T/out" "$T/list-all"; then ok "list from a folder inside the plan finds plan.yaml above"; else notok "list from inside the plan ($(head -c 200 "$T/err"))"; fi
(cd "$Y" && "$PLANSYNC_BIN" list >"$T/out" 2>"$T/err")
if cmp -s "$T/out" "$T/list-all"; then ok "list in the plan folder itself"; else notok "list in the plan folder itself"; fi
expect 0 "-C a folder inside the plan" -C "$Y/actions" list
if cmp -s "$T/out" "$T/list-all"; then ok "-C inside the plan: same list"; else notok "-C inside the plan: same list"; fi
expect 0 "list in a git repository (from a subfolder)" -C "$G/actions/P1" list
if cmp -s "$T/out" "$T/list-all"; then ok "git repository: same list"; else notok "git repository: same list"; fi
mkdir -p "$T/empty/sub"
expect 1 "list outside any plan fails" -C "$T/empty/sub" list
err_has "not in a plan folder" "says it is not in a plan folder"
err_one_line "outside a plan: one line"
expect 1 "-C a missing folder fails" -C "$T/missing" list

# ---- list filters ----
expect 0 "list --priority P2" -C "$Y" list --priority P2
want=$(find "$Y/actions/P2" -name '*.yaml' | wc -l)
if [ "$(wc -l <"$T/out")" -eq "$want" ] && ! grep -qv '^P2-' "$T/out"; then ok "--priority P2: only P2's $want actions"; else notok "--priority P2 ($(cat "$T/out"))"; fi
for s in ongoing in-progress planned done on-hold; do
	expect 0 "list --status $s" -C "$Y" list --status "$s"
	want=$(grep -lx "status: $s" "$Y"/actions/*/*.yaml | wc -l)
	got=$(wc -l <"$T/out")
	bad=$(awk -v s="$s" '$2 != s' "$T/out" | wc -l)
	if [ "$got" -eq "$want" ] && [ "$bad" -eq 0 ]; then ok "--status $s: $want actions, all $s"; else notok "--status $s: $got lines, $want wanted, $bad wrong"; fi
done
# --responsible: exact organisation name, any case, on the action or an update
want=$(grep -lx ' *- NYP' "$Y"/actions/*/*.yaml | wc -l)
expect 0 "list --responsible nyp" -C "$Y" list --responsible nyp
if [ "$(wc -l <"$T/out")" -eq "$want" ] && [ "$want" -gt 0 ]; then ok "--responsible nyp: $want actions name NYP"; else notok "--responsible nyp: $(wc -l <"$T/out") lines, $want wanted"; fi
want=$(grep -lx ' *- YDRF' "$Y"/actions/*/*.yaml | wc -l)
expect 0 "list --responsible YDRF (an update's organisation)" -C "$Y" list --responsible YDRF
if [ "$(wc -l <"$T/out")" -eq "$want" ] && [ "$want" -gt 0 ]; then ok "--responsible matches update organisations"; else notok "--responsible YDRF: $(wc -l <"$T/out") lines, $want wanted"; fi
expect 0 "list --responsible NY (a prefix matches nothing)" -C "$Y" list --responsible NY
if [ ! -s "$T/out" ]; then ok "--responsible is an exact match"; else notok "--responsible is an exact match ($(head -n 1 "$T/out"))"; fi
want=$(grep -lx ' *- NYP' "$Y"/actions/P2/*.yaml | xargs grep -lx 'status: ongoing' | wc -l)
expect 0 "filters combine" -C "$Y" list --priority P2 --status ongoing --responsible NYP
if [ "$(wc -l <"$T/out")" -eq "$want" ] && ! grep -qv '^P2-.* ongoing ' "$T/out"; then ok "filters combine (AND): $want"; else notok "filters combine: $(cat "$T/out")"; fi
expect 2 "--status with an unknown value is a usage error" -C "$Y" list --status finished
err_has "finished" "the bad status is named"
err_one_line "bad status: one line"
expect 2 "--priority that is no priority ID" -C "$Y" list --priority 2
expect 1 "--priority the plan does not have" -C "$Y" list --priority P99
err_has "P99" "the missing priority is named"
expect 2 "unknown option" -C "$Y" list --colour
expect 2 "option without its value" -C "$Y" list --status
expect 2 "stray argument" -C "$Y" list P1

# ---- list --json ----
expect 0 "list --json" -C "$Y" list --json
if python3 -m json.tool "$T/out" >/dev/null 2>&1; then ok "list --json is valid JSON"; else notok "list --json is valid JSON"; fi
n=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(len(d) if isinstance(d, list) else -1)' "$T/out")
if [ "$n" = "$NACT" ]; then ok "list --json: an array of $NACT actions"; else notok "list --json: $n items"; fi
expect 0 "list --json with filters" -C "$Y" list --json --priority P2 --status ongoing
python3 - "$T/out" <<'EOF' && ok "filtered --json: only P2 ongoing, every field" || notok "filtered --json"
import json, sys
d = json.load(open(sys.argv[1]))
assert d and all(a["priority"] == "P2" and a["status"] == "ongoing" for a in d)
assert all(list(a)[:8] == ["id", "priority", "action", "information", "status",
                           "timescale", "responsible", "updates"] for a in d)
EOF
expect 0 "list --json that matches nothing" -C "$Y" list --json --status on-hold --priority P1
if [ "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])))' "$T/out")" = "[]" ]; then ok "empty --json is []"; else notok "empty --json is [] ($(cat "$T/out"))"; fi

# ---- show ----
expect 0 "show P2-A2" -C "$Y" show P2-A2
for f in priority action information status timescale responsible; do
	out_has "^$f: " "show prints $f"
done
for u in u1 u2 u3; do
	out_has "^  $u\$" "show lists update $u"
done
out_has "^    text: +Meetings held with Generate" "show prints update text"
out_has "^    timescale: +Meeting arranged for January 2024\." "show prints an update's timescale"
out_has "^    responsible: +YDRF, Y & NY Community Safety, NYP, CYC" "show prints an update's responsible"
out_has "Improve awareness and understanding" "show prints the priority's title"
if grep -q "$(printf '\033')" "$T/out"; then notok "no colour when not a terminal"; else ok "no colour when not a terminal"; fi
expect 0 "show ID --json (option after the ID)" -C "$Y" show P2-A2 --json
python3 - "$T/out" "$Y/actions/P2/P2-A2.yaml" <<'EOF' && ok "show --json: valid, the action's fields" || notok "show --json"
import json, sys
a = json.load(open(sys.argv[1]))
assert a["id"] == "P2-A2" and a["status"] == "ongoing"
assert [u["id"] for u in a["updates"]] == ["u1", "u2", "u3"]
assert a["updates"][2]["timescale"] == "Meeting arranged for January 2024."
# every update text is in the YAML file as written
src = open(sys.argv[2]).read()
assert all(u["text"].split(".")[0] in src for u in a["updates"])
EOF
expect 0 "show --json P1-A1" -C "$Y" show --json P1-A1
if python3 -m json.tool "$T/out" >/dev/null 2>&1; then ok "show --json P1-A1 is valid JSON"; else notok "show --json P1-A1 is valid JSON"; fi
expect 1 "show an unknown ID" -C "$Y" show P9-A9
if [ "$(cat "$T/err")" = "plansync: no action 'P9-A9' in plan" ]; then ok "unknown ID: the one-line message"; else notok "unknown ID message ($(cat "$T/err"))"; fi
expect 2 "show a malformed ID" -C "$Y" show ../x
err_one_line "malformed ID: one line"
expect 2 "show P1-a1 (lower case) is malformed" -C "$Y" show P1-a1
expect 2 "show without an ID" -C "$Y" show
expect 2 "show with two IDs" -C "$Y" show P1-A1 P1-A2
expect 0 "show an action without updates" -C "$SMALL" show P1-A2
out_has "^updates \(0\)" "show says there are no updates"

# An action holding a merge conflict record and keys outside the schema.
CF="$T/conflicted"
cp -R "$SMALL" "$CF"
cat >"$CF/actions/P1/P1-A1.yaml" <<'EOF'
id: P1-A1
priority: P1
action: Hold a meeting with partners.
information: Quarterly.
status: ongoing
timescale: Ongoing
responsible:
  - NYP
  - CYC
updates:
  - id: u1
    text: First meeting held.
    date: 2024-01-05
    x-venue: Guildhall
conflicts:
  - field: updates/u1/text
    base: Meeting planned.
    kept: First meeting held.
    kept_by: jane.smith@nyp.example
    kept_commit: 0123456789abcdef0123456789abcdef01234567
    other: First meeting postponed.
    other_by: tom@cyc.example
    other_commit: 89abcdef0123456789abcdef0123456789abcdef
x-budget: 1200
x-tags:
  - pilot
  - city
EOF
expect 0 "show an action with a conflict" -C "$CF" show P1-A1
out_has "^conflicts \(1\):" "show: the conflicts section"
out_has "^  updates/u1/text$" "show: the conflicting field"
out_has "^    other: +First meeting postponed\.$" "show: the value not kept"
out_has "^    other_by: +tom@cyc\.example$" "show: who made the other change"
out_has "^    kept_commit: +0123456789abcdef0123456789abcdef01234567$" "show: the kept commit"
out_has "^x-budget: +1200$" "show: a key outside the schema"
out_has "^    x-venue: +Guildhall$" "show: an update's key outside the schema"
expect 0 "show --json with a conflict" -C "$CF" show P1-A1 --json
python3 - "$T/out" <<'EOF' && ok "show --json: conflicts, typed extra keys" || notok "show --json conflicts"
import json, sys
a = json.load(open(sys.argv[1]))
assert a["conflicts"][0]["other"] == "First meeting postponed."
assert a["x-budget"] == 1200 and a["x-tags"] == ["pilot", "city"]
assert a["updates"][0]["date"] == "2024-01-05"
EOF
expect 0 "md notes unresolved conflicts" -C "$CF" export --format md
out_has "^- P1-A1: updates/u1/text " "md: the conflict is listed"
expect 0 "show an action without a conflict" -C "$SMALL" show P1-A1
if grep -q '^conflicts' "$T/out"; then notok "show: no conflicts section when none"; else ok "show: no conflicts section when none"; fi

# ---- colour: only on a terminal, and never with NO_COLOR ----
if command -v script >/dev/null 2>&1; then
	(cd "$Y" && env -u NO_COLOR script -qec "$PLANSYNC_BIN list --status done" /dev/null) >"$T/tty" 2>&1
	if grep -q "$(printf '\033')\[" "$T/tty"; then ok "colour on a terminal"; else notok "colour on a terminal ($(head -c 200 "$T/tty"))"; fi
	(cd "$Y" && NO_COLOR=1 script -qec "$PLANSYNC_BIN list --status done" /dev/null) >"$T/tty" 2>&1
	if grep -q "$(printf '\033')\[" "$T/tty"; then notok "NO_COLOR turns colour off"; else ok "NO_COLOR turns colour off"; fi
	if grep -q "done" "$T/tty"; then ok "NO_COLOR output still lists"; else notok "NO_COLOR output still lists"; fi
fi

# ---- export ----
expect 0 "export --format md" -C "$Y" export --format md
cp "$T/out" "$T/york.md"
python3 - "$T/york.md" "$Y/plan.yaml" <<'EOF' && ok "md: every priority heading, in order, with its title" || notok "md: priority headings"
import re, sys
md = open(sys.argv[1]).read()
ids = re.findall(r"^  - id: P(\d+)$", open(sys.argv[2]).read(), re.M)
titles = re.findall(r"^    title: (.*)$", open(sys.argv[2]).read(), re.M)
assert len(ids) == 7, ids
heads = re.findall(r"^## Priority (\d+)$", md, re.M)
assert heads == ids, (heads, ids)
pos = [md.index("## Priority %s\n" % i) for i in ids]
assert pos == sorted(pos)
for i, t in zip(ids, titles):
    words = t.split()[:3]
    after = md[md.index("## Priority %s\n" % i):]
    assert " ".join(words) in after.split("\n## ")[0], (i, words)
EOF
heads=$(grep -c '^| ID | Action | Information | Update | Time-scale | Responsible |$' "$T/york.md")
if [ "$heads" -eq 7 ]; then ok "md: a table per priority"; else notok "md: a table per priority ($heads)"; fi
out_has "^# York Hate Crime Partnership Action Plan 2022/23$" "md: the plan's title"
out_has "Updated: December 2023" "md: updated"
out_has "^\| P2-A2 \| " "md: an action row"
expect 0 "export -f markdown (long name, short option)" -C "$Y" export -f markdown
if cmp -s "$T/out" "$T/york.md"; then ok "markdown = md"; else notok "markdown = md"; fi

expect 0 "export --format html" -C "$Y" export --format html
cp "$T/out" "$T/york.html"
cat >"$T/html_check.py" <<'EOF'
import re, sys
from html.parser import HTMLParser
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link",
        "meta", "source", "track", "wbr"}
class Check(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.tags, self.text = [], [], set(), []
    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        for k, v in attrs:
            if v and re.match(r"\s*(https?:|//|ftp:|data:)", v, re.I):
                self.errors.append("external %s=%s" % (k, v))
            if k in ("src", "href") or k.startswith("on"):
                self.errors.append("attribute %s" % k)
        if tag in ("script", "link", "img", "iframe", "object", "embed"):
            self.errors.append("element %s" % tag)
        if tag not in VOID:
            self.stack.append(tag)
    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append("</%s> closes %s" % (tag, self.stack[-1:]))
        else:
            self.stack.pop()
    def handle_data(self, data):
        if self.stack and self.stack[-1] == "style":
            if re.search(r"url\(|@import|https?:", data, re.I):
                self.errors.append("external resource in <style>")
        else:
            self.text.append(data)
html = open(sys.argv[1], encoding="utf-8").read()
p = Check()
p.feed(html)
p.close()
assert html.startswith("<!DOCTYPE html>"), "doctype"
assert not p.errors, p.errors
assert not p.stack, "unclosed %s" % p.stack
assert "style" in p.tags, "no <style>"
assert re.search(r"@media print", html), "no print styles"
assert not re.search(r"https?://", html), "a URL"
text = "".join(p.text)
for needle in sys.argv[2:]:
    assert needle in text, "text lacks %r" % needle
EOF
if python3 "$T/html_check.py" "$T/york.html" 2>"$T/pyerr"; then ok "html: tags balance, <style> with print rules, nothing external, no URLs"; else notok "html check: $(tail -n 1 "$T/pyerr")"; fi
h2=$(grep -o '<h2>Priority [0-9]*</h2>' "$T/york.html" | sed 's/<h2>Priority \([0-9]*\)<\/h2>/\1/' | tr '\n' ' ')
if [ "$h2" = "1 2 3 4 5 6 7 " ]; then ok "html: priorities in order"; else notok "html: priorities in order ($h2)"; fi
if grep -q 'Gypsy &amp; Traveller' "$T/york.html" && ! grep -q 'Gypsy & Traveller' "$T/york.html"; then ok "html: & escaped"; else notok "html: & escaped"; fi

# Escaping on a plan made to need it.
E="$T/escape"
cp -R "$SMALL" "$E"
cat >"$E/actions/P1/P1-A2.yaml" <<'EOF'
id: P1-A2
priority: P1
action: "<script>alert('x')</script> & \"quotes\", commas\nand lines"
information: "| pipes | and *stars*"
status: planned
timescale: ""
responsible:
  - "A, B & C"
updates: []
EOF
expect 0 "html of text with markup" -C "$E" export --format html
cp "$T/out" "$T/escape.html"
if python3 "$T/html_check.py" "$T/escape.html" "<script>alert('x')</script> & \"quotes\", commas" "A, B & C" 2>"$T/pyerr"; then ok "html: markup in the plan stays text"; else notok "html escaping: $(tail -n 1 "$T/pyerr")"; fi
expect 0 "csv of text with quotes and newlines" -C "$E" export --format csv
python3 - "$T/out" <<'EOF' && ok "csv: quotes, commas, newlines round-trip" || notok "csv escaping"
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="", encoding="utf-8")))
r = [x for x in rows if x[1] == "P1-A2"][0]
assert r[2] == "<script>alert('x')</script> & \"quotes\", commas\nand lines", r[2]
assert r[3] == "| pipes | and *stars*"
assert r[6] == "A, B & C"
EOF
expect 0 "json of text with quotes and newlines" -C "$E" export --format json
python3 - "$T/out" <<'EOF' && ok "json: strings round-trip" || notok "json escaping"
import json, sys
d = json.load(open(sys.argv[1]))
a = [x for x in d["actions"] if x["id"] == "P1-A2"][0]
assert a["action"] == "<script>alert('x')</script> & \"quotes\", commas\nand lines"
EOF

expect 0 "export --format json" -C "$Y" export --format json
cp "$T/out" "$T/york.json"
if python3 -m json.tool "$T/york.json" >/dev/null 2>&1; then ok "json: valid"; else notok "json: valid"; fi
python3 - "$T/york.json" "$NACT" <<'EOF' && ok "json: {plan, actions}, 7 priorities, every action" || notok "json shape"
import json, sys
d = json.load(open(sys.argv[1]))
assert list(d) == ["plan", "actions"]
assert d["plan"]["schema"] == "plansync/1"
assert [p["id"] for p in d["plan"]["priorities"]] == ["P%d" % i for i in range(1, 8)]
assert len(d["actions"]) == int(sys.argv[2])
EOF

expect 0 "export --format csv" -C "$Y" export --format csv
cp "$T/out" "$T/york.csv"
python3 - "$T/york.csv" "$T/york.json" <<'EOF' && ok "csv: header + one row per update (or action without updates)" || notok "csv rows"
import csv, json, sys
rows = list(csv.reader(open(sys.argv[1], newline="", encoding="utf-8")))
d = json.load(open(sys.argv[2]))
want = sum(max(1, len(a["updates"])) for a in d["actions"])
assert rows[0] == ["priority", "action_id", "action", "information", "status",
                   "timescale", "responsible", "update_id", "update_text",
                   "update_date", "update_timescale", "update_responsible"]
assert len(rows) == 1 + want, (len(rows), want)
assert all(len(r) == 12 for r in rows)
# every update appears once, with its text
ups = {(a["id"], u["id"]): u["text"] for a in d["actions"] for u in a["updates"]}
got = {(r[1], r[7]): r[8] for r in rows[1:] if r[7]}
assert got == ups
EOF
if [ "$(head -n 1 "$T/york.csv" | od -c | grep -c '\\r')" -eq 1 ]; then ok "csv: CRLF line ends"; else notok "csv: CRLF line ends"; fi

# ---- export -o ----
mkdir -p "$T/reports"
for f in md html csv json; do
	expect 0 "export --format $f -o FILE" -C "$Y" export --format "$f" -o "$T/reports/plan.$f"
	if [ ! -s "$T/out" ] && cmp -s "$T/reports/plan.$f" "$T/york.$f"; then ok "-o plan.$f: the same bytes as stdout, nothing printed"; else notok "-o plan.$f"; fi
done
echo old >"$T/reports/old.md"
expect 0 "-o replaces an existing file" -C "$Y" export --format md --output "$T/reports/old.md"
if cmp -s "$T/reports/old.md" "$T/york.md"; then ok "-o replaced the old file"; else notok "-o replaced the old file"; fi
if [ "$(ls -A "$T/reports" | wc -l)" -eq 5 ]; then ok "-o leaves no temp files"; else notok "-o leaves no temp files ($(ls -A "$T/reports"))"; fi
(cd "$T/reports" && "$PLANSYNC_BIN" -C "$Y" export --format md -o rel.md >"$T/out" 2>"$T/err")
if [ -f "$Y/rel.md" ] && cmp -s "$Y/rel.md" "$T/york.md"; then ok "-o relative to -C"; rm -f "$Y/rel.md"; else notok "-o relative to -C"; fi
expect 1 "-o into a missing folder fails" -C "$Y" export --format md -o "$T/nowhere/plan.md"
err_one_line "-o missing folder: one line"
err_has "nowhere" "-o missing folder: names the path"
if [ ! -e "$T/nowhere" ]; then ok "-o missing folder: nothing written"; else notok "-o missing folder: nothing written"; fi
mkdir "$T/ro" && chmod 0555 "$T/ro"
if [ "$(id -u)" -ne 0 ]; then
	expect 1 "-o into a read-only folder fails" -C "$Y" export --format md -o "$T/ro/plan.md"
	if [ -z "$(ls -A "$T/ro")" ]; then ok "read-only folder: nothing written"; else notok "read-only folder: nothing written"; fi
fi
chmod 0755 "$T/ro"
for o in plan.yaml "$Y/actions/P1/P1-A1.yaml" actions/P2/report.md ./partners.yaml; do
	expect 1 "-o $o (a file of the plan) is refused" -C "$Y" export --format md -o "$o"
	err_has "part of the plan" "-o $o: says why"
done
expect 0 "-o report.md beside plan.yaml is fine" -C "$Y" export --format md -o report.md
if cmp -s "$Y/report.md" "$T/york.md"; then ok "report beside the plan written"; rm -f "$Y/report.md"; else notok "report beside the plan written"; fi
expect 2 "export without --format" -C "$Y" export
expect 2 "export --format pdf" -C "$Y" export --format pdf
err_has "pdf" "the bad format is named"
expect 2 "export with a stray argument" -C "$Y" export --format md extra
expect 2 "export -o without a file" -C "$Y" export --format md -o

# Small plan: an action without updates still gets a CSV row.
expect 0 "csv of the small plan" -C "$SMALL" export --format csv
n=$(python3 -c 'import csv,sys; print(len(list(csv.reader(open(sys.argv[1], newline="")))))' "$T/out")
if [ "$n" -eq 5 ]; then ok "small csv: header + 2 + 1 + 1 rows"; else notok "small csv rows ($n)"; fi

# Reading never changes the plan.
if [ "$(tree_sum "$Y")" = "$york_sum" ]; then ok "the plan folder is unchanged"; else notok "the plan folder is unchanged"; fi
if [ -z "$(git -C "$G" status --porcelain)" ]; then ok "the git repository is clean"; else notok "the git repository is clean"; fi

finish
