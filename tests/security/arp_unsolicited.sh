#!/usr/bin/env bash
# Issue 14 item 8 (ARP): a raw-socket peer on the daemon's link (veth into a namespace this
# test makes) sends 3,000 unsolicited ARP replies for distinct on-link addresses (a /16), then
# 3,000 requests for the daemon's address from distinct senders. The replies must not be
# learned (counted as `unsolicited`); the requests may be, but the table stays bounded by
# evicting (`evicted`, with `learn_failed` once evictions outpace their grace period). The
# daemon keeps answering: ping from the peer's kernel works afterwards.
. "$(dirname "$0")/../integration/lib.sh"
need_root
command -v python3 >/dev/null || skip "needs python3"
. "$(dirname "$0")/../integration/host_conf.sh"
NA=sarpA$$ NB=sarpB$$
veth_ns $NA $NB va$$ vb$$ 10.78.0.2/16
MAC=$VETH_MAC
host_conf sarp "type = \"af_packet\"; iface = \"va$$\"; ip = \"10.78.0.1/16\";" >"$T/a.conf"
start_daemon a "$T/a.conf" ip netns exec $NA
# The attacker: op 2 (reply) or 1 (request for 10.78.0.1), sender 10.78.(i>>8).(i&255)+1000.
attack() {
  ip netns exec $NB python3 - "vb$$" "$MAC" "$1" <<'PY'
import socket, struct, sys, time
ifc, dst, op = sys.argv[1], bytes.fromhex(sys.argv[2].replace(":", "")), int(sys.argv[3])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifc, 0))
ours = socket.inet_aton("10.78.0.1")
for i in range(3000):
    n = 1000 + i + (op - 1) * 5000
    sha = bytes([2, 0xbb, op, 0, n >> 8 & 255, n & 255])
    sip = bytes([10, 78, n >> 8 & 255, n & 255])
    eth = dst + sha + b"\x08\x06"
    arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, op) + sha + sip + dst + ours
    s.send((eth + arp).ljust(60, b"\0"))
    if i % 200 == 199:
        time.sleep(0.01)  # stay within the af_packet ring
PY
}
attack 2
attack 1
sleep 0.5
kill -0 "$PID_a" || fail "daemon died under the ARP flood"
ip netns exec $NB ping -c 3 -i 0.2 -W 2 10.78.0.1 >"$T/ping.log" || fail "no ping replies after the flood"
stop_daemon a
uns=$(counter "$T/a.log" host arp unsolicited)
ev=$(counter "$T/a.log" host arp evicted)
lf=$(counter "$T/a.log" host arp learn_failed)
rs=$(counter "$T/a.log" host arp replies_seen)
rq=$(counter "$T/a.log" host arp requests)
echo "replies seen $rs, unsolicited (not learned) $uns; requests $rq, evicted $ev, learn_failed $lf"
[ "$rs" -gt 0 ] || fail "no replies reached the arp element"
[ "$uns" -eq "$rs" ] || fail "some unsolicited replies were learned ($uns of $rs refused)"
[ "$ev" -gt 0 ] || fail "the table filled without evicting"
echo "PASS: unsolicited ARP replies not learned; neighbour table bounded by eviction"
