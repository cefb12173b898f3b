#!/usr/bin/env bash
# Issue 4 item 5: a receiver that stops reading. A's drain app stops posting receive buffers
# for 3 s after 2000 messages while B's push app keeps sending 16 KiB messages with up to 64
# queued on a stream whose transport send queue holds 32 (pony arg sendq_max = 32). Both daemons' memory must stay bounded (RSS from /proc, the transport's held_mbufs),
# the sender must see back-pressure (sends completed with -ENOBUFS), and once the receiver
# resumes every message must arrive exactly once and intact.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pony_lib.sh"
N=${PONY_BP_N:-6000} LEN=16384
pony_pair "" "sendq_max = 32;"
rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
start_app drain "$PONY_RPC" drain -s "$T/run-a/app.sock" -n $N -m $LEN -w 16 -P 2000 -D 3 -T 90
wait_log "$T/drain.log" "listening" 10 || fail "drain app did not start"
ra0=$(rss "$PID_a") rb0=$(rss "$PID_b")
start_app push "$PONY_RPC" push -s "$T/run-b/app.sock" -i $PIPA -n $N -m $LEN -w 64 -T 90
wait_log "$T/drain.log" "^PAUSED" 30 || { cat "$T/drain.log" "$T/push.log"; fail "receiver never paused"; }
ra_max=0 rb_max=0 held_max=0
for _ in 1 2 3 4 5; do
  sleep 0.5
  ra=$(rss "$PID_a"); rb=$(rss "$PID_b"); held=$(live_stat "$SA" pony0 pony held_mbufs)
  [ "$ra" -gt "$ra_max" ] && ra_max=$ra
  [ "$rb" -gt "$rb_max" ] && rb_max=$rb
  [ "$held" -gt "$held_max" ] && held_max=$held
done
ops_b=$(live_stat "$SB" pony0 pony apps_ops)
echo "during the pause: rss a ${ra0} -> max ${ra_max} KiB, b ${rb0} -> max ${rb_max} KiB; a held_mbufs max $held_max; b app ops outstanding $ops_b"
wait "$APP_push" || { cat "$T/push.log"; fail "sender failed"; }
wait "$APP_drain" || { cat "$T/drain.log"; fail "receiver lost or corrupted messages"; }
cat "$T/push.log" "$T/drain.log"
grep -q "^BACKPRESSURE" "$T/push.log" || fail "sender saw no back-pressure"
[ $((ra_max - ra0)) -lt 65536 ] || fail "receiver daemon grew by $((ra_max - ra0)) KiB while paused"
[ $((rb_max - rb0)) -lt 65536 ] || fail "sender daemon grew by $((rb_max - rb0)) KiB while paused"
[ "$held_max" -le 256 ] || fail "receiver held $held_max mbufs (window 256)"
[ "$ops_b" -le 64 ] || fail "sender daemon holds $ops_b ops for a window of 64"
stop_daemon b
stop_daemon a
echo "a credit_stalls: $(counter "$T/b.log" pony0 pony credit_stalls)"
echo PASS
