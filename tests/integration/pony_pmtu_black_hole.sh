#!/usr/bin/env bash
# Issue 16, path MTU: two daemons with af_packet ports at MTU 9,000 joined through two
# bridges with a 1,500-byte link between them, so every larger frame is dropped without a
# word (a bridge sends no "too big"). Both ends agree on jumbo segments in the handshake;
# their path MTU probes (pony/pmtu.h) are lost, so each flow keeps 1,500-byte segments and
# 64 KiB RPCs each way all come back, byte-identical, with no flow failed. Then the same
# with pmtu_probe = 0 on both daemons (trust the MTUs): the RPCs of more than 1,500 bytes
# do not get through.
# Needs root.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pony_lib.sh"
need_root
N=${PONY_PMTU_N:-200}
PONY_BRIDGE_MTU=9000 PONY_BRIDGE_LINK_MTU=1500 pony_bridge_pair
start_app srv "$PONY_RPC" server -s "$T/run-a/app.sock" -m 65536 -w 8
wait_log "$T/srv.log" "listening" 10 || fail "server app did not start"
"$PONY_RPC" client -s "$T/run-b/app.sock" -i 10.94.0.1 -n "$N" -M 1 -m 65536 -S 2 -w 8 \
  -x $$ -T 60 >"$T/cli.log" 2>&1 || { cat "$T/cli.log"; $SB flows; fail "client failed"; }
cat "$T/cli.log"
$SB flows | tee "$T/flows"
for x in "$NA k1$$" "$NB k2$$"; do
  set -- $x
  ip -n $1 link show $2 | grep -q "mtu 9000 " || fail "$2's MTU is not 9000"
done
ip -n $BR link show mid0 | grep -q "mtu 1500 " || fail "the middle link's MTU is not 1500"
seg=$(grep -o 'seg_max=[0-9]*' "$T/flows" | head -n 1 | cut -d= -f2)
agreed=$(grep -o 'seg_agreed=[0-9]*' "$T/flows" | head -n 1 | cut -d= -f2)
echo "segment: agreed ${agreed:-?}, in use ${seg:-?}"
[ "${agreed:-0}" -gt 1500 ] || fail "the handshake did not agree on jumbo segments"
[ "${seg:-9999}" -le 1500 ] || fail "segments of $seg bytes over a 1,500-byte path"
stop_daemon b
stop_daemon a
total() {
  echo $(( $(counter "$T/a.log" pony0 pony "$1") + $(counter "$T/b.log" pony0 pony "$1") ))
}
msgs=$(total msgs_rx) failed=$(total flows_failed) probes=$(total pmtu_probes_tx)
lost=$(total pmtu_failed) raised=$(total pmtu_raised)
echo "pony: messages delivered $msgs, flows failed $failed;" \
  "path MTU probes $probes, lost $lost, acked $raised"
[ "$msgs" -eq $((2 * N)) ] || fail "delivered $msgs messages, expected $((2 * N))"
[ "$failed" -eq 0 ] || fail "a flow failed"
[ "$raised" -eq 0 ] || fail "a probe of a jumbo frame was acked across a 1,500-byte bridge"
[ "$lost" -ge 2 ] || fail "only $lost probes lost (each side's should be)"

# Trusting the MTUs: the same path strands the big segments.
sed -i 's/type = "pony"; port = "p0";/type = "pony"; port = "p0"; pmtu_probe = 0;/' \
  "$T/a.conf" "$T/b.conf"
grep -q "pmtu_probe = 0" "$T/a.conf" || fail "could not turn probing off in the config"
start_daemon a "$T/a.conf" ip netns exec $NA
start_daemon b "$T/b.conf" ip netns exec $NB
start_app srv2 "$PONY_RPC" server -s "$T/run-a/app.sock" -m 65536 -w 8
wait_log "$T/srv2.log" "listening" 10 || fail "server app did not start (trusting)"
# Every RPC at least 8 KiB, so none fits one 1,500-byte packet.
if "$PONY_RPC" client -s "$T/run-b/app.sock" -i 10.94.0.1 -n 20 -M 8192 -m 65536 -S 1 -w 2 \
    -x $$ -T 5 >"$T/cli2.log" 2>&1; then
  cat "$T/cli2.log"
  fail "64 KiB RPCs crossed a 1,500-byte bridge without probing: the test proves nothing"
fi
echo "trusting the MTUs: the client failed, as expected ($(tail -n 1 "$T/cli2.log"))"
echo PASS
