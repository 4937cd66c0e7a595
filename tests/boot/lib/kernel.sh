# The lab-built Linux (--kernel lab; sourced by tests/boot/run): Debian's
# linux-source-6.12 cross-built for arm64 with the options Debian leaves
# off and the project needs (tests/boot/kernel.config). One kernel serves
# Dom0 and the guests, everything built in. It is kept per source version,
# configuration fragment and compiler, for every generation alike.
#
# The configuration starts from allnoconfig, not from Debian's: Debian's
# arm64 configuration builds thousands of modules, hours on two cores,
# where the lab needs a few dozen drivers. Every line of the fragment must
# survive olddefconfig, or the build stops and names the line.
# shellcheck shell=bash

LAB_KERNEL_SOURCE=linux-source-6.12
# The suite whose lists carry it, when its pin no longer downloads.
LAB_KERNEL_SUITE=trixie
LAB_KERNEL_FRAGMENT=$LAB_DIR/kernel.config

# Sets LAB_KERNEL_DEB and LAB_KERNEL_SRC_VERSION: the pinned source
# package, else the newest one of $LAB_KERNEL_SUITE's lists.
resolve_kernel_source() {
	local name ver path sha dir=$CACHE_ROOT/lab-kernel
	if read -r name ver path sha < <(pinned "$LAB_KERNEL_SOURCE") &&
		fetch_pinned "$dir/src" "$name" "$ver" "$path" "$sha"; then
		LAB_KERNEL_DEB=$PINNED_PATH
		LAB_KERNEL_SRC_VERSION=$ver
		PINS_USED+=("$LAB_KERNEL_SOURCE=$ver")
		return 0
	fi
	note "the pinned $LAB_KERNEL_SOURCE is not downloadable; resolving it from $LAB_KERNEL_SUITE's lists"
	local saved=("${APT_OPTS[@]}")
	private_apt_setup "$LAB_KERNEL_SUITE" "$dir/apt"
	ver=$(lab_apt_cache policy "$LAB_KERNEL_SOURCE" 2>/dev/null | sed -n 's/^ *Candidate: //p' | grep -v '^(none)$' || true)
	if [ -z "$ver" ]; then
		APT_OPTS=("${saved[@]}")
		skip_generation "no $LAB_KERNEL_SOURCE in the $LAB_KERNEL_SUITE lists for the lab-built kernel"
	fi
	mkdir -p "$dir/src"
	if ! apt_download "$dir/src" "$LAB_KERNEL_SOURCE=$ver" 2>"$LOG_DIR/kernel-source.log"; then
		record_apt_failures "$LOG_DIR/kernel-source.log" "$LAB_KERNEL_SOURCE $ver: apt-get download failed"
		APT_OPTS=("${saved[@]}")
		skip_generation "the source of the lab-built kernel is not downloadable"
	fi
	APT_OPTS=("${saved[@]}")
	LAB_KERNEL_DEB=$(compgen -G "$dir/src/${LAB_KERNEL_SOURCE}_$(deb_file_version "$ver")_*.deb" | head -n 1)
	LAB_KERNEL_SRC_VERSION=$ver
	PINS_USED+=("$LAB_KERNEL_SOURCE=$ver")
}

# Every "CONFIG_X=v" / "# CONFIG_X is not set" line of the fragment holds
# in .config $1; prints the ones that do not.
fragment_missing() {
	local line sym
	while IFS= read -r line; do
		case $line in
		"# CONFIG_"*" is not set")
			sym=${line#\# }
			sym=${sym%% *}
			! grep -q "^$sym=" "$1" || echo "$line"
			;;
		"#"* | "") ;;
		*) grep -qxF "$line" "$1" || echo "$line" ;;
		esac
	done <"$LAB_KERNEL_FRAGMENT"
}

# Sets KERNEL_ROOT, KERNEL_PKG, KERNEL_VERSION, KERNEL_DEB and
# KERNEL_CACHE_DIR for the lab-built kernel, building it when the cache
# has none for this source, fragment and compiler.
build_lab_kernel() {
	local key dir src obj m missing
	key=$( ( echo "${LAB_KERNEL_DEB##*/}"; cat "$LAB_KERNEL_FRAGMENT"; $CROSS-gcc --version | head -n 1
		declare -f build_lab_kernel) | short_hash)
	dir=$CACHE_ROOT/lab-kernel/$key
	KERNEL_PKG=linux-xvlab
	KERNEL_VERSION=$LAB_KERNEL_SRC_VERSION
	KERNEL_DEB=$LAB_KERNEL_DEB
	KERNEL_CACHE_DIR=$dir
	KERNEL_ROOT=$dir/root
	if ! have_stamp "$dir"; then
		note "building Linux $LAB_KERNEL_SRC_VERSION for arm64 with tests/boot/kernel.config (several minutes)"
		rm -rf "$dir"
		src=$dir/src
		obj=$dir/obj
		mkdir -p "$src" "$obj"
		dpkg-deb --fsys-tarfile "$LAB_KERNEL_DEB" |
			tar -xO --wildcards './usr/src/linux-source-*.tar.xz' | xz -dc -T0 | tar -x -C "$src" --strip-components=1 ||
			die "unpacking $LAB_KERNEL_DEB failed"
		m=(-C "$src" O="$obj" ARCH=arm64 "CROSS_COMPILE=$CROSS-" LOCALVERSION=)
		logged "$LOG_DIR/kernel-config.log" make "${m[@]}" allnoconfig || die "allnoconfig failed"
		logged "$LOG_DIR/kernel-config.log" "$src/scripts/kconfig/merge_config.sh" -m -O "$obj" \
			"$obj/.config" "$LAB_KERNEL_FRAGMENT" || die "merging tests/boot/kernel.config failed"
		logged "$LOG_DIR/kernel-config.log" make "${m[@]}" olddefconfig || die "olddefconfig failed"
		missing=$(fragment_missing "$obj/.config")
		[ -z "$missing" ] ||
			die "tests/boot/kernel.config lines Linux $LAB_KERNEL_SRC_VERSION does not take (a dependency is off): $(echo "$missing" | tr '\n' ' ')"
		logged "$LOG_DIR/kernel-build.log" make "${m[@]}" -j"$JOBS" Image modules ||
			die "building the lab kernel failed"
		logged "$LOG_DIR/kernel-build.log" make "${m[@]}" INSTALL_MOD_PATH="$KERNEL_ROOT" \
			DEPMOD=/sbin/depmod modules_install || die "installing the lab kernel's modules failed"
		KERNEL_RELEASE=$(cat "$obj/include/config/kernel.release")
		mkdir -p "$KERNEL_ROOT/boot"
		cp "$obj/arch/arm64/boot/Image" "$KERNEL_ROOT/boot/vmlinuz-$KERNEL_RELEASE"
		cp "$obj/.config" "$KERNEL_ROOT/boot/config-$KERNEL_RELEASE"
		# The trees take gigabytes; the image and the module lists stay.
		rm -rf "$src" "$obj"
		set_stamp "$dir"
	fi
	# Other keys are older builds.
	for src in "$CACHE_ROOT"/lab-kernel/*/; do
		src=${src%/}
		case $src in "$dir" | */src | */apt) ;; *) rm -rf "$src" ;; esac
	done
	for src in "$CACHE_ROOT"/lab-kernel/src/*.deb; do
		[ "$src" = "$LAB_KERNEL_DEB" ] || rm -f "$src"
	done
}
