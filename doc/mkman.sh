#!/bin/sh
# doc/mkman.sh PLANSYNC > doc/plansync.1
# Builds the man page from the binary's own help texts, so that the page,
# `plansync help` and `plansync COMMAND --help` say the same thing.
# tests/e2e/docs.sh fails when the committed page is out of date.
set -eu
ps=$1
esc() { sed -e 's/\\/\\e/g' -e 's/^\./\\\&./' -e "s/^'/\\\\\\&'/"; }
cat <<'HEAD'
.TH PLANSYNC 1 "" "plansync" "User Commands"
.SH NAME
plansync \- keep a multi\-agency action plan in git: signed, merged field by field, audited
.SH SYNOPSIS
.B plansync
[\fB\-C\fR \fIDIR\fR] [\fB\-\-version\fR] [\fB\-\-help\fR]
.I COMMAND
[\fIARGS\fR]
.SH DESCRIPTION
plansync keeps an action plan (priorities, actions, progress updates,
timescales, responsible organisations) as YAML files in a git repository that
every partner holds.  Partners edit offline and sync through any git remote.
Every change is one commit signed with the partner's Ed25519 key in git's SSH
signature format; merges happen per action and field by field; anyone can
audit who changed which field, signature checked.
.PP
.B \-C
.I DIR
runs as if plansync had been started in
.IR DIR .
Output is coloured only on a terminal and never when
.B NO_COLOR
is set.
.SH COMMANDS
HEAD
"$ps" help | sed -n 's/^  \([a-z-]*\) .*/\1/p' | while read -r c; do
	printf '.SS %s\n.nf\n' "$c"
	"$ps" "$c" --help | esc
	printf '.fi\n'
done
cat <<'TAIL'
.SH FILES
.TP
.I $PLANSYNC_HOME/key, key.pub
the signing key (default folder $XDG_CONFIG_HOME/plansync, else
~/.config/plansync); the secret key file must be mode 0600.
.TP
.I plan.yaml, actions/P<n>/P<n>\-A<m>.yaml, partners.yaml
the plan, one file per action, and who may sign (schema plansync/1).
.TP
.I .git/plansync/
allowed_signers for stock git, the field\-history index, the lock.
.SH ENVIRONMENT
.TP
.B PLANSYNC_HOME
where the key lives.
.TP
.B PLANSYNC_PASSPHRASE
the passphrase of a sealed key, for use without a terminal.
.TP
.B VISUAL, EDITOR
the editor of
.BR "plansync edit" .
.TP
.B NO_COLOR
no colours when set.
.SH EXIT STATUS
0 success (a sync that recorded conflicts still succeeds); 1 any other
failure; 2 usage error; 3 verification or trust refused; 4 remote unreachable
or transport failure; 5 repository busy (another plansync holds its lock).
.SH SEE ALSO
.BR git (1),
.BR ssh\-keygen (1)
TAIL
