#!/usr/bin/env bash
# Instructions per op: runs a command under callgrind, collecting only inside the named
# function(s) and their callees (--toggle-collect), and divides the instructions by the op
# count. Counts user-space instructions only (syscalls' kernel work is invisible to it).
#
# Usage: tools/bench/callgrind.sh [--func NAME]... [--ops N] [--keep FILE] -- COMMAND [ARGS...]
#          ops: --ops N, else the "ops" field of the last JSON line COMMAND prints
#        tools/bench/callgrind.sh --demo [--snapbench PATH] [--ops N]
#          the kernel TCP client's per-RPC path: a snapbench echo server on 127.0.0.1 and a
#          64 B ping-pong client under callgrind, collecting in tcp_poll (epoll wait
#          return, read, framing, the RPC completion upcall, histogram, next sendmsg)
#        tools/bench/callgrind.sh --pony [--auth] [--inflight N] [--snapbench PATH]
#                                 [--snapnetd PATH] [--ops N] [--keep FILE]
#          Pony's engine path per RPC: two snapnetd daemons joined by memif (no root), the
#          client side's daemon under callgrind collecting in the pony element's process()
#          and poll() (receive path, app commands, transmit, timers, acks), a 64 B
#          ping-pong over them. The engine polls, so idle polls are measured first (1 s
#          with the client's stream open and idle; polls = calls of pony_tp_poll) and their
#          cost is taken out:
#          instructions_per_op = (Ir during the RPCs - polls x Ir per idle poll) / RPCs.
#          Also prints the raw figure and the top functions of the RPC phase. --auth: both
#          daemons in authenticated mode (a fresh key file; every packet AES-GCM tagged), so
#          the difference of two runs is the tag's cost per RPC (4 packets: 2 sealed and 2
#          checked on the measured side). --inflight N: N RPCs in flight on the stream
#          (closed loop) instead of one (ping-pong): the engine's cost per RPC when its
#          polls find several at once, as in the closed16/closed64 bench cases.
# Prints "instructions_per_op <N>" as its last line; exits non-zero when it cannot tell.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
funcs=()
ops=""
keep=""
demo=0
pony=0
auth=0
inflight=1
sb=${SNAPBENCH:-}
snapnetd=${SNAPNETD:-}
while [ $# -gt 0 ]; do
  case $1 in
    --func) funcs+=("$2"); shift ;;
    --ops) ops=$2; shift ;;
    --keep) keep=$2; shift ;;
    --demo) demo=1 ;;
    --pony) pony=1 ;;
    --auth) auth=1 ;;
    --inflight) inflight=$2; shift ;;
    --snapbench) sb=$2; shift ;;
    --snapnetd) snapnetd=$2; shift ;;
    --) shift; break ;;
    -h|--help) sed -n '2,/^set -e/{/^set -e/!p}' "$0"; exit 0 ;;
    *) echo "callgrind.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind missing (tools/setup.sh installs it)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/snapcg.XXXXXX)
