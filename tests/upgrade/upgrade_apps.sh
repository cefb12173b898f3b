#!/usr/bin/env bash
# Apps across upgrades: daemon B (memif client) is upgraded five times in a row while its
# app (pony_rpc client) runs checking echo RPCs through it to the echo server app on daemon A.
# Every RPC must complete exactly once, in order, byte-identical (pony_rpc checks), and the
# app must not reconnect (same app id on B throughout; pony_rpc never reattaches).
# With PONY_ONESIDED_APP set, a second app on B runs continuous one-sided ops (reads of random
# lengths, writes read back, indirect, scan-and-read; every byte checked) against a target app
# on A during the same upgrades: the ops in flight travel in B's saved transport state.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/pony_lib.sh"
# Five hand-overs, not three: the blackout bound is on their median, and on a 2-vCPU host a
# median of three flips on one step descheduled for a scheduler tick.
UPGRADES=5
MODE=${1:-upgrade}
# Read only by a --takeover daemon: B passes it on to the binaries it spawns.
[ "$MODE" = die ] && export SNAP_TAKEOVER_DIE_AFTER=1
pony_pair
start_app srv "$PONY_RPC" server -s "$T/run-a/app.sock" -m 16384 -w 8
wait_log "$T/srv.log" "listening" 10 || fail "server app did not start"
OS_APP=${PONY_ONESIDED_APP:-}
if [ -n "$OS_APP" ]; then
  start_app tgt "$OS_APP" target -s "$T/run-a/app.sock"
  wait_log "$T/tgt.log" "^region " 10 || fail "one-sided target app did not register"
  read -r _ R _ K _ R2 _ K2 <"$T/tgt.log"
  os_t0=$(date +%s.%N)
  start_app os "$OS_APP" client -s "$T/run-b/app.sock" -i $PIPA -r "$R:$K" -R "$R2:$K2" \
    -n 0 # rounds until SIGUSR1
fi
# The RPC client runs until told to stop (SIGUSR1 after the last hand-over), not for a count
# that had to outlast the upgrades on every host.
start_app cli "$PONY_RPC" client -s "$T/run-b/app.sock" -i $PIPA -d 120 -m 16384 -S 2 -w 8 -T 100
sleep 0.3
# Each client's app id before the upgrades: it must keep it (no reattach).
$SB apps >"$T/apps0.txt"
ID_cli=$(awk -v p="$APP_cli" '$2==p {print $1}' "$T/apps0.txt")
[ -n "$ID_cli" ] || fail "RPC client not attached"
if [ -n "$OS_APP" ]; then
  ID_os=$(awk -v p="$APP_os" '$2==p {print $1}' "$T/apps0.txt")
  [ -n "$ID_os" ] || fail "one-sided client not attached"
fi
pid=$($SB --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
# The CPUs each thread kind may use: a new daemon starts on the CPUs the first one was
# started on, not on the one its parent's main thread was pinned to (that put the interrupt
# thread behind a polling engine and made port releases, inside the blackout, 7 times slower).
# UPGRADE_CPU_CHECK=no (upgrade_release.sh): a release before this fix starts its new binary
# pinned, and every daemon after it inherits that start-up set.
thread_cpus() {
  local t n
  for t in /proc/$1/task/*; do
    n=$(cat "$t/comm")
    [ "${t##*/}" = "$1" ] && n=main # named after the binary: snapnetd or snapnetd-next
    printf '%s %s\n' "$n" "$(awk '/^Cpus_allowed_list/ {print $2}' "$t/status")"
  done | sort -u
}
thread_cpus "$pid" >"$T/cpus0.txt"
if [ "$MODE" = die ]; then
  # The new binary dies after restoring the Pony engine (sessions mapped, transport state
  # rebuilt) but before acking it: the old daemon resumes it; the app must not notice.
  for i in 1 2; do
    set +e
    $SB upgrade --binary "$SNAPNETD" >"$T/up.out" 2>&1; ec=$?
    set -e
    cat "$T/up.out"
    [ $ec -eq 1 ] || fail "upgrade with a dying binary: snapctl exit $ec"
    sleep 0.5
  done
  grep -q "engine pony0 resumed in the old daemon" "$T/b.log" || fail "engine not resumed"
