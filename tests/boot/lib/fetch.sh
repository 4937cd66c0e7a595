# Package versions and downloads (sourced by tests/boot/run).
#
# Every artifact is first taken as the manifest pins it (pin.sh): a direct
# download checked against its SHA-256. When a pin fails (Debian point
# releases and security updates remove files from the mirror), the version
# is resolved from apt's lists instead, newest first, across every suite
# that carries the same Xen series. Everything downloaded lives in the
# cache under names that carry the version.
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

# Remember a failed download, with the files that failed, only when the
# mirror said they are not there (404): a network failure must not hide a
# version for a day.
mark_if_missing() {
	if grep -q ' 404 ' "$3" 2>/dev/null; then
		mkdir -p "$CACHE/unavailable"
		apt_failures "$3" >"$(unavailable_mark "$1" "$2")"
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

# Sets the associative array DEB[pkg]=path for arm64 packages: the pinned
# file where it downloads, else apt's candidate version. One apt-cache call
# resolves the versions and one apt-get call downloads what is missing:
# each call costs a second.
declare -A DEB=()
fetch_debs() {
	local pkg ver path sha f rest=()
	for pkg in "$@"; do
		f=
		if read -r _ ver path sha < <(pinned "${pkg//+/[+]}") &&
			fetch_pinned "$CACHE/debs" "$pkg" "$ver" "$path" "$sha"; then
			f=$PINNED_PATH
		fi
		if [ -n "$f" ]; then
			DEB[$pkg]=$f
			PINS_USED+=("$pkg=$ver")
		else
			rest+=("$pkg")
		fi
	done
	[ ${#rest[@]} -eq 0 ] && return 0
	note "resolving ${#rest[@]} package(s) from apt's lists: ${rest[*]}"
	need_apt
	fetch_candidates "${rest[@]}"
}

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
		[ -n "$ver" ] || skip_generation "apt knows no arm64 package '$pkg' in $SUITE"
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
	if ! apt_download "$CACHE/debs" "${want[@]}" 2>"$LOG_DIR/debs-download.log"; then
		cat "$LOG_DIR/debs-download.log" >&2
		if grep -q ' 404 ' "$LOG_DIR/debs-download.log"; then
			record_apt_failures "$LOG_DIR/debs-download.log" "apt-get download failed"
			skip_generation "arm64 packages the lab needs are not downloadable"
		fi
		die "apt-get download failed for: ${want[*]}"
	fi
	for pkg in "$@"; do
		[ -n "${DEB[$pkg]:-}" ] && continue
		DEB[$pkg]=$(pool_deb "$pkg" "${cand[$pkg]}")
		[ -n "${DEB[$pkg]}" ] || die "downloaded $pkg but cannot find its .deb"
	done
	for pkg in "$@"; do PINS_USED+=("$pkg=${cand[$pkg]}"); done
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

# Download source and arm64 binaries of xen version $1 into $CACHE/xen/$1
# from apt's lists. Fails (and remembers the failure for a while) when
# any part is missing; the reasons go to PIN_FAILURES. With a source of
# the user's own (XEN_SOURCE), only the binaries are fetched.
fetch_xen_version() {
	local v=$1 dir=$CACHE/xen/$1 tmp pkgs=() p log line
	have_stamp "$dir" && return 0
	if recently_unavailable xen "$v"; then
		note "xen $v: not downloadable when a run less than $UNAVAILABLE_TTL minutes ago tried it"
		while IFS= read -r line; do
			PIN_FAILURES+=("$line")
		done <"$(unavailable_mark xen "$v")"
		return 1
	fi
	note "downloading xen $v (arm64 tools${XEN_SOURCE:+; source from $XEN_SOURCE}${XEN_SOURCE:-, and source})"
	tmp=$dir.tmp
	rm -rf "$tmp"
	mkdir -p "$tmp/src" "$tmp/debs"
	log=$LOG_DIR/xen-source-$v.log
	if [ -z "$XEN_SOURCE" ] &&
		! (cd "$tmp/src" && lab_apt_get source -q --download-only "xen=$v") >"$log" 2>&1; then
		if rebuild_dsc "$v" "$tmp/src"; then
			note "xen $v: the mirror has no .dsc; written from the Sources index"
		else
			note "xen $v: source package not downloadable"
			record_apt_failures "$log" "xen $v: apt-get source failed (see $log)"
			mark_if_missing xen "$v" "$log"
			rm -rf "$tmp"
			return 1
		fi
	fi
	while read -r p; do pkgs+=("$p:arm64=$v"); done < <(xen_binaries "$v")
	[ ${#pkgs[@]} -gt 3 ] || die "cannot list the binary packages of xen $v"
	log=$LOG_DIR/xen-debs-$v.log
	if ! apt_download "$tmp/debs" "${pkgs[@]}" 2>"$log"; then
		note "xen $v: arm64 binaries not downloadable"
		record_apt_failures "$log" "xen $v: apt-get download of the arm64 binaries failed (see $log)"
		mark_if_missing xen "$v" "$log"
		rm -rf "$tmp"
		return 1
	fi
	rm -rf "$dir"
	mv "$tmp" "$dir"
	[ -n "$XEN_SOURCE" ] || set_stamp "$dir"
}

# The pinned xen version into $CACHE/xen/VERSION (source, unless the user
# gave one, then arm64 binaries), straight from the pool. Sets PINNED_XEN;
# fails when any pinned file fails (the binaries are not tried when the
# source failed: they would be of no use).
fetch_pinned_xen() {
	local name ver path sha v ok=1
	v=$(pinned 'src:xen|xen-utils-[0-9.]+' | awk '{ print $2; exit }')
	[ -n "$v" ] || return 1
	if [ -z "$XEN_SOURCE" ]; then
		while read -r name ver path sha; do
			[ "$ver" = "$v" ] || continue
			fetch_pinned "$CACHE/xen/$v/src" xen "$ver" "$path" "$sha" || ok=0
		done < <(pinned 'src:xen')
	fi
	if [ "$ok" = 1 ]; then
		while read -r name ver path sha; do
			[ "$ver" = "$v" ] || continue
			fetch_pinned "$CACHE/xen/$v/debs" "$name" "$ver" "$path" "$sha" || ok=0
		done < <(pinned 'xen-utils-[0-9.]+|xen-utils-common|xenstore-utils|libxen.*')
	fi
	if [ "$ok" = 0 ]; then
		# Nothing half: the index path starts from an empty directory.
		rm -rf "${CACHE:?}/xen/$v"
		return 1
	fi
	have_stamp "$CACHE/xen/$v" || [ -n "$XEN_SOURCE" ] || set_stamp "$CACHE/xen/$v"
	PINNED_XEN=$v
}

# Sets XEN_VERSION (Debian version) and XEN_SERIES (e.g. 4.17): the pinned
# version when all its files download, else the newest version of the
# generation's series (XEN_WANT_SERIES) whose source and arm64 tools
# download from any suite apt knows. When none does, the generation is
# skipped, naming every file that failed.
resolve_xen() {
	local v tried=()
	XEN_VERSION=
	if [ -n "${XV_LAB_XEN_VERSION:-}" ]; then
		need_apt
		fetch_xen_version "$XV_LAB_XEN_VERSION" ||
			die "xen $XV_LAB_XEN_VERSION (XV_LAB_XEN_VERSION) is not downloadable: ${PIN_FAILURES[*]}"
		XEN_VERSION=$XV_LAB_XEN_VERSION
	elif fetch_pinned_xen; then
		XEN_VERSION=$PINNED_XEN
	else
		note "the pinned xen is not downloadable; resolving xen $XEN_WANT_SERIES from apt's lists"
		need_apt
		while read -r v; do
			tried+=("$v")
			if fetch_xen_version "$v"; then
				XEN_VERSION=$v
				break
			fi
		done < <(lab_apt_cache showsrc xen | sed -n 's/^Version: //p' |
			grep -E "^([0-9]+:)?${XEN_WANT_SERIES//./\\.}\." | sort -u | sort_versions_desc)
		if [ -z "$XEN_VERSION" ] && [ "$MODE" = pin ] && [ ${#tried[@]} -gt 0 ]; then
			# --pin still records the newest listed version: its pins are
			# tried first, and work again should the mirror serve it.
			XEN_VERSION=${tried[0]}
			PIN_UNVERIFIED="xen $XEN_VERSION is listed but did not download: $(printf '%s; ' "${PIN_FAILURES[@]}")"
			XEN_SERIES=$XEN_WANT_SERIES
		fi
		[ -n "$XEN_VERSION" ] ||
			skip_generation "no xen $XEN_WANT_SERIES has both its source and arm64 binaries downloadable (pinned and indexed versions tried: ${tried[*]:-none})"
	fi
	if [ "$APT_READY" = 1 ]; then
		while read -r v; do PINS_USED+=("$v=$XEN_VERSION"); done < <(xen_binaries "$XEN_VERSION")
		PINS_USED+=("src:xen=$XEN_VERSION")
	fi
	XEN_SERIES=$(echo "$XEN_VERSION" | grep -oE '^[0-9]+\.[0-9]+')
	XEN_DIR=$CACHE/xen/$XEN_VERSION
	[ -z "${PIN_UNVERIFIED:-}" ] || return 0
	compgen -G "$XEN_DIR/debs/xen-utils-${XEN_SERIES}_*.deb" >/dev/null ||
		die "xen $XEN_VERSION: no xen-utils-$XEN_SERIES package among its binaries"
}

# Sets KERNEL_PKG, KERNEL_VERSION, KERNEL_DEB: the pinned Linux
# $KERNEL_SERIES arm64 image package, else the newest one apt knows that
# downloads. Debian 12 names them linux-image-6.1.0-<abi>-arm64, Debian 13
# linux-image-6.12.<n>+deb13[.<m>]-arm64.
resolve_kernel() {
	local name ver path sha f tried=() re
	re="linux-image-${KERNEL_SERIES//./\\.}\.[0-9]+(-[0-9]+|\+deb[0-9]+[.+0-9]*)-arm64"
	KERNEL_DEB=
	while read -r name ver path sha; do
		if fetch_pinned "$CACHE/debs" "$name" "$ver" "$path" "$sha"; then
			KERNEL_PKG=$name KERNEL_VERSION=$ver KERNEL_DEB=$PINNED_PATH
			PINS_USED+=("$name=$ver")
			return 0
		fi
	done < <(pinned "$re")
	need_apt
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
				record_apt_failures "$LOG_DIR/$name.log" "$name $ver: apt-get download failed"
				mark_if_missing "$name" "$ver" "$LOG_DIR/$name.log"
				continue
			fi
		fi
		KERNEL_PKG=$name
		KERNEL_VERSION=$ver
		KERNEL_DEB=$f
		PINS_USED+=("$name=$ver")
		break
	done < <(lab_apt_cache pkgnames "linux-image-$KERNEL_SERIES" | grep -E "^$re\$" | sort -V -r)
	[ -n "$KERNEL_DEB" ] ||
		skip_generation "no linux-image-$KERNEL_SERIES.*-arm64 package is downloadable (tried: ${tried[*]:-none})"
}
