#!/usr/bin/env bash
# Issue 19: the Wireshark dissector (tools/wireshark/pony.lua) on a real capture. Two daemons
# over memif; A captures its port (snapctl capture, pcapng) while B runs echo RPCs and every
# one-sided op type against A's apps. tshark with the dissector must show both flows (ids
# matching across directions), sequence numbers advancing, cumulative acks, DATA segments,
# one-sided requests and responses with opcodes and statuses by name, and good checksums;
# then SACK blocks and the port preference on a packet built from WIRE.md.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pony_lib.sh"
OS_APP=${PONY_ONESIDED_APP:?PONY_ONESIDED_APP must point at pony_onesided_app}
LUA=$(cd "$(dirname "$0")/../.." && pwd)/tools/wireshark/pony.lua
command -v tshark >/dev/null || skip "tshark not installed (tools/setup.sh installs it)"
TS=(tshark -X "lua_script:$LUA" -o "pony.check_csum:TRUE")
tshark -G fields -X "lua_script:$LUA" 2>/dev/null | grep -q $'\tpony.seq\t' ||
  skip "this tshark runs no Lua plugins"
mkdir -m 755 "$T/cap" # captures go only into daemon.capture_dir
pony_pair "capture_dir = \"$T/cap\";"
start_app srv "$PONY_RPC" server -s "$T/run-a/app.sock" -m 65536 -w 8
start_app tgt "$OS_APP" target -s "$T/run-a/app.sock"
wait_log "$T/srv.log" "listening" 10 || fail "server app did not start"
wait_log "$T/tgt.log" "^region " 10 || fail "target app did not register"
read -r _ R _ K _ R2 _ K2 <"$T/tgt.log"
# Capture ends at 800 packets or after 60 s, whichever first (the traffic below is bounded).
$SA capture m0 --out pony.pcapng --count 800 --duration 60 >"$T/cap.out" 2>&1 &
CAP=$!
PIDS+=("$CAP")
wait_log "$T/a.log" "capture m0: started" 10 || fail "capture did not start"
timeout 60 "$OS_APP" client -s "$T/run-b/app.sock" -i $PIPA -r "$R:$K" -R "$R2:$K2" -n 2 \
  >"$T/os.log" 2>&1 || fail "one-sided client"
timeout 60 "$PONY_RPC" client -s "$T/run-b/app.sock" -i $PIPA -n 100 -m 4096 -S 1 -w 4 -T 50 \
  >"$T/cli.log" 2>&1 || fail "rpc client"
wait "$CAP" || fail "capture failed: $(cat "$T/cap.out")"
cat "$T/cap.out"
"${TS[@]}" -r "$T/cap/pony.pcapng" -Y pony -T fields -E separator=/t -e pony.type -e pony.src_flow \
  -e pony.dst_flow -e pony.seq -e pony.ack -e pony.flags.ack_valid -e pony.n_sack \
  -e pony.csum.status -e pony.os.opcode -e pony.os.status -e ip.src >"$T/fields.txt" 2>"$T/tshark.err" \
  || fail "tshark failed: $(cat "$T/tshark.err")"
"${TS[@]}" -r "$T/cap/pony.pcapng" -Y pony -V -O pony >"$T/verbose.txt" 2>/dev/null
"${TS[@]}" -r "$T/cap/pony.pcapng" -Y pony >"$T/summary.txt" 2>/dev/null
head -n 8 "$T/summary.txt"
python3 - "$T/fields.txt" "$T/verbose.txt" $PIPA $PIPB <<'PY' || fail "dissection not as expected"
import collections, re, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
verbose = open(sys.argv[2]).read()
A, B = sys.argv[3], sys.argv[4]
assert len(rows) >= 100, "only %d Pony packets decoded" % len(rows)
T = {1: "SYN", 2: "SYN_ACK", 6: "ACK", 16: "DATA", 32: "OS_REQ", 33: "OS_RESP"}
types = collections.Counter(int(r[0]) for r in rows)
for t in (6, 16, 32, 33):
    assert types[t] > 0, "no %s packet (types %s)" % (T[t], dict(types))
