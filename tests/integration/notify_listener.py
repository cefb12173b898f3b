#!/usr/bin/env python3
"""A service manager's notify socket for tests: binds a datagram socket at argv[1] and
appends every sd_notify assignment it receives to argv[2] as 'PID KEY=VALUE' (the sender's
pid from SO_PASSCRED), for at most argv[3] seconds (default 120)."""
import socket
import struct
import sys
import time

path, log_path = sys.argv[1], sys.argv[2]
limit = float(sys.argv[3]) if len(sys.argv) > 3 else 120.0
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(path)
s.settimeout(0.5)
end = time.time() + limit
with open(log_path, "a", buffering=1) as log:
    while time.time() < end:
        try:
            msg, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
        except socket.timeout:
            continue
        pid = 0
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", data[:12])[0]
        for line in msg.decode(errors="replace").split("\n"):
            if line:
                log.write(f"{pid} {line}\n")
