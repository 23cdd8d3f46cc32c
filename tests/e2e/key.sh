#!/bin/sh
# plansync key generate | import | show, end to end (SPEC.md 3, 5, 6):
# files and modes, stock ssh-keygen agreeing on the public line and
# fingerprint, and every refusal: bad arguments (exit 2), an existing key,
# a key others can read, a symlinked key, a wrong passphrase (exit 1),
# encrypted / RSA / malformed OpenSSH keys.  A refusal prints one line
# naming the file or argument, and changes nothing.  Secret material is
# never printed.
. "$(dirname "$0")/lib.sh"

KEYS="$PLANSYNC_TOP/tests/fixtures/keys"
BASE="$PLANSYNC_TOP/tests/fixtures/bad/base"
H="$PLANSYNC_HOME"

# same A B DESCRIPTION: compare two strings
same() { if [ "$1" = "$2" ]; then ok "$3"; else notok "$3 ('$1' != '$2')"; fi; }
mode() { stat -c %a "$1"; }
# no_secret FILE DESCRIPTION: the key file's sealed/secret line is in neither
# output of the last run
no_secret() {
	_s=$(tail -n 1 "$1" | cut -c 100-160)
	if grep -qF -- "$_s" "$T/out" "$T/err"; then notok "$2"; else ok "$2"; fi
}
sum() { sha256sum "$1" | cut -d' ' -f1; }
use_home() { PLANSYNC_HOME=$1; export PLANSYNC_HOME; }

# ---- help and usage ----
expect 0 "key --help exits 0" key --help
out_has "key generate --name N --email E" "help shows generate's usage"
expect 0 "key generate --help exits 0" key generate --help
expect 0 "help key exits 0" help key
out_has "key show" "help key shows the key help"
expect 2 "key with no subcommand is a usage error" key
err_one_line "usage error is one line"
expect 2 "unknown subcommand" key frobnicate
err_has "frobnicate" "unknown subcommand is named"
expect 2 "generate without --email" key generate --name "A Person"
err_has "--email" "missing --email is named"
expect 2 "generate without --name" key generate --email a@x.example
expect 2 "generate --name without its value" key generate --name
expect 2 "generate with an unknown option" key generate --name A --email a@x.example --colour
err_has "--colour" "unknown option is named"
expect 2 "generate with a stray argument" key generate --name A --email a@x.example extra
expect 2 "import without FILE" key import
expect 2 "import with two files" key import a b
expect 2 "show with an argument" key show extra
expect 2 "generate with an invalid email" key generate --name A --email not-an-email
err_has "not-an-email" "invalid email is named"
expect 2 "generate with a name holding a newline" key generate --name "A
B" --email a@x.example
if [ -e "$H" ]; then notok "usage errors created nothing"; else ok "usage errors created nothing"; fi

# ---- no key yet ----
expect 1 "show with no key fails" key show
err_one_line "no key: one line"
err_has "key generate" "no key: says how to make one"

# ---- generate ----
expect 0 "generate" key generate --name "Agency A Planner" --email planner@agency-a.example --org "Agency A"
same "$(mode "$H")" 700 "key folder is 0700"
same "$(mode "$H/key")" 600 "secret key is 0600"
same "$(mode "$H/key.pub")" 644 "key.pub is 0644"
same "$(ls -A "$H" | tr '\n' ' ')" "key key.pub " "no temporary file is left"
same "$(head -n 1 "$H/key")" "plansync secret key" "key file starts with its comment line"
if grep -q "^email: planner@agency-a.example$" "$H/key" && grep -q "^org: Agency A$" "$H/key"; then
	ok "key file records email and org"
else
	notok "key file records email and org"
fi
out_has "^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[^ ]+ planner@agency-a.example$" "generate prints the public line"
no_secret "$H/key" "generate prints no secret"
case "$(cat "$H/key.pub")" in
"ssh-ed25519 "*" planner@agency-a.example") ok "key.pub is an OpenSSH line with the email" ;;
*) notok "key.pub is an OpenSSH line with the email ($(cat "$H/key.pub"))" ;;
esac

