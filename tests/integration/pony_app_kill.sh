#!/usr/bin/env bash
# Issue 5 item 3: an app on B with 1000 sends in flight (A's sink app grants no credit) is
# killed with SIGKILL. Daemon B must reclaim everything: its app gauges return to zero and
# its fd count to the baseline (memfd, eventfds, socket closed). A's sink app, which has
# sends pending toward the dead app's streams, sees every stream close and every pending
# send complete with an error.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pony_lib.sh"
pony_pair
start_app sink "$PONY_RPC" sink -s "$T/run-a/app.sock" -n 20
wait_log "$T/sink.log" "listening" 10 || fail "sink app did not start"
gauges() { # prints "sessions streams ops regions listens mapped_bytes" of daemon b
  local s
  s=$($SB stats pony0 2>/dev/null)
  for g in apps_sessions apps_streams apps_ops apps_regions apps_listens apps_mapped_bytes; do
    echo "$s" | awk -v c=$g '$2=="pony" && $3==c {v=$4} END {printf "%d ", v}'
  done
}
fds() { ls "/proc/$PID_b/fd" | wc -l; }
sleep 0.3
base_fds=$(fds)
echo "daemon b: gauges before the app: $(gauges); fds $base_fds"
start_app hold "$PONY_RPC" hold -s "$T/run-b/app.sock" -i $PIPA -n 1000
wait_log "$T/hold.log" "^HOLDING" 30 || { cat "$T/hold.log"; fail "app did not get 1000 ops in flight"; }
cat "$T/hold.log"
during=$(gauges)
echo "daemon b: gauges with the app holding: $during; fds $(fds)"
ops=$(echo "$during" | awk '{print $3}')
[ "$ops" -ge 1000 ] || fail "only $ops ops outstanding before the kill"
kill -KILL "$APP_hold"
t0=$(date +%s%N)
ok=0
for _ in $(seq 100); do
  if [ "$(gauges)" = "0 0 0 0 0 0 " ] && [ "$(fds)" -eq "$base_fds" ]; then ok=1; break; fi
  sleep 0.1
done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "daemon b after SIGKILL: gauges $(gauges); fds $(fds) (baseline $base_fds), after ${ms} ms"
[ $ok -eq 1 ] || fail "daemon b did not reclaim the killed app"
grep -q "detached" "$T/b.log" || fail "no detach logged"
for _ in $(seq 100); do kill -0 "$APP_sink" 2>/dev/null || break; sleep 0.1; done
kill -0 "$APP_sink" 2>/dev/null && { cat "$T/sink.log"; fail "sink still waits for its ops"; }
wait "$APP_sink" || { cat "$T/sink.log"; fail "sink's pending ops did not all fail"; }
tail -n 1 "$T/sink.log"
$SB apps | grep -q "^app" && fail "snapctl apps still lists an app"
stop_daemon b
stop_daemon a
echo PASS
