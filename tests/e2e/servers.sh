# Loopback git servers for the end-to-end scripts: source it after lib.sh.
#
#   start_git_daemon BASE   git daemon on 127.0.0.1 (receive-pack enabled)
#                           serving BASE; sets GIT_DAEMON_PORT
#   start_http BASE         lighttpd + git http-backend serving BASE at
#                           http://127.0.0.1:$HTTP_PORT/git/ (anonymous,
#                           push allowed by http.receivepack in the repo) and
#                           /auth/ (basic auth: user "partner", password in
#                           $HTTP_PASSWORD; push allowed for that user)
#   start_https BASE        the same over TLS at https://127.0.0.1:$HTTPS_PORT/
#                           (/git/ only), with a throwaway CA whose
#                           certificate is $HTTPS_CA
#   start_sshd              sshd on 127.0.0.1:$SSHD_PORT accepting the key
#                           $HOME/.ssh/id_ed25519 for the current user, its
#                           host key recorded in $HOME/.ssh/known_hosts
#   stop_server PID         stop one
#
# Every server listens on 127.0.0.1 only, on a random free port (a start
# retries on another port when the port is taken), every wait is bounded,
# and the EXIT trap stops whatever is still running and removes $T.
# A start that cannot work here (a program missing) returns 1 with the
# reason in $SERVER_WHY.

_srv_pids=""
SERVER_WHY=""

_srv_cleanup() {
	for _p in $_srv_pids; do
		kill "$_p" 2>/dev/null
	done
	for _p in $_srv_pids; do
		_i=0
		while kill -0 "$_p" 2>/dev/null && [ $_i -lt 50 ]; do
			sleep 0.1
			_i=$((_i + 1))
		done
		kill -9 "$_p" 2>/dev/null
	done
	_srv_pids=""
	rm -rf "$T"
}
trap _srv_cleanup EXIT
trap '_srv_cleanup; exit 130' INT TERM

# random_port: a port in 20000..59999
random_port() {
	_n=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
	echo $((20000 + _n % 40000))
}

# _wait_log PID FILE PATTERN SECONDS: 0 once FILE matches, 1 if PID died
# or the time ran out
_wait_log() {
	_i=0
	while [ $_i -lt $(($4 * 10)) ]; do
		grep -q -- "$3" "$2" 2>/dev/null && return 0
		kill -0 "$1" 2>/dev/null || return 1
		sleep 0.1
		_i=$((_i + 1))
	done
	return 1
}

