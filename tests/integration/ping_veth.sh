#!/usr/bin/env bash
# Foundation, over a veth pair in test-made namespaces: snapnetd owns one end through
# af_packet; the kernel in the other namespace pings and arpings the daemon's IP and gets
# correct replies. Then a flood of >= 100k malformed/random frames must leave the daemon
# alive and still answering pings. Needs root (namespaces); runs the daemon with only the
# capabilities af_packet needs.
. "$(dirname "$0")/lib.sh"
need_root
FLOOD=${FRAMEFLOOD:?}
. "$(dirname "$0")/host_conf.sh"
NA=snapA$$ NB=snapB$$
veth_ns $NA $NB va$$ vb$$ 10.77.0.2/24
MAC=$VETH_MAC
# The kernel of namespace A must not answer for the daemon (it has no IP there anyway).
cat >"$T/a.conf" <<CONF
daemon = { name = "veth$$"; run_dir = "$T/run"; memory_mb = 128; };
ports = ( { name = "p0"; type = "af_packet"; iface = "va$$"; ip = "10.77.0.1/24"; } );
engines = ( {
  name = "host";
  elements = (
    { name = "rx"; type = "port_rx"; port = "p0"; },
    { name = "eth"; type = "eth_classify"; port = "p0"; },
    { name = "arp"; type = "arp"; port = "p0"; },
    { name = "ip"; type = "ipv4_in"; port = "p0"; },
    { name = "echo"; type = "icmp_echo"; },
    { name = "tx"; type = "port_tx"; port = "p0"; }
  );
  links = ( "rx -> eth", "eth.arp -> arp", "eth.ipv4 -> ip", "ip.icmp -> echo",
            "arp -> tx", "echo -> tx" );
} );
CONF
# Only CAP_NET_RAW (af_packet) survives start-up; the daemon drops the rest itself.
start_daemon a "$T/a.conf" ip netns exec $NA
grep -q "capabilities after start-up: net_raw" "$T/a.log" || fail "capabilities not dropped to net_raw"

ip netns exec $NB ping -c 5 -i 0.2 -W 2 10.77.0.1 >"$T/ping.log" || fail "ping got no replies"
grep -q " 0% packet loss" "$T/ping.log" || fail "ping lost packets: $(tail -2 "$T/ping.log")"
ip netns exec $NB arping -c 3 -w 5 -I vb$$ 10.77.0.1 >"$T/arping.log" 2>&1 || fail "arping got no replies"
grep -qi "$MAC" "$T/arping.log" || fail "arping reply did not carry the daemon's MAC $MAC"

ip netns exec $NB "$FLOOD" vb$$ 100000 "$MAC" 42 | tee "$T/flood.log"
kill -0 "$PID_a" || fail "daemon died under the flood"
ip netns exec $NB ping -c 3 -i 0.2 -W 2 10.77.0.1 >"$T/ping2.log" || fail "no ping replies after the flood"

stop_daemon a || fail "daemon did not exit cleanly"
echo_out=$(counter "$T/a.log" host echo to_out)
arp_out=$(counter "$T/a.log" host arp to_out)
drops=$(grep -c "^counter host .* drop_" "$T/a.log" || true)
echo "icmp replies: $echo_out, arp replies: $arp_out, distinct drop counters: $drops"
[ "$echo_out" -ge 8 ] || fail "expected >= 8 echo replies counted, got $echo_out"
[ "$arp_out" -ge 1 ] || fail "expected arp replies counted"
[ "$drops" -ge 3 ] || fail "expected the flood to be dropped under several reasons"
[ ! -e "$T/run" ] || fail "run dir left behind"
echo PASS
