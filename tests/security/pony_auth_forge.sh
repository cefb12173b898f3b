#!/usr/bin/env bash
# Issue 14, authenticated flows: two daemons in authenticated mode (one key file, af_packet
# ports in their own namespaces, joined by a bridge) carry a checking RPC load while a
# raw-socket attacker in the bridge namespace, who sees every frame but lacks the key,
# injects toward A, spoofed as B and naming the live flow's ids and seqs: forged SYN, RST,
# DATA and one-sided OS_REQ packets with a random tag, with a real tag under a wrong key and
# with no tag (valid CRC), plus real packets with one byte changed. Every one must be dropped
# and counted (auth_fail = packets injected), the flow never reset or failed, no one-sided
# op executed, and at least 1,000 RPCs complete intact. Then the keys are rotated with
# SIGHUP in WIRE.md's three steps under the same load, without losing the flow. Also: a key
# file others can read is a config error.
. "$LIBDIR/lib.sh"
. "$LIBDIR/pony_lib.sh"
need_root
python3 -c "import cryptography" 2>/dev/null ||
  skip "python3-cryptography missing (tools/setup.sh installs it)"
key() { od -An -tx1 -N32 /dev/urandom | tr -d ' \n'; }
K1=$(key) K2=$(key)

# 1. A key file with group/other permissions is refused at start-up, with the reason.
(umask 022; echo "1 $K1" >"$T/keys")
cat >"$T/bad.conf" <<CONF
daemon = { name = "kx$$"; run_dir = "$T/run-x"; memory_mb = 256; };
engines = ( { name = "e0"; elements = (
  { name = "pony"; type = "pony"; ip = "10.95.0.1"; apps = 0; auth_key_file = "$T/keys"; } ); } );
CONF
rc=0
"$SNAPNETD" -c "$T/bad.conf" >"$T/bad.log" 2>&1 || rc=$?
grep "auth_key_file" "$T/bad.log" || true
[ $rc -eq 2 ] && grep -q "mode 644, must be 0600 or 0400" "$T/bad.log" ||
  fail "a mode-644 key file was not refused (exit $rc)"

# 2. The pair, authenticated, and the load.
chmod 600 "$T/keys"
pony_bridge_pair "" "auth_key_file = \"$T/keys\";"
start_app srv "$PONY_RPC" server -s "$T/run-a/app.sock" -m 4096 -w 8
wait_log "$T/srv.log" "listening" 10 || fail "server app did not start"
start_app cli "$PONY_RPC" client -s "$T/run-b/app.sock" -i 10.94.0.1 -n 100000000 -d 60 \
  -M 1 -m 4096 -S 2 -w 8 -x $$ -T 60

# 3. The attack: sniff on the bridge port toward B, inject on the port toward A.
ip netns exec $BR timeout 60 python3 "$(dirname "$0")/pony_forge.py" $KB2 $KB1 \
  10.94.0.2 10.94.0.1 50 >"$T/forge.log" 2>&1 || { cat "$T/forge.log"; fail "attacker failed"; }
cat "$T/forge.log"
injected=$(sed -n 's/^INJECTED //p' "$T/forge.log")

# 4. Rotation under the same load: 2 accept-only, then 2 sends, then 1 goes (SIGHUP each).
sleep 0.5
rotate() {
  (umask 077; printf '%s\n' "$@" >"$T/keys.new"); mv "$T/keys.new" "$T/keys"
  kill -HUP $PID_a $PID_b
  sleep 1 # both engines re-read the file before the next step
}
rotate "1 $K1" "2 $K2 accept-only"
rotate "1 $K1" "2 $K2"
rotate "2 $K2"
# A second of RPCs on the last key alone, then the client stops issuing (-d 60 is only an
# upper bound of its load: a slow run once outlived the 9 s it had been, and the client
# ended before the last rotation).
sleep 1
kill -USR1 $APP_cli 2>/dev/null || fail "the RPC client ended before it was told to (its -d bound)"
wait $APP_cli || { cat "$T/cli.log"; fail "the RPC client failed"; }
cat "$T/cli.log"
rpcs=$(sed -n 's/^client: \([0-9]*\) rpcs.*intact.*/\1/p' "$T/cli.log")
stop_daemon b
stop_daemon a
ca() { counter "$T/a.log" pony0 pony "$1"; }
cb() { counter "$T/b.log" pony0 pony "$1"; }
echo "A: auth_fail $(ca auth_fail) rst_rx $(ca rst_rx) flows_failed $(ca flows_failed)" \
  "flows_created $(ca flows_created) os_req_pkts_rx $(ca os_req_pkts_rx) os_executed" \
  "$(ca os_executed) auth_reloads $(ca auth_reloads) bad_csum $(ca bad_csum)"
echo "B: auth_fail $(cb auth_fail) flows_failed $(cb flows_failed) auth_reloads $(cb auth_reloads)"
# Every non-zero counter of A's engine, so a failure shows where the packets went.
awk '$1=="counter" && $5!=0 {printf "%s ", $3 "." $4 "=" $5} END {print ""}' "$T/a.log"
[ -n "$injected" ] && [ "$injected" -gt 0 ] || fail "nothing injected"
[ "$(ca auth_fail)" -eq "$injected" ] ||
  fail "A counted $(ca auth_fail) auth failures for $injected forged packets"
[ "$(ca rst_rx)" -eq 0 ] || fail "A took an RST"
[ "$(ca flows_failed)" -eq 0 ] && [ "$(cb flows_failed)" -eq 0 ] || fail "a flow failed"
[ "$(ca flows_created)" -eq 1 ] || fail "A created $(ca flows_created) flows (a forged SYN opened one?)"
[ "$(ca os_req_pkts_rx)" -eq 0 ] && [ "$(ca os_executed)" -eq 0 ] ||
  fail "a spoofed one-sided op reached A"
[ "$(ca auth_reloads)" -eq 3 ] && [ "$(cb auth_reloads)" -eq 3 ] || fail "keys not reloaded 3 times"
[ "$(cb auth_fail)" -eq 0 ] || fail "B dropped $(cb auth_fail) packets (rotation lost some)"
[ -n "$rpcs" ] && [ "$rpcs" -ge 1000 ] || fail "only ${rpcs:-0} RPCs completed"
echo "PASS: $injected forged packets dropped and counted, $rpcs RPCs intact, keys rotated"
