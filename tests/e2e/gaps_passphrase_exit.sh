#!/bin/sh
# A wrong passphrase is bad input (SPEC.md 6), not a refused signature or
# trust decision: it exits 1 ("any other failure", SPEC.md 5; 3 is for
# verification or trust refused), with one line naming the key file, and
# nothing is made or changed.
. "$(dirname "$0")/lib.sh"

R="$T/repo"
export PLANSYNC_PASSPHRASE="s3cret pass"
expect 0 "sealed key generated" key generate --name "Jane Smith" --email jane@nyp.example --org NYP --passphrase
expect 0 "init with the sealed key" init "$R" --plan "$YORK"
cd "$R" || exit 1

# ---- a wrong passphrase: exit 1, one line, nothing changed ---------------
before=$(git rev-parse HEAD)
PLANSYNC_PASSPHRASE="wrong pass" expect 1 "wrong passphrase exits 1 (bad input, not a refused signature)" set P4-A2 status done
err_one_line "wrong passphrase: one line"
err_has "wrong passphrase for key '$PLANSYNC_HOME/key'" "wrong passphrase: names the key"
if [ "$(git rev-parse HEAD)" = "$before" ] && [ -z "$(git status --porcelain)" ]; then ok "wrong passphrase: nothing changed"; else notok "wrong passphrase: nothing changed"; fi
PLANSYNC_PASSPHRASE="wrong pass" expect 1 "wrong passphrase at init exits 1" init "$T/repo2" --plan "$YORK"
if [ -e "$T/repo2" ]; then notok "wrong passphrase made no repo"; else ok "wrong passphrase made no repo"; fi
# The right one still works.
expect 0 "right passphrase signs" set P4-A2 status done
finish
