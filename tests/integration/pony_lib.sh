# Pony end-to-end helpers (sourced after lib.sh): configs for two daemons joined by memif,
# each with one Pony engine serving apps, and small readers of counters and /proc.
PONY_RPC=${PONY_RPC:?PONY_RPC must point at the pony_rpc test app}
SNAPCTL=${SNAPCTL:?SNAPCTL must point at snapctl}
PMA=02:00:00:00:0e:01 PMB=02:00:00:00:0e:02
PIPA=10.91.0.1 PIPB=10.91.0.2
# PONY_IP6=1 before pony_pair: the ports get these IPv6 addresses too, and the engines
# ipv6_in and icmp6 (NDP: no static IPv6 neighbours, Pony solicits them).
P6A=fd00:91::1 P6B=fd00:91::2

# PONY_MTU=N before pony_pair: both memif ports get that MTU (Pony's segment follows it);
# PONY_ZERO_COPY=1: the client's port (B's) runs memif zero-copy.
# pony_conf NAME ROLE MAC IP PEER_IP PEER_MAC [DAEMON_EXTRA] [PONY_ARGS] [INJECTOR_ARGS]
# INJECTOR_ARGS non-empty: an injector element sits between port_rx and eth_classify.
pony_conf() {
  local inj_el="" rx_link='"rx -> eth"' portx="mtu = ${PONY_MTU:-1500};"
  [ "$2" = client ] && [ "${PONY_ZERO_COPY:-0}" = 1 ] && portx="$portx zero_copy = true;"
  if [ -n "${9:-}" ]; then
    inj_el="{ name = \"inj\"; type = \"injector\"; $9 },"
    rx_link='"rx -> inj", "inj -> eth"'
  fi
  local ip6="" el6="" links6=""
  if [ -n "${PONY_IP6:-}" ]; then
    ip6="ip6 = \"$( [ "$4" = "$PIPA" ] && echo $P6A || echo $P6B )/64\";"
    el6='{ name = "ip6"; type = "ipv6_in"; port = "m0"; },
    { name = "icmp6"; type = "icmp6"; port = "m0"; },'
    links6=', "eth.ipv6 -> ip6", "ip6.udp -> udp", "ip6.icmp6 -> icmp6", "icmp6 -> tx"'
  fi
  cat <<CONF
daemon = { name = "p$1$$"; run_dir = "$T/run-$1"; memory_mb = 256; app_region_mb = 64; ${7:-} };
ports = ( { name = "m0"; type = "memif"; role = "$2"; socket = "$T/memif.sock"; mac = "$3";
            ip = "$4/24"; $portx $ip6 neighbours = ( { ip = "$5"; mac = "$6"; } ); } );
engines = ( {
  name = "pony0";
  elements = (
    { name = "rx"; type = "port_rx"; port = "m0"; },
    $inj_el
    { name = "eth"; type = "eth_classify"; port = "m0"; },
    { name = "arp"; type = "arp"; port = "m0"; },
    { name = "ip"; type = "ipv4_in"; port = "m0"; },
    { name = "udp"; type = "udp_demux"; dport_4793 = "p0"; },
    $el6
    { name = "pony"; type = "pony"; port = "m0"; ${8:-} },
    { name = "tx"; type = "port_tx"; port = "m0"; }
  );
  links = ( $rx_link, "eth.arp -> arp", "eth.ipv4 -> ip", "ip.udp -> udp",
            "udp.p0 -> pony", "pony.tx -> tx", "arp -> tx" $links6 );
} );
CONF
}

# pony_pair [DAEMON_EXTRA] [PONY_ARGS] [INJECTOR_ARGS]: write both configs, start A (memif
# server) first, so B's link comes up at once rather than at its next retry, then B, and
# wait for the link.
pony_pair() {
  pony_conf a server $PMA $PIPA $PIPB $PMB "${1:-}" "${2:-}" "${3:-}" >"$T/a.conf"
  pony_conf b client $PMB $PIPB $PIPA $PMA "${1:-}" "${2:-}" "${3:-}" >"$T/b.conf"
  start_daemon a "$T/a.conf"
  start_daemon b "$T/b.conf"
  SA="$SNAPCTL --socket $T/run-a/control.sock"
  SB="$SNAPCTL --socket $T/run-b/control.sock"
  for _ in $(seq 50); do
    $SB ports 2>/dev/null | grep -q " up/" && return 0
    sleep 0.1
  done
  fail "memif link did not come up"
}

