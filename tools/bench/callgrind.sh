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
# Prints "instructions_per_op <N>" as its last line; exits non-zero when it cannot tell.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
funcs=()
ops=""
keep=""
demo=0
sb=${SNAPBENCH:-}
while [ $# -gt 0 ]; do
  case $1 in
    --func) funcs+=("$2"); shift ;;
    --ops) ops=$2; shift ;;
    --keep) keep=$2; shift ;;
    --demo) demo=1 ;;
    --snapbench) sb=$2; shift ;;
    --) shift; break ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "callgrind.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind missing (tools/setup.sh installs it)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/snapcg.XXXXXX)
server_pid=""
cleanup() {
  local rc=$?
  if [ -n "$server_pid" ]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ $demo -eq 1 ]; then
  if [ -z "$sb" ]; then
    for d in "$top"/build "$top"/build-gcc "$top"/build-*; do
      [ -x "$d/tools/bench/snapbench" ] && { sb=$d/tools/bench/snapbench; break; }
    done
  fi
  [ -n "$sb" ] && [ -x "$sb" ] || { echo "callgrind.sh: snapbench not found" >&2; exit 1; }
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
