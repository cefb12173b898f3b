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
outp=$(bash "$cg" --pony --snapbench "$SNAPBENCH" --snapnetd "$SNAPNETD")
echo "$outp" | tail -4
ipo=$(echo "$outp" | awk '/^instructions_per_op / {print $2}')
raw=$(echo "$outp" | awk '/^instructions_per_op_raw / {print $2}')
[ -n "$ipo" ] && [ -n "$raw" ] || { echo "FAIL: no Pony instructions_per_op lines"; exit 1; }
# One RPC on the engine path is a request sent and a reply received (app commands, framing,
# transport, acks): thousands of instructions, and the idle-poll correction cannot make it
# negative or larger than the raw figure.
python3 -c "import sys; v, r = map(float, sys.argv[1:]); sys.exit(0 if 300 <= v <= r and v <= 200000 else 1)" "$ipo" "$raw" ||
  { echo "FAIL: implausible Pony engine instructions per RPC: $ipo (raw $raw)"; exit 1; }
# Regression gate (issue 15): the engine path stays under its documented ceiling, and an
# RPC stays one packet each way (the reply carries the request's ack, the request the
# reply's ack and the credit). Measured 3,819-3,853 instructions and 1.00 packets on
# 2026-12-05 (callgrind counts are steady; the ceiling, 10% above, leaves room for
# run-to-run spread, not for a lost optimisation: before them it was 8,150 and 3 packets).
CEILING=${PONY_IPO_CEILING:-4200}
pk=$(echo "$outp" | awk '/^packets_per_op / {print $3}')
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) <= float(sys.argv[2]) else 1)" "$ipo" "$CEILING" ||
  { echo "FAIL: Pony engine instructions per RPC $ipo above the ceiling $CEILING"; exit 1; }
[ -z "$pk" ] || python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) <= 1.5 else 1)" "$pk" ||
  { echo "FAIL: $pk packets sent per RPC (one expected)"; exit 1; }
echo PASS
