#!/usr/bin/env python3
"""Benchmark bookkeeping for run.sh: merges one snapbench JSON line with the CPU readings
run.sh took around it, and turns all runs into results.json, results.csv, compare.csv,
results.md and gnuplot PNGs. Stacks that were not measured stay in the comparison as n/a."""
import csv
import json
import os
import subprocess
import sys
import time

# Column order of the comparison: the kernel baseline first, then every Pony stack.
STACKS = ["kernel-tcp", "pony-afpacket", "pony-memif", "pony-memif-auth"]
BASE = "kernel-tcp"
NA = "n/a"


def merge(path, stack, hz, server_ticks, server_ns, extra_ticks, extra_ns, ksoftirqd_ticks,
          ksoftirqd_ns, softirq_ticks):
    with open(path) as f:
        lines = [l for l in f if l.strip()]
    r = json.loads(lines[-1])
    hz = float(hz)
    r["stack"] = stack
    r["client_cpu_s"] = r.pop("cpu_s")
    r["server_cpu_s"] = int(server_ns) / 1e9
    r["daemon_cpu_s"] = int(extra_ns) / 1e9
    r["ksoftirqd_cpu_s"] = int(ksoftirqd_ns) / 1e9
    core_s = r["client_cpu_s"] + r["server_cpu_s"] + r["daemon_cpu_s"] + r["ksoftirqd_cpu_s"]
    r["cpu_core_s"] = round(core_s, 4)
    # The apps alone (client + server): what the workload costs outside the daemons. For
    # Pony the daemons' engines poll, so their share is the whole core whatever the load.
    app_s = r["client_cpu_s"] + r["server_cpu_s"]
    r["app_cpu_s"] = round(app_s, 4)
    r["ops_per_app_core_s"] = round(r["ops"] / app_s, 1) if app_s > 0 else None
    # The same from utime+stime ticks, as a cross-check of the exact runtimes above.
    r["cpu_core_s_stat"] = round(r.pop("cpu_stat_s") + (int(server_ticks) + int(extra_ticks) +
                                                        int(ksoftirqd_ticks)) / hz, 3)
    r["softirq_cpu_s_cpuwide"] = int(softirq_ticks) / hz
    if core_s > 0:
        r["ops_per_core_s"] = round(r["ops"] / core_s, 1)
        r["gbit_per_core_s"] = round(r["bytes"] * 8 / 1e9 / core_s, 4)
    else:
        r["ops_per_core_s"] = None
        r["gbit_per_core_s"] = None
    print(json.dumps(r))


def load_runs(path):
    runs = []
    with open(path) as f:
        for l in f:
            if l.strip():
                runs.append(json.loads(l))
    return runs


def us(ns):
    return None if ns is None else round(ns / 1000.0, 2)


def lat(r, key):
    l = r.get("lat_ns")
    return us(l[key]) if l else None


def line(path):
    r = load_runs(path)[-1]
    print("[bench] %-14s %-13s %10.0f ops/s %8.3f Gbit/s p50 %s us p99 %s us  %.2f core-s  "
          "%s ops/core-s" % (r["stack"], r["label"], r["ops_per_s"], r["gbit_per_s"],
                              lat(r, "p50"), lat(r, "p99"), r["cpu_core_s"],
                              r["ops_per_core_s"]))


def fmt(v, nd=2):
    if v is None:
        return NA
    if isinstance(v, float):
        if abs(v) >= 1000:
            return "%.0f" % v
        return ("%." + str(nd) + "f") % v
    return str(v)


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return round(a / b, 3)


def metrics(r):
    if r is None:
        return {k: None for k in ("ops_per_s", "gbit_per_s", "p50_us", "p99_us", "p999_us",
                                  "cpu_core_s", "ops_per_core_s", "gbit_per_core_s",
                                  "daemon_cpu_s", "app_cpu_s", "ops_per_app_core_s")}
    return {"ops_per_s": r["ops_per_s"], "gbit_per_s": r["gbit_per_s"],
            "p50_us": lat(r, "p50"), "p99_us": lat(r, "p99"), "p999_us": lat(r, "p999"),
            "cpu_core_s": r["cpu_core_s"], "ops_per_core_s": r["ops_per_core_s"],
            "gbit_per_core_s": r["gbit_per_core_s"], "daemon_cpu_s": r.get("daemon_cpu_s"),
            "app_cpu_s": r.get("app_cpu_s"), "ops_per_app_core_s": r.get("ops_per_app_core_s")}


def gnuplot(script, cwd):
    subprocess.run(["gnuplot"], input=script, text=True, check=True, cwd=cwd, timeout=60)


