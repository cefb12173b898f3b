#!/usr/bin/env bash
# Issue 17, multi-queue ports and several Pony engines per daemon: two daemons joined by one
# 4-queue memif port (or vhost-user <-> virtio-user with MQ_KIND=vhost), each with 4 Pony
# engines sharing the port's IP and UDP port; engine k owns rx and tx queue k (memif: our tx
# queue k is the peer's rx queue k, so the sending engine picks the queue;
# docs/ARCHITECTURE.md, "Queues and flow steering"). 8 client apps on B, attached with
# engine "*" (B spreads them, two per engine), open 64 streams to A's 4 echo servers (one
# per engine). Checks: the 64 streams land evenly on A's engines (none more than 2x
# another), every RPC comes back intact, each engine's transport has exactly its own flow
# and streams, each rx queue's packets went to its own engine only (no Pony drops anywhere),
# engines moved between groups mid-run lose nothing, `snapctl ports` names each queue's
# owner and the port's capabilities. Bounded: each client issues RPCs for 4 s and gives up
# after 120 s.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pony_lib.sh"
# MQ_KIND=vhost: the same over vhost-user (A, the server) <-> virtio-user (B): virtio's tx
# queue k is the vhost port's rx queue k and back.
NQ=4
SECS=${PONY_MQ_SECS:-4}
KIND=${MQ_KIND:-memif}

