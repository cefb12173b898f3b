# Helpers for the upgrade tests (sourced after tests/integration/lib.sh): host A (memif
# client, the one upgraded) answers pings of host B (memif server) every millisecond; A's
# echo path goes through a `counter` element whose counts must survive each hand-over.
SNAPCTL=${SNAPCTL:?}
MA=02:00:00:00:0d:01 MB=02:00:00:00:0d:02
# UPGRADE_DIR, if set: the daemons' upgrade_dir (default: the dir of the snapnetd binary).
# UP_CLIENT_PORT_EXTRA: more settings of the memif client's port (e.g. zero_copy).
up_conf() { # name role mac ip peer-ip peer-mac extra-elements extra-links extra-engines
  local upd=""
  [ -z "${UPGRADE_DIR:-}" ] || upd="upgrade_dir = \"$UPGRADE_DIR\";"
  cat <<CONF
daemon = { name = "up$1$$"; run_dir = "$T/run-$1"; memory_mb = 128; $upd };
ports = ( { name = "m0"; type = "memif"; role = "$2"; socket = "$T/memif.sock"; mac = "$3";
            ip = "$4/24"; $( [ "$2" = client ] && echo "${UP_CLIENT_PORT_EXTRA:-}" ) neighbours = ( { ip = "$5"; mac = "$6"; } ); } );
engines = ( {
  name = "host";
  elements = (
    { name = "rx"; type = "port_rx"; port = "m0"; },
    { name = "eth"; type = "eth_classify"; port = "m0"; },
    { name = "arp"; type = "arp"; port = "m0"; },
    { name = "ip"; type = "ipv4_in"; port = "m0"; },
    { name = "echo"; type = "icmp_echo"; port = "m0"; },
    { name = "tx"; type = "port_tx"; port = "m0"; }$7
  );
  links = ( "rx -> eth", "eth.arp -> arp", "eth.ipv4 -> ip", "arp -> tx", "echo -> tx"$8 );
} $9 );
CONF
}
# A: pings pass through counter "cnt"; a second engine "side" holds a counter too (its state
# must move as well). PINGS (default 3000) pings at 1 ms.
up_setup() {
  local n=${PINGS:-3000}
  up_conf a client $MA 10.90.0.1 10.90.0.2 $MB ', { name = "cnt"; type = "counter"; }' \
    ', "ip.icmp -> cnt", "cnt -> echo"' \
    ', { name = "side"; elements = ( { name = "c2"; type = "counter"; } ); links = ( ); }' \
    >"$T/a.conf"
  up_conf b server $MB 10.90.0.2 10.90.0.1 $MA \
    ", { name = \"ping\"; type = \"icmp_ping\"; port = \"m0\"; dst = \"10.90.0.1\"; interval_us = 1000; count = $n; }" \
    ', "ip.icmp -> ping", "ping.other -> echo", "ping.tx -> tx"' '' >"$T/b.conf"
}
SA() { $SNAPCTL --socket "$T/run-a/control.sock" "$@"; }
# Pid of the daemon serving A's control socket now.
a_pid() { SA --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])'; }
# Stop whichever process is A now (after upgrades it is not our child) and wait.
stop_a_any() {
  local pid=$1
  kill -TERM "$pid"
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  fail "daemon a (pid $pid) did not stop within 10 s"
}