# ---- show, against ssh-keygen ----
expect 0 "show" key show
same "$(sed -n 1p "$T/out")" "$(cat "$H/key.pub")" "show: line 1 is key.pub"
same "$(sed -n 2p "$T/out")" "$(ssh-keygen -lf "$H/key.pub" | cut -d' ' -f2)" "show: line 2 is ssh-keygen's fingerprint"
same "$(wc -l <"$T/out")" 2 "show prints two lines"
no_secret "$H/key" "show prints no secret"
expect 0 "show --json" key show --json
if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["public_key"].startswith("ssh-ed25519 ") and d["fingerprint"].startswith("SHA256:") else 1)' "$T/out"; then
	ok "show --json is JSON with public_key and fingerprint"
else
	notok "show --json is JSON with public_key and fingerprint ($(cat "$T/out"))"
fi
# Stock ssh-keygen reads key.pub as a key (it is a valid OpenSSH public key)
if ssh-keygen -lf "$H/key.pub" | grep -q "(ED25519)$"; then ok "ssh-keygen reads key.pub as ED25519"; else notok "ssh-keygen reads key.pub as ED25519"; fi

# ---- an existing key is never replaced ----
before=$(sum "$H/key")
pub_before=$(sum "$H/key.pub")
expect 1 "generate over an existing key is refused" key generate --name B --email b@x.example
err_one_line "existing key: one line"
err_has "$H/key" "existing key: names the file"
same "$(sum "$H/key")" "$before" "existing key unchanged"
same "$(sum "$H/key.pub")" "$pub_before" "existing key.pub unchanged"
expect 1 "import over an existing key is refused" key import "$KEYS/id_ed25519"
same "$(sum "$H/key")" "$before" "existing key unchanged by import"

# ---- a key others can read is refused ----
for m in 644 640 604; do
	chmod "$m" "$H/key"
	expect 1 "key mode $m refused by show" key show
	err_one_line "mode $m: one line"
	err_has "$H/key" "mode $m: names the file"
	err_has "readable by others" "mode $m: says why"
	err_has "chmod 600" "mode $m: says how to fix it"
	expect 1 "key mode $m refused when signing (init)" init "$T/repo-$m" --plan "$BASE"
	err_has "readable by others" "init: mode $m refused"
	if [ -e "$T/repo-$m" ]; then notok "init made no repo (mode $m)"; else ok "init made no repo (mode $m)"; fi
done
chmod 600 "$H/key"
expect 0 "mode 600 accepted again" key show

# ---- a symlinked key is refused ----
mkdir -p "$T/linked"
ln -s "$H/key" "$T/linked/key"
cp "$H/key.pub" "$T/linked/key.pub"
use_home "$T/linked"
expect 1 "symlinked key refused" key show
use_home "$H"
err_one_line "symlink: one line"
err_has "symbolic link" "symlink: says why"

# ---- signing with the key works (init makes a commit git verifies) ----
expect 0 "init signs with the generated key" init "$T/repo" --plan "$BASE"
printf 'planner@agency-a.example namespaces="git" %s\n' "$(cut -d' ' -f1,2 "$H/key.pub")" >"$T/allowed"
if git -C "$T/repo" -c gpg.ssh.allowedSignersFile="$T/allowed" verify-commit HEAD 2>/dev/null; then
	ok "git verify-commit accepts the signature"
else
	notok "git verify-commit accepts the signature"
fi

