#!/usr/bin/env bash
# Benchmark driver: builds its own topology (two network namespaces joined by a veth pair),
# runs the kernel TCP workloads with snapbench pinned to fixed CPUs, accounts the CPU of
# every process involved, and writes JSON, CSV, markdown and PNG plots. The Pony Express
# runs plug into the hook functions below, on the same namespaces, CPUs and workloads.
#
# Usage: tools/bench/run.sh [--quick] [--out DIR] [--snapbench PATH]
#   --quick      a few seconds in all (CI: the bench-quick suite); default is the full run
#   --out DIR    results folder (default tools/bench/results/<UTC time>)
#   --snapbench  the snapbench binary (default $SNAPBENCH, else build*/tools/bench/snapbench)
# Env: BENCH_CLIENT_CPUS (default 0), BENCH_SERVER_CPUS (default 1): taskset CPU lists for
#   side A (client app, and later its snapnetd) and side B (server app, and its snapnetd).
# Needs root (namespaces); exits 77 without it. Traffic stays between 10.200.0.1 and
# 10.200.0.2, which exist only inside the namespaces made here and deleted on exit.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
quick=0
out=""
sb=${SNAPBENCH:-}
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 ;;
    --out) out=$2; shift ;;
    --snapbench) sb=$2; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: run.sh needs root (network namespaces)"
  exit 77
fi
if [ -z "$sb" ]; then
  for d in "$top"/build "$top"/build-gcc "$top"/build-*; do
    [ -x "$d/tools/bench/snapbench" ] && { sb=$d/tools/bench/snapbench; break; }
  done
fi
[ -n "$sb" ] && [ -x "$sb" ] || { echo "run.sh: snapbench not found (build it, or --snapbench)" >&2; exit 1; }
for tool in ip taskset python3 gnuplot; do
  command -v $tool >/dev/null || { echo "run.sh: $tool missing (tools/setup.sh installs it)" >&2; exit 1; }
done
[ -n "$out" ] || out=$here/results/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out/raw" "$out/cdf"
out=$(cd "$out" && pwd)
: >"$out/runs.jsonl"
: >"$out/status.txt"

CCPUS=${BENCH_CLIENT_CPUS:-0}
SCPUS=${BENCH_SERVER_CPUS:-1}
NS_A=sbA$$ NS_B=sbB$$          # A: client side, B: server side
VA=sbva$$ VB=sbvb$$
IP_A=10.200.0.2 IP_B=10.200.0.1
# Upper bound on any server's life: it is stopped explicitly, this is only the backstop.
SERVER_MAX_S=$([ $quick -eq 1 ] && echo 120 || echo 1800)
# Every client run is bounded by its own --duration plus snapbench's fixed drain time; the
# timeout here is a second backstop.
CLIENT_TIMEOUT_S=60

