#!/usr/bin/env bash
# bench-quick: tools/bench/callgrind.sh must report plausible instructions-per-RPC figures
# for the kernel TCP client's per-RPC path (--demo, loopback) and for Pony's engine path
# (--pony: two daemons over memif). No root needed.
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

: "${SNAPNETD:?SNAPNETD must point at the snapnetd binary}"
outp=$(bash "$cg" --pony --snapbench "$SNAPBENCH" --snapnetd "$SNAPNETD" --ops 1000)
echo "$outp" | tail -4
ipo=$(echo "$outp" | awk '/^instructions_per_op / {print $2}')
raw=$(echo "$outp" | awk '/^instructions_per_op_raw / {print $2}')
[ -n "$ipo" ] && [ -n "$raw" ] || { echo "FAIL: no Pony instructions_per_op lines"; exit 1; }
# One RPC on the engine path is a request sent and a reply received (app commands, framing,
# transport, acks): thousands of instructions, and the idle-poll correction cannot make it
# negative or larger than the raw figure.
python3 -c "import sys; v, r = map(float, sys.argv[1:]); sys.exit(0 if 300 <= v <= r and v <= 200000 else 1)" "$ipo" "$raw" ||
  { echo "FAIL: implausible Pony engine instructions per RPC: $ipo (raw $raw)"; exit 1; }
echo PASS
