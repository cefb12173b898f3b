#!/usr/bin/env bash
# Port kinds vhost and virtio_user, a config change from memif_pair.sh: two daemons ("two
# hosts") joined by a vhost-user socket, both with rx_interrupts = true and both running as an
# ordinary user. B (virtio_user) pings A (vhost) from inside its engine; A answers. The port
# lines must say rx interrupts are on and the final counters prove the exchange.
#
# Then B is stopped and started again while A's engine sleeps on its rx interrupt: the new
# peer starts with its notifications off, and A's engine must be woken by the link event to
# arm again towards it (core/portwake.c; A's link_wakes counts it). Once in CI, before that,
# A's engine armed before B connected and slept through all 500 pings. This round does not
# reproduce that race at will (a kick the peer left pending usually wakes A too, and the
# code before the fix passes it here); it checks the wake-up happens and A answers the
# peer that came back.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/host_conf.sh"
as_nobody
MA=02:00:00:00:0b:01 MB=02:00:00:00:0b:02
port() { # type role mac ip peer-ip peer-mac
  echo "type = \"$1\"; role = \"$2\"; socket = \"$T/vhost.sock\"; rx_interrupts = true;
        mac = \"$3\"; ip = \"$4/24\"; neighbours = ( { ip = \"$5\"; mac = \"$6\"; } );"
}
host_conf vha "$(port vhost server $MA 10.89.0.1 10.89.0.2 $MB)" >"$T/a.conf"
b_conf() { # ping count
  host_conf vhb "$(port virtio_user client $MB 10.89.0.2 10.89.0.1 $MA)" \
    ", { name = \"ping\"; type = \"icmp_ping\"; port = \"p0\"; dst = \"10.89.0.1\"; interval_us = 2000; count = $1; }" \
    ', "ping.other -> echo", "ping.tx -> tx"' "ip.icmp -> ping"
}
b_conf 500 >"$T/b.conf"

# b_round N: B's pings to A (N of them) are answered; B stopped after.
b_round() {
  pings_wait "$T/run-vhb/control.sock" host "$1"
  stop_daemon b || fail "daemon b did not exit cleanly"
  sent=$(counter "$T/b.log" host ping sent)
  recv=$(counter "$T/b.log" host ping received)
  rtt=$(counter "$T/b.log" host ping rtt_avg_ns)
  arms_b=$(counter "$T/b.log" host rx intr_arms)
  echo "b sent $sent echo requests, received $recv replies, avg rtt ${rtt} ns; b's rx interrupt arms $arms_b"
  [ "$sent" -ge $(($1 * 4 / 5)) ] || fail "b sent only $sent requests"
  [ "$recv" -ge $((sent * 95 / 100)) ] || fail "b received only $recv of $sent replies"
}

start_daemon a "$T/a.conf" "${AS_USER[@]}"
start_daemon b "$T/b.conf" "${AS_USER[@]}"
for d in a b; do
  port_line "$T/$d.log"
  port_line "$T/$d.log" | grep -q "rx interrupts on" || fail "daemon $d: rx interrupts not on"
done
port_line "$T/a.log" | grep -qi "vhost dpdk port .* mac $MA" || fail "vhost port does not use the configured MAC"
grep -q "capabilities after start-up: none" "$T/a.log" || fail "daemon a holds capabilities"
# The vhost-user link comes up within a second; 500 pings at 2 ms take one more.
b_round 500
recv1=$recv

# A's link goes down with B; its engine then has nothing to do and sleeps, armed.
link_is() { # DAEMON up|down: wait (10 s at most) until its port's link is so
  for _ in $(seq 100); do
    "$SNAPCTL" --socket "$T/run-vh$1/control.sock" ports 2>/dev/null | grep -qw "$2" && return 0
    sleep 0.1
  done
  fail "$1's link not $2"
}
link_is a down
# B again, first without engines: it connects but sends nothing, so no kick is pending
# when A takes the new peer. Only once A's link is up does B get its engine and ping.
sed -n '/^daemon/p' "$T/b.conf" >"$T/b0.conf"
echo 'ports = ( { name = "p0"; '"$(port virtio_user client $MB 10.89.0.2 10.89.0.1 $MA)"' } );' >>"$T/b0.conf"
echo 'engines = ( );' >>"$T/b0.conf"
start_daemon b "$T/b0.conf" "${AS_USER[@]}"
link_is a up
# The engine block's body: B's config from the line after the name to its closing brace.
b_conf 200 | sed -n '/^  name = "host";/,/^}/p' | sed '1d; $d' >"$T/host.engine"
"$SNAPCTL" --socket "$T/run-vhb/control.sock" engine create host --config-file "$T/host.engine" ||
  fail "cannot create b's engine"
b_round 200
recv2=$recv

stop_daemon a || fail "daemon a did not exit cleanly"
replies=$(counter "$T/a.log" host echo to_out)
arms_a=$(counter "$T/a.log" host rx intr_arms)
wakes_a=$(counter "$T/a.log" host rx link_wakes)
echo "a answered $replies echo requests; a's rx interrupt arms $arms_a, link event wake-ups $wakes_a"
[ "$wakes_a" -ge 1 ] || fail "a's engine never woke for a link event"
[ "$replies" -ge $((recv1 + recv2)) ] || fail "a's echo counter ($replies) below replies received ($recv1 + $recv2)"
ls /tmp/dpdk /var/run/dpdk 2>/dev/null | grep -q "snap-vh.$$" && fail "DPDK runtime files left behind"
echo PASS
