#!/usr/bin/env bash
# Issue 5 item 1: two daemons over memif, the checking echo server app on A, the client app
# on B: PONY_RPC_N (100k) RPCs of log-uniform random sizes 1 B..64 KiB on two streams plus
# 20 of up to 1 MiB, every reply byte-identical and in order; then the same client blocks in
# pony_wait for 5 s and must use < 5% of a core. Also checks `snapctl flows` / `apps`.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pony_lib.sh"
N=${PONY_RPC_N:-100000}
pony_pair
start_app srv "$PONY_RPC" server -s "$T/run-a/app.sock" -m 1048576 -w 8
wait_log "$T/srv.log" "listening" 10 || fail "server app did not start"

# Control methods while a client is attached and its flow is up.
start_app cli "$PONY_RPC" client -s "$T/run-b/app.sock" -i $PIPA -n "$N" -m 65536 -S 2 -w 8 \
  -b 20 -B 1048576 -I 5 -T 150
wait_log "$T/cli.log" "all echoed intact" 150 || fail "client did not finish the RPCs"
$SB flows >"$T/flows.txt" || fail "snapctl flows failed"
$SB --json flows >"$T/flows.json" || fail "snapctl --json flows failed"
$SB apps >"$T/apps.txt" || fail "snapctl apps failed"
$SB --json apps >"$T/apps.json" || fail "snapctl --json apps failed"
cat "$T/flows.txt" "$T/apps.txt"
python3 - "$T/flows.json" "$T/apps.json" $PIPA <<'PY' || fail "flows/apps JSON not as expected"
import json, sys
fl = json.load(open(sys.argv[1])).get("flows", [])
ap = json.load(open(sys.argv[2])).get("apps", [])
f = [x for x in fl if x["peer"].startswith(sys.argv[3] + ":")]
assert len(f) == 1 and f[0]["state"] == "established", fl
c = {x["name"]: int(x["value"]) for x in f[0].get("counters", [])}
assert c.get("tx_pkts", 0) > 0 and c.get("rx_pkts", 0) > 0 and c.get("streams", 0) == 2, c
assert len(ap) == 1 and ap[0]["pid"] > 0 and ap[0]["engine"] == "pony0", ap
a = {x["name"]: int(x["value"]) for x in ap[0].get("counters", [])}
assert a.get("streams", 0) == 2 and a.get("cmds", 0) > 0, a
print("flows/apps: flow to %s established (%d tx pkts, srtt %s us), app pid %d" %
      (sys.argv[3], c["tx_pkts"], c.get("srtt_us"), ap[0]["pid"]))
PY

# Idle phase: the client blocks; measure the daemon's CPU over the same window too.
d0=$(cpu_ticks "$PID_b"); t0=$(date +%s.%N)
for _ in $(seq 150); do kill -0 "$APP_cli" 2>/dev/null || break; sleep 0.1; done
kill -0 "$APP_cli" 2>/dev/null && fail "client still running after its idle phase"
wait "$APP_cli" || fail "client failed (rc $?)"
d1=$(cpu_ticks "$PID_b"); t1=$(date +%s.%N)
cat "$T/cli.log"
pct=$(awk '/^IDLE_CPU_PCT/ {print $2}' "$T/cli.log")
[ -n "$pct" ] || fail "no idle CPU figure"
dpct=$(awk -v a="$d0" -v b="$d1" -v s="$t0" -v e="$t1" -v hz="$(getconf CLK_TCK)" \
  'BEGIN {printf "%.1f", (b - a) / hz / (e - s) * 100}')
echo "idle client: ${pct}% of a core (limit 5%); daemon b meanwhile: ${dpct}% (all its threads)"
awk -v p="$pct" 'BEGIN {exit !(p < 5)}' || fail "blocked client used ${pct}% CPU"
stop_daemon b
stop_daemon a
for k in retransmits timeouts msgs_tx msgs_rx; do
  echo "b pony $k: $(counter "$T/b.log" pony0 pony $k)"
done
echo PASS
