#!/bin/bash
# Everything CI checks, in the order a failure is cheapest to find:
# dependencies, a sanitizer build with the unit tests and fuzz smoke runs,
# the threaded tests under ThreadSanitizer, make distcheck, the boot lab's resolver tests, then the Xen-on-Arm boot
# lab: Debian 12 (Xen 4.17) on Debian's Linux 6.1 and on the lab-built
# Linux 6.12, then Debian 13 (Xen 4.20, Linux 6.12). Ends with what each
# lab run did: ran, or skipped and why (a generation is skipped, one SKIP
# line per check, when the mirror no longer serves what it is built from),
# and the totals over every stage, so the last line counts every test run.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${XV_BUILD_DIR:-$top/build}
jobs=$(nproc)

"$top/tests/install-deps.sh"
cd "$top"
autoreconf -fi >/dev/null
mkdir -p "$build"
cd "$build"
"$top/configure" --enable-sanitizers -q
make -s -j"$jobs"

# Each stage ends with "N passed, N failed[, N skipped]"; add them up.
total_p=0 total_f=0 total_s=0
tally() {
	local out=$build/stage.log rc=0 line p f=0 s
	"$@" 2>&1 | tee "$out" || rc=$?
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1) || true
	if [ -n "$line" ]; then
		p=${line%% passed*}
		f=${line#*passed, }; f=${f%% failed*}
		s=0
		case $line in *skipped*) s=${line#*failed, }; s=${s%% skipped*} ;; esac
		total_p=$((total_p + p)) total_f=$((total_f + f))
		total_s=$((total_s + s))
	fi
	# A stage that failed without counting it still counts as a failure.
	if [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then
		total_f=$((total_f + 1))
	fi
	return "$rc"
}

tally make -s check

# The threaded tests again under ThreadSanitizer.
tsan=$build-tsan
mkdir -p "$tsan"
(cd "$tsan" && "$top/configure" --enable-tsan -q &&
	make -s -j"$jobs" tests/test_stress tests/test_blk tests/test_console)
tally bash -c "cd '$tsan' && '$top/tests/run-tests.sh' --timeout 300 \
	tests/test_stress tests/test_blk tests/test_console"
make -s distcheck -j"$jobs" >distcheck.log 2>&1 || { tail -n 60 distcheck.log; exit 1; }
echo "distcheck: ok"

# Every lab run goes on even when one before it failed.
lab=0
status=$build/lab-status
: >"$status"
export XV_LAB_STATUS=$status
tally "$top/tests/boot/test-fetch" || lab=1
tally "$top/tests/boot/run" --debian 12 || lab=1
tally "$top/tests/boot/run" --debian 12 --kernel lab || lab=1
tally "$top/tests/boot/run" --debian 13 || lab=1
echo "boot lab runs:"
sed 's/^/  /' "$status"
echo "all stages (unit tests, lab resolver, boot lab):"
echo "$total_p passed, $total_f failed, $total_s skipped"
exit $lab
