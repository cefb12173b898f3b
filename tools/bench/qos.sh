#!/usr/bin/env bash
# Priority-class benchmark (issue 21): two snapnetd daemons joined by memif (no root
# needed), a qos_bench echo server on daemon B and qos_bench clients on daemon A measuring a
# latency-critical 64 B RPC stream:
#   unloaded   the RPCs alone (critical)
#   classes    next to scavenger bulk streams that saturate the link
#   noclasses  the same with every stream normal (an app without classes)
#   overload-noac  many critical RPC streams next to the bulk (60, one RPC in flight
#              each: independent RPCs; a stream delivers in order, so an RPC queued behind
#              another on its stream waits for it whatever its class), no SLO: the latency
#              the overload reaches when nothing downgrades
#   overload-floor  the same with daemon A restarted with an SLO of 1 us, which nothing
#              meets: admission control downgrades all but 1% of the RPCs, and their p99 is
#              the least any SLO can ask here (the RPCs share the apps' and engines' CPUs
#              whatever their class, so the overload's own load sets a floor)
#   overload   the same with daemon A restarted with qos_slo_critical_us = the SLO
#              (default: halfway between the floor's p99 and overload-noac's, at least
#              1/8 over the floor: feasible, and
#              under what the overload gives without admission control; skipped with
#              --slo-us): admission control downgrades; the report gives the admitted RPCs'
#              p99 against the SLO and the downgrade share
# The overload cases each run on a fresh daemon A, and their lines carry "daemon": the
# critical class's RPCs, SLO misses and p50/p99 as daemon A measures them (send command
# taken to response delivered: the RPC network latency Aequitas holds to its SLO, and
# what the SLO rule above uses). The app's own figures add its wake-ups and rings.
# Results: DIR/qos.jsonl (one qos_bench line per case), DIR/summary.json (the p99 ratios
# the issue asks about), DIR/qos.png when qos_plot.py finds matplotlib.
# Usage: tools/bench/qos.sh [--smoke] [--out DIR] [--duration S] [--slo-us US]
#                           [--overload-streams N] [--overload-inflight K] [--weights C:N:S]
#   --smoke  0.3 s per case, engines in spreading groups, no plot: checks that every case
#            runs and reports (no timing is asserted; the bench-quick suite runs it)
#   --mode M the engines' group mode (default dedicated)
# Env: BENCH_CLIENT_CPUS (0), BENCH_SERVER_CPUS (1): taskset CPU lists of side A and B;
#   QOS_BENCH, SNAPNETD, SNAPCTL: the binaries (default: next to each other in a build dir);
#   QOS_BENCH_KEYS: more pony element settings for both daemons (e.g.
#   "qos_yield_delay_us = 25;");
#   daemon A's `snapctl stats` after the overload case goes to DIR/stats.{txt,json}.
# Traffic stays on the memif link between the two daemons started here.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
smoke=0 out="" dur="" slo="" ovl=60 ovl_inflight=1 weights=8:4:1 mode=""
qb=${QOS_BENCH:-} snapnetd=${SNAPNETD:-}
while [ $# -gt 0 ]; do
  case $1 in
    --smoke) smoke=1 ;;
    --out) out=$2; shift ;;
    --duration) dur=$2; shift ;;
    --slo-us) slo=$2; shift ;;
    --overload-streams) ovl=$2; shift ;;
    --overload-inflight) ovl_inflight=$2; shift ;;
    --weights) weights=$2; shift ;;
    --mode) mode=$2; shift ;;
    -h|--help) sed -n '2,/^set -e/{/^set -e/!p}' "$0"; exit 0 ;;
    *) echo "qos.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$dur" ] || dur=$([ $smoke -eq 1 ] && echo 0.3 || echo 10)
