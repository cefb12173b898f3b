#!/usr/bin/env bash
# bench-quick: runs tools/bench/run.sh --quick (its own namespaces, a few seconds) into a
# temp dir and checks that every output exists and parses: results.json with a run per
# case and ops/s > 0, results.csv and compare.csv (Pony columns n/a until measured),
# results.md, latency CDF files, and real PNG plots. SKIP (77) without root.
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (network namespaces)"; exit 77; }
: "${SNAPBENCH:?SNAPBENCH must point at the snapbench binary}"
run_sh=$(cd "$(dirname "$0")/../../tools/bench" && pwd)/run.sh
out=$(mktemp -d /tmp/snapbenchq.XXXXXX)
trap 'rm -rf "$out"' EXIT

rc=0
bash "$run_sh" --quick --out "$out" --snapbench "$SNAPBENCH" || rc=$?
[ $rc -eq 77 ] && exit 77
if [ $rc -ne 0 ]; then
  echo "FAIL: run.sh --quick exited $rc"
  cat "$out/status.txt" 2>/dev/null || true
  for f in "$out"/raw/*.log; do [ -s "$f" ] && { echo "== $f"; tail -5 "$f"; }; done
  exit 1
fi

python3 - "$out" <<'PY'
import csv, json, os, sys
out = sys.argv[1]
fails = []
def check(cond, what):
    if not cond:
        fails.append(what)

res = json.load(open(os.path.join(out, "results.json")))
runs = res["runs"]
want = {"pp-64", "pp-1k", "pp-8k", "pp-64k", "closed16-64", "stream-1m", "conns1000-64"}
got = {r["label"] for r in runs if r["stack"] == "kernel-tcp"}
check(got == want, "kernel-tcp cases: got %s, want %s" % (sorted(got), sorted(want)))
for r in runs:
    name = "%s %s" % (r["stack"], r["label"])
    check(r["ops"] > 0 and r["ops_per_s"] > 0, name + ": ops/s > 0")
    check(r["errors"] == 0, name + ": errors == 0")
    check(r["duration_s"] > 0, name + ": duration > 0")
    check(r["cpu_core_s"] > 0 and r["ops_per_core_s"] and r["ops_per_core_s"] > 0,
          name + ": CPU core-seconds accounted")
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
check(res["meta"]["stacks"].get("kernel-tcp") == "measured", "kernel-tcp measured")
sv = res["meta"]["servers"].get("kernel-tcp")
check(sv and sv["errors"] == 0 and sv["accepted"] >= 1006 and sv["echoed"] > 0,
      "kernel-tcp server summary: no errors, every conn accepted, echoes sent")
for st in ("pony-afpacket", "pony-memif"):
    check(res["meta"]["stacks"].get(st, "").startswith("not yet measured"),
          st + " labelled not yet measured")

rows = list(csv.DictReader(open(os.path.join(out, "results.csv"))))
check(len(rows) == len(runs), "results.csv has one row per run")
check(all(float(x["ops_per_s"]) > 0 for x in rows), "results.csv ops_per_s > 0")

cmp_rows = list(csv.DictReader(open(os.path.join(out, "compare.csv"))))
check(len(cmp_rows) == len(want), "compare.csv has one row per case")
for x in cmp_rows:
    check(float(x["kernel-tcp_ops_per_s"]) > 0, "compare.csv kernel ops/s")
    check(x["pony-afpacket_ops_per_s"] == "n/a" and x["pony-memif_vs_kernel_ops_per_core_s"] == "n/a",
          "compare.csv Pony columns n/a while not measured")

md = open(os.path.join(out, "results.md")).read()
check("## Kernel TCP baseline" in md and "| pp-64 | pingpong | 64 |" in md, "results.md table")
check("Not yet measured: pony-afpacket, pony-memif" in md, "results.md says Pony is not measured")

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
cat "$out/results.md" | sed -n '/## Kernel TCP baseline/,/^$/p;/| pp-64 |/p' | head -12
echo PASS
