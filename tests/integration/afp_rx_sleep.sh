#!/usr/bin/env bash
# af_packet rx "interrupts" (core/portafpfd.c): the engine of a spreading group that owns a
# one-queue af_packet port with rx_interrupts sleeps on the queue's packet socket instead of
# polling it with back-off, and each frame wakes it. The kernel in the other namespace pings
# the daemon; every ping must be answered, the group's thread must have slept (sleeps > 0)
# and never backed off (backoffs = 0: one source it cannot sleep on and the thread backs
# off), and port_rx must have armed. Then the interface goes down and up: the socket's
# ENETDOWN wakes the engine once, is read (counted in link_wakes), and pings are answered
# again. Needs root (namespaces).
. "$(dirname "$0")/lib.sh"
need_root
. "$(dirname "$0")/host_conf.sh"
NA=afs$$ NB=afsb$$
veth_ns $NA $NB sa$$ sb$$ 10.79.0.2/24
host_conf afs 'type = "af_packet"; iface = "sa'$$'"; ip = "10.79.0.1/24"; rx_interrupts = true;' \
  >"$T/a.conf"
# The engine goes into a spreading group (sleeps when idle): host_conf's engine has none.
sed -i 's/^  name = "host";/  name = "host"; group = "g";/' "$T/a.conf"
sed -i 's/^engines = (/groups = ( { name = "g"; mode = "spreading"; } );\nengines = (/' "$T/a.conf"
start_daemon a "$T/a.conf" ip netns exec $NA
S="$SNAPCTL --socket $T/run-afs/control.sock"
grep -q "no socket to sleep on" "$T/a.log" && fail "port_rx found no socket: $(grep 'no socket' "$T/a.log")"

ip netns exec $NB ping -c 40 -i 0.02 -W 2 10.79.0.1 >"$T/ping.log" || fail "ping got no replies"
grep -q " 0% packet loss" "$T/ping.log" || fail "ping lost packets: $(tail -2 "$T/ping.log")"
# Down and up: the socket reports ENETDOWN; the engine must not spin on it afterwards.
ip -n $NA link set sa$$ down
ip -n $NA link set sa$$ up
for _ in $(seq 50); do ip -n $NA link show sa$$ | grep -q "LOWER_UP" && break; sleep 0.1; done
ip netns exec $NB ping -c 20 -i 0.02 -W 2 10.79.0.1 >"$T/ping2.log" ||
  fail "no replies after the interface went down and up"
$S --json groups >"$T/groups.json" || fail "snapctl --json groups failed"
python3 - "$T/groups.json" <<'PY' || fail "the group did not sleep on the socket"
import json, re, sys
g = {g["name"]: g for g in json.load(open(sys.argv[1]))["groups"]}["g"]
line = g["thread_lines"][0]
print(line)
c = {k: int(re.search(k + r" (\d+)", line).group(1)) for k in ("sleeps", "wakeups", "backoffs")}
assert c["sleeps"] > 0 and c["wakeups"] > 0, c
assert c["backoffs"] == 0, c
PY
stop_daemon a || fail "daemon did not exit cleanly"
arms=$(counter "$T/a.log" host rx intr_arms)
errs=$(counter "$T/a.log" host rx link_wakes)
echo_out=$(counter "$T/a.log" host echo to_out)
echo "port_rx armed $arms times, socket errors read $errs; echo replies $echo_out"
[ "$arms" -gt 0 ] || fail "port_rx never armed"
[ "$echo_out" -ge 60 ] || fail "expected >= 60 echo replies, got $echo_out"
echo PASS
