#!/bin/sh
# Bad plan files (SPEC.md 6): for each kind of bad input that a plan folder
# can hold, copy the small valid plan tests/fixtures/bad/base into a temp
# folder, break it (with the overlay in tests/fixtures/bad/cases/NAME, or
# generated here: big, binary and symlinked inputs are not committed), then
# run `plansync list` and `plansync export -o FILE` on it.  Each must exit 1
# with exactly one line on stderr that names the file (with line:col where
# the problem is inside the YAML) and the rule broken, write no output file
# and change nothing in the plan folder.
. "$(dirname "$0")/lib.sh"

FIX="$PLANSYNC_TOP/tests/fixtures/bad"
A1=actions/P1/P1-A1.yaml

# The base plan itself must load, or every case below proves nothing.
expect 0 "base fixture plan lists" -C "$FIX/base" list
if [ "$(wc -l <"$T/out")" -eq 3 ]; then ok "base fixture has 3 actions"; else notok "base fixture has 3 actions ($(wc -l <"$T/out"))"; fi

# gen_NAME DIR: the generated cases.
gen_huge_scalar() {
	python3 - "$1/$A1" <<'EOF'
import sys
with open(sys.argv[1], "w") as f:
    f.write("id: P1-A1\npriority: P1\naction: " + "x" * ((1 << 20) + 64) +
            "\ninformation: \"\"\nstatus: ongoing\ntimescale: \"\"\n"
            "responsible: []\nupdates: []\n")
EOF
}
gen_huge_file() {
	# 17 MiB, every scalar small: only the file's size is wrong
	python3 - "$1/$A1" <<'EOF'
import sys
with open(sys.argv[1], "w") as f:
    f.write("id: P1-A1\npriority: P1\naction: Hold a meeting.\n"
            "information: \"\"\nstatus: ongoing\ntimescale: \"\"\n"
            "responsible: []\nupdates: []\n")
    line = "# " + "c" * 1021 + "\n"
    for _ in range(17 * 1024):
        f.write(line)
EOF
}
gen_invalid_utf8() {
	{
		printf 'id: P1-A1\npriority: P1\n'
		printf 'action: caf\351 and cr\350me\n'
		printf 'information: ""\nstatus: ongoing\ntimescale: ""\n'
		printf 'responsible: []\nupdates: []\n'
	} >"$1/$A1"
}
gen_overlong_utf8() {
	{
		printf 'id: P1-A1\npriority: P1\n'
		printf 'action: slash \300\257 here\n'
		printf 'information: ""\nstatus: ongoing\ntimescale: ""\n'
		printf 'responsible: []\nupdates: []\n'
	} >"$1/$A1"
}
gen_nul_byte() {
	{
		printf 'id: P1-A1\npriority: P1\n'
		printf 'action: Hold\000 a meeting\n'
		printf 'information: ""\nstatus: ongoing\ntimescale: ""\n'
		printf 'responsible: []\nupdates: []\n'
	} >"$1/$A1"
}
gen_symlink_action() {
	ln -s P1-A1.yaml "$1/actions/P1/P1-A3.yaml"
}
gen_symlink_folder() {
	mv "$1/actions/P2" "$1/../P2-elsewhere"
	ln -s ../../P2-elsewhere "$1/actions/P2"
}
gen_symlink_plan() {
	mv "$1/plan.yaml" "$1/../plan-elsewhere.yaml"
	ln -s ../plan-elsewhere.yaml "$1/plan.yaml"
}
gen_symlink_actions() {
	mv "$1/actions" "$1/../actions-elsewhere"
	ln -s ../actions-elsewhere "$1/actions"
}
gen_fifo_action() {
	mkfifo "$1/actions/P1/P1-A3.yaml"
}
gen_folder_as_action() {
	mkdir "$1/actions/P1/P1-A3.yaml"
}

# run ARGS...: like ps, but a plansync that hangs (a FIFO opened for
# reading blocks) is stopped after 10 seconds and counts as exit 124.
run() {
	timeout 10 "$PLANSYNC_BIN" "$@" >"$T/out" 2>"$T/err"
	rc=$?
}

