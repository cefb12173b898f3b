#!/usr/bin/env bash
# snapnetd under a service manager, with this test as the manager: its own $NOTIFY_SOCKET
# (a datagram socket read by a small python3 listener) and a watchdog. Shows READY=1 with
# MAINPID and STATUS, WATCHDOG=1 pings, a SIGHUP that reloads the log level from the config
# (RELOADING=1 then READY=1, the daemon still running), a SIGHUP with a broken config
# refused without harm, and STOPPING=1 at SIGTERM.
. "$(dirname "$0")/lib.sh"
SNAPCTL=${SNAPCTL:?SNAPCTL must point at the snapctl binary}
conf() { # conf LOGLEVEL
  cat >"$T/d.conf" <<CONF
daemon = { name = "sdn$$"; run_dir = "$T/run"; memory_mb = 128; log_level = "$1"; };
ports = ( { name = "p0"; type = "ring"; } );
engines = ( { name = "e0"; elements = ( { name = "rx"; type = "port_rx"; port = "p0"; },
                                        { name = "d"; type = "drop"; } );
              links = ( "rx -> d" ); } );
CONF
}
conf notice
notify_listen

WATCHDOG_USEC=200000 start_daemon d "$T/d.conf"
pid=$PID_d
unset NOTIFY_SOCKET
wait_notify "READY=1"
wait_notify "MAINPID=$pid"
grep -q " STATUS=running: 1 ports, 1 engines" "$T/notify.log" || fail "no STATUS line"
wait_notify "WATCHDOG=1"
n0=$(grep -c " WATCHDOG=1" "$T/notify.log")
sleep 1
n1=$(grep -c " WATCHDOG=1" "$T/notify.log")
[ "$n1" -gt "$n0" ] || fail "watchdog pings stopped ($n0 then $n1)"
echo "watchdog pings: $n1 so far (interval 200 ms, pinged every 100 ms)"

# SIGHUP: the log level comes from the edited config; the daemon keeps running.
conf debug
mark=$(($(wc -l <"$T/notify.log") + 1))
kill -HUP "$pid"
wait_notify "RELOADING=1" "$mark"
wait_notify "READY=1" "$mark"
kill -0 "$pid" || fail "daemon died on SIGHUP"
grep -q "reloaded $T/d.conf: log level debug" "$T/d.log" || { tail "$T/d.log"; fail "reload not logged"; }
"$SNAPCTL" --socket "$T/run/control.sock" status >/dev/null || fail "snapctl status after SIGHUP"

# A broken config on SIGHUP: refused, nothing changes, still running.
echo 'daemon = { log_level = "loud"; ' >"$T/d.conf"
mark=$(($(wc -l <"$T/notify.log") + 1))
kill -HUP "$pid"
wait_notify "READY=1" "$mark"
grep -q "reload refused, nothing changed" "$T/d.log" || fail "bad reload not refused"
kill -0 "$pid" || fail "daemon died on a bad SIGHUP"

mark=$(($(wc -l <"$T/notify.log") + 1))
stop_daemon d
wait_notify "STOPPING=1" "$mark"
echo "notify sequence: $(grep -cE ' (READY|RELOADING|STOPPING)=1' "$T/notify.log") state messages"
echo "PASS"
