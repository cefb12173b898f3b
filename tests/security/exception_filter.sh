#!/usr/bin/env bash
# Issue 17 (kernel exception path): what the allow list does not name never reaches the host
# kernel, and the kernel side cannot speak for another station. A raw-socket peer on the
# daemon's link (veth into a namespace this test makes) sends TCP SYNs to 199 ports the list
# ("tcp:22, icmp, arp") does not name, TCP with a cut header, and UDP to a port nobody
# serves: all dropped as exception_filtered, and the tap's kernel interface receives none of
# it. A local root process writes frames with a foreign source MAC into the tap: dropped as
# exception_bad_frame, never sent. The allowed port still connects afterwards.
. "$(dirname "$0")/../integration/lib.sh"
need_root
command -v python3 >/dev/null || skip "needs python3"
. "$(dirname "$0")/../integration/host_conf.sh"
NA=sexA$$ NB=sexB$$ TAP=sx$$
veth_ns $NA $NB va$$ vb$$ 10.79.0.2/24
MAC=$VETH_MAC
for k in rp_filter=1 arp_ignore=8; do ip netns exec $NA sysctl -qw net.ipv4.conf.va$$.${k%=*}=${k#*=}; done
ip netns exec $NB ethtool -K vb$$ tx off tso off gso off >/dev/null 2>&1 || true
host_conf sexc "type = \"af_packet\"; iface = \"va$$\"; ip = \"10.79.0.1/24\"; },
  { name = \"x0\"; type = \"tap\"; iface = \"$TAP\";" \
  ", { name = \"udp\"; type = \"udp_demux\"; dport_4793 = \"p0\"; },
    { name = \"exc\"; type = \"exception\"; port = \"p0\"; tap = \"x0\"; allow = \"tcp:22, icmp, arp\"; }" \
  ', "ip.udp -> udp", "ip.other -> exc", "udp.unmatched -> exc", "eth.other -> exc",
    "arp.kernel -> exc", "exc -> tx"' >"$T/a.conf"
start_daemon a "$T/a.conf" ip netns exec $NA
tap_rx() { ip netns exec $NA cat /sys/class/net/$TAP/statistics/rx_packets; }
rx0=$(tap_rx)
ip netns exec $NB python3 - "vb$$" "$MAC" <<'PY'
import socket, struct, sys, time
ifc, dst = sys.argv[1], bytes.fromhex(sys.argv[2].replace(":", ""))
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifc, 0))
src = s.getsockname()[4]
sip, dip = socket.inet_aton("10.79.0.2"), socket.inet_aton("10.79.0.1")
def csum(b):
    if len(b) % 2: b += b"\0"
    t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while t >> 16: t = (t & 0xffff) + (t >> 16)
    return ~t & 0xffff
def ip(proto, l4, i):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), i, 0, 64, proto, 0, sip, dip)
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return (dst + src + b"\x08\x00" + h + l4).ljust(60, b"\0")
n = 0
for port in range(1, 201):
    if port == 22:
        continue
    syn = struct.pack("!HHIIBBHHH", 40000, port, 1, 0, 5 << 4, 2, 65535, 0, 0)
    s.send(ip(6, syn, port)); n += 1
for i in range(100):
    s.send(ip(6, b"\x9c\x40", i)); n += 1   # a TCP header cut after 2 bytes
    s.send(ip(17, struct.pack("!HHHH", 5000, 53, 8, 0), i)); n += 1
    if i % 20 == 19:
        time.sleep(0.01)  # stay within the af_packet ring
print("sent", n)
PY
# A local process writes into the tap as if it were the kernel, with another station's MAC.
ip netns exec $NA python3 - "$TAP" <<'PY'
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
for i in range(100):
    s.send((b"\xff" * 6 + bytes([2, 0xee, 0, 0, 0, i]) + b"\x08\x00").ljust(60, b"\0"))
PY
sleep 0.5
kill -0 "$PID_a" || fail "daemon died"
rx1=$(tap_rx)
# The allowed port still works: the kernel's listener on 22 accepts a connection.
ip netns exec $NA timeout 20 python3 -c '
import socket
s = socket.socket(); s.bind(("10.79.0.1", 22)); s.listen(1); s.settimeout(15)
c, _ = s.accept(); c.sendall(b"ok")' &
PIDS+=("$!")
sleep 0.5
ip netns exec $NB timeout 20 python3 -c '
import socket, sys
c = socket.create_connection(("10.79.0.1", 22), timeout=10)
sys.exit(0 if c.recv(2) == b"ok" else 1)' || fail "the allowed TCP port does not connect"
stop_daemon a
filt=$(counter "$T/a.log" host exc drop_exception_filtered)
bad=$(counter "$T/a.log" host exc drop_exception_bad_frame)
tcp=$(counter "$T/a.log" host exc to_kernel_tcp)
echo "filtered $filt, bad frames from the kernel side $bad, tap rx during the attack $((rx1 - rx0)), allowed TCP to kernel $tcp"
[ "$filt" -ge 399 ] || fail "only $filt of 399 forbidden frames were filtered"
[ $((rx1 - rx0)) -eq 0 ] || fail "the kernel received $((rx1 - rx0)) frames during the attack"
[ "$bad" -ge 100 ] || fail "frames with a foreign source MAC were not refused ($bad)"
[ "$tcp" -ge 1 ] || fail "the allowed connection did not go through the kernel path"
echo "PASS: unlisted traffic filtered before the kernel; foreign-MAC frames from the tap refused"
