#!/usr/bin/env bash
# Issue 17: `snapctl ports` (text and --json) shows every port's queues, their owners and
# the device's capabilities, for each port kind the tests use that one daemon can hold alone:
# null (4 queues: the null PMD offers RSS, so RSS is configured), ring, memif (server),
# tap, af_packet (a veth) and vhost (server); and a port asking for more queues than its
# device has is refused with the device's limit, and so is a jumbo af_packet port whose veth
# peer keeps a smaller MTU. Run inside a test-made namespace. Needs root.
. "$(dirname "$0")/lib.sh"
need_root
NS=pcaps$$
netns $NS
ip -n $NS link add pcv0 type veth peer name pcv1
ip -n $NS link set pcv0 up
ip -n $NS link set pcv1 up
cat >"$T/caps.conf" <<CONF
daemon = { name = "pcaps$$"; run_dir = "$T/run"; memory_mb = 256; };
ports = (
  { name = "nul"; type = "null"; queues = 4; ip = "10.57.0.1/24"; },
  { name = "rng"; type = "ring"; },
  { name = "mem"; type = "memif"; role = "server"; socket = "$T/memif.sock"; },
  { name = "tap"; type = "tap"; iface = "pctap0"; },
  { name = "afp"; type = "af_packet"; iface = "pcv0"; },
  { name = "vho"; type = "vhost"; role = "server"; socket = "$T/vhost.sock"; queues = 2; }
);
engines = ( {
  name = "e0";
  elements = (
    { name = "rx0"; type = "port_rx"; port = "nul"; queue = 0; },
    { name = "rx3"; type = "port_rx"; port = "nul"; queue = 3; },
    { name = "drop"; type = "drop"; }
  );
  links = ( "rx0 -> drop", "rx3 -> drop" );
} );
CONF
start_daemon caps "$T/caps.conf" ip netns exec $NS
grep -q "port nul: rx queue(s) 1 2 polled by no engine" "$T/caps.log" ||
  fail "no warning for the rx queues nobody polls"
S="$SNAPCTL --socket $T/run/control.sock"
$S ports | tee "$T/ports.txt"
grep -q "queues (rx/tx owner): 0:e0/- 1:-/- 2:-/- 3:e0/-" "$T/ports.txt" ||
  fail "snapctl ports does not show the null port's queue owners"
$S --json ports >"$T/ports.json" || fail "snapctl --json ports failed"
python3 - "$T/ports.json" <<'PY' || fail "ports JSON lacks capabilities"
import json, sys
ports = {p["name"]: p for p in json.load(open(sys.argv[1]))["ports"]}
assert sorted(ports) == ["afp", "mem", "nul", "rng", "tap", "vho"], sorted(ports)
for n, p in sorted(ports.items()):
    for k in ("max_rx_queues", "max_tx_queues", "min_mtu", "max_mtu", "rx_interrupts"):
        assert k in p, (n, k, p)
    assert p["max_rx_queues"] >= p["n_rxq"] >= 1 and p["max_mtu"] >= p["min_mtu"], (n, p)
    print("%s (%s): %d queue(s) of max %d, mtu %d-%d, rx interrupts %s, rss offered %s, "
          "configured %s, rx offloads %s, tx offloads %s" %
          (n, p["kind"], p["n_rxq"], p["max_rx_queues"], p["min_mtu"], p["max_mtu"],
           p["rx_interrupts"], ",".join(p.get("rss_offered", [])) or "-",
           ",".join(p.get("rss", [])) or "-", ",".join(p.get("rx_offloads", [])) or "-",
           ",".join(p.get("tx_offloads", [])) or "-"))
nul = ports["nul"]
assert nul["n_rxq"] == 4 and nul["rxq_owner"] == ["e0", "", "", "e0"], nul
assert "ipv4-udp" in nul.get("rss", []), nul   # RSS over IP + UDP ports configured
assert ports["vho"]["n_rxq"] == 2, ports["vho"]
for n in ("rng", "mem", "afp", "vho"):
    assert not ports[n].get("rss"), (n, ports[n])  # no RSS offered: senders pick queues
PY
stop_daemon caps || fail "daemon did not exit cleanly"

# More queues than the device has: refused at start, naming the device's limit (af_packet
# made to open one queue pair by a devargs override).
cat >"$T/many.conf" <<CONF
daemon = { name = "pcapm$$"; run_dir = "$T/run"; memory_mb = 128; };
ports = ( { name = "afp"; type = "af_packet"; iface = "pcv0"; queues = 2; devargs = "qpairs=1"; } );
CONF
rc=0
ip netns exec $NS "$SNAPNETD" -c "$T/many.conf" >"$T/many.log" 2>&1 || rc=$?
grep "2 queues configured" "$T/many.log" || true
want="port afp: 2 queues configured but the af_packet device has at most 1 rx / 1 tx queues"
[ $rc -ne 0 ] && grep -q "$want" "$T/many.log" ||
  fail "more queues than the device has: rc $rc, no clear error"

# A jumbo af_packet port on a veth whose peer (here, in the same namespace) keeps 1,500:
# refused, naming the peer, since every bigger frame it refused would stall the port's
# transmit ring; with the peer at 9,000 the port starts and sets its own side.
cat >"$T/jumbo.conf" <<CONF
daemon = { name = "pcapj$$"; run_dir = "$T/run"; memory_mb = 256; };
ports = ( { name = "afp"; type = "af_packet"; iface = "pcv0"; mtu = 9000; } );
CONF
rc=0
ip netns exec $NS "$SNAPNETD" -c "$T/jumbo.conf" >"$T/jumbo.log" 2>&1 || rc=$?
want="port afp: pcv0's veth peer pcv1 has MTU 1500, under the port's 9000"
[ $rc -ne 0 ] && grep -q "$want" "$T/jumbo.log" ||
  fail "a veth peer with a smaller MTU: rc $rc, no clear error ($(tail -n 2 "$T/jumbo.log"))"
grep -h "veth peer" "$T/jumbo.log"
ip -n $NS link show pcv0 | grep -q "mtu 1500 " || fail "the refused port changed pcv0's MTU"
ip -n $NS link set pcv1 mtu 9000
start_daemon jumbo "$T/jumbo.conf" ip netns exec $NS
ip -n $NS link show pcv0 | grep -q "mtu 9000 " || fail "pcv0's MTU was not set to 9000"
stop_daemon jumbo || fail "daemon did not exit cleanly"
echo PASS
