# A plan has exactly one root commit, signed by a coordinator its own
# partners.yaml lists.  Any other root only vouches for itself: verify
# --all refuses a second root reachable from any ref (exit 3).
. "$(dirname "$0")/lib.sh"

expect 0 "key generate" key generate --name Jane --email jane@nyp.example --org NYP
expect 0 "init" init "$T/r" --plan "$YORK"
expect 0 "verify --all with one root" -C "$T/r" verify --all
export PLANSYNC_HOME="$T/mallory"
expect 0 "another key" key generate --name Mallory --email mallory@x.example --org X
expect 0 "a foreign plan, its own root" init "$T/f" --plan "$YORK"
git -C "$T/r" fetch -q "$T/f" main:refs/heads/foreign
expect 3 "verify --all refuses a second root" -C "$T/r" verify --all
out_has "root commit" "the reason names the root"
expect 0 "verify of HEAD alone still passes" -C "$T/r" verify
finish
