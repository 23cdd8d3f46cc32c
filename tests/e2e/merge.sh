#!/bin/sh
# End to end: plansync merge, conflicts, resolve and merge-driver on real
# repositories.  Two partners (Jane, coordinator; Tom, editor) work in two
# clones made with `git clone`; every rule of SPEC 4 gets a scenario, plus
# the properties: convergence (same tree id either way), no loss,
# idempotence; the refusals (a bad commit: exit 3; invalid YAML; hand
# edits; unrelated history), and stock `git merge` through the driver.
. "$(dirname "$0")/lib.sh"

P="$PLANSYNC_BIN"
JA="$T/ja"
TO="$T/to"
SA="$T/sa"
PLANSYNC_HOME=$JA "$P" key generate --name Jane --email jane@nyp.example --org NYP >/dev/null
PLANSYNC_HOME=$TO "$P" key generate --name Tom --email tom@cyc.example --org CYC >/dev/null
# Sam signs with stock git and an OpenSSH key (for commits plansync itself
# would refuse to make, like invalid YAML).
ssh-keygen -q -t ed25519 -N '' -C sam@ngo.example -f "$T/sam"
PLANSYNC_HOME=$SA "$P" key import "$T/sam" --name Sam --email sam@ngo.example --org NGO >/dev/null

jane() { PLANSYNC_HOME=$JA "$P" "$@"; }
tom() { PLANSYNC_HOME=$TO "$P" "$@"; }
# pj / pt DIR ARGS: run as Jane / Tom in DIR, capturing like ps
pj() { _d=$1; shift; (cd "$_d" && PLANSYNC_HOME=$JA "$P" "$@") >"$T/out" 2>"$T/err"; rc=$?; }
pt() { _d=$1; shift; (cd "$_d" && PLANSYNC_HOME=$TO "$P" "$@") >"$T/out" 2>"$T/err"; rc=$?; }
head_of() { git -C "$1" rev-parse HEAD; }
tree_of() { git -C "$1" rev-parse "${2:-HEAD}^{tree}"; }
field() { # field DIR ID KEY: the scalar line "KEY: value" of an action file
	_f="$1/actions/${2%%-*}/$2.yaml"
	sed -n "s/^$3: //p" "$_f" | head -n 1
}
check() { if [ "$1" = "$2" ]; then ok "$3"; else notok "$3 (got '$1', wanted '$2')"; fi; }
clean() {
	if [ -z "$(git -C "$1" status --porcelain)" ]; then ok "$2"; else
		notok "$2 ($(git -C "$1" status --porcelain | head -n 3 | tr '\n' ' '))"
	fi
}

# A base repository, then fresh clone pairs of it for each scenario.
(cd "$T" && jane init base --plan "$YORK" >/dev/null) || notok "init"
(cd "$T/base" && jane partner add --name Tom --email tom@cyc.example --org CYC \
	--key "$(PLANSYNC_HOME=$TO "$P" key show | head -n 1)" >/dev/null &&
	jane partner add --name Sam --email sam@ngo.example --org NGO \
		--key "$(cat "$T/sam.pub")" >/dev/null) || notok "partners"

# pair NAME: $T/NAME-a (Jane) and $T/NAME-b (Tom), clones of base, each
# fetching the other as remote-tracking refs a/main and b/main.
pair() {
	git clone -q "$T/base" "$T/$1-a"
	git clone -q "$T/base" "$T/$1-b"
	for _s in a b; do
		git -C "$T/$1-$_s" config merge.plansync.driver "$P merge-driver %O %A %B %P"
		git -C "$T/$1-$_s" config merge.plansync.name plansync
		git -C "$T/$1-$_s" config gpg.ssh.allowedSignersFile "$T/$1-$_s/.git/plansync/allowed_signers"
	done
}
# xfetch NAME: each side fetches the other's main (a/main in b, b/main in a)
xfetch() {
	git -C "$T/$1-a" fetch -q "$T/$1-b" +main:refs/remotes/b/main
	git -C "$T/$1-b" fetch -q "$T/$1-a" +main:refs/remotes/a/main
}

# ---- rules --------------------------------------------------------------

pair r
(cd "$T/r-a" && jane set P1-A1 status done && jane set P2-A1 timescale "June 2024" &&
	jane set P1-A2 responsible "NYP, CYC, Schools" &&
	jane update add P1-A3 --text "Jane's update" --date 2024-01-10 &&
	jane set P2-A2 action "Work with communities of interest to build strong relationships, trust and confidence in reporting hate crime") >/dev/null
