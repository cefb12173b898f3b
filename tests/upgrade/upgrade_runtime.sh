#!/usr/bin/env bash
# Run-time topology across an upgrade (issue 18): on daemon B, before `snapctl upgrade`, a
# group is created and its mode changed, the Pony engine (with an app attached and busy) is
# moved into it, an engine is created with `snapctl engine create` in it, an empty group is
# created, and the log level is changed. After the upgrade the new daemon must run all of it
# as it was (same groups and modes, each engine in its group), not its config file's: the
# created engine's counter state carried, the app (pony_rpc) finishing every RPC without
# reattaching, the log level kept. The client issues RPCs until told to stop (SIGUSR1, once
# the new daemon has carried it through more of them), not a count that had to outlast the
# upgrade on every host (it made the test take 45 s).
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/pony_lib.sh"
PINGS=300
pony_conf a server $PMA $PIPA $PIPB $PMB >"$T/a.conf"
# B has a second port: a loopback ring (what the created engine sends comes back to it).
mkdir -m 700 "$T/cap"
pony_conf b client $PMB $PIPB $PIPA $PMA "capture_dir = \"$T/cap\";" | sed 's|^ports = ( |ports = ( { name = "p0"; type = "ring"; ip = "10.0.0.1/24"; neighbours = ( { ip = "10.0.0.2"; mac = "02:00:00:00:00:02"; } ); },\n          |' >"$T/b.conf"
start_daemon a "$T/a.conf"
start_daemon b "$T/b.conf"
SA="$SNAPCTL --socket $T/run-a/control.sock"
SB="$SNAPCTL --socket $T/run-b/control.sock"
for _ in $(seq 50); do $SB ports 2>/dev/null | grep -q "m0.* up/" && break; sleep 0.1; done
$SB ports | grep -q "m0.* up/" || fail "memif link did not come up"
start_app srv "$PONY_RPC" server -s "$T/run-a/app.sock" -m 16384 -w 8
wait_log "$T/srv.log" "listening" 10 || fail "server app did not start"
start_app cli "$PONY_RPC" client -s "$T/run-b/app.sock" -i $PIPA -d 120 -m 16384 -S 2 -w 8 -T 100
sleep 0.3
ID_cli=$($SB apps | awk -v p="$APP_cli" '$2==p {print $1}')
[ -n "$ID_cli" ] || fail "RPC client not attached"

