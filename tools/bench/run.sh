#!/usr/bin/env bash
# Benchmark driver: builds its own topology (two network namespaces joined by a veth pair),
# runs the same workloads over the kernel TCP stack and over Pony Express (two snapnetd
# daemons on that veth pair through af_packet, and joined by memif) with snapbench and the
# daemons pinned to fixed CPUs, accounts the CPU of every process involved, and writes
# JSON, CSV, markdown and PNG plots.
#
# Usage: tools/bench/run.sh [--quick] [--out DIR] [--snapbench PATH] [--snapnetd PATH]
#                           [--stacks LIST] [--pony-mode LIST] [--repeat N] [--cases RE]
#                           [--duration S] [--busy-limit CORES]
#   --quick      a few seconds in all (CI: the bench-quick suite); default is the full run
#   --out DIR    results folder (default tools/bench/results/<UTC time>)
#   --snapbench  the snapbench binary (default $SNAPBENCH, else build*/tools/bench/snapbench)
#   --snapnetd   the daemon for the Pony runs (default $SNAPNETD, else next to snapbench)
#   --stacks     comma list of kernel-tcp,pony-afpacket,pony-memif,pony-memif-auth,
#                pony-memif-zc (default: all but pony-memif-zc; pony-memif-auth is pony-memif
#                with authenticated flows, every packet tagged; pony-memif-zc the same with
#                side A's memif client in zero-copy mode: the report compares each with
#                pony-memif, same run)
#   --cases RE   only the cases whose label matches the extended regex RE (default: all)
#   --duration S seconds per case instead of the mode's (quick 0.3, full 5)
#   --repeat N   runs of every case of every stack (default: full 3, quick 1); the repeats
#                are interleaved (repeat 1 of every stack, then repeat 2, ...) so that a noisy
#                minute hits every stack; the report gives the median and spread of each
#   --pony-mode  comma list of the Pony engines' group modes, dedicated,spreading,compacting
#                (default dedicated): every Pony stack runs once per mode, named STACK/MODE
#   --busy-limit CORES  flag a case run "busy" when the CPU used by other processes of the
#                machine during it averaged more than CORES cores (default 0.1)
# Env: PONY_BENCH_MTU: every link's MTU (memif ports, the veth for the kernel and af_packet);
#   PONY_BENCH_VETH_MTU: the veth's alone, over PONY_BENCH_MTU (up to 64000, an af_packet
#   port's largest; memif stops at 9000): the same link for the kernel and af_packet;
#   PONY_BENCH_TX_DIRECT=0: af_packet ports send through the PMD's ring (tx_direct off);
#   PONY_BENCH_MEMIF_KICKS=0: memif ports without rx_interrupts (spreading/compacting engines
#   then poll them with back-off instead of sleeping on the peer's kicks);
#   BENCH_CLIENT_CPUS (default 0), BENCH_SERVER_CPUS (default 1): taskset CPU lists for
#   side A (client app and its snapnetd) and side B (server app and its snapnetd).
# The veth runs (kernel TCP, Pony over af_packet) need root (namespaces) and are skipped
# without it; Pony over memif needs no root. Exits 77 only when nothing could run. Traffic
# stays between 10.200.0.1 and 10.200.0.2 (inside the namespaces made here, deleted on
# exit) or on the memif link between the two daemons started here.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
quick=0
out=""
sb=${SNAPBENCH:-}
snapnetd=${SNAPNETD:-}
stacks=kernel-tcp,pony-afpacket,pony-memif,pony-memif-auth
cases_re=.
dur_opt=""
repeat=""
pony_modes=dedicated
busy_limit=0.1
printf -v cmdline ' %q' "$@"
# Recorded in the results, quoted to be rerun as is, with the environment that changes what
# is measured.
envs=""
for v in PONY_BENCH_MTU PONY_BENCH_VETH_MTU PONY_BENCH_ZERO_COPY PONY_BENCH_MEMIF_KICKS PONY_BENCH_TUNING \
         PONY_BENCH_KEYS PONY_BENCH_GROUP_KEYS BENCH_CLIENT_CPUS BENCH_SERVER_CPUS; do
  [ -n "${!v+x}" ] && printf -v envs '%s%s=%q ' "$envs" "$v" "${!v}"
