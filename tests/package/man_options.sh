#!/bin/sh
# The manual pages keep up with the programs: every long option that `snapnetd --help` and
# `snapctl --help` print, and every snapctl command with its options, appears in the
# rendered page. (A new option without documentation fails here.)
# Usage: man_options.sh SNAPNETD SNAPNETD_PAGE SNAPCTL SNAPCTL_PAGE
set -eu
command -v groff >/dev/null || { echo "SKIP: groff not installed (groff-base)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
fail=0
check() { # PROGRAM PAGE
	name=$(basename "$1")
	"$1" --help >"$tmp/help"
	groff -man -Tascii -P-cbou "$2" >"$tmp/page" 2>/dev/null
	words=$(grep -o -- '--[a-z][a-z-]*' "$tmp/help" | sort -u)
	if [ "$name" = snapctl ]; then
		# Command lines of the help: two spaces, then the command and its options.
		words="$words $(sed -n 's/^  \([a-z][a-z-]*\)\( [a-z][a-z-]*\)\{0,1\}\( .*\)\{0,1\}$/\1/p' \
			"$tmp/help" | sort -u)"
	fi
	n=0
	for w in $words; do
		n=$((n + 1))
		grep -q -e "$w" "$tmp/page" || { echo "FAIL: $name: '$w' is not in $(basename "$2")"; fail=1; }
	done
	echo "$name: $n options and commands checked"
}
check "$1" "$2"
check "$3" "$4"
exit $fail
