#!/usr/bin/env bash
# Upgrade benchmark: daemon B (memif client) with an attached app running checking echo RPCs
# (pony_rpc client, 2 streams x 8 in flight, 1 B..16 KiB) to the echo server app on daemon A
# is upgraded UPGRADES times (default 5) to a copy of snapnetd. Prints the blackout per
# engine (park in the old daemon -> running in the new; p50, max), the brownout (hello ->
# new daemon running; the new daemon's own EAL/port/engine start-up before its hello is not
# counted) and the app-visible worst RPC latency across the run.
# Usage: SNAPNETD=build/snapnetd SNAPCTL=build/tools/snapctl \
#        PONY_RPC=build/tests/integration/pony_rpc tools/bench/upgrade.sh
here=$(cd "$(dirname "$0")/../.." && pwd)
. "$here/tests/integration/lib.sh"
. "$here/tests/integration/pony_lib.sh"
K=${UPGRADES:-5}
N=${RPCS:-$(( (K + 2) * 60000 ))}
pony_pair
start_app srv "$PONY_RPC" server -s "$T/run-a/app.sock" -m 16384 -w 8
wait_log "$T/srv.log" "listening" 10 || fail "server app did not start"
start_app cli "$PONY_RPC" client -s "$T/run-b/app.sock" -i $PIPA -n "$N" -m 16384 -S 2 -w 8 -T 300
sleep 0.5
bpid() { $SB --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])'; }
: >"$T/blackouts"; : >"$T/brownouts"
for i in $(seq "$K"); do
  grep -q "all echoed" "$T/cli.log" && fail "RPCs ended before upgrade $i: raise RPCS"
  cp "$SNAPNETD" "$T/snapnetd-$i"
  $SB upgrade --binary "$T/snapnetd-$i" >"$T/up.out" 2>&1 || { cat "$T/up.out"; fail "upgrade $i failed"; }
  awk '/^engine [0-9]+ of [0-9]+: blackout/ {print $(NF-1)}' "$T/up.out" >>"$T/blackouts"
  awk '/^brownout/ {print $2}' "$T/up.out" >>"$T/brownouts"
  PIDS+=("$(bpid)")
  sleep 0.5
done
wait_log "$T/cli.log" "all echoed intact" 300 || { cat "$T/cli.log"; fail "RPCs did not finish"; }
stats() { sort -n | awk '{v[NR]=$1} END {printf "p50 %d us, max %d us (n=%d)", v[int((NR+1)/2)], v[NR], NR}'; }
echo "upgrades: $K of daemon B (1 Pony engine, 1 attached app with 2 streams)"
echo "blackout per engine: $(stats <"$T/blackouts")"
echo "brownout (hello -> new daemon running): $(stats <"$T/brownouts")"
echo "app: $(cat "$T/cli.log")"
