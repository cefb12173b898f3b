#!/usr/bin/env bash
# The main job: two snapnetd "hosts" joined by memif on this machine; apps on each doing
# RPCs and one-sided operations through Pony Express; and the operator's view with snapctl.
# Installs missing packages (as root) and builds first.
# Usage: tools/demo.sh [RPCS]   (default 5000 echo RPCs)
set -euo pipefail
cd "$(dirname "$0")/.."
rpcs=${1:-5000}
bash tools/setup.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build >/dev/null
B=$PWD/build
EX=$B/tools/examples
T=$(mktemp -d /tmp/snapdemo.XXXXXX)
chmod 755 "$T"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

host_conf() { # name role mac ip peer-ip peer-mac
  cat <<CONF
daemon = { name = "demo-$1"; run_dir = "$T/$1"; memory_mb = 256; };
ports = ( { name = "m0"; type = "memif"; role = "$2"; socket = "$T/memif.sock"; mac = "$3";
            ip = "$4/24"; neighbours = ( { ip = "$5"; mac = "$6"; } ); } );
groups = ( { name = "net"; mode = "spreading"; } );
engines = ( {
  name = "pony0"; group = "net";
  elements = (
    { name = "rx"; type = "port_rx"; port = "m0"; },
    { name = "eth"; type = "eth_classify"; port = "m0"; },
    { name = "arp"; type = "arp"; port = "m0"; },
    { name = "ip"; type = "ipv4_in"; port = "m0"; },
    { name = "echo"; type = "icmp_echo"; port = "m0"; },
    { name = "udp"; type = "udp_demux"; dport_4793 = "p0"; },
    { name = "pony"; type = "pony"; port = "m0"; },
    { name = "tx"; type = "port_tx"; port = "m0"; }
  );
  links = ( "rx -> eth", "eth.arp -> arp", "eth.ipv4 -> ip", "ip.icmp -> echo", "ip.udp -> udp",
            "udp.p0 -> pony", "pony.tx -> tx", "arp -> tx", "echo -> tx" );
} );
CONF
}
host_conf a server 02:00:00:00:00:0a 10.0.0.1 10.0.0.2 02:00:00:00:00:0b >"$T/a.conf"
host_conf b client 02:00:00:00:00:0b 10.0.0.2 10.0.0.1 02:00:00:00:00:0a >"$T/b.conf"

say "two hosts joined by memif ($T/memif.sock), one Pony engine each"
# A (the memif server) first, so B's link comes up at once (either order works: a memif
# client whose server is not there yet connects when it appears).
for h in a b; do
  "$B/snapnetd" -c "$T/$h.conf" >"$T/$h.log" 2>&1 & pids+=($!)
  for _ in $(seq 100); do grep -q "^READY" "$T/$h.log" 2>/dev/null && break; sleep 0.1; done
  grep -q '^READY' "$T/$h.log" || { echo "host $h failed to start:"; cat "$T/$h.log"; exit 1; }
done
grep -h 'port m0\|engine pony0\|capabilities' "$T/a.log" | sed 's/^/   /'
CTL_A="$B/tools/snapctl --socket $T/a/control.sock"
CTL_B="$B/tools/snapctl --socket $T/b/control.sock"
for _ in $(seq 50); do $CTL_B ports 2>/dev/null | grep -q " up/" && break; sleep 0.1; done

say "host A: echo and key-value servers (apps attached over shared memory)"
"$EX/pony_echo_server" -s "$T/a/app.sock" >"$T/echo_server.log" 2>&1 & pids+=($!)
"$EX/pony_kv_server" -s "$T/a/app.sock" >"$T/kv_server.log" 2>&1 & pids+=($!)
sleep 0.5
cat "$T/echo_server.log" "$T/kv_server.log" | sed 's/^/   /'

say "host B: $rpcs echo RPCs of 1 KiB to A"
"$EX/pony_echo_client" -s "$T/b/app.sock" -i 10.0.0.1 -n "$rpcs" -l 1024 | sed 's/^/   /'

say "host B: key-value PUT and GET over RPC"
"$EX/pony_kv_client" -s "$T/b/app.sock" -i 10.0.0.1 put snap "userspace networking" | sed 's/^/   /'
"$EX/pony_kv_client" -s "$T/b/app.sock" -i 10.0.0.1 put pony "express" | sed 's/^/   /'
"$EX/pony_kv_client" -s "$T/b/app.sock" -i 10.0.0.1 get snap | sed 's/^/   /'

say "host B: key-value GET by one-sided scan-and-read (A's engine answers; A's app is not involved)"
"$EX/pony_kv_client" -s "$T/b/app.sock" -i 10.0.0.1 -o get pony | sed 's/^/   /'

say "operator's view of host A (snapctl)"
for c in status engines groups ports flows apps; do
  echo "\$ snapctl $c"
  $CTL_A $c | sed 's/^/   /'
done
echo "\$ snapctl stats pony0   (non-zero Pony counters)"
$CTL_A stats pony0 | grep -E 'ELEMENT|pony ' | awk 'NR == 1 || $4 != 0' | head -40 | sed 's/^/   /'
echo "\$ snapctl --json flows"
$CTL_A --json flows | sed 's/^/   /' | cut -c1-160
