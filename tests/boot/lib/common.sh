# Common functions of the boot lab (sourced by tests/boot/run, not run alone).
# shellcheck shell=bash

# Progress goes to stderr so that stdout carries only the PASS/FAIL lines,
# the closing count and (in demo mode) the guest's view.
note() {
	printf '[%5.1fs] %s\n' "$(elapsed)" "$*" >&2
}

die() {
	printf 'boot lab: error: %s\n' "$*" >&2
	exit 1
}

# Seconds since the lab started, one decimal.
elapsed() {
	local now=${EPOCHREALTIME/./}
	local us=$((now - LAB_START_US))
	printf '%d.%d' $((us / 1000000)) $((us / 100000 % 10))
}

# Run a command with its output in a log file; show the tail of the log if
# it fails, so a failed step explains itself without a second look.
logged() {
	local log=$1
	shift
	if ! "$@" >"$log" 2>&1; then
		printf 'boot lab: command failed: %s\n' "$*" >&2
		tail -n 40 "$log" >&2
		printf 'boot lab: full log: %s\n' "$log" >&2
		return 1
	fi
}

# A step that leaves its result in a stamp file is skipped when the stamp
# exists: everything keyed by versions lives in directories named after
# them, so a stamp never goes stale.
have_stamp() {
	[ -e "$1/.done" ]
}

set_stamp() {
	touch "$1/.done"
}

# Debian encodes an epoch "1:" as "1%3a" in .deb file names.
deb_file_version() {
	printf '%s' "${1//:/%3a}"
}
