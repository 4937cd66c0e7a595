#!/bin/sh
# The shipped systemd unit: systemd-analyze finds nothing wrong in it, and
# its exposure score (systemd-analyze security) stays at or below what the
# hardening reached, so a lost setting shows. Skipped without systemd.
#
# test-systemd-unit.sh BUILT-UNIT XEN-VIRTIO-BINARY
set -u

unit=$1
bin=$2
# The score of the unit as shipped; lower is better.
max_exposure=2.5

if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "SKIP systemd_unit_verify: no systemd-analyze on this machine"
	echo "SKIP systemd_unit_security: no systemd-analyze on this machine"
	exit 0
fi
dir=$(mktemp -d) || exit 2
trap 'rm -rf "$dir"' EXIT
# The unit names the installed program: point it at the built one.
sed "s|^ExecStart=[^ ]*|ExecStart=$bin|" "$unit" >"$dir/xen-virtio.service"

if out=$(systemd-analyze verify --man=no "$dir/xen-virtio.service" 2>&1) && [ -z "$out" ]; then
	echo "PASS systemd_unit_verify"
else
	echo "FAIL systemd_unit_verify: $(echo "$out" | tr '\n' ' ')"
fi

score=$(systemd-analyze security --offline=true "$dir/xen-virtio.service" 2>/dev/null |
	sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
if [ -z "$score" ]; then
	echo "SKIP systemd_unit_security: this systemd-analyze has no --offline security"
elif awk "BEGIN { exit !($score <= $max_exposure) }"; then
	echo "PASS systemd_unit_security: exposure $score (at most $max_exposure)"
else
	echo "FAIL systemd_unit_security: exposure $score, more than $max_exposure"
fi
