#!/usr/bin/env bash
# Engine-to-engine rings (issue 17): engine "front" owns an af_packet port on a veth pair in
# test-made namespaces and hands a share of the UDP traffic to engine "back" through a named
# ring, from two producers (udp_demux's ring: target and a ring_tx element). "back" runs in
# a group of its own, spreading then compacting: idle, its thread sleeps (under 2% of a core
# over 3 s, from /proc/.../schedstat); when packets come the ring's doorbell
# wakes it, and every packet handed over is counted at "back" (counters match exactly).
# Needs root.
. "$(dirname "$0")/lib.sh"
need_root
SNAPCTL=${SNAPCTL:?}
for c in python3 ethtool; do command -v $c >/dev/null || skip "$c missing"; done
. "$(dirname "$0")/host_conf.sh" # veth_ns
SECS=${IDLE_SECS:-3}
N=${RING_PKTS:-2000} # datagrams to each of the three UDP ports
NA=ringA$$ NB=ringB$$
veth_ns $NA $NB ra$$ rb$$ 10.78.0.2/24
# A static neighbour: no ARP race drops the first datagrams in the kernel.
ip -n $NB neigh replace 10.78.0.1 lladdr "$VETH_MAC" dev rb$$
ip netns exec $NB ethtool -K rb$$ tx off >/dev/null # real UDP checksums on the wire

# run MODE: the whole scenario with "back" in a group of that mode.
run() {
  cat >"$T/$1.conf" <<CONF
daemon = { name = "ring$$"; run_dir = "$T/run-$1"; memory_mb = 128; };
ports = ( { name = "p0"; type = "af_packet"; iface = "ra$$"; ip = "10.78.0.1/24"; } );
groups = ( { name = "front"; mode = "spreading"; }, { name = "back"; mode = "$1"; } );
engines = ( {
  name = "front"; group = "front";
  elements = (
    { name = "rx"; type = "port_rx"; port = "p0"; },
    { name = "eth"; type = "eth_classify"; port = "p0"; },
    { name = "ip"; type = "ipv4_in"; port = "p0"; },
    { name = "udp"; type = "udp_demux"; dport_7000 = "p0"; dport_7001 = "p1";
      dport_7002 = "ring:share"; },
    { name = "local"; type = "counter"; },
    { name = "ldrop"; type = "drop"; },
    { name = "hand"; type = "ring_tx"; ring = "share"; }
  );
  links = ( "rx -> eth", "eth.ipv4 -> ip", "ip.udp -> udp", "udp.p0 -> local",
            "local -> ldrop", "udp.p1 -> hand" );
}, {
  name = "back"; group = "back";
  elements = (
    { name = "rx"; type = "ring_rx"; ring = "share"; },
    { name = "got"; type = "counter"; },
    { name = "sink"; type = "drop"; }
  );
  links = ( "rx -> got", "got -> sink" );
} );
CONF
  start_daemon a "$T/$1.conf" ip netns exec $NA
  S="$SNAPCTL --socket $T/run-$1/control.sock"

  # stat ENGINE ELEMENT COUNTER: live value (0 if absent).
  stat() { $S stats "$1" | awk -v el="$2" -v c="$3" '$2==el && $3==c {v=$4} END {print v+0}'; }
  TID=""
  for t in /proc/"$PID_a"/task/*; do
    [ "$(cat "$t/comm")" = "sch-back-0" ] && TID=${t##*/}
  done
  [ -n "$TID" ] || fail "no thread sch-back-0 in the daemon"
  # Nanoseconds the thread has run (schedstat's first field): clock ticks (1/HZ) would need
  # twice the window for the same resolution.
  run_ns() { awk '{print $1}' "/proc/$PID_a/task/$TID/schedstat"; }
  # idle_pct SECS: percent of one core the back engine's thread used over SECS.
  idle_pct() {
    local a b
    a=$(run_ns); sleep "$1"; b=$(run_ns)
    python3 -c "print(f'{100.0 * ($b - $a) / 1e9 / $1:.2f}')"
  }

  sleep 1 # let start-up settle
  idle1=$(idle_pct "$SECS")
  echo "$1: back engine idle: ${idle1}% of a core over ${SECS} s"
  python3 -c "import sys; sys.exit(0 if $idle1 < 2.0 else 1)" || fail "$1: idle back engine used ${idle1}% (limit 2%)"
  wake0=$(stat back - wakeups)

  # The load: N datagrams to each port, paced (48 every 5 ms) so af_packet keeps up.
  ip netns exec $NB python3 - "$N" <<'PY'
import socket, sys, time
n = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(n):
    for port in (7000, 7001, 7002):
        s.sendto(b"ring-engines %8d" % i, ("10.78.0.1", port))
    if i % 16 == 15:
        time.sleep(0.005)
PY

  # Wait (bounded) until what front handed over has all been counted at back.
  handed=-1 got=-2
  for _ in $(seq 100); do
    handed=$(( $(stat front hand in_pkts) + $(stat front udp to_rings) ))
    got=$(stat back got packets)
    [ "$handed" -eq "$got" ] && [ "$handed" -ge $((2 * N)) ] && break
    sleep 0.1
  done
  local_n=$(stat front local packets)
  full=$(( $(stat front hand drop_ring_full) + $(stat front udp drop_ring_full) ))
  doorbells=$(stat back rx doorbells)
  wake1=$(stat back - wakeups)
  echo "$1: sent $((3 * N)) datagrams: front kept $local_n, handed $handed to back (ring full: $full);" \
       "back counted $got; doorbells $doorbells, back wake-ups $wake0 -> $wake1 (with snapctl's)"
  [ "$got" -eq "$handed" ] || fail "back counted $got of the $handed packets handed over"
  [ "$full" -eq 0 ] || fail "$full packets dropped on a full ring"
  # af_packet may lose a datagram under a loaded host; the ring must not.
  [ "$handed" -ge $((2 * N * 95 / 100)) ] || fail "front handed only $handed of $((2 * N))"
  [ "$local_n" -ge $((N * 95 / 100)) ] || fail "front kept only $local_n of $N"
  # Producers ring only an engine that sleeps: a doorbell proves back slept between bursts
  # and was woken by the ring.
  [ "$doorbells" -ge 1 ] || fail "the ring never rang the sleeping back engine"

  # Asleep again once the traffic is gone.
  idle2=$(idle_pct $((SECS / 2)))
  echo "$1: back engine idle after the load: ${idle2}% of a core over $((SECS / 2)) s"
  python3 -c "import sys; sys.exit(0 if $idle2 < 2.0 else 1)" || fail "$1: back engine used ${idle2}% after the load (limit 2%)"

  stop_daemon a || fail "daemon did not exit cleanly"
}

for mode in ${RING_MODES:-spreading compacting}; do
  run "$mode"
done
echo PASS
