#!/usr/bin/env bash
# Issue 4 item 4: two Pony flows share a tc tbf bottleneck. Three daemons in their own
# network namespaces (senders S1, S2 and receiver R, af_packet on veths) hang off a bridge in
# a fourth namespace; the bridge's port toward R is shaped by tbf. Each sender pushes 16 KiB
# messages to its own drain app on R for PONY_FAIR_S (10) s. Prints each flow's goodput,
# Jain's fairness index (must be >= 0.9) and the bottleneck's queueing delay sampled from the
# tbf backlog against the CC target. Needs root (namespaces).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pony_lib.sh"
need_root
command -v tc >/dev/null || skip "tc not installed"
DUR=${PONY_FAIR_S:-10} RATE_MBIT=${PONY_FAIR_MBIT:-100} TARGET_US=500
BR=pbr$$ NR=pr$$ N1=ps1$$ N2=ps2$$
for n in $BR $NR $N1 $N2; do netns $n; done
ip -n $BR link add br0 type bridge
ip -n $BR link set br0 up
i=0
for n in $NR $N1 $N2; do
  i=$((i + 1))
  ip link add e$i$$ type veth peer name b$i$$
  ip link set e$i$$ netns $n
  ip link set b$i$$ netns $BR
  ip -n $BR link set b$i$$ master br0
  ip -n $BR link set b$i$$ up
  ip -n $n link set e$i$$ up
done
# The bottleneck: bridge egress toward R. 64 KB bucket; the queue may hold 50 ms.
ip netns exec $BR tc qdisc add dev b1$$ root tbf rate ${RATE_MBIT}mbit burst 64kb latency 50ms
pconf() { # name iface ip
  cat <<CONF
daemon = { name = "f$1$$"; run_dir = "$T/run-$1"; memory_mb = 256; app_region_mb = 16; };
ports = ( { name = "p0"; type = "af_packet"; iface = "$2"; ip = "$3/24"; } );
engines = ( {
  name = "pony0";
  elements = (
    { name = "rx"; type = "port_rx"; port = "p0"; },
    { name = "eth"; type = "eth_classify"; port = "p0"; },
    { name = "arp"; type = "arp"; port = "p0"; },
    { name = "ip"; type = "ipv4_in"; port = "p0"; },
    { name = "udp"; type = "udp_demux"; dport_4793 = "p0"; },
    { name = "pony"; type = "pony"; port = "p0"; target_delay_us = $TARGET_US; hops = 0;
      target_per_hop_us = 0; dead_timeout_us = 5000000; },
    { name = "tx"; type = "port_tx"; port = "p0"; }
  );
  links = ( "rx -> eth", "eth.arp -> arp", "eth.ipv4 -> ip", "ip.udp -> udp",
            "udp.p0 -> pony", "pony.tx -> tx", "arp -> tx" );
} );
CONF
}
pconf r e1$$ 10.93.0.1 >"$T/r.conf"
pconf s1 e2$$ 10.93.0.2 >"$T/s1.conf"
pconf s2 e3$$ 10.93.0.3 >"$T/s2.conf"
start_daemon r "$T/r.conf" ip netns exec $NR
start_daemon s1 "$T/s1.conf" ip netns exec $N1
start_daemon s2 "$T/s2.conf" ip netns exec $N2
start_app d1 "$PONY_RPC" drain -s "$T/run-r/app.sock" -p 7 -n 0 -m 16384 -w 32 -T $((DUR + 30))
start_app d2 "$PONY_RPC" drain -s "$T/run-r/app.sock" -p 8 -n 0 -m 16384 -w 32 -T $((DUR + 30))
wait_log "$T/d1.log" listening 10 && wait_log "$T/d2.log" listening 10 || fail "drain apps did not start"
start_app p1 "$PONY_RPC" push -s "$T/run-s1/app.sock" -i 10.93.0.1 -p 7 -d "$DUR" -m 16384 -w 32 -T $((DUR + 30))
start_app p2 "$PONY_RPC" push -s "$T/run-s2/app.sock" -i 10.93.0.1 -p 8 -d "$DUR" -m 16384 -w 32 -T $((DUR + 30))
# Sample the bottleneck backlog (bytes) every 0.25 s during the middle of the run.
sleep 2
: >"$T/backlog"
for _ in $(seq $(( (DUR - 3) * 4 ))); do
  ip netns exec $BR tc -s qdisc show dev b1$$ | awk '/backlog/ {v=$2; sub(/b$/, "", v);
    if (v ~ /K$/) {sub(/K$/, "", v); v *= 1000} if (v ~ /M$/) {sub(/M$/, "", v); v *= 1000000}
    print v}' >>"$T/backlog"
  sleep 0.25
done
wait "$APP_p1" || { cat "$T/p1.log"; fail "sender 1 failed"; }
wait "$APP_p2" || { cat "$T/p2.log"; fail "sender 2 failed"; }
wait "$APP_d1" || { cat "$T/d1.log"; fail "receiver 1 failed"; }
wait "$APP_d2" || { cat "$T/d2.log"; fail "receiver 2 failed"; }
cat "$T/p1.log" "$T/p2.log"
ip netns exec $BR tc -s qdisc show dev b1$$ | sed -n 's/^ *\(Sent.*\)/bottleneck: \1/p'
b1=$(awk '/^DRAIN_BYTES/ {print $2 / $3}' "$T/d1.log")
b2=$(awk '/^DRAIN_BYTES/ {print $2 / $3}' "$T/d2.log")
python3 - "$b1" "$b2" "$T/backlog" "$RATE_MBIT" "$TARGET_US" <<'PY' || fail "unfair or delay far from target"
import sys
x = [float(sys.argv[1]), float(sys.argv[2])]
jain = sum(x) ** 2 / (len(x) * sum(v * v for v in x))
bl = [float(l) for l in open(sys.argv[3]) if l.strip()]
rate = float(sys.argv[4]) * 1e6 / 8
d = sorted(b / rate * 1e6 for b in bl) or [0]
mean = sum(d) / len(d)
print("flow goodput: %.1f and %.1f Mbit/s (bottleneck %s Mbit/s); Jain's index %.3f" %
      (x[0] * 8 / 1e6, x[1] * 8 / 1e6, sys.argv[4], jain))
print("bottleneck queueing delay over %d samples: mean %.0f us, median %.0f us, p90 %.0f us "
      "(CC target %s us)" % (len(d), mean, d[len(d) // 2], d[int(len(d) * 0.9)], sys.argv[5]))
assert jain >= 0.9, jain
assert sum(x) * 8 / 1e6 >= 0.5 * float(sys.argv[4]), "bottleneck not used"
PY
echo PASS
