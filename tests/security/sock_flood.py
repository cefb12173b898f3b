#!/usr/bin/env python3
"""Local socket attacker for the security suite (issue 14, items 4 and 7).

pipeline SOCK N BYTES: N connections to the control socket each write BYTES of
    pipelined `stats` requests and never read a reply. Prints "saturated SENT"
    once every connection has sent all its bytes or the daemon stopped reading it (no
    progress for 1 s), then holds the connections open until stdin closes (max 60 s).
idle KIND SOCK N: N idle connections (KIND stream: control socket; seqpacket: app
    socket) that never send a byte; prints "connected OK", then holds them until
    stdin closes (max 60 s). Connections the daemon closes are not reopened.
Every loop is bounded in count and time.
"""
import resource
import select
import socket
import sys
import time

HOLD_MAX_S = 60
CONNECT_MAX_S = 30


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def stats_frame(req_id):
    # control/ctl.proto Request: version=1 (uint32), id=2 (uint64), method=3 (string);
    # an empty StatsRequest needs no payload. Framed by a 4-byte big-endian length.
    method = b"stats"
    body = (b"\x08" + varint(1) + b"\x10" + varint(req_id) + b"\x1a" + varint(len(method))
            + method)
    return len(body).to_bytes(4, "big") + body


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n + 64
    if soft < want:
        if hard != resource.RLIM_INFINITY and hard < want:
            sys.exit("SKIP: RLIMIT_NOFILE hard limit %d < %d" % (hard, want))
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def hold():
    # Until the test closes our stdin (or the time bound).
    deadline = time.monotonic() + HOLD_MAX_S
    while time.monotonic() < deadline:
        r, _, _ = select.select([sys.stdin], [], [], 0.5)
        if r and not sys.stdin.buffer.read1(1):
            return


def report(text):
    # One line on stdout, which the test reads from the log (we run as another uid and
    # cannot write into the test's directory).
    print(text, flush=True)


def pipeline(path, n, nbytes):
    raise_nofile(n)
    frames = bytearray()
    i = 0
    while len(frames) < nbytes:
        frames += stats_frame(i)
        i += 1
    conns = []
    for _ in range(n):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        s.setblocking(False)
        conns.append([s, 0, time.monotonic()])
    total = 0
    deadline = time.monotonic() + CONNECT_MAX_S
    while time.monotonic() < deadline:
        busy = False
        for c in conns:
            s, off, last = c
            if off >= len(frames) or time.monotonic() - last > 1.0:
                continue
            busy = True
            try:
                k = s.send(frames[off:off + 65536])
            except BlockingIOError:
                k = 0
            except OSError:
                c[1] = len(frames)  # closed by the daemon: nothing more to send
                continue
            if k:
                c[1] += k
                c[2] = time.monotonic()
                total += k
        if not busy:
            break
        time.sleep(0.005)
    report("saturated %d" % total)
    hold()


def idle(kind, path, n):
    raise_nofile(n)
    typ = socket.SOCK_SEQPACKET if kind == "seqpacket" else socket.SOCK_STREAM
    conns = []
    ok = 0
    deadline = time.monotonic() + CONNECT_MAX_S
    while ok < n and time.monotonic() < deadline:
        s = socket.socket(socket.AF_UNIX, typ)
        s.setblocking(False)
        try:
            s.connect(path)
        except BlockingIOError:  # backlog full: the daemon has not accepted yet
            s.close()
            time.sleep(0.002)
            continue
        except OSError:
            s.close()
            time.sleep(0.002)
            continue
        conns.append(s)
        ok += 1
    report("connected %d" % ok)
    hold()


def main():
    a = sys.argv[1:]
    if len(a) == 4 and a[0] == "pipeline":
        pipeline(a[1], int(a[2]), int(a[3]))
    elif len(a) == 4 and a[0] == "idle":
        idle(a[1], a[2], int(a[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
