#!/usr/bin/env bash
# Port kind af_xdp, a config change from ping_veth.sh: snapnetd owns one end of a veth (in a
# test-made namespace) through AF_XDP; libxdp falls back to a single program since there is
# no bpffs. The kernel in the peer namespace pings and arpings the daemon and gets replies.
# Needs root (namespaces, XDP).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/host_conf.sh"
need_root
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tools/topo/netns.sh"
topo_init xdp$$
topo_ns d
topo_ns k
topo_link d vx0 - k vx1 10.77.1.2/24
MAC=$(topo_mac d vx0)
host_conf xdp 'type = "af_xdp"; iface = "vx0"; ip = "10.77.1.1/24";' >"$T/xdp.conf"
start_daemon xdp "$T/xdp.conf" ip netns exec "$(topo_nsname d)"
port_line "$T/xdp.log"
port_line "$T/xdp.log" | grep -q "af_xdp dpdk port" || fail "no af_xdp port line"
check_kernel_peer "$(topo_nsname k)" vx1 10.77.1.1 "$MAC"
stop_daemon xdp || fail "daemon did not exit cleanly"
check_host_counters "$T/xdp.log" 5
echo PASS
