#!/usr/bin/env bash
# Upgrade across the port kinds that two daemons cannot simply both open:
# `upgrade_ports.sh KIND`, KIND one of memif_server (the old daemon closes the device at
# release, the new one opens it then: snap_port_release/reclaim), af_packet (both open it;
# the new daemon drops what its socket got before the release), tap (multi-queue: both
# attach to the same device, whose kernel side keeps its address), af_xdp (closed and
# re-opened like memif_server, once the kernel freed the queue: snap_xdp_reopen). Host A (the one
# upgraded, three times in a row, alternating two builds) answers pings every millisecond
# through a counter whose count must survive each hand-over; where the port carries Pony
# (all but tap) an RPC client app on A checks every echo RPC through B's server app
# (byte-identical, in order, exactly once: pony_rpc) and must stay attached. The peer:
# daemon B (memif client, or af_packet on the other end of a veth in another namespace) or,
# for tap, the kernel's ping(8) in A's namespace.
# Before those, one upgrade whose new daemon dies with the ports open: the old daemon opens
# them again and resumes. Checks: each upgrade moves every engine; per-engine blackout (`snapctl --json upgrade`) at
# most 50 ms (printed); no ping answered twice; only pings sent during blackouts lost.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/pony_lib.sh"
. "$(dirname "$0")/../integration/host_conf.sh"
. "$(dirname "$0")/lib_up.sh"
KIND=${1:?usage: upgrade_ports.sh memif_server|vhost|af_packet|af_xdp|tap}
case $KIND in memif_server|vhost) ;; *) need_root ;; esac
PINGS=${PINGS:-12000}
# The issue's bound. A sanitized build saves and restores engine states 2-4 times slower
# (the Pony engine's is 3.6 MB): 150 ms there.
BLACKOUT_MAX_US=50000
# af_xdp: the old daemon's device removal (the XDP program's detach) and socket close, and
# the kernel's deferred freeing of the queue, wait out four RCU grace periods in a row, 8-16
# ms each on this VM; the new daemon's open then takes 15-20 ms. Hand-overs of 38-104 ms
# measured here on a quiet machine (2026-12-03: medians of a run 62-86 ms; 25-29 ms with
# /sys/kernel/rcu_expedited = 1), 102 and 110 ms in full CI runs. Its own bounds, per port
# kind as the issue allows: each hand-over at most 150 ms, their median at most 100 ms.
BLACKOUT_MEDIAN_US=0 # 0: not checked
if [ "$KIND" = af_xdp ]; then BLACKOUT_MAX_US=150000 BLACKOUT_MEDIAN_US=100000; fi
case ${SNAP_SANITIZE:-none} in none|'') ;; *) BLACKOUT_MAX_US=150000 ;; esac
IPA=10.92.0.1 IPB=10.92.0.2
NA=upa$$ NB=upb$$

# host NAME PORT_BLOCK PEER_IP PEER_MAC [ping]: host_conf's graph, whose pings pass through
# counter cnt, serving Pony apps on port p0, plus an engine "side" with a counter (one more
# engine state to move). With "ping" it pings PEER_IP every millisecond too.
host() {
  local icmp="ip.icmp -> cnt" ping=""
  if [ -n "${5:-}" ]; then
    ping=", { name = \"ping\"; type = \"icmp_ping\"; port = \"p0\"; dst = \"$3\"; interval_us = 1000; count = $PINGS; }"
    icmp='ip.icmp -> ping", "ping.other -> cnt", "ping.tx -> tx'
  fi
  host_conf "$1" "$2 neighbours = ( { ip = \"$3\"; mac = \"$4\"; } );" \
    ", { name = \"cnt\"; type = \"counter\"; }, { name = \"udp\"; type = \"udp_demux\"; dport_4793 = \"p0\"; },
    { name = \"pony\"; type = \"pony\"; port = \"p0\"; }$ping" \
    ', "cnt -> echo", "ip.udp -> udp", "udp.p0 -> pony", "pony.tx -> tx"' "$icmp" \
    ', { name = "side"; elements = ( { name = "c2"; type = "counter"; } ); links = ( ); }' \
    'memory_mb = 256; app_region_mb = 32;'
}

# A veth pair $1 (namespace NA) - $2 (namespace NB) with MACs MA and MB.
veth_pair() {
  netns $NA
  netns $NB
  ip link add "$1" type veth peer name "$2"
  ip link set "$1" netns $NA
  ip link set "$2" netns $NB
  ip -n $NA link set "$1" address $MA up
  ip -n $NB link set "$2" address $MB up
}

RUN_A=() RUN_B=() PEER=daemon
case $KIND in
  memif_server)
    host a "type = \"memif\"; role = \"server\"; socket = \"$T/memif.sock\"; mac = \"$MA\"; ip = \"$IPA/24\";" $IPB $MB >"$T/a.conf"
    host b "type = \"memif\"; role = \"client\"; socket = \"$T/memif.sock\"; mac = \"$MB\"; ip = \"$IPB/24\";" $IPA $MA ping >"$T/b.conf" ;;
  vhost)
    # The vhost-user side listens (server); B's virtio-user client connects, and B's daemon
    # probes that port again when the link drops (portlink.c), as a memif client reconnects.
    host a "type = \"vhost\"; role = \"server\"; socket = \"$T/vhost.sock\"; mac = \"$MA\"; ip = \"$IPA/24\";" $IPB $MB >"$T/a.conf"
    host b "type = \"virtio_user\"; role = \"client\"; socket = \"$T/vhost.sock\"; mac = \"$MB\"; ip = \"$IPB/24\";" $IPA $MA ping >"$T/b.conf" ;;
  af_packet|af_xdp)
    veth_pair ua$$ ub$$
    RUN_A=(ip netns exec $NA) RUN_B=(ip netns exec $NB)
    # af_packet: its engines take the queue's socket as their wake fd (core/portafpfd.c),
    # each daemon its own: the new one's must be the one it finds.
    irq=""; [ "$KIND" = af_packet ] && irq=" rx_interrupts = true;"
    host a "type = \"$KIND\"; iface = \"ua$$\"; ip = \"$IPA/24\";$irq" $IPB $MB >"$T/a.conf"
    host b "type = \"af_packet\"; iface = \"ub$$\"; ip = \"$IPB/24\";" $IPA $MA ping >"$T/b.conf" ;;
  tap)
    netns $NA
    RUN_A=(ip netns exec $NA) PEER=kernel
    command -v ping >/dev/null || skip "no ping(8)"
    host a "type = \"tap\"; iface = \"ut$$\"; mac = \"$MA\"; ip = \"$IPA/24\";" $IPB $MB >"$T/a.conf" ;;
  *) fail "unknown port kind $KIND" ;;
