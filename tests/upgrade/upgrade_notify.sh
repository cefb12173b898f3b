#!/usr/bin/env bash
# An upgrade under a service manager (this test plays it: its own notify socket, a watchdog):
# the old daemon says READY with its pid; after `snapctl upgrade` the new daemon says
# MAINPID=<its pid>, READY=1 and STATUS=running (its ports and engines) before the old one
# exits, and the watchdog pings then come from the new pid (it adopted the settings systemd
# gave its parent). No STOPPING=1 from the hand-over: the service never stopped. B's pings are
# answered throughout.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib_up.sh"
PINGS=2000 up_setup
notify_listen
start_daemon b "$T/b.conf" env -u NOTIFY_SOCKET
# As systemd does: WATCHDOG_PID is the main process's own pid.
WATCHDOG_USEC=300000 start_daemon a "$T/a.conf" sh -c 'export WATCHDOG_PID=$$; exec "$0" "$@"'
unset NOTIFY_SOCKET
old=$(a_pid)
wait_notify "MAINPID=$old"
wait_notify "READY=1"
wait_notify "WATCHDOG=1"
grep -q "^$old WATCHDOG=1$" "$T/notify.log" || fail "the watchdog pings are not from A's pid"
mark=$(($(wc -l <"$T/notify.log") + 1))
"$SNAPCTL" --socket "$T/run-a/control.sock" upgrade --binary "$SNAPNETD_NEXT" --no-progress \
  >"$T/up.out" 2>&1 || { cat "$T/up.out"; fail "upgrade failed"; }
cat "$T/up.out"
new=$(a_pid)
[ "$new" != "$old" ] || fail "the same daemon answers after the upgrade"
wait_notify "MAINPID=$new" "$mark"
tail -n "+$mark" "$T/notify.log" | grep -q "^$new READY=1$" || fail "no READY=1 from the new pid"
# The new daemon's status line for the service manager, with what it runs (A's 2 engines).
tail -n "+$mark" "$T/notify.log" | grep -q "^$new STATUS=running: 1 ports, 2 engines$" ||
  { cat "$T/notify.log"; fail "no STATUS=running line from the new pid"; }
tail -n "+$mark" "$T/notify.log" | grep -q " STOPPING=1$" && fail "the hand-over said STOPPING=1"
sleep 1
tail -n "+$mark" "$T/notify.log" | grep -q "^$new WATCHDOG=1$" ||
  { cat "$T/notify.log"; fail "no watchdog pings from the new pid"; }
sleep 2
stop_daemon b
stop_a_any "$new"
wait_notify "STOPPING=1" "$mark"
sent=$(counter "$T/b.log" host ping sent)
recv=$(counter "$T/b.log" host ping received)
echo "notify: old pid $old, new pid $new; b sent $sent pings, got $recv replies"
[ "$sent" -eq 2000 ] || fail "b sent $sent of 2000"
# As in upgrade_echo: pings queued in A's memif ring when the old daemon stops the port
# are lost at the link (at most 100 per upgrade).
[ $((sent - recv)) -le 100 ] || fail "lost $((sent - recv)) pings across the upgrade"
echo PASS
