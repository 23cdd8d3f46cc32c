# A merge killed right after the branch moved, before the work tree and
# index follow: the next plansync command of any kind (here a set on the
# very action the merge changed) finishes the work tree from the journal
# instead of taking the old files for hand edits.
. "$(dirname "$0")/lib.sh"

expect 0 "key generate" key generate --name Jane --email jane@nyp.example --org NYP
expect 0 "init" init "$T/r" --plan "$YORK"
cd "$T/r" || exit 1
git checkout -q -b side
expect 0 "set on side" set P1-A1 status done
git checkout -q main
expect 0 "set on main" set P2-A1 status on-hold
PLANSYNC_TEST_DIE_AFTER_REF=1 "$PLANSYNC_BIN" merge side >/dev/null 2>&1
rc=$?
if [ "$rc" -ge 128 ]; then ok "merge killed after moving the branch"; else notok "merge killed after moving the branch (exit $rc)"; fi
if [ "$(git rev-list --parents -n 1 HEAD | wc -w)" -eq 3 ]; then ok "HEAD is the merge commit"; else notok "HEAD is the merge commit"; fi
if [ -f .git/plansync/pending ] || ls .git/plansync/ | grep -q .; then ok "a journal was left"; else notok "a journal was left"; fi
expect 0 "the next command works on the action the merge changed" set P1-A1 timescale "Spring 2024"
if grep -q '^status: done' actions/P1/P1-A1.yaml && grep -q '^timescale: Spring 2024' actions/P1/P1-A1.yaml; then
	ok "the merged value and the new edit are both there"
else
	notok "the merged value and the new edit are both there: $(grep -E '^(status|timescale)' actions/P1/P1-A1.yaml | tr '\n' ' ')"
fi
if [ -z "$(git status --porcelain)" ]; then ok "work tree clean"; else notok "work tree clean: $(git status --porcelain | head -3)"; fi
if git fsck --no-progress >/dev/null 2>&1; then ok "git fsck clean"; else notok "git fsck clean"; fi
expect 0 "verify" verify
finish
