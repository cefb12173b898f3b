#!/usr/bin/env bash
# snapctl against a real snapnetd: every implemented command, its table and JSON output,
# exit codes (1 error reply, 3 no daemon, 4 permission), pcapng capture by count and by
# duration (checked with tshark when present), busy/unknown ports, a client that leaves
# mid-capture, and a clean daemon shutdown afterwards.
. "$(dirname "$0")/lib.sh"
SNAPCTL=${SNAPCTL:?SNAPCTL must point at the snapctl binary}
ring_pinger_conf ctl 'capture_dir = "'"$T"'"; log_level = "notice";' >"$T/d.conf"
S="$T/run-ctl/control.sock"
ctl() { "$SNAPCTL" --socket "$S" "$@"; }
expect_rc() { # expect_rc RC CMD...: run snapctl, output in $T/out
  local want=$1; shift
  local rc=0
  ctl "$@" >"$T/out" 2>&1 || rc=$?
  [ "$rc" -eq "$want" ] || { cat "$T/out"; fail "snapctl $* exited $rc, expected $want"; }
}
has() { grep -q -- "$1" "$T/out" || { cat "$T/out"; fail "output lacks '$1'"; }; }

expect_rc 3 status
has "not running"

start_daemon d "$T/d.conf"
expect_rc 0 status
has "engines  1"
has "ports    1"
expect_rc 0 engines
has pinger; has running; has "rx:port_rx"
expect_rc 0 ports
has "p0"; has "ring"; has "10.0.0.1/24"
expect_rc 0 ports p0
expect_rc 1 ports nope
has "no port named 'nope'"
expect_rc 1 engines nope
has "no engine named 'nope'"
expect_rc 0 stats pinger --nonzero
has "sent"
expect_rc 0 stats --watch 0.2 --count 3
has "RATE/s"
expect_rc 0 --json stats
if command -v python3 >/dev/null; then
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["engines"][0]["engine"]=="pinger"' "$T/out" \
    || fail "stats --json is not the expected JSON"
  expect_rc 0 --json ports
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); p=d["ports"][0]; assert p["rxq_owner"]==["pinger"], p' "$T/out" \
    || fail "ports --json is not the expected JSON"
fi
expect_rc 0 log-level debug --type all
has "snap  debug"; has "dpdk  debug"
expect_rc 0 log-level info --type all
expect_rc 1 log-level loud
expect_rc 2 log-level info --type martian

# Capture by count: exactly N packets land in the file.
expect_rc 0 capture p0 --out "$T/count.pcapng" --count 50
has "captured 50 packets"
[ "$(head -c 4 "$T/count.pcapng" | od -An -tx1 | tr -d ' ')" = "0a0d0d0a" ] || fail "not a pcapng file"
if command -v tshark >/dev/null; then
  n=$(tshark -r "$T/count.pcapng" 2>/dev/null | wc -l)
  [ "$n" -eq 50 ] || fail "tshark reads $n packets, expected 50"
  tshark -r "$T/count.pcapng" 2>/dev/null | grep -q "Echo (ping) request" || fail "no ICMP in capture"
fi
# By duration, tx only: ~0.3 s of pings every 2 ms.
expect_rc 0 capture p0 --out "$T/dur.pcapng" --duration 0.3 --direction tx
pk=$(sed -n 's/^captured \([0-9]*\) packets.*/\1/p' "$T/out")
[ "$pk" -ge 50 ] && [ "$pk" -le 400 ] || fail "duration capture got $pk packets"
expect_rc 1 capture nope --out "$T/x.pcapng" --count 1
has "no port named"
expect_rc 2 capture p0 --out "$T/x.pcapng"
expect_rc 4 capture p0 --out "/nonexistent/dir/x.pcapng" --count 1
has "outside"

# One capture per port at a time; a client that goes away ends its capture.
"$SNAPCTL" --socket "$S" capture p0 --out "$T/long.pcapng" --count 100000000 >"$T/long.out" 2>&1 &
cpid=$!
sleep 0.5
expect_rc 1 capture p0 --out "$T/busy.pcapng" --count 1
has "already being captured"
kill "$cpid"; wait "$cpid" 2>/dev/null || true
sleep 0.3
expect_rc 0 capture p0 --out "$T/after.pcapng" --count 5
has "captured 5 packets"
grep -q "cancelled" "$T/d.log" || fail "the abandoned capture was not cancelled"

if [ "$(id -u)" -eq 0 ]; then
  # The socket is 0660 root:root: others cannot even connect (exit 4).
  rc=0; setpriv --reuid=nobody --regid=nogroup --clear-groups "$SNAPCTL" --socket "$S" status \
    >"$T/out" 2>&1 || rc=$?
  [ "$rc" -eq 4 ] || { cat "$T/out"; fail "nobody got exit $rc, expected 4"; }
  has "permission denied"
fi
expect_rc 0 status
stop_daemon d || fail "daemon did not exit cleanly"
grep -q "counter pinger ping sent" "$T/d.log" || fail "no final counters"
expect_rc 3 status
echo PASS
