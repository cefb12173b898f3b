#!/usr/bin/env bash
# Port kinds vhost and virtio_user, a config change from memif_pair.sh: two daemons ("two
# hosts") joined by a vhost-user socket, both with rx_interrupts = true and both running as an
# ordinary user. B (virtio_user) pings A (vhost) from inside its engine; A answers. The port
# lines must say rx interrupts are on and the final counters prove the exchange.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/host_conf.sh"
as_nobody
MA=02:00:00:00:0b:01 MB=02:00:00:00:0b:02
port() { # type role mac ip peer-ip peer-mac
  echo "type = \"$1\"; role = \"$2\"; socket = \"$T/vhost.sock\"; rx_interrupts = true;
        mac = \"$3\"; ip = \"$4/24\"; neighbours = ( { ip = \"$5\"; mac = \"$6\"; } );"
}
host_conf vha "$(port vhost server $MA 10.89.0.1 10.89.0.2 $MB)" >"$T/a.conf"
host_conf vhb "$(port virtio_user client $MB 10.89.0.2 10.89.0.1 $MA)" \
  ', { name = "ping"; type = "icmp_ping"; port = "p0"; dst = "10.89.0.1"; interval_us = 2000; count = 500; }' \
  ', "ping.other -> echo", "ping.tx -> tx"' "ip.icmp -> ping" >"$T/b.conf"

start_daemon a "$T/a.conf" "${AS_USER[@]}"
start_daemon b "$T/b.conf" "${AS_USER[@]}"
for d in a b; do
  port_line "$T/$d.log"
  port_line "$T/$d.log" | grep -q "rx interrupts on" || fail "daemon $d: rx interrupts not on"
done
port_line "$T/a.log" | grep -qi "vhost dpdk port .* mac $MA" || fail "vhost port does not use the configured MAC"
grep -q "capabilities after start-up: none" "$T/a.log" || fail "daemon a holds capabilities"
# The vhost-user link comes up within a second; 500 pings at 2 ms take one more.
pings_wait "$T/run-vhb/control.sock" host 500
stop_daemon b || fail "daemon b did not exit cleanly"
stop_daemon a || fail "daemon a did not exit cleanly"
sent=$(counter "$T/b.log" host ping sent)
recv=$(counter "$T/b.log" host ping received)
replies=$(counter "$T/a.log" host echo to_out)
rtt=$(counter "$T/b.log" host ping rtt_avg_ns)
arms_a=$(counter "$T/a.log" host rx intr_arms) arms_b=$(counter "$T/b.log" host rx intr_arms)
echo "b sent $sent echo requests, a answered $replies, b received $recv replies, avg rtt ${rtt} ns"
echo "rx interrupt arms: a $arms_a, b $arms_b"
[ "$sent" -ge 400 ] || fail "b sent only $sent requests"
[ "$recv" -ge $((sent * 95 / 100)) ] || fail "b received only $recv of $sent replies"
[ "$replies" -ge "$recv" ] || fail "a's echo counter ($replies) below replies received ($recv)"
ls /tmp/dpdk /var/run/dpdk 2>/dev/null | grep -q "snap-vh.$$" && fail "DPDK runtime files left behind"
echo PASS
