# The man page is built from the binary's help texts (doc/mkman.sh); the
# committed page must be what the current binary says, and every command
# the table lists must answer --help with exit 0 on stdout.
. "$(dirname "$0")/lib.sh"

sh "$PLANSYNC_TOP/doc/mkman.sh" "$PLANSYNC_BIN" >"$T/plansync.1"
if cmp -s "$T/plansync.1" "$PLANSYNC_TOP/doc/plansync.1"; then
	ok "doc/plansync.1 matches the help texts"
else
	notok "doc/plansync.1 is out of date: run sh doc/mkman.sh ./plansync > doc/plansync.1 ($(diff "$PLANSYNC_TOP/doc/plansync.1" "$T/plansync.1" | head -n 5 | tr '\n' ' '))"
fi
for c in $("$PLANSYNC_BIN" help | sed -n 's/^  \([a-z-]*\) .*/\1/p'); do
	expect 0 "$c --help exits 0" "$c" --help
	if [ -s "$T/out" ] && [ ! -s "$T/err" ]; then
		ok "$c --help prints to stdout only"
	else
		notok "$c --help prints to stdout only"
	fi
done
for c in README.md; do
	# Every command the README's tour runs must exist.
	for w in $(sed -n 's/^    \(\.\/\)\{0,1\}plansync \(-C [^ ]* \)\{0,1\}\([a-z-]*\).*/\3/p' "$PLANSYNC_TOP/$c" | sort -u); do
		if "$PLANSYNC_BIN" help | grep -q "^  $w "; then
			ok "README's '$w' is a command"
		else
			notok "README's '$w' is not a command"
		fi
	done
done
finish