# Flows: each direction's src_flow is the other direction's dst_flow.
flow = {}
for r in rows:
    if int(r[0]) in (1,):  # SYN has dst_flow 0
        continue
    flow.setdefault(r[10], set()).add((int(r[1], 16), int(r[2], 16)))
assert set(flow) == {A, B}, flow
(fa,), (fb,) = flow[A], flow[B]
assert fa == (fb[1], fb[0]) and 0 not in fa, (fa, fb)
# Sequenced packets from each side: seqs advance; acks valid and non-decreasing mod 2^32.
for ip in (A, B):
    seqs = [int(r[3]) for r in rows if r[10] == ip and int(r[0]) >= 16]
    acks = [int(r[4]) for r in rows if r[10] == ip and r[5] in ("1", "True")]
    assert len(set(seqs)) >= 10, "%s: %d distinct seqs" % (ip, len(set(seqs)))
    assert len(acks) > 10, "%s: %d acks" % (ip, len(acks))
    back = sum(1 for x, y in zip(acks, acks[1:]) if 0 < (x - y) % 2**32 < 2**31)
    assert back == 0, "%s: ack went back %d times" % (ip, back)
assert all(r[7] == "good" for r in rows), "bad checksums: %s" % [r for r in rows if r[7] != "good"][:3]
# One-sided ops by name (the verbose tree) and as numbers (fields).
for name in ("Opcode: READ (1)", "Opcode: WRITE (2)", "Opcode: READ_INDIRECT (3)",
             "Opcode: SCAN_READ (4)", "Status: OK (0)", "Status: BAD_KEY (2)",
             "Status: NO_REGION (1)", "Status: RANGE (5)", "Type: OS_REQ (32)",
             "Type: OS_RESP (33)", "Type: DATA (16)", "Type: ACK (6)", "ACK_VALID: True",
             "Sequence number: ", "Cumulative ack: ", "Source flow: 0x"):
    assert name in verbose, "%r not in the decoded tree" % name
ops = collections.Counter(o for r in rows for o in r[8].split(",") if o)
print("decoded %d Pony packets: %s; flows %08x<->%08x; one-sided opcodes %s" %
      (len(rows), {T.get(k, k): v for k, v in sorted(types.items())}, fa[0], fa[1], dict(ops)))
PY
stop_daemon b
stop_daemon a

# SACK blocks and the port preference, on a packet built here from WIRE.md (an ACK with two
# SACK blocks to UDP 9999, checksum by an independent CRC-32C).
python3 - "$T/sack.pcap" <<'PY'
import struct, sys
def crc32c(b):
    c = 0xffffffff
    for x in b:
        c ^= x
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
    return c ^ 0xffffffff
h = struct.pack(">BBBBIIIIQQIIIIIIIHHI", 2, 6, 0x01, 2, 0x11111111, 0x22222222, 7, 100,
                123456789, 987654321, 500, 0, 0, 0, 0, 0, 0, 0, 0, 0)
h += struct.pack(">IIII", 105, 107, 110, 111)
h = h[:68] + struct.pack(">I", crc32c(h)) + h[72:]
udp = struct.pack(">HHHH", 9999, 9999, 8 + len(h), 0) + h
ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0,
                 bytes([127, 0, 0, 1]), bytes([127, 0, 0, 2])) + udp
fr = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00" + ip
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    f.write(struct.pack("<IIII", 0, 0, len(fr), len(fr)) + fr)
PY
out=$("${TS[@]}" -o pony.udp_port:9999 -r "$T/sack.pcap" -T fields -E separator=";" \
  -e pony.type -e pony.n_sack -e pony.sack.start -e pony.sack.end -e pony.ack -e pony.ts_echo \
  -e pony.echo_delay -e pony.csum.status 2>/dev/null)
echo "synthetic ACK on port 9999: $out"
[ "$out" = "6;2;105,110;107,111;100;987654321;500;good" ] || fail "SACK packet decoded as '$out'"
echo PASS