chmod 755 "$tmp"
server_pid=""
bg_pids=()
cleanup() {
  local rc=$? p
  if [ -n "$server_pid" ]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  for p in "${bg_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${bg_pids[@]}"; do
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  # DPDK runtime dirs (file prefix snap-<daemon name>) of our daemons: a daemon that
  # was killed, or ran under valgrind, can leave its own behind.
  rm -rf /var/run/dpdk/snap-cg$$[ab]* "${XDG_RUNTIME_DIR:-/tmp}"/dpdk/snap-cg$$[ab]* 2>/dev/null || true
  rm -rf "$tmp"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- --pony: instructions per RPC on Pony's engine path --------------------------------
# Ir of callgrind dump FILE (events collected inside the toggled functions).
dump_ir() { awk '/^(summary|totals):/ {print $2; exit}' "$1"; }
# Engine polls in callgrind dump FILE: pony_poll calls pony_tp_poll once per poll, and that
# call is inside the collected region, so its call count is the poll count.
dump_polls() {
  python3 - "$1" <<'PY'
import re, sys
names, n, cfn = {}, 0, None
for line in open(sys.argv[1]):
    m = re.match(r"(c?fn)=\((\d+)\)(?: (.*))?", line)
    if m:
        if m.group(3):
            names[m.group(2)] = m.group(3).strip()
        if m.group(1) == "cfn":
            cfn = names.get(m.group(2))
        continue
    if line.startswith("calls=") and cfn == "pony_tp_poll":
        n += int(line.split("=")[1].split()[0])
        cfn = None
print(n)
PY
}
# tx_pkts rx_pkts of the measured daemon's Pony element (flows come and go: the element's
# counters only grow), from snapctl when it is built.
flow_pkts() {
  local ctl=${SNAPCTL:-$(dirname "$snapnetd")/tools/snapctl}
  [ -x "$ctl" ] || return 0
  "$ctl" --socket "$tmp/cg$$a/control.sock" stats 2>/dev/null |
    awk '$2 == "pony" && $3 == "tx_pkts" {t += $4} $2 == "pony" && $3 == "rx_pkts" {r += $4}
         $2 == "pony" && $3 == "retransmits" {x += $4} $2 == "pony" && $3 == "acks_tx" {a += $4}
         END {print t + 0, r + 0, x + 0, a + 0}'
}

pony_engine_path() {
  [ -n "$snapnetd" ] || snapnetd=$(cd "$(dirname "$sb")/../.." && pwd)/snapnetd
  [ -x "$snapnetd" ] || { echo "callgrind.sh: snapnetd not found" >&2; return 1; }
  command -v callgrind_control >/dev/null || { echo "callgrind.sh: callgrind_control missing" >&2; return 1; }
  # 10,000: the first RPCs (cold caches, first-time paths) weigh less; at 3,000 runs spread
  # over ~100 instructions, at 10,000 over ~40, for a second more under valgrind.
  [ -n "$ops" ] || ops=10000
  [ ${#funcs[@]} -gt 0 ] || funcs=(pony_process pony_poll)
  local here_dir ca cb vpid i p_idle p_busy ir_idle ir_busy rpcs
  here_dir=$(cd "$(dirname "$0")" && pwd)
  DTMP=$tmp
  # The engines poll without handing their CPU over when idle (idle_yield_polls = 0): under
  # valgrind each sched_yield is slow and reshapes which polls find work together, which
  # moved the figure by +-60 instructions from run to run; the engine's work per RPC is
  # what is measured, not the scheduling policy (PONY_BENCH_GROUP_KEYS overrides).
  export PONY_BENCH_GROUP_KEYS=${PONY_BENCH_GROUP_KEYS-idle_yield_polls = 0;}
  # Likewise the apps sleep in pony_wait instead of spinning beside their engine (libpony's
  # default): a spinning app hands its CPU to the engine at every look, and under valgrind
  # (the engine ~50x slower) that made ~270 engine polls per RPC, whose idle cost is only
  # estimated (+2,300 instructions per RPC from the estimate's error alone).
  export PONY_WAIT_SPIN_US=${PONY_WAIT_SPIN_US-0}
  # Timers sized for valgrind's pace, not the engine's: valgrind runs the daemon ~50 times
  # slower while the apps run at full speed, and each app shares its CPU with a polling
  # engine, so an app's turn can take milliseconds of wall time on a busy host. With the
  # defaults the next request (which carries the ack) often came after the 20 us ack delay
  # and a standalone ACK went out (1.00-1.18 packets per RPC from run to run, +-250
  # instructions); with a 1 ms delay equal to the 1 ms RTO floor, a slow CI host fired a
  # spurious retransmission (and its duplicate's ACK) for 64% of RPCs (1.64 packets each
  # way), and with a 20 ms delay a clean-clone CI run on a host stealing the VM's CPU sent a
  # standalone ACK for 54% of RPCs (4,792 instructions). The engine's work per RPC is
  # measured, not the timers: the longest delayed ack there is, 100 ms, under a 400 ms RTO
  # floor (PONY_BENCH_KEYS overrides).
  export PONY_BENCH_KEYS=${PONY_BENCH_KEYS-ack_delay_us = 100000; rto_min_us = 400000; rto_max_us = 1000000;}
  . "$here_dir/pony_conf.sh"
  ca=${BENCH_CLIENT_CPUS:-0}; ca=${ca%%[,-]*}
  cb=${BENCH_SERVER_CPUS:-1}; cb=${cb%%[,-]*}
  local ma=02:00:00:5c:00:02 mb=02:00:00:5c:00:01 ia=10.201.0.2 ib=10.201.0.1
  local keys=""
  [ $auth -eq 0 ] || keys=$(pony_auth_keyfile "$tmp/pony.keys")
  pony_conf "cg$$b" "$cb" "$(pony_memif_port server "$tmp/memif.sock" $mb $ib $ia $ma)" \
    "$keys" >"$tmp/b.conf"
  pony_conf "cg$$a" "$ca" "$(pony_memif_port client "$tmp/memif.sock" $ma $ia $ib $mb)" \
    "$keys" >"$tmp/a.conf"
  taskset -c "$cb" "$snapnetd" -c "$tmp/b.conf" >"$tmp/b.log" 2>&1 &
  bg_pids+=($!)
  cgout=${keep:-$tmp/callgrind.out}
  local vg=(valgrind --tool=callgrind --callgrind-out-file="$cgout" --collect-atstart=no)
  for f in "${funcs[@]}"; do vg+=(--toggle-collect="$f"); done
  taskset -c "$ca" "${vg[@]}" "$snapnetd" -c "$tmp/a.conf" >"$tmp/a.log" 2>&1 &
  vpid=$!
  bg_pids+=($vpid)
  for i in $(seq 600); do
    grep -q "^READY" "$tmp/a.log" && grep -q "^READY" "$tmp/b.log" && break
    sleep 0.1
  done
  grep -q "^READY" "$tmp/a.log" || { echo "callgrind.sh: daemon under callgrind not ready" >&2; tail -5 "$tmp/a.log" >&2; return 1; }
  PONY_SOCKET=$tmp/cg$$b/app.sock taskset -c "$cb" "$sb" server --transport pony --port 5000 \
    --max-msg 64 --max-conns 4 --duration 300 >"$tmp/server.json" 2>"$tmp/server.log" &
  server_pid=$!
  export PONY_SOCKET=$tmp/cg$$a/app.sock
  # Warm-up (link up, flow open, caches): until one short run succeeds, at most ~20 s.
  for i in $(seq 10); do
    taskset -c "$ca" "$sb" client --transport pony --addr $ib --port 5000 --size 64 \
      --ops 200 --duration 5 >"$tmp/warm.json" 2>"$tmp/warm.log" && break
    sleep 1
  done
  [ -s "$tmp/warm.json" ] || { echo "callgrind.sh: no RPC got through: $(tail -2 "$tmp/warm.log")" >&2; return 1; }
  # Idle phase: what the engine executes per poll with nothing to do, measured with the
  # RPC phase's client attached and its stream (and flow) open, so the two phases differ
  # only by the RPCs: the client holds its open stream idle for 1.5 s, then runs the RPCs.
  local wl=(--workload pingpong)
  [ "$inflight" -le 1 ] || wl=(--workload closed --inflight "$inflight")
  taskset -c "$ca" "$sb" client --transport pony --addr $ib --port 5000 --size 64 --hold 1.5 \
    "${wl[@]}" \
    --ops "$ops" --duration 120 >"$tmp/cmd.out" 2>"$tmp/client.log" &
  local cpid=$!
  for i in $(seq 200); do grep -q "^HOLDING" "$tmp/client.log" && break; sleep 0.05; done
  grep -q "^HOLDING" "$tmp/client.log" || { echo "callgrind.sh: client did not connect" >&2; return 1; }
  sleep 0.1
  callgrind_control -z $vpid >/dev/null
  sleep 1
  callgrind_control --dump=idle $vpid >/dev/null
  grep -q "^STARTING" "$tmp/client.log" && { echo "callgrind.sh: the idle window overlapped the RPCs (machine too slow); try again" >&2; return 1; }
  # RPC phase: the rest of the hold (subtracted like the idle phase) and the RPCs.
  local pk0 pk1
  pk0=$(flow_pkts)
  callgrind_control -z $vpid >/dev/null
  wait $cpid || { echo "callgrind.sh: RPC phase failed: $(tail -2 "$tmp/client.log")" >&2; return 1; }
  callgrind_control --dump=rpcs $vpid >/dev/null
  pk1=$(flow_pkts)
  sleep 0.5
  local fidle fbusy
  fidle=$(ls "$cgout".* | sort -t. -k2 -n | sed -n 1p)
  fbusy=$(ls "$cgout".* | sort -t. -k2 -n | sed -n 2p)
  ir_idle=$(dump_ir "$fidle"); ir_busy=$(dump_ir "$fbusy")
  p_idle=$(dump_polls "$fidle"); p_busy=$(dump_polls "$fbusy")
  rpcs=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])["ops"])' "$tmp/cmd.out")
  cat "$tmp/cmd.out"
  echo "top functions of the RPC phase (inclusive instructions, idle polls included):"
  callgrind_annotate --inclusive=yes --threshold=100 "$fbusy" 2>/dev/null |
    awk '/file:function/ {on=1; next} on && /^ *[0-9,]+ / {print "  " $0}' | sed -n '3,22p'
  echo "top functions of the RPC phase (self instructions):"
  callgrind_annotate --threshold=100 "$fbusy" 2>/dev/null |
    awk '/file:function/ {on=1; next} on && /^ *[0-9,]+ / {print "  " $0}' | sed -n '1,15p'
  python3 - "$ir_idle" "$p_idle" "$ir_busy" "$p_busy" "$rpcs" "${funcs[*]}" "$pk0" "$pk1" <<'PY'
import sys
ir_idle, polls_idle, ir_busy, polls_busy, rpcs = map(int, sys.argv[1:6])
per_poll = ir_idle / polls_idle if polls_idle else 0.0
net = (ir_busy - polls_busy * per_poll) / rpcs
print("functions %s; idle: %d instructions over %d polls (%.1f per poll); RPC phase: %d "
      "instructions, %d polls, %d RPCs" % (sys.argv[6], ir_idle, polls_idle, per_poll, ir_busy,
                                           polls_busy, rpcs))
pk0, pk1 = sys.argv[7].split(), sys.argv[8].split()
if len(pk0) == 4 and len(pk1) == 4:
    d = [(int(b) - int(a)) / rpcs for a, b in zip(pk0, pk1)]
    print("packets_per_op tx %.2f rx %.2f (the measured side; retransmits %.2f, standalone "
          "acks %.2f)" % tuple(d))
print("instructions_per_op_raw %.1f" % (ir_busy / rpcs))
print("instructions_per_op %.1f" % net)
PY
}

