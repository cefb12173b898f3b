#!/usr/bin/env bash
# A capture of an af_packet port's transmit side while the port sends directly (tx_direct,
# core/portafptx.c). Direct transmit bypasses rte_eth_tx_burst, whose callbacks are what a
# capture records, so a capture of the transmit side turns it off while it runs
# (control/capture.c): the capture must hold the port's own Pony frames, and once it ended
# the port must send directly again. Two daemons on veths through a bridge namespace, echo
# RPCs from B to A; A's port is captured, transmit side only. Needs root.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pony_lib.sh"
need_root
mkdir -m 755 "$T/cap" # captures go only into daemon.capture_dir
PONY_BRIDGE_TX_DIRECT=1 PONY_BRIDGE_OWN_MAC=1 PONY_BRIDGE_DAEMON="capture_dir = \"$T/cap\";" \
  pony_bridge_pair
start_app srv "$PONY_RPC" server -s "$T/run-a/app.sock" -m 4096 -w 8
wait_log "$T/srv.log" "listening" 10 || fail "server app did not start"
rpcs() {
  timeout 60 "$PONY_RPC" client -s "$T/run-b/app.sock" -i 10.94.0.1 -n "$1" -m 4096 -S 1 -w 4 \
    -T 50 >"$T/cli.log" 2>&1 || { cat "$T/cli.log"; fail "rpc client"; }
}
direct_tx() { $SA stats pony0 | awk '$2 == "tx" && $3 == "direct_tx" {print $4}'; }
rpcs 50
d0=$(direct_tx)
[ "${d0:-0}" -gt 0 ] || fail "A sent nothing directly before the capture (direct_tx ${d0:-none})"
# Bounded by count and time; the RPCs below send far more than 100 frames from A.
$SA capture p0 --out tx.pcapng --count 100 --duration 30 --direction tx >"$T/cap.out" 2>&1 &
CAP=$!
PIDS+=("$CAP")
wait_log "$T/a.log" "capture p0: started" 10 || fail "capture did not start"
rpcs 200
wait "$CAP" || fail "capture failed: $(cat "$T/cap.out")"
cat "$T/cap.out"
d1=$(direct_tx)
rpcs 50
d2=$(direct_tx)
echo "direct_tx: $d0 before the capture, $d1 after it, $d2 after 50 more RPCs"
[ "$d2" -gt "$d1" ] || fail "direct transmit did not resume after the capture"
# The port's own transmit counters (snapctl ports) count every frame it sent, directly or
# through the PMD during the capture: the ethdev's alone would miss the direct ones.
op=$($SA --json ports | python3 -c 'import json, sys
for p in json.load(sys.stdin)["ports"]:
    if p["name"] == "p0":
        print(sum(c["value"] for c in p.get("counters", []) if c["name"] == "opackets"))')
echo "snapctl ports: p0 opackets $op"
[ "${op:-0}" -ge $((d2 + 100)) ] || fail "port p0 counts $op frames sent, under $d2 direct + 100 captured"
# A's own frames in the file: IPv4 from 10.94.0.1 to Pony's UDP port, and nothing else.
python3 - "$T/cap/tx.pcapng" <<'PY' || fail "the capture does not hold A's transmitted frames"
import struct, sys
d = open(sys.argv[1], "rb").read()
off, frames, pony, other = 0, 0, 0, 0
while off + 12 <= len(d):
    btype, blen = struct.unpack_from("<II", d, off)
    if blen < 12:
        break
    if btype == 6:  # enhanced packet block
        caplen = struct.unpack_from("<I", d, off + 20)[0]
        f = d[off + 28: off + 28 + caplen]
        frames += 1
        if (len(f) >= 38 and f[12:14] == b"\x08\x00" and f[23] == 17 and
                f[26:30] == bytes([10, 94, 0, 1]) and struct.unpack(">H", f[36:38])[0] == 4793):
            pony += 1
        elif not (len(f) >= 14 and f[12:14] == b"\x08\x06"):  # ARP may go out too
            other += 1
    off += blen
print("capture: %d frames, %d Pony frames from A, %d others" % (frames, pony, other))
assert frames == 100 and pony >= 90 and other == 0
PY
stop_daemon b
stop_daemon a
echo PASS
