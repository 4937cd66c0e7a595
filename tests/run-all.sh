#!/bin/bash
# Everything CI checks, in the order a failure is cheapest to find:
# dependencies, a sanitizer build with the unit tests and fuzz smoke runs,
# make distcheck, then the Xen-on-Arm boot test (Debian 12, then 13).
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
# The boot lab on both Debian generations (12: Xen 4.17, Linux 6.1;
# 13: Xen 4.20, Linux 6.12); the second runs even when the first failed.
lab=0
"$top/tests/boot/run" || lab=1
"$top/tests/boot/run" --debian 13 || lab=1
exit $lab
