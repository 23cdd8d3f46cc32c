#!/bin/sh
# The write commands on the binary: init, set, update add, action add, edit,
# commit, partner add|revoke|list, status.  Every change must be exactly one
# commit, signed by the signer's key, author = the key's name and email,
# passing `git verify-commit` with the repository's own config, with a clean
# `git status` after it.  Every bad input must exit with its code, print one
# line on stderr naming what was wrong and change nothing: HEAD, the work
# tree (checksummed) and the index stay as they were.
. "$(dirname "$0")/lib.sh"

B=$PLANSYNC_BIN
R="$T/repo"
TOM="$T/tom"
EVE="$T/eve"
NACT=$(find "$YORK/actions" -name '*.yaml' | wc -l)

"$B" key generate --name "Jane Smith" --email jane@nyp.example --org NYP >/dev/null ||
	notok "key generate for jane"
PLANSYNC_HOME="$TOM" "$B" key generate --name "Tom Jones" --email tom@cyc.example --org CYC >/dev/null ||
	notok "key generate for tom"
PLANSYNC_HOME="$EVE" "$B" key generate --name "Eve" --email eve@evil.example --org X >/dev/null ||
	notok "key generate for eve"

# snap: HEAD, work tree checksum and index state of $R, to compare.
snap() { echo "$(git -C "$R" rev-parse -q --verify HEAD 2>/dev/null) $(tree_sum "$R" 2>/dev/null) $(git -C "$R" status --porcelain 2>/dev/null | sha256sum)"; }
ncommits() { git -C "$R" rev-list --count HEAD 2>/dev/null || echo 0; }

# refused CODE DESC ARGS...: exit CODE, one stderr line, nothing changed.
refused() {
	_code=$1
	_d=$2
	shift 2
	_before=$(snap)
	expect "$_code" "$_d" "$@"
	err_one_line "$_d: one line on stderr"
	if grep -q '^plansync: ' "$T/err"; then ok "$_d: message starts 'plansync: '"; else notok "$_d: message starts 'plansync: '"; fi
	if [ "$(snap)" = "$_before" ]; then ok "$_d: nothing changed"; else notok "$_d: something changed"; fi
}

# committed DESC SUBJECT-REGEX AUTHOR ARGS...: one new commit, signed, clean.
committed() {
	_d=$1
	_subj=$2
	_author=$3
	shift 3
	_n=$(ncommits)
	expect 0 "$_d" "$@"
	if [ "$(ncommits)" -eq $((_n + 1)) ]; then ok "$_d: exactly one commit"; else notok "$_d: exactly one commit ($_n -> $(ncommits))"; fi
	_s=$(git -C "$R" log -1 --format=%s)
	if echo "$_s" | grep -qE -- "$_subj"; then ok "$_d: message '$_s'"; else notok "$_d: message '$_s' !~ '$_subj'"; fi
	_a=$(git -C "$R" log -1 --format='%an <%ae>|%cn <%ce>')
	if [ "$_a" = "$_author|$_author" ]; then ok "$_d: author and committer $_author"; else notok "$_d: author '$_a'"; fi
	if git -C "$R" verify-commit HEAD >/dev/null 2>&1; then ok "$_d: git verify-commit"; else notok "$_d: git verify-commit"; fi
	if [ -z "$(git -C "$R" status --porcelain)" ]; then ok "$_d: git status clean"; else notok "$_d: git status not clean: $(git -C "$R" status --porcelain | head -3)"; fi
}

# ---- help -----------------------------------------------------------------
for c in init set update action edit commit partner status; do
	expect 0 "$c --help" "$c" --help
	out_has "^usage: plansync $c" "$c --help prints usage"
	if [ -s "$T/err" ]; then notok "$c --help: stderr empty"; else ok "$c --help: stderr empty"; fi
done

