#!/usr/bin/env bash
# snapnetd's config handling: every example config validates; each kind of bad config gives
# exactly one "FILE:LINE: problem" line on stderr and exit status 2, before and after EAL.
set -uo pipefail
SNAPNETD=${SNAPNETD:?} CONFDIR=${CONFDIR:?}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fails=0
for f in "$CONFDIR"/*.conf; do
  "$SNAPNETD" --check -c "$f" >/dev/null || { echo "FAIL: example $f does not validate"; fails=$((fails+1)); }
done

# bad NAME LINE PATTERN CONTENT: expect exit 2 and one stderr line "FILE:LINE: ...PATTERN..."
bad() {
  local name=$1 line=$2 pat=$3 f="$T/$1.conf"
  printf '%s\n' "$4" >"$f"
  "$SNAPNETD" ${5:-} -c "$f" >"$T/out" 2>"$T/err"
  local rc=$?
  local msg
  msg=$(grep '^snapnetd:' "$T/err")
  if [ $rc -ne 2 ]; then echo "FAIL: $name: exit $rc, want 2 ($msg)"; fails=$((fails+1)); return; fi
  if [ "$(printf '%s\n' "$msg" | wc -l)" -ne 1 ]; then echo "FAIL: $name: want one error line, got: $msg"; fails=$((fails+1)); return; fi
  if ! printf '%s' "$msg" | grep -q "$f:$line: .*$pat"; then echo "FAIL: $name: got '$msg', want '$f:$line: ...$pat'"; fails=$((fails+1)); return; fi
  echo "ok: $name -> $msg"
}
bad syntax 2 "syntax error" 'daemon = { name = "x"; };
ports = ( { name = "p0"; type = ; } );' --check
bad unknown_type 1 "unknown type 'bogus'" 'ports = ( { name = "p0"; type = "bogus"; } );' --check
bad memif_no_socket 2 "needs 'socket'" 'ports = (
  { name = "p0"; type = "memif"; role = "server"; } );' --check
bad bad_ip 3 "bad IPv4 address" 'ports = ( {
  name = "p0"; type = "null";
  ip = "10.0.0.300/24"; } );' --check
bad bad_ip6 3 "bad IPv6 address 'fd00::1/129'" 'ports = ( {
  name = "p0"; type = "null";
  ip6 = "fd00::1/129"; } );' --check
bad ip6_multicast 1 "bad IPv6 address 'ff02::1'" 'ports = ( { name = "p0"; type = "null"; ip6 = "ff02::1"; } );' --check
bad ip6_v4mapped 1 "bad IPv6 address" 'ports = ( { name = "p0"; type = "null"; ip6 = "::ffff:10.0.0.1/96"; } );' --check
bad neigh6_no_ip6 2 "an IPv6 neighbour needs the port's 'ip6'" 'ports = ( { name = "p0"; type = "null"; ip = "10.0.0.1/24";
  neighbours = ( { ip6 = "fd00::2"; mac = "02:00:00:00:00:02"; } ); } );' --check
bad neigh_both 2 "neighbour must be" 'ports = ( { name = "p0"; type = "null"; ip6 = "fd00::1/64";
  neighbours = ( { ip = "10.0.0.2"; ip6 = "fd00::2"; mac = "02:00:00:00:00:02"; } ); } );' --check
bad icmp6_no_ip6 4 "port p0 has no IPv6 address" 'daemon = { name = "cfg6'$$'"; memory_mb = 64; run_dir = "'$T'/run6"; };
ports = ( { name = "p0"; type = "null"; ip = "10.0.0.1/24"; } );
engines = ( { name = "e0"; elements = (
  { name = "i6"; type = "icmp6"; port = "p0"; } ); } );'
bad bad_mac 1 "bad MAC" 'ports = ( { name = "p0"; type = "null"; mac = "zz"; } );' --check
bad mtu_range 1 "out of range" 'ports = ( { name = "p0"; type = "null"; mtu = 20; } );' --check
bad tx_direct_memif 2 "tx_direct is for an af_packet port only" 'ports = ( { name = "p0"; type = "memif"; role = "server";
  socket = "/tmp/x.sock"; tx_direct = true; } );' --check
bad mtu_afp_range 1 "out of range" 'ports = ( { name = "p0"; type = "af_packet"; iface = "x"; mtu = 64001; } );' --check
bad mtu_big_memif 2 "MTU 16000 is over 9000; only an af_packet port" 'ports = ( { name = "p0"; type = "memif"; role = "server";
  socket = "/tmp/x.sock"; mtu = 16000; } );' --check
bad hello_range 1 "'app_hello_timeout_ms' = 10 is out of range" 'daemon = { app_hello_timeout_ms = 10; };' --check
bad pending_range 1 "'app_max_pending' = 0 is out of range" 'daemon = { app_max_pending = 0; };' --check
bad ctl_clients_range 1 "'control_max_clients' = 5000 is out of range" 'daemon = { control_max_clients = 5000; };' --check
bad unknown_section 2 "unknown section 'portz'" 'daemon = { };
portz = ( );' --check
bad dup_engine 3 "duplicate engine name" 'engines = (
 { name = "e"; elements = ( { name = "a"; type = "drop"; } ); },
 { name = "e"; elements = ( { name = "a"; type = "drop"; } ); } );' --check
bad bad_link 2 "link names unknown element 'nope'" 'engines = ( { name = "e"; elements = ( { name = "a"; type = "port_rx"; } );
  links = ( "a -> nope" ); } );' --check
bad unknown_group 1 "unknown group" 'engines = ( { name = "e"; group = "g"; elements = ( { name = "a"; type = "drop"; } ); } );' --check
bad bad_mode 1 "mode must be" 'groups = ( { name = "g"; mode = "turbo"; } );' --check
bad mbox_gap 2 "mbox_gap_us" 'daemon = {
  mbox_gap_us = 20000; };' --check
# Errors found while building engines (after DPDK started) are config errors too.
bad unknown_elem 4 "unknown element type 'frobnicate'" 'daemon = { name = "cfgt'$$'"; memory_mb = 64; run_dir = "'$T'/run"; };
ports = ( { name = "p0"; type = "null"; } );
engines = ( { name = "e"; elements = (
  { name = "x"; type = "frobnicate"; } ); } );'
bad elem_arg 3 "unknown port 'p9'" 'daemon = { name = "cfgu'$$'"; memory_mb = 64; run_dir = "'$T'/run"; };
ports = ( { name = "p0"; type = "null"; } );
engines = ( { name = "e"; elements = ( { name = "x"; type = "port_rx"; port = "p9"; } ); } );'
bad bad_output 4 "has no output 'nope'" 'daemon = { name = "cfgv'$$'"; memory_mb = 64; run_dir = "'$T'/run"; };
ports = ( { name = "p0"; type = "null"; } );
engines = ( { name = "e"; elements = ( { name = "x"; type = "port_rx"; port = "p0"; }, { name = "y"; type = "port_tx"; port = "p0"; } );
  links = ( "x.nope -> y" ); } );'
# The exception element (issue 17): a bad allow list, a tap that is not a tap port.
bad exc_allow 3 'allow: bad token "tcp:0"' 'daemon = { name = "cfgw'$$'"; memory_mb = 128; run_dir = "'$T'/run"; };
ports = ( { name = "p0"; type = "null"; ip = "10.0.0.1/24"; }, { name = "p1"; type = "null"; } );
engines = ( { name = "e"; elements = ( { name = "x"; type = "exception"; port = "p0"; tap = "p1"; allow = "tcp, tcp:0"; } ); } );'
bad exc_not_tap 3 'tap = "p1": not a port of type tap' 'daemon = { name = "cfgx'$$'"; memory_mb = 128; run_dir = "'$T'/run"; };
ports = ( { name = "p0"; type = "null"; ip = "10.0.0.1/24"; }, { name = "p1"; type = "null"; } );
engines = ( { name = "e"; elements = ( { name = "x"; type = "exception"; port = "p0"; tap = "p1"; } ); } );'
# Multi-queue ports (issue 17): a queue the port does not have; one rx queue, two engines.
bad queue_range 3 "port p0 has no rx queue 2 (its queues: 0-1)" 'daemon = { name = "cfgq'$$'"; memory_mb = 64; run_dir = "'$T'/run"; };
ports = ( { name = "p0"; type = "null"; queues = 2; } );
engines = ( { name = "e"; elements = ( { name = "x"; type = "port_rx"; port = "p0"; queue = 2; } ); } );'
bad queue_twice 4 "rx queue 1 of port p0 is owned by engine e0" 'daemon = { name = "cfgr'$$'"; memory_mb = 64; run_dir = "'$T'/run"; };
ports = ( { name = "p0"; type = "null"; queues = 2; } );
engines = ( { name = "e0"; elements = ( { name = "x"; type = "port_rx"; port = "p0"; queue = 1; } ); },
  { name = "e1"; elements = ( { name = "x"; type = "port_rx"; port = "p0"; queue = 1; } ); } );'
bad arp_twice 4 "its neighbour table is written by the arp/icmp6 elements of engine e0" 'daemon = { name = "cfgs'$$'"; memory_mb = 64; run_dir = "'$T'/run"; };
ports = ( { name = "p0"; type = "null"; queues = 2; } );
engines = ( { name = "e0"; elements = ( { name = "a"; type = "arp"; port = "p0"; } ); },
  { name = "e1"; elements = ( { name = "a"; type = "arp"; port = "p0"; } ); } );'
# Issue 17, flow steering: the steered UDP port blocks.
bad steer_block 1 "steer_udp_block must be a power of two" 'ports = ( { name = "p0"; type = "null"; steer_udp_block = 100; } );' --check
bad steer_align 1 "steer_udp_base a multiple of it" 'ports = ( { name = "p0"; type = "null"; steer_udp_base = 5000; } );' --check
bad steer_range 1 "pass 65535" 'ports = ( { name = "p0"; type = "null"; queues = 16; steer_udp_base = 61440; steer_udp_block = 512; } );' --check
bad steer_low 1 "steer_udp_base" 'ports = ( { name = "p0"; type = "null"; steer_udp_base = 512; steer_udp_block = 8; } );' --check
"$SNAPNETD" --check -c "$T/missing.conf" 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "missing.conf: cannot read file" "$T/err" || { echo "FAIL: missing file: rc $rc $(cat "$T/err")"; fails=$((fails+1)); }
echo "$fails failures"
[ $fails -eq 0 ]
