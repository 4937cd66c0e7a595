# Booting the lab under QEMU and reading its console (sourced by
# tests/boot/run).
# shellcheck shell=bash

# Where QEMU's guest-loader puts Dom0's kernel and initramfs. QEMU puts the
# device tree at 0x48000000 (RAM base + 128 MiB when there is no -initrd):
# the initramfs must start above it, the kernel must end below it.
DOM0_KERNEL_ADDR=0x42000000
DOM0_INITRD_ADDR=0x49000000
DTB_ADDR=0x48000000

# Checks keep every hypervisor message (xl dmesg shows them on failure);
# the demo keeps the console for the reader.
XEN_ARGS="dom0_mem=512M dom0_max_vcpus=1 console=dtuart"
XEN_LOG_ARGS_CHECK="loglvl=all guest_loglvl=all"
XEN_LOG_ARGS_DEMO="loglvl=warning guest_loglvl=error"

PASSED=0
FAILED=0
SKIPPED=0
# check lines seen, for the summary
declare -a RESULTS=()

result() {
	local verdict=$1 name=$2 detail=${3:-}
	if [ "$verdict" = PASS ]; then
		PASSED=$((PASSED + 1))
	elif [ "$verdict" = SKIP ]; then
		SKIPPED=$((SKIPPED + 1))
	else
		FAILED=$((FAILED + 1))
	fi
	RESULTS+=("$verdict $name")
	if [ -n "$detail" ]; then
		echo "$verdict $name: $detail"
	else
		echo "$verdict $name"
	fi
}

