# Builds: hypervisor, kernel modules, cross sysroot, xen-virtio for arm64,
# the xv-pattern tool and the initramfs images (sourced by tests/boot/run).
# shellcheck shell=bash

CROSS=aarch64-linux-gnu

# Kernel modules each domain loads (names as modprobe spells them; their
# dependencies are added from modules.dep, built-ins are skipped).
# xen-blkback and xen-blkfront: the benchmark's PV disk (--bench).
DOM0_MODULES=(xen-evtchn xen-privcmd xenfs xen-gntdev xen-gntalloc loop xen-blkback)
# ext4 checksums its metadata with the "crc32c" crypto driver, which it
# asks for by name (no modules.dep entry): crc32c_generic comes first.
DOMU_MODULES=(virtio_mmio virtio_blk virtio-rng virtio_console crc32c_generic ext4 xen-blkfront)

# arm64 packages besides Xen's own that the domains' userspace needs.
# e2fsprogs: the DomU makes an ext4 file system with mke2fs (busybox has
# none), Dom0 checks the image with e2fsck once the guest is gone. libe2p
# is part of libext2fs2 (Debian 13: libext2fs2t64, after the 64-bit time_t
# transition).
if [ "$DEBIAN" = 12 ]; then
	E2FS_DEBS=(e2fsprogs libext2fs2 libcom-err2 libblkid1 libuuid1 libc6)
else
	E2FS_DEBS=(e2fsprogs libext2fs2t64 libcom-err2 libblkid1 libuuid1 libc6)
fi
DOM0_DEBS=(busybox-static libc6 libgcc-s1 libfdt1 libuuid1 libyajl2 zlib1g liburing2 libseccomp2 "${E2FS_DEBS[@]}")
DOMU_DEBS=(busybox-static "${E2FS_DEBS[@]}")
SYSROOT_DEBS=(libfdt-dev libfdt1 liburing-dev liburing2 libyajl-dev libyajl2
	libseccomp-dev libseccomp2)

# Debian 12's arm64 libraries link against the cross toolchain's own glibc
# (2.36, the same release). Debian 13's need a newer one (symbols of
# GLIBC_2.38 and later): its sysroot carries its own glibc and kernel
# headers, and the compiler is pointed at them (see daemon_cc). Its packages
# install under /usr only and rely on the merged-/usr links (/bin, /sbin,
# /lib) that a real system has: the lab's root file systems make them.
if [ "$DEBIAN" = 12 ]; then
	SYSROOT_LIBC=0
	MERGED_USR=0
else
	SYSROOT_LIBC=1
	MERGED_USR=1
	SYSROOT_DEBS+=(libc6 libc6-dev linux-libc-dev)
fi

# The Xen options the lab needs on top of Debian's configuration: ioreq
# servers on Arm are behind EXPERT (4.17) or UNSUPPORTED (later releases).
XEN_KCONFIG='CONFIG_EXPERT=y
CONFIG_UNSUPPORTED=y
CONFIG_IOREQ_SERVER=y
CONFIG_DEBUG=n'

short_hash() {
	md5sum | cut -c1-10
}

# ---------------------------------------------------------------- hypervisor

# Unpack the user's Xen source (--xen-source: a tree, a tarball or a .dsc)
# into directory $1, once per file (a tree is copied over on every run,
# so that make sees its changes). Its series must be the generation's:
# Debian's tools of that series run in the domains.
user_xen_tree() {
	local tree=$1 major minor
	if [ -d "$XEN_SOURCE" ]; then
		mkdir -p "$tree"
		cp -a "$XEN_SOURCE/." "$tree/"
	elif ! have_stamp "$tree"; then
		rm -rf "$tree"
		mkdir -p "$tree"
		case $XEN_SOURCE in
		*.dsc) logged "$LOG_DIR/xen-unpack.log" dpkg-source -x "$XEN_SOURCE" "$tree.x" &&
			rm -rf "$tree" && mv "$tree.x" "$tree" ;;
		*) logged "$LOG_DIR/xen-unpack.log" tar -xf "$XEN_SOURCE" -C "$tree" --strip-components=1 ;;
		esac || die "cannot unpack --xen-source $XEN_SOURCE"
		set_stamp "$tree"
	fi
	[ -f "$tree/xen/Makefile" ] || die "--xen-source $XEN_SOURCE has no xen/Makefile: not a Xen source"
	major=$(sed -n 's/^export XEN_VERSION[[:space:]]*=[[:space:]]*//p' "$tree/xen/Makefile")
	minor=$(sed -n 's/^export XEN_SUBVERSION[[:space:]]*=[[:space:]]*//p' "$tree/xen/Makefile")
	[ "$major.$minor" = "$XEN_SERIES" ] ||
		die "--xen-source $XEN_SOURCE is Xen $major.$minor; Debian $DEBIAN's tools are $XEN_SERIES"
}

