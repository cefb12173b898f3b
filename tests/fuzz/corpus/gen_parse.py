#!/usr/bin/env python3
# Writes the seed corpus for fuzz_parse (one frame per file, preceded by the option byte 0):
# valid frames of every path through the parse graph, addressed to the test port p0
# (02:00:00:00:00:01, 10.0.0.1, fd00::1) from the peer (02:00:00:00:00:02, 10.0.0.2, fd00::2).
import os, struct

US, PEER, BC = bytes.fromhex('020000000001'), bytes.fromhex('020000000002'), b'\xff' * 6
IP_US, IP_PEER = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])

def csum(b):
    if len(b) % 2:
        b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff

def eth(dst, etype, payload):
    return dst + PEER + struct.pack('!H', etype) + payload

def ipv4(proto, l4, dst=IP_US):
    h = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(l4), 1, 0x4000, 64, proto, 0, IP_PEER, dst)
    h = h[:10] + struct.pack('!H', csum(h)) + h[12:]
    return h + l4

def udp(dport, payload, dst=IP_US):
    u = struct.pack('!HHHH', 40000, dport, 8 + len(payload), 0) + payload
    ph = IP_PEER + dst + struct.pack('!BBH', 0, 17, len(u))
    c = csum(ph + u) or 0xffff
    return ipv4(17, u[:6] + struct.pack('!H', c) + u[8:], dst)

def icmp(typ, payload):
    m = struct.pack('!BBHHH', typ, 0, 0, 0x4242, 1) + payload
    return ipv4(1, m[:2] + struct.pack('!H', csum(m)) + m[4:])

def arp(op, tip):
    a = struct.pack('!HHBBH6s4s6s4s', 1, 0x0800, 6, 4, op, PEER, IP_PEER, b'\0' * 6, tip)
    return a + b'\0' * 18

IP6_US, IP6_PEER = bytes([0xfd] + [0] * 14 + [1]), bytes([0xfd] + [0] * 14 + [2])
SNM_US = bytes([0xff, 2] + [0] * 9 + [1, 0xff, 0, 0, 1])

def ipv6(nh, l4, src=IP6_PEER, dst=IP6_US, hops=64):
    return struct.pack('!IHBB16s16s', 6 << 28, len(l4), nh, hops, src, dst) + l4

def icmp6(typ, body, src=IP6_PEER, dst=IP6_US, hops=64):
    m = struct.pack('!BBH', typ, 0, 0) + body
    ph = src + dst + struct.pack('!II', len(m), 58)
    return ipv6(58, m[:2] + struct.pack('!H', csum(ph + m)) + m[4:], src, dst, hops)

def udp6(dport, payload):
    u = struct.pack('!HHHH', 40000, dport, 8 + len(payload), 0) + payload
    ph = IP6_PEER + IP6_US + struct.pack('!II', len(u), 17)
    return ipv6(17, u[:6] + struct.pack('!H', csum(ph + u) or 0xffff) + u[8:])

frames = {
    'udp_5000': eth(US, 0x0800, udp(5000, b'hello snap')),
    'udp_5001': eth(US, 0x0800, udp(5001, b'x' * 100)),
    'udp_ring': eth(US, 0x0800, udp(6000, b'ring')),
    'udp_unmatched': eth(US, 0x0800, udp(7777, b'')),
    'udp_bcast': eth(BC, 0x0800, udp(5000, b'b', bytes([255] * 4))),
    'icmp_echo': eth(US, 0x0800, icmp(8, bytes(range(56)))),
    'icmp_other': eth(US, 0x0800, icmp(13, b'\0' * 12)),
    'arp_request': eth(BC, 0x0806, arp(1, IP_US)),
    'arp_reply': eth(US, 0x0806, arp(2, IP_US)),
    'tcp': eth(US, 0x0800, ipv4(6, b'\0' * 20)),
    'ipv6': eth(US, 0x86dd, b'\x60' + b'\0' * 39),
    'udp6_5000': eth(US, 0x86dd, udp6(5000, b'hello v6')),
    'icmp6_echo': eth(US, 0x86dd, icmp6(128, struct.pack('!HH', 0x4242, 1) + bytes(range(56)))),
    'ndp_ns': eth(bytes.fromhex('3333ff000001'), 0x86dd,
                  icmp6(135, b'\0' * 4 + IP6_US + bytes([1, 1]) + PEER, dst=SNM_US, hops=255)),
    'ndp_na': eth(US, 0x86dd, icmp6(136, b'\x60\0\0\0' + IP6_PEER + bytes([2, 1]) + PEER,
                                    hops=255)),
    'vlan': eth(US, 0x8100, b'\0\x05\x08\x00' + udp(5000, b'v')),
    'icmp_echo_segmented': eth(US, 0x0800, icmp(8, bytes(range(200)))),
}
d = os.path.dirname(os.path.abspath(__file__)) + '/parse'
os.makedirs(d, exist_ok=True)
for name, f in frames.items():
    opt = b'\x02' if name == 'icmp_echo_segmented' else b'\x00'  # 32-byte segments
    open(os.path.join(d, name), 'wb').write(opt + f)