# Read QEMU's console on stdin: keep a time-stamped copy in $SERIAL_LOG,
# report checks as they come, split the logs Dom0 dumps into files, and
# print demo lines. Leaves a summary of the events seen in $EVENTS.
read_console() {
	local line section='' t name rest detail
	while IFS= read -r line; do
		# hvc0 line ends pass through two consoles: drop every CR
		line=${line//$'\r'/}
		t=$(elapsed)
		printf '[%6s] %s\n' "$t" "$line" >>"$SERIAL_LOG"
		[ "$VERBOSE" = 1 ] && printf '[%6s] %s\n' "$t" "$line" >&2
		# Xen writes to the same serial line as Dom0, so a marker may come
		# after the start of a hypervisor message: look for it anywhere.
		if [ -n "$section" ]; then
			if [[ $line == *"XVLOG-END $section" ]]; then
				section=
			else
				printf '%s\n' "$line" >>"$LOG_DIR/$section"
			fi
			continue
		fi
		case $line in
		*"XVCHECK "*)
			rest=${line#*XVCHECK }
			name=${rest#* }
			name=${name%% *}
			detail=${rest#* "$name"}
			detail=${detail# (}
			detail=${detail%)}
			result "${rest%% *}" "$name" "$detail"
			;;
		"XVDEMO "* | XVDEMO)
			[ "$MODE" = demo ] && printf '%s\n' "${line#XVDEMO }"
			;;
		*"XVLOG-BEGIN "*)
			section=${line#*XVLOG-BEGIN }
			section=${section//[^A-Za-z0-9._-]/_}
			: >"$LOG_DIR/$section"
			;;
		"XVHOST qemu-status "*)
			QEMU_RC=${line##* }
			;;
		*"XVLAB "*)
			line=XVLAB${line#*XVLAB}
			echo "${line#XVLAB }" >>"$EVENTS"
			case $line in
			"XVLAB dom0-ready"*) note "Dom0 toolstack up" ;;
			"XVLAB starting: "* | "XVLAB bench: "*) note "Dom0: ${line#XVLAB }" ;;
			esac
			;;
		esac
	done
}

saw_event() {
	grep -q "^$1" "$EVENTS" 2>/dev/null
}

# Boot Xen + Dom0; the checks run inside. Sets QEMU_RC.
boot_lab() {
	local dom0_args="console=hvc0 earlycon=xen xvlab.mode=$MODE${XV_LAB_DOM0_ARGS:+ $XV_LAB_DOM0_ARGS}" kernel_end xen_args
	if [ "$MODE" = bench ]; then
		dom0_args="$dom0_args xvlab.rounds=$BENCH_ROUNDS xvlab.runtime=$BENCH_RUNTIME xvlab.jobs=${BENCH_JOBS//,/+}"
		[ -z "$BENCH_BLK_OPTS" ] || dom0_args="$dom0_args xvlab.blkopts=${BENCH_BLK_OPTS//,/+}"
		[ -z "$BENCH_DAEMON_ARGS" ] || dom0_args="$dom0_args xvlab.xvargs=${BENCH_DAEMON_ARGS// /+}"
	fi
	if [ "$MODE" = demo ] || [ "$MODE" = bench ]; then
		# quiet: the console costs the emulated machine time
		xen_args="$XEN_ARGS $XEN_LOG_ARGS_DEMO"
	else
		xen_args="$XEN_ARGS $XEN_LOG_ARGS_CHECK"
	fi
	kernel_end=$((DOM0_KERNEL_ADDR + $(stat -c %s "$KERNEL_IMAGE")))
	[ "$kernel_end" -lt $((DTB_ADDR)) ] ||
		die "the kernel image is too big to sit below the device tree at $DTB_ADDR"
	SERIAL_LOG=$LOG_DIR/serial.log
	EVENTS=$LOG_DIR/events
	: >"$SERIAL_LOG"
	: >"$EVENTS"
	note "booting Xen + Dom0 under QEMU (TCG; at most ${BOOT_TIMEOUT}s)"
	LOAD_AT_BOOT=$(cut -d' ' -f1 /proc/loadavg)
	QEMU_RC=
	# The reader runs in this shell (it counts the checks), QEMU in the
	# process substitution, which appends QEMU's exit status.
	read_console < <(
		set +e
		timeout -k 10 "$BOOT_TIMEOUT" qemu-system-aarch64 \
			-machine virt,virtualization=on,gic-version=3 -cpu cortex-a57 -smp 2 -m 2048 \
			-nodefaults -display none -serial stdio -monitor none -no-reboot \
			-kernel "$XEN_IMAGE" -append "$xen_args" \
			-device guest-loader,addr=$DOM0_KERNEL_ADDR,kernel="$KERNEL_IMAGE",bootargs="$dom0_args" \
			-device guest-loader,addr=$DOM0_INITRD_ADDR,initrd="$DOM0_CPIO" \
			</dev/null 2>&1
		printf '\nXVHOST qemu-status %s\n' "$?"
	)
	note "QEMU exited (status $QEMU_RC)"
}

# Checks the host makes about the boot as a whole.
boot_checks() {
	local seen=$((PASSED + FAILED + SKIPPED)) reported
	reported=$(sed -n 's/^checks-done count=//p' "$EVENTS")
	if saw_event dom0-ready; then
		result PASS lab/boot "Xen and Dom0 up"
	else
		result FAIL lab/boot "Dom0 never reported its toolstack (see $SERIAL_LOG)"
	fi
	if [ "$QEMU_RC" = 124 ] || [ "$QEMU_RC" = 137 ]; then
		result FAIL lab/finished "QEMU killed after ${BOOT_TIMEOUT}s"
	elif ! saw_event checks-done; then
		result FAIL lab/finished "Dom0 did not finish its checks (QEMU status ${QEMU_RC:-unknown})"
	elif [ "$reported" != "$seen" ]; then
		result FAIL lab/finished "Dom0 made $reported checks, but the console carried $seen results"
	elif [ "$QEMU_RC" != 0 ]; then
		result FAIL lab/finished "QEMU exited with status $QEMU_RC"
	else
		result PASS lab/finished "all checks ran, Dom0 powered off"
	fi
}

# On failure: the logs that explain it, each cut to its tail (the
# hypervisor's and Dom0's kernel logs rarely hold the cause: shorter).
print_logs() {
	local name f lines
	for name in xen dom0-dmesg xen-virtio-g1.log xen-virtio-g2.log xen-virtio-g4.log \
		guest-g1.log guest-g2.log guest-g4.log xl-create-g1.log xl-create-g2.log \
		xl-create-g4.log xl-destroy-g2.log xl-destroy-g4.log; do
		f=$LOG_DIR/$name
		[ -s "$f" ] || continue
		case $name in xen | dom0-dmesg) lines=60 ;; *) lines=150 ;; esac
		printf '\n===== %s (last %d lines of %s) =====\n' "$name" "$lines" "$f"
		tail -n "$lines" "$f"
	done
	if [ ! -s "$LOG_DIR/xen" ]; then
		printf '\n===== console (last 150 lines of %s) =====\n' "$SERIAL_LOG"
		tail -n 150 "$SERIAL_LOG"
	fi
	printf '\nall logs: %s\n' "$LOG_DIR"
}
