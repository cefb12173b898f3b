# The port-kind tests' daemon config (sourced): one port and the same minimal host graph as
# ping_veth.sh (answers ARP and ping), so the tests prove a port kind is a config change only.
# host_conf NAME PORT_SETTINGS [EXTRA_ELEMENTS] [EXTRA_LINKS] [ICMP_LINKS] [EXTRA_ENGINES]
#           [DAEMON_SETTINGS]
#   PORT_SETTINGS: the port group's body after name ("type = ...; ...;"); the port is "p0".
#   EXTRA_ELEMENTS/EXTRA_LINKS/EXTRA_ENGINES: appended to the lists (start with ", ").
#   ICMP_LINKS: the ICMP path, default "ip.icmp -> echo".
#   DAEMON_SETTINGS: default "memory_mb = 128;".
host_conf() {
  cat <<CONF
daemon = { name = "$1$$"; run_dir = "$T/run-$1"; ${7:-memory_mb = 128;} };
ports = ( { name = "p0"; $2 } );
engines = ( {
  name = "host";
  elements = (
    { name = "rx"; type = "port_rx"; port = "p0"; },
    { name = "eth"; type = "eth_classify"; port = "p0"; },
    { name = "arp"; type = "arp"; port = "p0"; },
    { name = "ip"; type = "ipv4_in"; port = "p0"; },
    { name = "echo"; type = "icmp_echo"; },
    { name = "tx"; type = "port_tx"; port = "p0"; }${3:-}
  );
  links = ( "rx -> eth", "eth.arp -> arp", "eth.ipv4 -> ip", "arp -> tx", "echo -> tx",
            "${5:-ip.icmp -> echo}"${4:-} );
}${6:-} );
CONF
}

# host6_conf NAME PORT_SETTINGS: host_conf plus IPv6 (the port settings need ip6): ipv6_in and
# icmp6 (echo, NDP) beside ARP and ICMP, engine "host".
host6_conf() {
  host_conf "$1" "$2" ',
    { name = "ip6"; type = "ipv6_in"; port = "p0"; },
    { name = "icmp6"; type = "icmp6"; port = "p0"; }' ', "eth.ipv6 -> ip6", "ip6.icmp6 -> icmp6",
            "icmp6 -> tx"'
}

# veth_ns NA NB IFA IFB IPB: namespaces NA and NB (deleted at exit) joined by a veth pair, IFA
# up without an address in NA (for the daemon), IFB up in NB with IPB (addr/prefix), the
# kernel peer. Sets VETH_MAC to IFA's MAC.
veth_ns() {
  netns "$1"
  netns "$2"
  ip link add "$3" type veth peer name "$4"
  ip link set "$3" netns "$1"
  ip link set "$4" netns "$2"
  ip -n "$1" link set "$3" up
  ip -n "$2" addr add "$5" dev "$4"
  ip -n "$2" link set "$4" up
  VETH_MAC=$(ip -n "$1" -o link show "$3" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
}

# veth6_ns NA NB IFA IFB IPB IP6B: veth_ns plus IPv6: IFB also gets IP6B (no DAD wait); IFA
# gets no IPv6 at all, so namespace A's kernel stays silent beside the daemon. Skips when
# the kernel has no IPv6.
veth6_ns() {
  veth_ns "$1" "$2" "$3" "$4" "$5"
  ip netns exec "$1" sysctl -qw "net.ipv6.conf.$3.disable_ipv6=1" || skip "no IPv6 in the kernel"
  ip -n "$2" addr add "$6" dev "$4" nodad || skip "no IPv6 in the kernel"
}

# port_line LOG: the daemon's "port p0: ..." start-up line.
port_line() { grep -m1 "port p0: " "$1" || true; }

# check_kernel_peer NS IFACE IP MAC: from namespace NS, 5 kernel pings to IP lose nothing and
# arping gets replies carrying MAC.
check_kernel_peer() {
  ip netns exec "$1" ping -c 5 -i 0.2 -W 2 "$3" >"$T/ping.log" 2>&1 || fail "ping got no replies: $(tail -2 "$T/ping.log")"
  grep -q " 0% packet loss" "$T/ping.log" || fail "ping lost packets: $(tail -2 "$T/ping.log")"
  ip netns exec "$1" arping -c 3 -w 5 -I "$2" "$3" >"$T/arping.log" 2>&1 || fail "arping got no replies"
  grep -qi "$4" "$T/arping.log" || fail "arping reply did not carry the daemon's MAC $4"
  tail -n 1 "$T/ping.log"
}

# check_host_counters LOG MIN_ECHO: the final counters show >= MIN_ECHO echo replies and ARP.
check_host_counters() {
  local echo_out arp_out
  echo_out=$(counter "$1" host echo to_out)
  arp_out=$(counter "$1" host arp to_out)
  echo "icmp replies: $echo_out, arp replies: $arp_out"
  [ "$echo_out" -ge "$2" ] || fail "expected >= $2 echo replies counted, got $echo_out"
  [ "$arp_out" -ge 1 ] || fail "expected arp replies counted"
}
