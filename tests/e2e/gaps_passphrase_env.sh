#!/bin/sh
# PLANSYNC_PASSPHRASE and the processes plansync starts (SPEC.md 3: secrets
# are wiped after use).  Once plansync has read the passphrase it must not
# hand it on: the editor `plansync edit` runs, and anything that editor
# starts, sees no PLANSYNC_PASSPHRASE; the rest of the environment is kept.
. "$(dirname "$0")/lib.sh"

R="$T/repo"
export PLANSYNC_PASSPHRASE="s3cret pass"
expect 0 "sealed key generated" key generate --name "Jane Smith" --email jane@nyp.example --org NYP --passphrase
expect 0 "init with the sealed key" init "$R" --plan "$YORK"
cd "$R" || exit 1

# ---- the editor does not see the passphrase -------------------------------
cat >"$T/ed-env" <<EOS
#!/bin/sh
env >"$T/editor-env"
sh -c 'env' >"$T/editor-grandchild-env"
sed -i 's/^status: .*/status: done/' "\$1"
EOS
chmod +x "$T/ed-env"
EDITOR="$T/ed-env" expect 0 "edit with PLANSYNC_PASSPHRASE set" edit P4-A1
if [ -s "$T/editor-env" ]; then ok "the editor ran"; else notok "the editor ran"; fi
if grep -q "^PLANSYNC_PASSPHRASE=" "$T/editor-env"; then notok "editor sees no PLANSYNC_PASSPHRASE"; else ok "editor sees no PLANSYNC_PASSPHRASE"; fi
if grep -q "s3cret pass" "$T/editor-env" "$T/editor-grandchild-env"; then notok "the passphrase is nowhere in the editor's environment"; else ok "the passphrase is nowhere in the editor's environment"; fi
if grep -q "^PLANSYNC_HOME=" "$T/editor-env"; then ok "the rest of the environment is passed on"; else notok "the rest of the environment is passed on"; fi
if git log -1 --format=%s | grep -q '^P4-A1: status .* -> done$'; then ok "edit committed"; else notok "edit committed ($(git log -1 --format=%s))"; fi
expect 0 "verify after the edit" verify

finish
