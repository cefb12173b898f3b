#!/usr/bin/env bash
# Issue 19: metrics. Two Pony daemons over memif with an RPC client app attached on B and the
# echo server on A; on A:
#  - `snapctl metrics` parses as OpenMetrics (strict parser) and holds every counter that
#    `snapctl stats`, `ports`, `flows` and `apps` show, under the same names;
#  - the optional HTTP endpoint (daemon.metrics_listen) serves the same sample set for
#    GET /metrics, refuses other methods/paths and oversized requests, holds at most 8
#    connections; a non-loopback metrics_listen is a config error;
#  - DPDK's telemetry socket (stable prefix snap-NAME, linked from the run dir) answers the
#    /snap/* commands with the same engine counters.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pony_lib.sh"
CHK=$(cd "$(dirname "$0")" && pwd)/metrics_check.py
MPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
pony_conf a server $PMA $PIPA $PIPB $PMB "metrics_listen = \"127.0.0.1:$MPORT\";" >"$T/a.conf"
pony_conf b client $PMB $PIPB $PIPA $PMA >"$T/b.conf"
start_daemon a "$T/a.conf"
start_daemon b "$T/b.conf"
SA="$SNAPCTL --socket $T/run-a/control.sock"
SB="$SNAPCTL --socket $T/run-b/control.sock"
start_app srv "$PONY_RPC" server -s "$T/run-a/app.sock" -m 65536 -w 8
wait_log "$T/srv.log" "listening" 10 || fail "server app did not start"
start_app cli "$PONY_RPC" client -s "$T/run-b/app.sock" -i $PIPA -n 100000000 -d 60 -m 4096 -S 1 -w 4 -T 90
for _ in $(seq 100); do $SA flows 2>/dev/null | grep -q established && break; sleep 0.1; done
$SA flows | grep -q established || fail "no established flow on A"

# Counters only ever appear (histogram buckets on first use): the views taken before and after
# bound what each metrics output may hold.
for c in stats ports flows apps; do $SA --json $c >"$T/$c.0.json" || fail "snapctl --json $c"; done
$SA metrics >"$T/m.txt" || fail "snapctl metrics failed"
python3 -c "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:$MPORT/metrics', timeout=20).read().decode())" \
  >"$T/h.txt" || fail "GET /metrics failed"
for c in stats ports flows apps; do $SA --json $c >"$T/$c.json" || fail "snapctl --json $c"; done
python3 - "$CHK" "$T" <<'PY' || fail "metrics do not match the snapctl views"
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("mc", sys.argv[1]); mc = importlib.util.module_from_spec(spec); spec.loader.exec_module(mc)
T = sys.argv[2]
cli, http = mc.parse(open(T + "/m.txt").read()), mc.parse(open(T + "/h.txt").read())
def views(suffix):
    j = {c: json.load(open("%s/%s%s.json" % (T, c, suffix))) for c in ("stats", "ports", "flows", "apps")}
    return j, counters(j)
def counters(j):
    want = set()
    for e in j["stats"]["engines"]:
        for el in e.get("elements", []):
            for c in el.get("counters", []):
                want.add(("snap_element", frozenset({"engine": e["engine"], "element": el.get("element", ""), "counter": c["name"]}.items())))
    for p in j["ports"]["ports"]:
        for c in p.get("counters", []):
            want.add(("snap_port", frozenset({"port": p["name"], "counter": c["name"]}.items())))
    for f in j["flows"].get("flows", []):
        for c in f.get("counters", []):
            want.add(("snap_flow", frozenset({"engine": f["engine"], "peer": f["peer"], "counter": c["name"]}.items())))
    for a in j["apps"].get("apps", []):
        for c in a.get("counters", []):
            want.add(("snap_app", frozenset({"app": a["name"], "pid": str(a["pid"]), "engine": a.get("engine", ""), "counter": c["name"]}.items())))
    return want
first, last = views(".0")[1], views("")[1]
want = last
fams = {k[0] for k in want}
assert fams == {"snap_element", "snap_port", "snap_flow", "snap_app"}, fams
for name, got in (("snapctl metrics", cli), ("GET /metrics", http)):
    missing, extra = first - set(got), set(got) - last
    assert not missing, "%s lacks %d counters, e.g. %s" % (name, len(missing), sorted(missing, key=str)[:3])
    assert not extra, "%s has %d counters snapctl does not show, e.g. %s" % (name, len(extra), sorted(extra, key=str)[:3])
# A counter that only grows is not lower in the later reading (HTTP was read last).
k = ("snap_element", frozenset({"engine": "pony0", "element": "pony", "counter": "msgs_rx"}.items()))
assert k in cli and http[k] >= cli[k] > 0, (cli.get(k), http.get(k))
print("metrics: %d samples (%d families) in snapctl metrics and GET /metrics, all %d counters of stats/ports/flows/apps" % (len(cli), len(fams), len(want)))
PY