# The smoke run's engines sleep when idle (spreading groups): it shares CI machines. The
# measured run polls, as Snap's engines do (dedicated).
[ $smoke -eq 1 ] && { ovl=8; mode=${mode:-spreading}; }
mode=${mode:-dedicated}
case $mode in dedicated|spreading|compacting) ;; *) echo "qos.sh: unknown mode $mode" >&2; exit 2 ;; esac
if [ -z "$qb" ]; then
  for d in "$top"/build "$top"/build-gcc "$top"/build-*; do
    [ -x "$d/tools/bench/qos_bench" ] && { qb=$d/tools/bench/qos_bench; break; }
  done
fi
[ -n "$qb" ] && [ -x "$qb" ] || { echo "qos.sh: qos_bench not found (build it)" >&2; exit 1; }
[ -n "$snapnetd" ] || snapnetd=$(cd "$(dirname "$qb")/../.." && pwd)/snapnetd
[ -x "$snapnetd" ] || { echo "qos.sh: snapnetd not found" >&2; exit 1; }
command -v taskset >/dev/null || { echo "qos.sh: taskset missing" >&2; exit 1; }
command -v python3 >/dev/null || { echo "qos.sh: python3 missing" >&2; exit 1; }
[ -n "$out" ] || out=$here/results/qos-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out/raw"
out=$(cd "$out" && pwd)
: >"$out/qos.jsonl"

