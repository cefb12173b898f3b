#!/usr/bin/env bash
# One-sided ops between two real daemons joined by memif: the target app on A registers its
# regions (one at the start of its shared payload area, one ending exactly at its end) and
# then sleeps without polling; the client on B runs every op type (read, write,
# indirect by descriptor and by pointer, scan-and-read) with data checked byte for byte and
# many ops in flight, then every error case. A's target app must not have issued a single
# command after registering (its threads were not involved), and A's one-sided counters must
# show the executions and errors.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pony_lib.sh"
OS_APP=${PONY_ONESIDED_APP:?PONY_ONESIDED_APP must point at pony_onesided_app}
pony_pair
start_app tgt "$OS_APP" target -s "$T/run-a/app.sock"
wait_log "$T/tgt.log" "^region " 10 || fail "target app did not register"
read -r _ R _ K _ R2 _ K2 <"$T/tgt.log"
cmds0=$($SA --json apps | python3 -c 'import json,sys; a=json.load(sys.stdin)["apps"]; print(sum(int(c["value"]) for x in a for c in x["counters"] if c["name"]=="cmds"))')
timeout 120 "$OS_APP" client -s "$T/run-b/app.sock" -i $PIPA -r "$R:$K" -R "$R2:$K2" \
  -n "${PONY_ONESIDED_ROUNDS:-50}" >"$T/cli.log" 2>&1 || { cat "$T/cli.log"; fail "client"; }
cat "$T/cli.log"
cmds1=$($SA --json apps | python3 -c 'import json,sys; a=json.load(sys.stdin)["apps"]; print(sum(int(c["value"]) for x in a for c in x["counters"] if c["name"]=="cmds"))')
[ "$cmds0" = "$cmds1" ] || fail "target app issued commands during the run ($cmds0 -> $cmds1)"
echo "target app commands before/after: $cmds0/$cmds1 (not involved)"
# A's engine counted every execution and each error once (snapctl stats, element pony).
ex=$(live_stat "$SA" pony0 pony os_executed)
[ "$ex" -gt 9000 ] || fail "os_executed on A is $ex"
pony_os_errors_check "$SA"
echo "A executed $ex one-sided ops; each error counted as often as it was provoked"
stop_daemon b
stop_daemon a
for k in retransmits msgs_tx; do echo "a pony $k: $(counter "$T/a.log" pony0 pony $k)"; done
echo PASS
