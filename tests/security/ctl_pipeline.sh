#!/usr/bin/env bash
# Issue 14 item 4: 8 control connections (uid nobody, read-only access) each pipeline 1 MiB
# of `stats` requests and never read a reply. The daemon must stop reading them once their
# unsent replies reach the cap (control.out_paused), serve each a bounded budget per pass
# (control.budget_yield), grow by less than 16 MiB per connection, and keep answering the
# owner's `snapctl status` within 1 s (the issue's bound) during the attack.
. "$(dirname "$0")/../integration/lib.sh"
SNAPCTL=${SNAPCTL:?SNAPCTL must point at snapctl}
FLOOD="$(dirname "$0")/sock_flood.py"
[ "$(id -u)" -eq 0 ] || skip "needs root to run the attacker as nobody"
command -v setpriv >/dev/null || skip "setpriv not installed"
# The attacker (uid nobody) needs an interpreter it can run: the system's, not a user's shim.
PY=/usr/bin/python3
[ -x "$PY" ] || skip "no /usr/bin/python3"
id nobody >/dev/null 2>&1 || skip "no user nobody"
AS_NOBODY=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
CONNS=8 BYTES=$((1 << 20))

cat >"$T/d.conf" <<CONF
daemon = { name = "secp$$"; run_dir = "$T/run"; memory_mb = 128; log_level = "notice";
           socket_mode = "0666"; readonly_anyone = true; };
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
S="$T/run/control.sock"
ctl() { "$SNAPCTL" --socket "$S" "$@"; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
counter() { # counter NAME: a status counter (0 when absent)
  ctl --json status | "$PY" -c 'import json,sys
d=json.load(sys.stdin); n=sys.argv[1]
print(next((int(c["value"]) for c in d.get("counters", []) if c["name"]==n), 0))' "$1"
}

start_daemon d "$T/d.conf"
chmod 755 "$T/run"
ctl status >/dev/null || fail "status before the attack"
rss0=$(rss_kb "$PID_d")

# The attacker holds its connections until its stdin closes (fd 9 here).
mkfifo "$T/hold"
"${AS_NOBODY[@]}" "$PY" "$FLOOD" pipeline "$S" $CONNS $BYTES <"$T/hold" \
  >"$T/attacker.log" 2>&1 &
PIDS+=("$!")
exec 9>"$T/hold"
CLEANUPS+=("exec 9>&-")
for _ in $(seq 300); do grep -q saturated "$T/attacker.log" && break; sleep 0.1; done
grep -q saturated "$T/attacker.log" || fail "attacker did not saturate within 30 s"
echo "attacker: $(grep saturated "$T/attacker.log") bytes sent over $CONNS connections"

# The owner's status, five times under attack: each must answer within 1 s.
worst=0
for i in 1 2 3 4 5; do
  t0=$(date +%s%N)
  timeout 10 "$SNAPCTL" --socket "$S" --timeout 5 status >"$T/status.out" 2>&1 \
    || { cat "$T/status.out"; fail "snapctl status failed during the attack"; }
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  echo "snapctl status under attack: ${ms} ms"
  [ "$ms" -gt "$worst" ] && worst=$ms
  sleep 0.2
done
rss1=$(rss_kb "$PID_d")
growth=$(( (rss1 - rss0) / 1024 ))
echo "daemon RSS: ${rss0} kB before, ${rss1} kB under attack (+${growth} MiB for $CONNS connections)"
echo "worst snapctl status latency: ${worst} ms (bound 1000 ms)"
ctl status
paused=$(counter control.out_paused)
echo "control.out_paused=$paused control.budget_yield=$(counter control.budget_yield)"
[ "$worst" -lt 1000 ] || fail "status took ${worst} ms during the attack (bound 1 s)"
[ "$growth" -lt $((16 * CONNS)) ] || fail "RSS grew ${growth} MiB (bound $((16 * CONNS)) MiB)"
[ "$paused" -ge 1 ] || fail "no connection was paused (control.out_paused=0)"
exec 9>&-
stop_daemon d
echo PASS