# The run-time changes.
$SB group create rt --mode spreading --cpus 0 --threads 2 || fail "group create"
$SB group set-mode rt compacting || fail "group set-mode"
$SB group create spare --mode dedicated || fail "group create spare"
$SB engine move pony0 --group rt || fail "engine move"
$SB engine create rt0 --group rt --config "elements = (
    { name = \"rx\"; type = \"port_rx\"; port = \"p0\"; },
    { name = \"cnt\"; type = \"counter\"; },
    { name = \"ping\"; type = \"icmp_ping\"; port = \"p0\"; dst = \"10.0.0.2\"; interval_us = 2000; count = $PINGS; },
    { name = \"tx\"; type = \"port_tx\"; port = \"p0\"; } );
  links = ( \"rx -> cnt\", \"ping.tx -> tx\" );" || fail "engine create"
$SB log-level notice || fail "log-level"
# rt0's pings come back through the ring into its counter: all of them before the upgrade.
for _ in $(seq 100); do [ "$(live_stat "$SB" rt0 cnt packets)" -ge $PINGS ] && break; sleep 0.1; done
c0=$(live_stat "$SB" rt0 cnt packets)
[ "$c0" -eq $PINGS ] || fail "rt0 counted $c0 packets before the upgrade, want $PINGS"
$SB --json groups >"$T/groups0.json"
$SB engines | tee "$T/engines0.txt"

pid=$($SB --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
# A capture lives in the old daemon only: while one runs the upgrade is refused, with the
# reason, before anything starts; once it is stopped the upgrade goes ahead.
$SB capture m0 --out c.pcapng --duration 60 >"$T/cap.out" 2>&1 &
cap=$!
PIDS+=("$cap")
for _ in $(seq 50); do [ -e "$T/cap/c.pcapng" ] && break; sleep 0.1; done
[ -e "$T/cap/c.pcapng" ] || { cat "$T/cap.out"; fail "capture did not start"; }
set +e
$SB upgrade --binary "$SNAPNETD_NEXT" >"$T/up0.out" 2>&1; ec=$?
set -e
cat "$T/up0.out"
[ $ec -ne 0 ] || fail "upgrade went ahead during a capture"
grep -q "capture in progress (port m0)" "$T/up0.out" || fail "no capture reason in the refusal"
[ "$($SB --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')" = "$pid" ] ||
  fail "another daemon after the refused upgrade"
kill -TERM "$cap"; wait "$cap" || true # (a background job ignores SIGINT)
# The capture ends at its next tick: until then an upgrade (of a binary that is refused
# anyway, so nothing starts) still names it.
for _ in $(seq 50); do
  $SB upgrade --binary /nonexistent 2>&1 | grep -q "capture in progress" || break
  sleep 0.1
done
grep -q "all echoed intact" "$T/cli.log" && fail "RPCs finished before the upgrade"
id=$("$SNAPNETD_NEXT" --version | sed 's/.*(build \(.*\))/\1/')
$SB --json upgrade --binary "$SNAPNETD_NEXT" >"$T/up1.out" 2>&1 || { cat "$T/up1.out"; fail "upgrade failed"; }
cat "$T/up1.out"
# The app: the same attachment (no reattach), first thing after the upgrade.
$SB apps | tee "$T/apps1.txt" | awk -v p="$APP_cli" -v id="$ID_cli" '$1==id && $2==p {ok=1} END {exit !ok}' ||
  { cat "$T/apps1.txt"; tail -5 "$T/cli.log"; fail "the app is not the same attached app ($ID_cli)"; }
new=$($SB --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
[ "$new" != "$pid" ] || fail "still pid $pid"
PIDS+=("$new")
$SB status | grep -qF "build $id" || fail "the daemon now serving is not build $id"
grep -q "building the running daemon's topology: 3 groups, 2 engines, log level notice" \
  "$T/b.log" || fail "the new daemon did not build the old one's topology"

# Groups, modes and members as before.
$SB --json groups >"$T/groups1.json"
python3 - "$T/groups0.json" "$T/groups1.json" <<'PY' || fail "groups changed across the upgrade"
import json, sys
def groups(p):
    return {g["name"]: (g["mode"], sorted(g.get("engines", [])), g.get("cpus", []))
            for g in json.load(open(p))["groups"]}
before, after = groups(sys.argv[1]), groups(sys.argv[2])
print("groups before:", before)
print("groups after: ", after)
want = {"rt": ("compacting", ["pony0", "rt0"], [0]), "spare": ("dedicated", [], [])}
for k, v in want.items():
    if before.get(k) != v:
        sys.exit("before the upgrade, group %s is %s, want %s" % (k, before.get(k), v))
sys.exit(0 if before == after else "groups differ")
PY
$SB engines | tee "$T/engines1.txt"
for e in pony0 rt0; do
  awk -v e="$e" '$1==e' "$T/engines1.txt" | grep -q "running" || fail "engine $e not running"
  awk -v e="$e" '$1==e' "$T/engines1.txt" | grep -qw "rt" || fail "engine $e not in group rt"
done
# The created engine's counter state came along: its ping element starts over (it keeps no
# state), so the counter ends at the carried count plus a second round.
c1=$(live_stat "$SB" rt0 cnt packets)
[ "$c1" -ge "$c0" ] || fail "rt0's counter $c1 after the upgrade, $c0 before: state lost"
for _ in $(seq 100); do [ "$(live_stat "$SB" rt0 cnt packets)" -ge $((2 * PINGS)) ] && break; sleep 0.1; done
c2=$(live_stat "$SB" rt0 cnt packets)
[ "$c2" -eq $((2 * PINGS)) ] || fail "rt0 counted $c2, want $c0 carried + $PINGS new"
echo "rt0's counter: $c0 before, $c1 right after, $c2 once the new pings came back"
$SB log-level | tee "$T/level.txt"
grep -qi "snap.*notice" "$T/level.txt" || fail "log level not kept"
# The app's RPCs go on through the new daemon (1,000 more messages), then it stops issuing
# and every RPC it made must have been echoed intact.
m0=$(live_stat "$SB" pony0 pony msgs_rx)
for _ in $(seq 200); do [ "$(live_stat "$SB" pony0 pony msgs_rx)" -ge $((m0 + 1000)) ] && break; sleep 0.1; done
[ "$(live_stat "$SB" pony0 pony msgs_rx)" -ge $((m0 + 1000)) ] || fail "RPCs stalled after the upgrade"
kill -USR1 "$APP_cli"
wait_log "$T/cli.log" "all echoed intact" 100 || { cat "$T/cli.log"; fail "client did not finish the RPCs"; }
wait "$APP_cli" || fail "client failed (rc $?)"
tail -3 "$T/cli.log"
# Figures only: the bound is upgrade_echo's and upgrade_apps' (with two engines, one of them
# Pony, the median is their mean, and the Pony engine's 3.4 MB of state takes 10-35 ms).
python3 "$(dirname "$0")/blackout.py" --no-bound "$T/up1.out"
kill -TERM "$new"; for _ in $(seq 100); do kill -0 "$new" 2>/dev/null || break; sleep 0.1; done
# (ASan builds) the new daemon, built from the topology, checked for leaks at its exit too.
! grep -q "ERROR: LeakSanitizer" "$T/b.log" ||
  fail "daemon b leaked memory: $(grep -A4 'ERROR: LeakSanitizer' "$T/b.log" | tr '\n' ' ')"
stop_daemon a
echo PASS