# ---- init -----------------------------------------------------------------
expect 2 "init without --plan" init "$R"
expect 2 "init without DIR" init --plan "$YORK"
expect 1 "init from a missing plan folder" init "$R" --plan "$T/nope"
err_one_line "init from a missing plan folder: one line"
if [ -e "$R" ]; then notok "failed init leaves no DIR"; else ok "failed init leaves no DIR"; fi
cp -R "$YORK" "$T/badplan"
sed -i 's/^status: .*/status: finished/' "$T/badplan/actions/P2/P2-A1.yaml"
expect 1 "init from an invalid plan" init "$R" --plan "$T/badplan"
err_has "actions/P2/P2-A1.yaml:[0-9]+:[0-9]+:.*status" "init names the bad file, line and rule"
if [ -e "$R" ]; then notok "invalid plan: no DIR"; else ok "invalid plan: no DIR"; fi
mkdir "$T/full" && echo keep >"$T/full/x"
expect 1 "init into a non-empty folder" init "$T/full" --plan "$YORK"
if [ "$(cat "$T/full/x")" = keep ] && [ ! -e "$T/full/.git" ]; then ok "non-empty folder untouched"; else notok "non-empty folder untouched"; fi
PLANSYNC_HOME="$T/nokey" "$B" init "$R" --plan "$YORK" >"$T/out" 2>"$T/err"
if [ $? -eq 1 ] && [ ! -e "$R" ]; then ok "init without a key: exit 1, no DIR"; else notok "init without a key"; fi

R0=$PWD
committed "init" "^init: York Hate Crime" "Jane Smith <jane@nyp.example>" init "$R" --plan "$YORK"
if [ "$(ncommits)" -eq 1 ]; then ok "init: one root commit"; else notok "init: one root commit"; fi
n=$(find "$R/actions" -name '*.yaml' | wc -l)
if [ "$n" -eq "$NACT" ]; then ok "init: all $NACT actions"; else notok "init: $n actions for $NACT"; fi
if [ "$(cat "$R/.gitattributes")" = "*.yaml merge=plansync" ]; then ok "init: .gitattributes"; else notok "init: .gitattributes"; fi
if [ "$(git -C "$R" config gpg.format)" = ssh ]; then ok "init: gpg.format=ssh"; else notok "init: gpg.format=ssh"; fi
asf=$(git -C "$R" config gpg.ssh.allowedSignersFile)
if [ -f "$asf" ] && grep -q '^jane@nyp.example namespaces="git" ssh-ed25519 ' "$asf"; then ok "init: allowed_signers lists jane"; else notok "init: allowed_signers ($asf)"; fi
if git -C "$R" config merge.plansync.driver | grep -q 'merge-driver %O %A %B %P$'; then ok "init: merge driver"; else notok "init: merge driver"; fi
if [ "$(git -C "$R" check-attr merge actions/P1/P1-A1.yaml)" = "actions/P1/P1-A1.yaml: merge: plansync" ]; then ok "init: merge attribute"; else notok "init: merge attribute"; fi
for h in post-checkout post-commit post-merge post-rewrite; do
	if [ -x "$R/.git/hooks/$h" ]; then ok "init: hook $h"; else notok "init: hook $h"; fi
done
if grep -A3 'email: jane@nyp.example' "$R/partners.yaml" | grep -q 'role: coordinator'; then ok "init: jane is a coordinator"; else notok "init: jane is a coordinator"; fi
if git -C "$R" fsck --strict >/dev/null 2>&1; then ok "init: git fsck"; else notok "init: git fsck"; fi
expect 1 "init over an existing repository" init "$R" --plan "$YORK"
PLANSYNC_HOME="$T/noorg" "$B" key generate --name "No Org" --email no@org.example >/dev/null
PLANSYNC_HOME="$T/noorg" expect 0 "init with a key made without --org" init "$T/noorg-repo" --plan "$YORK"
if grep -A2 'email: no@org.example' "$T/noorg-repo/partners.yaml" | grep -q 'organisation: org.example'; then ok "no --org: the email's domain stands in"; else notok "no --org: the email's domain stands in"; fi

