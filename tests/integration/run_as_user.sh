#!/usr/bin/env bash
# daemon.user/group (issue 19): started as root, snapnetd becomes the service user once its
# ports and sockets are up, keeping only the capabilities its ports need (an af_packet port:
# CAP_NET_RAW). The run dir is handed to that user, so root's snapctl accepts the daemon's
# sockets (peer uid = the run dir's owner), and the daemon still removes its files at exit.
. "$(dirname "$0")/lib.sh"
need_root
SNAPCTL=${SNAPCTL:?SNAPCTL must point at the snapctl binary}
NS=ru$$
netns $NS
ip -n $NS link add va$$ type veth peer name vb$$
ip -n $NS link set va$$ up
ip -n $NS link set vb$$ up
cat >"$T/d.conf" <<CONF
daemon = { name = "ru$$"; run_dir = "$T/run"; memory_mb = 128; user = "nobody";
           group = "nogroup"; };
ports = ( { name = "p0"; type = "af_packet"; iface = "va$$"; ip = "10.79.0.1/24"; } );
engines = ( { name = "host";
  elements = ( { name = "rx"; type = "port_rx"; port = "p0"; },
               { name = "eth"; type = "eth_classify"; port = "p0"; },
               { name = "arp"; type = "arp"; port = "p0"; },
               { name = "ip"; type = "ipv4_in"; port = "p0"; },
               { name = "echo"; type = "icmp_echo"; },
               { name = "tx"; type = "port_tx"; port = "p0"; } );
  links = ( "rx -> eth", "eth.arp -> arp", "eth.ipv4 -> ip", "ip.icmp -> echo", "arp -> tx",
            "echo -> tx" ); } );
CONF
start_daemon d "$T/d.conf" ip netns exec $NS
pid=$PID_d
uid=$(awk '/^Uid:/ {print $2, $3, $4, $5}' /proc/$pid/status)
gid=$(awk '/^Gid:/ {print $2}' /proc/$pid/status)
capeff=$(awk '/^CapEff:/ {print $2}' /proc/$pid/status)
capbnd=$(awk '/^CapBnd:/ {print $2}' /proc/$pid/status)
echo "daemon uids: $uid gid $gid CapEff $capeff CapBnd $capbnd"
[ "$uid" = "65534 65534 65534 65534" ] || fail "daemon runs as uids $uid, not nobody"
[ "$gid" = "$(getent group nogroup | cut -d: -f3)" ] || fail "daemon gid $gid, not nogroup"
# CAP_NET_RAW (bit 13) kept for the af_packet port; CAP_SYS_NICE (bit 23) may stay, for
# real-time groups (core/privs.c); nothing else.
eff=$((16#$capeff))
[ $((eff & (1 << 13))) -ne 0 ] || fail "effective capabilities $capeff lack net_raw"
[ $((eff & ~((1 << 13) | (1 << 23)))) -eq 0 ] || fail "effective capabilities $capeff: more than net_raw and sys_nice"
[ "$(stat -c %u "$T/run")" = 65534 ] || fail "run dir not handed to nobody"
"$SNAPCTL" --socket "$T/run/control.sock" status >"$T/st.out" 2>&1 ||
  { cat "$T/st.out"; fail "root's snapctl refused the daemon running as nobody"; }
grep -q "engines  1" "$T/st.out" || fail "status: $(cat "$T/st.out")"
ip netns exec $NS ip addr add 10.79.0.2/24 dev vb$$
ip netns exec $NS ping -c 3 -i 0.2 -W 2 -I vb$$ 10.79.0.1 >"$T/ping.log" 2>&1 ||
  fail "no ping replies from the daemon running as nobody"
stop_daemon d
[ ! -e "$T/run/control.sock" ] || fail "control socket left behind"
grep -q "running as user nobody" "$T/d.log" || fail "no log line for the switch"
echo PASS
