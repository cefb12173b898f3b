#!/usr/bin/env bash
# Remote atomics between two daemons over memif with an injector on each receive path (loss,
# reordering, duplication; issue 21): 8 client apps on B each run PONY_ATOMICS_N (default
# 100,000) fetch-and-adds of 1 on one word of A's target region, 32 in flight each: the word
# must end at exactly 8 x N (each add ran once although packets were lost, duplicated and
# retransmitted). Then 8 clients take a compare-and-swap lock PONY_ATOMICS_LOCKS times each
# around a read-modify-write of a second word: it must end at exactly 8 x LOCKS (mutual
# exclusion, every unlock finding its own id). A's target app never polls (its threads are
# not involved), and A's engine counts every execution.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pony_lib.sh"
OS_APP=${PONY_ONESIDED_APP:?}
AT_APP=${PONY_ATOMICS_APP:?}
N=${PONY_ATOMICS_N:-100000}
LOCKS=${PONY_ATOMICS_LOCKS:-200}
C=8
OFF=$((256 * 1024)) # in the target's read-write region, away from its descriptors and table
pony_pair "" "" "loss = 0.01; reorder = 0.02; dup = 0.01; seed = $$;"
start_app tgt "$OS_APP" target -s "$T/run-a/app.sock"
wait_log "$T/tgt.log" "^region " 10 || fail "target app did not register"
read -r _ R _ K _ <"$T/tgt.log"
at() { timeout 300 "$AT_APP" "$1" -s "$T/run-b/app.sock" -i $PIPA -r "$R:$K" -o $OFF "${@:2}"; }
at init >/dev/null || fail "init"
read -r _ W L V < <(at get)
[ "$W $L $V" = "0 0 0" ] || fail "init left $W $L $V"
ex0=$(live_stat "$SA" pony0 pony os_executed)
t0=$(date +%s.%N)
pids=()
for i in $(seq $C); do at fadd -n "$N" -d 32 >"$T/fadd$i.log" 2>&1 & pids+=($!); done
for i in $(seq $C); do
  wait "${pids[$((i - 1))]}" || { cat "$T/fadd$i.log"; fail "fadd client $i failed"; }
done
t1=$(date +%s.%N)
read -r _ W L V < <(at get)
echo "fetch-and-add: $C clients x $N: word $W (want $((C * N)))"
awk -v n=$((C * N)) -v a="$t0" -v b="$t1" 'BEGIN {printf "  %.1f s, %.0f atomics/s\n", b - a, n / (b - a)}'
[ "$W" = $((C * N)) ] || fail "the word is $W, not $((C * N)): an add was lost or repeated"
pids=()
for i in $(seq $C); do at lock -n "$LOCKS" -t "$i" >"$T/lock$i.log" 2>&1 & pids+=($!); done
for i in $(seq $C); do
  wait "${pids[$((i - 1))]}" || { cat "$T/lock$i.log"; fail "lock client $i failed"; }
done
read -r _ W L V < <(at get)
retries=$(cat "$T"/lock*.log | awk '/^PASS lock/ {s += $5} END {print s + 0}')
echo "cmp-swap lock: $C clients x $LOCKS critical sections: counter $V (want $((C * LOCKS))), lock word $L, $retries busy retries"
[ "$V" = $((C * LOCKS)) ] || fail "the guarded counter is $V, not $((C * LOCKS))"
[ "$L" = 0 ] || fail "the lock was left held ($L)"
ex=$(live_stat "$SA" pony0 pony os_executed)
echo "A executed $((ex - ex0)) one-sided ops"
[ $((ex - ex0)) -ge $((C * N)) ] || fail "A executed $((ex - ex0)) ops, fewer than the adds"
stop_daemon b
stop_daemon a
lost=$(( $(counter "$T/a.log" pony0 inj lost) + $(counter "$T/b.log" pony0 inj lost) ))
retx=$(( $(counter "$T/a.log" pony0 pony retransmits) + $(counter "$T/b.log" pony0 pony retransmits) ))
echo "injector lost $lost packets; pony retransmitted $retx"
[ "$lost" -gt 0 ] && [ "$retx" -gt 0 ] || fail "the link was not impaired"
echo PASS