fi
for i in $(seq $UPGRADES); do
  [ "$MODE" = die ] && break
  grep -q "all echoed intact" "$T/cli.log" && fail "RPCs finished before upgrade $i"
  if [ -n "$OS_APP" ]; then
    grep -q "^PASS" "$T/os.log" && fail "one-sided ops finished before upgrade $i"
    kill -0 "$APP_os" 2>/dev/null || { cat "$T/os.log"; fail "one-sided client died before upgrade $i"; }
  fi
  # Alternate two separately built binaries with different build ids.
  bin=$SNAPNETD_NEXT
  [ $((i % 2)) -eq 0 ] && bin=$SNAPNETD
  id=$("$bin" --version | sed 's/.*(build \(.*\))/\1/')
  $SB --json upgrade --binary "$bin" >"$T/up$i.out" 2>&1 || { cat "$T/up$i.out"; fail "upgrade $i failed"; }
  $SB status | grep -qF "build $id" || fail "upgrade $i: the daemon now serving is not build $id"
  cat "$T/up$i.out"
  new=$($SB --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
  [ "$new" != "$pid" ] || fail "upgrade $i: still pid $pid"
  PIDS+=("$new"); pid=$new
  thread_cpus "$pid" >"$T/cpus$i.txt"
  [ "${UPGRADE_CPU_CHECK:-yes}" = no ] || diff "$T/cpus0.txt" "$T/cpus$i.txt" ||
    fail "upgrade $i: the new daemon's threads run on other CPUs than the first daemon's"
  $SB apps | tee "$T/apps$i.txt"
  for a in cli os; do
    [ $a = os ] && [ -z "$OS_APP" ] && continue
    ap=$(eval echo "\$APP_$a"); id=$(eval echo "\$ID_$a")
    awk -v p="$ap" -v id="$id" '$1==id && $2==p {ok=1} END {exit !ok}' "$T/apps$i.txt" ||
      fail "upgrade $i: app $a is not the same attached app ($id, pid $ap)"
  done
  sleep 0.7
done
kill -USR1 "$APP_cli"
[ -n "$OS_APP" ] && kill -USR1 "$APP_os"
wait_log "$T/cli.log" "all echoed intact" 100 || { cat "$T/cli.log"; fail "client did not finish the RPCs"; }
wait "$APP_cli" || fail "client failed (rc $?)"
cat "$T/cli.log"
if [ -n "$OS_APP" ]; then
  wait_log "$T/os.log" "^PASS" 120 || { cat "$T/os.log"; fail "one-sided client did not finish"; }
  wait "$APP_os" || { cat "$T/os.log"; fail "one-sided client failed (rc $?)"; }
  os_t1=$(date +%s.%N)
  cat "$T/os.log"
  os_ops=$(awk '/^PASS/ {print $2}' "$T/os.log")
  awk -v n="$os_ops" -v a="$os_t0" -v b="$os_t1" 'BEGIN {printf "one-sided: %d ops checked in %.2f s (%.0f ops/s) across the upgrades\n", n, b - a, n / (b - a)}'
  ex=$(live_stat "$SA" pony0 pony os_executed)
  echo "A executed $ex one-sided ops"
  [ "$ex" -ge "$os_ops" ] || fail "A executed $ex one-sided ops, fewer than the $os_ops checked"
fi
if [ "$MODE" = upgrade ]; then
  # Issue 18's bound, with apps attached: each engine dark at most 50 ms, the median 20 ms
  # (UPGRADE_BLACKOUT_BOUND=no, upgrade_release.sh: figures only, see there).
  nb=()
  [ "${UPGRADE_BLACKOUT_BOUND:-yes}" = no ] && nb=(--no-bound)
  python3 "$(dirname "$0")/blackout.py" "${nb[@]}" $(seq -f "$T/up%g.out" $UPGRADES) ||
    fail "blackout over the bound"
  [ "$(grep -c "carried over" "$T/b.log")" -eq $UPGRADES ] || fail "app not carried over by each new daemon"
  # Brownout that does work: each hand-over pre-copied the Pony engine's state while it ran,
  # and its blackout sent only what changed since (a few KB of about 1 MB).
  # (UPGRADE_PRECOPY_CHECK=no, upgrade_release.sh: 0.1.0's protocol has no pre-copy.)
  pre=$(grep -c "(pony0) restored in the new daemon, .* sent after a pre-copy)" "$T/b.log" || true)
  [ "${UPGRADE_PRECOPY_CHECK:-yes}" = no ] || [ "$pre" -eq $UPGRADES ] ||
    fail "the Pony engine's state was pre-copied at $pre of $UPGRADES hand-overs"
fi
# Where each blackout went (park, save, send, restore), as both daemons logged it.
grep -h "takeover: engine\|takeover: port" "$T/b.log" || true
kill -TERM "$pid"; for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
stop_daemon a
echo PASS