# Sets XEN_IMAGE. Debian's own arm64 hypervisor has no ioreq servers, so
# build one from the very source package whose tools the domains run (or
# from the user's source of the same series).
build_xen() {
	local key dir tree m
	key=$(printf '%s' "$XEN_KCONFIG" | short_hash)
	if [ -n "$XEN_SOURCE" ]; then
		key=$( (printf '%s\n' "$XEN_KCONFIG" "$XEN_SOURCE"; stat -c '%s %Y' "$XEN_SOURCE") | short_hash)
		tree=$XEN_DIR/user-$(printf '%s' "$XEN_SOURCE" | short_hash)
		dir=$tree/hypervisor-$key
		tree=$tree/tree
		XEN_IMAGE=$dir/xen
		user_xen_tree "$tree"
		# A tree may change without its mtime: always let make decide.
		[ -d "$XEN_SOURCE" ] && rm -f "$dir/.done"
	else
		dir=$XEN_DIR/hypervisor-$key
		tree=$XEN_DIR/tree
		XEN_IMAGE=$dir/xen
	fi
	have_stamp "$dir" && return 0
	if [ -z "$XEN_SOURCE" ] && ! have_stamp "$tree"; then
		note "unpacking the xen $XEN_VERSION source package"
		rm -rf "$tree"
		logged "$LOG_DIR/xen-unpack.log" dpkg-source -x "$XEN_DIR"/src/xen_*.dsc "$tree" ||
			die "dpkg-source -x failed"
		set_stamp "$tree"
	fi
	note "building the Xen ${XEN_SOURCE:-$XEN_VERSION} hypervisor with CONFIG_IOREQ_SERVER=y (about a minute)"
	m=(XEN_TARGET_ARCH=arm64 "CROSS_COMPILE=$CROSS-")
	if [ -f "$tree/debian/xen-kconfig" ]; then
		cp "$tree/debian/xen-kconfig" "$tree/xen/.config"
	else
		: >"$tree/xen/.config"
	fi
	printf '%s\n' "$XEN_KCONFIG" >>"$tree/xen/.config"
	logged "$LOG_DIR/xen-build.log" make -C "$tree/xen" "${m[@]}" olddefconfig ||
		die "xen olddefconfig failed"
	grep -qx 'CONFIG_IOREQ_SERVER=y' "$tree/xen/.config" ||
		die "xen $XEN_VERSION: CONFIG_IOREQ_SERVER=y did not survive olddefconfig (see $tree/xen/.config)"
	logged "$LOG_DIR/xen-build.log" make -C "$tree/xen" "${m[@]}" -j"$JOBS" xen ||
		die "building the hypervisor failed"
	rm -rf "$dir"
	mkdir -p "$dir"
	cp "$tree/xen/xen" "$tree/xen/.config" "$dir/"
	set_stamp "$dir"
}

# Make the merged-/usr links in a root file system about to be filled.
merge_usr() {
	local d
	[ "$MERGED_USR" = 1 ] || return 0
	for d in bin sbin lib; do
		mkdir -p "$1/usr/$d"
		[ -e "$1/$d" ] || ln -s "usr/$d" "$1/$d"
	done
}

# ------------------------------------------------------------------- kernel

