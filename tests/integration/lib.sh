# Shared helpers for integration tests (sourced). Every test gets a private temp dir and
# registers cleanups that run on any exit, so daemons and namespaces never outlive a test.
set -euo pipefail

SNAPNETD=${SNAPNETD:?SNAPNETD must point at the snapnetd binary}
LSAN_SUPP=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lsan.supp
T=$(mktemp -d /tmp/snaptest.XXXXXX)
chmod 755 "$T"
CLEANUPS=()
PIDS=()

cleanup() {
  local rc=$?
  # Daemons started here, plus any whose command line names this test's dir (the new
  # daemon an upgrade spawned: the test may have failed before it learned its pid).
  local p
  for p in $(pgrep -f -- "-c $T/" || true); do PIDS+=("$p"); done
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  local i
  for ((i=${#CLEANUPS[@]}-1; i>=0; i--)); do eval "${CLEANUPS[$i]}" || true; done
  # DPDK runtime dirs (snap-NAME, snap-NAME.1 during upgrades) of daemons this test started
  # (their names end in $$) that could not remove their own: killed, or made to die by a test
  # hook mid-upgrade. Only a dead daemon's dir goes.
  local d
  for d in /var/run/dpdk/snap-*$$ /var/run/dpdk/snap-*$$.1 "${XDG_RUNTIME_DIR:-/tmp}"/dpdk/snap-*$$ \
           "${XDG_RUNTIME_DIR:-/tmp}"/dpdk/snap-*$$.1; do
    [ -d "$d" ] && ! dpdk_dir_live "$d" && rm -rf "$d"
  done
  if [ $rc -ne 0 ]; then
    echo "---- test failed (rc=$rc); logs in $T:"
    # A daemon's exit dumps its counters (hundreds of lines): the lines before them count.
    for f in "$T"/*.log; do [ -f "$f" ] && { echo "== $f"; grep -v '^counter ' "$f" | tail -n 60; }; done
    # SNAP_KEEP_LOGS=DIR: the whole test dir of a failed test is kept there (by hand runs).
    if [ -n "${SNAP_KEEP_LOGS:-}" ]; then
      mkdir -p "$SNAP_KEEP_LOGS" && cp -r "$T" "$SNAP_KEEP_LOGS/" 2>/dev/null &&
        echo "kept in $SNAP_KEEP_LOGS/$(basename "$T")"
    fi
  fi
  rm -rf "$T"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# dpdk_dir_live DIR: a live EAL primary owns DIR (it write-locks DIR/config for its life;
# /proc/locks lists the lock by inode).
dpdk_dir_live() {
  local ino
  ino=$(stat -c %i "$1/config" 2>/dev/null) || return 1
  grep -q ":$ino " /proc/locks
}

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }
need_root() { [ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces)"; }

# AS_USER: when root, a command prefix that runs a daemon as nobody with no capabilities
# (and $T opened to it), to prove no privilege is needed; empty otherwise.
AS_USER=()
as_nobody() {
  if [ "$(id -u)" -eq 0 ]; then
    AS_USER=(setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all --bounding-set=-all)
    chmod 1777 "$T"
  fi
}

# start_daemon NAME CONF [prefix command...]: starts snapnetd, waits for READY (20 s max).
start_daemon() {
  local name=$1 conf=$2; shift 2
  # Empty the log first: a restarted daemon's READY must not be read from its predecessor's
  # log before the new one has truncated it.
  : >"$T/$name.log"
  # Leak detection on for the daemon (ASan builds; ignored otherwise): stop_daemon fails the
  # test on a leak report, except for leaks inside libraries we do not own (lsan.supp). The
  # tools and apps keep the suite's setting.
  ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1" \
    LSAN_OPTIONS="suppressions=$LSAN_SUPP:print_suppressions=0" \
    "$@" "$SNAPNETD" -c "$conf" >"$T/$name.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  eval "PID_$name=$pid"
  for _ in $(seq 200); do
    grep -q "^READY" "$T/$name.log" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || fail "daemon $name exited during start-up"
    sleep 0.1
  done
  fail "daemon $name not ready after 20 s"
}

# stop_daemon NAME: SIGTERM and wait; fails if it does not exit cleanly within 10 s.
stop_daemon() {
  local pid
  eval "pid=\$PID_$1"
  kill -TERM "$pid"
  for _ in $(seq 100); do
    if ! kill -0 "$pid" 2>/dev/null; then
      local rc=0
      wait "$pid" || rc=$?
      ! grep -q "ERROR: LeakSanitizer" "$T/$1.log" ||
        fail "daemon $1 leaked memory: $(grep -A4 'ERROR: LeakSanitizer' "$T/$1.log" | tr '\n' ' ')"
      return $rc
    fi
    sleep 0.1
  done
  fail "daemon $1 did not stop within 10 s"
}

# counter LOGFILE ENGINE ELEMENT COUNTER: value from the final-counters dump at shutdown.
counter() {
  awk -v e="$2" -v el="$3" -v c="$4" '$1=="counter" && $2==e && $3==el && $4==c {v=$5} END {print v+0}' "$1"
}

# pings_wait SOCKET ENGINE N: wait until the icmp_ping element "ping" of ENGINE (daemon with
# control socket SOCKET) has sent its N pings and its replies have stopped coming (all of
# them back, or none new for 0.3 s), at most 15 s; instead of sleeping a fixed time before
# the shutdown dump the caller then reads and checks the counts from.
pings_wait() {
  local sock=$1 eng=$2 n=$3 s r last=-1 still=0
  for _ in $(seq 150); do
    read -r s r < <("${SNAPCTL:?}" --socket "$sock" stats "$eng" 2>/dev/null |
      awk '$2=="ping" && $3=="sent" {s=$4} $2=="ping" && $3=="received" {r=$4}
           END {print s+0, r+0}')
    if [ "$s" -ge "$n" ]; then
      [ "$r" -ge "$s" ] && return 0
      if [ "$r" = "$last" ]; then
        still=$((still + 1))
        [ $still -ge 3 ] && return 0
      else
        still=0
      fi
      last=$r
    fi
    sleep 0.1
  done
  echo "pings_wait: gave up after 15 s ($sock, engine $eng: sent $s, received $r)" >&2
  return 1
}

# notify_listen: play the service manager: a notify socket at $T/notify.sock (exported as
# NOTIFY_SOCKET for the daemons started next) logged to $T/notify.log as "PID KEY=VALUE".
notify_listen() {
  export NOTIFY_SOCKET="$T/notify.sock"
  python3 "$(dirname "${BASH_SOURCE[0]}")/notify_listener.py" "$NOTIFY_SOCKET" "$T/notify.log" &
  CLEANUPS+=("kill $!")
  for _ in $(seq 50); do [ -S "$NOTIFY_SOCKET" ] && return 0; sleep 0.1; done
  fail "notify listener did not start"
}

# wait_notify 'KEY=VALUE' [FROM_LINE]: waits (10 s max) for that assignment in the notify
# log, from line FROM_LINE on (default 1).
wait_notify() {
  for _ in $(seq 100); do
    tail -n "+${2:-1}" "$T/notify.log" 2>/dev/null | grep -q -- " $1\$" && return 0
    sleep 0.1
  done
  cat "$T/notify.log"; fail "no '$1' from the daemon"
}

# ring_pinger_conf NAME [DAEMON_KEYS]: a daemon (run dir $T/run-NAME) with one ring port p0
# and an engine pinging through it every 2 ms: enough daemon, and traffic, for snapctl tests.
ring_pinger_conf() {
  cat <<CONF
daemon = { name = "$1$$"; run_dir = "$T/run-$1"; memory_mb = 128; ${2:-} };
ports = ( { name = "p0"; type = "ring"; ip = "10.0.0.1/24";
            neighbours = ( { ip = "10.0.0.2"; mac = "02:00:00:00:00:02"; } ); } );
engines = ( {
  name = "pinger";
  elements = (
    { name = "rx"; type = "port_rx"; port = "p0"; },
    { name = "ping"; type = "icmp_ping"; port = "p0"; dst = "10.0.0.2"; interval_us = 2000; },
    { name = "tx"; type = "port_tx"; port = "p0"; }
  );
  links = ( "rx -> ping", "ping.tx -> tx" );
} );
CONF
}

# netns NAME: creates a namespace deleted at exit.
netns() {
  ip netns add "$1"
  CLEANUPS+=("ip netns del $1")
  ip -n "$1" link set lo up
}
