#!/bin/sh
# plansync log and blame print what commits carry (author names, emails),
# and a commit made by stock git can carry terminal control sequences: an
# ESC[2J that clears the screen, a \r that overwrites the line, a BEL.
# Printed raw they let anyone who can push a commit (even one plansync marks
# bad or unsigned) spoof the audit trail on a terminal, e.g. a \r and a
# fake "good".  Text output shows them escaped (\x1b, \x0d, \x07; C1
# controls, bidi overrides as \uXXXX, bytes that are not UTF-8 as \xHH),
# keeping UTF-8 text and tabs as they are; JSON output is valid UTF-8 JSON
# with every control character as a \u escape and no raw control byte.
. "$(dirname "$0")/lib.sh"

B=$PLANSYNC_BIN
R="$T/repo"
"$B" key generate --name "Jane Smith" --email jane@nyp.example --org NYP >/dev/null || notok "jane's key"
ssh-keygen -q -t ed25519 -N "" -C ann@x.example -f "$T/ann" || notok "ssh-keygen"
expect 0 "init" init "$R" --plan "$YORK"
cd "$R" || exit 1
expect 0 "partner add ann" partner add --name "Ann Lee" --email ann@x.example --org X --key "$(cat "$T/ann.pub")"

ESC=$(printf '\033')
CR=$(printf '\r')
BEL=$(printf '\a')
raw_free() { # DESC: no ESC, CR or BEL byte in stdout
	if grep -q "[$ESC$CR$BEL]" "$T/out"; then notok "$1: no raw ESC, CR or BEL"; else ok "$1: no raw ESC, CR or BEL"; fi
}
stock() { # NAME MESSAGE: a stock git commit of the work tree signed by ann
	GIT_AUTHOR_NAME="$1" git -c user.email=ann@x.example -c user.signingkey="$T/ann" commit -q -S -am "$2"
}

# ---- a good commit whose message holds control characters ------------------
sed -i 's/^status: .*/status: done/' actions/P2/P2-A1.yaml
if stock "Ann Lee" "$(printf 'P2-A1: status done\033[2J\r\a(spoof)')"; then ok "stock git commit, message with ESC[2J, CR, BEL"; else notok "stock git commit, message with ESC[2J, CR, BEL"; fi
if git cat-file commit HEAD | grep -q "$ESC"; then ok "the commit holds a raw ESC"; else notok "the commit holds a raw ESC"; fi
expect 0 "verify: that commit is good" verify
for a in "log P2-A1" "blame P2-A1" "log P2-A1 --json" "blame P2-A1 --json" "log"; do
	expect 0 "$a" $a
	raw_free "$a"
done
expect 0 "log P2-A1 (text)" log P2-A1
out_has '  Ann Lee \(X\)  good SHA256:' "log: ann's signed commit is good"

# ---- an author name with ESC[2J, CR, BEL, UTF-8 and a tab -----------------
NAME=$(printf 'Ann\a\033[2J\rJ\303\251r\303\264me\tLee')
sed -i 's/^status: .*/status: done/' actions/P1/P1-A1.yaml
if stock "$NAME" "P1-A1: status done"; then ok "stock git commit, author name with ESC[2J, CR, BEL"; else notok "stock git commit, author name with ESC[2J, CR, BEL"; fi
if git cat-file commit HEAD | grep -q "$ESC"; then ok "its author holds a raw ESC"; else notok "its author holds a raw ESC"; fi
expect 0 "log P1-A1" log P1-A1
raw_free "log"
out_has 'Ann\\x07\\x1b\[2J\\x0dJérôme	Lee  bad' "log: the name escaped, UTF-8 and tab kept, the commit bad"
expect 0 "blame P1-A1" blame P1-A1
raw_free "blame"
out_has '^status +[0-9a-f]{7} .* Ann\\x07\\x1b\[2J\\x0dJérôme	Lee bad: done$' "blame: the name escaped"
expect 0 "log P1-A1 --json" log P1-A1 --json
raw_free "log --json"
cp "$T/out" "$T/log.json"
expect 0 "blame P1-A1 --json" blame P1-A1 --json
raw_free "blame --json"
cp "$T/out" "$T/blame.json"
for f in log blame; do
	got=$(python3 -c 'import json,sys
v = json.load(open(sys.argv[1], encoding="utf-8"))
print([e["author"] for e in v if e["author"].startswith("Ann")][0], end="")' "$T/$f.json" 2>"$T/py.err")
	if [ "$got" = "$NAME" ]; then ok "$f --json: valid JSON, the name decodes to the exact bytes"; else notok "$f --json: valid JSON, the name decodes to the exact bytes ($(cat "$T/py.err"))"; fi
done
if grep -q 'Ann\\u0007\\u001b\[2J\\rJérôme\\tLee' "$T/log.json"; then ok "log --json: control characters as escapes"; else notok "log --json: control characters as escapes"; fi

# ---- C1 controls (U+009B is a one-byte CSI on some terminals), DEL, a bidi
# override, a byte that is not UTF-8: a commit object written by hand -------
sed -i 's/^status: .*/status: on-hold/' actions/P1/P1-A1.yaml
git add actions/P1/P1-A1.yaml
tree=$(git write-tree)
{
	printf 'tree %s\nparent %s\n' "$tree" "$(git rev-parse HEAD)"
	printf 'author Ann\302\233\177X\342\200\256Y\377Z <ann@x.example> 1700000000 +0000\n'
	printf 'committer Ann <ann@x.example> 1700000000 +0000\n\nP1-A1: status on-hold\n'
} >"$T/c"
c=$(git hash-object -t commit -w "$T/c") && git update-ref refs/heads/main "$c" && git reset -q --hard &&
	ok "a hand-made commit with C1, DEL, bidi and a bad byte" || notok "a hand-made commit with C1, DEL, bidi and a bad byte"
for a in "log P1-A1" "blame P1-A1"; do
	expect 0 "$a (C1)" $a
	if LC_ALL=C grep -q "$(printf '[\302\177\342\377]')" "$T/out"; then notok "$a: no C1, DEL, bidi or bad byte"; else ok "$a: no C1, DEL, bidi or bad byte"; fi
	out_has 'Ann\\u009b\\x7fX\\u202eY\\xffZ ' "$a: C1, DEL, bidi override and bad byte escaped"
	expect 0 "$a --json (C1)" $a --json
	if python3 -c 'import json,sys; json.load(open(sys.argv[1], encoding="utf-8", errors="strict"))' "$T/out" 2>"$T/py.err"; then ok "$a --json: valid UTF-8 JSON"; else notok "$a --json: valid UTF-8 JSON ($(cat "$T/py.err"))"; fi
	out_has '"author": "Ann\\u009b\\u007fX\\u202eY\\ufffdZ"' "$a --json: C1, DEL, bidi escaped, the bad byte as U+FFFD"
done
finish
