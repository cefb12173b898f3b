#!/usr/bin/env bash
# IPv6 underlay, over a veth pair in test-made namespaces: snapnetd owns one end through
# af_packet with an IPv6 address; the kernel in the other namespace resolves it with NDP
# (our advertisement carries the daemon's MAC) and `ping -6` gets every reply; snapctl ports
# shows the address. Needs root.
. "$(dirname "$0")/lib.sh"
need_root
. "$(dirname "$0")/host_conf.sh"
NA=snap6A$$ NB=snap6B$$
veth6_ns $NA $NB va$$ vb$$ 10.78.0.2/24 fd00:78::2/64
MAC=$VETH_MAC
host6_conf v6 "type = \"af_packet\"; iface = \"va$$\"; ip = \"10.78.0.1/24\";
  ip6 = \"fd00:78::1/64\";" >"$T/a.conf"
start_daemon a "$T/a.conf" ip netns exec $NA
grep -q "port p0: ip6 fd00:78::1/64" "$T/a.log" || fail "the port's IPv6 address is not logged"

ip netns exec $NB ping -6 -c 5 -i 0.2 -W 2 fd00:78::1 >"$T/ping.log" 2>&1 ||
  fail "ping -6 got no replies: $(tail -2 "$T/ping.log")"
grep -q " 0% packet loss" "$T/ping.log" || fail "ping -6 lost packets: $(tail -2 "$T/ping.log")"
ip -n $NB -6 neigh show fd00:78::1 dev vb$$ | tee "$T/neigh.log"
grep -qi "lladdr $MAC" "$T/neigh.log" || fail "the kernel did not learn the daemon's MAC $MAC by NDP"
# snapctl ports shows both addresses (human and --json).
S="$T/run-v6/control.sock"
"$SNAPCTL" --socket "$S" ports >"$T/ports.out" 2>&1 || fail "snapctl ports: $(cat "$T/ports.out")"
grep -q "10.78.0.1/24,fd00:78::1/64" "$T/ports.out" || fail "snapctl ports: no IPv6 address: $(cat "$T/ports.out")"
"$SNAPCTL" --socket "$S" --json ports >"$T/ports.json" 2>&1 || fail "snapctl ports --json"
python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))["ports"][0]; sys.exit(p.get("ip6") != "fd00:78::1/64")' \
  "$T/ports.json" || fail "snapctl ports --json: no ip6: $(cat "$T/ports.json")"
# IPv4 still answers beside it.
ip netns exec $NB ping -c 2 -i 0.2 -W 2 10.78.0.1 >/dev/null || fail "IPv4 ping broke"

stop_daemon a || fail "daemon did not exit cleanly"
echoes=$(counter "$T/a.log" host icmp6 echo_replies)
solicits=$(counter "$T/a.log" host icmp6 solicits)
echo "echo6 replies: $echoes, solicitations answered: $solicits"
[ "$echoes" -ge 5 ] || fail "expected >= 5 ICMPv6 echo replies counted, got $echoes"
[ "$solicits" -ge 1 ] || fail "expected a neighbour solicitation answered"
echo PASS