# mq_conf NAME ROLE MAC IP PEER_IP PEER_MAC
mq_conf() {
  local type=memif intr=""
  # vhost/virtio-user also with rx interrupts: one eventfd per queue, each engine sleeps on
  # its own.
  if [ "$KIND" = vhost ]; then
    type=vhost intr="rx_interrupts = true;"
    [ "$2" = client ] && type=virtio_user
  fi
  cat <<CONF
daemon = { name = "mq$1$$"; run_dir = "$T/run-$1"; memory_mb = 512; app_region_mb = 16; };
ports = ( { name = "m0"; type = "$type"; role = "$2"; socket = "$T/port.sock"; mac = "$3";
            ip = "$4/24"; queues = $NQ; $intr neighbours = ( { ip = "$5"; mac = "$6"; } ); } );
groups = ( { name = "g1"; mode = "spreading"; }, { name = "g2"; mode = "spreading"; } );
engines = (
CONF
  pony_mq_engines m0 $NQ 'group = "g1";'
  echo ");"
}

mq_conf a server $PMA $PIPA $PIPB $PMB >"$T/a.conf"
mq_conf b client $PMB $PIPB $PIPA $PMA >"$T/b.conf"
start_daemon a "$T/a.conf"
start_daemon b "$T/b.conf"
SA="$SNAPCTL --socket $T/run-a/control.sock"
SB="$SNAPCTL --socket $T/run-b/control.sock"
up=0
for _ in $(seq 50); do
  $SB ports 2>/dev/null | grep -Eq " up(/[0-9]+M)? " && { up=1; break; }
  sleep 0.1
done
[ $up -eq 1 ] || fail "$KIND link did not come up"

# Ports: queue owners and capabilities, in text and JSON.
$SA ports | tee "$T/ports.txt"
grep -q "queues (rx/tx owner): 0:pony0/pony0 1:pony1/pony1 2:pony2/pony2 3:pony3/pony3" \
  "$T/ports.txt" || fail "snapctl ports does not show each queue's owner"
grep -q "max queues rx" "$T/ports.txt" || fail "snapctl ports shows no capabilities"
# The sender's tx queue is our rx queue: no rules, no mapper (docs/ARCHITECTURE.md).
grep -q "steering queue-pairing; rte_flow rules 0" "$T/ports.txt" ||
  fail "snapctl ports does not show queue-pairing steering"
$SA --json ports >"$T/ports.json" || fail "snapctl --json ports failed"
python3 - "$T/ports.json" $NQ <<'PY' || fail "ports JSON not as expected"
import json, sys
p = json.load(open(sys.argv[1]))["ports"][0]
nq = int(sys.argv[2])
assert p["n_rxq"] == nq and p["n_txq"] == nq, p
assert p["rxq_owner"] == ["pony%d" % k for k in range(nq)], p["rxq_owner"]
assert p["txq_owner"] == ["pony%d" % k for k in range(nq)], p["txq_owner"]
assert p["max_rx_queues"] >= nq and p["max_mtu"] >= p["min_mtu"] > 0, p
assert "rx_interrupts" in p, p
assert p["steering"] == "queue-pairing" and "steer_refused" not in p, p
print("ports JSON: %d queues, owners %s, max queues %d, mtu %d-%d, rss offered %s" %
      (nq, p["rxq_owner"], p["max_rx_queues"], p["min_mtu"], p["max_mtu"],
       p.get("rss_offered", [])))
PY

for k in $(seq 0 $((NQ - 1))); do
  start_app srv$k "$PONY_RPC" server -s "$T/run-a/app.sock" -e pony$k -m 8192 -w 8
done
for k in $(seq 0 $((NQ - 1))); do
  wait_log "$T/srv$k.log" "listening" 10 || fail "server app $k did not start"
done
for j in $(seq 0 $((2 * NQ - 1))); do
  # "*": B's attach layer puts each app on its least loaded engine (2 per engine).
  start_app cli$j "$PONY_RPC" client -s "$T/run-b/app.sock" -e '*' -i $PIPA \
    -n 1000000 -d "$SECS" -m 8192 -S 8 -w 4 -x $((j + 1)) -I 20 -T 120
done
# Engine moves mid-run on A: engines 1 and 2 go back and forth between groups g1 and g2
# while every client issues RPCs (they stop issuing after $SECS s).
sleep 0.5
moves=0
for _ in 1 2 3; do
  for g in g2 g1; do
    for e in pony1 pony2; do
      $SA engine move $e --group $g >/dev/null || fail "engine move of $e to $g failed"
      moves=$((moves + 1))
    done
    sleep 0.2
  done
done
echo "$moves engine moves on A while the RPCs ran"
# Flows and streams while every client is connected: each holds its 8 streams open after
# its last RPC was echoed (-I: idle in pony_wait, up to 20 s; SIGUSR1 below ends it).
for j in $(seq 0 $((2 * NQ - 1))); do
  wait_log "$T/cli$j.log" "all echoed intact" 120 || fail "client $j did not finish its RPCs"
done
$SB --json apps >"$T/apps_b.json" || fail "snapctl --json apps failed"
python3 - "$T/apps_b.json" $NQ <<'PY' || fail "B did not spread its apps over its engines"
import json, sys
ap = json.load(open(sys.argv[1])).get("apps", [])
per = {}
for a in ap:
    per[a["engine"]] = per.get(a["engine"], 0) + 1
assert len(ap) == 2 * int(sys.argv[2]) and set(per.values()) == {2}, per
print("B's apps per engine:", per)
PY
$SA flows | tee "$T/flows.txt"
$SA --json flows >"$T/flows.json" || fail "snapctl --json flows failed"
python3 - "$T/flows.json" $NQ $PIPB <<'PY' || fail "streams not spread over A's engines as expected"
import json, sys
fl = json.load(open(sys.argv[1])).get("flows", [])
nq, peer = int(sys.argv[2]), sys.argv[3]
per = {}
for f in fl:
    c = {x["name"]: int(x["value"]) for x in f.get("counters", [])}
    assert f["peer"].startswith(peer + ":"), f
    # One flow per engine: to the peer's engine of the same queue index.
    assert f["engine"] not in per, ("two flows on one engine", fl)
    per[f["engine"]] = c.get("streams", 0)
assert sorted(per) == ["pony%d" % k for k in range(nq)], per
lo, hi = min(per.values()), max(per.values())
assert sum(per.values()) == 64 and lo > 0 and hi <= 2 * lo, per
print("open streams per engine on A:", per)
PY
for j in $(seq 0 $((2 * NQ - 1))); do
  eval "kill -USR1 \$APP_cli$j"
done

for j in $(seq 0 $((2 * NQ - 1))); do
  eval "pid=\$APP_cli$j"
  wait "$pid" || fail "client $j failed (rc $?)"
  grep -q "all echoed intact" "$T/cli$j.log" || fail "client $j: not every RPC came back intact"
done
echo "all $((2 * NQ)) clients: $SECS s of RPCs each on 8 streams, every reply intact"

# Per-engine counters: each of A's engines created exactly one flow and received exactly
# the messages its own server app echoed (so no other engine's traffic reached it, and none
# of its traffic went elsewhere); no packet reached a transport without its flow.
for k in $(seq 0 $((NQ - 1))); do
  for _ in $(seq 100); do
    [ "$(grep -c closed "$T/srv$k.log" || true)" -ge 16 ] && break
    sleep 0.1
  done
done
stop_daemon b
stop_daemon a
if [ "$KIND" = vhost ]; then
  for k in $(seq 0 $((NQ - 1))); do
    arms=$(counter "$T/a.log" pony$k rx intr_arms)
    echo "a pony$k: rx interrupt arms $arms"
    [ "$arms" -gt 0 ] || fail "engine pony$k never slept on its queue's interrupt"
  done
fi
bad=0
for k in $(seq 0 $((NQ - 1))); do
  # The server prints its running total of echoed messages as each stream closes.
  echoed=$(awk '/closed/ && $(NF - 1) > n {n = $(NF - 1)} END {print n + 0}' "$T/srv$k.log")
  streams=$(grep -c "closed" "$T/srv$k.log" || true)
  rx=$(counter "$T/a.log" pony$k pony msgs_rx)
  fc=$(counter "$T/a.log" pony$k pony flows_created)
  nf=$(counter "$T/a.log" pony$k pony no_flow)
  np=$(counter "$T/a.log" pony$k pony rx_not_pony)
  echo "a pony$k: streams $streams, echoed $echoed, msgs_rx $rx, flows_created $fc," \
    "no_flow $nf, rx_not_pony $np"
  [ "$streams" -eq 16 ] && [ "$rx" -eq "$echoed" ] && [ "$rx" -gt 0 ] && [ "$fc" -eq 1 ] &&
    [ "$nf" -eq 0 ] && [ "$np" -eq 0 ] || bad=1
done
[ $bad -eq 0 ] || fail "an engine's counters are not exactly its own flow's"
echo PASS
