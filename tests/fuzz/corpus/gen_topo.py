#!/usr/bin/env python3
"""Seeds for fuzz_takeover_topo: T_TOPOLOGY payloads in the layout of core/takeover_int.h
(TO_TOPO_VERSION 1, host order: little-endian here). Writes into the directory given."""
import os
import struct
import sys


def cstr(s, n):
    b = s.encode()
    return b + b"\0" * (n - len(b))


def group(name, mode, cpus=(), kv=()):
    g = cstr(name, 32) + cstr(mode, 16) + struct.pack("<II", len(cpus), len(kv))
    g += struct.pack("<64i", *(list(cpus) + [0] * (64 - len(cpus))))
    for k, v in list(kv) + [("", "")] * (16 - len(kv)):
        g += cstr(k, 48) + cstr(v, 160)
    return g


def engine(name, grp, desc):
    d = desc.encode()
    return cstr(name, 32) + cstr(grp, 32) + struct.pack("<II", len(d), 0) + d


def topo(groups, engines, snap_level=7, dpdk_level=7):
    return struct.pack("<IiiIII", 1, snap_level, dpdk_level, len(groups), len(engines), 0) + \
        b"".join(groups) + b"".join(engines)


COUNTER = 'elements = (\n  { name = "c"; type = "counter"; }\n);\n'
PING = ('elements = (\n  { name = "rx"; type = "port_rx"; port = "p0"; },\n'
        '  { name = "cnt"; type = "counter"; note = "a \\"q\\" \\\\ \\x01"; },\n'
        '  { name = "tx"; type = "port_tx"; port = "p0"; }\n);\n'
        'links = (\n  "rx -> cnt",\n  "cnt.out -> tx"\n);\n')
SEEDS = {
    "empty": topo([], []),
    "one": topo([group("default", "spreading")], [engine("e1", "default", COUNTER)]),
    "groups": topo([group("rt", "compacting", kv=[("max_threads", "2"), ("window_ns", "50000000")]),
                    group("d", "dedicated", cpus=[0]), group("spare", "spreading")],
                   [engine("pony0", "rt", PING), engine("e2", "", COUNTER)], 6, 5),
}
out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "takeover_topo")
os.makedirs(out, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
