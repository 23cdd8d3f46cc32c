#!/bin/sh
# bench/merge_bench.sh PLANSYNC BENCHBIN WORKDIR: `plansync merge` against
# stock `git merge` (no driver, no hooks) on copies of the same
# repositories, in the same run.  Prints a Markdown section on stdout.
#
#   - 10,000 actions, 1,000 edited actions per side (one signed commit
#     each), 30% edited on both sides: half the same field (real conflicts),
#     a fifth both adding an update entry, the rest different fields.
#   - Scaling: 100 edits per side on 1,000 and 100,000 actions.
#
# Times are the median of $RUNS runs (default 3), each on fresh copies,
# flushed to disk (sync) before either tool runs: a repository's files
# were written long before a merge, and without it the tool timed first
# pays for the copies' writeback (and deleting or replacing a file whose
# data is still unwritten costs less than in a real repository).
# The histories come from BENCHBIN/merge_bench (libgit2 + core/sshsig),
# on a plan from BENCHBIN/genplan initialised by `plansync init`; the key
# is the one in $PLANSYNC_HOME (run.sh makes it).  BENCH_QUICK=1 runs
# smaller sizes.
set -u
PS=$1
B=$2
W=$3
RUNS=${RUNS:-3}
mkdir -p "$W"

now() { date +%s.%N; }
el() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", b - a}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "n/a"}'; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# setup N EDITS: $W/mN-E.repo with branches side-a and side-b
setup() {
	d="$W/m$1-$2"
	rm -rf "$d.src" "$d.repo"
	"$B/genplan" "$d.src" "$1" 3 >/dev/null || return 1
	"$PS" init "$d.repo" --plan "$d.src" >/dev/null || return 1
	"$B/merge_bench" "$d.repo" "$2" 7 "$d.cats" || return 1
	# one pack, as a clone or fetch would leave them (fair to both)
	git -C "$d.repo" repack -adq
	git -C "$d.repo" reset -q --hard side-a
	rm -rf "$d.src"
}

# measure N EDITS: sets ps_t git_t git_conf git_false ps_conf ps_false
measure() {
	d="$W/m$1-$2"
	: >"$W/ps.t"
	: >"$W/git.t"
	r=0
	while [ "$r" -lt "$RUNS" ]; do
		r=$((r + 1))
		rm -rf "$d.ps" "$d.git"
		cp -a "$d.repo" "$d.ps"
		cp -a "$d.repo" "$d.git"
		# stock git: the built-in text merge for every file, no hooks
		git -C "$d.git" config --unset merge.plansync.driver
		echo '* merge' >"$d.git/.git/info/attributes"
		rm -f "$d.git/.git/hooks/post-"*
		git -C "$d.ps" status -s >/dev/null
		git -C "$d.git" status -s >/dev/null
		sync
		t0=$(now)
		"$PS" -C "$d.ps" merge side-b >"$W/ps.out" 2>&1 ||
			{ echo "plansync merge failed: $(tail -n 2 "$W/ps.out")" >&2; return 1; }
		t1=$(now)
		git -C "$d.git" -c commit.gpgsign=false merge -q --no-edit side-b >/dev/null 2>&1
		t2=$(now)
		echo "$(el "$t0" "$t1")" >>"$W/ps.t"
		echo "$(el "$t1" "$t2")" >>"$W/git.t"
	done
	ps_t=$(median <"$W/ps.t")
	git_t=$(median <"$W/git.t")
	git -C "$d.git" diff --name-only --diff-filter=U | sed 's,.*/,,; s,\.yaml$,,' | sort >"$W/git.ids"
	"$PS" -C "$d.ps" conflicts --json | grep -o '"id":"P[0-9]*-A[0-9]*"' |
		sed 's/"id":"//; s/"//' | sort -u >"$W/ps.ids"
	grep ' same$' "$d.cats" | cut -d' ' -f1 | sort >"$W/real.ids"
	git_conf=$(wc -l <"$W/git.ids")
	git_false=$(comm -23 "$W/git.ids" "$W/real.ids" | wc -l)
	ps_conf=$("$PS" -C "$d.ps" conflicts --json | grep -o '"field":' | wc -l)
	ps_false=$(comm -23 "$W/ps.ids" "$W/real.ids" | wc -l)
	ps_missed=$(comm -13 "$W/ps.ids" "$W/real.ids" | wc -l)
	if [ -n "$(git -C "$d.ps" status --porcelain)" ]; then
		echo "plansync merge left the work tree unclean" >&2
		return 1
	fi
	rm -rf "$d.ps" "$d.git"
}

if [ "${BENCH_QUICK:-0}" = 1 ]; then
	BIG=2000 BIGE=200 SMALL=500 LARGE=5000
else
	BIG=10000 BIGE=1000 SMALL=1000 LARGE=100000
fi

echo "### plansync merge vs stock git merge"
echo
echo "Divergent signed histories, one commit per edited action; 30% of the"
echo "edited actions edited on both sides (half the same field, a fifth both"
echo "adding an update, the rest different fields).  Median of $RUNS runs."
echo
echo "| actions | edits/side | plansync merge s | git merge s | plansync / git | git conflicted files (false) | plansync conflicts recorded (false, missed) |"
echo "|---|---|---|---|---|---|---|"
for cfg in "$BIG $BIGE" "$SMALL 100" "$LARGE 100"; do
	set -- $cfg
	setup "$1" "$2" || { echo "| $1 | $2 | setup failed | | | | |"; continue; }
	if measure "$1" "$2"; then
		echo "| $1 | $2 | $ps_t | $git_t | $(ratio "$ps_t" "$git_t")x | $git_conf ($git_false) | $ps_conf ($ps_false, $ps_missed) |"
		eval "ps_$1_$2=$ps_t git_$1_$2=$git_t"
	else
		echo "| $1 | $2 | failed | | | | |"
	fi
	rm -rf "$W/m$1-$2.repo"
done
echo
eval "a=\${ps_${SMALL}_100:-0} b=\${ps_${LARGE}_100:-0} ga=\${git_${SMALL}_100:-0} gb=\${git_${LARGE}_100:-0}"
echo "Scaling, 100 edits per side, $SMALL -> $LARGE actions: plansync $(ratio "$b" "$a")x (target at most 2x), git $(ratio "$gb" "$ga")x."
echo
