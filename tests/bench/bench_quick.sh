#!/usr/bin/env bash
# bench-quick: runs tools/bench/run.sh --quick --repeat 1 (a few seconds per stack) into a
# temp dir and checks that every output exists and parses: results.json with a run per case
# and ops/s > 0 for every measured stack, the busy-machine fields of every run (load average
# before and after, foreign CPU, busy flag) and the per-case summary (median, spread),
# results.csv, compare.csv with Pony/kernel ratios, results.md, latency CDF files, and real
# PNG plots. As root: kernel TCP and Pony over af_packet on the veth pair, and Pony over
# memif. Without root: Pony over memif only (the veth runs need namespaces and are reported
# as not measured). Then a second short run, Pony over memif in a spreading group, one case
# twice, checks the repeats' median and spread and the group mode in the stack's name. As
# root, a floor on one ratio: stream-1m Gbit per core-second, Pony over memif / kernel TCP,
# at MTU 1500 and in a third run at MTU 9000; and one on spreading pp-64 ops/s against the
# first run's dedicated, and one on Pony's conns1000-64 ops/s against its closed16-64.
set -euo pipefail
: "${SNAPBENCH:?SNAPBENCH must point at the snapbench binary}"
run_sh=$(cd "$(dirname "$0")/../../tools/bench" && pwd)/run.sh
out=$(mktemp -d /tmp/snapbenchq.XXXXXX)
trap 'rm -rf "$out"' EXIT
root=0
[ "$(id -u)" -eq 0 ] && root=1

rc=0
bash "$run_sh" --quick --repeat 1 --out "$out" --snapbench "$SNAPBENCH" ${SNAPNETD:+--snapnetd "$SNAPNETD"} || rc=$?
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

def check_floor(what, num, den, floor):
    """A regression floor on num / den, both from this run: prints the ratio, fails under
    the floor or when either figure is missing."""
    if not (num and den):
        check(False, what + ": both figures measured")
        return
    ratio = num / den
    print("%s: %.2f (floor %.2f)" % (what, ratio, floor))
    check(ratio >= floor, "%s %.2f below the floor %.2f" % (what, ratio, floor))

res = json.load(open(os.path.join(out, "results.json")))
runs = res["runs"]
want = {"pp-64", "pp-1k", "pp-8k", "pp-64k", "closed16-64", "stream-1m", "conns1000-64"}
measured = (["kernel-tcp", "pony-afpacket/dedicated", "pony-memif/dedicated"] if root
            else ["pony-memif/dedicated"])
# One-sided reads join the Pony stacks' cases.
has_read = True
for st in measured:
    got = {r["label"] for r in runs if r["stack"] == st}
    exp = want | ({"read-64"} if has_read and st != "kernel-tcp" else set())
    check(got == exp, "%s cases: got %s, want %s" % (st, sorted(got), sorted(exp)))
    check(res["meta"]["stacks"].get(st) == "measured", st + " measured")
for st in ("kernel-tcp", "pony-afpacket/dedicated"):
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
        cdf = os.path.join(out, "cdf", "%s-%s-r1.dat" % (r["stack"].replace("/", "."),
                                                          r["label"]))
        pts = [tuple(map(float, x.split())) for x in open(cdf) if x.strip()]
        check(pts and abs(pts[-1][1] - 1.0) < 1e-6, name + ": CDF ends at 1")
    if r["workload"] == "conns":
        check(r["conns"] == 1000, name + ": 1000 conns")
    # Busy-machine detection and repeats.
    check(r["repeat"] == 1, name + ": repeat 1")
    check(r["pony_mode"] == (None if r["stack"] == "kernel-tcp" else "dedicated"),
          name + ": group mode recorded")
    for k in ("loadavg_before", "loadavg_after"):
        check(len(r[k]) == 3 and all(x >= 0 for x in r[k]), name + ": " + k)
    check(r["window_s"] > 0 and r["foreign_cpu_s"] >= 0 and r["foreign_cores"] >= 0
          and isinstance(r["busy"], bool), name + ": foreign CPU and busy flag")
meta = res["meta"]
check(meta["repeat"] == 1 and meta["pony_modes"] == ["dedicated"], "meta: repeat, modes")
check(len(meta["loadavg_start"]) == 3, "meta: load average before the run")
check(meta["busy_runs"] == sum(r["busy"] for r in runs) and meta["case_runs"] == len(runs)
      and meta["busy_limit_cores"] > 0, "meta: busy runs counted")
check("--quick" in meta["command"], "meta: the command")
summ = {(s["stack"], s["label"]): s for s in res["summary"]}
check(len(summ) == len(runs), "summary: one entry per (stack, case)")
for (st, lb), s in summ.items():
    check(s["runs"] == 1 and s["repeats"] == [1] and s["busy_runs"] in (0, 1),
          "summary %s %s: runs" % (st, lb))
    check(s["median"]["ops_per_s"] > 0 and s["spread"]["ops_per_s"]["rel"] == 0,
          "summary %s %s: median and spread" % (st, lb))
