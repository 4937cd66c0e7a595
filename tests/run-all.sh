#!/bin/bash
# Everything CI checks, in the order a failure is cheapest to find:
# dependencies, a sanitizer build with the unit tests and fuzz smoke runs,
# make distcheck, the boot lab's resolver tests, then the Xen-on-Arm boot
# lab: Debian 12 (Xen 4.17) on Debian's Linux 6.1 and on the lab-built
# Linux 6.12, then Debian 13 (Xen 4.20, Linux 6.12). Ends with what each
# lab run did: ran, or skipped and why (a generation is skipped, one SKIP
# line per check, when the mirror no longer serves what it is built from).
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
make -s check
make -s distcheck -j"$jobs" >distcheck.log 2>&1 || { tail -n 60 distcheck.log; exit 1; }
echo "distcheck: ok"

# Every lab run goes on even when one before it failed.
lab=0
status=$build/lab-status
: >"$status"
export XV_LAB_STATUS=$status
"$top/tests/boot/test-fetch" || lab=1
"$top/tests/boot/run" --debian 12 || lab=1
"$top/tests/boot/run" --debian 12 --kernel lab || lab=1
"$top/tests/boot/run" --debian 13 || lab=1
echo "boot lab runs:"
sed 's/^/  /' "$status"
exit $lab
