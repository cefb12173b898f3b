#!/bin/sh
# Render each manual page given with groff (man macros, every warning on) and with man -l:
# any warning, or a page without its NAME section, fails.
# Usage: man_render.sh PAGE...
set -eu
command -v groff >/dev/null || { echo "SKIP: groff not installed (groff-base)"; exit 77; }
command -v man >/dev/null || { echo "SKIP: man not installed (man-db)"; exit 77; }
err=$(mktemp)
trap 'rm -f "$err"' EXIT INT TERM
fail=0
for page in "$@"; do
	if ! groff -man -Tutf8 -ww -z "$page" 2>"$err" || [ -s "$err" ]; then
		echo "FAIL: groff warns on $page:"; cat "$err"; fail=1
	fi
	out=$(MANWIDTH=80 man --warnings -P cat -l "$page" 2>"$err") || { echo "FAIL: man -l $page"; fail=1; }
	if [ -s "$err" ]; then
		echo "FAIL: man warns on $page:"; cat "$err"; fail=1
	fi
	printf '%s\n' "$out" | grep -q '^NAME' || { echo "FAIL: $page has no NAME section"; fail=1; }
	echo "ok: $(basename "$page") ($(printf '%s\n' "$out" | wc -l) lines)"
done
exit $fail