# start_app NAME CMD...: background app, output in $T/NAME.log, pid in APP_NAME.
start_app() {
  local name=$1; shift
  "$@" >"$T/$name.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  eval "APP_$name=$pid"
}

# wait_log FILE PATTERN SECS
wait_log() {
  for _ in $(seq $(($3 * 10))); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# live_stat SNAPCTL_CMD ENGINE ELEMENT COUNTER: a counter from `snapctl stats` now.
live_stat() {
  $1 stats "$2" 2>/dev/null | awk -v el="$3" -v c="$4" '$2==el && $3==c {v=$4} END {print v+0}'
}

# pony_os_errors_check SNAPCTL_CMD: the one-sided error cases pony_onesided_app's client
# provokes were each counted by the target's engine as often as provoked.
pony_os_errors_check() {
  local st v
  # range: once inside the read-write region, once one byte past the end of the payload area.
  for st in bad_key:1 no_region:1 range:2 perm:1 bad_desc:1 not_found:1 bad_table:1; do
    v=$(live_stat "$1" pony0 pony os_st_${st%:*})
    [ "$v" = "${st#*:}" ] || fail "os_st_${st%:*} is $v, want ${st#*:}"
  done
}

# cpu_ticks PID: utime+stime of a process.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# pony_bridge_pair [RX_ELEMENT] [PONY_ARGS]: two daemons with af_packet ports in their own
# namespaces, joined through a bridge in a third (where kernel impairments, rate limits and
# outages are applied: a daemon's own packet socket sees frames before its tc ingress).
# A is 10.94.0.1 (namespace $NA), B 10.94.0.2 ($NB); bridge ports $KB1 (toward A) and $KB2
# (toward B) in $BR. RX_ELEMENT (an element block ending in ",", named "inj") goes between
# port_rx and eth_classify. A's config takes more ports, elements and links from
# PONY_BRIDGE_A_PORTS, PONY_BRIDGE_A_ELEMENTS (each entry ending in ",") and
# PONY_BRIDGE_A_LINKS (each starting with ","). PONY_BRIDGE_MTU: the link's MTU (the bridge's
# veths are set to it here, the daemons set their own through the port's mtu);
# PONY_BRIDGE_LINK_MTU: a link of that MTU in the middle (a second bridge for B's side,
# joined to the first by a veth pair of that MTU): a smaller one than PONY_BRIDGE_MTU is a
# path MTU black hole between jumbo ports, one hop away from both (the bridge drops what
# its link cannot take; a daemon's own veth peer refusing a frame would stall the packet
# socket's transmit ring instead, see snapnetd.conf(5) af_packet mtu). PONY_BRIDGE_OWN_MAC=1:
# each port gets a MAC of its own (02:00:00:94:00:0N), the interface keeps its;
# PONY_BRIDGE_TX_DIRECT=1 / 0: the ports send from their mbufs (tx_direct, the default when
# unset) / through the PMD's transmit ring; PONY_BRIDGE_DAEMON:
# more keys for both daemon blocks. Needs root.
pony_bridge_pair() {
  BR=kbr$$ NA=kna$$ NB=knb$$ KB1=kb1$$ KB2=kb2$$
  local n i=0 rx_link='"rx -> eth"'
  [ -n "${1:-}" ] && rx_link='"rx -> inj", "inj -> eth"'
  for n in $BR $NA $NB; do netns $n; done
  local brb=br0
  ip -n $BR link add br0 type bridge
  ip -n $BR link set br0 up
  if [ -n "${PONY_BRIDGE_LINK_MTU:-}" ]; then
    brb=br1
    ip -n $BR link add br1 type bridge
    ip -n $BR link add mid0 mtu "$PONY_BRIDGE_LINK_MTU" type veth peer name mid1 \
      mtu "$PONY_BRIDGE_LINK_MTU"
    ip -n $BR link set mid0 master br0
    ip -n $BR link set mid1 master br1
    for n in br1 mid0 mid1; do ip -n $BR link set $n up; done
  fi
  for n in $NA $NB; do
    i=$((i + 1))
    ip link add k$i$$ type veth peer name kb$i$$
    ip link set k$i$$ netns $n
    ip link set kb$i$$ netns $BR
    ip -n $BR link set kb$i$$ master $([ $i -eq 1 ] && echo br0 || echo $brb)
    [ -z "${PONY_BRIDGE_MTU:-}" ] || ip -n $BR link set kb$i$$ mtu "$PONY_BRIDGE_MTU"
    ip -n $BR link set kb$i$$ up
    ip -n $n link set k$i$$ up
  done
  for n in a b; do
    local ip=10.94.0.1 dev=k1$$ xp=${PONY_BRIDGE_A_PORTS:-} xe=${PONY_BRIDGE_A_ELEMENTS:-}
    local xl=${PONY_BRIDGE_A_LINKS:-}
    [ $n = b ] && ip=10.94.0.2 dev=k2$$ xp="" xe="" xl=""
    local mac=""
    [ "${PONY_BRIDGE_OWN_MAC:-0}" = 1 ] && mac="mac = \"02:00:00:94:00:0${ip##*.}\";"
    local txd=""
    case "${PONY_BRIDGE_TX_DIRECT:-}" in
      1) txd="tx_direct = true;" ;;
      0) txd="tx_direct = false;" ;;
    esac
    cat >"$T/$n.conf" <<CONF
