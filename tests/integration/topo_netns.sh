#!/usr/bin/env bash
# tools/topo/netns.sh through its CLI: a three-namespace chain comes up with addresses only
# inside its namespaces, an htb rate limit holds a TCP transfer to the configured rate, a link
# outage stops traffic and recovery restores it, a failing "up" leaves nothing behind, and
# "down" removes everything (twice: idempotent). Needs root.
. "$(dirname "$0")/lib.sh"
need_root
command -v python3 >/dev/null || skip "python3 missing"
top=$(cd "$(dirname "$0")/../.." && pwd)
TOPO=$top/tools/topo/netns.sh
export TOPO_STATE_DIR=$T/topo
tag=tt$$
CLEANUPS+=("$TOPO down $tag")
before=$(ip -o addr show | wc -l)
"$TOPO" up $tag --ns a --ns b --ns c \
  --link a:ve0:10.91.0.1/24=b:ve0:10.91.0.2/24 --link b:ve1:10.91.1.1/24=c:ve0:10.91.1.2/24@1400 \
  --rate a:ve0:8mbit:htb >"$T/up.txt"
cat "$T/up.txt"
[ "$(grep -c '^ns ' "$T/up.txt")" -eq 3 ] && [ "$(grep -c '^mac ' "$T/up.txt")" -eq 4 ] || fail "up output"
[ "$(ip -o addr show | wc -l)" -eq "$before" ] || fail "addresses appeared outside the test namespaces"
"$TOPO" exec $tag c ip -o link show ve0 | grep -q "mtu 1400" || fail "mtu not applied"
"$TOPO" exec $tag b ping -c 2 -i 0.2 -W 2 10.91.1.2 >/dev/null || fail "b cannot reach c"

# 1 MB over TCP from a to b through 8 Mbit/s takes about 1 s; unlimited it takes milliseconds.
xfer() { # seconds to move 1 MB from a to b
  "$TOPO" exec $tag b python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.91.0.2", 5599)); s.listen(1); open(sys.argv[1], "w").close()
c, _ = s.accept(); n = 0
while True:
    d = c.recv(65536)
    if not d: break
    n += len(d)
print(n)' "$T/listening" >"$T/recv.txt" &
  local pid=$!
  for _ in $(seq 50); do [ -f "$T/listening" ] && break; sleep 0.1; done
  rm -f "$T/listening"
  "$TOPO" exec $tag a python3 -c '
import socket, time
s = socket.create_connection(("10.91.0.2", 5599)); t = time.monotonic()
s.sendall(b"x" * (1 << 20)); s.shutdown(socket.SHUT_WR); s.recv(1); print("%.3f" % (time.monotonic() - t))'
  wait $pid
  [ "$(cat "$T/recv.txt")" -eq $((1 << 20)) ] || fail "transfer incomplete"
}
limited=$(xfer)
"$TOPO" rate $tag a ve0 none
free=$(xfer)
echo "1 MB through htb 8mbit: ${limited} s; unlimited: ${free} s"
awk -v t="$limited" 'BEGIN { exit !(t >= 0.8 && t <= 2.0) }' || fail "htb 8mbit transfer took $limited s (want ~1 s)"
awk -v t="$free" 'BEGIN { exit !(t < 0.5) }' || fail "unlimited transfer took $free s"
"$TOPO" rate $tag a ve0 8mbit tbf
"$TOPO" exec $tag a tc qdisc show dev ve0 | grep -q tbf || fail "tbf not installed"

"$TOPO" link-down $tag b ve0
"$TOPO" exec $tag a ping -c 2 -i 0.2 -W 1 10.91.0.2 >/dev/null 2>&1 && fail "traffic passed a downed link"
"$TOPO" link-up $tag b ve0
ok=0
for _ in $(seq 10); do "$TOPO" exec $tag a ping -c 1 -W 1 10.91.0.2 >/dev/null 2>&1 && { ok=1; break; }; done
[ $ok -eq 1 ] || fail "link did not recover"

# A failing "up" (link to a namespace it did not create) removes what it made.
"$TOPO" up bad$$ --ns x --link x:ve0=elsewhere:ve0 2>/dev/null && fail "bad topology accepted"
ip netns list | grep -q "bad$$-" && fail "failed up left namespaces behind"
"$TOPO" up $tag --ns a 2>/dev/null && fail "second up of a live tag accepted"

"$TOPO" down $tag
"$TOPO" down $tag
ip netns list | grep -q "$tag-" && fail "namespaces left after down"
[ ! -e "$TOPO_STATE_DIR/$tag" ] || fail "state file left after down"
echo PASS
