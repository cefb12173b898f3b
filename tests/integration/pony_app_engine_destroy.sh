#!/usr/bin/env bash
# Issue 20: `snapctl engine destroy` of a Pony engine with an app attached. The engine's app
# host and the app's session go with it; the attach layer must forget them, so when the app
# disconnects afterwards nothing touches freed memory (run with SNAPNETD from the ASan build:
# before the fix the daemon died of a heap-use-after-free in pony_app_host_detach). The
# daemon stays up, lists no app, answers control calls and exits cleanly.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pony_lib.sh"
pony_pair
start_app sink "$PONY_RPC" sink -s "$T/run-a/app.sock" -n 20
wait_log "$T/sink.log" "listening" 10 || fail "sink app did not start"
start_app hold "$PONY_RPC" hold -s "$T/run-b/app.sock" -i $PIPA -n 100
wait_log "$T/hold.log" "^HOLDING" 30 || { cat "$T/hold.log"; fail "app did not get its ops in flight"; }
$SB apps | grep -q "^app" || fail "snapctl apps does not list the app"
$SB engine destroy pony0 || fail "engine destroy failed"
wait_log "$T/b.log" "detached: its engine was destroyed" 10 || fail "no detach logged for the app"
# The app goes away now (it may already have seen the daemon hang up).
kill -KILL "$APP_hold" 2>/dev/null || true
wait "$APP_hold" 2>/dev/null || true
sleep 0.5
kill -0 "$PID_b" 2>/dev/null || fail "daemon b died after the app disconnected"
grep -q "AddressSanitizer" "$T/b.log" && fail "daemon b: AddressSanitizer report"
$SB engines >/dev/null || fail "daemon b does not answer control calls"
$SB engines 2>/dev/null | grep -q "pony0" && fail "pony0 still listed"
$SB apps | grep -q "^app" && fail "snapctl apps still lists an app"
stop_daemon b || fail "daemon b did not exit cleanly"
stop_daemon a
echo PASS
