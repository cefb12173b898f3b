#!/usr/bin/env python3
"""The squatter of the security tests: listen on a Unix socket path (stream or seqpacket),
accept clients and append every byte they send to LOG, for at most 60 s.
usage: squat.py stream|seqpacket PATH LOG"""
import os
import select
import socket
import sys
import time

kind = socket.SOCK_STREAM if sys.argv[1] == "stream" else socket.SOCK_SEQPACKET
path, log = sys.argv[2], sys.argv[3]
s = socket.socket(socket.AF_UNIX, kind)
s.bind(path)
os.chmod(path, 0o777)
s.listen(8)
open(log, "wb").close()
print("listening", flush=True)
conns = []
end = time.monotonic() + 60
while time.monotonic() < end:
    r, _, _ = select.select([s] + conns, [], [], 0.2)
    for x in r:
        if x is s:
            conns.append(s.accept()[0])
            print("accepted", flush=True)
            continue
        data = x.recv(65536)
        if not data:
            conns.remove(x)
            x.close()
            continue
        with open(log, "ab") as f:
            f.write(data)
