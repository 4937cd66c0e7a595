# The checks a run must report (sourced by tests/boot/run).
#
# tests/boot/checks lists every check by name with the runs it belongs to,
# so that a generation that cannot be built prints a SKIP line for each of
# them, and a run that does boot must report exactly them: a check that
# silently stopped reporting, or a new one not listed, fails
# lab/checks-complete.
# shellcheck shell=bash

CHECKS_LIST=$LAB_DIR/checks

# The names of the checks of this run, one a line: those of tests/boot/checks
# whose conditions (xen>=X.Y, xen<X.Y, kernel=debian|lab) all hold for
# the generation's Xen series and the kernel kind.
expected_checks() {
	awk -v series="${XEN_SERIES:-$XEN_WANT_SERIES}" -v kernel="$KERNEL_KIND" '
		function num(v, a) { split(v, a, "."); return a[1] * 1000 + a[2] }
		/^[[:space:]]*(#|$)/ { next }
		{
			ok = 1
			for (i = 2; i <= NF; i++) {
				c = $i
				if (c ~ /^xen>=/) { if (num(series) < num(substr(c, 6))) ok = 0 }
				else if (c ~ /^xen</) { if (num(series) >= num(substr(c, 5))) ok = 0 }
				else if (c ~ /^kernel=/) { if (substr(c, 8) != kernel) ok = 0 }
				else if (c != "all") { print "tests/boot/checks: unknown condition " c > "/dev/stderr"; exit 1 }
			}
			if (ok) print $1
		}' "$CHECKS_LIST"
}

# lab/checks-complete: the results seen (RESULTS) against the list.
checks_complete() {
	local r name missing=() unexpected=() n=0
	local -A seen=() want=()
	for r in "${RESULTS[@]}"; do seen[${r#* }]=${r%% *}; done
	while read -r name; do
		[ "$name" = lab/checks-complete ] && continue
		want[$name]=1
		n=$((n + 1))
		[ -n "${seen[$name]:-}" ] || missing+=("$name")
	done < <(expected_checks)
	# A name outside the list that failed is a failure report of its
	# own (cmdline/example, ...): already counted.
	for name in "${!seen[@]}"; do
		[ -n "${want[$name]:-}" ] || [ "${seen[$name]}" = FAIL ] || unexpected+=("$name")
	done
	if [ ${#missing[@]} -eq 0 ] && [ ${#unexpected[@]} -eq 0 ]; then
		result PASS lab/checks-complete "all $n checks tests/boot/checks lists for this run reported"
	else
		result FAIL lab/checks-complete "missing: ${missing[*]:-none}; not in tests/boot/checks: ${unexpected[*]:-none}"
	fi
}
