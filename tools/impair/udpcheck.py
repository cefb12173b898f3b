#!/usr/bin/env python3
"""UDP probe for checking a link impairment: the sender numbers datagrams whose payload is the
sequence number repeated 8 times, so the receiver can tell every copy's number even when one
byte was flipped, and so classify each datagram as lost, duplicated or corrupted.

  udpcheck.py send DST PORT COUNT [--other N] [--end-port P]
      COUNT datagrams to PORT, then N (default 0) to PORT+1 (must be unaffected), then one
      END datagram to P (default PORT+2). Paced in bursts so the receiver never overflows.
  udpcheck.py recv PORT [--timeout S] [--ready FILE]
      Listens on PORT, PORT+1 and the END port (PORT+2); writes FILE once bound; prints one
      "key value" line per figure when END arrives or S seconds (default 60) pass.
"""
import argparse
import collections
import select
import socket
import struct
import sys
import time

COPIES = 8
BURST = 100          # datagrams per burst
BURST_GAP_S = 0.002  # pause between bursts


def payload(seq):
    return struct.pack("!Q", seq) * COPIES


def send(args):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    end_port = args.end_port or args.port + 2
    for base, port, count in ((0, args.port, args.count), (0, args.port + 1, args.other)):
        for i in range(count):
            s.sendto(payload(base + i), (args.dst, port))
            if i % BURST == BURST - 1:
                time.sleep(BURST_GAP_S)
    time.sleep(0.5)  # let the last bursts (and injected duplicates) drain first
    s.sendto(b"END", (args.dst, end_port))
    return 0


def classify(data):
    """Returns (seq, corrupt) for a probe payload, or (None, True) if unrecognisable."""
    if len(data) != 8 * COPIES:
        return None, True
    words = [data[i * 8:(i + 1) * 8] for i in range(COPIES)]
    word, votes = collections.Counter(words).most_common(1)[0]
    if votes < COPIES - 1:
        return None, True
    return struct.unpack("!Q", word)[0], votes != COPIES


def recv(args):
    socks = []
    for port in (args.port, args.port + 1, args.port + 2):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:  # root may exceed rmem_max; a big buffer rules out receiver-side loss
            s.setsockopt(socket.SOL_SOCKET, 33, 32 << 20)  # SO_RCVBUFFORCE
        except OSError:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        s.bind(("0.0.0.0", port))
        socks.append(s)
    if args.ready:
        open(args.ready, "w").close()
    copies = collections.Counter()
    corrupt = unknown = other = other_bad = 0
    ended = False
    deadline = time.monotonic() + args.timeout
    while not ended and time.monotonic() < deadline:
        ready, _, _ = select.select(socks, [], [], 0.2)
        for s in ready:
            data = s.recv(65536)
            if s is socks[2]:
                ended = True
                continue
            seq, bad = classify(data)
            if s is socks[1]:
                other += 1
                other_bad += bad
                continue
            if seq is None:
                unknown += 1
                continue
            copies[seq] += 1
            corrupt += bad
    expect = args.expect if args.expect is not None else max(copies, default=-1) + 1
    missing = sum(1 for i in range(expect) if copies[i] == 0)
    out = {
        "ended": int(ended),
        "datagrams": sum(copies.values()) + unknown,
        "distinct": len(copies),
        "missing": missing,
        "duplicates": sum(c - 1 for c in copies.values() if c > 1),
        "corrupt": corrupt + unknown,
        "unrecognised": unknown,
        "other": other,
        "other_corrupt": other_bad,
    }
    for k, v in out.items():
        print(k, v)
    sys.stdout.flush()
    return 0 if ended else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("send")
    p.add_argument("dst")
    p.add_argument("port", type=int)
    p.add_argument("count", type=int)
    p.add_argument("--other", type=int, default=0)
    p.add_argument("--end-port", type=int, default=0)
    p = sub.add_parser("recv")
    p.add_argument("port", type=int)
    p.add_argument("--timeout", type=float, default=60)
    p.add_argument("--expect", type=int, default=None, help="datagrams sent to PORT")
    p.add_argument("--ready")
    args = ap.parse_args()
    return send(args) if args.cmd == "send" else recv(args)


if __name__ == "__main__":
    sys.exit(main())