sleep 1 # Tom's changes are later: his value wins each conflict
(cd "$T/r-b" && tom set P1-A1 status on-hold && tom set P2-A3 status done &&
	tom set P1-A2 responsible "NYP, Generate" &&
	tom update add P1-A3 --text "Tom's update" --date 2024-01-05 &&
	tom set P2-A2 action "Work with all communities of interest to build relationships, trust and confidence in reporting hate crime") >/dev/null
xfetch r
pj "$T/r-a" merge b/main
check "$rc" 0 "merge: divergent histories merge (exit 0)"
out_has "1 conflict recorded" "merge: reports the one conflict"
out_has "P1-A1 status: kept on-hold \\(tom@cyc.example" "merge: names the conflict, kept value and who"
check "$(git -C "$T/r-a" rev-list --parents -n 1 HEAD | wc -w)" 3 "merge: one commit with two parents"
git -C "$T/r-a" log -1 --format=%B >"$T/msg"
if grep -q "actions merged" "$T/msg" && grep -q "fields merged automatically" "$T/msg" &&
	grep -q "1 conflict recorded" "$T/msg"; then ok "merge: message summarises actions, fields, conflicts"; else notok "merge message: $(cat "$T/msg")"; fi
check "$(git -C "$T/r-a" log -1 --format=%ae)" jane@nyp.example "merge: author is the signer"
pj "$T/r-a" verify
check "$rc" 0 "merge: plansync verify accepts the merge commit"
git -C "$T/r-a" -c gpg.format=ssh verify-commit HEAD >/dev/null 2>&1 &&
	ok "merge: stock git verifies the merge commit" || notok "merge: git verify-commit HEAD"
clean "$T/r-a" "merge: git status clean"
check "$(field "$T/r-a" P1-A1 status)" on-hold "rule: conflict keeps the later change (theirs)"
check "$(field "$T/r-a" P2-A1 timescale)" "June 2024" "rule: changed on ours only keeps ours"
check "$(field "$T/r-a" P2-A3 status)" done "rule: changed on theirs only takes theirs"
resp=$(sed -n '/^responsible:/,/^updates:/p' "$T/r-a/actions/P1/P1-A2.yaml" | grep '^  - ' | tr -d ' -' | tr '\n' ,)
check "$resp" "NYP,CYC,Generate,Schools," "rule: responsible merges as a set (base order, then additions in byte order)"
if grep -q "Jane's update" "$T/r-a/actions/P1/P1-A3.yaml" && grep -q "Tom's update" "$T/r-a/actions/P1/P1-A3.yaml"; then
	ok "rule: updates added on both sides are both kept"
else notok "rule: updates added on both sides"; fi
jl=$(grep -n "Jane's update" "$T/r-a/actions/P1/P1-A3.yaml" | cut -d: -f1)
tl=$(grep -n "Tom's update" "$T/r-a/actions/P1/P1-A3.yaml" | cut -d: -f1)
[ "$tl" -lt "$jl" ] && ok "rule: new updates ordered by date" || notok "rule: new updates ordered by date"
check "$(field "$T/r-a" P2-A2 action)" "Work with all communities of interest to build strong relationships, trust and confidence in reporting hate crime" \
	"rule: text edits that do not overlap merge as text"
pj "$T/r-a" conflicts --json
out_has '"id":"P1-A1","field":"status","base":"ongoing|"base":"in-progress' "conflicts --json: base value"
out_has '"kept":"on-hold","kept_by":"tom@cyc.example","kept_commit":"[0-9a-f]{40}"' "conflicts --json: kept, by, commit"
out_has '"other":"done","other_by":"jane@nyp.example","other_commit":"[0-9a-f]{40}"' "conflicts --json: other, by, commit"

# Convergence: B into A and A into B give the same tree.
pt "$T/r-b" merge a/main
check "$rc" 0 "convergence: the other direction merges"
check "$(tree_of "$T/r-b")" "$(tree_of "$T/r-a")" "convergence: identical tree ids both ways"
clean "$T/r-b" "convergence: git status clean on the other side"
# No loss: every value either side introduced is in the result or a record.
for v in "on-hold" "done"; do
	grep -q "$v" "$T/r-a/actions/P1/P1-A1.yaml" && ok "no loss: '$v' kept or recorded" || notok "no loss: $v"
