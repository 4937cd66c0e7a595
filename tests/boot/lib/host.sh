# Host preparation: the host's tools (sourced by tests/boot/run). The
# lab's arm64 packages never go through the host's apt (pin.sh, apt.sh).
# shellcheck shell=bash

HOST_PACKAGES=(
	qemu-system-arm
	gcc-aarch64-linux-gnu libc6-dev-arm64-cross binutils-aarch64-linux-gnu
	build-essential bison flex python3 bc make kmod cpio gzip xz-utils
	dpkg-dev device-tree-compiler curl ca-certificates
	autoconf automake libtool pkg-config
)

# Packages of HOST_PACKAGES that are not installed, one per line.
missing_host_packages() {
	local p status
	for p in "${HOST_PACKAGES[@]}"; do
		status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
		[ "$status" = "install ok installed" ] || echo "$p"
	done
}

# Install the host's tools that are missing.
host_setup() {
	local missing
	[ "$(id -u)" -eq 0 ] || die "run as root: the lab installs packages and uses apt-get"
	if ! command -v dpkg >/dev/null || ! command -v apt-get >/dev/null; then
		die "the boot lab needs a Debian (12) host with apt"
	fi
	missing=$(missing_host_packages)
	[ -n "$missing" ] || return 0
	note "apt-get update"
	logged "$LOG_DIR/apt-update.log" apt-get update || die "apt-get update failed"
	note "installing host packages: $(echo "$missing" | tr '\n' ' ')"
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive logged "$LOG_DIR/apt-install.log" \
		apt-get install -y --no-install-recommends $missing ||
		die "installing host packages failed"
}
