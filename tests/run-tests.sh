#!/bin/sh
# Run the unit test programs and the fuzz smoke runs; print every case's
# result and a closing "N passed, N failed". Exit 1 if anything failed.
#
# run-tests.sh [--timeout S] [--fuzz-runs N] [--fuzz-corpus DIR]
#              [--fuzz-drivers "PROG..."] [--libfuzzers "PROG..."]
#              [--script "SCRIPT ARG..."]... TEST-PROGRAM...
#
# A test program prints "PASS name" / "FAIL name: why" / "SKIP name: why"
# lines (tests/xtest.h); one that exits non-zero without a FAIL line counts
# as one failure of its own; a --script is a shell script (run with its
# arguments) that prints the same lines. A fuzz harness fuzz_NAME takes its seed inputs
# from DIR/NAME: the plain driver (fuzz_NAME_driver) runs them and N inputs
# made from them and from scratch; a libFuzzer harness runs them, then
# fuzzes with -runs=N.
set -u

timeout=120
runs=2000
corpus=
drivers=
libfuzzers=
scripts=
nl='
'
while [ $# -gt 0 ]; do
	case $1 in
	--timeout) timeout=$2; shift 2 ;;
	--fuzz-runs) runs=$2; shift 2 ;;
	--fuzz-corpus) corpus=$2; shift 2 ;;
	--fuzz-drivers) drivers=$2; shift 2 ;;
	--libfuzzers) libfuzzers=$2; shift 2 ;;
	--script) scripts="$scripts$2$nl"; shift 2 ;;
	--) shift; break ;;
	-*) echo "run-tests.sh: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done

passed=0
failed=0
skipped=0
out=$(mktemp) || exit 2
trap 'rm -f "$out"' EXIT

# Count the PASS/FAIL lines of one program's output; $1 names it, $2 is
# its exit status.
tally() {
	p=$(grep -c '^PASS ' "$out")
	f=$(grep -c '^FAIL ' "$out")
	skipped=$((skipped + $(grep -c '^SKIP ' "$out")))
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$2" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL $1: exited with status $2"
		failed=$((failed + 1))
	fi
	if [ "$2" -eq 0 ] && [ "$p" -eq 0 ] && [ "$f" -eq 0 ] &&
	   ! grep -q '^SKIP ' "$out"; then
		echo "FAIL $1: reported no result"
		failed=$((failed + 1))
	fi
}

for t in "$@"; do
	"./$t" -t "$timeout" >"$out" 2>&1
	rc=$?
	cat "$out"
	tally "$t" "$rc"
done

printf '%s' "$scripts" | while IFS= read -r s; do
	[ -n "$s" ] && echo "$s"
done >"$out.scripts"
while IFS= read -r s; do
	# shellcheck disable=SC2086
	sh $s >"$out" 2>&1
	rc=$?
	cat "$out"
	tally "${s%% *}" "$rc"
done <"$out.scripts"
rm -f "$out.scripts"

# The seed directory of a harness, if there is one.
seeds() {
	name=${1##*/}
	name=${name%_driver}
	name=${name#fuzz_}
	if [ -n "$corpus" ] && [ -d "$corpus/$name" ]; then
		echo "$corpus/$name"
	fi
}

for t in $drivers; do
	"./$t" -n "$runs" $(seeds "$t") >"$out" 2>&1
	rc=$?
	[ "$rc" -eq 0 ] || grep -v '^PASS \|^FAIL ' "$out" | tail -n 40
	grep '^PASS \|^FAIL ' "$out"
	tally "$t" "$rc"
done

for t in $libfuzzers; do
	name=${t##*/}
	dir=$(seeds "$t")
	rc=0
	if [ -n "$dir" ]; then
		"./$t" "$dir"/* >"$out" 2>&1
		rc=$?
	fi
	if [ "$rc" -eq 0 ]; then
		"./$t" -runs="$runs" -seed=1 -max_len=4096 >"$out" 2>&1
		rc=$?
	fi
	if [ "$rc" -eq 0 ]; then
		echo "PASS $name (libFuzzer, $runs runs)"
		passed=$((passed + 1))
	else
		tail -n 40 "$out"
		echo "FAIL $name: libFuzzer exited with status $rc"
		failed=$((failed + 1))
	fi
done

if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
