#!/usr/bin/env bash
# Run one libFuzzer target for a bounded time over a scratch copy of its seed corpus (the
# committed seeds are never modified). A crash, leak, sanitizer report or timeout fails.
set -euo pipefail
exe=$1 seeds=$2 secs=$3
work=$(mktemp -d /tmp/snapfuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$work/artifacts"
[ -d "$seeds" ] && cp -r "$seeds"/. "$work/corpus/" 2>/dev/null || true
# -error_exitcode: libFuzzer's default (77) is meson's "skipped": a crash must fail.
"$exe" -max_total_time="$secs" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
  -error_exitcode=1 -timeout_exitcode=1 \
  -artifact_prefix="$work/artifacts/" "$work/corpus" 2>&1 | tail -n 25
rc=${PIPESTATUS[0]}
if [ "$rc" -ne 0 ]; then
  echo "fuzzer failed (rc=$rc); reproducer(s):"
  ls -l "$work/artifacts"
  for f in "$work/artifacts"/*; do [ -f "$f" ] && od -A x -t x1z "$f" | head -20; done
fi
exit "$rc"