if root:
    sv = res["meta"]["servers"].get("kernel-tcp-r1")
    check(sv and sv["errors"] == 0 and sv["accepted"] >= 1006 and sv["echoed"] > 0,
          "kernel-tcp server summary: no errors, every conn accepted, echoes sent")
for name, sv in res["meta"]["servers"].items():
    check(sv is not None and sv["errors"] == 0, "server %s: summary without errors" % name)
for st in measured:
    if st == "kernel-tcp":
        continue
    sv = res["meta"]["servers"].get(st.replace("/", ".") + "-conns1000-64-r1")
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
        check(x["kernel-tcp_ops_per_s"] == "n/a"
              and x["pony-memif/dedicated_vs_kernel_ops_per_s"] == "n/a",
              "compare.csv: kernel columns and ratios n/a without root")

by = {(r["stack"], r["label"]): r for r in runs}
def fig(stack, label, key):
    r = by.get((stack, label))
    return r[key] if r else None
# The stream ratio of these 0.3 s cases is printed only (0.52-1.19 on 2026-12-04): its
# floors come from the longer runs below.
k1m, p1m = fig("kernel-tcp", "stream-1m", "gbit_per_core_s"), fig("pony-memif/dedicated",
                                                                  "stream-1m", "gbit_per_core_s")
if root and k1m and p1m:
    print("stream-1m Gbit/core-s, Pony over memif / kernel TCP, 0.3 s: %.2f" % (p1m / k1m))

# Regression floor (issue 15), a ratio within this run, Pony over memif alone: 1,000
# connections of one RPC each against 16 RPCs on one connection. Serving many streams must
# cost per active stream, in the engine and in the benchmark's client: when a freed send
# buffer woke every waiting connection, 1,000 connections ran at 0.47x (0.48 M against
# 1.01 M ops/s); 1.14x since (2026-12-04, CI run; 1.16-1.18 M in 3 s cases).
CONNS_FLOOR = 0.7
check_floor("Pony over memif ops/s, conns1000-64 / closed16-64",
            fig("pony-memif/dedicated", "conns1000-64", "ops_per_s"),
            fig("pony-memif/dedicated", "closed16-64", "ops_per_s"), CONNS_FLOOR)

md = open(os.path.join(out, "results.md")).read()
check("### pony-memif/dedicated" in md and "| pp-64 |" in md, "results.md Pony table")
check("case runs flagged busy" in md and "load average before the run" in md,
      "results.md header: busy runs and load average")
if root:
    check("## Kernel TCP baseline" in md and "| pp-64 | pingpong | 64 |" in md, "results.md table")
    check("### pony-afpacket/dedicated" in md, "results.md Pony over af_packet table")

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
# The first lines of the Pony tables (awk stops by itself: a head closing the pipe would
# fail the script under pipefail).
awk '/^### pony/ {on=1} on && n++ < 30 {print} on && /^$/ && ++b == 2 {on=0; b=0}' "$out/results.md"
grep "case runs flagged busy" "$out/results.md"

# Regression floors (issue 16), ratios within one run, as root: one stream of 1 MiB
# messages, 1 s, kernel TCP on the veth and Pony over memif at the same MTU, Gbit per
# core-second, three times (interleaved); the best repeat's ratio must hold the floor.
# This 2-vCPU VM's host perturbs the two stacks unevenly: on 2026-12-04, single 1 s runs at
# MTU 9000 gave 1.04-2.43 over 21 runs, then in the evening 0.79-2.13 (a whole CI run
# 0.91-1.09, Pony over memif at 32 Gbit/s where it gets 60-72 on a quiet host); at MTU
# 1500, 0.34-1.36. So the floors only catch a collapse to a fraction of the kernel's
# figure (0.5 at MTU 9000, 0.3 at MTU 1500, best of three). The README's table, not this
# suite, holds the figures.
# stream_floor MTU FLOOR
stream_floor() {
  local o=$out/stream-$1 rc=0
  PONY_BENCH_MTU=$1 bash "$run_sh" --quick --duration 1 --repeat 3 \
    --stacks kernel-tcp,pony-memif --cases '^stream-1m$' --out "$o" \
    --snapbench "$SNAPBENCH" ${SNAPNETD:+--snapnetd "$SNAPNETD"} || rc=$?
  if [ $rc -ne 0 ]; then
    echo "FAIL: run.sh at MTU $1 exited $rc"
    cat "$o/status.txt" || true
    return 1
  fi
  # Over 1,500 the daemons' path MTU probes must have passed (else every segment was a
  # 1,500-byte one and the ratio is the MTU-1500 one).
  local f
  for f in "$o"/raw/daemon-pony-memif.*.log; do
    [ "$1" -le 1500 ] || grep -q "pmtu_raised [1-9]" "$f" ||
      { echo "FAIL: no path MTU probe passed ($f)"; return 1; }
  done
  python3 - "$o" "$1" "$2" <<'PY'
import json, os, sys
runs = json.load(open(os.path.join(sys.argv[1], "results.json")))["runs"]
mtu, floor = sys.argv[2], float(sys.argv[3])
g = {}
for r in runs:
    if r["label"] == "stream-1m":
        g.setdefault(r["repeat"], {})[r["stack"]] = r["gbit_per_core_s"]
ratios = [v["pony-memif/dedicated"] / v["kernel-tcp"] for v in g.values()
          if v.get("kernel-tcp") and v.get("pony-memif/dedicated")]
if not ratios:
    sys.exit("FAIL: MTU %s stream-1m not measured: %s" % (mtu, g))
best = max(ratios)
print("stream-1m Gbit/core-s at MTU %s, Pony over memif / kernel TCP: %s, best %.2f "
      "(floor %.2f)" % (mtu, ", ".join("%.2f" % x for x in ratios), best, floor))
if best < floor:
    sys.exit("FAIL: MTU %s stream-1m ratio %.2f below the floor %.2f" % (mtu, best, floor))
PY
}
if [ $root -eq 1 ]; then
  stream_floor 1500 0.3 || exit 1
  stream_floor 9000 0.5 || exit 1
