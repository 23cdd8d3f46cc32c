#!/bin/sh
# make bench: every benchmark, each against stock git (or the library it is
# built on) measured in the same run.  Results go to bench/out/results.md;
# copy that table into BENCHMARKS.md with the date and machine.
# BENCH_QUICK=1 runs smaller sizes (for a smoke test).
set -u
BUILD=${BUILD:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
out="$top/bench/out"
mkdir -p "$out"
res="$out/results.md"
PS="$top/$BUILD/plansync"
B="$top/$BUILD/bench"
work=$(mktemp -d "${TMPDIR:-/tmp}/plansync-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
export HOME="$work/home" PLANSYNC_HOME="$work/home/.config/plansync"
export GIT_CONFIG_NOSYSTEM=1 NO_COLOR=1
mkdir -p "$HOME"
git config --global user.name bench
git config --global user.email bench@plansync.example
git config --global init.defaultBranch main

now() { date +%s.%N; }
el() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.4f", b - a}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "n/a"}'; }

{
	echo "# make bench results"
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "- machine: $(uname -srm), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
	echo "- git: $(git --version | cut -d' ' -f3), libgit2 $(pkg-config --modversion libgit2), libyaml $(pkg-config --modversion yaml-0.1), libsodium $(pkg-config --modversion libsodium)"
	echo
} >"$res"

# The partner key every signed section uses, made once so that any
# section can run alone.
"$PS" key generate --name Bench --email bench@plansync.example --org Bench >/dev/null 2>&1

# BENCH_ONLY="load set verify merge sync audit" runs only those sections.
want() { [ -z "${BENCH_ONLY:-}" ] || case " $BENCH_ONLY " in *" $1 "*) true ;; *) false ;; esac; }

if [ "${BENCH_QUICK:-0}" = 1 ]; then
	SIZES="1000 10000"
else
	SIZES="10000 100000"
fi

# 1. Plan model: load + validate + canonical write (issue 2).  plan_bench
#    times each load in a fresh process, with one thread and with the
#    threads plan_load_dir uses (one per core), median of 5 runs alternated
#    with libyaml's event parser alone over the same files.
if want load && [ -x "$B/genplan" ] && [ -x "$B/plan_bench" ]; then
	{
		echo "## Plan load + validate + canonical write"
		echo
		echo "Median of 5 loads each, each in a fresh process, alternated with the libyaml baseline; \"load / libyaml\" compares load+validate (N threads) with libyaml's event parser alone (one thread) in the same run; the per-CPU-second figures are less sensitive to other work on the machine."
		echo
		echo "| actions | load+validate actions/s, 1 thread | load+validate actions/s, N threads | N | write actions/s | peak RSS | libyaml events only, files/s | load / libyaml | per CPU second: load 1 thread / libyaml | git add (hash all files) s | load / git add |"
		echo "|---|---|---|---|---|---|---|---|---|---|---|"
	} >>"$res"
	for n in $SIZES; do
		d="$work/plan$n"
		"$B/genplan" "$d" "$n" 1 >/dev/null || continue
		sync
		line=$("$B/plan_bench" "$d" 2>&1 | tail -n 1)
		echo "plan_bench $n: $line"
		# plan_bench's last line: "key=value ..." pairs
		kv() { echo "$line" | sed -n "s/.* $1=\([0-9.]*\).*/\1/p"; }
		lv=$(kv load_per_s)
		l1=$(kv load1_per_s)
		jobs=$(kv jobs)
		wv=$(kv write_per_s)
		rss=$(kv maxrss_kb)
		yv=$(kv libyaml_per_s)
		ls=$(kv load_s)
		c1=$(kv load1_cpu_per_s)
		cy=$(kv libyaml_cpu_per_s)
		g="$work/git$n"
		cp -r "$d" "$g"
		git -C "$g" init -q
		t0=$(now)
		git -C "$g" add -A
		t1=$(now)
		ga=$(el "$t0" "$t1")
		echo "| $n | $l1 | $lv | $jobs | $wv | $((${rss:-0} / 1024)) MiB | $yv | $(ratio "$lv" "$yv")x | $c1 / $cy = $(ratio "$c1" "$cy")x | $ga | $(ratio "$ls" "$ga")x |" >>"$res"
		rm -rf "$g"
	done
	echo >>"$res"
fi