if [ $demo -eq 1 ] || [ $pony -eq 1 ]; then
  if [ -z "$sb" ]; then
    for d in "$top"/build "$top"/build-gcc "$top"/build-*; do
      [ -x "$d/tools/bench/snapbench" ] && { sb=$d/tools/bench/snapbench; break; }
    done
  fi
  [ -n "$sb" ] && [ -x "$sb" ] || { echo "callgrind.sh: snapbench not found" >&2; exit 1; }
fi
if [ $pony -eq 1 ]; then
  pony_engine_path
  exit $?
fi
if [ $demo -eq 1 ]; then
  [ -n "$ops" ] || ops=20000
  # Loopback only; the server stops itself after 120 s at the latest.
  : >"$tmp/server.log" # exists before the background job opens it: no race with awk below
  "$sb" server --addr 127.0.0.1 --port 0 --duration 120 >"$tmp/server.json" 2>"$tmp/server.log" &
  server_pid=$!
  port=""
  for _ in $(seq 100); do
    port=$(awk '/^LISTENING/ {print $2}' "$tmp/server.log")
    [ -n "$port" ] && break
    sleep 0.05
  done
  [ -n "$port" ] || { echo "callgrind.sh: demo server did not start" >&2; exit 1; }
  [ ${#funcs[@]} -gt 0 ] || funcs=(tcp_poll)
  set -- "$sb" client --transport tcp --addr 127.0.0.1 --port "$port" --workload pingpong \
    --size 64 --ops "$ops" --duration 60
fi
[ $# -gt 0 ] || { echo "callgrind.sh: no command (see --help)" >&2; exit 2; }
[ ${#funcs[@]} -gt 0 ] || { echo "callgrind.sh: name at least one --func" >&2; exit 2; }

cgout=${keep:-$tmp/callgrind.out}
vg=(valgrind --tool=callgrind --callgrind-out-file="$cgout" --collect-atstart=no)
for f in "${funcs[@]}"; do vg+=(--toggle-collect="$f"); done
"${vg[@]}" -- "$@" >"$tmp/cmd.out" 2>"$tmp/vg.log" || {
  echo "callgrind.sh: command failed under valgrind:" >&2; tail -5 "$tmp/vg.log" >&2; exit 1; }
cat "$tmp/cmd.out"

if [ -z "$ops" ]; then
  ops=$(python3 -c '
import json, sys
lines = [l for l in open(sys.argv[1]) if l.strip().startswith("{")]
print(json.loads(lines[-1])["ops"] if lines else "")' "$tmp/cmd.out")
fi
[ -n "$ops" ] && [ "$ops" -gt 0 ] 2>/dev/null || { echo "callgrind.sh: no op count (--ops or JSON \"ops\")" >&2; exit 1; }
# "summary:" (or "totals:") holds the events collected while a toggled function was on
# the stack; the first event is Ir, instructions executed.
ir=$(awk '/^(summary|totals):/ {print $2; exit}' "$cgout")
[ -n "$ir" ] && [ "$ir" -gt 0 ] || { echo "callgrind.sh: no instructions collected in ${funcs[*]} (is the name right and not inlined?)" >&2; exit 1; }
echo "functions ${funcs[*]}; instructions $ir; ops $ops"
python3 -c "import sys; print('instructions_per_op %.1f' % (int(sys.argv[1]) / int(sys.argv[2])))" "$ir" "$ops"