def plots(out, runs):
    # Latency CDFs: every run that has latencies, one curve each.
    curves = []
    for r in runs:
        cdf = os.path.join("cdf", "%s-%s.dat" % (r["stack"], r["label"]))
        if r.get("lat_ns") and os.path.getsize(os.path.join(out, cdf)) > 0:
            curves.append("'%s' using ($1/1000):2 with steps lw 2 title '%s %s'" %
                          (cdf, r["stack"], r["label"]))
    gp = ["set terminal pngcairo size 1000,640 noenhanced", "set output 'lat_cdf.png'",
          "set title 'RPC latency CDF (kernel TCP and Pony over veth; Pony over memif)'",
          "set logscale x", "set xlabel 'latency (us)'", "set ylabel 'fraction of RPCs'",
          "set yrange [0:1.02]", "set grid", "set key bottom right"]
    gp.append("plot " + ", ".join(curves) if curves else
              "set label 'no latency data' at graph 0.4,0.5\nplot 2 notitle")
    gnuplot("\n".join(gp) + "\n", out)

    # Throughput per core-second by message size, ping-pong cases, one line per stack.
    series = []
    for st in STACKS:
        pts = sorted((r["msg_size"], r["ops_per_core_s"], r["gbit_per_core_s"])
                     for r in runs if r["stack"] == st and r["workload"] == "pingpong"
                     and r["ops_per_core_s"] is not None)
        if not pts:
            continue
        fn = "per_core_%s.dat" % st
        with open(os.path.join(out, fn), "w") as f:
            f.write("# msg_size ops_per_core_s gbit_per_core_s\n")
            for p in pts:
                f.write("%d %s %s\n" % p)
        series.append((st, fn))
    gp = ["set terminal pngcairo size 1200,520 noenhanced", "set output 'per_core.png'",
          "set multiplot layout 1,2 title 'Ping-pong throughput per CPU core-second "
          "(client + server + daemons + ksoftirqd)'",
          "set logscale x 2", "set xlabel 'message size (bytes)'", "set grid",
          "set key top left"]
    for col, ylabel in ((2, "RPCs per core-second"), (3, "Gbit per core-second")):
        gp.append("set ylabel '%s'" % ylabel)
        if series:
            gp.append("plot " + ", ".join("'%s' using 1:%d with linespoints lw 2 pt 7 title '%s'"
                                          % (fn, col, st) for st, fn in series))
        else:
            gp.append("plot 2 notitle")
    gp.append("unset multiplot")
    gnuplot("\n".join(gp) + "\n", out)