# Sets KERNEL_ROOT (the unpacked package or the lab-built kernel),
# KERNEL_CACHE_DIR, KERNEL_RELEASE and KERNEL_IMAGE.
prepare_kernel() {
	local dir
	if [ "$KERNEL_KIND" = lab ]; then
		build_lab_kernel
	else
		dir=$CACHE/kernel/$KERNEL_PKG-$KERNEL_VERSION
		KERNEL_CACHE_DIR=$dir
		KERNEL_ROOT=$dir/root
		if ! have_stamp "$dir"; then
			note "unpacking $KERNEL_PKG"
			rm -rf "$dir"
			mkdir -p "$dir"
			dpkg-deb -x "$KERNEL_DEB" "$KERNEL_ROOT"
			# Debian 13 puts the modules in /usr/lib/modules; depmod -b
			# and the lab look in /lib/modules.
			if [ -d "$KERNEL_ROOT/usr/lib/modules" ] && [ ! -e "$KERNEL_ROOT/lib" ]; then
				ln -s usr/lib "$KERNEL_ROOT/lib"
			fi
			set_stamp "$dir"
		fi
	fi
	KERNEL_RELEASE=$(find "$KERNEL_ROOT/lib/modules" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort | tail -n 1)
	[ -n "$KERNEL_RELEASE" ] || die "$KERNEL_PKG has no /lib/modules"
	# Debian's arm64 vmlinuz is the raw Image (with an EFI stub), which both
	# Xen (for Dom0) and libxl (for DomUs) load as it is.
	KERNEL_IMAGE=$KERNEL_ROOT/boot/vmlinuz-$KERNEL_RELEASE
	[ -f "$KERNEL_IMAGE" ] || die "$KERNEL_PKG has no boot/vmlinuz-$KERNEL_RELEASE"
	# The package ships no modules.dep: make one for the dependency walk.
	[ -s "$KERNEL_ROOT/lib/modules/$KERNEL_RELEASE/modules.dep" ] ||
		depmod -b "$KERNEL_ROOT" "$KERNEL_RELEASE" ||
		die "depmod failed for $KERNEL_RELEASE"
}

# Print the modules.dep path of a module name ("-" and "_" are the same).
module_path() {
	awk -F: -v n="${1//-/_}" '{
		b = $1; sub(/.*\//, "", b); sub(/\.ko(\.[a-z]+)?$/, "", b); gsub(/-/, "_", b)
		if (b == n) { print $1; exit } }' "$KERNEL_ROOT/lib/modules/$KERNEL_RELEASE/modules.dep"
}

module_builtin() {
	local f=$KERNEL_ROOT/lib/modules/$KERNEL_RELEASE/modules.builtin
	[ -f "$f" ] && grep -qx "${1//-/_}" <<<"$(sed 's/.*\///; s/\.ko$//; s/-/_/g' "$f")"
}

# Depth-first walk of modules.dep: dependencies before the module.
declare -A MOD_SEEN=()
MOD_ORDER=()
module_visit() {
	local path=$1 dep
	[ -n "${MOD_SEEN[$path]:-}" ] && return 0
	MOD_SEEN[$path]=1
	for dep in $(awk -F: -v p="$path" '$1 == p { print $2; exit }' \
		"$KERNEL_ROOT/lib/modules/$KERNEL_RELEASE/modules.dep"); do
		module_visit "$dep"
	done
	MOD_ORDER+=("$path")
}

# Copy the named modules and their dependencies flat into $1/lib/modules
# and list them in load order in $1/lib/modules/load.list (busybox insmod
# knows no dependencies).
install_modules() {
	local root=$1 name path base src
	shift
	MOD_SEEN=()
	MOD_ORDER=()
	for name in "$@"; do
		path=$(module_path "$name")
		if [ -n "$path" ]; then
			module_visit "$path"
		elif ! module_builtin "$name"; then
			die "kernel $KERNEL_RELEASE has module $name neither as a module nor built in"
		fi
	done
	mkdir -p "$root/lib/modules"
	: >"$root/lib/modules/load.list"
	for path in "${MOD_ORDER[@]}"; do
		src=$KERNEL_ROOT/lib/modules/$KERNEL_RELEASE/$path
		base=${path##*/}
		case $base in
		*.ko) cp "$src" "$root/lib/modules/$base" ;;
		*.ko.xz) base=${base%.xz}; xz -dc "$src" >"$root/lib/modules/$base" ;;
		*.ko.zst) base=${base%.zst}; zstd -qdc "$src" >"$root/lib/modules/$base" ;;
		*) die "unknown module format: $path" ;;
		esac
		echo "$base" >>"$root/lib/modules/load.list"
	done
}

