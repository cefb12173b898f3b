#!/usr/bin/env bash
# memif links come back by themselves: the CLIENT daemon starts first (no server socket yet)
# and connects when the server daemon starts 2 s later; then the server is killed (SIGKILL,
# leaving its socket file behind) and started again, and the client reconnects. Pings from
# the client's engine (icmp_ping) must flow after each start within a bounded time, and the
# client's port must count the reconnects (snapctl ports --json). The server's new socket
# file, not the back-off, sets the client trying; a flood of events on that file cannot
# make it try more often than the back-off would.
# `memif_reconnect.sh zc`: the client in memif zero-copy mode (core/portzc.c), its socket in a
# directory of the daemons' user; both reconnects must work there too (DPDK 22.11's PMD
# closed the EAL's memory fd at the first disconnect, so none did) without leaking an fd
# per attempt.
# Both ports have rx_interrupts (memif kicks, core/portkick.c): the client's engine sleeps
# between pings, and after each reconnect must notice its kick fd went stale and take the
# new connection's (kick_renews), or it would sleep through the pings but for its guard.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/host_conf.sh"
SNAPCTL=${SNAPCTL:?SNAPCTL must point at the snapctl binary}
as_nobody # no privilege is needed, also not to replace a stale socket
SOCK=$T/memif.sock ZC=""
if [ "${1:-}" = zc ]; then
  # Zero-copy wants a directory only root or the daemons' user may write.
  mkdir -m 755 "$T/sd"
  [ ${#AS_USER[@]} -eq 0 ] || chown nobody "$T/sd"
  SOCK=$T/sd/memif.sock ZC="zero_copy = true;"
fi
MA=02:00:00:00:0e:01 MB=02:00:00:00:0e:02
port() { # role mac ip peer-ip peer-mac
  echo "type = \"memif\"; role = \"$1\"; socket = \"$SOCK\"; mac = \"$2\";
        ip = \"$3/24\"; neighbours = ( { ip = \"$4\"; mac = \"$5\"; } ); rx_interrupts = true;"
}
host_conf ra "$(port server $MA 10.89.0.1 10.89.0.2 $MB)" >"$T/a.conf"
host_conf rb "$(port client $MB 10.89.0.2 10.89.0.1 $MA) $ZC" \
  ', { name = "ping"; type = "icmp_ping"; port = "p0"; dst = "10.89.0.1"; interval_us = 10000; count = 100000; }' \
  ', "ping.other -> echo", "ping.tx -> tx"' "ip.icmp -> ping" >"$T/b.conf"
CB="$SNAPCTL --socket $T/run-rb/control.sock"

received() { $CB stats host | awk '$1=="host" && $2=="ping" && $3=="received" {print $4}'; }
port_field() { # NAME: a numeric or boolean field of port p0 from `snapctl --json ports`
  $CB --json ports p0 | grep -o "\"$1\":[a-z0-9]*" | cut -d: -f2
}
# wait_pings MIN SECS: until MIN more replies than now arrived (prints the milliseconds taken).
wait_pings() {
  local base t0 now
  base=$(received); t0=$(date +%s%N)
  for _ in $(seq $(($2 * 10))); do
    now=$(received)
    if [ "$now" -ge $((base + $1)) ]; then
      echo "$(( ($(date +%s%N) - t0) / 1000000 ))"
      return 0
    fi
    sleep 0.1
  done
  return 1
}
# The killed server's DPDK runtime directory is not removed by anyone else.
dpdk_dirs() { ls -d /var/run/dpdk/snap-ra$$ /tmp/dpdk/snap-ra$$ "${XDG_RUNTIME_DIR:-/nonexistent}"/dpdk/snap-ra$$ 2>/dev/null || true; }
CLEANUPS+=('rm -rf $(dpdk_dirs)')

# 1. The client starts alone: it must come up (READY) with its link down, and keep trying.
start_daemon b "$T/b.conf" "${AS_USER[@]}"
grep -q "memif server socket .* does not answer yet" "$T/b.log" || fail "client did not say it waits"
sleep 2
[ "$(port_field link_up)" = "false" ] || fail "client link up with no server"
tries=$(port_field reconnect_attempts)
echo "client alone for 2 s: link down, $tries connection attempts"
fds0=$(ls "/proc/$PID_b/fd" | wc -l)
if [ -n "$ZC" ]; then
  [ "$(port_field zero_copy)" = "true" ] || fail "the client's port is not zero-copy"
fi
[ "$tries" -ge 3 ] && [ "$tries" -le 10 ] || fail "expected 3-10 attempts in 2 s (back-off 0.1-1 s), got $tries"

# 2. The server starts: within 5 s pings flow.
start_daemon a "$T/a.conf" "${AS_USER[@]}"
ms=$(wait_pings 20 5) || fail "no pings answered within 5 s of the server's start"
r1=$(port_field reconnects)
echo "server started: 20 replies after $ms ms; client reconnects=$r1"
[ "$r1" -eq 1 ] || fail "client reconnects=$r1 after its first connection (want 1)"
# The server's new socket file, not the back-off (at 0.8-1 s by now), set the client trying
# (a watch on the socket's directory).
grep -q "the server's socket .*memif.sock appeared: connecting now" "$T/b.log" ||
  fail "the client was not hurried by the server's socket"

# 3. SIGKILL the server: its socket file stays; the client sees the link go down.
kill -KILL "$PID_a"
wait "$PID_a" 2>/dev/null || true
[ -S "$SOCK" ] || fail "the killed server's socket file is gone: the stale case is not tested"
for _ in $(seq 30); do [ "$(port_field link_up)" = "false" ] && break; sleep 0.1; done
[ "$(port_field link_up)" = "false" ] || fail "client link still up 3 s after the server died"
# 3b. Hostile churn: whoever may write the socket's directory makes it send events for the
# socket's name as fast as it can (here: 2,000 touches of the stale file, IN_ATTRIB each).
# A kick is taken at most once a gap that starts at 100 ms and doubles to 1 s while kicks
# bring no link, and each grants at most the 4 quick tries and the attempt that ends them
# (besides the back-off's own, one a 100 ms at most): attempts stay bounded by the time the
# churn took, not by its events, and the control socket keeps answering.
a0=$(port_field reconnect_attempts) t0=$(date +%s%N)
for _ in $(seq 2000); do touch "$SOCK"; done
sleep 0.3
a1=$(port_field reconnect_attempts) ms=$(( ($(date +%s%N) - t0) / 1000000 ))
kicks=0 t=0 gap=100
while [ $t -le $ms ]; do kicks=$((kicks + 1)) t=$((t + gap)) gap=$((gap * 2 > 1000 ? 1000 : gap * 2)); done
most=$(( (kicks + 1) * 5 + ms / 100 + 1 ))
echo "2000 events on the socket's name in $ms ms: $((a1 - a0)) connection attempts (at most $most)"
[ $((a1 - a0)) -le $most ] || fail "socket-file churn drove $((a1 - a0)) attempts in $ms ms (more than $most)"
sleep 1.2

# 4. The server starts again (replacing its stale socket): pings flow again within 5 s.
mv "$T/a.log" "$T/a-killed.log"
start_daemon a "$T/a.conf" "${AS_USER[@]}"
grep -q "removed stale memif socket" "$T/a.log" || fail "restarted server did not replace its stale socket"
ms=$(wait_pings 20 5) || fail "no pings answered within 5 s of the server's restart"
r2=$(port_field reconnects)
tries=$(port_field reconnect_attempts)
echo "server restarted: 20 replies after $ms ms; client reconnects=$r2, attempts=$tries"
[ "$r2" -eq $((r1 + 1)) ] || fail "client reconnects went from $r1 to $r2 (want $((r1 + 1)))"
[ "$(grep -c "memif link down" "$T/b.log")" -eq 1 ] || fail "client logged the outage more than once"
[ "$(grep -c "memif link up after" "$T/b.log")" -eq 2 ] || fail "client did not log both connections"
# Said once an outage, however many events (the second outage's churn included).
kicks=$(grep -c "the server's socket .*memif.sock appeared: connecting now" "$T/b.log")
[ "$kicks" -eq 2 ] || fail "client said it was hurried $kicks times (want 2, once an outage)"

fds1=$(ls "/proc/$PID_b/fd" | wc -l)
echo "client's open fds: $fds0 while alone, $fds1 after $tries attempts and 2 connections"
[ "$fds1" -le $((fds0 + 8)) ] || fail "the client's fds grew from $fds0 to $fds1 (a leak per attempt?)"
stop_daemon b || fail "daemon b did not exit cleanly"
stop_daemon a || fail "daemon a did not exit cleanly"
sent=$(counter "$T/b.log" host ping sent)
recv=$(counter "$T/b.log" host ping received)
down=$(counter "$T/b.log" host tx drop_port_stopped)
replies=$(counter "$T/a.log" host echo to_out)
echo "b sent $sent echo requests, received $recv replies ($down dropped while its port was stopped); restarted a answered $replies"
[ "$replies" -ge 20 ] || fail "restarted server answered only $replies"
wakes=$(counter "$T/b.log" host rx kick_wakes)
renews=$(counter "$T/b.log" host rx kick_renews)
echo "client woken by $wakes kicks; kick fd renewed $renews times"
[ "$wakes" -gt 0 ] || fail "the client's engine was never woken by a kick"
[ "$renews" -ge 1 ] || fail "the client kept its first connection's kick fd"
[ "$down" -gt 0 ] || fail "no packet dropped as port_stopped: was the port ever stopped?"
[ "$(grep -c "memif_connect_client(): Failed to connect" "$T/b.log")" -le 2 ] \
  || fail "the PMD logged every failed attempt"
echo PASS
