# Functions shared by Dom0's /init, checks and demo (busybox sh, sourced).

. /etc/xv-lab/env
XEN_BIN=/usr/lib/xen-$XEN_SERIES/bin
export PATH=$XEN_BIN:/usr/bin:/usr/sbin:/bin:/sbin
export LD_LIBRARY_PATH=/usr/lib/aarch64-linux-gnu:/lib/aarch64-linux-gnu
CONSOLE_DIR=/var/log/xen/console
EXAMPLES=/etc/xen/examples

uptime_s() {
	cut -d' ' -f1 /proc/uptime
}

# Seconds between two uptime_s readings, 2 decimals.
seconds_between() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'
}

cmdline_arg() {
	for w in $(cat /proc/cmdline); do
		case $w in "$1="*) echo "${w#*=}"; return ;; esac
	done
	echo "$2"
}

# check PASS|FAIL NAME [DETAIL]; CHECK_COUNT lets the host notice a result
# line lost on the shared console.
CHECK_COUNT=0
check() {
	CHECK_COUNT=$((CHECK_COUNT + 1))
	if [ -n "${3:-}" ]; then
		echo "XVCHECK $1 $2 ($3)"
	else
		echo "XVCHECK $1 $2"
	fi
}

# expect NAME DETAIL COMMAND...: PASS when COMMAND succeeds.
expect() {
	name=$1 detail=$2
	shift 2
	if "$@"; then
		check PASS "$name" "$detail"
	else
		check FAIL "$name" "$detail"
	fi
}

dump_log() {
	echo "XVLOG-BEGIN $1"
	tr -d '\r' <"$2"
	echo
	echo "XVLOG-END $1"
}

# Fill an xl example's @PLACEHOLDERS@: fill_config FILE KEY=VALUE...
fill_config() {
	f=$1
	shift
	script=
	for kv in "$@"; do
		script="${script}s|@${kv%%=*}@|${kv#*=}|g;"
	done
	sed "$script" "$f"
}

# The daemon command an example documents (its "#   xen-virtio ..." line),
# with the placeholders filled in and the trailing "&" dropped.
example_command() {
	f=$1
	shift
	fill_config "$f" "$@" | sed -n 's/^#[[:space:]]*\(xen-virtio --.*\)$/\1/p' |
		head -n 1 | sed 's/[[:space:]]*&[[:space:]]*$//'
}

# "4.20" -> 4020: Xen series as comparable numbers.
series_number() {
	echo "$1" | awk -F. '{ print $1 * 1000 + $2 }'
}

# The example NAME-<series>.cfg for this Xen: the newest series not newer
# than $XEN_SERIES (later libxl keeps the older options), or nothing.
example_for() {
	best= best_n=0
	own=$(series_number "$XEN_SERIES")
	for f in "$EXAMPLES/$1"-[0-9]*.cfg; do
		[ -f "$f" ] || continue
		v=${f##*-}
		n=$(series_number "${v%.cfg}")
		if [ "$n" -le "$own" ] && [ "$n" -gt "$best_n" ]; then
			best=$f best_n=$n
		fi
	done
	echo "$best"
}

# Start a daemon in the background with its log in a file; sets
# DAEMON_PID: start_daemon LOG COMMAND...
start_daemon() {
	log=$1
	shift
	echo "XVLAB starting: $* --log-file $log"
	"$@" --log-file "$log" </dev/null >>"$log" 2>&1 &
	DAEMON_PID=$!
}

# Wait at most $2 seconds for background process $1 to exit; a watchdog
# kills it (SIGKILL, so a hang cannot pass as a clean exit) when it does
# not. Sets DAEMON_STATUS.
wait_daemon() {
	( sleep "$2"; kill -9 "$1" 2>/dev/null ) &
	watchdog=$!
	wait "$1"
	DAEMON_STATUS=$?
	kill "$watchdog" 2>/dev/null
	wait "$watchdog" 2>/dev/null
	return 0
}

# Wait at most $3 seconds for a line matching $2 in domain $1's console log.
wait_console() {
	limit=$(($3 * 5))
	i=0
	until tr -d '\r' <"$CONSOLE_DIR/guest-$1.log" 2>/dev/null | grep -q "$2"; do
		i=$((i + 1))
		[ "$i" -ge "$limit" ] && return 1
		sleep 0.2
	done
}

# Wait at most $2 seconds for domain $1 to be gone.
wait_domain_gone() {
	limit=$(($2 * 5))
	i=0
	while xl domid "$1" >/dev/null 2>&1; do
		i=$((i + 1))
		[ "$i" -ge "$limit" ] && return 1
		sleep 0.2
	done
}

# "pid state ppid" of every process (comm may hold spaces: cut it out).
proc_table() {
	sed -n 's/^\([0-9]*\) (.*) \([A-Z]\) \([0-9]*\) .*/\1 \2 \3/p' \
		/proc/[0-9]*/stat 2>/dev/null
}

# children PID: the process's children, one a line.
children() {
	proc_table | awk -v p="$1" '$3 == p { print $1 }'
}

# The first "XVG <prefix>..." fact a domain reported, without "XVG ".
fact() {
	tr -d '\r' <"$CONSOLE_DIR/guest-$1.log" 2>/dev/null | sed -n "s/^XVG \($2.*\)/\1/p" | head -n 1
}

# Value of key=value in a fact line: field LINE KEY
field() {
	for w in $1; do
		case $w in "$2="*) echo "${w#*=}"; return ;; esac
	done
}

# The disk (vda, ...) a domain reported with the given size in bytes.
disk_with_size() {
	tr -d '\r' <"$CONSOLE_DIR/guest-$1.log" 2>/dev/null |
		sed -n "s/^XVG disk \([a-z0-9]*\) size=$2 .*/\1/p" | head -n 1
}

# Result code of a guest I/O step: io_rc DOMAIN DISK STEP
io_rc() {
	field "$(fact "$1" "io $2 $3 ")" rc
}

io_line() {
	fact "$1" "io $2 $3 " | sed 's/^io [^ ]* [^ ]* //'
}
