# A set killed while its index entry is changed in place (sync/gitindex),
# after the new entry is written and before the new checksum: the commit is
# made, stock git still reads the index, and the next plansync command
# finishes it (gitindex_recover) so libgit2 reads it again and the work
# tree is clean.
. "$(dirname "$0")/lib.sh"

expect 0 "key generate" key generate --name Jane --email jane@nyp.example --org NYP
expect 0 "init" init "$T/r" --plan "$YORK"
cd "$T/r" || exit 1
expect 0 "a first set (the index is gitindex's from now on)" set P1-A1 status done
PLANSYNC_TEST_DIE_IN_INDEX=1 "$PLANSYNC_BIN" set P2-A1 status on-hold >/dev/null 2>&1
rc=$?
if [ "$rc" -ge 128 ]; then ok "set killed inside the index update"; else notok "set killed inside the index update (exit $rc)"; fi
if git log -1 --format=%s | grep -q '^P2-A1: status'; then ok "the commit was made"; else notok "the commit was made: $(git log -1 --format=%s)"; fi
if grep -q plansync-gitindex .git/index.lock 2>/dev/null; then ok "gitindex's lock was left"; else notok "gitindex's lock was left"; fi
if [ -z "$(git status --porcelain 2>&1)" ]; then ok "stock git reads the index meanwhile"; else notok "stock git reads the index meanwhile: $(git status --porcelain 2>&1 | head -3)"; fi
expect 0 "a reader next (plansync status) finishes the index" status
if [ ! -e .git/index.lock ]; then ok "the reader removed the lock"; else notok "the reader removed the lock"; fi
PLANSYNC_TEST_DIE_IN_INDEX=1 "$PLANSYNC_BIN" set P2-A2 status on-hold >/dev/null 2>&1
expect 0 "after a second kill, a writer next works" set P3-A1 status done
if [ ! -e .git/index.lock ]; then ok "the lock is gone"; else notok "the lock is gone"; fi
if [ -z "$(git status --porcelain)" ]; then ok "work tree clean"; else notok "work tree clean: $(git status --porcelain | head -3)"; fi
expect 0 "status (libgit2 reads the index)" status
if git fsck --no-progress >/dev/null 2>&1; then ok "git fsck clean"; else notok "git fsck clean"; fi
if git update-index --refresh >/dev/null 2>&1 && git diff-index --quiet --cached HEAD; then ok "index matches HEAD"; else notok "index matches HEAD"; fi

# The same kill on an index stock git wrote last, with its TREE cache (git
# reset leaves one): gitindex cuts the cache off before it changes any
# entry, so what the next command finishes never describes the old tree.
git reset -q --hard
if grep -q TREE .git/index; then ok "git reset left a TREE cache"; else notok "git reset left a TREE cache"; fi
size=$(wc -c <.git/index)
PLANSYNC_TEST_DIE_IN_INDEX=1 "$PLANSYNC_BIN" set P2-A3 status on-hold >/dev/null 2>&1
rc=$?
if [ "$rc" -ge 128 ]; then ok "set killed changing an index with a cache"; else notok "set killed changing an index with a cache (exit $rc)"; fi
if [ "$(wc -c <.git/index)" -lt "$size" ]; then ok "the cache was cut off first"; else notok "the cache was cut off first"; fi
expect 0 "status finishes the index" status
if ! grep -q TREE .git/index; then ok "no cache is left"; else notok "no cache is left"; fi
if [ "$(git write-tree)" = "$(git rev-parse 'HEAD^{tree}')" ]; then ok "the index builds HEAD's tree (no stale cache)"; else notok "the index builds HEAD's tree (no stale cache)"; fi
if [ -z "$(git status --porcelain)" ]; then ok "work tree clean after the cached index is finished"; else notok "work tree clean after the cached index is finished: $(git status --porcelain | head -3)"; fi
git reset -q --hard
expect 0 "a set on an index with a cache, not killed" set P1-A3 status done
if [ "$(git write-tree)" = "$(git rev-parse 'HEAD^{tree}')" ] && [ -z "$(git status --porcelain)" ]; then ok "git sees the set's index as HEAD's tree"; else notok "git sees the set's index as HEAD's tree"; fi

# A commit killed after its branch moved (the journal says so) and a lock
# git's way (not gitindex's) left behind, as libgit2 leaves one when killed
# writing the index: the next command removes the lock (no process holds
# it) and finishes the commit, instead of failing on "the index is locked".
git checkout -q -b side
expect 0 "set on side" set P4-A1 status done
git checkout -q -
expect 0 "set on the main branch" set P5-A1 status on-hold
PLANSYNC_TEST_DIE_AFTER_REF=1 "$PLANSYNC_BIN" merge side >/dev/null 2>&1
printf 'DIRC' >.git/index.lock
expect 0 "the next command works past a stale index.lock" set P4-A1 timescale "Spring 2024"
if [ ! -e .git/index.lock ]; then ok "the stale lock is gone"; else notok "the stale lock is gone"; fi
if [ -z "$(git status --porcelain)" ]; then ok "work tree clean after the merge is finished"; else notok "work tree clean after the merge is finished: $(git status --porcelain | head -3)"; fi
expect 0 "verify" verify
finish
