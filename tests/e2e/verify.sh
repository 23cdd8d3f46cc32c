#!/bin/sh
# plansync verify end to end (SPEC.md 3, 5, 6): a plan made by `plansync
# init` and `set`, extended by stock git commits signed with an ssh-keygen
# key (`git -c gpg.format=ssh -c user.signingkey=KEY commit -S`) that
# partners.yaml registers, passes; each attack, made with stock git or by
# rewriting a commit object by hand, is named with its reason, exit 3.
. "$(dirname "$0")/lib.sh"

P=$T/plan
"$PLANSYNC_BIN" key generate --name Alice --email alice@a.example --org A \
	>/dev/null 2>&1 || notok "key generate"
expect 0 "init a plan" init "$P" --plan "$YORK"
cd "$P" || exit 1
expect 0 "set a field" set P1-A1 status done
expect 0 "verify a plan made by plansync" verify
out_has '^2 commits verified, 0 bad$' "summary line counts 2 good commits"

expect 0 "verify --json" verify --json
out_has '"verdict": "good"' "json has verdicts"
out_has '"signer": "alice@a.example"' "json names the signer"
out_has '"organisation": "A"' "json names the organisation"
out_has '"fingerprint": "SHA256:' "json gives the fingerprint"
if [ "$(grep -c '"commit": "[0-9a-f]\{40\}"' "$T/out")" -eq 2 ]; then
	ok "json lists both commits"
else
	notok "json lists both commits"
fi

# Stock git verifies plansync's commits with the allowed_signers it keeps.
if git verify-commit HEAD 2>/dev/null; then ok "stock git verifies plansync's commit"; else notok "stock git verifies plansync's commit"; fi

# Dave: an ssh-keygen key registered as an editor; Eve: not registered.
ssh-keygen -q -t ed25519 -N '' -C dave@d.example -f "$T/dave"
ssh-keygen -q -t ed25519 -N '' -C eve@e.example -f "$T/eve"
expect 0 "partner add dave" partner add --name Dave --email dave@d.example \
	--org D --key "$(cat "$T/dave.pub")"
# sgit NAME EMAIL KEYFILE ARGS...: stock git signing as someone
sgit() {
	_n=$1 _e=$2 _k=$3
	shift 3
	git -c user.name="$_n" -c user.email="$_e" -c gpg.format=ssh \
		-c user.signingkey="$_k" "$@"
}
echo "stock git was here" >notes.txt
git add notes.txt
sgit Dave dave@d.example "$T/dave" commit -q -S -m "dave: notes" ||
	notok "stock git commit -S"
expect 0 "a stock git commit signed by a registered key passes" verify
out_has '^4 commits verified, 0 bad$' "4 good commits"
good=$(git rev-parse HEAD)

# attack BRANCH: start a branch at the good tip
attack() { git checkout -q -B "$1" "$good"; }
# refused REV VERDICT PATTERN DESC: verify REV exits 3 naming the commit
refused() {
	_id=$(git rev-parse --short=7 "$1")
	expect 3 "$4: exit 3" verify "$1"
	out_has "^$_id $2: .*$3" "$4: named with its reason"
	err_one_line "$4: one line on stderr"
}

attack unknown
echo x >>notes.txt
sgit Eve eve@e.example "$T/eve" commit -q -S -a -m "eve" || notok "eve commits"
refused unknown unknown-key "not listed" "unknown key"

attack author
echo y >>notes.txt
sgit Alice alice@a.example "$T/dave" commit -q -S -a -m "dave as alice" ||
	notok "dave commits as alice"
refused author wrong-author "alice@a.example" "another partner's email as author"

attack editor
sed 's/role: editor/role: coordinator/' partners.yaml >"$T/p" && cp "$T/p" partners.yaml
sgit Dave dave@d.example "$T/dave" commit -q -S -a -m "dave promotes himself" ||
	notok "dave edits partners.yaml"
refused editor not-coordinator "partners.yaml" "an editor changing partners.yaml"

attack unsigned
echo z >>notes.txt
git commit -q -a -m "unsigned" || notok "unsigned commit"
refused unsigned unsigned "not signed" "an unsigned commit"

