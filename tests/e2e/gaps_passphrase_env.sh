#!/bin/sh
# PLANSYNC_PASSPHRASE and the processes plansync starts (SPEC.md 3: secrets
# are wiped after use).  Once plansync has read the passphrase it must not
# hand it on: the editor `plansync edit` runs, and anything that editor
# starts, sees no PLANSYNC_PASSPHRASE; the rest of the environment is kept.
# clone signs nothing and drops it at once: git's credential helper, which
# it runs for an http hub with basic auth, does not see it either.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/servers.sh"

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


# ---- clone over http with basic auth: the credential helper ---------------
SRV="$T/srv"
mkdir -p "$SRV"
git clone -q --bare "$R" "$SRV/auth.git"
if start_http "$SRV"; then
	cat >"$T/cred-helper" <<EOS
#!/bin/sh
env >"$T/helper-env"
[ "\$1" = get ] && printf 'username=partner\npassword=%s\n' "$HTTP_PASSWORD"
exit 0
EOS
	chmod +x "$T/cred-helper"
	git config --global credential.helper "$T/cred-helper"
	expect 0 "clone from an http hub with basic auth, PLANSYNC_PASSPHRASE set" clone "http://127.0.0.1:$HTTP_PORT/auth/auth.git" "$T/c-auth"
	if [ -s "$T/helper-env" ]; then ok "the credential helper ran"; else notok "the credential helper ran"; fi
	if grep -q "PLANSYNC_PASSPHRASE\|s3cret pass" "$T/helper-env"; then notok "the credential helper sees no PLANSYNC_PASSPHRASE"; else ok "the credential helper sees no PLANSYNC_PASSPHRASE"; fi
	git config --global --unset credential.helper
	stop_server "$HTTP_PID"
else
	notok "http: $SERVER_WHY"
fi
finish