cd "$R" || exit 1

# ---- set ------------------------------------------------------------------
committed "set status" "^P1-A1: status .* -> done$" "Jane Smith <jane@nyp.example>" set P1-A1 status done
out_has "^P1-A1: status .* -> done \(commit [0-9a-f]{12}\)$" "set prints what changed"
if [ "$(git diff --name-only HEAD~1 HEAD)" = actions/P1/P1-A1.yaml ]; then ok "set touches one file"; else notok "set touches one file: $(git diff --name-only HEAD~1 HEAD)"; fi
grep -q '^status: done$' actions/P1/P1-A1.yaml && ok "set: work file updated" || notok "set: work file updated"
committed "set responsible" "^P1-A1: responsible .* -> NYP, CYC$" "Jane Smith <jane@nyp.example>" set P1-A1 responsible "NYP, CYC,"
u1=$(sed -n 's/^  - id: \(u[0-9a-f]*\)$/\1/p' actions/P1/P1-A1.yaml | head -n 1)
committed "set an update's date" "^P1-A1: updates/$u1/date .* -> 2024-01-05$" "Jane Smith <jane@nyp.example>" set P1-A1 "updates/$u1/date" 2024-01-05
committed "set a value starting with -" "^P1-A2: timescale .* -> -soon$" "Jane Smith <jane@nyp.example>" set P1-A2 timescale -- -soon

refused 1 "set an unknown status" set P1-A1 status finished
err_has "status" "unknown status: message names the field"
refused 2 "set an unknown field" set P1-A1 colour blue
refused 1 "set an absent action" set P1-A99 status done
refused 2 "set with a path as ID" set ../../etc/passwd status done
refused 2 "set with a bad ID" set P1-A1.yaml status done
refused 1 "set an absent update" set P1-A1 updates/u999/text x
refused 1 "set a bad date" set P1-A1 "updates/$u1/date" 2024-02-30
refused 2 "set with too few arguments" set P1-A1 status
refused 2 "set with an unknown option" set --colour P1-A1 status done
n=$(ncommits)
expect 0 "set to the value it has" set P1-A1 status done
out_has "already" "set to the same value says so"
[ "$(ncommits)" -eq "$n" ] && ok "same value: no commit" || notok "same value: no commit"
echo "# hand edit" >>actions/P2/P2-A1.yaml
_before=$(snap)
expect 1 "set over uncommitted hand edits" set P2-A1 status done
err_has "P2-A1.yaml.*(commit|discard)" "hand edits: says to commit or discard"
[ "$(snap)" = "$_before" ] && ok "hand edits kept, nothing committed" || notok "hand edits kept"
git checkout -q -- actions/P2/P2-A1.yaml

# ---- update add -----------------------------------------------------------
committed "update add" "^P1-A3: update u[0-9a-f]{8} added: Met schools$" "Jane Smith <jane@nyp.example>" update add P1-A3 --text "Met schools" --date 2024-03-01 --responsible "NYP"
uid=$(sed -n 's/^P1-A3: update \(u[0-9a-f]*\) added.*/\1/p' "$T/out")
grep -q "id: $uid" actions/P1/P1-A3.yaml && ok "update add: file holds $uid" || notok "update add: file holds $uid"
refused 2 "update add without --text" update add P1-A3
refused 2 "update add with an empty --text" update add P1-A3 --text ""
refused 1 "update add with a bad date" update add P1-A3 --text x --date 01/02/2024
refused 2 "update add with a bad ID" update add P1/A3 --text x
refused 1 "update add to an absent action" update add P9-A1 --text x
refused 2 "update without add" update P1-A3 --text x

