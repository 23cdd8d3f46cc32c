#!/bin/sh
# plansync status and verify print what commits carry (HEAD's author name,
# email and subject; verification reasons quoting an author email) and
# what the work tree holds (file names), and stock git lets anyone put
# terminal control sequences there: ESC[2J, \r, BEL, a C1 CSI (U+009B), a
# bidi override.  Printed raw they would let a partner spoof the status or
# the verdicts on a terminal.  As in log and blame (gaps_audit_escape.sh),
# text output shows them escaped and --json is valid UTF-8 JSON with every
# control character as a \u escape.
. "$(dirname "$0")/lib.sh"

B=$PLANSYNC_BIN
R="$T/repo"
"$B" key generate --name "Jane Smith" --email jane@nyp.example --org NYP >/dev/null || notok "jane's key"
ssh-keygen -q -t ed25519 -N "" -C ann@x.example -f "$T/ann" || notok "ssh-keygen"
expect 0 "init" init "$R" --plan "$YORK"
cd "$R" || exit 1
expect 0 "partner add ann, a coordinator" partner add --name "Ann Lee" --email ann@x.example --org X --role coordinator --key "$(cat "$T/ann.pub")"

ESC=$(printf '\033')
CR=$(printf '\r')
BEL=$(printf '\a')
raw_free() { # DESC: no ESC, CR or BEL byte in stdout
	if grep -q "[$ESC$CR$BEL]" "$T/out"; then notok "$1: no raw ESC, CR or BEL"; else ok "$1: no raw ESC, CR or BEL"; fi
}
c1_free() { # DESC: no C1 control, DEL, bidi override or stray byte in stdout
	if LC_ALL=C grep -q "$(printf '[\302\177\342\377]')" "$T/out"; then notok "$1: no C1, DEL, bidi or bad byte"; else ok "$1: no C1, DEL, bidi or bad byte"; fi
}
json_ok() { # DESC: stdout is valid UTF-8 JSON
	if python3 -c 'import json,sys; json.load(open(sys.argv[1], encoding="utf-8", errors="strict"))' "$T/out" 2>"$T/py.err"; then ok "$1: valid UTF-8 JSON"; else notok "$1: valid UTF-8 JSON ($(cat "$T/py.err"))"; fi
}

# ---- status: HEAD by stock git, ESC[2J, CR, BEL in author name and subject
NAME=$(printf 'Ann\a\033[2J\rJ\303\251r\303\264me\tLee')
sed -i 's/^status: .*/status: done/' actions/P1/P1-A1.yaml
if GIT_AUTHOR_NAME="$NAME" git -c user.email=ann@x.example -c user.signingkey="$T/ann" commit -q -S -am "$(printf 'P1-A1: status done\033[2J\r(spoof)')"; then
	ok "stock git commit, author name and subject with ESC[2J, CR, BEL"
else
	notok "stock git commit, author name and subject with ESC[2J, CR, BEL"
