#!/usr/bin/env bash
# eBPF custom one-sided ops between two real daemons joined by memif (issue 21): the target
# app on A registers a region with a 16-hop linked list and a table, loads the example
# programs and an out-of-region one, then sleeps without polling; the client on B walks the
# 16 hops in one op per round (value and offset checked), runs the filtered scan, and gets
# -EFAULT from the out-of-region program and -ENOEXEC for an unknown name. A's counters must
# show one request packet per walk (one round trip), the loads, and the fault counted once,
# with A's engine serving on.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pony_lib.sh"
BPF_APP=${PONY_BPF_APP:?PONY_BPF_APP must point at pony_bpf_app}
pony_pair "" "bpf_ops = 1;"
start_app tgt "$BPF_APP" target -s "$T/run-a/app.sock"
wait_log "$T/tgt.log" "^region " 10 || { cat "$T/tgt.log"; fail "target app did not start"; }
read -r _ R _ K <"$T/tgt.log"
N=${PONY_BPF_ROUNDS:-50}
rq0=$(live_stat "$SA" pony0 pony os_req_pkts_rx)
timeout 60 "$BPF_APP" client -s "$T/run-b/app.sock" -i $PIPA -r "$R:$K" -n "$N" \
  >"$T/cli.log" 2>&1 || { cat "$T/cli.log"; fail "client"; }
cat "$T/cli.log"
rq1=$(live_stat "$SA" pony0 pony os_req_pkts_rx)
# Every op waits for its completion before the next: one request packet each (the walk's
# 16 hops and the scan included), plus the two error cases.
[ $((rq1 - rq0)) = $((2 * N + 2)) ] || fail "A received $((rq1 - rq0)) request packets for $((2 * N + 2)) ops"
loads=$(live_stat "$SA" pony0 pony apps_bpf_loads)
[ "$loads" = 3 ] || fail "A's apps_bpf_loads is $loads, want 3"
faults=$($SA stats pony0 | awk '$2=="pony" && $3 ~ /\.bpf_faults$/ {v+=$4} END {print v+0}')
runs=$($SA stats pony0 | awk '$2=="pony" && $3 ~ /\.bpf_runs$/ {v+=$4} END {print v+0}')
noprog=$($SA stats pony0 | awk '$2=="pony" && $3 ~ /\.bpf_no_prog$/ {v+=$4} END {print v+0}')
[ "$faults" = 1 ] && [ "$noprog" = 1 ] && [ "$runs" = $((2 * N + 1)) ] ||
  fail "A's bpf counters: runs $runs faults $faults no_prog $noprog"
echo "A ran $runs programs in $((rq1 - rq0)) request packets; fault $faults, unknown name $noprog"
# The engine serves on after the fault: one more walk.
timeout 20 "$BPF_APP" client -s "$T/run-b/app.sock" -i $PIPA -r "$R:$K" -n 1 >/dev/null 2>&1 ||
  fail "A stopped serving after the fault"
stop_daemon b
stop_daemon a
echo PASS