# ---- action add -----------------------------------------------------------
last=$(ls actions/P2 | sed 's/P2-A\([0-9]*\).yaml/\1/' | sort -n | tail -n 1)
next="P2-A$((last + 1))"
committed "action add" "^$next: action added: Train staff$" "Jane Smith <jane@nyp.example>" action add --priority P2 --action "Train staff" --timescale "2024" --responsible "CYC, NYP"
[ -f "actions/P2/$next.yaml" ] && ok "action add: $next written" || notok "action add: $next written"
refused 1 "action add to an unlisted priority" action add --priority P99 --action x
refused 2 "action add with a bad priority" action add --priority 2 --action x
refused 2 "action add without --action" action add --priority P2
refused 1 "action add with an empty action text" action add --priority P2 --action ""

# ---- partners -------------------------------------------------------------
tomkey=$(cat "$TOM/key.pub")
evekey=$(cat "$EVE/key.pub")
committed "partner add" "^partners.yaml: add Tom Jones <tom@cyc.example> \(CYC\) as editor$" "Jane Smith <jane@nyp.example>" partner add --name "Tom Jones" --email tom@cyc.example --org CYC --key "$tomkey"
grep -q '^tom@cyc.example namespaces="git" ssh-ed25519 ' "$asf" && ok "allowed_signers gains tom" || notok "allowed_signers gains tom"
refused 1 "partner add of a listed email" partner add --name T --email tom@cyc.example --org CYC --key "$evekey"
refused 1 "partner add of a listed key" partner add --name T --email t2@cyc.example --org CYC --key "$tomkey"
refused 1 "partner add with a malformed key" partner add --name X --email x@y.example --org X --key "ssh-ed25519 AAAAnotakey"
refused 1 "partner add with an RSA key" partner add --name X --email x@y.example --org X --key "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ x"
refused 2 "partner add with a bad role" partner add --name X --email x@y.example --org X --key "$evekey" --role boss
refused 2 "partner add without --key" partner add --name X --email x@y.example --org X
expect 0 "partner list" partner list
out_has "^tom@cyc.example +Tom Jones +CYC +editor +active +SHA256:" "partner list shows tom"
expect 0 "partner list --json" partner list --json
out_has '"email": "tom@cyc.example", "name": "Tom Jones", "organisation": "CYC", "role": "editor", "revoked": false' "partner list --json"

export PLANSYNC_HOME_JANE="$PLANSYNC_HOME"
PLANSYNC_HOME="$TOM" committed "an editor sets a field" "^P3-A1: status .* -> on-hold$" "Tom Jones <tom@cyc.example>" set P3-A1 status on-hold
PLANSYNC_HOME="$TOM" refused 3 "an editor adds a partner" partner add --name Eve --email eve@evil.example --org X --key "$evekey"
err_has "coordinator" "editor refusal names the rule"
PLANSYNC_HOME="$EVE" refused 3 "an unlisted key sets a field" set P3-A1 status done
err_has "not listed" "unlisted refusal says so"