# ------------------------------------------------------------ cross sysroot

# Sets SYSROOT: libxen-dev and the other -dev packages for arm64, unpacked
# (not installed: the :arm64 -dev packages conflict with the amd64 ones).
build_sysroot() {
	local debs=() key p
	debs+=("$XEN_DIR"/debs/libxen*.deb)
	for p in "${SYSROOT_DEBS[@]}"; do debs+=("${DEB[$p]}"); done
	key=$(printf '%s\n' "${debs[@]##*/}" | sort | short_hash)
	SYSROOT=$CACHE/sysroot/$key
	SYSROOT_KEY=$key
	have_stamp "$SYSROOT" && return 0
	note "unpacking the arm64 cross sysroot"
	rm -rf "$SYSROOT"
	mkdir -p "$SYSROOT"
	# libc.so names /lib/aarch64-linux-gnu/libc.so.6: the links resolve it
	merge_usr "$SYSROOT"
	for p in "${debs[@]}"; do dpkg-deb -x "$p" "$SYSROOT"; done
	set_stamp "$SYSROOT"
}

# pkg-config modules configure.ac asks for (libfdt has no .pc in Debian 12).
SYSROOT_PC_MODULES=(xencontrol xendevicemodel xenforeignmemory xenevtchn xenstore
	xengnttab xentoolcore liburing libseccomp)

# Debian's .pc files name absolute /usr paths; pkg-config prefixes -I/-L
# flags with PKG_CONFIG_SYSROOT_DIR, which makes them right. Check that no
# flag still points at the host's (amd64) headers or libraries.
check_sysroot_pc() {
	local flags
	flags=$(cross_env pkg-config --cflags --libs "${SYSROOT_PC_MODULES[@]}") ||
		die "pkg-config cannot resolve ${SYSROOT_PC_MODULES[*]} in $SYSROOT"
	if grep -qE '(^|[[:space:]])-[IL]/usr' <<<"$flags"; then
		die "pkg-config flags point outside the sysroot: $flags"
	fi
}

# Environment for configure and pkg-config against the sysroot.
cross_env() {
	env PKG_CONFIG=pkg-config \
		PKG_CONFIG_LIBDIR="$SYSROOT/usr/lib/$CROSS/pkgconfig:$SYSROOT/usr/share/pkgconfig" \
		PKG_CONFIG_SYSROOT_DIR="$SYSROOT" \
		PKG_CONFIG_PATH= \
		"$@"
}

# ----------------------------------------------------------- xen-virtio

# The C compiler for the daemon. With the sysroot's own glibc, the cross
# compiler must not see its own: it searches its glibc headers (tool
# include directory) and libraries before the sysroot's, so the standard
# include path is given anew (-nostdinc: GCC's own headers, then the
# sysroot's) and -B/-L put the sysroot's startup files and libraries first.
# --sysroot makes the absolute paths in libc.so's linker script resolve in
# the sysroot.
daemon_cc() {
	local lib=$SYSROOT/usr/lib/$CROSS
	if [ "$SYSROOT_LIBC" = 1 ]; then
		echo "$CROSS-gcc --sysroot=$SYSROOT -nostdinc -isystem $($CROSS-gcc -print-file-name=include)" \
			"-isystem $SYSROOT/usr/include/$CROSS -isystem $SYSROOT/usr/include -B$lib/ -L$lib"
	else
		echo "$CROSS-gcc"
	fi
}

