#!/usr/bin/env bash
# Issue 17 item 2, the kernel exception path: daemon A owns an af_packet port on a veth in a
# test-made namespace and serves Pony RPCs from daemon B over it; a third namespace C is a
# plain kernel host on the same bridge. While the RPCs run, C sends 100 MB over kernel TCP to
# A's address: A's engine passes it (allow list "tcp:5001, icmp, arp") to a tap whose kernel
# interface carries that address, the kernel's ACKs come back out through the engine, and
# the bytes arrive intact (sha256). A's kernel pings C through the tap; C pings A and the
# engine answers. TCP to another port is refused by the filter. A's counters show the split:
# Pony stayed in the engine, TCP went to the kernel. Needs root.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pony_lib.sh"
need_root
command -v ethtool >/dev/null || skip "needs ethtool (veth offloads)"
MB=${EXC_MB:-100}
TAP=snapx$$
# Spreading: A's engine sleeps when idle, and the tap's queue fd (rx_interrupts) wakes it.
export PONY_BRIDGE_MODE=${PONY_BRIDGE_MODE:-spreading}
export PONY_BRIDGE_A_PORTS=", { name = \"x0\"; type = \"tap\"; iface = \"$TAP\"; rx_interrupts = true; }"
export PONY_BRIDGE_A_ELEMENTS="{ name = \"echo\"; type = \"icmp_echo\"; port = \"p0\"; },
    { name = \"exc\"; type = \"exception\"; port = \"p0\"; tap = \"x0\"; allow = \"tcp:5001, icmp, arp\"; },"
export PONY_BRIDGE_A_LINKS=', "ip.icmp -> echo", "echo -> tx", "echo.other -> exc",
    "ip.other -> exc", "udp.unmatched -> exc", "eth.other -> exc", "arp.kernel -> exc",
    "exc -> tx"'
pony_bridge_pair
# A's veth belongs to the daemon, but its kernel stack still sees every frame the packet
# socket does: it must not take them too (Linux accepts a local address on any interface).
# Strict reverse-path filtering drops them (the peers' subnet is routed through the tap),
# arp_ignore 8 keeps it from answering ARP, and IPv6 is off there.
for k in rp_filter=1 arp_ignore=8; do
  ip netns exec $NA sysctl -qw net.ipv4.conf.k1$$.${k%=*}=${k#*=}
done
ip netns exec $NA sysctl -qw net.ipv6.conf.k1$$.disable_ipv6=1
# C: a kernel host. af_packet copies frames as the kernel holds them, so C sends finished
# frames (no checksum offload, no TSO) as a real wire would carry them.
NC=knc$$
netns $NC
ip link add k3$$ type veth peer name kb3$$
ip link set k3$$ netns $NC
ip link set kb3$$ netns $BR
ip -n $BR link set kb3$$ master br0
ip -n $BR link set kb3$$ up
ip -n $NC addr add 10.94.0.3/24 dev k3$$
ip -n $NC link set k3$$ up
ip netns exec $NC ethtool -K k3$$ tx off tso off gso off >/dev/null 2>&1 || true
ip netns exec $NA ethtool -K k1$$ gro off >/dev/null 2>&1 || true

ip -n $NA -4 addr show dev $TAP | grep -q "inet 10.94.0.1/24" || {
  ip -n $NA addr; fail "the tap's kernel interface does not carry the host's address"; }
mac_p0=$(ip -n $NA link show k1$$ | awk '/link\/ether/ {print $2}')
ip -n $NA link show $TAP | grep -q "link/ether $mac_p0" || fail "the tap does not have the port's MAC $mac_p0"

start_app srv "$PONY_RPC" server -s "$T/run-a/app.sock" -m 65536 -w 8
wait_log "$T/srv.log" "listening" 10 || fail "server app did not start"
"$PONY_RPC" client -s "$T/run-b/app.sock" -i 10.94.0.1 -n 100000000 -d 15 -M 1 -m 65536 -S 2 \
  -w 8 -x $$ -T 90 >"$T/cli.log" 2>&1 &
cli=$!
PIDS+=("$cli")

# The kernel's receiver: hash what arrives on 10.94.0.1:5001.
cat >"$T/recv.py" <<'PY'
import hashlib, socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.94.0.1", 5001)); s.listen(1); s.settimeout(60)
open(sys.argv[1], "w").write("listening\n")
c, _ = s.accept(); c.settimeout(30)
h, n = hashlib.sha256(), 0
while True:
    b = c.recv(1 << 16)
    if not b:
        break
    h.update(b); n += len(b)
print(n, h.hexdigest())
PY
cat >"$T/send.py" <<'PY'
import hashlib, random, socket, sys
mb, seed = int(sys.argv[1]), int(sys.argv[2])
r, h = random.Random(seed), hashlib.sha256()
s = socket.create_connection(("10.94.0.1", 5001), timeout=30)
for _ in range(mb):
    b = r.randbytes(1 << 20)
    h.update(b); s.sendall(b)
s.shutdown(socket.SHUT_WR); s.recv(1)
print(mb << 20, h.hexdigest())
PY
ip netns exec $NA timeout 150 python3 "$T/recv.py" "$T/recv.ready" >"$T/recv.out" 2>"$T/recv.log" &
recv=$!
PIDS+=("$recv")
wait_log "$T/recv.ready" listening 10 || fail "receiver did not start"
sleep 1 # RPCs under way
rpc0=$(live_stat "$SA" pony0 pony msgs_rx)
t0=$(date +%s.%N)
ip netns exec $NC timeout 120 python3 "$T/send.py" "$MB" $$ >"$T/send.out" 2>"$T/send.log" ||
  { cat "$T/send.log"; $SA stats pony0 --nonzero; fail "kernel TCP transfer failed"; }
t1=$(date +%s.%N)
wait $recv || { cat "$T/recv.log"; fail "receiver failed"; }
rpc1=$(live_stat "$SA" pony0 pony msgs_rx)
echo "sent:     $(cat "$T/send.out")"
echo "received: $(cat "$T/recv.out")"
[ "$(cat "$T/send.out")" = "$(cat "$T/recv.out")" ] || fail "TCP bytes differ (sha256)"
python3 -c "print('kernel TCP: $MB MB in %.1f s' % ($t1 - $t0))"
echo "Pony messages A received during the transfer: $((rpc1 - rpc0))"
[ $((rpc1 - rpc0)) -gt 0 ] || fail "no Pony RPC progressed while TCP ran"

# A TCP port the allow list does not name never reaches the kernel (no RST: the SYN dies).
ip netns exec $NC timeout 10 python3 -c '
import socket, sys
try:
    socket.create_connection(("10.94.0.1", 5002), timeout=2)
except socket.timeout:
    sys.exit(0)
except OSError as e:
    print("unexpected:", e); sys.exit(1)
sys.exit(1)' || fail "TCP to port 5002 was not filtered"

# The RPCs ran beside the whole transfer (-d 15 is only their upper bound): stop issuing.
kill -USR1 $cli
wait $cli || { cat "$T/cli.log"; fail "Pony RPCs failed while the kernel path ran"; }
cat "$T/cli.log"
# Ping both ways once the RPCs are over (A's engine idle, asleep between pings): A's kernel ->
# C (the replies reach the kernel through icmp_echo.other), C -> A (answered by the engine).
ip netns exec $NA ping -c 3 -i 0.2 -W 2 10.94.0.3 >"$T/ping_a.log" || { cat "$T/ping_a.log"; fail "ping from A's kernel failed"; }
ip netns exec $NC ping -c 3 -i 0.2 -W 2 10.94.0.1 >"$T/ping_c.log" || { cat "$T/ping_c.log"; fail "ping to A failed"; }
echo "ping from A's kernel: $(tail -n 1 "$T/ping_a.log"); to A's engine: $(tail -n 1 "$T/ping_c.log")"
grep -q "x0: tap .*rx interrupts on" "$T/a.log" || fail "the tap port has no rx interrupts"
$SA stats pony0 --nonzero | grep -E " (exc|echo|arp|pony|tx) " | grep -E "kernel|exception|drop|msgs|to_out|to_other|requests" || true
stop_daemon b
stop_daemon a
c() { counter "$T/a.log" pony0 "$1" "$2"; }
tcp=$(c exc to_kernel_tcp) tcpb=$(c exc to_kernel_bytes) from=$(c exc from_kernel)
icmp=$(c exc to_kernel_icmp) arpk=$(c exc to_kernel_arp) filt=$(c exc drop_exception_filtered)
udpk=$(c exc to_kernel_udp) msgs=$(c pony msgs_rx) echo_out=$(c echo to_out)
full=$(c exc drop_exception_tap_full) txfull=$(c tx drop_tx_queue_full)
echo "A to kernel: tcp $tcp, icmp $icmp, arp $arpk, udp $udpk ($tcpb bytes); from kernel $from;"
echo "  filtered $filt, tap full $full, port tx full $txfull; engine: pony msgs $msgs, echo replies $echo_out"
[ "$tcp" -gt $((MB * 1024 * 1024 / 1500)) ] || fail "too few TCP segments went to the kernel"
[ "$tcpb" -gt $((MB * 1024 * 1024)) ] || fail "fewer bytes went to the kernel than were sent"
[ "$from" -gt 0 ] || fail "nothing came from the kernel"
[ "$icmp" -ge 3 ] || fail "echo replies did not reach A's kernel"
[ "$arpk" -ge 1 ] || fail "no ARP reply reached A's kernel"
[ "$filt" -ge 1 ] || fail "the filter refused nothing"
[ "$udpk" -eq 0 ] || fail "UDP (Pony's port is 4793) reached the kernel"
[ "$msgs" -gt 0 ] || fail "Pony did not run in the engine"
[ "$echo_out" -ge 3 ] || fail "the engine did not answer C's pings"
echo PASS