# ---- passphrases ----
S="$T/sealed"
use_home "$S"
export PLANSYNC_PASSPHRASE="correct horse"
expect 0 "generate --passphrase" key generate --name Sealed --email sealed@x.example --org "Agency S" --passphrase
unset PLANSYNC_PASSPHRASE
use_home "$H"
same "$(mode "$S/key")" 600 "sealed key is 0600"
no_secret "$S/key" "sealed generate prints no secret"
use_home "$S"
expect 0 "show needs no passphrase" key show
use_home "$H"
use_home "$S"
export PLANSYNC_PASSPHRASE="wrong horse"
expect 1 "wrong passphrase refused (exit 1)" init "$T/repo-wrong" --plan "$BASE"
unset PLANSYNC_PASSPHRASE
use_home "$H"
err_one_line "wrong passphrase: one line"
err_has "wrong passphrase for key '$S/key'" "wrong passphrase: names the key"
if [ -e "$T/repo-wrong" ]; then notok "wrong passphrase made no repo"; else ok "wrong passphrase made no repo"; fi
if grep -q "wrong horse\|correct horse" "$T/out" "$T/err"; then notok "passphrase not echoed"; else ok "passphrase not echoed"; fi
use_home "$S"
export PLANSYNC_PASSPHRASE="correct horse"
expect 0 "right passphrase signs" init "$T/repo-right" --plan "$BASE"
unset PLANSYNC_PASSPHRASE
use_home "$H"
# no terminal and no PLANSYNC_PASSPHRASE: a clear error, nothing made
PLANSYNC_HOME="$T/notty" setsid -w "$PLANSYNC_BIN" key generate --name N --email n@x.example --passphrase >"$T/out" 2>"$T/err" </dev/null
rc=$?
if [ "$rc" -ne 0 ] && grep -q "PLANSYNC_PASSPHRASE" "$T/err"; then ok "no terminal, no variable: clear error"; else notok "no terminal, no variable: clear error (exit $rc: $(cat "$T/err"))"; fi
err_one_line "no terminal: one line"
if [ -e "$T/notty/key" ]; then notok "no terminal: no key made"; else ok "no terminal: no key made"; fi
use_home "$T/empty"
export PLANSYNC_PASSPHRASE=""
expect 2 "empty passphrase refused" key generate --name N --email n@x.example --passphrase
unset PLANSYNC_PASSPHRASE
use_home "$H"
if [ -e "$T/empty/key" ]; then notok "empty passphrase: no key made"; else ok "empty passphrase: no key made"; fi

# ---- the terminal prompt (a pseudo-terminal driven by python3) ----
cat >"$T/ptydrive.py" <<'PY'
# ptydrive.py HOME MODE: run `plansync key generate --passphrase` on a new
# pseudo-terminal, answer its prompts, print "status=N echoed=0|1 echo=0|1"
# (echo: whether the terminal has echo on after plansync ends).
import os, pty, signal, sys, termios, time
home, mode = sys.argv[1], sys.argv[2]
argv = [os.environ["PLANSYNC_BIN"], "key", "generate", "--name", "T",
        "--email", "t@x.example", "--org", "O", "--passphrase"]
answers = {"ok": [b"tty secret", b"tty secret"],
           "mismatch": [b"tty secret", b"other secret"],
           "interrupt": [None]}[mode]
os.environ["PLANSYNC_HOME"] = home
os.environ.pop("PLANSYNC_PASSPHRASE", None)
pid, fd = pty.fork()
if pid == 0:
    os.execv(argv[0], argv)
out, deadline = b"", time.time() + 30
def read_until(pred):
    global out
    while not pred() and time.time() < deadline:
        try:
            d = os.read(fd, 1024)
        except OSError:
            return
        if not d:
            return
        out += d
for i, a in enumerate(answers):
    read_until(lambda: out.count(b"assphrase") > i)
    time.sleep(0.3)  # the prompt is written just before echo goes off
    os.write(fd, b"\x03" if a is None else a + b"\n")
read_until(lambda: False)
if time.time() >= deadline:
    os.kill(pid, signal.SIGKILL)
_, st = os.waitpid(pid, 0)
echo = bool(termios.tcgetattr(fd)[3] & termios.ECHO)
print("status=%d echoed=%d echo=%d" % (os.waitstatus_to_exitcode(st),
      b"secret" in out, echo))