# 2. Signed set on 1,000 and 100,000 actions against git commit -S (issue 3).
if want set && "$PS" help 2>/dev/null | grep -q '^  set '; then
	ssh-keygen -q -t ed25519 -N '' -f "$work/gitkey" -C bench@plansync.example
	{
		echo "## One signed field edit"
		echo
		echo "| actions | plansync set (median of 7) s | git commit -S (median of 7) s | ratio |"
		echo "|---|---|---|---|"
	} >>"$res"
	median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
	for n in 1000 100000; do
		[ "${BENCH_QUICK:-0}" = 1 ] && [ "$n" = 100000 ] && n=10000
		d="$work/set$n"
		"$B/genplan" "$d.src" "$n" 2 >/dev/null || continue
		"$PS" init "$d" --plan "$d.src" >/dev/null 2>&1 || { echo "init failed"; continue; }
		cp -r "$d" "$d.git"
		git -C "$d.git" config gpg.format ssh
		git -C "$d.git" config user.signingkey "$work/gitkey"
		f=$(cd "$d" && ls actions/P1 | head -n 1)
		id=${f%.yaml}
		: >"$work/ps.t"
		: >"$work/git.t"
		# Each tool's edits back to back, after one untimed edit (the
		# steady state of successive edits) and a sync: interleaved,
		# each ran up to 2x slower on this VM while the other's 8.8 MB
		# index writes were still being written back.
		sync
		for i in 0 1 2 3 4 5 6 7; do
			st=done
			[ $((i % 2)) = 0 ] && st=ongoing
			t0=$(now)
			"$PS" -C "$d" set "$id" status "$st" >/dev/null 2>&1
			t1=$(now)
			[ "$i" = 0 ] || { el "$t0" "$t1"; echo; } >>"$work/ps.t"
		done
		sync
		for i in 0 1 2 3 4 5 6 7; do
			st=done
			[ $((i % 2)) = 0 ] && st=ongoing
			sed -i "s/^status: .*/status: $st/" "$d.git/actions/P1/$f"
			t0=$(now)
			git -C "$d.git" commit -qS -am "$id: status -> $st"
			t1=$(now)
			[ "$i" = 0 ] || { el "$t0" "$t1"; echo; } >>"$work/git.t"
		done
		pm=$(grep . "$work/ps.t" | median)
		gm=$(grep . "$work/git.t" | median)
		echo "| $n | $pm | $gm | $(ratio "$pm" "$gm")x |" >>"$res"
		rm -rf "$d" "$d.git" "$d.src"
	done
	echo >>"$res"
fi

# 3. verify --all of a 10,000-commit signed history (issue 3).
if want verify && [ -x "$B/verify_bench" ]; then
	echo "## verify --all" >>"$res"
	echo >>"$res"
	"$B/verify_bench" "$PS" "$work/verify" >>"$res" 2>"$out/verify_bench.err" ||
		echo "verify_bench failed: $(tail -n 3 "$out/verify_bench.err")" >>"$res"
	echo >>"$res"
fi

# 4. Field merge of two divergent signed histories (issue 4).
if want merge && [ -x "$B/merge_bench" ] && [ -f bench/merge_bench.sh ]; then
	echo "## merge" >>"$res"
	echo >>"$res"
	sh bench/merge_bench.sh "$PS" "$B" "$work/merge" >>"$res" 2>"$out/merge_bench.err" ||
		echo "merge_bench failed: $(tail -n 3 "$out/merge_bench.err")" >>"$res"
	echo >>"$res"
fi

# 5. Sync of 1,000 signed commits over git:// (issue 5).
if want sync && [ -x "$B/sync_gen" ] && [ -f bench/sync_bench.sh ]; then
	echo "## sync over git://" >>"$res"
	echo >>"$res"
	n=1000
	PLANSYNC="$PS" SYNC_GEN="$B/sync_gen" sh bench/sync_bench.sh "$n" 3 >>"$res" 2>"$out/sync_bench.err" ||
		echo "sync_bench failed: $(tail -n 3 "$out/sync_bench.err")" >>"$res"
	echo >>"$res"
fi

# 6. blame and log on a long signed history, with and without the index
#    (issue 6).
if want audit && [ -x "$B/audit_bench" ]; then
	echo "## blame and log" >>"$res"
	echo >>"$res"
	c=100000
	[ "${BENCH_QUICK:-0}" = 1 ] && c=10000
	"$B/audit_bench" "$PS" "$work/audit" "$c" 1000 >>"$res" 2>"$out/audit_bench.err" ||
		echo "audit_bench failed: $(tail -n 3 "$out/audit_bench.err")" >>"$res"
	echo >>"$res"
fi

cat "$res"