done
# Idempotence: merging again changes nothing.
h=$(head_of "$T/r-a")
pj "$T/r-a" merge b/main
out_has "Already up to date" "idempotence: merging the same ref again is up to date"
check "$(head_of "$T/r-a")" "$h" "idempotence: HEAD unchanged"
git -C "$T/r-a" fetch -q "$T/r-b" +main:refs/remotes/b/main
pj "$T/r-a" merge b/main
check "$rc" 0 "idempotence: merging the other side's merge"
check "$(tree_of "$T/r-a")" "$(tree_of "$T/r-b")" "idempotence: the tree does not change"
check "$(tree_of "$T/r-a")" "$(tree_of "$T/r-a" HEAD~1)" "idempotence: same tree as before"
# Fast-forward.
pt "$T/r-b" merge a/main
git -C "$T/r-b" fetch -q "$T/r-a" +main:refs/remotes/a/main
pt "$T/r-b" merge a/main
out_has "Fast-forward" "fast-forward when HEAD is an ancestor"
check "$(head_of "$T/r-b")" "$(head_of "$T/r-a")" "fast-forward: same HEAD"
clean "$T/r-b" "fast-forward: git status clean"

# resolve: --other takes the record's other value in a signed commit.
pj "$T/r-a" resolve P1-A1 status --other
check "$rc" 0 "resolve --other"
check "$(field "$T/r-a" P1-A1 status)" done "resolve --other: the other value"
grep -q '^conflicts:' "$T/r-a/actions/P1/P1-A1.yaml" && notok "resolve: record cleared" || ok "resolve: record cleared"
pj "$T/r-a" conflicts
out_has "no conflicts" "conflicts: none left"
pj "$T/r-a" resolve P1-A1 status --keep
check "$rc" 1 "resolve: no record left is an error"
err_one_line "resolve: one-line error"
pj "$T/r-a" resolve P1-A1 status
check "$rc" 2 "resolve: no --keep/--other/--value is a usage error"
pj "$T/r-a" verify
check "$rc" 0 "resolve: history verifies"
clean "$T/r-a" "resolve: git status clean"

# Edit on one side, delete on the other: the edit is kept, the delete recorded.
pair d
(cd "$T/d-a" && git rm -q actions/P3/P3-A1.yaml && jane commit -m "drop P3-A1") >/dev/null 2>&1
(cd "$T/d-b" && tom set P3-A1 status done) >/dev/null
xfetch d
pj "$T/d-a" merge b/main
check "$rc" 0 "rule: edit vs delete merges"
[ -f "$T/d-a/actions/P3/P3-A1.yaml" ] && ok "rule: the edit is kept" || notok "rule: edit vs delete keeps the file"
grep -q 'field: (action)' "$T/d-a/actions/P3/P3-A1.yaml" && ok "rule: the delete is recorded" || notok "rule: delete recorded"
pt "$T/d-b" merge a/main
check "$(tree_of "$T/d-b")" "$(tree_of "$T/d-a")" "convergence: edit vs delete"
pj "$T/d-a" resolve P3-A1 "(action)" --other
check "$rc" 0 "resolve (action) --other deletes the action"
[ -f "$T/d-a/actions/P3/P3-A1.yaml" ] && notok "resolve deleted file" || ok "resolve --other: file gone"
clean "$T/d-a" "resolve delete: git status clean"

