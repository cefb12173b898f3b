#!/usr/bin/env bash
# Layer check over #include lines (see docs/ARCHITECTURE.md, "Layers"): the runtime core
# (core/, include/snap/) includes neither pony/ nor control/; pony/ does not include control/;
# public headers (include/) include no private one; the engine's private layout (core/engine_int.h) is included only by the runtime (core/)
# and tests, never by sched/ or any other module, which use the executor interface.
# Prints each violation as file:line: rule, and exits 1 if there is any (0 if none).
# Usage: tools/check_layers.sh [source root]   (default: the checkout this script is in)
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"

violations=0

# rule NAME, then the directories to scan and the include path pattern (ERE) they must not use.
rule() {
  local name=$1 pattern=$2; shift 2
  local hits
  hits=$(grep -rnE --include='*.c' --include='*.h' \
    "^[[:space:]]*#[[:space:]]*include[[:space:]]*\"(${pattern})" "$@" 2>/dev/null || true)
  [ -z "$hits" ] && return 0
  while IFS= read -r h; do
    # h is file:line:text
    local loc=${h%%:*} rest=${h#*:}
    printf '%s:%s: %s (%s)\n' "$loc" "${rest%%:*}" "$(echo "${rest#*:}" | sed -E 's/^[[:space:]]+//')" "$name"
    violations=$((violations + 1))
  done <<<"$hits"
}

existing() { for d in "$@"; do [ -d "$d" ] && printf '%s\n' "$d"; done; }

mapfile -t core < <(existing core include/snap)
mapfile -t pony < <(existing pony)
mapfile -t others < <(existing sched control elements pony tools include/pony)

[ ${#core[@]} -gt 0 ] && rule "runtime core includes pony/ or control/" 'pony/|control/' "${core[@]}"
[ ${#pony[@]} -gt 0 ] && rule "pony/ includes control/" 'control/' "${pony[@]}"
# Public headers (include/, included as "snap/X.h", "pony.h") never pull in a private one
# ("core/X.h" and the like): what an out-of-tree element or app sees is the public API only.
[ -d include ] && rule "public header includes a private one" 'core/|pony/|control/|sched/|elements/' include
[ ${#others[@]} -gt 0 ] && rule "private engine layout included outside the runtime" \
  'core/engine_int\.h' "${others[@]}"

if [ "$violations" -gt 0 ]; then
  echo "check_layers: $violations violation(s)" >&2
  exit 1
fi
echo "check_layers: ok"
