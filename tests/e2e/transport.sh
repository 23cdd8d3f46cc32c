#!/bin/sh
# End to end: plansync remote, fetch and push over every transport against
# real servers on 127.0.0.1 (local path, file://, git daemon, lighttpd +
# git http-backend with and without basic auth, sshd), plus the refusals:
# unreachable remotes, non-fast-forward pushes, rewritten and unsigned
# remote history, bad remote names and URLs.
#
# Histories are made with stock git, signed with an ssh Ed25519 key that
# partners.yaml lists as a coordinator, so plansync fetch's verification
# passes on them and refuses an unsigned commit.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/servers.sh"

unset SSH_AUTH_SOCK GIT_SSL_CAINFO GIT_SSL_CAPATH
# A private copy of the binary: this script runs for a minute, and a
# rebuild in the same tree must not swap it out halfway.
cp "$PLANSYNC_BIN" "$T/plansync-under-test" && PLANSYNC_BIN="$T/plansync-under-test"
# Under ASan (make check): libgit2 1.5.1 itself leaks a few bytes when an
# ssh connection reads known_hosts and when a git:// push fails to connect
# (inside git_remote_connect); those are its leaks, not plansync's.
printf 'leak:git_remote_connect_ext\nleak:libssh2_knownhost_readfile\n' >"$T/lsan.supp"
# (Full unwinding, so that the stacks reach the libgit2 function named.)
export LSAN_OPTIONS="suppressions=$T/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"
SRV="$T/srv"
mkdir -p "$SRV"

# Sign every stock git commit with a coordinator's key.
ssh-keygen -q -t ed25519 -N '' -C tests@plansync.example -f "$T/sign"
git config --global gpg.format ssh
git config --global user.signingkey "$T/sign"
git config --global commit.gpgsign true

rev() { git -C "$1" rev-parse --verify -q "$2" 2>/dev/null; }
refs() { git -C "$1" for-each-ref --format='%(objectname) %(refname)'; }

# mkrepo DIR: a repository with partners.yaml and one signed commit
mkrepo() {
	git init -q "$1"
	printf 'partners:\n  - email: tests@plansync.example\n    name: plansync tests\n    organisation: Tests\n    role: coordinator\n    key: %s\n    revoked: false\n' \
		"$(cat "$T/sign.pub")" >"$1/partners.yaml"
	echo one >"$1/notes.txt"
	git -C "$1" add partners.yaml notes.txt
	git -C "$1" commit -q -m one
}

# edit DIR TEXT: one more signed commit
edit() {
	echo "$2" >>"$1/notes.txt"
	git -C "$1" commit -q -a -m "$2"
}

# hub NAME: a fresh empty bare repository under $SRV
hub() {
	git init -q --bare "$SRV/$1.git"
	git -C "$SRV/$1.git" config http.receivepack true
}