SERVER_PIDS=()
cleanup() {
  local rc=$?
  for p in "${SERVER_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${SERVER_PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  ip netns del $NS_A 2>/dev/null || true
  ip netns del $NS_B 2>/dev/null || true
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ulimit -n 8192 2>/dev/null || true   # 1,000 conns on each side
HZ=$(getconf CLK_TCK)

log() { printf '[bench] %s\n' "$*" >&2; }

# ---- topology -------------------------------------------------------------------------
topology_up() {
  ip netns add $NS_A
  ip netns add $NS_B
  ip -n $NS_A link set lo up
  ip -n $NS_B link set lo up
  ip link add $VA type veth peer name $VB
  ip link set $VA netns $NS_A
  ip link set $VB netns $NS_B
  ip -n $NS_A addr add $IP_A/24 dev $VA
  ip -n $NS_B addr add $IP_B/24 dev $VB
  ip -n $NS_A link set $VA up
  ip -n $NS_B link set $VB up
  ip netns exec $NS_A ping -c 1 -W 2 $IP_B >/dev/null || { log "veth pair does not pass traffic"; exit 1; }
}

# ---- CPU accounting -------------------------------------------------------------------
# Two readings per process: utime+stime clock ticks from /proc/<pid>/stat (what top and ps
# show; sampled at the tick, 1/CLK_TCK s resolution) and the scheduler's runtime in ns from
# /proc/<pid>/schedstat (exact). Both include softirq work done in the task's context on
# this kernel (no IRQ time accounting). The per-core figures use the exact one; the tick
# one is kept next to it as a cross-check.
proc_ticks() {
  local s
  s=$(cat /proc/$1/stat 2>/dev/null) || { echo 0; return; }
  s=${s##*) }
  set -- $s
  echo $(( ${12} + ${13} ))
}
proc_ns() {
  local ns=0
  read -r ns _ </proc/$1/schedstat 2>/dev/null || ns=$(( $(proc_ticks $1) * 1000000000 / HZ ))
  echo "$ns"
}
cpu_list() { # expands "0,2-3" into "0 2 3"
  local part a b
  for part in ${1//,/ }; do
    if [[ $part == *-* ]]; then a=${part%-*}; b=${part#*-}; seq "$a" "$b"; else echo "$part"; fi
  done
}
PINNED=$( (cpu_list "$CCPUS"; cpu_list "$SCPUS") | sort -un | tr '\n' ' ')
KSOFTIRQD=$(for c in $PINNED; do ps -eo pid=,comm= | awk -v n="ksoftirqd/$c" '$2==n {print $1}'; done)
# pids_cpu PID...: "ticks ns" summed over the pids.
pids_cpu() {
  local t=0 n=0 p
  for p in "$@"; do t=$((t + $(proc_ticks "$p"))); n=$((n + $(proc_ns "$p"))); done
  echo "$t $n"
}
# Softirq ticks of the pinned CPUs from /proc/stat (CPU-wide: includes anything else that
# ran there; reported for information, not added, see README.md "CPU accounting").
softirq_ticks() {
  local t=0 c
  for c in $PINNED; do
    t=$((t + $(awk -v n="cpu$c" '$1==n {print $8}' /proc/stat)))
  done
  echo $t
}

# ---- servers --------------------------------------------------------------------------
# start_server NAME NETNS CPUS ARGS...: starts a snapbench server, waits for LISTENING,
# sets SERVER_PID and SERVER_PORT.
start_server() {
  local name=$1 ns=$2 cpus=$3; shift 3
  ip netns exec "$ns" taskset -c "$cpus" "$sb" server --duration $SERVER_MAX_S "$@" \
    >"$out/raw/server-$name.json" 2>"$out/raw/server-$name.log" &
  SERVER_PID=$!
  SERVER_PIDS+=("$SERVER_PID")
  for _ in $(seq 100); do
    SERVER_PORT=$(awk '/^LISTENING/ {print $2}' "$out/raw/server-$name.log")
    [ -n "$SERVER_PORT" ] && return 0
    kill -0 $SERVER_PID 2>/dev/null || { log "server $name died: $(tail -3 "$out/raw/server-$name.log")"; exit 1; }
    sleep 0.05
  done
  log "server $name not listening after 5 s"
  exit 1
}
stop_server() { # pid
  kill -TERM "$1"
  for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  wait "$1" || { log "server $1 exited with an error"; return 1; }
}

# ---- one run ------------------------------------------------------------------------
# bench_case STACK LABEL NETNS CPUS SERVER_PID snapbench-client-args...
# Runs one client, brackets it with CPU readings of every process involved (the client
# reports its own /proc/self/stat delta over the measured interval; the server and the
# ksoftirqd threads are read here) and appends the merged record to runs.jsonl.
# Extra pids whose CPU counts (e.g. snapnetd daemons of a Pony run) go in EXTRA_PIDS.
EXTRA_PIDS=()
bench_case() {
  local stack=$1 label=$2 ns=$3 cpus=$4 spid=$5; shift 5
  local s0 s1 e0 e1 k0 k1 q0 q1 rc=0
  read -r -a s0 <<<"$(pids_cpu "$spid")"
  read -r -a e0 <<<"$(pids_cpu "${EXTRA_PIDS[@]}")"
  read -r -a k0 <<<"$(pids_cpu $KSOFTIRQD)"
  q0=$(softirq_ticks)
  timeout $CLIENT_TIMEOUT_S ip netns exec "$ns" taskset -c "$cpus" "$sb" client \
    --label "$label" --cdf "$out/cdf/$stack-$label.dat" "$@" \
    >"$out/raw/$stack-$label.json" 2>"$out/raw/$stack-$label.log" || rc=$?
  read -r -a s1 <<<"$(pids_cpu "$spid")"
  read -r -a e1 <<<"$(pids_cpu "${EXTRA_PIDS[@]}")"
  read -r -a k1 <<<"$(pids_cpu $KSOFTIRQD)"
  q1=$(softirq_ticks)
  if [ $rc -ne 0 ] || [ ! -s "$out/raw/$stack-$label.json" ]; then
    log "$stack $label failed (rc=$rc): $(tail -3 "$out/raw/$stack-$label.log")"
    echo "$stack $label failed rc=$rc" >>"$out/status.txt"
    return 1
  fi
  python3 "$here/report.py" merge "$out/raw/$stack-$label.json" "$stack" "$HZ" \
    $((s1[0] - s0[0])) $((s1[1] - s0[1])) $((e1[0] - e0[0])) $((e1[1] - e0[1])) \
    $((k1[0] - k0[0])) $((k1[1] - k0[1])) $((q1 - q0)) >>"$out/runs.jsonl"
  python3 "$here/report.py" line "$out/runs.jsonl" >&2
}

# ---- workloads --------------------------------------------------------------------------
# One list for every stack, so Pony and the kernel run exactly the same cases.
# Fields: label workload size conns inflight
if [ $quick -eq 1 ]; then
  DUR=0.3; DUR_CONNS=0.5; OPS=200000
  CASES=(
    "pp-64 pingpong 64 1 1"
    "pp-1k pingpong 1K 1 1"
    "pp-8k pingpong 8K 1 1"
    "pp-64k pingpong 64K 1 1"
    "closed16-64 closed 64 1 16"
    "stream-1m stream 1M 1 1"
    "conns1000-64 conns 64 1000 1000"
  )
else
  DUR=5; DUR_CONNS=5; OPS=50000000
  CASES=(
    "pp-64 pingpong 64 1 1"
    "pp-1k pingpong 1K 1 1"
    "pp-8k pingpong 8K 1 1"
    "pp-64k pingpong 64K 1 1"
    "closed16-64 closed 64 1 16"
    "closed64-64 closed 64 1 64"
    "closed16-8k closed 8K 1 16"
    "stream-64k stream 64K 1 1"
    "stream-1m stream 1M 1 1"
    "conns1000-64 conns 64 1000 1000"
  )
fi

# run_cases STACK NETNS CPUS SERVER_PID ADDR PORT TRANSPORT
run_cases() {
  local stack=$1 ns=$2 cpus=$3 spid=$4 addr=$5 port=$6 tp=$7 c label wl size conns infl dur
  local fails=0
  for c in "${CASES[@]}"; do
    read -r label wl size conns infl <<<"$c"
    dur=$DUR; [ "$wl" = conns ] && dur=$DUR_CONNS
    bench_case "$stack" "$label" "$ns" "$cpus" "$spid" --transport "$tp" --addr "$addr" \
      --port "$port" --workload "$wl" --size "$size" --conns "$conns" --inflight "$infl" \
      --ops $OPS --duration $dur || fails=$((fails + 1))
  done
  return $fails
}

# ---- stacks -------------------------------------------------------------------------
kernel_tcp_runs() {
  log "kernel TCP over veth: client on CPUs $CCPUS ($NS_A), server on CPUs $SCPUS ($NS_B)"
  start_server kernel-tcp $NS_B "$SCPUS" --transport tcp --addr $IP_B --port 0
  local spid=$SERVER_PID rc=0
  run_cases kernel-tcp $NS_A "$CCPUS" $spid $IP_B $SERVER_PORT tcp || rc=$?
  stop_server $spid || rc=1
  echo "kernel-tcp measured" >>"$out/status.txt"
  return $rc
}

# Hook: Pony Express over af_packet (or af_xdp) on this same veth pair. To fill in once
# libpony (include/pony.h) and tools/bench/tp_pony.c exist: start one snapnetd per
# namespace owning $VA / $VB with the pony engine (addresses $IP_A / $IP_B), pinned like
# the apps ($CCPUS / $SCPUS); put the daemon pids in EXTRA_PIDS so their CPU is counted;
# start_server pony-afpacket $NS_B "$SCPUS" --transport pony ...; then
# run_cases pony-afpacket $NS_A "$CCPUS" <server pid> <addr> <port> pony.
pony_afpacket_runs() {
  echo "pony-afpacket not-measured libpony and the snapbench pony transport are not on main yet" \
    >>"$out/status.txt"
}

# Hook: Pony Express between two snapnetd daemons joined by memif (no veth): same
# recipe as above with memif ports; namespaces still hold the apps so that the CPU
# pinning and the workloads are identical.
pony_memif_runs() {
  echo "pony-memif not-measured libpony and the snapbench pony transport are not on main yet" \
    >>"$out/status.txt"
}

# ---- main ---------------------------------------------------------------------------
t_start=$(date +%s.%N)
topology_up
rc=0
kernel_tcp_runs || rc=1
pony_afpacket_runs || rc=1
pony_memif_runs || rc=1
python3 "$here/report.py" report "$out" "$(uname -r)" "$CCPUS" "$SCPUS" "$quick" || rc=1
log "results in $out ($(python3 -c "import sys; print(round($(date +%s.%N) - $t_start, 1))") s)"
exit $rc
