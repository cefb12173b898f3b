#!/usr/bin/env bash
# NUMA placement check over allocation sites (issue 17): the files that build what an engine
# owns (the engine and its elements, Pony's transport, one-sided, auth and app tables)
# allocate through snap_numa_calloc (include/snap/numa.h), which takes the engine's node and
# lets tests/unit/test_numa.c see it. A plain malloc/calloc/realloc/strdup or a direct
# rte_*malloc call there is a table that would land wherever the calling thread runs.
# Prints each hit as file:line: text and exits 1 if there is any (0 if none).
# Usage: tools/check_numa.sh [source root]   (default: the checkout this script is in)
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"

# Engine-owned code. Not listed: control-thread objects (pony/app_attach.c connections,
# core/element.c argument sets and save buffers, sched/ records).
files=(core/engine.c elements/*.c pony/transport.c pony/onesided*.c pony/auth*.c pony/flow*.c
       pony/stream.c pony/rxwin.c pony/cc.c pony/elem.c pony/wire.c pony/cookie.c pony/app.c
       pony/app_cmd.c pony/app_upcall.c pony/app_save.c)
# Known exceptions, by text: the scratch copies a restore decodes a saved blob into, checked
# and freed before it returns (app_save.c's session image, onesided_save.c's tables); an
# engine's description text (control thread only, read at upgrades).
allow='^(pony/app_save\.c:[0-9]+:[[:space:]]*si->[a-z]+ = calloc\(|pony/onesided_save\.c:[0-9]+:[[:space:]]*im->owned\[t\] = calloc\(|core/engine\.c:[0-9]+:.*\(d = strdup\(desc\)\))'

hits=$(grep -nE '(^|[^_a-z])(malloc|calloc|realloc|strdup|rte_[a-z]*alloc[a-z_]*)[[:space:]]*\(' \
       "${files[@]}" | grep -vE "$allow" || true)
if [ -n "$hits" ]; then
  echo "$hits"
  echo "check_numa: engine-owned tables must come from snap_numa_calloc (include/snap/numa.h)"
  exit 1
fi
echo "check_numa: ${#files[@]} files, every engine-owned allocation goes through snap_numa_calloc"