# roundtrip LABEL NAME URL: push into an empty hub, fetch into an empty
# repository, push and fetch an update; every step checked
roundtrip() {
	_l=$1
	_name=$2
	_url=$3
	expect 0 "$_l: remote add" -C "$T/a" remote add "$_name" "$_url"
	expect 0 "$_l: push into an empty bare hub" -C "$T/a" push "$_name"
	if [ "$(rev "$SRV/$_name.git" refs/heads/main)" = "$(rev "$T/a" main)" ]; then
		ok "$_l: the hub has our branch"
	else
		notok "$_l: the hub lacks our branch"
	fi
	if [ ! -s "$T/err" ]; then ok "$_l: push is quiet when stderr is not a terminal"; else notok "$_l: push wrote to stderr: $(head -c 200 "$T/err")"; fi
	if [ "$(rev "$T/a" "refs/remotes/$_name/main")" = "$(rev "$T/a" main)" ]; then
		ok "$_l: push records $_name/main"
	else
		notok "$_l: push did not record $_name/main"
	fi
	rm -rf "$T/b-$_name"
	git init -q "$T/b-$_name"
	expect 0 "$_l: remote add in a second repository" -C "$T/b-$_name" remote add "$_name" "$_url"
	expect 0 "$_l: fetch" -C "$T/b-$_name" fetch "$_name"
	out_has "$_name/main: new branch at" "$_l: fetch names the new branch"
	if [ ! -s "$T/err" ]; then ok "$_l: fetch is quiet when stderr is not a terminal"; else notok "$_l: fetch wrote to stderr: $(head -c 200 "$T/err")"; fi
	if [ "$(rev "$T/b-$_name" "refs/remotes/$_name/main")" = "$(rev "$T/a" main)" ]; then
		ok "$_l: fetch records $_name/main"
	else
		notok "$_l: fetch did not record $_name/main"
	fi
	_old=$(rev "$T/a" main)
	edit "$T/a" "update over $_l"
	expect 0 "$_l: push an update" -C "$T/a" push "$_name"
	out_has "$_name/main: ${_old%"${_old#???????}"}\.\." "$_l: push shows old..new"
	expect 0 "$_l: fetch the update" -C "$T/b-$_name" fetch "$_name"
	if [ "$(rev "$T/b-$_name" "refs/remotes/$_name/main")" = "$(rev "$T/a" main)" ]; then
		ok "$_l: fetch moves $_name/main forward"
	else
		notok "$_l: fetch did not move $_name/main"
	fi
	expect 0 "$_l: fetch again" -C "$T/b-$_name" fetch "$_name"
	out_has "^$_name: up to date" "$_l: a second fetch is up to date"
	expect 0 "$_l: push again" -C "$T/a" push "$_name"
	out_has "up to date" "$_l: a second push is up to date"
}

mkrepo "$T/a"

# ---- remote add | list | remove ------------------------------------------
expect 0 "remote list with no remotes" -C "$T/a" remote list
if [ ! -s "$T/out" ]; then ok "no remotes: nothing listed"; else notok "no remotes listed something"; fi
for bad in "bad name" "-x" "a/b" ".hidden" "x..y" "x.lock" "" "$(printf 'a\tb')" \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"; do
	shown=$(printf %s "$bad" | tr '\n\t' '??')
	expect 2 "remote add refuses the name '$shown'" -C "$T/a" remote add "$bad" /tmp/x.git
	err_one_line "remote add '$shown': one line"
done
for bad in "" "ftp://host/x.git" "http://" "git://:9418/x" "-oProxyCommand=evil" \
	"https://user:pw@host/x.git" "file://otherhost/x.git" "$(printf 'http://h/x\ny')" \
	"http://host/a b"; do
	shown=$(printf %s "$bad" | tr '\n\t' '??')
	expect 2 "remote add refuses the URL '$shown'" -C "$T/a" remote add origin "$bad"
	err_one_line "remote add URL '$shown': one line"
done
expect 2 "remote add refuses a password URL" -C "$T/a" remote add origin "https://user:hunter2@host/x.git"
if grep -q hunter2 "$T/err"; then notok "the refusal printed the password"; else ok "the refusal does not print the password"; fi
expect 2 "remote add without a URL" -C "$T/a" remote add origin
expect 2 "remote with an unknown subcommand" -C "$T/a" remote frobnicate
if [ -z "$(git -C "$T/a" remote)" ]; then ok "no refused remote was added"; else notok "a refused remote was added: $(git -C "$T/a" remote)"; fi
expect 0 "remote add a relative path" -C "$T/a" remote add rel ../srv/rel.git
expect 0 "remote list" -C "$T/a" remote list
out_has "^rel	$SRV/rel.git\$" "a relative path is stored absolute"
expect 1 "remote add refuses a duplicate name" -C "$T/a" remote add rel /tmp/other.git
err_has "already exists" "duplicate: says it exists"
expect 0 "remote add scp-like ssh" -C "$T/a" remote add scp "git@example.org:plans/york.git"
expect 0 "remote add with a user name" -C "$T/a" remote add withuser "https://jane@example.org/york.git"
expect 0 "remote list --json" -C "$T/a" remote list --json
out_has '"name": "rel", "url": "' "remote list --json lists rel"
out_has '"url": "https://example.org/york.git"' "listed URLs carry no userinfo"
git -C "$T/a" update-ref refs/remotes/rel/main HEAD
git -C "$T/a" update-ref refs/plansync/incoming/rel/main HEAD
expect 0 "remote remove" -C "$T/a" remote remove rel
if [ -z "$(git -C "$T/a" for-each-ref refs/remotes/rel refs/plansync/incoming/rel)" ]; then
	ok "remote remove drops its tracking and quarantine refs"
else
	notok "remote remove left refs: $(git -C "$T/a" for-each-ref refs/remotes/rel refs/plansync/incoming/rel)"
fi
expect 1 "remote remove of a missing remote" -C "$T/a" remote remove rel
err_has "no remote 'rel'" "remove: names the missing remote"
expect 2 "remote remove with a bad name" -C "$T/a" remote remove "../x"
git -C "$T/a" remote remove scp
git -C "$T/a" remote remove withuser
expect 1 "fetch with no such remote" -C "$T/a" fetch origin
err_has "no remote 'origin'" "fetch: names the missing remote"
expect 2 "fetch with two remotes" -C "$T/a" fetch a b
expect 2 "fetch with a bad remote name" -C "$T/a" fetch "a b"
expect 0 "fetch --help" -C "$T/a" fetch --help
expect 0 "push --help" -C "$T/a" push --help
expect 0 "remote --help" -C "$T/a" remote --help

# ---- every transport: push into an empty hub, fetch, updates ------------
hub path
roundtrip "local path" path "$SRV/path.git"
hub file
roundtrip "file://" file "file://$SRV/file.git"

if start_git_daemon "$SRV"; then
	hub daemon
	roundtrip "git://" daemon "git://127.0.0.1:$GIT_DAEMON_PORT/daemon.git"
	dport=$GIT_DAEMON_PORT
	stop_server "$GIT_DAEMON_PID"
	# ---- unreachable: nothing listens on the stopped daemon's port ----
	before=$(refs "$T/a")
	expect 4 "fetch from an unreachable git:// remote" -C "$T/a" fetch daemon
	err_one_line "unreachable fetch: one line"
	err_has "remote 'daemon' \(git://127.0.0.1:$dport/daemon.git\)" "unreachable fetch: names the remote and URL"
	edit "$T/a" "made while offline"
	before=$(refs "$T/a")
	expect 4 "push to an unreachable git:// remote" -C "$T/a" push daemon
	err_one_line "unreachable push: one line"
	if [ "$(refs "$T/a")" = "$before" ]; then ok "unreachable: no ref changed"; else notok "unreachable: refs changed"; fi
else
	notok "git daemon: $SERVER_WHY"
fi

expect 0 "remote add a missing local path" -C "$T/a" remote add stick /nonexistent/stick/plan.git
expect 4 "fetch from a missing local path" -C "$T/a" fetch stick
err_one_line "missing path: one line"
err_has "no repository there" "missing path: says there is no repository"
expect 4 "push to a missing local path" -C "$T/a" push stick

if start_http "$SRV"; then
	hub http
	roundtrip "http://" http "http://127.0.0.1:$HTTP_PORT/git/http.git"
	# Basic auth: credentials from git's credential helper, never printed.
	hub auth
	git config --global credential.helper "store --file=$T/git-credentials"
	printf 'http://partner:%s@127.0.0.1:%s\n' "$HTTP_PASSWORD" "$HTTP_PORT" >"$T/git-credentials"
	roundtrip "http:// with basic auth" auth "http://127.0.0.1:$HTTP_PORT/auth/auth.git"
	expect 0 "auth: fetch with the helper's credentials" -C "$T/b-auth" fetch auth
	if grep -rq "$HTTP_PASSWORD" "$T/out" "$T/err"; then notok "auth: the password was printed"; else ok "auth: the password is not printed"; fi
	printf 'http://partner:wrong@127.0.0.1:%s\n' "$HTTP_PORT" >"$T/git-credentials"
	edit "$T/a" "for the wrong password"
	before=$(refs "$T/a")
	start=$(date +%s)
	expect 4 "auth: a wrong password is refused" -C "$T/a" push auth
	err_one_line "auth refused: one line"
	err_has "credentials were refused" "auth refused: says authentication failed"
	if [ $(($(date +%s) - start)) -lt 30 ]; then ok "auth refused: bounded attempts"; else notok "auth refused: took too long"; fi
	if grep -q wrong "$T/err"; then notok "auth refused: printed the password"; else ok "auth refused: no password printed"; fi
	if [ "$(refs "$T/a")" = "$before" ]; then ok "auth refused: no ref changed"; else notok "auth refused: refs changed"; fi
	git config --global --unset credential.helper
	expect 4 "auth: no credentials and no terminal" -C "$T/a" push auth
	err_has "no credentials" "auth: says there are no credentials"
	hport=$HTTP_PORT
	stop_server "$HTTP_PID"
	expect 4 "fetch from an unreachable http:// remote" -C "$T/a" fetch http
	err_one_line "unreachable http: one line"
	err_has "127.0.0.1:$hport" "unreachable http: names the URL"
else
	notok "http: $SERVER_WHY"
fi

if start_https "$SRV"; then
	hub https
	url="https://127.0.0.1:$HTTPS_PORT/git/https.git"
	expect 0 "https: remote add" -C "$T/a" remote add https "$url"
	expect 4 "https: a server certificate from an unknown CA is refused" -C "$T/a" push https
	err_has "certificate" "https: says the certificate is not trusted"
	err_one_line "https untrusted: one line"
	if [ -z "$(rev "$SRV/https.git" refs/heads/main)" ]; then ok "https untrusted: nothing was sent"; else notok "https untrusted: the hub got our branch"; fi
	git -C "$T/a" remote remove https
	git config --global http.sslCAInfo "$HTTPS_CA"
	roundtrip "https:// (CA from http.sslCAInfo)" https "$url"
	git config --global --unset http.sslCAInfo
	expect 4 "https: without the CA the certificate is refused again" -C "$T/b-https" fetch https
	GIT_SSL_CAINFO=$HTTPS_CA
	export GIT_SSL_CAINFO
	expect 0 "https: the CA from GIT_SSL_CAINFO" -C "$T/b-https" fetch https
	unset GIT_SSL_CAINFO
	stop_server "$HTTPS_PID"
else
	notok "https: $SERVER_WHY"
fi

if start_sshd; then
	hub ssh
	sshurl="ssh://$(id -un)@127.0.0.1:$SSHD_PORT$SRV/ssh.git"
	roundtrip "ssh://" ssh "$sshurl"
	cp "$HOME/.ssh/known_hosts" "$T/known_hosts.good"
	: >"$HOME/.ssh/known_hosts"
	expect 4 "ssh: an unknown host key is refused" -C "$T/b-ssh" fetch ssh
	err_has "not in ~/.ssh/known_hosts" "ssh: says the host is unknown"
	err_one_line "ssh unknown host: one line"
	ssh-keygen -q -t ed25519 -N '' -f "$T/other_host"
	printf '[127.0.0.1]:%s %s\n' "$SSHD_PORT" "$(cut -d' ' -f1,2 "$T/other_host.pub")" >"$HOME/.ssh/known_hosts"
	expect 4 "ssh: a changed host key is refused" -C "$T/b-ssh" fetch ssh
	err_has "does not match" "ssh: says the host key does not match"
	cp "$T/known_hosts.good" "$HOME/.ssh/known_hosts"
	mv "$HOME/.ssh/id_ed25519" "$T/id_away"
	expect 4 "ssh: no key accepted" -C "$T/b-ssh" fetch ssh
	err_one_line "ssh no key: one line"
	# The same key from an ssh-agent, with no key file at all.
	if command -v ssh-agent >/dev/null && eval "$(ssh-agent -s -a "$T/agent.sock")" >/dev/null; then
		_srv_pids="$_srv_pids $SSH_AGENT_PID"
		if ssh-add -q "$T/id_away" 2>/dev/null; then
			edit "$T/a" "for the agent"
			expect 0 "ssh: push with the key in ssh-agent" -C "$T/a" push ssh
			expect 0 "ssh: fetch with the key in ssh-agent" -C "$T/b-ssh" fetch ssh
			if [ "$(rev "$T/b-ssh" refs/remotes/ssh/main)" = "$(rev "$T/a" main)" ]; then ok "ssh-agent: fetched"; else notok "ssh-agent: not fetched"; fi
		else
			notok "ssh-add failed"
		fi
		stop_server "$SSH_AGENT_PID"
		unset SSH_AUTH_SOCK SSH_AGENT_PID
	else
		echo "ok - ssh-agent untested: ssh-agent missing # SKIP"
	fi
	mv "$T/id_away" "$HOME/.ssh/id_ed25519"
	stop_server "$SSHD_PID"
else
	# Documented: ssh:// is then untested here (see SERVER_WHY).
	echo "ok - ssh:// untested: $SERVER_WHY # SKIP"
fi

# ---- refusals on a local hub ---------------------------------------------
# Non-fast-forward: another partner pushed first.
git clone -q "$SRV/path.git" "$T/c"
edit "$T/c" "from c"
git -C "$T/c" push -q origin main
edit "$T/a" "from a"
hub_before=$(rev "$SRV/path.git" main)
expect 1 "push refuses a non-fast-forward" -C "$T/a" push path
err_has "has changes to 'main' you don't have; run 'plansync sync'" "non-ff: says to sync"
err_one_line "non-ff: one line"
if [ "$(rev "$SRV/path.git" main)" = "$hub_before" ]; then ok "non-ff: the hub is unchanged"; else notok "non-ff: the hub moved"; fi

# The remote got an unsigned commit: fetch verifies and refuses.
b="$T/b-path"
tracked=$(rev "$b" refs/remotes/path/main)
git -C "$T/c" -c commit.gpgsign=false commit -q --allow-empty -m unsigned
git -C "$T/c" push -q origin main
expect 3 "fetch refuses an unsigned commit" -C "$b" fetch path
err_has "unsigned" "unsigned: names the verdict"
err_one_line "unsigned: one line"
if [ "$(rev "$b" refs/remotes/path/main)" = "$tracked" ]; then ok "unsigned: path/main did not move"; else notok "unsigned: path/main moved"; fi
if [ "$(rev "$b" refs/plansync/incoming/path/main)" = "$(rev "$T/c" main)" ]; then ok "unsigned: the commit waits in quarantine"; else notok "unsigned: not in quarantine"; fi

# Rewritten: the hub's main no longer contains what b fetched before.
git -C "$T/c" reset -q --hard HEAD~3
edit "$T/c" "rewritten history"
git -C "$T/c" push -q -f origin main
expect 3 "fetch refuses a rewritten remote branch" -C "$b" fetch path
err_has "remote branch 'path/main' was rewritten: it no longer contains ${tracked%"${tracked#???????}"}" "rewritten: names branch and commit"
err_one_line "rewritten: one line"
if [ "$(rev "$b" refs/remotes/path/main)" = "$tracked" ]; then ok "rewritten: path/main did not move"; else notok "rewritten: path/main moved"; fi
if [ "$(rev "$b" refs/plansync/incoming/path/main)" != "$(rev "$T/c" main)" ]; then ok "rewritten: not even quarantined"; else notok "rewritten: it was quarantined"; fi

# Another plansync holds the repository lock: fetch and push wait, then
# give up with exit 5, changing nothing.
if command -v flock >/dev/null; then
	flock "$b/.git/plansync.lock" sleep 20 &
	holder=$!
	_i=0
	# Wait (bounded) until the holder has it: the probe then fails.
	while flock -n "$b/.git/plansync.lock" true 2>/dev/null; do
		_i=$((_i + 1))
		[ $_i -gt 50 ] && break
		sleep 0.1
	done
	before=$(refs "$b")
	expect 5 "fetch waits for the lock, then says busy" -C "$b" fetch path
	err_has "busy" "busy: says so"
	expect 5 "push while locked" -C "$b" push path
	if [ "$(refs "$b")" = "$before" ]; then ok "busy: no ref changed"; else notok "busy: refs changed"; fi
	kill "$holder" 2>/dev/null
	wait "$holder" 2>/dev/null
else
	echo "ok - repository lock untested: flock(1) missing # SKIP"
fi

# Progress: on stderr when it is a terminal (script(1) gives one).
if command -v script >/dev/null; then
	mkrepo "$T/big"
	_i=0
	while [ $_i -lt 200 ]; do
		head -c 2000 /dev/urandom | od -An -tx1 >"$T/big/f$_i"
		_i=$((_i + 1))
	done
	git -C "$T/big" add . && git -C "$T/big" commit -q -m "many files"
	hub big
	"$PLANSYNC_BIN" -C "$T/big" remote add big "$SRV/big.git" >/dev/null
	script -qec "'$PLANSYNC_BIN' -C '$T/big' push big" /dev/null >"$T/tty" 2>&1 </dev/null
	if grep -q "sending objects: 100% (" "$T/tty"; then ok "push shows progress on a terminal"; else notok "push shows no progress on a terminal: $(head -c 200 "$T/tty")"; fi
	git init -q "$T/big2"
	"$PLANSYNC_BIN" -C "$T/big2" remote add big "$SRV/big.git" >/dev/null
	script -qec "'$PLANSYNC_BIN' -C '$T/big2' fetch big" /dev/null >"$T/tty" 2>&1 </dev/null
	if grep -q "receiving objects: 100% (" "$T/tty"; then ok "fetch shows progress on a terminal"; else notok "fetch shows no progress on a terminal: $(head -c 200 "$T/tty")"; fi
	if [ "$(rev "$T/big2" refs/remotes/big/main)" = "$(rev "$T/big" main)" ]; then ok "the fetch under a terminal completed"; else notok "the fetch under a terminal did not complete"; fi
else
	echo "ok - progress on a terminal untested: script(1) missing # SKIP"
fi

# Push from a repository with no commits, and from outside a repository.
git init -q "$T/empty"
git -C "$T/empty" remote add origin "$SRV/path.git"
expect 1 "push with no commits" -C "$T/empty" push
mkdir -p "$T/nowhere"
expect 1 "fetch outside a repository" -C "$T/nowhere" fetch

for r in "$SRV/path.git" "$T/a" "$b"; do
	if git -C "$r" fsck --no-progress >"$T/fsck" 2>&1; then ok "git fsck is clean in $r"; else notok "git fsck complains in $r: $(head -c 300 "$T/fsck")"; fi
done

finish
