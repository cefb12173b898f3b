#!/usr/bin/env bash
# The impairment on a daemon's path, as Pony tests will use it: snapnetd (af_packet) and a
# kernel sender are joined through a bridge namespace whose port facing the sender carries
# tools/impair. Datagrams to the impaired UDP port reach the daemon's udp_demux lost,
# duplicated and corrupted exactly as the program counted: with stale checksums the daemon
# drops each corrupted one as udp_bad_checksum; with --fix-csum they all pass UDP checks
# (so only an end-to-end payload checksum such as Pony's can catch them). Needs root.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/host_conf.sh"
need_root
[ -n "${IMPAIR_OBJ:-}" ] && [ -f "$IMPAIR_OBJ" ] || skip "impair.bpf.o not built (no clang/libbpf headers)"
for c in bpftool python3 ethtool; do command -v $c >/dev/null || skip "$c missing"; done
top=$(cd "$(dirname "$0")/../.." && pwd)
IMP=$top/tools/impair/impair.sh
UDP=$top/tools/impair/udpcheck.py
export IMPAIR_OBJ
. "$top/tools/topo/netns.sh"
topo_init imd$$
topo_ns d   # the daemon
topo_ns m   # the bridge in the middle, where the impairment sits
topo_ns k   # the kernel sender
topo_link d vd0 - m md0 -
topo_link k vk0 10.78.0.2/24 m mk0 -
topo_bridge m br0 md0 mk0
topo_exec k ethtool -K vk0 tx off >/dev/null   # real UDP checksums on the wire
M=$(topo_nsname m)
PORT=9200
# udp_demux validates every datagram (checksum included) and hands all of them to "unmatched"
# (its dport.N arguments cannot be spelled in libconfig syntax, so it listens on no port).
host_conf imd 'type = "af_packet"; iface = "vd0"; ip = "10.78.0.1/24";' \
  ', { name = "udp"; type = "udp_demux"; }, { name = "sink"; type = "drop"; reason = "policy"; }' \
  ', "ip.udp -> udp", "udp.unmatched -> sink"' >"$T/d.conf"

# run NAME COUNT IMPAIR-ARGS...: a fresh daemon, the impairment, COUNT probes (plus 10
# END datagram to another port), then the program's and daemon's counters.
run() {
  local name=$1 count=$2; shift 2
  "$IMP" -n "$M" attach mk0 --udp-port $PORT "$@"
  start_daemon "$name" "$T/d.conf" ip netns exec "$(topo_nsname d)"
  topo_exec k ping -c 2 -i 0.2 -W 2 10.78.0.1 >/dev/null || fail "daemon unreachable through the bridge"
  topo_exec k python3 "$UDP" send 10.78.0.1 $PORT "$count" --end-port $((PORT + 2))
  sleep 0.5
  stop_daemon "$name" || fail "daemon did not exit cleanly"
  "$IMP" -n "$M" stats mk0 >"$T/$name.stats"
}
st() { awk -v k="$2" '$1==k {print $2}' "$T/$1.stats"; }

N=5000
run plain $N --loss 0.1 --dup 0.05 --corrupt 0.05
seen=$(st plain seen) dropped=$(st plain dropped) dups=$(st plain duplicated) bad=$(st plain corrupted)
udp_in=$(counter "$T/plain.log" host udp in_pkts)
csum=$(counter "$T/plain.log" host udp drop_udp_bad_checksum)
sink=$(counter "$T/plain.log" host sink in_pkts)
echo "stale checksums: seen $seen dropped $dropped duplicated $dups corrupted $bad;" \
     "daemon udp in $udp_in, bad checksum $csum, delivered $sink"
[ "$seen" -eq $N ] || fail "program saw $seen of $N"
# The daemon also gets the END datagram (another port, not impaired).
[ "$udp_in" -eq $((seen - dropped + dups + 1)) ] || fail "daemon got $udp_in datagrams, expected $((seen - dropped + dups + 1))"
[ "$csum" -eq "$bad" ] || fail "daemon found $csum bad checksums, program corrupted $bad"
[ "$sink" -eq $((seen - dropped + dups - bad + 1)) ] || fail "daemon delivered $sink"
[ "$dropped" -gt 0 ] && [ "$dups" -gt 0 ] && [ "$bad" -gt 0 ] || fail "an impairment never fired"

run fixed $N --corrupt 0.1 --fix-csum
bad=$(st fixed corrupted)
csum=$(counter "$T/fixed.log" host udp drop_udp_bad_checksum)
sink=$(counter "$T/fixed.log" host sink in_pkts)
echo "repaired checksums: corrupted $bad; daemon bad checksum $csum, delivered $sink"
[ "$bad" -gt 0 ] || fail "corruption never fired"
[ "$csum" -eq 0 ] && [ "$sink" -eq $((N + 1)) ] || fail "repaired datagrams were not all delivered"
echo PASS
