#!/usr/bin/env bash
# Live moves: host A's engine is moved between groups and its group's mode is switched
# while host B pings it every millisecond over memif AND an app on B runs a continuous
# checked echo RPC stream to an app on A through that engine's Pony transport. Moves park the
# engine at a safe point and its rx queue holds what arrives meanwhile, so no ping may go
# unanswered and every RPC must come back exactly once, in order, byte-identical.
. "$(dirname "$0")/lib.sh"
SNAPCTL=${SNAPCTL:?}
PONY_RPC=${PONY_RPC:?}
MA=02:00:00:00:0c:01 MB=02:00:00:00:0c:02
conf() { # name role mac ip peer-ip peer-mac groups extra-elements extra-links
  cat <<CONF
daemon = { name = "mv$1$$"; run_dir = "$T/run-$1"; memory_mb = 128; };
ports = ( { name = "m0"; type = "memif"; role = "$2"; socket = "$T/memif.sock"; mac = "$3";
            ip = "$4/24"; neighbours = ( { ip = "$5"; mac = "$6"; } ); } );
groups = ( $7 );
engines = ( {
  name = "host"; group = "g1";
  elements = (
    { name = "rx"; type = "port_rx"; port = "m0"; },
    { name = "eth"; type = "eth_classify"; port = "m0"; },
    { name = "arp"; type = "arp"; port = "m0"; },
    { name = "ip"; type = "ipv4_in"; port = "m0"; },
    { name = "echo"; type = "icmp_echo"; port = "m0"; },
    { name = "udp"; type = "udp_demux"; dport_4793 = "p0"; },
    { name = "pony"; type = "pony"; port = "m0"; },
    { name = "tx"; type = "port_tx"; port = "m0"; }$8
  );
  links = ( "rx -> eth", "eth.arp -> arp", "eth.ipv4 -> ip", "arp -> tx", "echo -> tx",
            "ip.udp -> udp", "udp.p0 -> pony", "pony.tx -> tx"$9 );
} );
CONF
}
conf a server $MA 10.89.0.1 10.89.0.2 $MB \
  '{ name = "g1"; mode = "spreading"; }, { name = "g2"; mode = "compacting"; }, { name = "g3"; mode = "dedicated"; }' \
  "" ', "ip.icmp -> echo"' >"$T/a.conf"
conf b client $MB 10.89.0.2 10.89.0.1 $MA '{ name = "g1"; mode = "spreading"; }' \
  ', { name = "ping"; type = "icmp_ping"; port = "m0"; dst = "10.89.0.1"; interval_us = 1000; count = 3000; }' \
  ', "ip.icmp -> ping", "ping.other -> echo", "ping.tx -> tx"' >"$T/b.conf"
start_daemon a "$T/a.conf"
start_daemon b "$T/b.conf"
S="$SNAPCTL --socket $T/run-a/control.sock"
sleep 1
"$PONY_RPC" server -s "$T/run-a/app.sock" -m 65536 -w 8 >"$T/srv.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do grep -q listening "$T/srv.log" 2>/dev/null && break; sleep 0.1; done
# Continuous RPCs for the whole move sequence (-d: stop issuing after 6 s).
"$PONY_RPC" client -s "$T/run-b/app.sock" -i 10.89.0.1 -n 10000000 -d 6 -M 1 -m 65536 -S 2 -w 8 \
  -x $$ -T 60 >"$T/cli.log" 2>&1 &
cli=$!
sleep 0.5
moves=0
for i in 1 2 3; do
  for g in g2 g3 g1; do
    $S engine move host --group $g >/dev/null || fail "engine move to $g failed"
    moves=$((moves + 1))
    sleep 0.1
  done
  for m in compacting dedicated spreading; do
    $S group set-mode g1 $m >/dev/null || fail "set-mode g1 $m failed"
    sleep 0.1
  done
done
$S --json engines >"$T/engines.json" || fail "snapctl engines failed"
python3 - "$T/engines.json" <<'PY' || fail "engines JSON: moves not counted"
import json, sys
e = [x for x in json.load(open(sys.argv[1]))["engines"] if x["name"] == "host"][0]
moves = {c["name"]: c["value"] for c in e.get("counters", [])}.get("moves", 0)
print("engine moves counted:", moves)
assert int(moves) >= 9, moves
PY
# Where it ended up, as `snapctl groups` shows it to people and to tools.
$S engine move host --group g2 >/dev/null || fail "engine move to g2 failed"
moves=$((moves + 1))
$S groups >"$T/groups.txt" || fail "snapctl groups failed"
cat "$T/groups.txt"
for w in NAME MODE THREADS ENGINES DEADLINE g1 g2 g3 spreading compacting dedicated host; do
  grep -q -- "$w" "$T/groups.txt" || fail "snapctl groups lacks '$w'"
done
grep -E '^g2 +compacting .*[0-9]+ \(max [0-9]+\) +host' "$T/groups.txt" >/dev/null \
  || fail "g2's row does not show its threads, its thread cap and engine host"
$S --json groups >"$T/groups.json" || fail "snapctl --json groups failed"
python3 - "$T/groups.json" <<'PY' || fail "groups JSON not as expected"
import json, sys
gs = {g["name"]: g for g in json.load(open(sys.argv[1]))["groups"]}
assert {"g1", "g2", "g3"} <= set(gs), gs.keys()
g2 = gs["g2"]
assert g2["mode"] == "compacting" and g2["engines"] == ["host"], g2
c = {x["name"]: int(x["value"]) for x in g2["counters"]}
assert c["moves"] >= 4 and "grows" in c and "p99_max_ns" in c and 1 <= c["thread_cap"] <= 4, c
assert gs["g1"]["mode"] == "spreading" and not gs["g1"].get("engines"), gs["g1"]
print("groups JSON: g2 compacting with host, moves", c["moves"], "thread_cap", c["thread_cap"])
PY
wait $cli || { cat "$T/cli.log"; fail "the RPC stream broke across live moves"; }
cat "$T/cli.log"
sleep 1 # the remaining pings (3000 at 1 ms) finish
stop_daemon b
stop_daemon a
sent=$(counter "$T/b.log" host ping sent)
recv=$(counter "$T/b.log" host ping received)
echo "during $moves moves and 9 mode changes: b sent $sent pings, received $recv replies"
[ "$sent" -eq 3000 ] || fail "b sent $sent of 3000 pings"
[ "$recv" -eq "$sent" ] || fail "lost $((sent - recv)) pings across live moves"
echo PASS