# ---- edit -----------------------------------------------------------------
cat >"$T/ed-status" <<'EOS'
#!/bin/sh
sed -i 's/^status: .*/status: done/' "$1"
EOS
cat >"$T/ed-bad" <<'EOS'
#!/bin/sh
sed -i 's/^status: .*/status: nearly/' "$1"
EOS
cat >"$T/ed-id" <<'EOS'
#!/bin/sh
sed -i 's/^id: .*/id: P9-A9/' "$1"
EOS
chmod +x "$T"/ed-*
EDITOR="$T/ed-status" committed "edit" "^P4-A1: status .* -> done$" "Jane Smith <jane@nyp.example>" edit P4-A1
VISUAL="$T/ed-status" EDITOR=false committed "edit prefers VISUAL" "^P4-A2: status .* -> done$" "Jane Smith <jane@nyp.example>" edit P4-A2
EDITOR="$T/ed-bad" refused 1 "edit to an invalid file, no terminal" edit P4-A3 </dev/null
err_has "actions/P4/P4-A3.yaml:[0-9]+:[0-9]+:.*status" "edit: the error names file, line and rule"
EDITOR="$T/ed-id" refused 1 "edit that changes the ID" edit P4-A3 </dev/null
EDITOR=false refused 1 "edit with a failing editor" edit P4-A3
n=$(ncommits)
EDITOR=true expect 0 "edit without changes" edit P4-A3
out_has "no changes" "edit without changes says so"
[ "$(ncommits)" -eq "$n" ] && ok "edit without changes: no commit" || notok "edit without changes: no commit"
EDITOR=true refused 1 "edit an absent action" edit P4-A99
EDITOR=true refused 2 "edit a bad ID" edit ../P4-A1
ls .git/plansync/ | grep -q '^edit-' && notok "edit leaves no temp copies" || ok "edit leaves no temp copies"
# On a terminal (script(1) gives one), an invalid edit offers another go.
cat >"$T/ed-twice" <<EOS
#!/bin/sh
if [ -e "$T/seen" ]; then sed -i 's/^status: .*/status: planned/' "\$1"
else touch "$T/seen"; sed -i 's/^status: .*/status: nearly/' "\$1"; fi
EOS
chmod +x "$T/ed-twice"
if command -v script >/dev/null 2>&1; then
	rm -f "$T/seen"
	n=$(ncommits)
	printf 'y\n' | EDITOR="$T/ed-twice" script -qec "'$B' edit P4-A3" /dev/null >"$T/out" 2>&1
	if [ $? -eq 0 ] && [ "$(ncommits)" -eq $((n + 1)) ] && grep -q 'edit again?' "$T/out"; then ok "edit on a terminal: asks, edits again, commits"; else notok "edit on a terminal: $(cat "$T/out")"; fi
	git log -1 --format=%s | grep -q '^P4-A3: status .* -> planned$' && ok "edit again: the second version is committed" || notok "edit again: $(git log -1 --format=%s)"
	rm -f "$T/seen"
	_before=$(snap)
	printf 'n\n' | EDITOR="$T/ed-twice" script -qec "'$B' edit P4-A2" /dev/null >"$T/out" 2>&1
	if [ $? -eq 1 ] && [ "$(snap)" = "$_before" ]; then ok "edit on a terminal, declined: exit 1, nothing changed"; else notok "edit on a terminal, declined"; fi
fi

