#!/bin/bash
# Install what building and unit-testing xen-virtio needs on Debian 12
# (and what the boot lab's resolver tests, tests/boot/test-fetch, need).
# Quiet and quick when everything is already there.
set -euo pipefail

PKGS=(build-essential autoconf automake libtool pkg-config
      libxen-dev libfdt-dev liburing-dev libyajl-dev libseccomp-dev
      linux-libc-dev
      clang libclang-rt-14-dev device-tree-compiler
      curl ca-certificates python3 xz-utils)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "installing: ${missing[*]}"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
