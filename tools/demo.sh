#!/usr/bin/env bash
# The main job: two snapnetd "hosts" joined by memif on this machine, traffic between them,
# and the operator's view of it. Installs missing packages (as root) and builds first.
# Usage: tools/demo.sh [SECONDS]   (default 5 s of traffic)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
bash tools/setup.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build >/dev/null
B=$PWD/build

T=$(mktemp -d /tmp/snapdemo.XXXXXX)
chmod 755 "$T"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT

host_conf() { # name role mac ip peer-ip peer-mac
  cat <<CONF
daemon = { name = "demo-$1"; run_dir = "$T/$1"; memory_mb = 256; };
ports = ( { name = "m0"; type = "memif"; role = "$2"; socket = "$T/memif.sock"; mac = "$3";
            ip = "$4/24"; neighbours = ( { ip = "$5"; mac = "$6"; } ); } );
engines = ( {
  name = "host";
  elements = (
    { name = "rx"; type = "port_rx"; port = "m0"; },
    { name = "eth"; type = "eth_classify"; port = "m0"; },
    { name = "arp"; type = "arp"; port = "m0"; },
    { name = "ip"; type = "ipv4_in"; port = "m0"; },
    { name = "ping"; type = "icmp_ping"; port = "m0"; dst = "$5"; interval_us = 1000; },
    { name = "echo"; type = "icmp_echo"; },
    { name = "tx"; type = "port_tx"; port = "m0"; }
  );
  links = ( "rx -> eth", "eth.arp -> arp", "eth.ipv4 -> ip", "ip.icmp -> ping",
            "ping.other -> echo", "ping.tx -> tx", "arp -> tx", "echo -> tx" );
} );
CONF
}
host_conf a server 02:00:00:00:00:0a 10.0.0.1 10.0.0.2 02:00:00:00:00:0b >"$T/a.conf"
host_conf b client 02:00:00:00:00:0b 10.0.0.2 10.0.0.1 02:00:00:00:00:0a >"$T/b.conf"

echo "== starting two hosts joined by memif ($T/memif.sock)"
"$B/snapnetd" -c "$T/a.conf" >"$T/a.log" 2>&1 & pids+=($!)
"$B/snapnetd" -c "$T/b.conf" >"$T/b.log" 2>&1 & pids+=($!)
for h in a b; do
  for _ in $(seq 100); do grep -q '^READY' "$T/$h.log" && break; sleep 0.1; done
  grep -q '^READY' "$T/$h.log" || { echo "host $h failed to start:"; cat "$T/$h.log"; exit 1; }
done
grep -h 'port m0\|engine host' "$T/a.log" "$T/b.log" | sed 's/^/   /'
echo "== each host pings the other from inside its engine for $secs s"
sleep "$secs"
for p in "${pids[@]}"; do kill -TERM "$p"; done
wait
pids=()
for h in a b; do
  echo "== host $h counters"
  awk '$1=="counter" && ($3=="ping" || $3=="echo" || $3=="rx" || $3=="tx") && $5>0 {printf "   %-6s %-14s %s\n", $3, $4, $5}' "$T/$h.log"
done
