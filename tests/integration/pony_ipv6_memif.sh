#!/usr/bin/env bash
# Issue 17, IPv6 underlay: two daemons over memif whose ports have IPv4 and IPv6 addresses
# (no static IPv6 neighbours: Pony resolves its peer by NDP). Over UDP/IPv6: the checked RPC
# echo (pony_rpc, as pony_rpc_memif: random sizes up to 64 KiB on two streams plus large
# ones, every byte checked) and the one-sided ops with their error cases (pony_onesided_app,
# as pony_onesided_memif); meanwhile an IPv4 client of the same engines gets its echoes too.
# `snapctl flows` (text and JSON) shows the IPv6 peer next to the IPv4 one while both clients
# hold their streams (their idle phase).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pony_lib.sh"
OS_APP=${PONY_ONESIDED_APP:?PONY_ONESIDED_APP must point at pony_onesided_app}
N=${PONY_RPC_N:-20000}
PONY_IP6=1 pony_pair
start_app srv "$PONY_RPC" server -s "$T/run-a/app.sock" -m 1048576 -w 8
start_app tgt "$OS_APP" target -s "$T/run-a/app.sock"
wait_log "$T/srv.log" "listening" 10 || fail "server app did not start"
wait_log "$T/tgt.log" "^region " 10 || fail "target app did not register"
read -r _ R _ K _ R2 _ K2 <"$T/tgt.log"

# Both clients hold their streams (-I) until told (SIGUSR1, below): a fixed idle time let
# the quick IPv4 client leave before the flows were read while the IPv6 one was still busy.
start_app cli6 "$PONY_RPC" client -s "$T/run-b/app.sock" -i $P6A -n "$N" -m 65536 -S 2 -w 8 \
  -b 5 -B 1048576 -I 120 -T 60
start_app cli4 "$PONY_RPC" client -s "$T/run-b/app.sock" -i $PIPA -n 500 -m 4096 -S 1 -I 120 -T 60
wait_log "$T/cli6.log" "all echoed intact" 60 || { cat "$T/cli6.log"; fail "IPv6 client"; }
wait_log "$T/cli4.log" "all echoed intact" 60 || { cat "$T/cli4.log"; fail "IPv4 client"; }
cat "$T/cli6.log"
$SB flows >"$T/flows.txt" || fail "snapctl flows failed"
$SB --json flows >"$T/flows.json" || fail "snapctl --json flows failed"
cat "$T/flows.txt"
grep -q "\[$P6A\]:4793 .*established" "$T/flows.txt" || fail "snapctl flows: no IPv6 flow"
python3 - "$T/flows.json" "$P6A" "$PIPA" <<'PY' || fail "flows JSON not as expected"
import json, sys
fl = json.load(open(sys.argv[1])).get("flows", [])
v6 = [x for x in fl if x["peer"] == "[%s]:4793" % sys.argv[2]]
v4 = [x for x in fl if x["peer"] == "%s:4793" % sys.argv[3]]
assert len(v6) == 1 and v6[0]["state"] == "established", fl
assert len(v4) == 1, fl
c = {x["name"]: int(x["value"]) for x in v6[0].get("counters", [])}
assert c.get("tx_pkts", 0) > 0 and c.get("rx_pkts", 0) > 0 and c.get("streams", 0) == 2, c
print("flows: %s established (%d tx pkts) beside %s" % (v6[0]["peer"], c["tx_pkts"],
                                                        v4[0]["peer"]))
PY
nd=$(live_stat "$SB" pony0 pony nd_solicits)
[ "$nd" -ge 1 ] || fail "B's Pony never solicited its IPv6 peer (nd_solicits $nd)"
echo "B's Pony resolved its IPv6 peer by NDP ($nd solicitation(s))"

timeout 60 "$OS_APP" client -s "$T/run-b/app.sock" -i $P6A -r "$R:$K" -R "$R2:$K2" \
  -n "${PONY_ONESIDED_ROUNDS:-20}" >"$T/os.log" 2>&1 || { cat "$T/os.log"; fail "one-sided"; }
cat "$T/os.log"
ex=$(live_stat "$SA" pony0 pony os_executed)
[ "$ex" -gt 1000 ] || fail "os_executed on A is $ex"
pony_os_errors_check "$SA"
echo "A executed $ex one-sided ops from an IPv6 peer; each error counted once"
for p in cli6 cli4; do kill -USR1 "$(eval echo \$APP_$p)"; done
for p in cli6 cli4; do wait "$(eval echo \$APP_$p)" || fail "$p failed"; done
stop_daemon b
stop_daemon a
echo PASS
