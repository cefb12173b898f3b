#!/bin/sh
# End-to-end run of the libpony examples against pony_loopd (the real app layer over a
# loopback transport double): echo RPC, key-value PUT/GET/INFO, an app killed with -9,
# and every app-layer gauge back to zero at the end. Cleans up on any exit.
# Usage: test_pony_examples.sh LOOPD ECHO_SERVER ECHO_CLIENT KV_SERVER KV_CLIENT HELLO BPF_OPS
set -eu
loopd=$1 echo_server=$2 echo_client=$3 kv_server=$4 kv_client=$5 hello=$6 bpf_ops=$7
tmp=$(mktemp -d)
sock=$tmp/pony.sock
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	for p in $pids; do wait "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
fail() { echo "FAIL: $*"; for f in "$tmp"/*.log; do echo "== $f"; cat "$f"; done; exit 1; }

"$loopd" "$sock" >"$tmp/loopd.log" 2>&1 &
loopd_pid=$!
pids="$loopd_pid"
for i in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
[ -S "$sock" ] || fail "daemon socket did not appear"
export PONY_SOCKET=$sock

"$echo_server" -p 7 >"$tmp/echo_server.log" 2>&1 &
es=$!
pids="$es $pids"
for i in $(seq 50); do grep -q listening "$tmp/echo_server.log" && break; sleep 0.1; done
out=$(timeout 30 "$echo_client" -i 127.0.0.1 -p 7 -n 2000 -l 1000) || fail "echo_client"
echo "$out"
echo "$out" | grep -q "2000 x 1000 B" || fail "echo output: $out"
# The README's minimal program (pony_connect(NULL, NULL): here $PONY_SOCKET).
out=$(timeout 30 "$hello" 127.0.0.1 7) || fail "pony_hello"
[ "$out" = "reply: hello" ] || fail "pony_hello printed: $out"
timeout 30 "$echo_client" -i 127.0.0.1 -p 8 -n 1 >/dev/null 2>"$tmp/refused.log" &&
	fail "open to a service nobody listens on succeeded"
grep -q "refused" "$tmp/refused.log" || fail "no refusal message"

"$kv_server" -p 11211 -n 256 >"$tmp/kv_server.log" 2>&1 &
ks=$!
pids="$ks $pids"
for i in $(seq 50); do grep -q buckets "$tmp/kv_server.log" && break; sleep 0.1; done
timeout 10 "$kv_client" -i 127.0.0.1 put hello world | grep -qx ok || fail "kv put"
timeout 10 "$kv_client" -i 127.0.0.1 put snap pony-express | grep -qx ok || fail "kv put 2"
[ "$(timeout 10 "$kv_client" -i 127.0.0.1 get hello)" = world ] || fail "kv get"
[ "$(timeout 10 "$kv_client" -i 127.0.0.1 get snap)" = pony-express ] || fail "kv get 2"
set +e
timeout 10 "$kv_client" -i 127.0.0.1 get missing >/dev/null
[ $? -eq 3 ] || fail "kv get of a missing key"
set -e
timeout 10 "$kv_client" -i 127.0.0.1 info | grep -q "^region " || fail "kv info"
# GET by one-sided scan-and-read (the engine searches the table region; server app idle).
[ "$(timeout 10 "$kv_client" -i 127.0.0.1 -o get hello)" = world ] || fail "kv one-sided get"
[ "$(timeout 10 "$kv_client" -i 127.0.0.1 -o get snap)" = pony-express ] || fail "kv one-sided get 2"
set +e
timeout 10 "$kv_client" -i 127.0.0.1 -o get missing >/dev/null
[ $? -eq 3 ] || fail "kv one-sided get of a missing key"
set -e
rk=$(timeout 10 "$kv_client" -i 127.0.0.1 info | awk '/^region /{print $2 ":" $4}')
[ "$(timeout 10 "$kv_client" -i 127.0.0.1 -o -r "$rk" get hello)" = world ] || fail "kv one-sided get with -r"
bad=${rk%%:*}:0 # the right region, a wrong key
timeout 10 "$kv_client" -i 127.0.0.1 -o -r "$bad" get hello >/dev/null 2>&1 && fail "kv one-sided get with a wrong key"
# eBPF custom ops: the 16-hop walk and the scan, each one op.
out=$(timeout 10 "$bpf_ops" -h 16 -k 1 -m 3) || fail "bpf_ops: $out"
echo "$out"
echo "$out" | grep -q "value 1016 at" || fail "bpf_ops walk: $out"
echo "$out" | grep -q "scan: 4 records.* 1=101 5=105 9=109 13=113" || fail "bpf_ops scan: $out"

# Apps that die hard are detached like any other.
kill -9 "$es" "$ks"
wait "$es" 2>/dev/null || true
wait "$ks" 2>/dev/null || true
pids="$loopd_pid"
sleep 0.5
kill -TERM "$loopd_pid"
wait "$loopd_pid" || fail "daemon exit status"
pids=""
summary=$(grep "attached=" "$tmp/loopd.log") || fail "no summary"
echo "$summary"
for g in violations sessions streams ops regions listens mapped; do
	echo "$summary" | grep -q " $g=0" || fail "gauge $g not zero: $summary"
done
echo "examples ok"
