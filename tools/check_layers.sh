#!/usr/bin/env bash
# Layer check over #include lines (see docs/ARCHITECTURE.md, "Layers"): the runtime core
# (snap/, include/snap/) includes neither pony/ nor control/; pony/ does not include control/;
# the engine's private layout (snap/engine_int.h) is included only by the runtime (snap/)
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

mapfile -t core < <(existing snap include/snap)
mapfile -t pony < <(existing pony)
mapfile -t others < <(existing sched control engines pony tools include/pony)

[ ${#core[@]} -gt 0 ] && rule "runtime core includes pony/ or control/" 'pony/|control/' "${core[@]}"
[ ${#pony[@]} -gt 0 ] && rule "pony/ includes control/" 'control/' "${pony[@]}"
[ ${#others[@]} -gt 0 ] && rule "private engine layout included outside the runtime" \
  'snap/engine_int\.h' "${others[@]}"

if [ "$violations" -gt 0 ]; then
  echo "check_layers: $violations violation(s)" >&2
  exit 1
fi
echo "check_layers: ok"