# HTTP: only GET /metrics; bounded request size and connections.
python3 - "$MPORT" <<'PY' || fail "HTTP endpoint limits"
import socket, sys, time
port = int(sys.argv[1])
def req(data):
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    s.sendall(data)
    out = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
    s.close()
    return out.split(b"\r\n", 1)[0].decode()
assert req(b"GET /other HTTP/1.1\r\nHost: x\r\n\r\n") == "HTTP/1.1 404 Not Found"
assert req(b"POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n") == "HTTP/1.1 405 Method Not Allowed"
assert req(b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 5000 + b"\r\n\r\n").startswith("HTTP/1.1 431")
assert req(b"garbage\r\n\r\n") == "HTTP/1.1 400 Bad Request"
# 8 idle connections fill the table: a 9th is closed at once, unanswered.
held = [socket.create_connection(("127.0.0.1", port), timeout=20) for _ in range(8)]
time.sleep(0.5)  # let the daemon accept them (no timing is measured)
s = socket.create_connection(("127.0.0.1", port), timeout=20)
s.sendall(b"GET /metrics HTTP/1.1\r\n\r\n")
try:
    refused = s.recv(100) == b""
except ConnectionResetError:
    refused = True
assert refused, "a 9th connection was served"
for h in held:
    h.close()
time.sleep(0.5)
assert req(b"GET /metrics HTTP/1.0\r\n\r\n") == "HTTP/1.1 200 OK", "not served after the others left"
print("http: 404/405/431/400 as expected; 9th concurrent connection refused; served again after")
PY

# Telemetry: stable prefix, the run-dir link, /snap/* commands.
link=$(readlink "$T/run-a/dpdk_telemetry.v2") || fail "no telemetry link in the run dir"
case "$link" in */dpdk/snap-pa$$/dpdk_telemetry.v2) ;; *) fail "telemetry socket at $link";; esac
python3 - "$CHK" "$T/run-a/dpdk_telemetry.v2" "$T/stats.json" <<'PY' || fail "telemetry"
import importlib.util, json, re, sys
spec = importlib.util.spec_from_file_location("mc", sys.argv[1]); mc = importlib.util.module_from_spec(spec); spec.loader.exec_module(mc)
info, (eng, one, ports, flows, apps, bad) = mc.telemetry(sys.argv[2], ["/snap/engines", "/snap/engine,pony0", "/snap/ports", "/snap/pony/flows", "/snap/pony/apps", "/snap/engine,nope"])
assert eng["/snap/engines"] == {"pony0": "running"}, eng
st = json.load(open(sys.argv[3]))["engines"][0]
tel = lambda n: re.sub(r"[^A-Za-z0-9_/]", "_", n.replace(".", "/"))  # control/telemetry.c
want = {(el.get("element") or "engine", tel(c["name"])) for el in st["elements"] for c in el["counters"]}
got = {(el, c) for el, cs in one["/snap/engine"].items() for c in cs}
# Histogram buckets appear on first use, after the stats view was taken.
extra = {k for k in got - want if k[1].startswith("qdelay_lt_")}
assert got - extra == want, (sorted(want - got)[:5], sorted(got - want)[:5])
assert one["/snap/engine"]["pony"]["msgs_rx"] > 0, one
assert "m0" in ports["/snap/ports"] and ports["/snap/ports"]["m0"]["ipackets"] > 0, ports
assert len(flows["/snap/pony/flows"]) == 1 and list(flows["/snap/pony/flows"].values())[0]["tx_pkts"] > 0, flows
assert len(apps["/snap/pony/apps"]) == 1, apps
assert bad["/snap/engine"] is None, bad
print("telemetry (%s): /snap/engine,pony0 has the %d counters of snapctl stats; ports, flows, apps answered" % (info["version"], len(got)))
PY

# A non-loopback endpoint is refused at start-up with a reason.
sed "s/metrics_listen = \"127.0.0.1:$MPORT\"/metrics_listen = \"0.0.0.0:$MPORT\"/; s/name = \"pa$$\"/name = \"pc$$\"/; s|run-a|run-c|; s|memif.sock|memif-c.sock|" \
  "$T/a.conf" >"$T/c.conf"
rc=0; timeout 30 "$SNAPNETD" -c "$T/c.conf" >"$T/c.log" 2>&1 || rc=$?
[ "$rc" -ne 0 ] && grep -q "only loopback addresses" "$T/c.log" || { cat "$T/c.log"; fail "0.0.0.0 accepted (rc $rc)"; }
echo "metrics_listen 0.0.0.0 refused: $(grep -o 'metrics_listen.*' "$T/c.log" | head -1)"
kill "$APP_cli" 2>/dev/null || true
stop_daemon b
stop_daemon a
[ ! -e "$T/run-a/dpdk_telemetry.v2" ] || fail "telemetry link left behind"
echo PASS