fi

# Repeats and group modes: one case twice, Pony over memif in a spreading group.
out2=$out/modes
rc=0
bash "$run_sh" --quick --repeat 2 --stacks pony-memif --pony-mode spreading --cases '^pp-64$' \
  --out "$out2" --snapbench "$SNAPBENCH" ${SNAPNETD:+--snapnetd "$SNAPNETD"} || rc=$?
if [ $rc -ne 0 ]; then
  echo "FAIL: run.sh --repeat 2 --pony-mode spreading exited $rc"
  cat "$out2/status.txt" 2>/dev/null || true
  for f in "$out2"/raw/*.log; do [ -s "$f" ] && { echo "== $f"; tail -5 "$f"; }; done
  exit 1
fi
grep -q 'mode = "spreading"' "$out2/raw/daemon-pony-memif.spreading-a-r1.conf" ||
  { echo "FAIL: the daemon config has no spreading group"; exit 1; }
python3 - "$out2" "$out" <<'PY'
import json, os, sys
res = json.load(open(os.path.join(sys.argv[1], "results.json")))
fails = []
runs = res["runs"]
# Floor: a spreading engine must not starve the app that shares its CPU. pony_wait's spin
# (it yields between looks, so the app is never woken and never preempts) once waited out
# every idle spin of the engine: 2.1 k ops/s against 123 k dedicated (0.017x). Fixed
# (engines yield while they spin idle), 0.2-0.25x here, measured 2026-12-03.
SPREAD_PP64_FLOOR = 0.08
first = json.load(open(os.path.join(sys.argv[2], "results.json")))["runs"]
ded = [r["ops_per_s"] for r in first
       if r["stack"] == "pony-memif/dedicated" and r["label"] == "pp-64"]
spr = sorted(r["ops_per_s"] for r in runs)
if ded and spr:
    ratio = spr[len(spr) // 2] / ded[0]
    print("pp-64 ops/s, Pony over memif spreading / dedicated: %.3f (floor %.2f)"
          % (ratio, SPREAD_PP64_FLOOR))
    if ratio < SPREAD_PP64_FLOOR:
        fails.append("spreading pp-64 at %.3f of dedicated, below %.2f" % (ratio, SPREAD_PP64_FLOOR))
if sorted((r["stack"], r["label"], r["repeat"]) for r in runs) != [
        ("pony-memif/spreading", "pp-64", 1), ("pony-memif/spreading", "pp-64", 2)]:
    fails.append("runs: %s" % [(r["stack"], r["label"], r["repeat"]) for r in runs])
if res["meta"]["stacks"].get("pony-memif/spreading") != "measured":
    fails.append("pony-memif/spreading measured")
s = res["summary"][0] if len(res["summary"]) == 1 else None
if not s or s["runs"] != 2 or s["repeats"] != [1, 2]:
    fails.append("summary: one case, two runs")
else:
    for k in ("ops_per_s", "ops_per_core_s", "p50_us", "p99_us"):
        sp, m = s["spread"][k], s["median"][k]
        vals = sorted(r["ops_per_s"] if k == "ops_per_s" else
                      r["ops_per_core_s"] if k == "ops_per_core_s" else
                      r["lat_ns"][k[:3]] / 1000.0 for r in runs)
        if not (sp["min"] <= m <= sp["max"] and sp["rel"] >= 0
                and abs(m - sum(vals) / 2) <= 0.01 * m + 0.01):
            fails.append("summary %s: median %s of %s, spread %s" % (k, m, vals, sp))
md = open(os.path.join(sys.argv[1], "results.md")).read()
if "### pony-memif/spreading" not in md or "2 run(s) of every case" not in md:
    fails.append("results.md: the spreading table and the repeat count")
if fails:
    print("FAIL (repeats, modes):\n  " + "\n  ".join(fails))
    sys.exit(1)
print("bench-quick: repeats and the spreading mode checked")
PY
echo PASS
