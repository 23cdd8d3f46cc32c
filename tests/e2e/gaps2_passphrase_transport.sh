#!/bin/sh
# PLANSYNC_PASSPHRASE and the commands that load no key (SPEC.md 3: secrets
# are wiped after use).  fetch and push sign nothing, yet over an http hub
# with basic auth they run `git credential fill`, and through it the user's
# credential helper: neither may inherit the passphrase.  Every command
# that loads no key drops it before it starts; those that load one drop it
# once the key is open (gaps_passphrase_env.sh).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/servers.sh"

R="$T/repo"
export PLANSYNC_PASSPHRASE="s3cret pass"
expect 0 "sealed key generated" key generate --name "Jane Smith" --email jane@nyp.example --org NYP --passphrase
expect 0 "init with the sealed key" init "$R" --plan "$YORK"

SRV="$T/srv"
mkdir -p "$SRV"
git init -q --bare "$SRV/auth.git"
git -C "$SRV/auth.git" config http.receivepack true

# helper_saw LABEL: the helper ran since the last call and saw no passphrase
helper_saw() {
	if [ -s "$T/helper-env" ]; then ok "$1: the credential helper ran"; else notok "$1: the credential helper ran"; fi
	if grep -q "PLANSYNC_PASSPHRASE\|s3cret pass" "$T/helper-env"; then
		notok "$1: the credential helper sees no PLANSYNC_PASSPHRASE"
	else
		ok "$1: the credential helper sees no PLANSYNC_PASSPHRASE"
	fi
	if grep -q "^PLANSYNC_HOME=" "$T/helper-env"; then ok "$1: the rest of the environment is passed on"; else notok "$1: the rest of the environment is passed on"; fi
	rm -f "$T/helper-env"
}

if start_http "$SRV"; then
	cat >"$T/cred-helper" <<EOS
#!/bin/sh
env >>"$T/helper-env"
[ "\$1" = get ] && printf 'username=partner\npassword=%s\n' "$HTTP_PASSWORD"
exit 0
EOS
	chmod +x "$T/cred-helper"
	git config --global credential.helper "$T/cred-helper"
	URL="http://127.0.0.1:$HTTP_PORT/auth/auth.git"
	expect 0 "remote add the http hub" -C "$R" remote add hub "$URL"

	expect 0 "push with PLANSYNC_PASSPHRASE set" -C "$R" push hub
	if [ "$(git -C "$SRV/auth.git" rev-parse -q --verify refs/heads/main)" = "$(git -C "$R" rev-parse HEAD)" ]; then
		ok "push: the hub has the branch"
	else
		notok "push: the hub lacks the branch"
	fi
	helper_saw push

	expect 0 "fetch with PLANSYNC_PASSPHRASE set" -C "$R" fetch hub
	helper_saw fetch

	# A command that does load the key still gets the passphrase: sync
	# signs its merges, and pushes after.
	expect 0 "sync with PLANSYNC_PASSPHRASE set" -C "$R" sync hub
	helper_saw sync

	git config --global --unset credential.helper
	stop_server "$HTTP_PID"
else
	notok "http: $SERVER_WHY"
fi
finish