daemon = { name = "k$n$$"; run_dir = "$T/run-$n"; memory_mb = 256; app_region_mb = 32; ${PONY_BRIDGE_DAEMON:-} };
ports = ( { name = "p0"; type = "af_packet"; iface = "$dev"; ip = "$ip/24"; $mac ${PONY_BRIDGE_MTU:+mtu = $PONY_BRIDGE_MTU;} $txd } $xp );
groups = ( { name = "g"; mode = "${PONY_BRIDGE_MODE:-dedicated}"; } );
engines = ( {
  name = "pony0";
  group = "g";
  elements = (
    { name = "rx"; type = "port_rx"; port = "p0"; },
    ${1:-}
    $xe
    { name = "eth"; type = "eth_classify"; port = "p0"; },
    { name = "arp"; type = "arp"; port = "p0"; },
    { name = "ip"; type = "ipv4_in"; port = "p0"; },
    { name = "udp"; type = "udp_demux"; dport_4793 = "p0"; },
    { name = "pony"; type = "pony"; port = "p0"; ${2:-} },
    { name = "tx"; type = "port_tx"; port = "p0"; }
  );
  links = ( $rx_link, "eth.arp -> arp", "eth.ipv4 -> ip", "ip.udp -> udp",
            "udp.p0 -> pony", "pony.tx -> tx", "arp -> tx" $xl );
} );
CONF
  done
  start_daemon a "$T/a.conf" ip netns exec $NA
  start_daemon b "$T/b.conf" ip netns exec $NB
  SA="$SNAPCTL --socket $T/run-a/control.sock"
  SB="$SNAPCTL --socket $T/run-b/control.sock"
}

# pony_mq_engines PORT NQ [ENGINE_EXTRA] [UDP_EXTRA] [PONY_EXTRA] [RING_PREFIX]: the engines
# list body of a daemon with one Pony engine per queue of PORT: engine pony$k owns rx and tx
# queue k; only pony0 runs arp (the neighbour table has one writer; the others drop ARP, so
# tests use static neighbours). ENGINE_EXTRA goes in each engine block (e.g. a group),
# UDP_EXTRA in udp_demux, PONY_EXTRA in pony; RING_PREFIX adds a ring_rx of ring
# RING_PREFIX$k feeding pony$k's pony element (steered flows handed over by other engines).
pony_mq_engines() {
  local port=$1 nq=$2 k arp_el arp_link ring_el ring_link sep=""
  for k in $(seq 0 $((nq - 1))); do
    arp_el="" arp_link="" ring_el="" ring_link=""
    if [ "$k" -eq 0 ]; then
      arp_el="{ name = \"arp\"; type = \"arp\"; port = \"$port\"; },"
      arp_link='"eth.arp -> arp", "arp -> tx",'
    fi
    if [ -n "${6:-}" ]; then
      ring_el="{ name = \"handed\"; type = \"ring_rx\"; ring = \"$6$k\"; },"
      ring_link='"handed -> pony",'
    fi
    cat <<CONF
  $sep{
    name = "pony$k";
    ${3:-}
    elements = (
      { name = "rx"; type = "port_rx"; port = "$port"; queue = $k; },
      { name = "eth"; type = "eth_classify"; port = "$port"; },
      $arp_el
      { name = "ip"; type = "ipv4_in"; port = "$port"; },
      { name = "udp"; type = "udp_demux"; dport_4793 = "p0"; ${4:-} },
      $ring_el
      { name = "pony"; type = "pony"; port = "$port"; ${5:-} },
      { name = "tx"; type = "port_tx"; port = "$port"; queue = $k; }
    );
    links = ( "rx -> eth", $arp_link $ring_link "eth.ipv4 -> ip", "ip.udp -> udp",
              "udp.p0 -> pony", "pony.tx -> tx" );
  }
CONF
    sep=","
  done
}