esac

# The new daemon dies with the ports open while $T/die exists (SNAP_TAKEOVER_DIE_RELEASED):
# the roll-back after the release.
start_daemon a "$T/a.conf" "${RUN_A[@]}" env SNAP_TAKEOVER_DIE_RELEASED="$T/die"
if [ $PEER = kernel ]; then
  # The tap's kernel side is host B: its own MAC and address, and A as a static neighbour.
  ip -n $NA link set ut$$ address $MB
  ip -n $NA addr add $IPB/24 dev ut$$
  ip -n $NA link set ut$$ up
  ip -n $NA neigh replace $IPA lladdr $MA dev ut$$
else
  start_daemon b "$T/b.conf" "${RUN_B[@]}"
  SB() { $SNAPCTL --socket "$T/run-b/control.sock" "$@"; }
  start_app srv "$PONY_RPC" server -s "$T/run-b/app.sock" -m 16384 -w 8
  for _ in $(seq 100); do grep -qs listening "$T/srv.log" && break; sleep 0.1; done
  grep -q listening "$T/srv.log" || fail "server app did not start"
fi
for _ in $(seq 50); do SA ports 2>/dev/null | grep -q " up/" && break; sleep 0.1; done
if [ $PEER = kernel ]; then
  "${RUN_A[@]}" ping -q -i 0.001 -c "$PINGS" -W 1 $IPA >"$T/ping.log" 2>&1 &
  PING_PID=$!
  PIDS+=("$PING_PID")
else
  # RPCs for the whole test, whatever the rate: until SIGUSR1 after the last upgrade (-d
  # only bounds it). A fixed duration ran out before the third upgrade on a slow CI run,
  # and the client was then no longer attached to be checked.
  start_app cli "$PONY_RPC" client -s "$T/run-a/app.sock" -i $IPB -d 60 -m 16384 -S 2 -w 8 -T 30
  sleep 0.5
  ID_cli=$(SA apps | awk -v p="$APP_cli" '$2==p {print $1}')
  [ -n "$ID_cli" ] || { cat "$T/cli.log"; fail "RPC client not attached to A"; }
fi
sleep 0.5
pid=$(a_pid)
# serving N: after upgrade N, A's port is up (the peer reconnects to a re-opened server,
# memif or vhost-user, within its link ticks) and the RPC client is the same attached app.
serving() {
  for _ in $(seq 50); do SA ports | grep -q " up/" && break; sleep 0.1; done
  SA ports | grep -q " up/" || { SA ports; fail "upgrade $1: port not up"; }
  if [ $PEER = daemon ]; then
    SA apps | awk -v p="$APP_cli" -v id="$ID_cli" '$1==id && $2==p {ok=1} END {exit !ok}' ||
      fail "upgrade $1: the RPC client is not the same attached app"
  fi
  sleep 1
}
# First an upgrade whose new daemon dies after the old one released the ports: the old
# daemon opens them again and resumes, its apps never notice.
: >"$T/die"
SA upgrade --binary "$SNAPNETD_NEXT" --no-progress >"$T/up0.out" 2>&1 &&
  { cat "$T/up0.out"; fail "the upgrade whose new daemon dies succeeded"; }
