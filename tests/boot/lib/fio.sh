# fio for the lab's benchmark (tests/boot/run --bench; sourced by it):
# upstream fio as Debian ships its source, cross-built static for arm64 so
# that one binary runs in Dom0 and in the guests, with no library to add
# to their root file systems. Kept per source version and compiler.
#
# Its io_uring and psync engines need no library; the engines that would
# (libaio, rados, rdma, ...) are left out.
# shellcheck shell=bash

FIO_OPTS=(--disable-native --disable-numa --disable-rdma --disable-rados
	--disable-rbd --disable-http --disable-gfapi --disable-pmem --disable-shm
	--disable-xnvme --disable-libzbc --disable-tcmalloc --disable-dfs)

# Sets FIO_TOOL to the built binary. When the pinned source does not
# download, dies naming the file and why: a benchmark without its load
# generator has nothing to show.
build_fio() {
	local name ver path sha dir key tree
	read -r name ver path sha < <(pinned 'src:fio') ||
		die "tests/boot/versions pins no src:fio for Debian $DEBIAN"
	fetch_pinned "$CACHE_ROOT/fio/src" fio "$ver" "$path" "$sha" ||
		die "cannot download fio's source: ${PIN_FAILURES[*]: -1}"
	key=$( (echo "$ver" "${FIO_OPTS[*]}"; $CROSS-gcc --version | head -n 1
		declare -f build_fio) | short_hash)
	dir=$CACHE_ROOT/fio/$ver-$key
	FIO_TOOL=$dir/fio
	have_stamp "$dir" && return 0
	note "building fio $ver for arm64 (static; about a minute)"
	rm -rf "$dir"
	tree=$dir/tree
	mkdir -p "$tree"
	tar -xzf "$PINNED_PATH" -C "$tree" --strip-components=1 || die "cannot unpack $PINNED_PATH"
	logged "$LOG_DIR/fio-build.log" sh -c "cd '$tree' &&
		./configure --cc=$CROSS-gcc --build-static ${FIO_OPTS[*]} &&
		make -j$JOBS fio" || die "building fio failed"
	$CROSS-strip -o "$FIO_TOOL" "$tree/fio"
	rm -rf "$tree"
	set_stamp "$dir"
}
