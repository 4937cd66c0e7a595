# Pinned artifacts: the manifest tests/boot/versions names the last
# known-good file of everything the lab downloads, with its SHA-256
# (sourced by tests/boot/run).
#
# A pinned file is fetched straight from the mirror's pool and checked
# against its SHA-256; apt's indexes are consulted only when that fails
# (the file left the mirror at a point release, or never was there), so a
# run whose pins all download needs no index at all. Every failure is
# remembered with its reason ("FILE: HTTP 404"), which a skipped
# generation prints.
# shellcheck shell=bash

MANIFEST=${XV_LAB_MANIFEST:-$LAB_DIR/versions}

# Reasons pinned or indexed downloads failed, one per entry.
declare -a PIN_FAILURES=()
# "name=version" ("src:name=version" for a source package) of what the run
# resolved, for --pin.
declare -a PINS_USED=()

# The mirror's URIs: MIRROR_MAIN (.../debian) and MIRROR_SECURITY
# (.../debian-security), from the host's own Debian entries unless the
# environment names them.
lab_mirrors() {
	local main sec
	read -r main sec < <(host_debian_mirrors)
	MIRROR_MAIN=${XV_LAB_MIRROR:-${main:-http://deb.debian.org/debian}}
	MIRROR_SECURITY=${XV_LAB_SECURITY_MIRROR:-${sec:-${MIRROR_MAIN%/debian}/debian-security}}
	MIRROR_MAIN=${MIRROR_MAIN%/}
	MIRROR_SECURITY=${MIRROR_SECURITY%/}
}

# The manifest lines of this generation ("*" lines belong to all) whose
# name matches the extended regular expression $1:
# "name version archive:path sha256".
pinned() {
	[ -f "$MANIFEST" ] || return 0
	# The expression through the environment: awk -v would eat its "\".
	PIN_RE="^($1)\$" awk -v g="$DEBIAN" '
		/^[[:space:]]*(#|$)/ { next }
		($1 == g || $1 == "*") && $2 ~ ENVIRON["PIN_RE"] { print $2, $3, $4, $5 }' "$MANIFEST"
}

# archive:path -> URL on the mirror.
pin_url() {
	case $1 in
	main:*) echo "$MIRROR_MAIN/${1#main:}" ;;
	security:*) echo "$MIRROR_SECURITY/${1#security:}" ;;
	*) return 1 ;;
	esac
}

# The local name of a pinned file: a .deb as apt names it (package,
# version with the epoch's colon as %3a, architecture), anything else by
# its decoded pool name.
pin_file_name() {
	local name=$1 ver=$2 base=${3##*/}
	base=$(printf '%b' "${base//%/\\x}")
	case $base in
	*.deb) echo "${name}_$(deb_file_version "$ver")_${base##*_}" ;;
	*) echo "$base" ;;
	esac
}

# download_verified URL DEST SHA256: DEST appears only with the right
# contents. On failure prints the reason ("HTTP 404", "checksum mismatch",
# "curl: ...") on stdout and returns 1.
download_verified() {
	local url=$1 dest=$2 want=$3 tmp code got
	tmp=$dest.part
	mkdir -p "${dest%/*}"
	code=$(curl -sS -L --retry 2 --connect-timeout 20 -o "$tmp" -w '%{http_code}' "$url" 2>"$tmp.err") || {
		if [ -n "$code" ] && [ "$code" != 000 ]; then
			echo "HTTP $code"
		else
			echo "curl: $(head -n 1 "$tmp.err")"
		fi
		rm -f "$tmp" "$tmp.err"
		return 1
	}
	rm -f "$tmp.err"
	if [ "$code" != 200 ] && [ "$code" != 000 ]; then
		echo "HTTP $code"
		rm -f "$tmp"
		return 1
	fi
	got=$(sha256sum "$tmp" | cut -d' ' -f1)
	if [ "$got" != "$want" ]; then
		echo "checksum mismatch (sha256 $got, the manifest says $want)"
		rm -f "$tmp"
		return 1
	fi
	mv "$tmp" "$dest"
}

# fetch_pinned DIR NAME VERSION ARCHIVE:PATH SHA256: the pinned file in DIR
# (downloaded once), its path in PINNED_PATH; on failure records the
# reason. (Not for $(...): the reasons would stay in the subshell.)
fetch_pinned() {
	local dir=$1 name=$2 ver=$3 path=$4 sha=$5 dest url why
	dest=$dir/$(pin_file_name "$name" "$ver" "$path")
	PINNED_PATH=$dest
	[ -s "$dest" ] && return 0
	url=$(pin_url "$path") || {
		PIN_FAILURES+=("${path##*/}: the manifest names no archive (main: or security:)")
		return 1
	}
	why=$(download_verified "$url" "$dest" "$sha") && return 0
	PIN_FAILURES+=("$(pin_file_name "$name" "$ver" "$path"): $why ($url)")
	return 1
}

# The first reasons apt gave for failed downloads in log $1, as
# "FILE: HTTP 404 Not Found".
apt_failures() {
	sed -n 's/^E: Failed to fetch \([^ ]*\)  *\([0-9][0-9][0-9]\)  *\([^[]*\).*/\1 \2 \3/p' "$1" 2>/dev/null |
		while read -r url code text; do
			printf '%s: HTTP %s %s (%s)\n' "$(printf '%b' "$(basename "${url//%/\\x}")")" "$code" "${text% }" "$url"
		done
}

# Record the failures of apt log $1 (or, when it names none, $2).
record_apt_failures() {
	local line n=0
	while IFS= read -r line; do
		PIN_FAILURES+=("$line")
		n=$((n + 1))
	done < <(apt_failures "$1")
	[ "$n" -gt 0 ] || PIN_FAILURES+=("$2")
}

# ------------------------------------------------------------- --pin mode

# Manifest lines for what this run uses, for tests/boot/versions: apt's
# own URIs and SHA-256 of the given "pkg=version" (binary, arm64 or all)
# or "src:pkg=version" entries.
print_pins() {
	local e name ver uri sha
	for e in "$@"; do
		name=${e%%=*}
		ver=${e#*=}
		case $name in
		src:*) lab_apt_get source --print-uris -qq "${name#src:}=$ver" 2>/dev/null ;;
		*) lab_apt_get download --print-uris -qq "$name=$ver" 2>/dev/null ;;
		esac | while read -r uri _ _ sha; do
			uri=${uri//\'/}
			case $uri in
			"$MIRROR_SECURITY"/*) uri=security:${uri#"$MIRROR_SECURITY"/} ;;
			"$MIRROR_MAIN"/*) uri=main:${uri#"$MIRROR_MAIN"/} ;;
			esac
			printf '%s %s %s %s %s\n' "$DEBIAN" "${name%:arm64}" "$ver" "$uri" "${sha#SHA256:}"
		done
	done
}
