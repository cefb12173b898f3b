#!/usr/bin/env bash
# The tc-bpf link impairment (tools/impair) on a veth between two test-made namespaces: UDP
# probes to the impaired port are dropped, duplicated and corrupted at the configured rates
# (within tolerance), what the receiver observes equals the program's counters exactly, other
# ports, ARP and ICMP are untouched, corruption without --fix-csum is caught by the
# receiving kernel's UDP checksum, and detach restores a clean link. Needs root.
. "$(dirname "$0")/lib.sh"
need_root
[ -n "${IMPAIR_OBJ:-}" ] && [ -f "$IMPAIR_OBJ" ] || skip "impair.bpf.o not built (no clang/libbpf headers)"
command -v bpftool >/dev/null || skip "bpftool missing"
command -v python3 >/dev/null || skip "python3 missing"
command -v ethtool >/dev/null || skip "ethtool missing"
top=$(cd "$(dirname "$0")/../.." && pwd)
IMP=$top/tools/impair/impair.sh
UDP=$top/tools/impair/udpcheck.py
export IMPAIR_OBJ
# shellcheck source=../../tools/topo/netns.sh
. "$top/tools/topo/netns.sh"
topo_init imp$$
topo_ns s
topo_ns r
topo_link s ve0 10.66.0.1/24 r ve0 10.66.0.2/24
R=$(topo_nsname r)
# No transmit checksum offload: datagrams carry real UDP checksums that the receiving kernel
# verifies (with offload a veth hands over "checksum partial" packets it never checks).
topo_exec s ethtool -K ve0 tx off >/dev/null
PORT=9100

# run_probe NAME COUNT OTHER: receiver in r, sender in s; figures land in $T/NAME.txt.
run_probe() {
  rm -f "$T/ready"
  local overflows; overflows=$(udp_stat RcvbufErrors)
  topo_exec r python3 "$UDP" recv $PORT --expect "$2" --timeout 60 --ready "$T/ready" \
    >"$T/$1.txt" 2>"$T/$1.log" &
  local pid=$!
  for _ in $(seq 100); do [ -f "$T/ready" ] && break; sleep 0.1; done
  [ -f "$T/ready" ] || fail "receiver did not start"
  topo_exec s python3 "$UDP" send 10.66.0.2 $PORT "$2" --other "$3" || fail "sender failed"
  wait $pid || fail "receiver did not see the END datagram: $(cat "$T/$1.log")"
  # Exact comparisons below assume the receiver lost nothing itself.
  [ "$(udp_stat RcvbufErrors)" -eq "$overflows" ] ||
    fail "receiver socket overflowed (machine overloaded?); counts would not compare"
}
fig() { awk -v k="$2" '$1==k {print $2}' "$T/$1.txt"; }
istat() { "$IMP" -n "$R" stats ve0 | awk -v k="$1" '$1==k {print $2}'; }
# udp_stat FIELD: a Udp counter of namespace r (InCsumErrors, RcvbufErrors, ...).
udp_stat() { topo_exec r awk -v f="$1" '/^Udp:/ {n++; if (n==1) for (i=1;i<=NF;i++) if ($i==f) c=i; if (n==2) print $c}' /proc/net/snmp; }
# within X EXPECTED TOL: |X - EXPECTED| <= TOL
within() { awk -v x="$1" -v e="$2" -v t="$3" 'BEGIN { d = x - e; exit !(d <= t && -d <= t) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", b ? a / b : 0 }'; }