fi
if git cat-file commit HEAD | grep -q "$ESC"; then ok "the commit holds a raw ESC"; else notok "the commit holds a raw ESC"; fi
expect 0 "status" status
raw_free "status"
out_has '^HEAD [0-9a-f]{12} P1-A1: status done\\x1b\[2J\\x0d\(spoof\)$' "status: the subject escaped"
out_has '^     by Ann\\x07\\x1b\[2J\\x0dJérôme	Lee <ann@x.example>, ' "status: the name escaped, UTF-8 and tab kept"
expect 0 "status --json" status --json
raw_free "status --json"
json_ok "status --json"
got=$(python3 -c 'import json,sys
print(json.load(open(sys.argv[1], encoding="utf-8"))["head"]["author"], end="")' "$T/out" 2>/dev/null)
if [ "$got" = "$NAME" ]; then ok "status --json: the name decodes to the exact bytes"; else notok "status --json: the name decodes to the exact bytes"; fi

# ---- a file name with ESC[2J and CR in the work tree, and its reason -------
BADF=$(printf 'actions/P1/x\033[2J\rA.yaml')
echo "id: x" >"$BADF"
expect 0 "status with a control character in a file name" status
raw_free "status, file name"
out_has '^  added +actions/P1/x\\x1b\[2J\\x0dA\.yaml  ' "status: the file name escaped"
expect 0 "status --json, file name" status --json
raw_free "status --json, file name"
json_ok "status --json, file name"
rm -f "$BADF"

# ---- status: a signed commit whose author email holds a C1 CSI and a bidi
# override (verify calls it malformed without quoting it) -------------------
EMAIL=$(printf 'ann\302\2332J\342\200\256@x.example')
sed -i 's/^status: .*/status: on-hold/' actions/P1/P1-A1.yaml
if GIT_AUTHOR_EMAIL="$EMAIL" git -c user.email=ann@x.example -c user.signingkey="$T/ann" commit -q -S -am "P1-A1: status on-hold"; then
	ok "stock git commit, author email with a C1 CSI and a bidi override"
else
	notok "stock git commit, author email with a C1 CSI and a bidi override"
fi
if git cat-file commit HEAD | LC_ALL=C grep -q "$(printf '\302\233')"; then ok "the commit holds a raw C1 CSI"; else notok "the commit holds a raw C1 CSI"; fi
expect 0 "status of that commit" status
c1_free "status, email"
out_has '<ann\\u009b2J\\u202e@x.example>' "status: the email escaped"
expect 0 "status --json of that commit" status --json
c1_free "status --json, email"
json_ok "status --json, email"

# ---- verify: a coordinator's signed commit makes partners.yaml invalid with
# a role holding bidi overrides (U+202E); the reason quotes the value -----
ROLE=$(printf 'edi\342\200\256tor\342\200\256x')
sed -i "0,/role: coordinator/s//role: \"$ROLE\"/" partners.yaml
if git -c user.email=ann@x.example -c user.signingkey="$T/ann" commit -q -S -am "partners: a bad role" 2>/dev/null; then
	ok "stock git commit of partners.yaml, a role with bidi overrides"
else
	notok "stock git commit of partners.yaml, a role with bidi overrides"
fi
expect 3 "verify: those commits are bad" verify
c1_free "verify"
out_has "^[0-9a-f]{7} malformed: invalid partners.yaml:[0-9]+:[0-9]+: 'role' must be coordinator or editor, not 'edi\\\\u202etor\\\\u202ex'$" "verify: the bidi overrides in the reason escaped"
expect 3 "verify --json" verify --json
c1_free "verify --json"
json_ok "verify --json"
out_has "\"reason\": \"invalid partners.yaml:[0-9]+:[0-9]+: 'role' must be coordinator or editor, not 'edi\\\\u202etor\\\\u202ex'\"" "verify --json: the bidi overrides as \\u escapes"

# ---- status: C1, DEL, bidi and a byte that is not UTF-8 in the name of a
# hand-made commit --------------------------------------------------------
sed -i 's/^status: .*/status: done/' actions/P1/P1-A1.yaml
git add actions/P1/P1-A1.yaml
tree=$(git write-tree)
{
	printf 'tree %s\nparent %s\n' "$tree" "$(git rev-parse HEAD)"
	printf 'author Ann\302\233\177X\342\200\256Y\377Z <ann@x.example> 1700000000 +0000\n'
	printf 'committer Ann <ann@x.example> 1700000000 +0000\n\nP1-A1: status done\n'
} >"$T/c"
c=$(git hash-object -t commit -w "$T/c") && git update-ref refs/heads/main "$c" && git reset -q --hard &&
	ok "a hand-made commit with C1, DEL, bidi and a bad byte" || notok "a hand-made commit with C1, DEL, bidi and a bad byte"
expect 0 "status (C1)" status
c1_free "status (C1)"
out_has '^     by Ann\\u009b\\x7fX\\u202eY\\xffZ <ann@x.example>' "status: C1, DEL, bidi override and bad byte escaped"
expect 0 "status --json (C1)" status --json
c1_free "status --json (C1)"
json_ok "status --json (C1)"
out_has '"author": "Ann\\u009b\\u007fX\\u202eY\\ufffdZ"' "status --json: C1, DEL, bidi escaped, the bad byte as U+FFFD"
finish
