# Sourced by run.sh and callgrind.sh: the snapnetd config of one side of a Pony benchmark
# pair (run dirs under $DTMP, which the caller creates and removes).
# One port p0, one engine in a group on CPU (dedicated by default: a polling thread pinned
# there; spreading or compacting: threads that sleep when idle, kept on that CPU):
#   port_rx -> eth_classify -> arp | ipv4_in -> icmp_echo | udp_demux(4793) -> pony -> port_tx
# App limits sized for 1,000 streams per app with posted receives and sends in flight
# (tp_pony.c stays below app_max_ops and the engine's sendq_max). Timers run with the
# transport's defaults: they used to need rto_min 20 ms here (an engine preempted for
# milliseconds fired spurious RTOs) until spurious timeouts were detected and undone
# (Eifel); a default-timer memif run retransmits under 0.01% of data packets. The delay
# target is the path's, as Swift's is per fabric: 200 us for this VM, where an app shares
# its core with a polling engine and the engine's own scheduling delay counts as path delay
# (with the datacenter default of 25 us, conns1000-64 ran at a quarter of the rate).
# PONY_BENCH_TUNING replaces that setting (pony keys, e.g. "" for all defaults);
# PONY_BENCH_MTU (memif ports): the link MTU, e.g. 9000 for jumbo frames (Pony's segment
# follows it).
# pony_conf NAME CPU PORT-BLOCK [PONY-KEYS [MODE]]: a daemon config on stdout; PONY-KEYS are
# extra settings of the pony element (e.g. the authenticated variant's auth_key_file); the
# env var PONY_BENCH_KEYS adds more, for experiments (e.g. "ack_delay_us = 1;" to ack at
# once). MODE is the engine group's mode: dedicated (default), spreading or compacting; the
# env var PONY_BENCH_GROUP_KEYS adds group parameters (struct sched_params fields, e.g.
# "backoff_max_ns = 100000;").
pony_conf() {
  local name=$1 cpu=$2 extra="${4:-} ${PONY_BENCH_KEYS:-}" mode=${5:-dedicated}
  case $mode in
    dedicated|spreading|compacting) ;;
    *) echo "pony_conf: unknown group mode '$mode'" >&2; return 2 ;;
  esac
  cat <<CONF
daemon = { name = "$name"; run_dir = "$DTMP/$name"; memory_mb = 256; main_cpu = $cpu;
           app_region_mb = 128; app_max_streams = 2048; app_max_ops = 16384;
           log_level = "warning"; eal_args = [ "--log-level=lib.*:error" ]; };
ports = ( $3 );
groups = ( { name = "bench"; mode = "$mode"; cpus = [ $cpu ]; ${PONY_BENCH_GROUP_KEYS:-} } );
engines = ( {
  name = "pony"; group = "bench";
  elements = (
    { name = "rx"; type = "port_rx"; port = "p0"; },
    { name = "eth"; type = "eth_classify"; port = "p0"; },
    { name = "arp"; type = "arp"; port = "p0"; },
    { name = "ip"; type = "ipv4_in"; port = "p0"; },
    { name = "echo"; type = "icmp_echo"; },
    { name = "udp"; type = "udp_demux"; dport_4793 = "p0"; },
    { name = "pony"; type = "pony"; port = "p0"; max_streams = 4096; sendq_max = 128;
      ${PONY_BENCH_TUNING-target_delay_us = 200;} $extra },
    { name = "tx"; type = "port_tx"; port = "p0"; }
  );
  links = ( "rx -> eth", "eth.arp -> arp", "eth.ipv4 -> ip", "ip.icmp -> echo",
            "ip.udp -> udp", "udp.p0 -> pony", "arp -> tx", "echo -> tx", "pony.tx -> tx" );
} );
CONF
}


# pony_memif_port ROLE SOCKET MAC IP PEER-IP PEER-MAC: the port block of one memif end
# (static neighbour: the link has exactly one peer). PONY_BENCH_ZERO_COPY=1: the client end
# in memif zero-copy mode (its server, the other daemon here, reads and writes its mbufs).
# rx_interrupts: an engine in a spreading or compacting group sleeps on the peer's kicks
# (core/portkick.c); PONY_BENCH_MEMIF_KICKS=0 turns them off (back-off polling instead).
pony_memif_port() {
  local zc="" kicks="rx_interrupts = true; "
  [ "$1" = client ] && [ "${PONY_BENCH_ZERO_COPY:-0}" = 1 ] && zc="zero_copy = true; "
  [ "${PONY_BENCH_MEMIF_KICKS:-1}" = 0 ] && kicks=""
  echo "{ name = \"p0\"; type = \"memif\"; role = \"$1\"; socket = \"$2\"; mac = \"$3\"; ip = \"$4/24\"; neighbours = ( { ip = \"$5\"; mac = \"$6\"; } ); mtu = ${PONY_BENCH_MTU:-1500}; ${zc}${kicks}}"
}

# pony_auth_keyfile PATH: a fresh random Pony key file (key id 1, mode 0600) for the
# authenticated variant; prints the pony element setting that uses it.
pony_auth_keyfile() {
  (umask 077; echo "1 $(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')" >"$1")
  echo "auth_key_file = \"$1\";"
}