# ---- commit (hand edits) --------------------------------------------------
sed -i 's/^status: .*/status: on-hold/' actions/P5/P5-A1.yaml
sed -i 's/^timescale: .*/timescale: Spring 2024/' actions/P5/P5-A2.yaml
expect 0 "status with hand edits" status
out_has "modified +actions/P5/P5-A1.yaml" "status lists the hand edit"
expect 0 "status --json" status --json
out_has '"path": "actions/P5/P5-A1.yaml", "change": "modified", "valid": true' "status --json lists the edit"
committed "commit hand edits" "^edit 2 files: P5-A1, P5-A2$" "Jane Smith <jane@nyp.example>" commit
body=$(git log -1 --format=%b)
echo "$body" | grep -q '^P5-A1: status .* -> on-hold$' && ok "commit message lists P5-A1's field" || notok "commit message: $body"
echo "$body" | grep -q '^P5-A2: timescale .* -> Spring 2024$' && ok "commit message lists P5-A2's field" || notok "commit message: $body"
sed -i 's/^status: .*/status: planned/' actions/P5/P5-A1.yaml
committed "commit -m" "^my own words$" "Jane Smith <jane@nyp.example>" commit -m "my own words"
# Hand edits in a non-canonical form are written back canonically.
printf 'id: P6-A9\npriority: P6\naction:   "New, by hand"\nstatus: planned\ntimescale: ""\nupdates: []\ninformation: ""\nresponsible: []\n' >actions/P6/P6-A9.yaml
committed "commit a new action file" "^P6-A9: action added: New, by hand$" "Jane Smith <jane@nyp.example>" commit
head -n 1 actions/P6/P6-A9.yaml | grep -q '^id: P6-A9$' && ok "new action written canonically" || notok "new action written canonically"
git rm -q actions/P6/P6-A9.yaml
committed "commit a deleted action" "^P6-A9: action deleted$" "Jane Smith <jane@nyp.example>" commit
echo "bad: [" >>actions/P6/P6-A1.yaml
refused 1 "commit an invalid file" commit
err_has "actions/P6/P6-A1.yaml:[0-9]+:[0-9]+:" "commit names the invalid file and place"
expect 0 "status with an invalid edit" status
out_has "modified +actions/P6/P6-A1.yaml +actions/P6/P6-A1.yaml:[0-9]+" "status shows why the edit is invalid"
git checkout -q -- actions/P6/P6-A1.yaml
echo hi >NOTES.txt
refused 1 "commit a file outside the layout" commit
err_has "NOTES.txt" "outside the layout: names the file"
rm NOTES.txt
ln -s /etc/hostname actions/P6/P6-A8.yaml
refused 1 "commit a symlink" commit
rm actions/P6/P6-A8.yaml
sed 's/P6-A1/P8-A1/; s/^priority: P6/priority: P8/' actions/P6/P6-A1.yaml >"$T/p8" && mkdir actions/P8 && mv "$T/p8" actions/P8/P8-A1.yaml
refused 1 "commit an action of an unlisted priority" commit
err_has "P8" "unlisted priority named"
rm -r actions/P8
rm plan.yaml
refused 1 "commit a deleted plan.yaml" commit
git checkout -q -- plan.yaml
sed -i 's/role: editor/role: coordinator/' partners.yaml
PLANSYNC_HOME="$TOM" refused 3 "an editor commits a partners.yaml edit" commit
committed "a coordinator commits a partners.yaml edit" "^partners.yaml: tom@cyc.example editor -> coordinator$" "Jane Smith <jane@nyp.example>" commit
sed -i 's/role: coordinator/role: editor/; s/^\(    role: \)coordinator/\1editor/' partners.yaml
sed -i '0,/role: editor/s//role: coordinator/' partners.yaml
committed "partners.yaml edit back" "^partners.yaml: tom@cyc.example coordinator -> editor$" "Jane Smith <jane@nyp.example>" commit
n=$(ncommits)
expect 0 "commit with nothing to commit" commit
[ "$(ncommits)" -eq "$n" ] && ok "nothing to commit: no commit" || notok "nothing to commit: no commit"
refused 2 "commit with an empty -m" commit -m ""

# ---- revoke ---------------------------------------------------------------
committed "partner revoke" "^partners.yaml: revoke tom@cyc.example" "Jane Smith <jane@nyp.example>" partner revoke tom@cyc.example
PLANSYNC_HOME="$TOM" refused 3 "a revoked key sets a field" set P3-A1 status done
err_has "revoked" "revoked refusal says so"
refused 1 "revoke the last coordinator" partner revoke jane@nyp.example
refused 1 "revoke an unknown partner" partner revoke nobody@x.example
expect 0 "partner list after revoke" partner list
out_has "^tom@cyc.example .* revoked " "partner list marks tom revoked"
# Tom's commit from before his revocation still verifies with stock git.
tc=$(git log --format=%H --author=tom@cyc.example -1)
if git verify-commit "$tc" >/dev/null 2>&1; then ok "tom's earlier commit still verifies"; else notok "tom's earlier commit still verifies"; fi

# ---- status ---------------------------------------------------------------
expect 0 "status" status
out_has "^on branch " "status names the branch"
out_has "signature good" "status: HEAD's signature is good"
out_has "^work tree clean$" "status: clean"

# A conflict record (as merges write them) is counted by status.
h=$(git rev-parse HEAD)
cat >>actions/P7/P7-A3.yaml <<EOS
conflicts:
  - field: status
    kept: done
    kept_by: jane@nyp.example
    kept_commit: $h
    other: on-hold
    other_by: tom@cyc.example
    other_commit: $h
