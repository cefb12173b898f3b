#!/usr/bin/env bash
# Issue 17, flow steering: daemon A owns a multi-queue tap port (in a namespace the test
# makes) with one Pony engine per queue sharing the port's address; at start it installs
# rte_flow rules (UDP port steer_udp_base + k*steer_udp_block -> rx queue k, TC flower in the
# kernel), and each engine gives the flows it opens the port of its own queue. Peer B (a
# second daemon, af_packet on a veth bridged with the tap's kernel side) runs the echo
# server; A's client apps, spread over A's engines, open 16 streams to it. Checks: `snapctl
# ports` shows steering "flow" and the rules; each engine's flows use its own port and its
# counters show only its own flows (no misdirected packet, no unknown flow); flows spread
# over the engines (none more than 2x another); every RPC intact.
# Where the kernel has no TC flower/skbedit (the tap PMD's rte_flow refused), the test
# checks that the refusal is logged and shown (steering none, the reason) and prints SKIP:
# no port kind here offers RSS to test the mapper with instead (memif, vhost/virtio-user and
# af_packet have none in DPDK 22.11; tap RSS needs rte_flow too); the mapper's queue choice
# is checked by the unit test `steer`. Bounded: RPCs for 2 s, clients give up after 30 s.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pony_lib.sh"
need_root
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tools/topo/netns.sh"
NQ=2
SECS=2
BASE=4864 BLOCK=256
topo_init st$$
topo_ns a
topo_ns b
NSA=$(topo_nsname a) NSB=$(topo_nsname b)
TAP=stap$$ MACA=02:00:00:00:0d:01 IPA=10.57.0.1 IPB=10.57.0.2
# B's af_packet veth end in b; its peer end in a, bridged there with the tap's kernel side.
topo_link a sva$$ - b svb$$ -
MACB=$(topo_mac b svb$$)

