# The apt configuration that resolves and downloads the lab's arm64
# packages when a pin of tests/boot/versions fails (sourced by
# tests/boot/run).
#
# Both generations use a private configuration kept in the cache, set up
# only when needed: its own sources list (the generation's release for
# arm64 and its sources, plus the suites that may carry the same Xen series
# later: backports and, for a release's first series, the next releases),
# preferences, lists, state and archive cache. The host's apt never learns
# of any of it. The mirror is the one the host's own Debian entries name
# (or XV_LAB_MIRROR), so the lab reaches whatever the host's apt reaches.
# shellcheck shell=bash

# Options every apt-get and apt-cache call of the lab passes; empty for the
# host's own configuration.
APT_OPTS=()

# How old (minutes) the private lists may get before a run refreshes them:
# point releases and security updates replace versions on the mirror.
PRIVATE_APT_TTL=720

lab_apt_get() {
	apt-get "${APT_OPTS[@]}" "$@"
}

lab_apt_cache() {
	apt-cache "${APT_OPTS[@]}" "$@"
}

# True when apt's lists know the arm64 packages and the xen source package.
apt_lists_ready() {
	lab_apt_cache show busybox-static:arm64 >/dev/null 2>&1 &&
		grep -q '^Version:' <<<"$(lab_apt_cache showsrc xen 2>/dev/null)"
}

# "MAIN SECURITY": the repository URIs of the host's Debian entries for its
# own release (one-line and deb822 sources alike; SECURITY may be empty).
# Third-party repositories never name a Debian suite, so they drop out.
host_debian_mirrors() {
	local codename
	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	# shellcheck disable=SC2016 # apt expands $(...) in --format itself
	apt-get indextargets --no-release-info --format '$(REPO_URI) $(RELEASE)' \
		'Created-By: Packages' 2>/dev/null |
		awk -v c="$codename" '
		$2 == c || $2 == "stable" || $2 == "oldstable" { if (!main) main = $1 }
		$2 == c "-security" || $2 ~ /^(old)?stable-security$/ { if (!sec) sec = $1 }
		END { print main, sec }'
}

# Suites besides a release's own that may carry its Xen series once the
# release's files are gone: its backports and, for trixie (whose series,
# 4.20, testing and unstable still carry), the next releases. apt takes
# nothing from them unless asked for an exact version (priority 1).
extra_suites() {
	case $1 in
	bookworm) echo bookworm-backports ;;
	trixie) echo trixie-backports forky sid ;;
	esac
}

# The private sources list for suite $1 from the mirrors $2 (main archive)
# and $3 (security archive, may be empty): arm64 packages and sources.
# XV_LAB_APT_TRUSTED=1 (the fetch tests' unsigned fake mirror) trusts the
# mirror without a signature.
private_sources() {
	local suite=$1 main=${2%/} sec=${3%/} key=/usr/share/keyrings/debian-archive-keyring.gpg s
	local bin="[arch=arm64]" src=
	if [ "${XV_LAB_APT_TRUSTED:-0}" = 1 ]; then
		bin="[arch=arm64 trusted=yes]"
		src="[trusted=yes] "
	elif [ -f "$key" ]; then
		bin="[arch=arm64 signed-by=$key]"
		src="[signed-by=$key] "
	fi
	for s in "$suite" "$suite-updates" $(extra_suites "$suite"); do
		echo "deb $bin $main $s main"
		echo "deb-src $src$main $s main"
	done
	if [ -n "$sec" ]; then
		echo "deb $bin $sec $suite-security main"
		echo "deb-src $src$sec $suite-security main"
	fi
}

# apt preferences: the extra suites only on request.
private_preferences() {
	local s
	for s in $(extra_suites "$1"); do
		printf 'Package: *\nPin: release n=%s\nPin-Priority: 1\n\n' "$s"
	done
}

# Set up the private configuration of the generation's suite once, when
# apt's lists are first needed.
APT_READY=0
need_apt() {
	[ "$APT_READY" = 1 ] && return 0
	private_apt_setup "$SUITE" "$CACHE/apt"
	APT_READY=1
}

# Point APT_OPTS at a private configuration for Debian suite $1 in
# directory $2, and bring its lists up to date when they are missing,
# stale or for other sources.
private_apt_setup() {
	local suite=$1 dir=$2 list
	list=$(private_sources "$suite" "$MIRROR_MAIN" "$MIRROR_SECURITY")
	mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" "$dir/sources.list.d" "$dir/preferences.d"
	[ -e "$dir/status" ] || : >"$dir/status"
	if [ "$list" != "$(cat "$dir/sources.list" 2>/dev/null)" ]; then
		printf '%s\n' "$list" >"$dir/sources.list"
		rm -f "$dir/.updated"
	fi
	private_preferences "$suite" >"$dir/preferences"
	# Dir::State::status: an empty dpkg database, so that nothing installed
	# on the host (amd64, Debian 12) takes part in resolving versions.
	APT_OPTS=(-o "Dir::Etc::SourceList=$dir/sources.list"
		-o "Dir::Etc::SourceParts=$dir/sources.list.d"
		-o "Dir::State=$dir" -o "Dir::State::Lists=$dir/lists"
		-o "Dir::State::status=$dir/status" -o "Dir::Cache=$dir/cache"
		-o "Dir::Etc::Preferences=$dir/preferences"
		-o "Dir::Etc::PreferencesParts=$dir/preferences.d"
		-o APT::Architecture=arm64 -o APT::Architectures=arm64)
	if [ ! -e "$dir/.updated" ] || [ -n "$(find "$dir/.updated" -mmin +"$PRIVATE_APT_TTL")" ] ||
		! apt_lists_ready; then
		note "apt-get update (private $suite configuration, mirror $MIRROR_MAIN)"
		logged "$LOG_DIR/apt-update-$suite.log" lab_apt_get update ||
			die "apt-get update of the private $suite configuration failed"
		touch "$dir/.updated"
	fi
	apt_lists_ready || die "the $suite lists know no arm64 busybox-static or no xen source package"
}