# The same new action ID on both sides: both kept, one renumbered.
pair n
(cd "$T/n-a" && jane action add --priority P1 --action "Jane's new action") >/dev/null
(cd "$T/n-b" && tom action add --priority P1 --action "Tom's new action") >/dev/null
new=$(ls "$T/n-a/actions/P1" | sort -V | tail -n 1)
xfetch n
pj "$T/n-a" merge b/main
check "$rc" 0 "rule: same new ID on both sides merges"
out_has "renumbered ${new%.yaml} -> P1-A" "rule: the renumbering is reported"
grep -l "Jane's new action" "$T"/n-a/actions/P1/*.yaml >/dev/null && grep -l "Tom's new action" "$T"/n-a/actions/P1/*.yaml >/dev/null &&
	ok "rule: both new actions kept" || notok "rule: both new actions kept"
git -C "$T/n-a" log -1 --format=%B | grep -q "Renumbered" && ok "rule: renumbering in the commit message" || notok "renumber message"
pt "$T/n-b" merge a/main
check "$(tree_of "$T/n-b")" "$(tree_of "$T/n-a")" "convergence: renumbering gives the same tree both ways"
pj "$T/n-a" list
check "$rc" 0 "renumbered plan lists"

# ---- refusals -------------------------------------------------------------

# An unsigned commit on the other side: exit 3, nothing changes.
pair v
(cd "$T/v-b" && tom set P1-A1 status done) >/dev/null
echo "stray" >"$T/v-b/notes.txt"
git -C "$T/v-b" add notes.txt
git -C "$T/v-b" -c commit.gpgsign=false commit -q -m unsigned
xfetch v
h=$(head_of "$T/v-a")
s=$(tree_sum "$T/v-a")
pj "$T/v-a" merge b/main
check "$rc" 3 "refusal: an unsigned commit refuses the merge (exit 3)"
err_has "unsigned" "refusal: names why"
err_one_line "refusal: one-line error"
check "$(head_of "$T/v-a")" "$h" "refusal: HEAD unchanged"
check "$(tree_sum "$T/v-a")" "$s" "refusal: work tree unchanged"

# A key the local partners.yaml revokes cannot slip in work made before.
pair k
(cd "$T/k-b" && tom set P1-A1 status done) >/dev/null
(cd "$T/k-a" && jane partner revoke tom@cyc.example) >/dev/null
xfetch k
h=$(head_of "$T/k-a")
pj "$T/k-a" merge b/main
check "$rc" 3 "refusal: a key revoked locally is refused (exit 3)"
err_has "revoked" "refusal: says revoked"
check "$(head_of "$T/k-a")" "$h" "refusal (revoked): HEAD unchanged"

# Invalid YAML on the other side (signed by Sam with stock git).
pair y
git -C "$T/y-b" config user.email sam@ngo.example
git -C "$T/y-b" config user.name Sam
git -C "$T/y-b" config gpg.format ssh
git -C "$T/y-b" config user.signingkey "$T/sam"
printf 'id: P1-A1\npriority: P1\nstatus: [unclosed\n' >"$T/y-b/actions/P1/P1-A1.yaml"
git -C "$T/y-b" commit -q -S -a -m "bad yaml"
(cd "$T/y-a" && jane set P1-A2 status done) >/dev/null
xfetch y
h=$(head_of "$T/y-a")
s=$(tree_sum "$T/y-a")
pj "$T/y-a" merge b/main
check "$rc" 1 "refusal: invalid YAML on the other side (exit 1)"
err_has "P1-A1.yaml" "refusal: names the file"
err_one_line "refusal (YAML): one-line error"
check "$(head_of "$T/y-a")" "$h" "refusal (YAML): HEAD unchanged"
check "$(tree_sum "$T/y-a")" "$s" "refusal (YAML): work tree unchanged"

# Edits not committed to a file the merge changes.
pair w
(cd "$T/w-b" && tom set P1-A1 status done) >/dev/null
(cd "$T/w-a" && jane set P1-A2 status done) >/dev/null
xfetch w
echo "# hand edit" >>"$T/w-a/actions/P1/P1-A1.yaml"
h=$(head_of "$T/w-a")
pj "$T/w-a" merge b/main
check "$rc" 1 "refusal: uncommitted edits to a file the merge changes"
err_has "P1-A1.yaml" "refusal (edits): names the file"
check "$(head_of "$T/w-a")" "$h" "refusal (edits): HEAD unchanged"
grep -q "# hand edit" "$T/w-a/actions/P1/P1-A1.yaml" && ok "refusal (edits): the edit is kept" || notok "hand edit lost"

# Unrelated history and unknown refs.
mkdir -p "$T/u"
(cd "$T/u" && jane init other --plan "$YORK") >/dev/null
git -C "$T/r-a" fetch -q "$T/u/other" +main:refs/remotes/u/main
pj "$T/r-a" merge u/main
check "$rc" 1 "refusal: no common history"
err_has "no history in common" "refusal (unrelated): says why"
pj "$T/r-a" merge no/such/ref
check "$rc" 1 "refusal: unknown ref"
err_has "no/such/ref" "refusal (unknown ref): names it"
pj "$T/r-a" merge
check "$rc" 2 "merge without REF is a usage error"

# ---- stock git merge through the driver -----------------------------------

# g-a is made by `plansync clone`, which registers the driver itself
# (config and .gitattributes); g-b by stock git clone.
(cd "$T" && jane clone "$T/base" g-a) >/dev/null 2>&1 || notok "plansync clone"
git clone -q "$T/base" "$T/g-b"
case "$(git -C "$T/g-a" config merge.plansync.driver)" in
*"merge-driver %O %A %B %P") ok "clone registers the merge driver" ;;
*) notok "clone registers the merge driver" ;;
esac
git -C "$T/g-a" check-attr merge actions/P1/P1-A1.yaml | grep -q 'merge: plansync' &&
	ok "clone: .gitattributes names the driver" || notok "clone: .gitattributes"
case "$(git -C "$T/base" config merge.plansync.driver)" in
*"merge-driver %O %A %B %P") ok "init registers the merge driver" ;;
*) notok "init registers the merge driver" ;;
esac
(cd "$T/g-a" && jane set P2-A1 status done && jane update add P2-A2 --text "Jane adds" &&
	jane set P2-A3 timescale "May 2024") >/dev/null
(cd "$T/g-b" && tom set P2-A1 status on-hold && tom update add P2-A2 --text "Tom adds" &&
	tom set P2-A3 responsible "CYC, NYP") >/dev/null
xfetch g
git -C "$T/g-a" -c commit.gpgsign=false merge -q --no-edit b/main >"$T/out" 2>"$T/err"
check "$?" 0 "driver: stock git merge succeeds with both sides editing the same files"
clean "$T/g-a" "driver: git status clean"
grep -q "Jane adds" "$T/g-a/actions/P2/P2-A2.yaml" && grep -q "Tom adds" "$T/g-a/actions/P2/P2-A2.yaml" &&
	ok "driver: both updates kept" || notok "driver: both updates kept"
check "$(field "$T/g-a" P2-A1 status)" done "driver: ours kept on a conflict"
grep -q "other: on-hold" "$T/g-a/actions/P2/P2-A1.yaml" && ok "driver: theirs recorded" || notok "driver: theirs recorded"
check "$(field "$T/g-a" P2-A3 timescale)" "May 2024" "driver: different fields both merge (ours)"
grep -q "  - CYC" "$T/g-a/actions/P2/P2-A3.yaml" && ok "driver: different fields both merge (theirs)" || notok "driver: theirs field"
for f in P2-A1 P2-A2 P2-A3; do
	cp "$T/g-a/actions/P2/$f.yaml" "$T/canon"
	"$P" merge-driver "$T/canon" "$T/canon" "$T/canon" "actions/P2/$f.yaml" 2>/dev/null
	cmp -s "$T/canon" "$T/g-a/actions/P2/$f.yaml" && ok "driver: $f is canonical" || notok "driver: $f canonical"
done
pj "$T/g-a" conflicts
out_has "P2-A1 status" "driver: conflicts lists the record"
# The driver on invalid YAML fails; git leaves the conflict.
printf 'id: [\n' >"$T/bad.yaml"
cp "$T/g-a/actions/P2/P2-A1.yaml" "$T/ours.yaml"
ps merge-driver "$T/g-a/actions/P2/P2-A1.yaml" "$T/ours.yaml" "$T/bad.yaml" actions/P2/P2-A1.yaml
check "$rc" 1 "driver: invalid YAML on a side fails"
cmp -s "$T/ours.yaml" "$T/g-a/actions/P2/P2-A1.yaml" && ok "driver: ours untouched on failure" || notok "driver: ours changed"
# The same new action ID added on both sides: the driver cannot add a file
# for the renumbered one, so it fails and names plansync merge.
: >"$T/empty.yaml"
cp "$T/g-a/actions/P2/P2-A1.yaml" "$T/new-a.yaml"
sed 's/^timescale: .*/timescale: Other side/' "$T/g-a/actions/P2/P2-A1.yaml" >"$T/new-b.yaml"
ps merge-driver "$T/empty.yaml" "$T/new-a.yaml" "$T/new-b.yaml" actions/P2/P2-A1.yaml
check "$rc" 1 "driver: same new ID on both sides fails"
err_has "plansync merge" "driver: points to plansync merge"
ps merge-driver a b c
check "$rc" 2 "driver: wrong arguments are a usage error"

# An index with unmerged entries (left by a tool, no merge in progress):
# refused before anything is written, at the point the merge reads the
# index (once, with the entries it checks).
pair u
(cd "$T/u-a" && jane set P1-A1 status done) >/dev/null
(cd "$T/u-b" && tom set P1-A2 status done) >/dev/null
xfetch u
_blob=$(git -C "$T/u-a" rev-parse HEAD:actions/P1/P1-A3.yaml)
git -C "$T/u-a" update-index --force-remove actions/P1/P1-A3.yaml
printf '100644 %s 1\tactions/P1/P1-A3.yaml\n100644 %s 2\tactions/P1/P1-A3.yaml\n' "$_blob" "$_blob" |
	git -C "$T/u-a" update-index --index-info
_before=$(head_of "$T/u-a")
pj "$T/u-a" merge b/main
check "$rc" 1 "an unmerged index refuses the merge"
err_has "unmerged files" "the refusal says why"
check "$(head_of "$T/u-a")" "$_before" "the branch did not move"
check "$(git -C "$T/u-a" ls-files -u | wc -l | tr -d ' ')" 2 "the index is as it was"

finish
