#!/usr/bin/env bash
# Foundation: two daemons ("two hosts") joined by memif, both running as an ordinary user
# with no capabilities. B pings A from inside its engine (icmp_ping); A answers with
# icmp_echo. The final counters prove the exchange in both directions. A (the memif server)
# has rx_interrupts: its engine, in the default spreading group, sleeps on the peer's kicks
# between pings (core/portkick.c); B polls its queue with back-off.
. "$(dirname "$0")/lib.sh"
as_nobody
MA=02:00:00:00:0a:01 MB=02:00:00:00:0a:02
conf() { # name role mac ip peer-ip peer-mac extra-elements extra-links [port-extra]
  cat <<CONF
daemon = { name = "m$1$$"; run_dir = "$T/run-$1"; memory_mb = 128; };
ports = ( { name = "m0"; type = "memif"; role = "$2"; socket = "$T/memif.sock"; mac = "$3";
            ip = "$4/24"; neighbours = ( { ip = "$5"; mac = "$6"; } );${9:-} } );
engines = ( {
  name = "host";
  elements = (
    { name = "rx"; type = "port_rx"; port = "m0"; },
    { name = "eth"; type = "eth_classify"; port = "m0"; },
    { name = "arp"; type = "arp"; port = "m0"; },
    { name = "ip"; type = "ipv4_in"; port = "m0"; },
    { name = "echo"; type = "icmp_echo"; },
    { name = "tx"; type = "port_tx"; port = "m0"; }$7
  );
  links = ( "rx -> eth", "eth.arp -> arp", "eth.ipv4 -> ip", "arp -> tx", "echo -> tx"$8 );
} );
CONF
}
conf a server $MA 10.88.0.1 10.88.0.2 $MB "" ', "ip.icmp -> echo"' ' rx_interrupts = true;' \
  >"$T/a.conf"
conf b client $MB 10.88.0.2 10.88.0.1 $MA \
  ', { name = "ping"; type = "icmp_ping"; port = "m0"; dst = "10.88.0.1"; interval_us = 2000; count = 500; }' \
  ', "ip.icmp -> ping", "ping.other -> echo", "ping.tx -> tx"' >"$T/b.conf"

start_daemon a "$T/a.conf" "${AS_USER[@]}"
start_daemon b "$T/b.conf" "${AS_USER[@]}"
grep -q "capabilities after start-up: none" "$T/a.log" || fail "daemon a holds capabilities"
# The memif link comes up within a second; 500 pings at 2 ms take one more. Counters are
# read from the shutdown dump: wait for the pings to be done.
pings_wait "$T/run-b/control.sock" host 500
stop_daemon b || fail "daemon b did not exit cleanly"
stop_daemon a || fail "daemon a did not exit cleanly"
sent=$(counter "$T/b.log" host ping sent)
recv=$(counter "$T/b.log" host ping received)
replies=$(counter "$T/a.log" host echo to_out)
rtt=$(counter "$T/b.log" host ping rtt_avg_ns)
echo "b sent $sent echo requests, a answered $replies, b received $recv replies, avg rtt ${rtt} ns"
[ "$sent" -ge 400 ] || fail "b sent only $sent requests"
[ "$recv" -ge $((sent * 95 / 100)) ] || fail "b received only $recv of $sent replies"
[ "$replies" -ge "$recv" ] || fail "a's echo counter ($replies) below replies received ($recv)"
ls /tmp/dpdk 2>/dev/null | grep -q "snap-m.$$" && fail "DPDK runtime files left behind"
echo PASS