# Hand-made objects from the good tip's raw commit.
git cat-file commit "$good" >"$T/raw"
mkobj() { git hash-object -t commit -w --stdin; }

attack tampered-message
sed 's/^dave: notes$/dave: NOTES/' "$T/raw" | mkobj >"$T/id"
git update-ref refs/heads/tampered-message "$(cat "$T/id")"
refused tampered-message bad-signature "does not verify" "a tampered message"

# The signature's last armor line (inside the 64-byte Ed25519 signature):
# swap its first base64 character.
awk '/^ -----END SSH SIGNATURE-----$/ { if (prev != "") { c = substr(prev, 2, 1); r = (c == "A") ? "B" : "A"; prev = " " r substr(prev, 3) } }
	NR > 1 { print prev } { prev = $0 } END { print prev }' "$T/raw" | mkobj >"$T/id"
git update-ref refs/heads/tampered-signature "$(cat "$T/id")"
refused tampered-signature bad-signature "" "a tampered signature"

# A gpgsig block pasted into the message body of an unsigned commit.
awk 'BEGIN { h = 1 }
	h && /^gpgsig / { insig = 1; sig = sig $0 "\n"; next }
	h && insig && /^ / { sig = sig $0 "\n"; next }
	{ insig = 0 }
	h && /^$/ { h = 0 }
	{ print }
	END { printf "%s", sig }' "$T/raw" | mkobj >"$T/id"
git update-ref refs/heads/pasted "$(cat "$T/id")"
if git cat-file commit pasted | grep -q '^gpgsig -----BEGIN SSH SIGNATURE' &&
	! git cat-file commit pasted | sed '/^$/q' | grep -q '^gpgsig'; then
	ok "pasted block is in the body only"
else
	notok "pasted block is in the body only"
fi
refused pasted unsigned "not signed" "a gpgsig block pasted into the body"

# Two gpgsig headers: the block twice.
awk 'BEGIN { h = 1 }
	h && /^gpgsig / { insig = 1; sig = $0 "\n"; print; next }
	h && insig && /^ / { sig = sig $0 "\n"; print; next }
	h && insig { printf "%s", sig; insig = 0 }
	h && /^$/ { h = 0 }
	{ print }' "$T/raw" | mkobj >"$T/id"
git update-ref refs/heads/two-headers "$(cat "$T/id")"
refused two-headers malformed "two gpgsig" "two gpgsig headers"

# Revocation: after Alice revokes Dave, his next commit is refused; his
# earlier one stays good.
git checkout -q main
expect 0 "partner revoke dave" partner revoke dave@d.example
echo w >>notes.txt
sgit Dave dave@d.example "$T/dave" commit -q -S -a -m "dave after revocation" ||
	notok "dave commits after revocation"
refused main revoked "revoked" "a revoked key"
expect 3 "HEAD is bad" verify
out_has '^6 commits verified, 1 bad$' "only the commit after revocation is bad"

# --all walks every branch; HEAD alone does not see the attack branches.
git reset -q --hard HEAD~
expect 0 "HEAD good again" verify
expect 0 "REV then --json" verify main --json
out_has '"verdict": "good"' "REV then --json prints json"
expect 3 "--all finds the attack branches" verify --all
out_has ' unknown-key: ' "--all names the unknown key"
out_has ' two gpgsig' "--all names the two gpgsig headers"
out_has '^[0-9]+ commits verified, 8 bad$' "--all counts 8 bad commits"
expect 3 "--all --json" verify --all --json
out_has '"verdict": "unknown-key"' "json verdict unknown-key"
out_has '"verdict": "bad-signature"' "json verdict bad-signature"

# Usage and bad arguments.
expect 2 "two revisions" verify main unknown
err_one_line "two revisions: one line"
expect 2 "--all and REV" verify --all main
expect 2 "unknown option" verify --bogus
expect 1 "a name that is no commit" verify no-such-branch
err_has "'no-such-branch'" "names the revision"
err_one_line "bad revision: one line"
mkdir -p "$T/empty"
expect 1 "outside a repository" -C "$T/empty" verify
err_has "is not in a git repository" "says it is not a repository"
expect 0 "verify --help" verify --help
out_has '^usage: plansync verify' "help shows usage"

finish
