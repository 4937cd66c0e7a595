# Host preparation: packages, the arm64 foreign architecture and deb-src
# entries (sourced by tests/boot/run).
# shellcheck shell=bash

HOST_PACKAGES=(
	qemu-system-arm
	gcc-aarch64-linux-gnu libc6-dev-arm64-cross binutils-aarch64-linux-gnu
	build-essential bison flex python3 bc make kmod cpio gzip xz-utils
	dpkg-dev device-tree-compiler
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

# True when apt has at least one deb-src index configured (one-line or
# deb822 format alike).
have_deb_src() {
	[ -n "$(apt-get indextargets --no-release-info 'Created-By: Sources' 2>/dev/null)" ]
}

# Derive deb-src entries from the machine's own Debian deb entries, so that
# `apt-get source xen` reaches the same mirror and suites. Third-party
# repositories are left out: they rarely carry sources.
add_deb_src() {
	local out=/etc/apt/sources.list.d/xen-virtio-lab-src f
	rm -f "$out.sources" "$out.list"
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk -v RS= -v ORS='\n\n' '/(^|\n)Types:[ \t]*deb([ \t]|\n|$)/ && /(^|\n)URIs:[^\n]*debian/ {
			sub(/(^|\n)Types:[^\n]*/, "\nTypes: deb-src"); sub(/^\n/, ""); print }' "$f" >>"$out.sources"
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		sed -n '/debian/s/^deb[[:space:]]/deb-src /p' "$f" >>"$out.list"
	done
	[ -s "$out.sources" ] || rm -f "$out.sources"
	[ -s "$out.list" ] || rm -f "$out.list"
	[ -e "$out.sources" ] || [ -e "$out.list" ] ||
		die "no Debian deb entries found to derive deb-src entries from"
}

# Debian 12 takes its arm64 packages and the xen source from the host's
# apt (arm64 added as a foreign architecture, deb-src entries derived from
# the configured mirrors); Debian 13 from a private configuration (apt.sh),
# so the host's apt only installs the host's tools.
host_setup() {
	local need_update=0 missing
	[ "$(id -u)" -eq 0 ] || die "run as root: the lab installs packages and uses apt-get"
	if ! command -v dpkg >/dev/null || ! command -v apt-get >/dev/null; then
		die "the boot lab needs a Debian (12) host with apt"
	fi
	if [ "$DEBIAN" = 12 ]; then
		if ! grep -qx arm64 <<<"$(dpkg --print-foreign-architectures)"; then
			note "adding arm64 as a foreign architecture"
			dpkg --add-architecture arm64
			need_update=1
		fi
		if ! have_deb_src; then
			note "adding deb-src entries derived from the configured mirrors"
			add_deb_src
			need_update=1
		fi
		apt_lists_ready || need_update=1
	fi
	missing=$(missing_host_packages)
	if [ "$need_update" -eq 1 ] || [ -n "$missing" ]; then
		note "apt-get update"
		logged "$LOG_DIR/apt-update.log" apt-get update ||
			die "apt-get update failed"
	fi
	if [ -n "$missing" ]; then
		note "installing host packages: $(echo "$missing" | tr '\n' ' ')"
		# shellcheck disable=SC2086
		DEBIAN_FRONTEND=noninteractive logged "$LOG_DIR/apt-install.log" \
			apt-get install -y --no-install-recommends $missing ||
			die "installing host packages failed"
	fi
	if [ "$DEBIAN" = 12 ]; then
		apt_lists_ready || die "apt knows no arm64 packages or no xen source package after apt-get update"
	fi
}
