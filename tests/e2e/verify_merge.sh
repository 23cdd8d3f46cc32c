# plansync verify recomputes every merge commit from its parents: a merge
# that slips in an edit of its own is refused (exit 3, merge-edit), while
# merges plansync and stock git (through the driver) make verify.
. "$(dirname "$0")/lib.sh"

ssh-keygen -q -t ed25519 -N '' -C jane@nyp.example -f "$T/id"
expect 0 "key import" key import "$T/id" --name Jane --email jane@nyp.example --org NYP
expect 0 "init" init "$T/r" --plan "$YORK"
cd "$T/r" || exit 1
git config user.name Jane
git config user.email jane@nyp.example
git config user.signingkey "$T/id"

git checkout -q -b side
expect 0 "set on side" set P1-A1 status done
git checkout -q main
expect 0 "set on main" set P1-A1 information "Hotspots reviewed monthly."
expect 0 "plansync merge" merge side
expect 0 "verify accepts plansync's merge" verify
head_ok=$(git rev-parse HEAD)

# A stock git merge through the driver, signed by stock git, verifies too.
git checkout -q -b side2 main~1
expect 0 "set on side2" set P2-A1 status on-hold
git checkout -q main
if git merge -q -S --no-edit side2 >/dev/null 2>&1; then ok "stock git merge -S"; else notok "stock git merge -S"; fi
expect 0 "verify accepts a stock git merge through the driver" verify

# A merge that also changes a field neither side touched.
git reset -q --hard "$head_ok"
git checkout -q -b side3 main~1
expect 0 "set on side3" set P3-A1 status done
git checkout -q main
git merge -q --no-commit side3 >/dev/null 2>&1
sed -i 's/^timescale: .*/timescale: Slipped in by the merger/' actions/P4/P4-A1.yaml
git add actions/P4/P4-A1.yaml
if git commit -q -S --no-edit >/dev/null 2>&1; then ok "forged merge committed"; else notok "forged merge committed"; fi
expect 3 "verify refuses a merge with an edit of its own" verify
out_has "merge-edit" "the verdict is merge-edit"
out_has "P4-A1" "the finding names the file"
finish