def report(out, kernel, ccpus, scpus, quick):
    runs = load_runs(os.path.join(out, "runs.jsonl"))
    # status.txt lines: "<stack> measured" | "<stack> not-measured <reason>" | failures.
    status = {}
    with open(os.path.join(out, "status.txt")) as f:
        for l in f:
            parts = l.strip().split(" ", 2)
            if len(parts) >= 2 and parts[0] in STACKS and parts[1] == "measured":
                status[parts[0]] = "measured"
            elif len(parts) >= 2 and parts[0] in STACKS and parts[1] == "not-measured":
                status[parts[0]] = "not yet measured (%s)" % (parts[2] if len(parts) > 2
                                                               else "no reason given")
            elif l.strip():
                status.setdefault("failures", []).append(l.strip())
    # The servers' own exit summaries (echoed/sunk counts, errors) from raw/server-*.json.
    servers = {}
    raw = os.path.join(out, "raw")
    for fn in sorted(os.listdir(raw)):
        if fn.startswith("server-") and fn.endswith(".json"):
            with open(os.path.join(raw, fn)) as f:
                lines = [l for l in f if l.strip()]
            servers[fn[len("server-"):-len(".json")]] = json.loads(lines[-1]) if lines else None
    meta = {"date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "kernel": kernel,
            "mode": "quick" if quick == "1" else "full", "client_cpus": ccpus,
            "server_cpus": scpus, "cpus_online": os.cpu_count(),
            "topology": "kernel-tcp and pony-afpacket: two network namespaces joined by a veth "
                        "pair, 10.200.0.2 -> 10.200.0.1; pony-memif: two snapnetd daemons "
                        "joined by memif",
            "loadavg_end": open("/proc/loadavg").read().split()[:3], "stacks": status, "servers": servers}
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"meta": meta, "runs": runs}, f, indent=1)

    cols = ["stack", "label", "workload", "msg_size", "conns", "inflight", "ops", "errors",
            "duration_s", "ops_per_s", "gbit_per_s", "p50_us", "p99_us", "p999_us",
            "client_cpu_s", "server_cpu_s", "daemon_cpu_s", "ksoftirqd_cpu_s",
            "softirq_cpu_s_cpuwide", "cpu_core_s", "cpu_core_s_stat", "ops_per_core_s",
            "gbit_per_core_s", "app_cpu_s", "ops_per_app_core_s"]
    with open(os.path.join(out, "results.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for r in runs:
            m = dict(r, p50_us=lat(r, "p50"), p99_us=lat(r, "p99"), p999_us=lat(r, "p999"))
            w.writerow([NA if m.get(c) is None else m.get(c) for c in cols])

    # Side by side: one row per case, every stack's metrics, Pony/kernel ratios.
    cases = []
    for r in runs:
        key = (r["label"], r["workload"], r["msg_size"], r["conns"], r["inflight"])
        if key not in cases:
            cases.append(key)
    by = {(r["stack"], r["label"]): r for r in runs}
    mkeys = list(metrics(None).keys())
    rkeys = ["ops_per_s", "ops_per_core_s", "gbit_per_core_s", "ops_per_app_core_s", "p50_us",
             "p99_us"]
    header = ["case", "workload", "msg_size", "conns", "inflight"]
    header += ["%s_%s" % (st, k) for st in STACKS for k in mkeys]
    header += ["%s_vs_kernel_%s" % (st, k) for st in STACKS if st != BASE for k in rkeys]
    rows = []
    for key in cases:
        ms = {st: metrics(by.get((st, key[0]))) for st in STACKS}
        row = list(key)
        row += [ms[st][k] for st in STACKS for k in mkeys]
        row += [ratio(ms[st][k], ms[BASE][k]) for st in STACKS if st != BASE for k in rkeys]
        rows.append((row, ms))
    with open(os.path.join(out, "compare.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for row, _ in rows:
            w.writerow([NA if v is None else v for v in row])

    plots(out, runs)

    md = ["# Snap-C benchmarks: Pony Express vs the kernel TCP stack", "",
          "- date: %s, mode: %s, kernel %s, %d CPUs online" % (meta["date_utc"], meta["mode"],
                                                            kernel, os.cpu_count()),
          "- topology: %s; client side pinned to CPUs %s, server side to CPUs %s" %
          (meta["topology"], ccpus, scpus),
          "- load average at the end: %s (this machine is shared: other load on the same "
          "CPUs shows up as latency tails)" % " ".join(meta["loadavg_end"])]
    for st in STACKS:
        md.append("- %s: %s" % (st, status.get(st, "not run")))
    for fl in status.get("failures", []):
        md.append("- FAILED: %s" % fl)
    md += ["",
           "CPU core-seconds = client + server (+ snapnetd daemons for Pony) + the ksoftirqd "
           "threads of the pinned CPUs, each from its exact runtime in /proc/<pid>/schedstat; "
           "the utime+stime tick sum from /proc/<pid>/stat is in results.csv (cpu_core_s_stat) "
           "as a cross-check. Softirq work done in a process's context is already in its time "
           "(no IRQ time accounting on this kernel); the CPU-wide softirq ticks of the pinned "
           "CPUs are in results.csv for reference only. The server's share covers the client's "
           "connection set-up too. "
           "Gbit/s counts payload in both directions for RPCs, one direction for streams.",
           "", "## Kernel TCP baseline", "",
           "| case | workload | size | conns | in flight | ops/s | Gbit/s | p50 us | p99 us | "
           "p99.9 us | core-s | ops/core-s | Gbit/core-s |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row, ms in rows:
        m = ms[BASE]
        if m["ops_per_s"] is None:
            continue
        md.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            row[0], row[1], row[2], row[3], row[4], fmt(m["ops_per_s"]),
            fmt(m["gbit_per_s"], 3), fmt(m["p50_us"], 1), fmt(m["p99_us"], 1),
            fmt(m["p999_us"], 1), fmt(m["cpu_core_s"]), fmt(m["ops_per_core_s"]),
            fmt(m["gbit_per_core_s"], 3)))
    md += ["", "## Pony Express vs kernel (ratio = Pony / kernel)", ""]
    unmeasured = [st for st in STACKS if st != BASE and not status.get(st, "").startswith(
        "measured")]
    if unmeasured:
        md += ["Not yet measured: %s (n/a below)." % ", ".join(unmeasured), ""]
    md += ["Pony's daemons poll (a dedicated engine thread per daemon), so their CPU is the "
           "whole core for the whole run whatever the load: ops/core-s counts it (client + "
           "server + daemons + ksoftirqd), app ops/core-s counts the two apps only. Both are "
           "given, with the raw core-seconds.", ""]
    for st in STACKS[1:]:
        if not any(ms[st]["ops_per_s"] is not None for _, ms in rows):
            continue
        md += ["### %s" % st, "",
               "| case | kernel ops/s | Pony ops/s | ratio | kernel p50 us | Pony p50 us | "
               "kernel p99 us | Pony p99 us | p99 ratio | kernel ops/core-s | Pony ops/core-s "
               "| ratio | kernel core-s | Pony core-s (daemons) | Pony app ops/core-s |",
               "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for row, ms in rows:
            k, p = ms[BASE], ms[st]
            if p["ops_per_s"] is None:
                continue
            md.append("| " + " | ".join([
                row[0], fmt(k["ops_per_s"]), fmt(p["ops_per_s"]),
                fmt(ratio(p["ops_per_s"], k["ops_per_s"]), 3),
                fmt(k["p50_us"], 1), fmt(p["p50_us"], 1), fmt(k["p99_us"], 1),
                fmt(p["p99_us"], 1), fmt(ratio(p["p99_us"], k["p99_us"]), 3),
                fmt(k["ops_per_core_s"]), fmt(p["ops_per_core_s"]),
                fmt(ratio(p["ops_per_core_s"], k["ops_per_core_s"]), 3),
                fmt(k["cpu_core_s"]),
                "%s (%s)" % (fmt(p["cpu_core_s"]), fmt(p["daemon_cpu_s"])),
                fmt(p["ops_per_app_core_s"])]) + " |")
        md.append("")
    # Authenticated flows: the same memif pair with every packet tagged (AES-GCM), same run.
    auth_rows = [(row, ms) for row, ms in rows if ms["pony-memif"]["ops_per_s"] is not None
                 and ms["pony-memif-auth"]["ops_per_s"] is not None]
    if auth_rows:
        md += ["## Cost of authenticated flows (pony-memif-auth vs pony-memif)", "",
               "Same daemons, link and cases; the auth variant tags every packet (AES-256-GCM "
               "over header and payload, pony/WIRE.md \"Authentication\"). Ratio = auth / plain.",
               "", "| case | ops/core-s | auth ops/core-s | ratio | Gbit/core-s | "
               "auth Gbit/core-s | ratio | p50 us | auth p50 us |",
               "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for row, ms in auth_rows:
            p, a = ms["pony-memif"], ms["pony-memif-auth"]
            md.append("| " + " | ".join([
                row[0], fmt(p["ops_per_core_s"]), fmt(a["ops_per_core_s"]),
                fmt(ratio(a["ops_per_core_s"], p["ops_per_core_s"]), 3),
                fmt(p["gbit_per_core_s"], 3), fmt(a["gbit_per_core_s"], 3),
                fmt(ratio(a["gbit_per_core_s"], p["gbit_per_core_s"]), 3),
                fmt(p["p50_us"], 1), fmt(a["p50_us"], 1)]) + " |")
        md.append("")
    reads = [r for r in runs if r["workload"] == "read"]
    if not reads:
        md += ["One-sided 64 B reads: not measured (the one-sided API, pony_read, is not in "
               "libpony on this branch).", ""]
    else:
        md += ["read-64: one-sided 64 B reads, one in flight, executed by the server's engine "
               "without the server app (Pony only: the kernel has no counterpart, so no ratio).",
               ""]
    md += ["![latency CDF](lat_cdf.png)", "", "![throughput per core](per_core.png)", ""]
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write("\n".join(md))
    bad = [r for r in runs if r["errors"] or r["ops"] <= 0]
    bad += [n for n, sv in servers.items() if sv is None or sv.get("errors")]
    return 1 if bad or status.get("failures") else 0


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "merge" and len(sys.argv) == 12:
        merge(*sys.argv[2:])
        return 0
    if len(sys.argv) == 3 and sys.argv[1] == "line":
        line(sys.argv[2])
        return 0
    if len(sys.argv) == 7 and sys.argv[1] == "report":
        return report(*sys.argv[2:])
    sys.stderr.write("usage: report.py merge JSON STACK HZ SERVER_TICKS SERVER_NS EXTRA_TICKS EXTRA_NS"
                     " KSOFTIRQD_TICKS KSOFTIRQD_NS SOFTIRQ_TICKS |"
                     " line RUNS.jsonl | report OUT KERNEL CCPUS SCPUS QUICK\n")
    return 2


if __name__ == "__main__":
    sys.exit(main())