# Sets DAEMON_STAGE: the tree's programs, cross-built for arm64 and
# installed under a staging directory. Always rebuilt from the current
# tree; the persistent build directory keeps make incremental.
build_daemon() {
	local b f cc
	cc=$(daemon_cc)
	# One build directory per sysroot, compiler and source tree (a build
	# directory belongs to the tree it was configured from).
	DAEMON_BUILD=$CACHE/build/xen-virtio-arm64-$SYSROOT_KEY-$(printf '%s\n' "$TOP" "$cc" | short_hash)
	b=$DAEMON_BUILD
	[ -f "$TOP/configure.ac" ] || die "$TOP has no configure.ac"
	[ ! -e "$TOP/config.status" ] ||
		die "$TOP is configured in place; the boot lab builds out of tree: run 'make distclean' there first"
	if [ ! -x "$TOP/configure" ] || [ "$TOP/configure.ac" -nt "$TOP/configure" ]; then
		note "autoreconf -fi"
		logged "$LOG_DIR/autoreconf.log" sh -c "cd '$TOP' && autoreconf -fi" ||
			die "autoreconf failed"
	fi
	check_sysroot_pc
	mkdir -p "$b"
	if [ ! -f "$b/Makefile" ] || [ "$TOP/configure" -nt "$b/config.status" ]; then
		note "configuring xen-virtio for arm64"
		logged "$LOG_DIR/daemon-configure.log" cross_env sh -c "cd '$b' && '$TOP/configure' \
			--host=$CROSS --prefix=/usr --disable-shared --enable-static \
			CC='$cc' CPPFLAGS='-I$SYSROOT/usr/include' \
			LDFLAGS='-L$SYSROOT/usr/lib/$CROSS -Wl,-rpath-link=$SYSROOT/usr/lib/$CROSS'" ||
			die "configuring xen-virtio for arm64 failed (config.log: $b/config.log)"
	fi
	note "building xen-virtio for arm64"
	DAEMON_STAGE=$RUN_DIR/stage
	rm -rf "$DAEMON_STAGE"
	# Only the installed programs: unit tests and fuzzers are not needed
	# in the guest, and libxenvirtio is linked in statically.
	logged "$LOG_DIR/daemon-build.log" cross_env make -C "$b" -j"$JOBS" \
		install-binPROGRAMS DESTDIR="$DAEMON_STAGE" ||
		die "cross-building xen-virtio failed"
	[ -x "$DAEMON_STAGE/usr/bin/xen-virtio" ] || die "the build installed no usr/bin/xen-virtio"
	for f in "$DAEMON_STAGE"/usr/bin/*; do
		$CROSS-strip "$f"
	done
}

# A static tool from guest/NAME.c in $CACHE/build/NAME: static, so one
# binary serves Dom0 and the DomUs alike. Tools may include the daemon's
# headers of kernel interfaces (lib/xen/privcmd_ev.h), so that the lab
# checks the kernel against the very definitions the daemon uses.
build_static_tool() {
	local out=$CACHE/build/$1 src=$LAB_DIR/guest/$1.c
	[ -x "$out" ] && [ "$out" -nt "$src" ] &&
		[ "$out" -nt "$TOP/lib/xen/privcmd_ev.h" ] && return 0
	mkdir -p "$CACHE/build"
	logged "$LOG_DIR/$1-build.log" $CROSS-gcc -static -O2 -Wall -Wextra -Werror \
		-I"$TOP/lib/xen" -o "$out" "$src" || die "building $1 failed"
	$CROSS-strip "$out"
}

# The checks' tools: xv-pattern (disk patterns, discard, holes),
# xv-sockline (lines over the console's unix socket), xv-privcmd
# (the privcmd irqfd/ioeventfd interface of Dom0's kernel) and xv-hostile
# (a hostile virtio driver in a guest's user space).
build_pattern_tool() {
	build_static_tool xv-pattern
	build_static_tool xv-sockline
	build_static_tool xv-privcmd
	build_static_tool xv-hostile
	PATTERN_TOOL=$CACHE/build/xv-pattern
	SOCKLINE_TOOL=$CACHE/build/xv-sockline
	PRIVCMD_TOOL=$CACHE/build/xv-privcmd
	HOSTILE_TOOL=$CACHE/build/xv-hostile
}

# ---------------------------------------------------------------- initramfs

# Fail unless every shared library the given ELF files need (transitively)
# is in the root file system.
check_needed() {
	local root=$1 f n dir found queue=() seen=" "
	shift
	queue=("$@")
	while [ ${#queue[@]} -gt 0 ]; do
		f=${queue[0]}
		queue=("${queue[@]:1}")
		for n in $($CROSS-readelf -d "$f" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
			case $seen in *" $n "*) continue ;; esac
			seen="$seen$n "
			found=
			for dir in lib/$CROSS usr/lib/$CROSS lib usr/lib; do
				if [ -e "$root/$dir/$n" ]; then
					found=$(readlink -f "$root/$dir/$n")
					break
				fi
			done
			[ -n "$found" ] || die "${f#"$root"} needs $n, which is not in the root file system (add its package to the lab)"
			case $found in "$root"/*) queue+=("$found") ;; esac
		done
	done
}

# A gzip'd newc archive of a directory, every file owned by root.
make_cpio() {
	(cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip "$3" >"$2"
}

strip_docs() {
	rm -rf "$1"/usr/share/doc "$1"/usr/share/man "$1"/usr/share/info \
		"$1"/usr/share/locale "$1"/usr/share/lintian "$1"/usr/share/bug
}

# Sets DOM0_BASE_CPIO and DOM0_BASE_ROOT: everything of Dom0 that depends
# only on package versions (busybox, glibc, Xen tools, modules, the guest
# kernel). Cached; the per-run overlay adds the tree's files on top.
build_dom0_base() {
	local debs=() key dir root p xb=/usr/lib/xen-$XEN_SERIES/bin
	for p in "${DOM0_DEBS[@]}"; do debs+=("${DEB[$p]}"); done
	for p in "$XEN_DIR"/debs/*.deb; do
		case ${p##*/} in libxen-dev_*) continue ;; esac
		debs+=("$p")
	done
	key=$( (printf '%s\n' "${debs[@]##*/}" "$KERNEL_IMAGE" "${DOM0_MODULES[@]}"
		declare -f build_dom0_base install_modules) | short_hash)
	dir=$CACHE/rootfs/dom0-$KERNEL_KIND-$key
	DOM0_BASE_ROOT=$dir/root
	DOM0_BASE_CPIO=$dir/base.cpio.gz
	have_stamp "$dir" && return 0
	note "assembling the Dom0 root file system"
	rm -rf "$dir"
	root=$DOM0_BASE_ROOT
	mkdir -p "$root"
	merge_usr "$root"
	for p in "${debs[@]}"; do dpkg-deb -x "$p" "$root"; done
	strip_docs "$root"
	rm -rf "$root/usr/lib/xen-$XEN_SERIES/boot" "$root"/usr/lib/python3* \
		"$root/usr/lib/$CROSS/gconv" "$root/etc/init.d" "$root/lib/systemd"
	install_modules "$root" "${DOM0_MODULES[@]}"
	mkdir -p "$root/boot"
	cp "$KERNEL_IMAGE" "$root/boot/Image"
	check_needed "$root" "$root$xb/xl" "$root$xb/xenstored" "$root$xb/xenconsoled" \
		"$root$xb/xen-init-dom0" "$root/usr/bin/xenstore" "$(e2fs_program "$root" e2fsck)"
	make_cpio "$root" "$DOM0_BASE_CPIO" -1
	set_stamp "$dir"
}

