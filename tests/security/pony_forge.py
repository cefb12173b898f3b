#!/usr/bin/env python3
"""Raw-socket attacker of tests/security/pony_auth_forge.sh: watches a Pony flow between two
authenticated daemons on the bridge, learns its flow ids, MACs and seqs from one DATA
packet, and injects toward the victim, spoofed as its peer, forged SYN, RST, DATA and OS_REQ
packets naming the real flow, each with a random tag, with no tag (key_id 0 and a valid
CRC-32C) and with a real AES-GCM tag under a wrong key, plus copies of the real packet with
one byte changed. Bounded: ROUNDS rounds of 13 packets. Prints "INJECTED <n>".

usage: pony_forge.py SNIFF_IFACE SEND_IFACE PEER_IP VICTIM_IP ROUNDS"""
import os
import socket
import struct
import sys
import time

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PORT = 4793
VERSION = 3
T_SYN, T_RST, T_DATA, T_OS_REQ = 1, 3, 16, 32
TRAILER = 28


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def ip_csum(hdr):
    s = sum(struct.unpack("!10H", hdr))
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def pony_hdr(typ, src_flow, dst_flow, seq, ack, flags, sid, msg_id, msg_len, off, aux,
             plen, key_id):
    # WIRE.md fixed header, 72 bytes, csum (offset 68) filled by the caller.
    return bytearray(struct.pack("!BBBBIIIIQQIIIIIIIHBBI", VERSION, typ, flags, 0, src_flow,
                                 dst_flow, seq, ack, 1, 0, 0, sid, 0, msg_id, msg_len, off, aux,
                                 plen, key_id, 0, 0))


def frame(eth, src_ip, dst_ip, pony):
    udp = struct.pack("!HHHH", PORT, PORT, 8 + len(pony), 0)
    ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp) + len(pony), 1, 0x4000,
                               64, 17, 0, socket.inet_aton(src_ip), socket.inet_aton(dst_ip)))
    ip[10:12] = struct.pack("!H", ip_csum(bytes(ip)))
    return eth + bytes(ip) + udp + bytes(pony)


def seal_wrong_key(pkt, typ, src_ip, dst_ip, src_flow, dst_flow):
    """A real tag, computed as WIRE.md says, under a key that is not the daemons'."""
    hs = typ in (T_SYN, T_RST)
    info = (b"pony3-hs" if hs else b"pony3-fl") + bytes([1]) + socket.inet_aton(src_ip) + \
        struct.pack("!H", PORT) + socket.inet_aton(dst_ip) + struct.pack("!H", PORT) + \
        struct.pack("!II", 0 if hs else src_flow, 0 if hs else dst_flow)
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(os.urandom(32))
    nonce = os.urandom(12)
    return bytes(pkt) + nonce + AESGCM(key).encrypt(nonce, b"", bytes(pkt))


def main():
    sniff_if, send_if, peer_ip, victim_ip, rounds = sys.argv[1:6]
    rounds = int(rounds)
    rx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    rx.bind((sniff_if, 0))
    rx.settimeout(1.0)
    deadline = time.time() + 30
    cap = None
    while cap is None and time.time() < deadline:
        try:
            f = rx.recv(9000)
        except socket.timeout:
            continue
        if len(f) < 14 + 20 + 8 + 72 or f[12:14] != b"\x08\x00" or f[23] != 17:
            continue
        ihl = (f[14] & 15) * 4
        if f[26:30] != socket.inet_aton(peer_ip) or f[30:34] != socket.inet_aton(victim_ip):
            continue
        p = f[14 + ihl + 8:]
        if p[0] == VERSION and p[1] == T_DATA and p[66] != 0:
            cap = (f[:14], p)
    if cap is None:
        print("pony_forge: saw no authenticated DATA packet from %s to %s" % (peer_ip, victim_ip))
        return 1
    eth, real = cap
    src_flow, dst_flow, seq, ack = struct.unpack("!IIII", real[4:20])
    sid, = struct.unpack("!I", real[40:44])
    print("pony_forge: flow %08x -> %08x seq %u ack %u key id %u" %
          (src_flow, dst_flow, seq, ack, real[66]))
    tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    tx.bind((send_if, 0))
    one_read = struct.pack("!BBHIIIQQ", 1, 0, 0, 1, 1, 64, 0, 0)  # READ region 1, 64 B
    n = 0
    for r in range(rounds):
        forged = [
            (pony_hdr(T_SYN, src_flow ^ 0x5A5A, 0, seq + r, 0, 0, 0, 0, 0, 0, 256, 0, 1), b""),
            (pony_hdr(T_RST, src_flow, dst_flow, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1), b""),
            (pony_hdr(T_DATA, src_flow, dst_flow, seq + 1 + r, ack, 1, sid, 0, 64, 0, 0, 64, 1),
             os.urandom(64)),
            (pony_hdr(T_OS_REQ, src_flow, dst_flow, seq + 2 + r, ack, 1, 0, 0, 0, 0, 1, 32, 1),
             one_read),
        ]
        for hdr, payload in forged:
            typ = hdr[1]
            # 1: key id 1 with a random trailer.
            tx.send(frame(eth, peer_ip, victim_ip, bytes(hdr) + payload + os.urandom(TRAILER)))
            # 2: a real tag under a wrong key.
            tx.send(frame(eth, peer_ip, victim_ip,
                          seal_wrong_key(bytes(hdr) + payload, typ, peer_ip, victim_ip,
                                         src_flow, dst_flow)))
            # 3: unauthenticated (key id 0, a valid CRC-32C): what a version-3 peer without
            # keys would send.
            plain = bytearray(hdr) + payload
            plain[66] = 0
            plain[68:72] = struct.pack("!I", crc32c(bytes(plain[:68]) + b"\0\0\0\0" +
                                                  bytes(plain[72:])))
            tx.send(frame(eth, peer_ip, victim_ip, plain))
            n += 3
        # 4: the real packet with one byte changed (in its ts: still well-formed).
        bad = bytearray(real)
        bad[20 + (r % 8)] ^= 0x40
        tx.send(frame(eth, peer_ip, victim_ip, bad))
        n += 1
        time.sleep(0.002)
    print("INJECTED %d" % n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
