# The apt configuration that resolves and downloads the lab's arm64
# packages (sourced by tests/boot/run).
#
# Debian 12, the host's own release, comes through the host's apt as it is.
# Debian 13 comes through a private configuration kept in the cache: its own
# sources list (trixie for arm64, and its sources), lists, state and archive
# cache. The host's apt never learns of trixie, so nothing on the host can be
# upgraded to it. The mirror is the one the host's own Debian entries name,
# so the lab reaches whatever the host's apt reaches.
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

# The private sources list for suite $1 from the mirrors $2 (main archive)
# and $3 (security archive, may be empty): arm64 packages and sources.
private_sources() {
	local suite=$1 main=${2%/} sec=${3%/} key=/usr/share/keyrings/debian-archive-keyring.gpg
	local bin="[arch=arm64]" src=
	if [ -f "$key" ]; then
		bin="[arch=arm64 signed-by=$key]"
		src="[signed-by=$key] "
	fi
	echo "deb $bin $main $suite main"
	echo "deb $bin $main $suite-updates main"
	echo "deb-src $src$main $suite main"
	if [ -n "$sec" ]; then
		echo "deb $bin $sec $suite-security main"
		echo "deb-src $src$sec $suite-security main"
	fi
}

# Point APT_OPTS at a private configuration for Debian suite $1 in
# $CACHE/apt, and bring its lists up to date when they are missing, stale
# or for other sources.
private_apt_setup() {
	local suite=$1 dir=$CACHE/apt main sec list
	read -r main sec < <(host_debian_mirrors)
	[ -n "$main" ] ||
		die "no Debian entry for this host's release in its apt sources: cannot tell which mirror serves $suite"
	list=$(private_sources "$suite" "$main" "$sec")
	mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" "$dir/sources.list.d"
	[ -e "$dir/status" ] || : >"$dir/status"
	if [ "$list" != "$(cat "$dir/sources.list" 2>/dev/null)" ]; then
		printf '%s\n' "$list" >"$dir/sources.list"
		rm -f "$dir/.updated"
	fi
	# Dir::State::status: an empty dpkg database, so that nothing installed
	# on the host (amd64, Debian 12) takes part in resolving versions.
	APT_OPTS=(-o "Dir::Etc::SourceList=$dir/sources.list"
		-o "Dir::Etc::SourceParts=$dir/sources.list.d"
		-o "Dir::State=$dir" -o "Dir::State::Lists=$dir/lists"
		-o "Dir::State::status=$dir/status" -o "Dir::Cache=$dir/cache"
		-o APT::Architecture=arm64 -o APT::Architectures=arm64)
	if [ ! -e "$dir/.updated" ] || [ -n "$(find "$dir/.updated" -mmin +"$PRIVATE_APT_TTL")" ] ||
		! apt_lists_ready; then
		note "apt-get update (private $suite configuration, mirror ${main%/})"
		logged "$LOG_DIR/apt-update-$suite.log" lab_apt_get update ||
			die "apt-get update of the private $suite configuration failed"
		touch "$dir/.updated"
	fi
	apt_lists_ready || die "the $suite lists know no arm64 busybox-static or no xen source package"
}
