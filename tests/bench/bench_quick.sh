#!/usr/bin/env bash
# bench-quick: runs tools/bench/run.sh --quick (a few seconds per stack) into a temp dir
# and checks that every output exists and parses: results.json with a run per case and
# ops/s > 0 for every measured stack, results.csv, compare.csv with Pony/kernel ratios,
# results.md, latency CDF files, and real PNG plots. As root: kernel TCP and Pony over
# af_packet on the veth pair, and Pony over memif. Without root: Pony over memif only (the
# veth runs need namespaces and are reported as not measured).
set -euo pipefail
: "${SNAPBENCH:?SNAPBENCH must point at the snapbench binary}"
run_sh=$(cd "$(dirname "$0")/../../tools/bench" && pwd)/run.sh
out=$(mktemp -d /tmp/snapbenchq.XXXXXX)
trap 'rm -rf "$out"' EXIT
root=0
[ "$(id -u)" -eq 0 ] && root=1

rc=0
bash "$run_sh" --quick --out "$out" --snapbench "$SNAPBENCH" ${SNAPNETD:+--snapnetd "$SNAPNETD"} || rc=$?
[ $rc -eq 77 ] && exit 77
if [ $rc -ne 0 ]; then
  echo "FAIL: run.sh --quick exited $rc"
  cat "$out/status.txt" 2>/dev/null || true
  for f in "$out"/raw/*.log; do [ -s "$f" ] && { echo "== $f"; tail -5 "$f"; }; done
  exit 1
fi

python3 - "$out" "$root" <<'PY'
import csv, json, os, sys
out = sys.argv[1]
root = sys.argv[2] == "1"

fails = []
def check(cond, what):
    if not cond:
        fails.append(what)

res = json.load(open(os.path.join(out, "results.json")))
runs = res["runs"]
want = {"pp-64", "pp-1k", "pp-8k", "pp-64k", "closed16-64", "stream-1m", "conns1000-64"}
measured = ["kernel-tcp", "pony-afpacket", "pony-memif"] if root else ["pony-memif"]
# One-sided reads join the Pony stacks' cases.
has_read = True
for st in measured:
    got = {r["label"] for r in runs if r["stack"] == st}
    exp = want | ({"read-64"} if has_read and st != "kernel-tcp" else set())
    check(got == exp, "%s cases: got %s, want %s" % (st, sorted(got), sorted(exp)))
    check(res["meta"]["stacks"].get(st) == "measured", st + " measured")
for st in ("kernel-tcp", "pony-afpacket"):
    if not root:
        check(res["meta"]["stacks"].get(st, "").startswith("not yet measured (needs root"),
              st + " labelled as needing root")
for r in runs:
    name = "%s %s" % (r["stack"], r["label"])
    check(r["ops"] > 0 and r["ops_per_s"] > 0, name + ": ops/s > 0")
    check(r["errors"] == 0, name + ": errors == 0")
    check(r["duration_s"] > 0, name + ": duration > 0")
    check(r["cpu_core_s"] > 0 and r["ops_per_core_s"] and r["ops_per_core_s"] > 0,
          name + ": CPU core-seconds accounted")
    if r["stack"].startswith("pony"):
        # Polling engines: the daemons' threads run whenever the CPUs let them (on a
        # loaded machine other tasks take their share, so only a floor is checked).
        check(r["daemon_cpu_s"] > 0.05 * r["duration_s"], name + ": daemon CPU accounted")
    check(r["gbit_per_s"] > 0, name + ": Gbit/s > 0")
    if r["workload"] != "stream":
        l = r["lat_ns"]
        check(l and 0 < l["min"] <= l["p50"] <= l["p99"] <= l["p999"] <= l["max"],
              name + ": latency percentiles ordered")
        cdf = os.path.join(out, "cdf", "%s-%s.dat" % (r["stack"], r["label"]))
        pts = [tuple(map(float, x.split())) for x in open(cdf) if x.strip()]
        check(pts and abs(pts[-1][1] - 1.0) < 1e-6, name + ": CDF ends at 1")
    if r["workload"] == "conns":
        check(r["conns"] == 1000, name + ": 1000 conns")
if root:
    sv = res["meta"]["servers"].get("kernel-tcp")
    check(sv and sv["errors"] == 0 and sv["accepted"] >= 1006 and sv["echoed"] > 0,
          "kernel-tcp server summary: no errors, every conn accepted, echoes sent")
for name, sv in res["meta"]["servers"].items():
    check(sv is not None and sv["errors"] == 0, "server %s: summary without errors" % name)
for st in measured:
    if st == "kernel-tcp":
        continue
    sv = res["meta"]["servers"].get(st + "-conns1000-64")
    check(sv and sv["accepted"] >= 1000, st + ": the 1,000-stream server accepted every stream")

rows = list(csv.DictReader(open(os.path.join(out, "results.csv"))))
check(len(rows) == len(runs), "results.csv has one row per run")
check(all(float(x["ops_per_s"]) > 0 for x in rows), "results.csv ops_per_s > 0")

cmp_rows = list(csv.DictReader(open(os.path.join(out, "compare.csv"))))
check(len(cmp_rows) == len(want) + has_read, "compare.csv has one row per case")
for x in cmp_rows:
    if x["case"] == "read-64":
        continue  # Pony only: no kernel figure, no ratio
    for st in measured:
        check(float(x[st + "_ops_per_s"]) > 0, "compare.csv %s ops/s" % st)
        if root and st != "kernel-tcp":
            check(float(x[st + "_vs_kernel_ops_per_core_s"]) > 0, "compare.csv %s ratio" % st)
    if not root:
        check(x["kernel-tcp_ops_per_s"] == "n/a" and x["pony-memif_vs_kernel_ops_per_s"] == "n/a",
              "compare.csv: kernel columns and ratios n/a without root")

md = open(os.path.join(out, "results.md")).read()
check("### pony-memif" in md and "| pp-64 |" in md, "results.md Pony table")
if root:
    check("## Kernel TCP baseline" in md and "| pp-64 | pingpong | 64 |" in md, "results.md table")
    check("### pony-afpacket" in md, "results.md Pony over af_packet table")

for png in ("lat_cdf.png", "per_core.png"):
    p = os.path.join(out, png)
    data = open(p, "rb").read()
    check(data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000, png + " is a real PNG")

if fails:
    print("FAIL:\n  " + "\n  ".join(fails))
    print(md)
    sys.exit(1)
print("bench-quick: %d runs checked" % len(runs))
PY
awk '/^### pony/ {on=1} on {print} on && /^$/ && ++b == 2 {on=0; b=0}' "$out/results.md" | head -30
echo PASS