cat "$T/up0.out"
grep -q "failed after the ports were released" "$T/up0.out" || fail "upgrade 0: not the roll-back after the release"
rm -f "$T/die"
[ "$(a_pid)" = "$pid" ] || fail "upgrade 0: another daemon answers A's control socket"
serving 0
for i in 1 2 3; do
  bin=$SNAPNETD_NEXT
  [ $((i % 2)) -eq 0 ] && bin=$SNAPNETD
  id=$("$bin" --version | sed 's/.*(build \(.*\))/\1/')
  SA --json upgrade --binary "$bin" --no-progress >"$T/up$i.json" 2>&1 ||
    { cat "$T/up$i.json"; fail "upgrade $i of the $KIND host failed"; }
  # Per engine: name and blackout (us); fails above the bound.
  python3 - "$T/up$i.json" "$id" $BLACKOUT_MAX_US $i <<'PY' || { cat "$T/up$i.json"; fail "upgrade $i: see above"; }
import json, sys
path, build, bound, i = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
r = json.loads(open(path).read().strip().splitlines()[-1])
per = r.get("engine_blackout_us", [])
names = r.get("engine_names") or r.get("engines") or []
if r.get("new_build") not in (None, build):
    sys.exit("new build %s, want %s" % (r.get("new_build"), build))
if len(per) != 2:
    sys.exit("blackout of %d engines reported, want 2 (host, side)" % len(per))
print("upgrade %s: blackout per engine (us): %s, max %d" % (i, per, max(per)))
if max(per) > bound:
    sys.exit("blackout %d us above %d us" % (max(per), bound))
PY
  new=$(a_pid) || fail "control socket does not answer after upgrade $i"
  [ "$new" != "$pid" ] || fail "upgrade $i: still pid $pid"
  SA status | grep -qF "build $id" || fail "upgrade $i: the daemon now serving is not build $id"
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && fail "old daemon $pid still running after upgrade $i"
  PIDS+=("$new")
  pid=$new
  serving $i
done
[ $PEER = daemon ] && kill -USR1 "$APP_cli"
if [ "$BLACKOUT_MEDIAN_US" -gt 0 ]; then
  python3 - "$BLACKOUT_MEDIAN_US" "$T"/up[123].json <<'PY' || fail "median blackout over the bound"
import json, statistics, sys
bound, us = int(sys.argv[1]), []
for path in sys.argv[2:]:
    us += json.loads(open(path).read().strip().splitlines()[-1])["engine_blackout_us"]
med = statistics.median(us)
print("median blackout over %d engine hand-overs: %.1f ms (bound %d ms)" % (len(us), med / 1e3, bound // 1000))
if med > bound:
    sys.exit("median blackout %.1f ms above %d ms" % (med / 1e3, bound // 1000))
PY
fi

# Every ping sent: then the counts are final.
if [ $PEER = kernel ]; then
  wait "$PING_PID" || true
  cat "$T/ping.log"
  sent=$(awk '/packets transmitted/ {print $1}' "$T/ping.log")
  recv=$(awk '/packets transmitted/ {print $4}' "$T/ping.log")
  grep -q duplicates "$T/ping.log" && fail "pings answered twice: $(grep duplicates "$T/ping.log")"
else
  wait_log "$T/cli.log" "all echoed intact" 60 || { cat "$T/cli.log"; fail "RPC client did not finish"; }
  wait "$APP_cli" || { cat "$T/cli.log"; fail "RPC client failed"; }
  cat "$T/cli.log"
  for _ in $(seq 300); do # B pings at 1 ms: 12 s from its start, more on a slow host
    [ "$(live_stat SB host ping sent)" -ge "$PINGS" ] && break
    sleep 0.1
  done
  sleep 1.5
  stop_daemon b
  sent=$(counter "$T/b.log" host ping sent)
  recv=$(counter "$T/b.log" host ping received)
fi
stop_a_any "$pid"
# Every generation of A logs here (a new daemon inherits the old one's stdout).
! grep -q "ERROR: \(Leak\|Address\)Sanitizer" "$T/a.log" ||
  fail "a daemon of A: $(grep -A4 'ERROR: .*Sanitizer' "$T/a.log" | tr '\n' ' ')"
cnt=$(counter "$T/a.log" host cnt packets)
echo "$KIND: 3 upgrades; $sent pings sent, $recv answered; A's counter (carried over 3 times): $cnt"
[ "$sent" -eq "$PINGS" ] || fail "$sent pings of $PINGS sent"
[ "$recv" -le "$sent" ] || fail "$recv replies to $sent pings: some answered twice"
[ "$cnt" -ge "$recv" ] || fail "counter $cnt < replies $recv: state lost in a hand-over"
[ "$cnt" -le "$sent" ] || fail "counter $cnt > pings sent $sent: some answered twice"
# A ping is lost only when sent during a blackout: (blackout + the peer's reconnect) / 1 ms.
[ $((sent - recv)) -le 800 ] || fail "lost $((sent - recv)) pings in 3 upgrades and a roll-back"
echo "pings lost in 3 blackouts and a roll-back: $((sent - recv))"
# What the ports cost each blackout: the old daemon's release, the new one's start (af_xdp:
# and how long it waited for the kernel to free the queue).
grep -h "released in\|started in\|opened after\|leftovers closed\|takeover: engine" "$T/a.log" ||
  true
echo PASS
