#!/usr/bin/env bash
# bench-quick: tools/bench/callgrind.sh --demo must report a plausible instructions-per-RPC
# figure for the kernel TCP client's per-RPC path (loopback only; no root needed).
set -euo pipefail
: "${SNAPBENCH:?SNAPBENCH must point at the snapbench binary}"
command -v valgrind >/dev/null || { echo "SKIP: valgrind not installed"; exit 77; }
cg=$(cd "$(dirname "$0")/../../tools/bench" && pwd)/callgrind.sh
outp=$(bash "$cg" --demo --snapbench "$SNAPBENCH" --ops 3000)
echo "$outp" | tail -2
ipo=$(echo "$outp" | awk '/^instructions_per_op/ {print $2}')
[ -n "$ipo" ] || { echo "FAIL: no instructions_per_op line"; exit 1; }
# A user-space RPC turn is hundreds of instructions: outside [50, 100000] something is off
# (toggle on the wrong function, or the op count not matching the work collected).
python3 -c "import sys; v=float(sys.argv[1]); sys.exit(0 if 50 <= v <= 100000 else 1)" "$ipo" ||
  { echo "FAIL: implausible instructions per op: $ipo"; exit 1; }
echo PASS