CCPUS=${BENCH_CLIENT_CPUS:-0}
SCPUS=${BENCH_SERVER_CPUS:-1}
IP_A=10.201.0.2 IP_B=10.201.0.1
MA=02:00:00:5c:00:02 MB=02:00:00:5c:00:01
PIDS=()
DTMP=$(mktemp -d /tmp/sbq.XXXXXX)
chmod 755 "$DTMP"
# stop PID: SIGTERM, 5 s to exit (a daemon prints its final counters), then SIGKILL.
stop() {
  kill -TERM "$1" 2>/dev/null || return 0
  for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
cleanup() {
  local rc=$? p
  for p in "${PIDS[@]}"; do stop "$p"; done
  rm -rf /var/run/dpdk/snap-sq$$[ab]* "${XDG_RUNTIME_DIR:-/tmp}"/dpdk/snap-sq$$[ab]* 2>/dev/null || true
  rm -rf "$DTMP"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
log() { printf '[qos] %s\n' "$*" >&2; }

. "$here/pony_conf.sh"
first_cpu() { echo "${1%%[,-]*}"; }

# daemon NAME SIDE(a|b) PONY-KEYS: start it, wait for READY (20 s); sets PID.
daemon() {
  local name=$1 side=$2 keys=$3 cpus port sock=$DTMP/memif.sock
  if [ "$side" = a ]; then
    cpus=$CCPUS; port=$(pony_memif_port client "$sock" $MA $IP_A $IP_B $MB)
  else
    cpus=$SCPUS; port=$(pony_memif_port server "$sock" $MB $IP_B $IP_A $MA)
  fi
  PONY_BENCH_KEYS="$keys" pony_conf "$name" "$(first_cpu "$cpus")" "$port" "" "$mode" \
    >"$out/raw/$name.conf"
  taskset -c "$cpus" "$snapnetd" -c "$out/raw/$name.conf" >"$out/raw/$name.log" 2>&1 &
  PID=$!
  PIDS+=($PID)
  for _ in $(seq 200); do
    grep -q "^READY" "$out/raw/$name.log" && return 0
    kill -0 $PID 2>/dev/null || { log "daemon $name died: $(tail -3 "$out/raw/$name.log")"; return 1; }
    sleep 0.1
  done
  log "daemon $name not ready after 20 s"
  return 1
}

svc=5100
# run_case CASE [qos_bench client options]: one server on B, one client on A.
run_case() {
  local c=$1 spid ok=1; shift
  svc=$((svc + 1))
  PONY_SOCKET=$DTMP/sq$$b/app.sock taskset -c "$SCPUS" "$qb" server --service $svc \
    --duration 600 >"$out/raw/server-$c.json" 2>"$out/raw/server-$c.log" &
  spid=$!
  PIDS+=($spid)
  for _ in $(seq 100); do grep -q LISTENING "$out/raw/server-$c.log" 2>/dev/null && break; sleep 0.1; done
  # The memif link and ARP come up after READY: retry the first case a few times.
  for _ in $(seq 10); do
    if PONY_SOCKET=$DTMP/sq$$a/app.sock timeout 120 taskset -c "$CCPUS" "$qb" client \
       --addr $IP_B --service $svc --case "$c" --duration "$dur" "$@" \
       >"$out/raw/client-$c.json" 2>"$out/raw/client-$c.log"; then
      ok=0; break
    fi
    grep -q "opening streams" "$out/raw/client-$c.log" || break
    sleep 1
  done
  stop $spid
  if [ $ok -ne 0 ]; then
    log "case $c failed: $(tail -2 "$out/raw/client-$c.log")"
    return 1
  fi
  cat "$out/raw/client-$c.json" >>"$out/qos.jsonl"
  log "$c: $(cat "$out/raw/client-$c.json")"
}

ctl=${SNAPCTL:-$(dirname "$snapnetd")/tools/snapctl}
# daemon_qos CASE: daemon A's view of the case just run (restarted before it, so its
# counters hold that case alone) added to the case's line as "daemon" (see the top of this
# file). Needs snapctl; without it the line stays as it is.
daemon_qos() {
  [ -x "$ctl" ] || return 0
  "$ctl" --socket "$DTMP/sq$$a/control.sock" --json stats >"$out/raw/stats-$1.json" 2>&1 ||
    return 1
  python3 - "$out/qos.jsonl" "$out/raw/stats-$1.json" "$1" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
c = {}
for e in json.load(open(sys.argv[2]))["engines"]:
    for el in e["elements"]:
        for k in el["counters"]:
            c[k["name"]] = c.get(k["name"], 0) + k["value"]
r = json.loads(lines[-1])
assert r["case"] == sys.argv[3]
r["daemon"] = {k: c.get("qos_critical_" + k, 0)
               for k in ("rpcs", "slo_missed", "slo_missed_floor", "p50_ns", "p99_ns")}
lines[-1] = json.dumps(r, separators=(",", ":"))
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
PY
}
# restart_a KEYS: daemon A again with these pony keys (sets da).
restart_a() {
  stop $da
  daemon sq$$a a "$keys $1" || return 1
  da=$PID
}

keys="qos_weights = \"$weights\"; ${QOS_BENCH_KEYS:-}"
daemon sq$$b b "$keys"; db=$PID
daemon sq$$a a "$keys"; da=$PID
rc=0
run_case unloaded --bulk-streams 0 || rc=1
run_case classes || rc=1
run_case noclasses || rc=1
restart_a "" || rc=1
run_case overload-noac --rpc-streams "$ovl" --rpc-inflight "$ovl_inflight" || rc=1
daemon_qos overload-noac || rc=1
# The overload cases need an SLO in daemon A's config: restart it with one. The default
# is halfway between the floor and the overload without admission control, as the daemon
# measures them (as the app does without snapctl), but at least an eighth over the floor:
# the daemon's percentiles are histogram buckets an eighth of an octave wide, and the
# floor moves that much between runs, so an SLO closer to it may be out of reach in the
# overload's own run (admission then sits at its floor and counts slo_missed_floor).
if [ -z "$slo" ]; then
  restart_a "qos_slo_critical_us = 1;" || rc=1
  run_case overload-floor --rpc-streams "$ovl" --rpc-inflight "$ovl_inflight" --slo-us 1 ||
    rc=1
  daemon_qos overload-floor || rc=1
  slo=$(python3 -c 'import json,sys
p99 = {}
for l in open(sys.argv[1]):
    r = json.loads(l)
    lat = r["lat_in_class_ns"] if r["case"] == "overload-floor" else r["lat_ns"]
    p99[r["case"]] = r["daemon"]["p99_ns"] if "daemon" in r else lat["p99"]
f, n = p99["overload-floor"], p99["overload-noac"]
print(max(1, -(-max((f + n) // 2, f * 9 // 8) // 1000)))' "$out/qos.jsonl" 2>/dev/null || true)
  [ -n "$slo" ] || slo=100
fi
restart_a "qos_slo_critical_us = $slo;" || rc=1
run_case overload --rpc-streams "$ovl" --rpc-inflight "$ovl_inflight" --slo-us "$slo" || rc=1
daemon_qos overload || rc=1
# Daemon A's per-class counters as snapctl shows them (stats.txt, stats.json), when built.
if [ -x "$ctl" ]; then
  "$ctl" --socket "$DTMP/sq$$a/control.sock" stats >"$out/stats.txt" 2>&1 || rc=1
  "$ctl" --socket "$DTMP/sq$$a/control.sock" --json stats >"$out/stats.json" 2>&1 || rc=1
  for w in qos_critical_tx_pkts qos_critical_downgraded qos_critical_p99_ns qos_scavenger_tx_bytes; do
    grep -q "$w" "$out/stats.txt" && grep -q "$w" "$out/stats.json" ||
      { log "snapctl stats lacks $w"; rc=1; }
  done
fi
stop $PID
stop $db
python3 - "$out/qos.jsonl" "$out/summary.json" "$mode" <<'PY' || rc=1
import json, sys
rows = {r["case"]: r for r in map(json.loads, open(sys.argv[1]))}
need = ["unloaded", "classes", "noclasses", "overload-noac", "overload"]
missing = [c for c in need if c not in rows]
def p99(c): return rows[c]["lat_ns"]["p99"] if c in rows else None
s = {"mode": sys.argv[3], "cases": rows, "missing": missing}
if p99("unloaded"):
    for c in ("classes", "noclasses"):
        if p99(c):
            s[c + "_p99_over_unloaded"] = round(p99(c) / p99("unloaded"), 3)
if "overload" in rows:
    o = rows["overload"]
    s["overload_slo_us"] = o["slo_us"]
    s["overload_p99_in_class_us"] = o["lat_in_class_ns"]["p99"] / 1000
    s["overload_downgrade_share"] = o["downgrade_share"]
if p99("overload-noac"):
    s["overload_noac_p99_us"] = p99("overload-noac") / 1000
if "overload-floor" in rows:
    s["overload_floor_p99_in_class_us"] = rows["overload-floor"]["lat_in_class_ns"]["p99"] / 1000
for c in ("overload-noac", "overload-floor", "overload"):
    d = rows.get(c, {}).get("daemon")
    if d:
        k = c.replace("-", "_")
        s[k + "_daemon_p99_us"] = d["p99_ns"] / 1000
        s[k + "_daemon_slo_missed_share"] = round(d["slo_missed"] / max(1, d["rpcs"]), 4)
        # Misses with admission already at its floor: the SLO was out of reach then.
        s[k + "_daemon_slo_missed_floor_share"] = round(d.get("slo_missed_floor", 0) /
                                                        max(1, d["rpcs"]), 4)
# Whether the overload needed admission control at all: without it, over the SLO (the
# daemon's p99; false when the floor is so close to it that the SLO had to be above both).
if "overload_slo_us" in s and "overload_noac_daemon_p99_us" in s:
    s["overload_noac_over_slo"] = s["overload_noac_daemon_p99_us"] > s["overload_slo_us"]
json.dump(s, open(sys.argv[2], "w"), indent=1)
print(json.dumps({k: v for k, v in s.items() if k != "cases"}))
sys.exit(1 if missing else 0)
PY
if [ $smoke -eq 0 ] && [ $rc -eq 0 ]; then
  python3 "$here/qos_plot.py" "$out/qos.jsonl" "$out/qos.png" || log "no plot (matplotlib?)"
fi
log "results in $out"
exit $rc