# Path of an e2fsprogs program in a root file system (Debian 12 has them in
# /sbin, later releases in /usr/sbin).
e2fs_program() {
	local d
	for d in sbin usr/sbin; do
		[ -f "$1/$d/$2" ] && { echo "$1/$d/$2"; return; }
	done
	die "e2fsprogs has no $2 in sbin or usr/sbin"
}

# Sets DOMU_BASE_ROOT: busybox, mke2fs and e2fsck with their libraries, and
# the DomU's modules.
build_domu_base() {
	local key dir root p
	key=$( (for p in "${DOMU_DEBS[@]}"; do echo "${DEB[$p]##*/}"; done
		echo "$KERNEL_IMAGE" "${DOMU_MODULES[@]}"
		declare -f build_domu_base install_modules) | short_hash)
	dir=$CACHE/rootfs/domu-$KERNEL_KIND-$key
	DOMU_BASE_ROOT=$dir/root
	have_stamp "$dir" && return 0
	rm -rf "$dir"
	root=$DOMU_BASE_ROOT
	mkdir -p "$root"
	merge_usr "$root"
	for p in "${DOMU_DEBS[@]}"; do dpkg-deb -x "${DEB[$p]}" "$root"; done
	strip_docs "$root"
	# Only the libraries' runtime matters: the initramfs stays small.
	rm -rf "$root/usr/lib/$CROSS/gconv" "$root/usr/share" "$root/etc/cron.d" \
		"$root/lib/systemd" "$root/usr/lib/systemd" "$root/usr/libexec"
	check_needed "$root" "$(e2fs_program "$root" mke2fs)" "$(e2fs_program "$root" e2fsck)"
	install_modules "$root" "${DOMU_MODULES[@]}"
	set_stamp "$dir"
}

