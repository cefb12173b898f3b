#!/usr/bin/env bash
# IPv6 underlay (issue 17), NDP in place of ARP: a raw-socket peer on the daemon's link (veth
# into a namespace this test makes) sends 2,000 forged solicited-flag neighbour
# advertisements for distinct on-link addresses, including the kernel peer's own address
# (poisoning), then 2,000 solicitations for the daemon's address from distinct senders. No
# advertisement may be learned (we asked for none: counted `unsolicited`); the solicitations
# may be, but the table stays bounded by evicting (`evicted`). The daemon keeps answering:
# ping -6 from the peer's kernel works afterwards, at the kernel's real MAC.
. "$(dirname "$0")/../integration/lib.sh"
need_root
command -v python3 >/dev/null || skip "needs python3"
. "$(dirname "$0")/../integration/host_conf.sh"
NA=sndpA$$ NB=sndpB$$
veth6_ns $NA $NB va$$ vb$$ 10.79.0.2/24 fd00:79::2/64
MAC=$VETH_MAC
host6_conf sndp "type = \"af_packet\"; iface = \"va$$\"; ip = \"10.79.0.1/24\";
  ip6 = \"fd00:79::1/64\";" >"$T/a.conf"
start_daemon a "$T/a.conf" ip netns exec $NA
# The attacker: type 136 (advertisement, S|O flags, target link-layer option) for
# fd00:79::<n> or 135 (solicitation for fd00:79::1 from fd00:79::<n>, source option).
attack() {
  ip netns exec $NB python3 - "vb$$" "$MAC" "$1" <<'PY'
import socket, struct, sys, time
ifc, dst, typ = sys.argv[1], bytes.fromhex(sys.argv[2].replace(":", "")), int(sys.argv[3])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifc, 0))
pfx = socket.inet_pton(socket.AF_INET6, "fd00:79::")[:14]
ours = socket.inet_pton(socket.AF_INET6, "fd00:79::1")
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
for i in range(2000):
    n = 0x1000 + i
    mac = bytes([2, 0xbb, typ & 255, 0, n >> 8 & 255, n & 255])
    addr = pfx + bytes([n >> 8 & 255, n & 255])
    if typ == 136:
        target = socket.inet_pton(socket.AF_INET6, "fd00:79::2") if i % 10 == 0 else addr
        body = bytes([0x60, 0, 0, 0]) + target + bytes([2, 1]) + mac
        src, ip_dst = target, ours
    else:
        body = bytes(4) + ours + bytes([1, 1]) + mac
        src, ip_dst = addr, ours
    m = struct.pack("!BBH", typ, 0, 0) + body
    ph = src + ip_dst + struct.pack("!II", len(m), 58)
    m = m[:2] + struct.pack("!H", csum(ph + m)) + m[4:]
    ip6 = struct.pack("!IHBB", 6 << 28, len(m), 58, 255) + src + ip_dst
    s.send(dst + mac + b"\x86\xdd" + ip6 + m)
    if i % 200 == 199:
        time.sleep(0.01)  # stay within the af_packet ring
PY
}
attack 136
attack 135
sleep 0.5
kill -0 "$PID_a" || fail "daemon died under the NDP flood"
ip netns exec $NB ping -6 -c 3 -i 0.2 -W 2 fd00:79::1 >"$T/ping.log" 2>&1 ||
  fail "no ping -6 replies after the flood: $(tail -2 "$T/ping.log")"
stop_daemon a
ad=$(counter "$T/a.log" host icmp6 adverts_seen)
uns=$(counter "$T/a.log" host icmp6 unsolicited)
sol=$(counter "$T/a.log" host icmp6 solicits)
ev=$(counter "$T/a.log" host icmp6 evicted)
echo "adverts seen $ad, unsolicited (not learned) $uns; solicitations answered $sol, evicted $ev"
[ "$ad" -gt 0 ] || fail "no advertisements reached the icmp6 element"
[ "$uns" -eq "$ad" ] || fail "some unsolicited advertisements were taken ($uns of $ad refused)"
[ "$sol" -gt 1000 ] || fail "solicitations were not answered ($sol)"
[ "$ev" -gt 0 ] || fail "the table filled without evicting"
echo "PASS: forged neighbour advertisements not learned; IPv6 neighbour table bounded by eviction"
