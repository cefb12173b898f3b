#!/usr/bin/env bash
# Upgrade host A three times in a row (`snapctl upgrade --binary`, alternating between two
# separately built binaries with different build ids, snapnetd-next and snapnetd) while host B pings it every millisecond over memif (A is the memif client).
# Checks: each upgrade hands over every engine (new pid, same control socket, counters carried
# over: A's echo-path counter = replies B got), and prints the blackout figures.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib_up.sh"
PINGS=6000 up_setup

start_daemon b "$T/b.conf"
start_daemon a "$T/a.conf"
sleep 1
pid=$(a_pid)
lost_budget=0
for i in 1 2 3; do
  bin=$SNAPNETD_NEXT id=$("$SNAPNETD_NEXT" --version | sed 's/.*(build \(.*\))/\1/')
  [ $((i % 2)) -eq 0 ] && bin=$SNAPNETD id=$("$SNAPNETD" --version | sed 's/.*(build \(.*\))/\1/')
  SA upgrade --binary "$bin" >"$T/up$i.out" 2>&1 || { cat "$T/up$i.out"; fail "upgrade $i failed"; }
  cat "$T/up$i.out"
  new=$(a_pid) || fail "control socket does not answer after upgrade $i"
  [ "$new" != "$pid" ] || fail "upgrade $i: still pid $pid"
  grep -q "engine 2 of 2" "$T/up$i.out" || fail "upgrade $i: not every engine reported"
  grep -qF "(build $id)" "$T/up$i.out" || fail "upgrade $i: new build id $id not reported"
  SA status | grep -qF "build $id" || fail "upgrade $i: the daemon now serving is not build $id"
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && fail "old daemon $pid still running after upgrade $i"
  PIDS+=("$new")
  pid=$new
  SA engines | grep -q running || fail "no engine running after upgrade $i"
  sleep 0.5
done
sleep $(( ${PINGS:-6000} / 1000 - 2 ))
sleep 2
stop_daemon b
stop_a_any "$pid"
sent=$(counter "$T/b.log" host ping sent)
recv=$(counter "$T/b.log" host ping received)
cnt=$(counter "$T/a.log" host cnt packets)
echo "3 upgrades: b sent $sent pings, got $recv replies; a's counter (carried over 3 times): $cnt"
[ "$sent" -eq 6000 ] || fail "b sent $sent of 6000"
[ "$cnt" -ge "$recv" ] || fail "counter $cnt < replies $recv: state lost in a hand-over"
[ "$cnt" -le "$sent" ] || fail "counter $cnt > pings sent $sent"
[ $((sent - recv)) -le 600 ] || fail "lost $((sent - recv)) pings (more than 100 ms per upgrade)"
echo "pings lost at the link during 3 memif reconnects: $((sent - recv))"
echo PASS