{
  cat <<CONF
daemon = { name = "sta$$"; run_dir = "$T/run-a"; memory_mb = 256; app_region_mb = 16; };
ports = ( { name = "t0"; type = "tap"; iface = "$TAP"; mac = "$MACA"; ip = "$IPA/24";
            queues = $NQ; steer_udp_base = $BASE; steer_udp_block = $BLOCK;
            neighbours = ( { ip = "$IPB"; mac = "$MACB"; } ); } );
engines = (
CONF
  pony_mq_engines t0 $NQ "" "dports_${BASE}_$((BASE + NQ * BLOCK - 1)) = \"p0\";" \
    'steer_ring = "st";' st
  echo ");"
} >"$T/a.conf"
start_daemon a "$T/a.conf" ip netns exec "$NSA"
SA="$SNAPCTL --socket $T/run-a/control.sock"
$SA ports | tee "$T/ports.txt"
$SA --json ports >"$T/ports.json" || fail "snapctl --json ports failed"
grep -q "steering .*rte_flow rules" "$T/ports.txt" || fail "snapctl ports shows no steering line"

if grep -q "rte_flow steering rules refused" "$T/a.log"; then
  why=$(sed -n 's/.*rte_flow steering rules refused (\(.*\)); steering by.*/\1/p' "$T/a.log" | head -1)
  python3 - "$T/ports.json" <<'PY' || fail "ports JSON does not show the refusal"
import json, sys
p = json.load(open(sys.argv[1]))["ports"][0]
assert p["steering"] == "none" and p.get("steer_rules", 0) == 0 and p["steer_refused"], p
assert p["steer_udp_base"] == 4864 and p["steer_udp_block"] == 256, p
print("ports JSON: steering %s, refused: %s" % (p["steering"], p["steer_refused"]))
PY
  grep -q "steering none; rte_flow rules 0; .*rules refused: " "$T/ports.txt" ||
    fail "snapctl ports does not show the refusal"
  [ "$(grep -c "port t0 (tap) spreads its $NQ queues by a hash we cannot predict" "$T/a.log")" \
    -eq $NQ ] || fail "no warning from each engine that it shares an unsteered port"
  stop_daemon a || fail "daemon did not exit cleanly"
  skip "the tap PMD's rte_flow rules are refused in this kernel ($why: needs TC flower," \
    "skbedit, multiq); refusal logged and shown, fallback none checked; no port kind here" \
    "offers RSS for the mapper path (memif, vhost/virtio-user, af_packet: none in DPDK" \
    "22.11); the unit tests steer and test_pony_steer check the mapper and the hand-off"
fi

# Rules installed: the full run.
python3 - "$T/ports.json" $NQ <<'PY' || fail "ports JSON does not show the rules"
import json, sys
p = json.load(open(sys.argv[1]))["ports"][0]
assert p["steering"] == "flow" and p["steer_rules"] == int(sys.argv[2]), p
PY
# The tap's kernel side: another MAC than the daemon's (the PMD gives it ours), bridged.
ip -n "$NSA" link set "$TAP" address 02:00:00:00:0d:02
ip -n "$NSA" link add br0 type bridge
ip -n "$NSA" link set "$TAP" master br0
ip -n "$NSA" link set sva$$ master br0
ip -n "$NSA" link set "$TAP" up
ip -n "$NSA" link set br0 up
# B: pony_lib's one-engine daemon, on an af_packet port in place of memif.
pony_conf b client "$MACB" $IPB $IPA $MACA |
  sed 's|type = "memif"; role = "client"; socket = "[^"]*";|type = "af_packet"; iface = "svb'$$'";|' \
  >"$T/b.conf"
grep -q 'type = "af_packet"; iface = "svb' "$T/b.conf" || fail "B's config not made"
start_daemon b "$T/b.conf" ip netns exec "$NSB"
SB="$SNAPCTL --socket $T/run-b/control.sock"
start_app srv "$PONY_RPC" server -s "$T/run-b/app.sock" -e pony0 -m 4096 -w 8
wait_log "$T/srv.log" "listening" 10 || fail "server app did not start"
# 4 clients with 4 streams each: "*" spreads them over A's engines (2 per engine).
for j in 0 1 2 3; do
  start_app cli$j "$PONY_RPC" client -s "$T/run-a/app.sock" -e '*' -i $IPB \
    -n 1000000 -d $SECS -m 4096 -S 4 -w 4 -x $((j + 1)) -I 5 -T 30
done
for j in 0 1 2 3; do
  wait_log "$T/cli$j.log" "all echoed intact" 30 || fail "client $j did not finish its RPCs"
done
# While the streams are open (-I): B sees one flow per A engine, from that engine's port.
$SB --json flows >"$T/flows_b.json" || fail "snapctl --json flows on B failed"
$SA --json flows >"$T/flows_a.json" || fail "snapctl --json flows on A failed"
python3 - "$T/flows_a.json" "$T/flows_b.json" $NQ $IPA <<'PY' || fail "flows not steered as expected"
import json, sys
fa = json.load(open(sys.argv[1])).get("flows", [])
fb = json.load(open(sys.argv[2])).get("flows", [])
nq, ipa = int(sys.argv[3]), sys.argv[4]
ports = sorted(f["peer"] for f in fb)
want = sorted("%s:%d" % (ipa, 4864 + k * 256) for k in range(nq))
assert ports == want, ("B's flows should come from each A engine's port", ports, want)
per = {}
for f in fa:
    c = {x["name"]: int(x["value"]) for x in f.get("counters", [])}
    k = int(f["engine"][len("pony"):])
    assert c["local_port"] == 4864 + k * 256, ("flow not on its engine's port", f)
    per[f["engine"]] = per.get(f["engine"], 0) + c.get("streams", 0)
assert sorted(per) == ["pony%d" % k for k in range(nq)], per
lo, hi = min(per.values()), max(per.values())
assert sum(per.values()) == 16 and lo > 0 and hi <= 2 * lo, per
print("B's flows from A's ports:", ports, "; A's streams per engine:", per)
PY
for j in 0 1 2 3; do
  eval "pid=\$APP_cli$j"
  wait "$pid" || fail "client $j failed (rc $?)"
done
stop_daemon b
stop_daemon a
bad=0
for k in $(seq 0 $((NQ - 1))); do
  mis=$(counter "$T/a.log" pony$k pony steer_misdirected)
  nf=$(counter "$T/a.log" pony$k pony no_flow)
  fc=$(counter "$T/a.log" pony$k pony flows_created)
  echo "a pony$k: flows_created $fc, steer_misdirected $mis, no_flow $nf"
  [ "$mis" -eq 0 ] && [ "$nf" -eq 0 ] && [ "$fc" -eq 1 ] || bad=1
done
[ $bad -eq 0 ] || fail "an engine saw another engine's flows"
echo PASS