PY
export PLANSYNC_BIN
r=$(python3 "$T/ptydrive.py" "$T/tty-ok" ok)
same "$r" "status=0 echoed=0 echo=1" "terminal: passphrase asked twice, not echoed"
use_home "$T/tty-ok"
export PLANSYNC_PASSPHRASE="tty secret"
expect 0 "terminal passphrase seals the key" init "$T/repo-tty" --plan "$BASE"
export PLANSYNC_PASSPHRASE="tty secreT"
expect 1 "terminal-made key refuses another passphrase" init "$T/repo-tty2" --plan "$BASE"
unset PLANSYNC_PASSPHRASE
use_home "$H"
r=$(python3 "$T/ptydrive.py" "$T/tty-mismatch" mismatch)
same "$r" "status=2 echoed=0 echo=1" "terminal: differing passphrases refused"
if [ -e "$T/tty-mismatch/key" ]; then notok "terminal mismatch: no key made"; else ok "terminal mismatch: no key made"; fi
r=$(python3 "$T/ptydrive.py" "$T/tty-int" interrupt)
same "$r" "status=-2 echoed=0 echo=1" "terminal: Ctrl-C at the prompt puts echo back"
if [ -e "$T/tty-int/key" ]; then notok "terminal Ctrl-C: no key made"; else ok "terminal Ctrl-C: no key made"; fi

# ---- import ----
I="$T/imported"
use_home "$I"
expect 0 "import an unencrypted OpenSSH ed25519 key" key import "$KEYS/id_ed25519"
use_home "$H"
same "$(cat "$I/key.pub")" "$(cat "$KEYS/id_ed25519.pub")" "imported key.pub equals ssh-keygen's .pub"
same "$(mode "$I/key")" 600 "imported key is 0600"
if grep -q "^email: fixture@agency-c.example$" "$I/key"; then ok "email defaults to the key comment"; else notok "email defaults to the key comment"; fi
for l in $(sed -n '2,6p' "$KEYS/id_ed25519"); do
	if grep -qF -- "$l" "$T/out" "$T/err"; then notok "import prints no secret"; break; fi
done
ok "import output checked for secret lines"
use_home "$I"
expect 0 "show the imported key" key show
use_home "$H"
same "$(sed -n 2p "$T/out")" "$(ssh-keygen -lf "$KEYS/id_ed25519.pub" | cut -d' ' -f2)" "imported fingerprint is ssh-keygen's"

use_home "$T/i2"
expect 2 "import of a key with no comment needs --email" key import "$KEYS/id_ed25519_nocomment"
use_home "$H"
err_has "--email" "no comment: asks for --email"
use_home "$T/i2"
expect 0 "import with --name --email --org" key import "$KEYS/id_ed25519_nocomment" --name "No Comment" --email nc@agency-c.example --org "Agency C"
use_home "$H"
if grep -q "^name: No Comment$" "$T/i2/key" && grep -q "^org: Agency C$" "$T/i2/key"; then ok "import records name and org"; else notok "import records name and org"; fi

use_home "$T/i3"
expect 1 "import of an encrypted OpenSSH key refused" key import "$KEYS/id_ed25519_encrypted"
use_home "$H"
err_one_line "encrypted: one line"
err_has "id_ed25519_encrypted' is encrypted" "encrypted: names the file"
err_has "ssh-keygen -p -N '' -f COPY" "encrypted: says how to export a copy"
use_home "$T/i3"
expect 1 "import of an RSA key refused" key import "$KEYS/id_rsa"
use_home "$H"
err_has "ssh-rsa" "rsa: says the key type"
use_home "$T/i3"
expect 1 "import of a public key file refused" key import "$KEYS/id_ed25519.pub"
use_home "$H"
err_one_line "public key file: one line"
use_home "$T/i3"
expect 1 "import of a missing file refused" key import "$T/nope"
use_home "$H"
err_has "$T/nope" "missing file: names it"
head -c 200 "$KEYS/id_ed25519" >"$T/truncated"
use_home "$T/i3"
expect 1 "import of a truncated key refused" key import "$T/truncated"
use_home "$H"
err_one_line "truncated: one line"
if [ -e "$T/i3" ]; then notok "refused imports created nothing"; else ok "refused imports created nothing"; fi

finish