stop_server() {
	kill "$1" 2>/dev/null
	_i=0
	while kill -0 "$1" 2>/dev/null && [ $_i -lt 50 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
	kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	_srv_pids=$(echo "$_srv_pids" | tr ' ' '\n' | grep -vx "$1" | tr '\n' ' ')
}

start_git_daemon() {
	_base=$1
	command -v git >/dev/null || { SERVER_WHY="git missing"; return 1; }
	for _try in 1 2 3 4 5; do
		GIT_DAEMON_PORT=$(random_port)
		: >"$T/daemon.log"
		git daemon --reuseaddr --listen=127.0.0.1 \
			--port="$GIT_DAEMON_PORT" --base-path="$_base" \
			--export-all --enable=receive-pack --informative-errors \
			--verbose "$_base" >"$T/daemon.log" 2>&1 &
		GIT_DAEMON_PID=$!
		_srv_pids="$_srv_pids $GIT_DAEMON_PID"
		if _wait_log "$GIT_DAEMON_PID" "$T/daemon.log" "Ready to rumble" 10; then
			return 0
		fi
		stop_server "$GIT_DAEMON_PID"
	done
	SERVER_WHY="git daemon did not start: $(tail -n 3 "$T/daemon.log")"
	return 1
}

start_http() {
	_base=$1
	_lh=$(command -v lighttpd || ls /usr/sbin/lighttpd 2>/dev/null)
	_backend=$(git --exec-path)/git-http-backend
	[ -n "$_lh" ] || { SERVER_WHY="lighttpd missing (apt-get install lighttpd)"; return 1; }
	[ -x "$_backend" ] || { SERVER_WHY="git-http-backend missing"; return 1; }
	HTTP_PASSWORD="s3cret-$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')"
	mkdir -p "$T/www"
	printf 'partner:%s\n' "$HTTP_PASSWORD" >"$T/lighttpd.users"
	for _try in 1 2 3 4 5; do
		HTTP_PORT=$(random_port)
		cat >"$T/lighttpd.conf" <<EOF
server.modules = ("mod_alias", "mod_setenv", "mod_cgi", "mod_auth", "mod_authn_file")
server.document-root = "$T/www"
server.bind = "127.0.0.1"
server.port = $HTTP_PORT
server.errorlog = "$T/lighttpd.log"
server.max-request-size = 65536
auth.backend = "plain"
auth.backend.plain.userfile = "$T/lighttpd.users"
alias.url = ( "/git" => "$_backend", "/auth" => "$_backend" )
\$HTTP["url"] =~ "^/(git|auth)" {
	cgi.assign = ( "" => "" )
	setenv.add-environment = (
		"GIT_PROJECT_ROOT" => "$_base",
		"GIT_HTTP_EXPORT_ALL" => "1",
		"GIT_CONFIG_NOSYSTEM" => "1"
	)
}
\$HTTP["url"] =~ "^/auth" {
	auth.require = ( "" => ( "method" => "basic", "realm" => "plansync", "require" => "valid-user" ) )
}
EOF
		: >"$T/lighttpd.log"
		"$_lh" -D -f "$T/lighttpd.conf" >"$T/lighttpd.out" 2>&1 &
		HTTP_PID=$!
		_srv_pids="$_srv_pids $HTTP_PID"
		if _wait_log "$HTTP_PID" "$T/lighttpd.log" "server started" 10; then
			return 0
		fi
		stop_server "$HTTP_PID"
	done
	SERVER_WHY="lighttpd did not start: $(tail -n 3 "$T/lighttpd.log" "$T/lighttpd.out")"
	return 1
}

start_https() {
	_base=$1
	_lh=$(command -v lighttpd || ls /usr/sbin/lighttpd 2>/dev/null)
	_backend=$(git --exec-path)/git-http-backend
	[ -n "$_lh" ] || { SERVER_WHY="lighttpd missing (apt-get install lighttpd)"; return 1; }
	[ -f /usr/lib/lighttpd/mod_openssl.so ] || { SERVER_WHY="lighttpd-mod-openssl missing"; return 1; }
	command -v openssl >/dev/null || { SERVER_WHY="openssl missing"; return 1; }
	mkdir -p "$T/tls" "$T/www"
	# A CA, and a server certificate it signs for 127.0.0.1.
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=plansync test CA" \
		-keyout "$T/tls/ca.key" -out "$T/tls/ca.pem" >/dev/null 2>&1 &&
		openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
			-keyout "$T/tls/server.key" -out "$T/tls/server.csr" >/dev/null 2>&1 &&
		printf 'subjectAltName=DNS:127.0.0.1,IP:127.0.0.1\n' >"$T/tls/ext" &&
		openssl x509 -req -in "$T/tls/server.csr" -CA "$T/tls/ca.pem" \
			-CAkey "$T/tls/ca.key" -CAcreateserial -days 2 \
			-extfile "$T/tls/ext" -out "$T/tls/server.pem" >/dev/null 2>&1 ||
		{ SERVER_WHY="openssl could not make certificates"; return 1; }
	cat "$T/tls/server.pem" "$T/tls/server.key" >"$T/tls/server-both.pem"
	HTTPS_CA="$T/tls/ca.pem"
	for _try in 1 2 3 4 5; do
		HTTPS_PORT=$(random_port)
		cat >"$T/lighttpd-tls.conf" <<EOF
server.modules = ("mod_openssl", "mod_alias", "mod_setenv", "mod_cgi")
server.document-root = "$T/www"
server.bind = "127.0.0.1"
server.port = $HTTPS_PORT
server.errorlog = "$T/lighttpd-tls.log"
ssl.engine = "enable"
ssl.pemfile = "$T/tls/server-both.pem"
alias.url = ( "/git" => "$_backend" )
\$HTTP["url"] =~ "^/git" {
	cgi.assign = ( "" => "" )
	setenv.add-environment = (
		"GIT_PROJECT_ROOT" => "$_base",
		"GIT_HTTP_EXPORT_ALL" => "1",
		"GIT_CONFIG_NOSYSTEM" => "1"
	)
}
EOF
		: >"$T/lighttpd-tls.log"
		"$_lh" -D -f "$T/lighttpd-tls.conf" >"$T/lighttpd-tls.out" 2>&1 &
		HTTPS_PID=$!
		_srv_pids="$_srv_pids $HTTPS_PID"
		if _wait_log "$HTTPS_PID" "$T/lighttpd-tls.log" "server started" 10; then
			return 0
		fi
		stop_server "$HTTPS_PID"
	done
	SERVER_WHY="lighttpd (TLS) did not start: $(tail -n 3 "$T/lighttpd-tls.log" "$T/lighttpd-tls.out")"
	return 1
}

start_sshd() {
	_sshd=$(command -v sshd || ls /usr/sbin/sshd 2>/dev/null)
	[ -n "$_sshd" ] || { SERVER_WHY="sshd missing (apt-get install openssh-server)"; return 1; }
	mkdir -p "$T/sshd" "$HOME/.ssh"
	chmod 700 "$HOME/.ssh"
	[ -f "$HOME/.ssh/id_ed25519" ] ||
		ssh-keygen -q -t ed25519 -N '' -C partner -f "$HOME/.ssh/id_ed25519"
	ssh-keygen -q -t ed25519 -N '' -f "$T/sshd/host_ed25519"
	cp "$HOME/.ssh/id_ed25519.pub" "$T/sshd/authorized_keys"
	# Root's sshd needs its privilege separation folder.
	if [ "$(id -u)" = 0 ] && [ ! -d /run/sshd ]; then
		mkdir -p /run/sshd && chmod 755 /run/sshd
	fi
	for _try in 1 2 3 4 5; do
		SSHD_PORT=$(random_port)
		cat >"$T/sshd/config" <<EOF
Port $SSHD_PORT
ListenAddress 127.0.0.1
HostKey $T/sshd/host_ed25519
PidFile none
AuthorizedKeysFile $T/sshd/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
LogLevel VERBOSE
EOF
		: >"$T/sshd/log"
		"$_sshd" -D -e -f "$T/sshd/config" >"$T/sshd/log" 2>&1 &
		SSHD_PID=$!
		_srv_pids="$_srv_pids $SSHD_PID"
		if _wait_log "$SSHD_PID" "$T/sshd/log" "Server listening on 127.0.0.1" 10; then
			printf '[127.0.0.1]:%s %s\n' "$SSHD_PORT" \
				"$(cut -d' ' -f1,2 "$T/sshd/host_ed25519.pub")" \
				>"$HOME/.ssh/known_hosts"
			return 0
		fi
		stop_server "$SSHD_PID"
	done
	SERVER_WHY="sshd did not start: $(tail -n 3 "$T/sshd/log")"
	return 1
}