done
cmdline="${envs}tools/bench/run.sh$cmdline"
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 ;;
    --out) out=$2; shift ;;
    --snapbench) sb=$2; shift ;;
    --snapnetd) snapnetd=$2; shift ;;
    --stacks) stacks=$2; shift ;;
    --cases) cases_re=$2; shift ;;
    --duration) dur_opt=$2; shift ;;
    --repeat) repeat=$2; shift ;;
    --pony-mode) pony_modes=$2; shift ;;
    --busy-limit) busy_limit=$2; shift ;;
    -h|--help) sed -n '2,/^set -e/{/^set -e/!p}' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

[ -n "$repeat" ] || repeat=$([ $quick -eq 1 ] && echo 1 || echo 3)
[[ $repeat =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: --repeat wants a count >= 1" >&2; exit 2; }
[[ $busy_limit =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "run.sh: --busy-limit wants cores, e.g. 0.1" >&2; exit 2; }
MODES=()
for m in ${pony_modes//,/ }; do
  case $m in
    dedicated|spreading|compacting) [[ " ${MODES[*]} " == *" $m "* ]] || MODES+=("$m") ;;
    *) echo "run.sh: unknown --pony-mode $m (dedicated, spreading, compacting)" >&2; exit 2 ;;
  esac
done
[ ${#MODES[@]} -gt 0 ] || { echo "run.sh: --pony-mode is empty" >&2; exit 2; }
for st in ${stacks//,/ }; do
  case $st in
    kernel-tcp|pony-afpacket|pony-memif|pony-memif-auth|pony-memif-zc) ;;
    *) echo "run.sh: unknown stack $st" >&2; exit 2 ;;
  esac
done

ROOT=1
[ "$(id -u)" -eq 0 ] || ROOT=0
want() { [[ ",$stacks," == *",$1,"* ]]; }
if [ $ROOT -eq 0 ] && ! want pony-memif && ! want pony-memif-auth && ! want pony-memif-zc; then
  echo "SKIP: the veth runs need root (network namespaces)"
  exit 77
fi
if [ -z "$sb" ]; then
  for d in "$top"/build "$top"/build-gcc "$top"/build-*; do
    [ -x "$d/tools/bench/snapbench" ] && { sb=$d/tools/bench/snapbench; break; }
  done
fi
[ -n "$sb" ] && [ -x "$sb" ] || { echo "run.sh: snapbench not found (build it, or --snapbench)" >&2; exit 1; }
[ -n "$snapnetd" ] || snapnetd=$(cd "$(dirname "$sb")/../.." && pwd)/snapnetd
tools=(taskset python3 gnuplot)
[ $ROOT -eq 1 ] && tools+=(ip)
for tool in "${tools[@]}"; do
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
DAEMON_PIDS=()
# Daemon run dirs and the memif socket: short paths (sun_path holds 108 bytes).
DTMP=$(mktemp -d /tmp/sbd.XXXXXX)
chmod 755 "$DTMP"
cleanup() {
  local rc=$? p
  for p in "${SERVER_PIDS[@]}" "${DAEMON_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${SERVER_PIDS[@]}" "${DAEMON_PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  # A killed daemon leaves its DPDK runtime dir (file prefix snap-<daemon name>).
  rm -rf /var/run/dpdk/snap-sb$$[ab]* "${XDG_RUNTIME_DIR:-/tmp}"/dpdk/snap-sb$$[ab]* 2>/dev/null || true
  if [ $ROOT -eq 1 ]; then
    ip netns del $NS_A 2>/dev/null || true
    ip netns del $NS_B 2>/dev/null || true
  fi
  rm -rf "$DTMP"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ulimit -n 8192 2>/dev/null || true   # 1,000 conns on each side
HZ=$(getconf CLK_TCK)

log() { printf '[bench] %s\n' "$*" >&2; }
VETH_MTU=${PONY_BENCH_VETH_MTU:-${PONY_BENCH_MTU:-}}

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
  if [ -n "$VETH_MTU" ]; then # the same link for the kernel and af_packet
    ip -n $NS_A link set $VA mtu "$VETH_MTU"
    ip -n $NS_B link set $VB mtu "$VETH_MTU"
  fi
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
# Everything here runs between the machine-wide readings that find the CPU of other
# processes (see reading), where the harness's own work would count as theirs: so nothing
# forks (builtins and redirections only).
cpu_list() { # expands "0,2-3" into "0 2 3"
  local part a b
  for part in ${1//,/ }; do
    if [[ $part == *-* ]]; then a=${part%-*}; b=${part#*-}; seq "$a" "$b"; else echo "$part"; fi
  done
}
PINNED=$( (cpu_list "$CCPUS"; cpu_list "$SCPUS") | sort -un | tr '\n' ' ')
KSOFTIRQD=$(for c in $PINNED; do ps -eo pid=,comm= | awk -v n="ksoftirqd/$c" '$2==n {print $1}'; done)
# pids_cpu PID...: CPU_T = utime+stime ticks, CPU_N = runtime ns, summed over the pids (the
# runtime over each process's threads: schedstat is per thread, a daemon has several).
pids_cpu() {
  local p s t v any
  local -a f
  CPU_T=0 CPU_N=0
  for p in "$@"; do
    { read -r s <"/proc/$p/stat"; } 2>/dev/null || continue
    s=${s##*) }
    f=($s)
    CPU_T=$((CPU_T + f[11] + f[12]))
    any=0
    for t in /proc/$p/task/*/schedstat; do
      { read -r v _ <"$t"; } 2>/dev/null || continue
      CPU_N=$((CPU_N + v)); any=1
    done
    [ $any -eq 1 ] || CPU_N=$((CPU_N + (f[11] + f[12]) * 1000000000 / HZ))
  done
}
# sys_cpu: SYS_BUSY = busy ticks of the whole machine from /proc/stat (user, nice, system,
# irq, softirq over all CPUs; idle, iowait and steal are not busy, guest is already in user);
# SYS_SOFTIRQ = softirq ticks of the pinned CPUs (CPU-wide: includes anything else that ran
# there; reported for information, not added, see README.md "CPU accounting").
sys_cpu() {
  local -a f
  SYS_BUSY=0 SYS_SOFTIRQ=0
  while read -r -a f; do
    case ${f[0]} in
      cpu) SYS_BUSY=$((f[1] + f[2] + f[3] + f[6] + f[7])) ;;
      cpu*) if [[ " $PINNED " == *" ${f[0]#cpu} "* ]]; then SYS_SOFTIRQ=$((SYS_SOFTIRQ + f[7])); fi ;;
      *) break ;;
    esac
  done </proc/stat
}
# shell_cpu: SELF_MS = user+system ms of this shell (the harness's own bookkeeping),
# CHILD_MS = the same for its children that have exited and been waited for (a client's
# whole life, set-up and drain included, with its timeout wrapper), from the times builtin
# (written to a file: a command substitution would fork).
shell_cpu() {
  local t m sec line=0
  local -a v
  times >"$DTMP/times"
  SELF_MS=0 CHILD_MS=0
  while read -r -a v; do
    for t in "${v[@]}"; do # "1m2.345s"
      m=${t%%m*}; sec=${t#*m}; sec=${sec%s}
      m=$((m * 60000 + 10#${sec%.*} * 1000 + 10#${sec#*.}))
      if [ $line -eq 0 ]; then SELF_MS=$((SELF_MS + m)); else CHILD_MS=$((CHILD_MS + m)); fi
    done
    line=$((line + 1))
  done <"$DTMP/times"
}
# reading SERVER_PID: RD = (server ticks, server ns, EXTRA_PIDS ticks, ns, ksoftirqd ticks,
# ns, softirq ticks of the pinned CPUs, machine busy ticks, children ms, wall clock us,
# shell ms).
# The difference of two readings around a case gives the CPU of the processes the benchmark
# accounts and, from the machine's busy time, the CPU of everything else (report.py merge).
reading() {
  local w=${EPOCHREALTIME/[.,]/}
  sys_cpu
  shell_cpu
  RD=()
  pids_cpu "$1"; RD+=($CPU_T $CPU_N)
  pids_cpu "${EXTRA_PIDS[@]}"; RD+=($CPU_T $CPU_N)
  pids_cpu $KSOFTIRQD; RD+=($CPU_T $CPU_N)
  RD+=($SYS_SOFTIRQ $SYS_BUSY $CHILD_MS $w $SELF_MS)
}
loadavg() { # "1m,5m,15m" load averages
  local a b c
  read -r a b c _ </proc/loadavg
  echo "$a,$b,$c"
}

# ---- servers --------------------------------------------------------------------------
# start_server NAME NETNS CPUS ARGS...: starts a snapbench server, waits for LISTENING,
# sets SERVER_PID and SERVER_PORT.
# NETNS "-" means no namespace (Pony over memif). $! must be the server itself (ip netns
# exec and taskset exec it), so that stop_server signals the right process.
start_server() {
  local name=$1 ns=$2 cpus=$3 pre=(); shift 3
  [ "$ns" = - ] || pre=(ip netns exec "$ns")
  : >"$out/raw/server-$name.log"
  "${pre[@]}" taskset -c "$cpus" "$sb" server --duration $SERVER_MAX_S "$@" \
    >"$out/raw/server-$name.json" 2>"$out/raw/server-$name.log" &
  SERVER_PID=$!
  SERVER_PIDS+=("$SERVER_PID")
  for _ in $(seq 100); do
    SERVER_PORT=$(awk '/^LISTENING/ {print $2}' "$out/raw/server-$name.log")
    [ -n "$SERVER_PORT" ] && return 0
    kill -0 $SERVER_PID 2>/dev/null || { log "server $name died: $(tail -3 "$out/raw/server-$name.log")"; return 1; }
    sleep 0.05
  done
  log "server $name not listening after 5 s"
  return 1
}
stop_server() { # pid
  kill -TERM "$1"
  for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  wait "$1" || { log "server $1 exited with an error"; return 1; }
}

# ---- one run ------------------------------------------------------------------------
# bench_case STACK LABEL NETNS CPUS SERVER_PID snapbench-client-args...
# Runs one client (repeat $REP), brackets it with CPU readings of every process involved
# (the client reports its own /proc/self/stat delta over the measured interval; the server,
# the daemons and the ksoftirqd threads are read here) and of the whole machine, with the
# load average before and after, and appends the merged record to runs.jsonl.
# Extra pids whose CPU counts (e.g. snapnetd daemons of a Pony run) go in EXTRA_PIDS.
EXTRA_PIDS=()
REP=1
bench_case() {
  local stack=$1 label=$2 ns=$3 cpus=$4 spid=$5; shift 5
  local name=${stack//\//.}-$label-r$REP r0 r1 la0 la1 rc=0 pre=()
  [ "$ns" = - ] || pre=(ip netns exec "$ns")
  la0=$(loadavg)
  reading "$spid"; r0=("${RD[@]}")
  timeout $CLIENT_TIMEOUT_S "${pre[@]}" taskset -c "$cpus" "$sb" client \
    --label "$label" --cdf "$out/cdf/$name.dat" "$@" \
    >"$out/raw/$name.json" 2>"$out/raw/$name.log" || rc=$?
  reading "$spid"; r1=("${RD[@]}")
  la1=$(loadavg)
  if [ $rc -ne 0 ] || [ ! -s "$out/raw/$name.json" ]; then
    log "$stack $label (repeat $REP) failed (rc=$rc): $(tail -3 "$out/raw/$name.log")"
    echo "$stack $label failed rc=$rc repeat=$REP" >>"$out/status.txt"
    return 1
  fi
  python3 "$here/report.py" merge "$out/raw/$name.json" "$stack" hz=$HZ repeat=$REP \
    server_ticks=$((r1[0] - r0[0])) server_ns=$((r1[1] - r0[1])) \
    extra_ticks=$((r1[2] - r0[2])) extra_ns=$((r1[3] - r0[3])) \
    ksoftirqd_ticks=$((r1[4] - r0[4])) ksoftirqd_ns=$((r1[5] - r0[5])) \
    softirq_ticks=$((r1[6] - r0[6])) busy_ticks=$((r1[7] - r0[7])) \
    child_ms=$((r1[8] - r0[8])) wall_us=$((r1[9] - r0[9])) shell_ms=$((r1[10] - r0[10])) \
    loadavg_before=$la0 loadavg_after=$la1 busy_limit=$busy_limit >>"$out/runs.jsonl"
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
    "stream-8m stream 8M 1 1"
    "conns1000-64 conns 64 1000 1000"
  )
fi

# Pony only: one-sided 64 B reads, one in flight (the kernel has no counterpart).
PONY_CASES=("read-64 read 64 1 1")
[ -z "$dur_opt" ] || { DUR=$dur_opt; DUR_CONNS=$dur_opt; }
sel=()
for c in "${CASES[@]}"; do [[ ${c%% *} =~ $cases_re ]] && sel+=("$c"); done
CASES=("${sel[@]}")
sel=()
for c in "${PONY_CASES[@]}"; do [[ ${c%% *} =~ $cases_re ]] && sel+=("$c"); done
PONY_CASES=("${sel[@]}")
[ $((${#CASES[@]} + ${#PONY_CASES[@]})) -gt 0 ] || { echo "run.sh: no case matches --cases $cases_re" >&2; exit 2; }

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
# The largest message of the selected cases, in bytes: one TCP server serves them all, and
# refuses a message above its --max-msg (1 MiB by default).
cases_max_msg() {
  local c label wl size v max=1048576
  for c in "${CASES[@]}"; do
    read -r label wl size _ <<<"$c"
    case $size in
      *K) v=$(( ${size%K} << 10 )) ;;
      *M) v=$(( ${size%M} << 20 )) ;;
      *) v=$size ;;
    esac
    [ "$v" -le "$max" ] || max=$v
  done
  echo $max
}

kernel_tcp_runs() {
  log "kernel TCP over veth (repeat $REP): client on CPUs $CCPUS ($NS_A), server on CPUs $SCPUS ($NS_B)"
  start_server kernel-tcp-r$REP $NS_B "$SCPUS" --transport tcp --addr $IP_B --port 0 \
    --max-msg "$(cases_max_msg)" || exit 1
  local spid=$SERVER_PID rc=0
  run_cases kernel-tcp $NS_A "$CCPUS" $spid $IP_B $SERVER_PORT tcp || rc=$?
  stop_server $spid || rc=1
  echo "kernel-tcp measured" >>"$out/status.txt"
  return $rc
}

# ---- Pony Express -------------------------------------------------------------------
# Two snapnetd daemons, A on the client's CPUs and B on the server's, each with one port and
# one engine: port_rx -> eth_classify -> arp | ipv4_in -> icmp_echo | udp_demux(4793) ->
# pony -> port_tx. The engine is in a group on the side's first CPU, in the --pony-mode
# being run: dedicated (a polling engine, as Snap runs it: it burns that core whether or
# not there is work, and that CPU is counted), spreading or compacting (threads that sleep
# when idle); the whole daemon is confined to the side's CPUs with taskset.
# The apps attach through the daemons' app sockets ($PONY_SOCKET).
first_cpu() { cpu_list "$1" | head -n 1; }

. "$here/pony_conf.sh"

# daemon_start NAME CONF NETNS CPUS: snapnetd pinned to CPUS (in NETNS unless "-"); waits
# for READY (20 s); sets DAEMON_PID.
daemon_start() {
  local name=$1 conf=$2 ns=$3 cpus=$4 pre=()
  [ "$ns" = - ] || pre=(ip netns exec "$ns")
  : >"$out/raw/daemon-$name.log"
  "${pre[@]}" taskset -c "$cpus" "$snapnetd" -c "$conf" >"$out/raw/daemon-$name.log" 2>&1 &
  DAEMON_PID=$!
  DAEMON_PIDS+=("$DAEMON_PID")
  for _ in $(seq 200); do
    grep -q "^READY" "$out/raw/daemon-$name.log" && return 0
    kill -0 $DAEMON_PID 2>/dev/null || { log "daemon $name died: $(tail -3 "$out/raw/daemon-$name.log")"; return 1; }
    sleep 0.1
  done
  log "daemon $name not ready after 20 s"
  return 1
}
daemon_stop() { # pid: SIGTERM, 10 s for a clean exit (it prints its final counters)
  kill -TERM "$1" 2>/dev/null || return 0
  for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  wait "$1" 2>/dev/null || { log "daemon $1 exited with an error"; return 1; }
}

# pony_warmup STACK NS_A NS_B ADDR SOCK_A SOCK_B: a short ping-pong until one succeeds
# (the memif link comes up and ARP resolves after READY), at most ~10 s. Not recorded.
pony_warmup() {
  local stack=$1 nsa=$2 nsb=$3 addr=$4 socka=$5 sockb=$6 i ok=1 pre=() w
  w=${1//\//.}-warmup-r$REP
  export PONY_SOCKET=$sockb
  start_server "$w" "$nsb" "$SCPUS" --transport pony --port 4999 --max-msg 64 \
    --max-conns 1 || return 1
  local spid=$SERVER_PID
  export PONY_SOCKET=$socka
  [ "$nsa" = - ] || pre=(ip netns exec "$nsa")
  for i in $(seq 10); do
    if timeout 20 "${pre[@]}" taskset -c "$CCPUS" "$sb" client --transport pony --addr "$addr" \
       --port 4999 --workload pingpong --size 64 --duration 0.2 \
       >"$out/raw/$w.json" 2>"$out/raw/$w.log"; then
      ok=0; break
    fi
    sleep 1
  done
  stop_server $spid || true
  rm -f "$out/raw/server-$w.json"
  [ $ok -eq 0 ] || log "$stack: no ping-pong succeeded: $(tail -2 "$out/raw/$w.log")"
  return $ok
}

# run_cases_pony STACK NS_A NS_B ADDR SOCK_A SOCK_B: the same case list as run_cases, one
# echo server per case: a Pony server receives into buffers posted ahead, so it is told
# the case's largest message and stream count (--max-msg, --max-conns) to size them.
run_cases_pony() {
  local stack=$1 nsa=$2 nsb=$3 addr=$4 socka=$5 sockb=$6 c label wl size conns infl dur
  local fails=0 svc=5000 spid
  for c in "${CASES[@]}" "${PONY_CASES[@]}"; do
    read -r label wl size conns infl <<<"$c"
    dur=$DUR; [ "$wl" = conns ] && dur=$DUR_CONNS
    svc=$((svc + 1))
    export PONY_SOCKET=$sockb
    if ! start_server "${stack//\//.}-$label-r$REP" "$nsb" "$SCPUS" --transport pony --port $svc \
         --max-msg "$size" --max-conns "$conns"; then
      echo "$stack $label failed server repeat=$REP" >>"$out/status.txt"
      fails=$((fails + 1))
      continue
    fi
    spid=$SERVER_PID
    export PONY_SOCKET=$socka
    bench_case "$stack" "$label" "$nsa" "$CCPUS" $spid --transport pony --addr "$addr" \
      --port $svc --workload "$wl" --size "$size" --conns "$conns" --inflight "$infl" \
      --ops $OPS --duration $dur || fails=$((fails + 1))
    stop_server $spid || fails=$((fails + 1))
  done
  unset PONY_SOCKET
  return $fails
}

# pony_pair STACK NS_A NS_B PORT_A PORT_B PONY-KEYS MODE: starts both daemons with their
# engine in a MODE group, runs every case (repeat $REP), stops them. The daemons are
# started afresh for each repeat, so the repeats are independent.
pony_pair() {
  local stack=$1 nsa=$2 nsb=$3 rc=0 da db d=daemon-${1//\//.}
  pony_conf "sb$$b" "$(first_cpu "$SCPUS")" "$5" "$6" "$7" >"$out/raw/$d-b-r$REP.conf"
  pony_conf "sb$$a" "$(first_cpu "$CCPUS")" "$4" "$6" "$7" >"$out/raw/$d-a-r$REP.conf"
  daemon_start "${d#daemon-}-b-r$REP" "$out/raw/$d-b-r$REP.conf" "$nsb" "$SCPUS" || {
    echo "$stack failed daemon B did not start repeat=$REP" >>"$out/status.txt"; return 1; }
  db=$DAEMON_PID
  daemon_start "${d#daemon-}-a-r$REP" "$out/raw/$d-a-r$REP.conf" "$nsa" "$CCPUS" || {
    daemon_stop $db
    echo "$stack failed daemon A did not start repeat=$REP" >>"$out/status.txt"; return 1; }
  da=$DAEMON_PID
  EXTRA_PIDS=($da $db)
  local socka=$DTMP/sb$$a/app.sock sockb=$DTMP/sb$$b/app.sock
  if pony_warmup "$stack" "$nsa" "$nsb" "$IP_B" "$socka" "$sockb"; then
    run_cases_pony "$stack" "$nsa" "$nsb" "$IP_B" "$socka" "$sockb" || rc=$?
    echo "$stack measured" >>"$out/status.txt"
  else
    echo "$stack failed no stream could be opened between the daemons repeat=$REP" >>"$out/status.txt"
    rc=1
  fi
  EXTRA_PIDS=()
  daemon_stop $da || rc=1
  daemon_stop $db || rc=1
  return $rc
}

# Pony Express over af_packet on this same veth pair: daemon A owns $VA in $NS_A, daemon B
# owns $VB in $NS_B, with the addresses the kernel used. The kernel's addresses are removed
# first: af_packet sees a copy of every frame and the kernel stack still gets it, so with
# the addresses left the kernel would answer ARP too and send ICMP port unreachable for
# every Pony datagram. And each port has a MAC of its own (the veths keep theirs): with the
# veth's MAC the kernel would still route every frame, to an error route, and drop it
# there; with another host's MAC it drops it first thing in ip_rcv (that work runs in the
# sending daemon's context and is counted in its CPU: 11-15% of a 64 KiB stream's). The
# addresses are put back afterwards for the kernel's next repeat.
# pony_afpacket_runs MODE
pony_afpacket_runs() {
  local rc=0 afp_mtu=${VETH_MTU:+mtu = $VETH_MTU; } txd=true
  [ "${PONY_BENCH_TX_DIRECT:-1}" = 1 ] || txd=false
  log "Pony over af_packet on the veth pair ($1 group, repeat $REP): daemon+client on CPUs $CCPUS ($NS_A), daemon+server on CPUs $SCPUS ($NS_B)"
  ip -n $NS_A addr flush dev $VA
  ip -n $NS_B addr flush dev $VB
  pony_pair pony-afpacket/$1 $NS_A $NS_B \
    "{ name = \"p0\"; type = \"af_packet\"; iface = \"$VA\"; ip = \"$IP_A/24\"; mac = \"02:00:00:5b:01:01\"; rx_interrupts = true; tx_direct = $txd; $afp_mtu}" \
    "{ name = \"p0\"; type = \"af_packet\"; iface = \"$VB\"; ip = \"$IP_B/24\"; mac = \"02:00:00:5b:01:02\"; rx_interrupts = true; tx_direct = $txd; $afp_mtu}" "" "$1" || rc=1
  # Back to the kernel for its next repeat.
  ip -n $NS_A addr add $IP_A/24 dev $VA
  ip -n $NS_B addr add $IP_B/24 dev $VB
  return $rc
}

# Pony Express between the two daemons joined by memif (shared-memory virtual link; no
# veth, no kernel on the data path, no root). The apps are pinned exactly like the others.
# pony_memif_runs STACK MODE [PONY-KEYS]: pony-memif, pony-memif-auth with a key file, or
# pony-memif-zc (A's memif client in zero-copy mode).
pony_memif_runs() {
  local ma=02:00:00:5b:00:02 mb=02:00:00:5b:00:01 sock=$DTMP/memif-$1-$2.sock
  local zc=${PONY_BENCH_ZERO_COPY:-0}
  [ "$1" = pony-memif-zc ] && zc=1
  log "Pony over memif ($1, $2 group, repeat $REP): daemon+client on CPUs $CCPUS, daemon+server on CPUs $SCPUS"
  pony_pair "$1/$2" - - "$(PONY_BENCH_ZERO_COPY=$zc pony_memif_port client "$sock" $ma $IP_A $IP_B $mb)" \
    "$(pony_memif_port server "$sock" $mb $IP_B $IP_A $ma)" "${3:-}" "$2"
}

# ---- main ---------------------------------------------------------------------------
t_start=$(date +%s.%N)
rc=0
LOAD_START=$(loadavg)
log "load average before the run: ${LOAD_START//,/ } (1, 5, 15 min; a quiet machine is under 0.2)"
log "$repeat repeat(s) of every case, interleaved; Pony group modes: ${MODES[*]}; busy above $busy_limit foreign cores"
[ $ROOT -eq 1 ] && { want kernel-tcp || want pony-afpacket; } && topology_up
# The stacks that will not run, once, under the names they would have had.
if ! want kernel-tcp; then
  echo "kernel-tcp not-measured not selected (--stacks)" >>"$out/status.txt"
elif [ $ROOT -eq 0 ]; then
  echo "kernel-tcp not-measured needs root (network namespaces)" >>"$out/status.txt"
fi
for st in pony-afpacket pony-memif pony-memif-auth pony-memif-zc; do
  for m in "${MODES[@]}"; do
    if ! want $st; then
      echo "$st/$m not-measured not selected (--stacks)" >>"$out/status.txt"
    elif [ $st = pony-afpacket ] && [ $ROOT -eq 0 ]; then
      echo "$st/$m not-measured needs root (network namespaces)" >>"$out/status.txt"
    fi
  done
done
keys=""
want pony-memif-auth && keys=$(pony_auth_keyfile "$DTMP/pony.keys")
for REP in $(seq "$repeat"); do
  [ "$repeat" -eq 1 ] || log "---- repeat $REP of $repeat"
  if want kernel-tcp && [ $ROOT -eq 1 ]; then kernel_tcp_runs || rc=1; fi
  for m in "${MODES[@]}"; do
    if want pony-afpacket && [ $ROOT -eq 1 ]; then pony_afpacket_runs "$m" || rc=1; fi
    if want pony-memif; then pony_memif_runs pony-memif "$m" || rc=1; fi
    if want pony-memif-auth; then pony_memif_runs pony-memif-auth "$m" "$keys" || rc=1; fi
    if want pony-memif-zc; then pony_memif_runs pony-memif-zc "$m" || rc=1; fi
  done
done
python3 "$here/report.py" report "$out" "$(uname -r)" "$CCPUS" "$SCPUS" "$quick" \
  repeat="$repeat" pony_modes="${MODES[*]}" busy_limit="$busy_limit" \
  loadavg_start="$LOAD_START" command="$cmdline" || rc=1
log "results in $out ($(python3 -c "import sys; print(round($(date +%s.%N) - $t_start, 1))") s)"
exit $rc