EOS
committed "commit a conflict record" "^P7-A3: conflicts" "Jane Smith <jane@nyp.example>" commit
expect 0 "status with a conflict record" status
out_has "^1 conflict recorded in 1 action" "status counts the conflict"
expect 0 "status --json with a conflict record" status --json
out_has '"conflicts": 1, "conflicted_actions": 1' "status --json counts the conflict"

# ---- lock -----------------------------------------------------------------
flock -o .git/plansync.lock sleep 5 &
holder=$!
sleep 0.5
refused 5 "set while another process holds the lock" set P7-A1 status done
err_has "busy" "busy message"
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
committed "set once the lock is free" "^P7-A1: status .* -> done$" "Jane Smith <jane@nyp.example>" set P7-A1 status done

# Eight plansync processes at once: they take turns, none is lost.
n=$(ncommits)
for id in P1-A2 P1-A3 P2-A1 P2-A2 P2-A3 P4-A1 P4-A2 P4-A3; do
	("$B" set "$id" timescale "parallel $id" >/dev/null 2>"$T/par-$id.err"; echo $? >"$T/par-$id.rc") &
done
wait
fails=0
for id in P1-A2 P1-A3 P2-A1 P2-A2 P2-A3 P4-A1 P4-A2 P4-A3; do
	[ "$(cat "$T/par-$id.rc")" = 0 ] || fails=$((fails + 1))
	grep -q "^timescale: parallel $id$" "actions/${id%-*}/$id.yaml" || fails=$((fails + 1))
	git show "HEAD:actions/${id%-*}/$id.yaml" | grep -q "^timescale: parallel $id$" || fails=$((fails + 1))
done
[ "$fails" -eq 0 ] && ok "8 parallel sets: all succeed, none lost" || notok "8 parallel sets: $fails failures ($(cat "$T"/par-*.err))"
[ "$(ncommits)" -eq $((n + 8)) ] && ok "8 parallel sets: 8 commits" || notok "8 parallel sets: $(($(ncommits) - n)) commits"
[ "$(git rev-list --merges --count HEAD)" -eq 0 ] && ok "8 parallel sets: a straight history" || notok "8 parallel sets: merges"
[ -z "$(git status --porcelain)" ] && ok "8 parallel sets: git status clean" || notok "8 parallel sets: git status not clean"

# One field's cost follows its action: with the objects of another
# priority's folder gone from the repository, set still works, because it
# never reads them.
t7=$(git rev-parse HEAD:actions/P7)
o7=".git/objects/$(echo "$t7" | cut -c1-2)/$(echo "$t7" | cut -c3-)"
if [ -f "$o7" ]; then
	mv "$o7" "$T/hidden-tree"
	expect 0 "set works without reading other priorities' trees" set P1-A3 status on-hold
	mv "$T/hidden-tree" "$o7"
	git cat-file -e "HEAD:actions/P7" && ok "the hidden tree is back" || notok "the hidden tree is back"
else
	notok "actions/P7's tree is a loose object ($o7)"
fi

# ---- outside a repository ---------------------------------------------------
cd "$T" || exit 1
expect 1 "set outside a repository" set P1-A1 status done
err_has "not in a plan repository" "outside a repository: says so"
cd "$R" || exit 1

# ---- the whole history ------------------------------------------------------
bad=$(git log --format=%G? | grep -vc '^G$')
[ "$bad" -eq 0 ] && ok "every commit's %G? is G" || notok "$bad commits are not G"
if git log --show-signature >/dev/null 2>&1; then ok "git log --show-signature"; else notok "git log --show-signature"; fi
if git fsck --strict >/dev/null 2>&1; then ok "git fsck --strict"; else notok "git fsck --strict"; fi
cd "$R0" || exit 1
finish