# Sets DOM0_CPIO: the cached base plus this run's overlay (the tree's
# programs, scripts and xl examples, and the DomU initramfs). The kernel
# unpacks concatenated archives in order.
build_initramfs() {
	local domu=$RUN_DIR/domu-root ov=$RUN_DIR/dom0-overlay f
	rm -rf "$domu" "$ov"
	cp -a "$DOMU_BASE_ROOT" "$domu"
	install -m 755 "$LAB_DIR/guest/domu-init" "$domu/init"
	install -D -m 755 "$PATTERN_TOOL" "$domu/usr/bin/xv-pattern"
	install -m 755 "$HOSTILE_TOOL" "$domu/usr/bin/xv-hostile"
	install -D -m 644 "$LAB_DIR/guest/bench-jobs" "$domu/etc/bench-jobs"
	[ -z "${FIO_TOOL:-}" ] || install -m 755 "$FIO_TOOL" "$domu/usr/bin/fio"
	mkdir -p "$ov/boot" "$ov/usr/bin" "$ov/etc/xen/examples" "$ov/etc/xv-lab"
	make_cpio "$domu" "$ov/boot/domu.cpio.gz" -6
	install -m 755 "$LAB_DIR/guest/dom0-init" "$ov/init"
	install -m 755 "$LAB_DIR/guest/dom0-checks" "$LAB_DIR/guest/dom0-demo" \
		"$LAB_DIR/guest/dom0-lib.sh" "$LAB_DIR/guest/dom0-bench" \
		"$LAB_DIR/guest/block-standin" "$ov/etc/xv-lab/"
	install -m 644 "$LAB_DIR/guest/bench-jobs" "$LAB_DIR/guest/bench-b1.cfg" "$ov/etc/xv-lab/"
	[ -z "${FIO_TOOL:-}" ] || install -m 755 "$FIO_TOOL" "$ov/usr/bin/fio"
	cp "$TOP"/xl-examples/*.cfg "$TOP"/xl-examples/*.conf "$ov/etc/xen/examples/"
	install -m 755 "$PATTERN_TOOL" "$ov/usr/bin/xv-pattern"
	install -m 755 "$SOCKLINE_TOOL" "$ov/usr/bin/xv-sockline"
	install -m 755 "$PRIVCMD_TOOL" "$ov/usr/bin/xv-privcmd"
	cp -a "$DAEMON_STAGE/usr/bin/." "$ov/usr/bin/"
	cat >"$ov/etc/xv-lab/env" <<-EOF
		XEN_SERIES=$XEN_SERIES
		XEN_VERSION=$XEN_VERSION
		KERNEL_RELEASE=$KERNEL_RELEASE
		KERNEL_KIND=$KERNEL_KIND
	EOF
	for f in "$DAEMON_STAGE"/usr/bin/*; do
		check_needed "$DOM0_BASE_ROOT" "$f"
	done
	make_cpio "$ov" "$RUN_DIR/dom0-overlay.cpio.gz" -1
	DOM0_CPIO=$RUN_DIR/dom0.cpio.gz
	cat "$DOM0_BASE_CPIO" "$RUN_DIR/dom0-overlay.cpio.gz" >"$DOM0_CPIO"
}
