#!/usr/bin/env bash
# Issue 14 items 2 and 3: the Pony transport against a hostile network peer with no key.
# Two daemons with af_packet ports in namespaces joined by a bridge (pony_bridge_pair); the
# attacker (pony_attacker.py) runs in the bridge's namespace, as 10.94.0.9 on br0 for the
# floods and as an on-path sniffer/injector on the bridge ports for `forge`. While it
# attacks daemon A, an app on B completes 1,000 checked RPCs with the server app on A; the
# attacker's share is then checked against its budget with A's counters:
#   synflood   96 source ports, SYN/PROBE every 50 ms: A holds at most max_flows_per_peer
#              (8) of its flows at any time (refused_flow_budget counts the rest).
#   openflood  1,030 OPENs to an unlistened service, never acked: no stream is allocated
#              (refused_no_listener, refuse_deferred); the flow is failed (ack_timeouts).
#   osflood    600 wrong-key one-sided READs, never acked: at most 32 response buffers are
#              taken (os_resp_budget counts the rest).
#   forge      SYN with another flow id, RSTs with the ids but a stale seq, DATA beyond the
#              window, spoofed into both ends: no flow fails (challenge_ack_tx, rst_bad_seq,
#              out_of_window).
# Usage: pony_flood.sh MODE. Needs root (namespaces, packet sockets) and python3.
. "$LIBDIR/lib.sh"
. "$LIBDIR/pony_lib.sh"
MODE=${1:?usage: pony_flood.sh synflood|openflood|osflood|forge}
need_root
command -v python3 >/dev/null || skip "needs python3"
ATK=$(cd "$(dirname "$0")" && pwd)/pony_attacker.py
DUR=${PONY_ATTACK_S:-8}
N=1000

pony_bridge_pair
ip -n $BR addr add 10.94.0.9/24 dev br0
start_app srv "$PONY_RPC" server -s "$T/run-a/app.sock" -m 4096 -w 8
wait_log "$T/srv.log" "listening" 10 || fail "server app did not start"

if [ "$MODE" = forge ]; then
  # The attacker needs a flow to sniff: a first app holds a stream open (idle, so the flow
  # is kept alive by probes), the injector learns the flow, then the checked RPCs run on
  # the same flow while it injects.
  start_app hold "$PONY_RPC" client -s "$T/run-b/app.sock" -i 10.94.0.1 -n 10 -m 64 -S 1 \
    -I $((DUR + 5)) -T 60
  wait_log "$T/hold.log" "all echoed intact" 20 || fail "the first client did not connect"
  start_app atk ip netns exec $BR python3 -u "$ATK" forge $KB1 $KB2 "$DUR"
  wait_log "$T/atk.log" "sniffed" 10 || fail "the attacker saw no flow"
  start_app cli "$PONY_RPC" client -s "$T/run-b/app.sock" -i 10.94.0.1 -n $N -m 4096 -S 1 \
    -w 8 -T 120
else
  start_app atk ip netns exec $BR python3 "$ATK" "$MODE" 10.94.0.9 10.94.0.1 "$DUR"
  sleep 1 # the flood is on
  start_app cli "$PONY_RPC" client -s "$T/run-b/app.sock" -i 10.94.0.1 -n $N -m 4096 -S 1 \
    -w 8 -T 120
fi

# While both run: the attacker's flows and streams at A, sampled.
max_flows=0 max_streams=0
while kill -0 "$APP_atk" 2>/dev/null; do
  if $SA --json flows >"$T/flows.json" 2>/dev/null; then
    read -r nf ns < <(python3 - "$T/flows.json" <<'PY'
import json, sys
fl = [f for f in json.load(open(sys.argv[1])).get("flows", []) if f["peer"].startswith("10.94.0.9:")]
st = sum(int(c["value"]) for f in fl for c in f.get("counters", []) if c["name"] == "streams")
print(len(fl), st)
PY
)
    [ "$nf" -gt "$max_flows" ] && max_flows=$nf
    [ "$ns" -gt "$max_streams" ] && max_streams=$ns
  fi
  sleep 0.2
done
wait "$APP_atk" || fail "attacker failed (rc $?)"
wait "$APP_cli" || { cat "$T/cli.log"; fail "the legitimate client failed during the attack"; }
cat "$T/atk.log" "$T/cli.log"
grep -q "all echoed intact" "$T/cli.log" || fail "the legitimate client's RPCs did not complete"
stop_daemon b
stop_daemon a
ca() { counter "$T/a.log" pony0 pony "$1"; }
cb() { counter "$T/b.log" pony0 pony "$1"; }
echo "attacker at A: at most $max_flows flows, $max_streams streams"
for k in cookie_tx cookie_ok refused_flow_budget refused_stream_budget refused_no_listener \
  refuse_deferred challenge_ack_tx rst_bad_seq rst_rx out_of_window ack_invalid ack_timeouts \
  flows_failed rst_limited os_req_pkts_rx os_resp_budget os_no_buf; do
  echo "a $k $(ca $k)  b $k $(cb $k)"
done
case $MODE in
synflood)
  [ "$max_flows" -le 8 ] || fail "the attacker held $max_flows flows (budget 8)"
  [ "$(ca refused_flow_budget)" -gt 0 ] || fail "no refusal counted for the flow budget"
  [ "$(ca cookie_tx)" -gt 0 ] || fail "no cookie SYN_ACK counted"
  ;;
openflood)
  [ "$max_streams" -eq 0 ] || fail "the attacker held $max_streams streams"
  [ "$(ca refused_no_listener)" -gt 0 ] || fail "no refusal counted for the unlistened service"
  [ $(( $(ca refuse_deferred) + $(ca ack_timeouts) )) -gt 0 ] ||
    fail "neither deferral nor ack timeout bounded the never-acking flow"
  ;;
osflood)
  [ "$(ca os_req_pkts_rx)" -le $(( 32 * ($(ca ack_timeouts) + 1) )) ] ||
    fail "the attacker got $(ca os_req_pkts_rx) requests executed (32 per flow)"
  [ "$(ca os_resp_budget)" -gt 0 ] || fail "no request counted over the per-flow budget"
  [ "$(ca os_no_buf)" -eq 0 ] || fail "the shared response pool ran dry"
  ;;
forge)
  [ $(( $(ca flows_failed) + $(cb flows_failed) )) -eq 0 ] || fail "a forged packet failed a flow"
  [ $(( $(ca rst_rx) + $(cb rst_rx) )) -eq 0 ] || fail "a forged RST was accepted"
  [ $(( $(ca challenge_ack_tx) + $(cb challenge_ack_tx) )) -gt 0 ] || fail "no challenge ACK"
  [ $(( $(ca rst_bad_seq) + $(cb rst_bad_seq) )) -gt 0 ] || fail "no forged RST counted"
  [ $(( $(ca out_of_window) + $(cb out_of_window) )) -gt 0 ] || fail "no forged DATA counted"
  ;;
*) fail "unknown mode $MODE" ;;
esac
echo PASS
