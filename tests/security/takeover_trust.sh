#!/usr/bin/env bash
# Issue 14 item 6: the takeover channel. The attacker is a same-uid process that wants the
# apps' memfds and doorbells, or to freeze the control thread, by posing as the new daemon.
#  1. no takeover path exists to connect to (the channel is a socketpair end inherited by the
#     spawned binary only); `snapnetd --takeover` started by hand finds no channel;
#  2. a spawned binary that never says hello does not block the control thread: snapctl
#     status answers at once while the upgrade waits, which then times out;
#  3. a hello frame announcing 1 GiB is refused at its header (nothing allocated);
#  4. a hello naming another pid is refused (only the spawned pid is trusted or killed).
# The daemon keeps serving (same pid) throughout.
. "$(dirname "$0")/../integration/lib.sh"
SNAPCTL=${SNAPCTL:?SNAPCTL must point at the snapctl binary}
cat >"$T/d.conf" <<CONF
daemon = { name = "tot$$"; run_dir = "$T/run"; memory_mb = 128; log_level = "notice";
           upgrade_dir = "$T/bin"; };
ports = ( { name = "p0"; type = "ring"; ip = "10.0.0.1/24"; } );
engines = ( { name = "e"; elements = ( { name = "c"; type = "counter"; } ); links = ( ); } );
CONF
ctl() { "$SNAPCTL" --socket "$T/run/control.sock" "$@"; }
dpid() { ctl --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])'; }
start_daemon d "$T/d.conf"
pid=$(dpid)

# 1. Nothing to connect to.
ls "$T/run" >"$T/ls.out"
grep -q takeover "$T/ls.out" && { cat "$T/ls.out"; fail "a takeover socket exists in the run dir"; }
python3 - "$T/run/takeover.sock" <<'PY' || fail "connected to a takeover path"
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(sys.argv[1])
except OSError:
    sys.exit(0)
sys.exit(1)
PY
rc=0
timeout 20 "$SNAPNETD" -c "$T/d.conf" --takeover >"$T/byhand.log" 2>&1 || rc=$?
[ "$rc" -ne 0 ] || fail "snapnetd --takeover by hand succeeded"
grep -q "no takeover channel" "$T/byhand.log" || { cat "$T/byhand.log"; fail "no reason given"; }
echo "by hand: refused ($(grep -o 'no takeover channel[^:]*' "$T/byhand.log" | head -1))"

# Fake new daemons: python scripts given the channel as SNAP_TAKEOVER_FD.
fake() { # fake NAME MODE
  cat >"$T/bin/$1" <<PY
#!/usr/bin/env python3
import os, struct, time
fd = int(os.environ["SNAP_TAKEOVER_FD"])
MAGIC = 0x534e5455
if "$2" == "big":
    os.write(fd, struct.pack("<IIII", MAGIC, 1, 1 << 30, 0))
elif "$2" == "pid":
    hello = struct.pack("<Ii48s", 1, 1, b"fake")
    os.write(fd, struct.pack("<IIII", MAGIC, 1, len(hello), 0) + hello)
time.sleep(60)
PY
  chmod 755 "$T/bin/$1"
}
# The impostors are "released" binaries: only upgrade_dir's files may run (root-owned, not
# group/world-writable).
mkdir -m 755 "$T/bin"
fake silent silent
fake big big
fake wrongpid pid

# 2. Silent child: the control thread answers meanwhile.
ctl upgrade --binary "$T/bin/silent" --timeout 6 --no-progress >"$T/up_silent.out" 2>&1 &
up=$!
sleep 1
t0=$(date +%s%N)
ctl status >/dev/null || fail "status failed during a silent takeover"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "status answered in $ms ms during a silent takeover"
[ "$ms" -lt 3000 ] || fail "status took $ms ms: the control thread is blocked"
rc=0; wait "$up" || rc=$?
[ "$rc" -ne 0 ] || fail "the silent upgrade succeeded"
grep -q "did not take over in time" "$T/up_silent.out" || { cat "$T/up_silent.out"; fail "no timeout reason"; }

# 3. Oversized hello.
rc=0
ctl upgrade --binary "$T/bin/big" --timeout 20 --no-progress >"$T/up_big.out" 2>&1 || rc=$?
cat "$T/up_big.out"
[ "$rc" -ne 0 ] || fail "oversized hello accepted"
grep -q "frame longer than a hello" "$T/up_big.out" || fail "oversized hello: no reason"

# 4. Hello naming another pid.
rc=0
ctl upgrade --binary "$T/bin/wrongpid" --timeout 20 --no-progress >"$T/up_pid.out" 2>&1 || rc=$?
cat "$T/up_pid.out"
[ "$rc" -ne 0 ] || fail "hello with a foreign pid accepted"
grep -q "not the spawned pid" "$T/up_pid.out" || fail "foreign pid: no reason"

[ "$(dpid)" = "$pid" ] || fail "another daemon answers the control socket"
ctl engines | grep -q running || fail "engine not running in the daemon"
stop_daemon d
echo "PASS: takeover channel refused every impostor; status answered in $ms ms"
