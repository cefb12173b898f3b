#!/usr/bin/env bash
# Upgrade benchmark: host A (memif client) is upgraded UPGRADES times (default 5) to a copy
# of snapnetd while host B pings it every millisecond. Prints the blackout per engine (p50,
# max), the brownout (hello to the new daemon running) and what B saw: the worst ping RTT
# across the run (the app-visible max op latency) and the pings lost while the memif link
# reconnected. Usage: SNAPNETD=build/snapnetd SNAPCTL=build/tools/snapctl tools/bench/upgrade.sh
here=$(cd "$(dirname "$0")/../.." && pwd)
. "$here/tests/integration/lib.sh"
. "$here/tests/upgrade/lib_up.sh"
K=${UPGRADES:-5}
PINGS=$(( (K + 3) * 1000 ))
up_setup
start_daemon b "$T/b.conf"
start_daemon a "$T/a.conf"
sleep 1
pid=$(a_pid)
: >"$T/blackouts" ; : >"$T/brownouts"
for i in $(seq "$K"); do
  cp "$SNAPNETD" "$T/snapnetd-$i"
  SA upgrade --binary "$T/snapnetd-$i" >"$T/up.out" 2>&1 || { cat "$T/up.out"; fail "upgrade $i failed"; }
  awk '/^engine [0-9]+ of [0-9]+: blackout/ {print $(NF-1)}' "$T/up.out" >>"$T/blackouts"
  awk '/^brownout/ {print $2}' "$T/up.out" >>"$T/brownouts"
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  pid=$(a_pid); PIDS+=("$pid")
  sleep 0.5
done
sleep $(( PINGS / 1000 - K / 2 ))
stop_daemon b
stop_a_any "$pid"
sent=$(counter "$T/b.log" host ping sent)
recv=$(counter "$T/b.log" host ping received)
rttmax=$(counter "$T/b.log" host ping rtt_max_ns)
stats() { sort -n | awk '{v[NR]=$1} END {printf "p50 %d us, max %d us (n=%d)", v[int((NR+1)/2)], v[NR], NR}'; }
echo "upgrades: $K, engines per upgrade: 2"
echo "blackout per engine: $(stats <"$T/blackouts")"
echo "brownout (hello -> new daemon running): $(stats <"$T/brownouts")"
echo "app-visible (B's 1 ms pings): lost $((sent - recv)) of $sent during $K memif reconnects; max RTT over the whole run $((rttmax / 1000)) us (includes the first pings while the link came up at start: ~440 ms with no upgrade at all)"