# bad NAME FILE POS RULE: run the case.  FILE is the path the message must
# name; POS is 1 if it must give FILE:line:col; RULE an ERE (any case) the
# rest of the message must match.
bad() {
	name=$1 file=$2 pos=$3 rule=$4
	case_dir="$T/cases/$name"
	d="$case_dir/plan"
	mkdir -p "$case_dir/out"
	cp -R "$FIX/base" "$d"
	if [ -d "$FIX/cases/$name" ]; then
		cp -R "$FIX/cases/$name/." "$d/"
	fi
	fn=gen_$(echo "$name" | tr '-' '_')
	if command -v "$fn" >/dev/null 2>&1; then
		"$fn" "$d"
	fi
	before=$(tree_sum "$d")
	for cmd in list export; do
		if [ $cmd = list ]; then
			run -C "$d" list
		else
			run -C "$d" export --format html -o "$case_dir/out/report.html"
		fi
		msg=$(head -n 1 "$T/err")
		if [ "$rc" -eq 1 ]; then
			ok "$name: $cmd exits 1"
		else
			notok "$name: $cmd exits 1 (exit $rc; stderr: $(head -c 300 "$T/err"))"
		fi
		err_one_line "$name: $cmd: one line on stderr"
		if [ -s "$T/out" ]; then
			notok "$name: $cmd: nothing on stdout ($(head -c 100 "$T/out"))"
		else
			ok "$name: $cmd: nothing on stdout"
		fi
		case "$msg" in
		"plansync: "*"$file"*) ok "$name: $cmd: names $file" ;;
		*) notok "$name: $cmd: names $file ($msg)" ;;
		esac
		if [ "$pos" = 1 ]; then
			if printf '%s' "$msg" | grep -qE -- "$file:[0-9]+:[0-9]+"; then
				ok "$name: $cmd: gives line:col"
			else
				notok "$name: $cmd: gives line:col ($msg)"
			fi
		fi
		rest=${msg#*"$file"}
		if printf '%s' "$rest" | grep -qiE -- "$rule"; then
			ok "$name: $cmd: says why"
		else
			notok "$name: $cmd: says why (wanted /$rule/: $msg)"
		fi
	done
	if [ -z "$(ls -A "$case_dir/out")" ]; then
		ok "$name: no output file written"
	else
		notok "$name: no output file written ($(ls -A "$case_dir/out"))"
	fi
	if [ "$(tree_sum "$d")" = "$before" ]; then
		ok "$name: plan folder unchanged"
	else
		notok "$name: plan folder unchanged"
	fi
	# the big inputs go at once
	rm -rf "$case_dir"
}

YAML_SYNTAX='expected|not allowed|syntax|parse|yaml|invalid|found'
TOO_BIG='large|big|long|over|exceed|limit|max|size|MiB|bytes'
LINK='symlink|symbolic|link'
LAYOUT='unexpected|stray|not (allowed|expected|part|in)|outside|layout|unknown|not a'

bad malformed-yaml "$A1" 1 "$YAML_SYNTAX"
bad malformed-indent plan.yaml 1 "$YAML_SYNTAX"
bad alias-bomb "$A1" 1 'alias|anchor'
bad anchor-only "$A1" 1 'alias|anchor'
bad deep-nesting "$A1" 1 'deep|depth|nest'
bad huge-scalar "$A1" 1 "scalar|$TOO_BIG"
bad huge-file "$A1" 0 "$TOO_BIG"
bad invalid-utf8 "$A1" 1 'utf-?8'
bad overlong-utf8 "$A1" 1 'utf-?8'
bad nul-byte "$A1" 1 'nul|null|\\0|zero|control'
bad duplicate-key "$A1" 1 'duplicate'
bad duplicate-key-plan plan.yaml 1 'duplicate'
bad wrong-type "$A1" 1 'responsible'
bad wrong-type-updates "$A1" 1 'updates'
bad wrong-type-action "$A1" 1 'action|scalar|string|text'
bad unknown-status "$A1" 1 'status'
bad bad-action-id "$A1" 1 '\<id\>|ID'
bad bad-update-id "$A1" 1 '\<id\>|ID|update'
bad bad-update-id-upper "$A1" 1 '\<id\>|ID|update'
bad duplicate-update-id "$A1" 1 'duplicate|u1'
bad bad-date "$A1" 1 'date'
bad id-not-file-name actions/P1/P1-A2.yaml 1 'match|name|file|P1-A1'
bad priority-not-folder actions/P2/P2-A1.yaml 1 'priority|folder|match'
bad unlisted-priority actions/P9 0 'priority|P9'
bad wrong-schema plan.yaml 1 'schema'
bad two-documents "$A1" 1 'document'
bad tagged-value "$A1" 1 'tag'
bad partners-wrong-role partners.yaml 1 'role'
bad stray-file-actions actions/notes.txt 0 "$LAYOUT"
bad stray-file-priority actions/P1/P1-A1.yaml.orig 0 "$LAYOUT"
bad stray-yaml-name actions/P1/action.yaml 0 "$LAYOUT"
bad symlink-action actions/P1/P1-A3.yaml 0 "$LINK"
bad symlink-folder actions/P2 0 "$LINK"
bad symlink-actions actions 0 "$LINK"
bad symlink-plan plan.yaml 0 "$LINK"
bad fifo-action actions/P1/P1-A3.yaml 0 'regular|not a file|fifo|special|type'
bad folder-as-action actions/P1/P1-A3.yaml 0 'regular|not a file|folder|directory|type'

finish
