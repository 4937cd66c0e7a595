# Package versions and downloads (sourced by tests/boot/run).
#
# Versions are resolved from apt's lists on every run: Debian point releases
# and security updates replace package versions on the mirror, so a version
# written down here would stop being downloadable. Everything downloaded
# lives in the cache under names that carry the version.
# shellcheck shell=bash

# How long a version that failed to download is not tried again (minutes):
# a security suite may list a source package the mirror does not serve.
UNAVAILABLE_TTL=1440

# Sort Debian version strings (stdin, one a line) newest first, by dpkg's
# own rules (sort -V gets epochs and "~" wrong).
sort_versions_desc() {
	local v i sorted=()
	while read -r v; do
		[ -n "$v" ] || continue
		i=${#sorted[@]}
		while [ "$i" -gt 0 ] && dpkg --compare-versions "$v" gt "${sorted[i - 1]}"; do
			sorted[i]=${sorted[i - 1]}
			i=$((i - 1))
		done
		sorted[i]=$v
	done
	[ ${#sorted[@]} -eq 0 ] || printf '%s\n' "${sorted[@]}"
}

# The candidate version apt would install of an arm64 package, or nothing.
candidate_version() {
	lab_apt_cache policy "$1:arm64" 2>/dev/null | sed -n 's/^ *Candidate: //p' | grep -v '^(none)$' || true
}

unavailable_mark() {
	echo "$CACHE/unavailable/$1=$2"
}

recently_unavailable() {
	local m
	m=$(unavailable_mark "$1" "$2")
	[ -e "$m" ] && [ -z "$(find "$m" -mmin +"$UNAVAILABLE_TTL" 2>/dev/null)" ]
}

mark_unavailable() {
	mkdir -p "$CACHE/unavailable"
	touch "$(unavailable_mark "$1" "$2")"
}

# Remember a failed download only when the mirror said the files are not
# there (404): a network failure must not hide a version for a day.
mark_if_missing() {
	if grep -q ' 404 ' "$3" 2>/dev/null; then
		mark_unavailable "$1" "$2"
	fi
}

# apt-get download into a directory. Its output goes to a log file, which
# is repeated on stderr when it fails (callers may capture that).
apt_download() {
	local dir=$1 log
	shift
	log="$LOG_DIR/download-$(date +%s%N).log"
	(cd "$dir" && lab_apt_get download -q "$@") >"$log" 2>&1 || { cat "$log" >&2; return 1; }
}

# The .deb of a package at a version in the shared pool, or nothing.
pool_deb() {
	local f
	for f in "$CACHE/debs/${1}_$(deb_file_version "$2")_"*.deb; do
		[ -e "$f" ] && echo "$f" && return 0
	done
	return 0
}

# The .deb of an arm64 package at a version, downloading it into the shared
# pool when it is not there yet. Prints the file's path.
deb_path() {
	local pkg=$1 ver=$2 f
	f=$(pool_deb "$pkg" "$ver")
	if [ -z "$f" ]; then
		mkdir -p "$CACHE/debs"
		apt_download "$CACHE/debs" "$pkg:arm64=$ver" || return 1
		f=$(pool_deb "$pkg" "$ver")
	fi
	[ -n "$f" ] && echo "$f"
}

# Download (once) the candidate versions of arm64 packages; sets the
# associative array DEB[pkg]=path. One apt-cache call resolves all versions
# and one apt-get call downloads what is missing: each call costs a second.
declare -A DEB=()
fetch_candidates() {
	local pkg ver want=() f
	local -A cand=()
	while read -r pkg ver; do
		cand[$pkg]=$ver
	done < <(lab_apt_cache policy "${@/%/:arm64}" 2>/dev/null | awk '
		/^[^ ]/ { sub(/:arm64:$/, ""); sub(/:$/, ""); p = $0 }
		/^ *Candidate:/ && $2 != "(none)" { print p, $2 }')
	for pkg in "$@"; do
		ver=${cand[$pkg]:-}
		[ -n "$ver" ] || die "apt knows no arm64 package '$pkg'"
		f=$(pool_deb "$pkg" "$ver")
		if [ -n "$f" ]; then
			DEB[$pkg]=$f
		else
			want+=("$pkg:arm64=$ver")
		fi
	done
	[ ${#want[@]} -gt 0 ] || return 0
	note "downloading ${#want[@]} arm64 package(s)"
	mkdir -p "$CACHE/debs"
	apt_download "$CACHE/debs" "${want[@]}" ||
		die "apt-get download failed for: ${want[*]}"
	for pkg in "$@"; do
		[ -n "${DEB[$pkg]:-}" ] && continue
		DEB[$pkg]=$(pool_deb "$pkg" "${cand[$pkg]}")
		[ -n "${DEB[$pkg]}" ] || die "downloaded $pkg but cannot find its .deb"
	done
}

# The arm64 binary packages of source package xen at version $1 that the
# lab needs: tools, xenstore client, libraries and headers.
xen_binaries() {
	lab_apt_cache showsrc xen | awk -v v="$1" '
		/^Package:/ { bin = "" }
		/^Binary:/ { bin = $0 }
		/^Version:/ && $2 == v { print bin; exit }' |
		sed 's/^Binary: //; s/, */\n/g' |
		grep -E '^(xen-utils-[0-9.]+|xen-utils-common|xenstore-utils|libxen.*)$' |
		grep -v -- '-dbg$'
}

# The Sources index entry of xen version $1.
xen_source_entry() {
	lab_apt_cache showsrc xen | awk -v RS= -v v="$1" 'index($0 "\n", "\nVersion: " v "\n") { print; exit }'
}

# A mirror may serve a source package's tarballs but not its .dsc. The
# Sources index carries the .dsc's fields with every file's checksums:
# write an (unsigned) .dsc from it into directory $2 when every other file
# of xen version $1 is there. dpkg-source -x verifies the checksums.
rebuild_dsc() {
	local v=$1 dir=$2 entry f
	entry=$(xen_source_entry "$v")
	[ -n "$entry" ] || return 1
	for f in $(awk '/^[^ ]/ { files = /^Files:/ } files && /^ / { print $3 }' <<<"$entry"); do
		case $f in
		*.dsc) ;;
		*) [ -s "$dir/$f" ] || return 1 ;;
		esac
	done
	f=$(awk '/^[^ ]/ { files = /^Files:/ } files && /^ / && $3 ~ /\.dsc$/ { print $3 }' <<<"$entry")
	[ -n "$f" ] || return 1
	awk '
		/^[^ ]/ { keep = 0 }
		/^Package:/ { print "Source: " $2 }
		/^(Format|Binary|Architecture|Version|Files|Checksums-Sha256):/ { keep = 1; print; next }
		/^ / && keep && $NF !~ /\.dsc$/ { print }' <<<"$entry" >"$dir/$f"
}

# Download source and arm64 binaries of xen version $1 into $CACHE/xen/$1.
# Fails (and remembers the failure for a while) when any part is missing.
fetch_xen_version() {
	local v=$1 dir=$CACHE/xen/$1 tmp pkgs=() p
	have_stamp "$dir" && return 0
	recently_unavailable xen "$v" && return 1
	note "downloading xen $v (source and arm64 tools)"
	tmp=$dir.tmp
	rm -rf "$tmp"
	mkdir -p "$tmp/src" "$tmp/debs"
	if ! (cd "$tmp/src" && lab_apt_get source -q --download-only "xen=$v") >"$LOG_DIR/xen-source-$v.log" 2>&1; then
		if rebuild_dsc "$v" "$tmp/src"; then
			note "xen $v: the mirror has no .dsc; written from the Sources index"
		else
			note "xen $v: source package not downloadable"
			mark_if_missing xen "$v" "$LOG_DIR/xen-source-$v.log"
			rm -rf "$tmp"
			return 1
		fi
	fi
	while read -r p; do pkgs+=("$p:arm64=$v"); done < <(xen_binaries "$v")
	[ ${#pkgs[@]} -gt 3 ] || die "cannot list the binary packages of xen $v"
	if ! apt_download "$tmp/debs" "${pkgs[@]}" 2>"$LOG_DIR/xen-debs-$v.log"; then
		note "xen $v: arm64 binaries not downloadable"
		mark_if_missing xen "$v" "$LOG_DIR/xen-debs-$v.log"
		rm -rf "$tmp"
		return 1
	fi
	rm -rf "$dir"
	mv "$tmp" "$dir"
	set_stamp "$dir"
}

# Sets XEN_VERSION (Debian version) and XEN_SERIES (e.g. 4.17): the newest
# xen source version whose source and arm64 tools both download.
resolve_xen() {
	local v tried=()
	if [ -n "${XV_LAB_XEN_VERSION:-}" ]; then
		fetch_xen_version "$XV_LAB_XEN_VERSION" ||
			die "xen $XV_LAB_XEN_VERSION (XV_LAB_XEN_VERSION) is not downloadable (source and arm64 binaries)"
		XEN_VERSION=$XV_LAB_XEN_VERSION
	else
		XEN_VERSION=
		while read -r v; do
			tried+=("$v")
			if fetch_xen_version "$v"; then
				XEN_VERSION=$v
				break
			fi
		done < <(lab_apt_cache showsrc xen | sed -n 's/^Version: //p' | sort_versions_desc)
		[ -n "$XEN_VERSION" ] ||
			die "no xen version has both its source and arm64 binaries downloadable (tried: ${tried[*]:-none}; failures are retried after $UNAVAILABLE_TTL minutes, or remove $CACHE/unavailable)"
	fi
	XEN_SERIES=$(echo "$XEN_VERSION" | grep -oE '^[0-9]+\.[0-9]+')
	XEN_DIR=$CACHE/xen/$XEN_VERSION
	compgen -G "$XEN_DIR/debs/xen-utils-${XEN_SERIES}_*.deb" >/dev/null ||
		die "xen $XEN_VERSION: no xen-utils-$XEN_SERIES package among its binaries"
}

# Sets KERNEL_PKG, KERNEL_VERSION, KERNEL_DEB: the newest Linux
# $KERNEL_SERIES arm64 image package that downloads. Debian 12 names them
# linux-image-6.1.0-<abi>-arm64, Debian 13 linux-image-6.12.<n>+deb13[.<m>]-arm64.
resolve_kernel() {
	local name ver f tried=()
	KERNEL_DEB=
	while read -r name; do
		ver=$(candidate_version "$name")
		[ -n "$ver" ] || continue
		tried+=("$name=$ver")
		recently_unavailable "$name" "$ver" && continue
		f=$(pool_deb "$name" "$ver")
		if [ -z "$f" ]; then
			note "downloading $name $ver"
			if ! f=$(deb_path "$name" "$ver" 2>"$LOG_DIR/$name.log"); then
				note "$name $ver is not downloadable, trying an older one"
				mark_if_missing "$name" "$ver" "$LOG_DIR/$name.log"
				continue
			fi
		fi
		KERNEL_PKG=$name
		KERNEL_VERSION=$ver
		KERNEL_DEB=$f
		break
	done < <(lab_apt_cache pkgnames "linux-image-$KERNEL_SERIES" |
		grep -E "^linux-image-${KERNEL_SERIES//./\\.}\.[0-9]+(-[0-9]+|\+deb[0-9]+[.+0-9]*)-arm64$" | sort -V -r)
	[ -n "$KERNEL_DEB" ] ||
		die "no linux-image-$KERNEL_SERIES.*-arm64 package is downloadable (tried: ${tried[*]:-none})"
}
