#!/usr/bin/env bash
# Issue 4 item 3, with a real link outage: two daemons over af_packet through a bridge
# namespace; mid-transfer the bridge port toward A goes down for 2 s (`ip link set down`).
# The flow must recover and every message come back exactly once, in order, intact. Needs
# root. (pony_outage.sh covers the same with a frozen peer, and a peer that never returns.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pony_lib.sh"
need_root
pony_bridge_pair "" "dead_timeout_us = 10000000;"
start_app srv "$PONY_RPC" server -s "$T/run-a/app.sock" -m 65536 -w 8
wait_log "$T/srv.log" "listening" 10 || fail "server app did not start"
# The client runs until told (SIGUSR1, at most 60 s): the outage must fall inside its
# transfer however long start-up takes on a busy host, so the link goes down only once B's
# engine has seen RPC replies arrive, and the client stops only once more arrived after the
# link came back.
"$PONY_RPC" client -s "$T/run-b/app.sock" -i 10.94.0.1 -n 100000000 -d 60 -M 1 -m 65536 -S 2 \
  -w 8 -x $$ -T 60 >"$T/cli.log" 2>&1 &
cli=$!
rx_b() { live_stat "$SB" pony0 pony rx_pkts; }
# progress_after N: B's engine received 1,000 packets more than N, within 20 s.
progress_after() {
  local i
  for i in $(seq 200); do
    [ "$(rx_b)" -gt $(($1 + 1000)) ] && return 0
    kill -0 $cli 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
progress_after 0 || { cat "$T/cli.log"; fail "no RPC traffic before the outage"; }
ip -n $BR link set $KB1 down
echo "link down at $(date +%T.%N | cut -c1-12)"
sleep 2
rx_up=$(rx_b)
ip -n $BR link set $KB1 up
echo "link up   at $(date +%T.%N | cut -c1-12)"
progress_after "$rx_up" || { cat "$T/cli.log"; fail "no RPC traffic after the link came back"; }
kill -USR1 $cli
wait $cli || { cat "$T/cli.log"; fail "the transfer did not survive the outage"; }
cat "$T/cli.log"
stop_daemon b
stop_daemon a
to=$(( $(counter "$T/a.log" pony0 pony timeouts) + $(counter "$T/b.log" pony0 pony timeouts) ))
failed=$(( $(counter "$T/a.log" pony0 pony flows_failed) + $(counter "$T/b.log" pony0 pony flows_failed) ))
max=$(sed -n 's/.*max \([0-9.]*\) ms.*/\1/p' "$T/cli.log")
echo "retransmission timeouts during the outage: $to; flows failed: $failed; max RPC latency ${max} ms"
[ "$to" -gt 0 ] || fail "no retransmission timeout: was the link really down?"
[ "$failed" -eq 0 ] || fail "a flow failed"
python3 -c "import sys; sys.exit(0 if float('$max') >= 1500 else 1)" || fail "max latency $max ms: the outage did not stall the stream"
echo PASS
