#!/usr/bin/env bash
# Issue 14 item 7: 1,000 idle connects to app.sock and 1,000 to the control socket (uid
# nobody, allowed by the app policy and to read-only control) must not lock out a real app
# or the owner: pending app hellos are bounded (apps.hello_evicted) and time out
# (apps.hello_timeout), silent control connections likewise (control.evicted,
# control.hello_timeout), the event loop refuses nothing (loop.fd_refused), and a real
# pony_connect (pony_rpc connect) and `snapctl status` work while the flood holds on.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/pony_lib.sh"
. "$(dirname "$0")/sec_lib.sh"
N=1000

pony_conf a server $PMA $PIPA $PIPB $PMB \
  'socket_mode = "0666"; readonly_anyone = true; allow_users = [ "nobody" ];
   app_hello_timeout_ms = 2000; log_level = "notice";' >"$T/a.conf"
start_daemon a "$T/a.conf"
chmod 755 "$T/run-a"
S="$T/run-a/control.sock" A="$T/run-a/app.sock"
ctl() { "$SNAPCTL" --socket "$S" "$@"; }
counter() { status_counter "$S" "$1"; }

start_flood flood-app idle seqpacket "$A" $N
start_flood flood-ctl idle stream "$S" $N
wait_flood flood-app connected 40
wait_flood flood-ctl connected 40
echo "app flood: $(cat "$T/flood-app.log"); control flood: $(cat "$T/flood-ctl.log")"
grep -q "connected $N" "$T/flood-app.log" || fail "the app flood could not open $N connections"
grep -q "connected $N" "$T/flood-ctl.log" || fail "the control flood could not open $N connections"

# The flood still holds whatever the daemon left open: a real app and the owner get in.
t0=$(date +%s%N)
out=$(timeout 20 "$PONY_RPC" connect -s "$A" 2>&1) || fail "pony_connect during the flood: $out"
echo "pony_connect during the flood: $out ($(( ($(date +%s%N) - t0) / 1000000 )) ms)"
t0=$(date +%s%N)
timeout 10 "$SNAPCTL" --socket "$S" status >"$T/status.out" 2>&1 \
  || { cat "$T/status.out"; fail "snapctl status during the flood"; }
echo "snapctl status during the flood: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
cat "$T/status.out"

# Held connections that never speak time out (2 s for apps, 3 s for control).
sleep 4
ctl status
evicted=$(counter apps.hello_evicted) timedout=$(counter apps.hello_timeout)
c_evicted=$(counter control.evicted) c_timedout=$(counter control.hello_timeout)
pending=$(counter apps.pending) refused=$(counter loop.fd_refused)
echo "apps: hello_evicted=$evicted hello_timeout=$timedout pending=$pending;" \
     "control: evicted=$c_evicted hello_timeout=$c_timedout; loop.fd_refused=$refused" \
     "loop.fds_peak=$(counter loop.fds_peak)"
[ $((evicted + timedout)) -ge $((N - 64)) ] || fail "app hellos were not bounded"
[ "$timedout" -ge 1 ] || fail "no app hello timed out"
[ "$pending" -eq 0 ] || fail "$pending app hellos still pending after their timeout"
[ $((c_evicted + c_timedout)) -ge $((N - 64)) ] || fail "control connections were not bounded"
[ "$c_timedout" -ge 1 ] || fail "no silent control connection timed out"
clients=$(ctl --json status | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["n_clients"])')
[ "$clients" -le 1 ] || fail "$clients control connections still open after their hello timeout"
[ "$refused" -eq 0 ] || fail "the event loop refused fds"
grep -q "no hello in 2000 ms" "$T/a.log" || fail "the daemon did not log the hello timeout"
exec 9>&-
# And after the flood, as before.
"$PONY_RPC" connect -s "$A" >/dev/null 2>&1 || fail "pony_connect after the flood"
stop_daemon a
echo PASS