# Phase 1: loss 10 %, duplication 5 %, corruption 5 % with the checksum repaired.
N=20000 OTHER=2000
"$IMP" -n "$R" attach ve0 --udp-port $PORT --loss 0.1 --dup 0.05 --corrupt 0.05 --fix-csum
[ "$(istat udp_port)" = $PORT ] || fail "configuration not applied"
topo_exec s ping -c 3 -i 0.2 -W 2 10.66.0.2 >"$T/ping.log" || fail "ICMP affected: $(tail -2 "$T/ping.log")"
topo_exec s arping -c 2 -w 5 -I ve0 10.66.0.2 >"$T/arping.log" 2>&1 || fail "ARP affected"
run_probe p1 $N $OTHER
cat "$T/p1.txt"
"$IMP" -n "$R" stats ve0 | tee "$T/stats1.txt"
seen=$(istat seen) dropped=$(istat dropped) dups=$(istat duplicated) bad=$(istat corrupted)
[ "$seen" -eq $N ] || fail "program saw $seen of $N datagrams"
[ "$(fig p1 missing)" -eq "$dropped" ] || fail "receiver missed $(fig p1 missing), program dropped $dropped"
[ "$(fig p1 duplicates)" -eq "$dups" ] || fail "receiver saw $(fig p1 duplicates) duplicates, program made $dups"
[ "$(fig p1 corrupt)" -eq "$bad" ] || fail "receiver saw $(fig p1 corrupt) corrupt, program corrupted $bad"
[ "$(istat dup_reentered)" -eq "$dups" ] || fail "duplicates re-entering the hook: $(istat dup_reentered) != $dups"
[ "$(istat dup_failed)" -eq 0 ] || fail "clone_redirect failed $(istat dup_failed) times"
[ "$(fig p1 other)" -eq $OTHER ] && [ "$(fig p1 other_corrupt)" -eq 0 ] ||
  fail "other UDP port affected: $(fig p1 other) of $OTHER, $(fig p1 other_corrupt) corrupt"
passed=$((seen - dropped))
loss_r=$(ratio "$(fig p1 missing)" $N) dup_r=$(ratio "$(fig p1 duplicates)" $passed)
bad_r=$(ratio "$(fig p1 corrupt)" $passed)
echo "observed: loss $loss_r (0.10), duplication $dup_r (0.05), corruption $bad_r (0.05)"
# Standard deviations are ~0.002; these bounds are over 5 sigma.
within "$loss_r" 0.10 0.012 || fail "loss rate $loss_r not near 0.10"
within "$dup_r" 0.05 0.008 || fail "duplication rate $dup_r not near 0.05"
within "$bad_r" 0.05 0.008 || fail "corruption rate $bad_r not near 0.05"

# Phase 2: 20 % corruption with stale checksums: the receiving kernel must drop every
# corrupted datagram as a UDP checksum error.
N2=5000
"$IMP" -n "$R" attach ve0 --udp-port $PORT --corrupt 0.2
[ "$(istat seen)" -eq 0 ] || fail "re-attach did not reset the counters"
before=$(udp_stat InCsumErrors)
run_probe p2 $N2 0
cat "$T/p2.txt"
after=$(udp_stat InCsumErrors)
bad=$(istat corrupted)
echo "corrupted $bad, UDP InCsumErrors +$((after - before)), receiver missing $(fig p2 missing)"
[ "$(fig p2 corrupt)" -eq 0 ] || fail "a corrupted datagram with a stale checksum was delivered"
[ $((after - before)) -eq "$bad" ] || fail "kernel checksum errors $((after - before)) != corrupted $bad"
[ "$(fig p2 missing)" -eq "$bad" ] || fail "receiver missed $(fig p2 missing), corrupted $bad"
within "$(ratio "$bad" $N2)" 0.20 0.03 || fail "corruption rate $(ratio "$bad" $N2) not near 0.20"

# Phase 3: detach (twice: idempotent) leaves a clean link and no qdisc behind.
"$IMP" -n "$R" detach ve0
"$IMP" -n "$R" detach ve0
topo_exec r tc qdisc show dev ve0 | grep -q clsact && fail "clsact qdisc left behind"
run_probe p3 2000 0
[ "$(fig p3 missing)" -eq 0 ] && [ "$(fig p3 duplicates)" -eq 0 ] && [ "$(fig p3 corrupt)" -eq 0 ] ||
  fail "link still impaired after detach: $(tr '\n' ' ' <"$T/p3.txt")"
echo PASS
