#!/bin/sh
# Runs every test: the cmocka unit binaries, the fuzz corpus replays and the
# end-to-end scripts, and ends with one summary line "N passed, N failed".
# BUILD names the build folder (build or build-san).
BUILD=${BUILD:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
log=$(mktemp -d "${TMPDIR:-/tmp}/plansync-tests.XXXXXX")
passed=0
failed=0
failures=""

count() { # file: add cmocka's PASSED/FAILED counts and TAP ok/not ok lines
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$1" | awk '{s+=$1} END {print s+0}')
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$1" | awk '{s+=$1} END {print s+0}')
	tp=$(grep -c '^ok ' "$1")
	tf=$(grep -c '^not ok ' "$1")
	passed=$((passed + p + tp))
	failed=$((failed + f + tf))
}

run() { # name command...: run one test program, count its results
	name=$1
	shift
	out="$log/$(echo "$name" | tr '/' '_').log"
	"$@" >"$out" 2>&1
	rc=$?
	count "$out"
	if [ $rc -ne 0 ]; then
		# A crash or a non-zero exit with no counted failure still fails.
		if ! grep -q -e '^\[  FAILED  \]' -e '^not ok ' "$out"; then
			failed=$((failed + 1))
		fi
		failures="$failures $name"
		echo "FAIL $name (exit $rc), last lines:"
		tail -n 30 "$out" | sed 's/^/    /'
	else
		echo "PASS $name"
	fi
}

export PLANSYNC_BIN="$top/$BUILD/plansync"
export PLANSYNC_TOP="$top"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
# libgit2 1.5.1 leaks inside git_remote_connect (known_hosts, failed pushes).
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$top/tests/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

for t in "$BUILD"/tests/test_*; do
	[ -x "$t" ] || continue
	run "$(basename "$t")" "$t"
done
for r in "$BUILD"/replay/fuzz_*; do
	[ -x "$r" ] || continue
	n=$(basename "$r")
	run "$n-corpus" "$r" "tests/fuzz/corpus/${n#fuzz_}"
done
for s in tests/e2e/*.sh; do
	case $(basename "$s") in lib.sh | servers.sh) continue ;; esac
	[ -f "$s" ] || continue
	run "$(basename "$s" .sh)" sh "$s"
done

rm -rf "$log"
[ -n "$failures" ] && echo "failed:$failures"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ -z "$failures" ]
