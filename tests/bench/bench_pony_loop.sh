#!/usr/bin/env bash
# bench-quick: snapbench's Pony backend against pony_loopd (the real app layer over a
# loopback transport double, one process, no root, no daemon pair): backpressure paths that
# the timed runs rarely reach. A closed loop with 150 RPCs in flight per stream runs into
# the per-stream send limit (64) on both sides, so the client defers RPCs until writable()
# and the echo server's refused echoes stay held in their receive buffers until the stream
# drains; then 1 MiB streaming (copy-in send buffers run out). Every run must finish with
# ops > 0 and no errors, and the server's summary must show no errors.
set -euo pipefail
: "${SNAPBENCH:?SNAPBENCH must point at the snapbench binary}"
: "${PONY_LOOPD:?PONY_LOOPD must point at pony_loopd}"
tmp=$(mktemp -d /tmp/sbloop.XXXXXX)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$tmp"/*.log; do echo "== $f"; tail -5 "$f"; done; exit 1; }

"$PONY_LOOPD" "$tmp/pony.sock" >"$tmp/loopd.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -S "$tmp/pony.sock" ] && break; sleep 0.1; done
[ -S "$tmp/pony.sock" ] || fail "pony_loopd did not start"
export PONY_SOCKET=$tmp/pony.sock
# pony_loopd runs the app layer with its defaults: 1,024 ops and 256 streams per app.
export SNAPBENCH_PONY_RX_OPS=512

# run LABEL SERVER-ARGS -- CLIENT-ARGS
run() {
  local label=$1 sargs=() cargs=()
  shift
  while [ "$1" != -- ]; do sargs+=("$1"); shift; done
  shift
  cargs=("$@")
  : >"$tmp/server-$label.log"
  "$SNAPBENCH" server --transport pony --port 5000 --duration 60 "${sargs[@]}" \
    >"$tmp/server-$label.json" 2>"$tmp/server-$label.log" &
  local spid=$!
  for _ in $(seq 100); do grep -q LISTENING "$tmp/server-$label.log" && break; sleep 0.05; done
  grep -q LISTENING "$tmp/server-$label.log" || fail "$label: server not listening"
  timeout 60 "$SNAPBENCH" client --transport pony --addr 127.0.0.1 --port 5000 \
    --duration 0.5 "${cargs[@]}" >"$tmp/$label.json" 2>"$tmp/$label.log" ||
    fail "$label: client failed"
  kill -TERM $spid
  wait $spid || fail "$label: server exit status"
  python3 - "$tmp/$label.json" "$tmp/server-$label.json" "$label" <<'PY' || fail "$label: results"
import json, sys
c = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
s = json.loads(open(sys.argv[2]).read().strip().splitlines()[-1])
print("%s: %d ops, %.0f ops/s, errors %d; server echoed %d sunk %d errors %d" % (
    sys.argv[3], c["ops"], c["ops_per_s"], c["errors"], s["echoed"], s["sunk"], s["errors"]))
assert c["ops"] > 0 and c["errors"] == 0 and s["errors"] == 0
PY
}

run closed300 --max-msg 64 --max-conns 2 -- --workload closed --size 64 --conns 2 --inflight 300
run stream1m --max-msg 1M --max-conns 1 -- --workload stream --size 1M
run conns200 --max-msg 64 --max-conns 200 -- --workload conns --size 64 --conns 200
echo PASS
