#!/usr/bin/env bash
# Port kind tap, a config change from ping_veth.sh: the daemon, run inside a test-made
# namespace, creates a tap device there; the test gives the tap's kernel side its own MAC and
# an address, and the kernel pings and arpings the daemon's IP through it. Needs root
# (namespace; the daemon needs CAP_NET_ADMIN only to create the device).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/host_conf.sh"
need_root
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tools/topo/netns.sh"
topo_init tap$$
topo_ns d
NS=$(topo_nsname d)
MAC=02:00:00:00:0c:01
host_conf tap "type = \"tap\"; iface = \"snaptap0\"; mac = \"$MAC\"; ip = \"10.56.0.1/24\";" >"$T/tap.conf"
start_daemon tap "$T/tap.conf" ip netns exec "$NS"
port_line "$T/tap.log"
port_line "$T/tap.log" | grep -qi "tap dpdk port .* mac $MAC" || fail "no tap port line with mac $MAC"
grep -q "capabilities after start-up: \(none\|sys_nice\)$" "$T/tap.log" || fail "capabilities kept after creating the tap"
# The tap PMD gives the kernel interface the daemon's MAC; the kernel side is another host here.
ip -n "$NS" link set snaptap0 address 02:00:00:00:0c:02
ip -n "$NS" addr add 10.56.0.2/24 dev snaptap0
ip -n "$NS" link set snaptap0 up
check_kernel_peer "$NS" snaptap0 10.56.0.1 "$MAC"
stop_daemon tap || fail "daemon did not exit cleanly"
check_host_counters "$T/tap.log" 5
ip -n "$NS" link show snaptap0 >/dev/null 2>&1 && fail "tap device left behind after daemon exit"
echo PASS
