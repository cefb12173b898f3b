#!/usr/bin/env python3
"""Benchmark bookkeeping for run.sh: merges one snapbench JSON line with the CPU readings
run.sh took around it (the processes it accounts and the whole machine), and turns all runs
into results.json, results.csv, compare.csv, results.md and gnuplot PNGs. Every case of
every stack may run several times (--repeat): the tables give the median of the repeats and
their spread, the ratios are ratios of medians, and results.json keeps every run. Stacks
that were not measured stay in the comparison as n/a."""
import csv
import json
import os
import statistics
import subprocess
import sys
import time

BASE = "kernel-tcp"
# Column order of the comparison: the kernel baseline first, then every Pony stack, each in
# every group mode that ran (named STACK/MODE), in the order of --pony-mode.
PONY_BASES = ["pony-afpacket", "pony-memif", "pony-memif-auth", "pony-memif-zc"]
# Variants of pony-memif, each set beside it (same run, per group mode): stack, short name,
# table title, what differs.
MEMIF_VARIANTS = [
    ("pony-memif-auth", "auth", "Cost of authenticated flows",
     "the auth variant tags every packet (AES-256-GCM over header and payload, pony/WIRE.md "
     "\"Authentication\")"),
    ("pony-memif-zc", "zc", "memif zero-copy",
     "the zc variant runs side A's memif client in zero-copy mode (B's daemon reads A's sent "
     "frames from A's mbufs and writes A's received frames into them)"),
]
NA = "n/a"
# The metrics whose spread over the repeats is reported next to their median.
SPREAD_KEYS = ["ops_per_s", "ops_per_core_s", "p50_us", "p99_us"]


def is_stack(name):
    return name == BASE or name.split("/")[0] in PONY_BASES


def fsname(stack):
    """The stack's name in file names (raw/, cdf/): the mode's slash becomes a dot."""
    return stack.replace("/", ".")


def merge(path, stack, *kvs):
    kv = dict(x.split("=", 1) for x in kvs)

    def num(k):
        return int(kv[k])

    with open(path) as f:
        lines = [l for l in f if l.strip()]
    r = json.loads(lines[-1])
    hz = float(kv["hz"])
    r["stack"] = stack
    r["stack_base"], _, mode = stack.partition("/")
    r["pony_mode"] = mode or None
    r["repeat"] = num("repeat")
    r["client_cpu_s"] = r.pop("cpu_s")
    r["server_cpu_s"] = num("server_ns") / 1e9
    r["daemon_cpu_s"] = num("extra_ns") / 1e9
    r["ksoftirqd_cpu_s"] = num("ksoftirqd_ns") / 1e9
    core_s = r["client_cpu_s"] + r["server_cpu_s"] + r["daemon_cpu_s"] + r["ksoftirqd_cpu_s"]
    r["cpu_core_s"] = round(core_s, 4)
    # The apps alone (client + server): what the workload costs outside the daemons. For
    # Pony in a dedicated group the daemons' engines poll, so their share is the whole core
    # whatever the load.
    app_s = r["client_cpu_s"] + r["server_cpu_s"]
    r["app_cpu_s"] = round(app_s, 4)
    r["ops_per_app_core_s"] = round(r["ops"] / app_s, 1) if app_s > 0 else None
    # The same from utime+stime ticks, as a cross-check of the exact runtimes above.
    r["cpu_core_s_stat"] = round(r.pop("cpu_stat_s") + (num("server_ticks") + num("extra_ticks") +
                                                        num("ksoftirqd_ticks")) / hz, 3)
    r["softirq_cpu_s_cpuwide"] = num("softirq_ticks") / hz
    if core_s > 0:
        r["ops_per_core_s"] = round(r["ops"] / core_s, 1)
        r["gbit_per_core_s"] = round(r["bytes"] * 8 / 1e9 / core_s, 4)
    else:
        r["ops_per_core_s"] = None
        r["gbit_per_core_s"] = None
    # The rest of the machine over the same window: its busy time (/proc/stat, all CPUs)
    # minus the CPU of everything the benchmark accounts, with the client's whole life (its
    # set-up and drain are outside the measured interval but inside the window) and the
    # harness shell's own bookkeeping.
    window_s = num("wall_us") / 1e6
    client_all_s = max(num("child_ms") / 1000.0, r["client_cpu_s"])
    harness_s = num("shell_ms") / 1000.0
    own_s = (client_all_s + harness_s + r["server_cpu_s"] + r["daemon_cpu_s"] +
             r["ksoftirqd_cpu_s"])
    busy_s = num("busy_ticks") / hz
    foreign_s = max(0.0, busy_s - own_s)
    # /proc/stat counts ticks per CPU: each of the two readings is up to a tick short on
    # every CPU. A run is busy only when the foreign CPU is above the limit by more than that.
    res_s = 2 * (os.cpu_count() or 1) / hz
    r["window_s"] = round(window_s, 3)
    r["client_total_cpu_s"] = round(client_all_s, 3)
    r["harness_cpu_s"] = round(harness_s, 3)
    r["machine_busy_cpu_s"] = round(busy_s, 3)
    r["foreign_cpu_s"] = round(foreign_s, 3)
    r["foreign_cores"] = round(foreign_s / window_s, 3) if window_s > 0 else None
    r["busy"] = window_s > 0 and (foreign_s - res_s) / window_s > float(kv["busy_limit"])
    r["loadavg_before"] = [float(x) for x in kv["loadavg_before"].split(",")]
    r["loadavg_after"] = [float(x) for x in kv["loadavg_after"].split(",")]
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
    print("[bench] %-22s %-13s r%d %10.0f ops/s %8.3f Gbit/s p50 %s us p99 %s us  %.2f core-s  "
          "%s ops/core-s  foreign %.2f cores%s" % (
              r["stack"], r["label"], r["repeat"], r["ops_per_s"], r["gbit_per_s"],
              lat(r, "p50"), lat(r, "p99"), r["cpu_core_s"], r["ops_per_core_s"],
              r["foreign_cores"] or 0.0, "  BUSY" if r["busy"] else ""))


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


MKEYS = list(metrics(None).keys())


def median(vals):
    vals = [v for v in vals if v is not None]
    return round(statistics.median(vals), 3) if vals else None


def summarize(runs):
    """One entry per (stack, case): the median of every metric over the repeats, the spread
    of SPREAD_KEYS (min, max, rel = (max - min) / median) and how many runs were busy."""
    groups = {}
    for r in runs:
        groups.setdefault((r["stack"], r["label"]), []).append(r)
    out = []
    for (stack, label), rs in groups.items():
        ms = [metrics(r) for r in rs]
        med = {k: median([m[k] for m in ms]) for k in MKEYS}
        spread = {}
        for k in SPREAD_KEYS:
            vals = [m[k] for m in ms if m[k] is not None]
            if not vals:
                spread[k] = None
                continue
            lo, hi = min(vals), max(vals)
            spread[k] = {"min": lo, "max": hi,
                         "rel": round((hi - lo) / med[k], 4) if med[k] else None}
        # The run that stands for the case in the latency CDF plot: the median ops/s.
        rep = sorted(rs, key=lambda r: r["ops_per_s"])[(len(rs) - 1) // 2]
        out.append({"stack": stack, "label": label, "workload": rs[0]["workload"],
                    "msg_size": rs[0]["msg_size"], "conns": rs[0]["conns"],
                    "inflight": rs[0]["inflight"], "runs": len(rs),
                    "repeats": sorted(r["repeat"] for r in rs),
                    "busy_runs": sum(1 for r in rs if r.get("busy")),
                    "foreign_cores_max": max((r.get("foreign_cores") or 0.0) for r in rs),
                    "median": med, "spread": spread, "cdf_repeat": rep["repeat"]})
    return out


def cell(s, key, nd=2):
    """A median with its relative spread in parentheses when there are several runs."""
    if s is None or s["median"][key] is None:
        return NA
    v = fmt(s["median"][key], nd)
    sp = s["spread"].get(key) if key in SPREAD_KEYS else None
    if s["runs"] > 1 and sp and sp["rel"] is not None:
        v += " (%.0f%%)" % (sp["rel"] * 100) if sp["rel"] >= 0.1 else \
             " (%.1f%%)" % (sp["rel"] * 100)
    return v


def med(s, key):
    return None if s is None else s["median"][key]


def busy_cell(*ss):
    return ", ".join("-" if s is None else "%d/%d" % (s["busy_runs"], s["runs"]) for s in ss)


def gnuplot(script, cwd):
    subprocess.run(["gnuplot"], input=script, text=True, check=True, cwd=cwd, timeout=60)


def plots(out, runs, summary, stacks):
    # Latency CDFs: per stack and case, the run with the median ops/s.
    curves = []
    for s in summary:
        cdf = os.path.join("cdf", "%s-%s-r%d.dat" % (fsname(s["stack"]), s["label"],
                                                    s["cdf_repeat"]))
        if s["median"]["p50_us"] is not None and os.path.exists(os.path.join(out, cdf)) \
           and os.path.getsize(os.path.join(out, cdf)) > 0:
            curves.append("'%s' using ($1/1000):2 with steps lw 2 title '%s %s'" %
                          (cdf, s["stack"], s["label"]))
    gp = ["set terminal pngcairo size 1000,640 noenhanced", "set output 'lat_cdf.png'",
          "set title 'RPC latency CDF (kernel TCP and Pony over veth; Pony over memif; "
          "per case the repeat with the median ops/s)'",
          "set logscale x", "set xlabel 'latency (us)'", "set ylabel 'fraction of RPCs'",
          "set yrange [0:1.02]", "set grid", "set key bottom right"]
    gp.append("plot " + ", ".join(curves) if curves else
              "set label 'no latency data' at graph 0.4,0.5\nplot 2 notitle")
    gnuplot("\n".join(gp) + "\n", out)

    # Throughput per core-second by message size, ping-pong cases, one line per stack.
    series = []
    for st in stacks:
        pts = sorted((s["msg_size"], s["median"]["ops_per_core_s"], s["median"]["gbit_per_core_s"])
                     for s in summary if s["stack"] == st and s["workload"] == "pingpong"
                     and s["median"]["ops_per_core_s"] is not None)
        if not pts:
            continue
        fn = "per_core_%s.dat" % fsname(st)
        with open(os.path.join(out, fn), "w") as f:
            f.write("# msg_size ops_per_core_s gbit_per_core_s (medians)\n")
            for p in pts:
                f.write("%d %s %s\n" % p)
        series.append((st, fn))
    gp = ["set terminal pngcairo size 1200,520 noenhanced", "set output 'per_core.png'",
          "set multiplot layout 1,2 title 'Ping-pong throughput per CPU core-second "
          "(client + server + daemons + ksoftirqd; medians)'",
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


def read_status(out):
    """status.txt lines: "<stack> measured" | "<stack> not-measured <reason>" | failures."""
    status = {}
    with open(os.path.join(out, "status.txt")) as f:
        for l in f:
            parts = l.strip().split(" ", 2)
            if len(parts) >= 2 and is_stack(parts[0]) and parts[1] == "measured":
                status[parts[0]] = "measured"
            elif len(parts) >= 2 and is_stack(parts[0]) and parts[1] == "not-measured":
                status[parts[0]] = "not yet measured (%s)" % (parts[2] if len(parts) > 2
                                                               else "no reason given")
            elif l.strip():
                status.setdefault("failures", []).append(l.strip())
    return status


def stack_order(names, modes):
    def key(st):
        base, _, mode = st.partition("/")
        bi = -1 if base == BASE else PONY_BASES.index(base)
        return (bi, modes.index(mode) if mode in modes else len(modes), mode)
    return sorted(set(names), key=key)


def report(out, kernel, ccpus, scpus, quick, *kvs):
    opts = dict(x.split("=", 1) for x in kvs)
    modes = opts.get("pony_modes", "dedicated").split()
    busy_limit = float(opts.get("busy_limit", "0.1"))
    runs = load_runs(os.path.join(out, "runs.jsonl"))
    status = read_status(out)
    stacks = stack_order([st for st in status if st != "failures"] + [r["stack"] for r in runs],
                         modes)
    # The servers' own exit summaries (echoed/sunk counts, errors) from raw/server-*.json.
    servers = {}
    raw = os.path.join(out, "raw")
    for fn in sorted(os.listdir(raw)):
        if fn.startswith("server-") and fn.endswith(".json"):
            with open(os.path.join(raw, fn)) as f:
                lines = [l for l in f if l.strip()]
            servers[fn[len("server-"):-len(".json")]] = json.loads(lines[-1]) if lines else None
    summary = summarize(runs)
    busy = [r for r in runs if r.get("busy")]
    ls = opts.get("loadavg_start")
    meta = {"date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "kernel": kernel,
            "mode": "quick" if quick == "1" else "full", "command": opts.get("command"),
            "repeat": int(opts.get("repeat", "1")), "pony_modes": modes,
            "client_cpus": ccpus, "server_cpus": scpus, "cpus_online": os.cpu_count(),
            "topology": "kernel-tcp and pony-afpacket: two network namespaces joined by a veth "
                        "pair, 10.200.0.2 -> 10.200.0.1; pony-memif: two snapnetd daemons "
                        "joined by memif",
            "loadavg_start": [float(x) for x in ls.split(",")] if ls else None,
            "loadavg_end": [float(x) for x in open("/proc/loadavg").read().split()[:3]],
            "busy_limit_cores": busy_limit, "busy_runs": len(busy), "case_runs": len(runs),
            "stacks": {st: status.get(st, "not run") for st in stacks},
            "failures": status.get("failures", []), "servers": servers}
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"meta": meta, "summary": summary, "runs": runs}, f, indent=1)

    cols = ["stack", "label", "repeat", "pony_mode", "workload", "msg_size", "conns",
            "inflight", "ops", "errors", "duration_s", "ops_per_s", "gbit_per_s", "p50_us",
            "p99_us", "p999_us", "client_cpu_s", "server_cpu_s", "daemon_cpu_s",
            "ksoftirqd_cpu_s", "softirq_cpu_s_cpuwide", "cpu_core_s", "cpu_core_s_stat",
            "ops_per_core_s", "gbit_per_core_s", "app_cpu_s", "ops_per_app_core_s",
            "foreign_cpu_s", "foreign_cores", "busy", "loadavg_before", "loadavg_after"]
    with open(os.path.join(out, "results.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for r in runs:
            m = dict(r, p50_us=lat(r, "p50"), p99_us=lat(r, "p99"), p999_us=lat(r, "p999"),
                     loadavg_before=" ".join(map(str, r.get("loadavg_before", []))),
                     loadavg_after=" ".join(map(str, r.get("loadavg_after", []))))
            w.writerow([NA if m.get(c) is None else m.get(c) for c in cols])

    # Side by side: one row per case, every stack's medians and spreads, Pony/kernel ratios
    # of the medians.
    cases = []
    for s in summary:
        key = (s["label"], s["workload"], s["msg_size"], s["conns"], s["inflight"])
        if key not in cases:
            cases.append(key)
    by = {(s["stack"], s["label"]): s for s in summary}
    rkeys = ["ops_per_s", "ops_per_core_s", "gbit_per_core_s", "ops_per_app_core_s", "p50_us",
             "p99_us"]
    header = ["case", "workload", "msg_size", "conns", "inflight"]
    for st in stacks:
        header += ["%s_%s" % (st, k) for k in MKEYS]
        header += ["%s_%s_spread" % (st, k) for k in SPREAD_KEYS]
        header += ["%s_runs" % st, "%s_busy_runs" % st]
    header += ["%s_vs_kernel_%s" % (st, k) for st in stacks if st != BASE for k in rkeys]
    rows = []
    for key in cases:
        ss = {st: by.get((st, key[0])) for st in stacks}
        row = list(key)
        for st in stacks:
            s = ss[st]
            row += [med(s, k) for k in MKEYS]
            row += [s["spread"][k]["rel"] if s and s["spread"][k] else None for k in SPREAD_KEYS]
            row += [s["runs"] if s else None, s["busy_runs"] if s else None]
        row += [ratio(med(ss[st], k), med(ss[BASE], k)) for st in stacks if st != BASE
                for k in rkeys]
        rows.append((row, ss))
    with open(os.path.join(out, "compare.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for row, _ in rows:
            w.writerow([NA if v is None else v for v in row])

    plots(out, runs, summary, stacks)
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write("\n".join(markdown(meta, status, stacks, rows, runs, busy)))
    bad = [r for r in runs if r["errors"] or r["ops"] <= 0]
    bad += [n for n, sv in servers.items() if sv is None or sv.get("errors")]
    return 1 if bad or status.get("failures") else 0


def markdown(meta, status, stacks, rows, runs, busy):
    la = lambda v: " ".join("%.2f" % x for x in v) if v else NA  # noqa: E731
    md = ["# Snap-C benchmarks: Pony Express vs the kernel TCP stack", "",
          "- date: %s, mode: %s, kernel %s, %d CPUs online" % (
              meta["date_utc"], meta["mode"], meta["kernel"], meta["cpus_online"]),
          "- command: `%s`" % meta["command"],
          "- topology: %s; client side pinned to CPUs %s, server side to CPUs %s" %
          (meta["topology"], meta["client_cpus"], meta["server_cpus"]),
          "- %d run(s) of every case of every stack, interleaved (repeat 1 of every stack, "
          "then repeat 2, ...); every figure is the median of the runs, and in parentheses "
          "the spread of ops/s, ops/core-s, p50 and p99: (max - min) / median" % meta["repeat"],
          "- load average before the run: %s, at the end: %s (1, 5, 15 min; a quiet machine "
          "is under 0.2 before the run)" % (la(meta["loadavg_start"]), la(meta["loadavg_end"])),
          "- **%d of %d case runs flagged busy**: other processes of the machine used more than "
          "%.2f cores on average while the case ran (machine busy time from /proc/stat minus "
          "the CPU of the benchmark's own processes)" % (len(busy), len(runs),
                                                         meta["busy_limit_cores"])]
    for r in busy:
        md.append("  - busy: %s %s repeat %d: %.2f foreign cores, load %s -> %s" % (
            r["stack"], r["label"], r["repeat"], r["foreign_cores"], la(r["loadavg_before"]),
            la(r["loadavg_after"])))
    for st in stacks:
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
           "p99.9 us | core-s | ops/core-s | Gbit/core-s | busy runs |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    if not any(med(ss[BASE], "ops_per_s") is not None for _, ss in rows):
        md.append("| not measured: %s |" % status.get(BASE, "not run") + " |" * 13)
    for row, ss in rows:
        k = ss[BASE]
        if med(k, "ops_per_s") is None:
            continue
        md.append("| " + " | ".join(map(str, row[:5])) + " | " + " | ".join([
            cell(k, "ops_per_s"), fmt(med(k, "gbit_per_s"), 3), cell(k, "p50_us", 1),
            cell(k, "p99_us", 1), fmt(med(k, "p999_us"), 1), fmt(med(k, "cpu_core_s")),
            cell(k, "ops_per_core_s"), fmt(med(k, "gbit_per_core_s"), 3), busy_cell(k)]) + " |")
    pony = [st for st in stacks if st != BASE]
    measured = [st for st in pony if any(med(ss[st], "ops_per_s") is not None for _, ss in rows)]
    md += ["", "## Pony Express vs kernel (ratio = Pony median / kernel median)", ""]
    unmeasured = [st for st in pony if not status.get(st, "").startswith("measured")]
    if unmeasured:
        md += ["Not yet measured: %s (n/a below)." % ", ".join(unmeasured), ""]
    if measured:
        md += ["Every Pony stack in every group mode next to the kernel; the tables per stack "
               "follow.", "",
               "| case | " + " | ".join("%s ops/core-s | p50 | p99" % st for st in measured) +
               " |", "|---|" + "---:|---:|---:|" * len(measured)]
        for row, ss in rows:
            if all(med(ss[st], "ops_per_s") is None for st in measured):
                continue
            md.append("| %s | " % row[0] + " | ".join(
                fmt(ratio(med(ss[st], k), med(ss[BASE], k)), 3) for st in measured
                for k in ("ops_per_core_s", "p50_us", "p99_us")) + " |")
        md.append("")
    md += ["In a dedicated group Pony's daemons poll (a pinned engine thread per daemon), so "
           "their CPU is the whole core for the whole run whatever the load; in a spreading or "
           "compacting group the engine threads sleep when idle. ops/core-s counts it (client "
           "+ server + daemons + ksoftirqd), app ops/core-s counts the two apps only. Both are "
           "given, with the raw core-seconds.", ""]
    for st in measured:
        md += ["### %s" % st, "",
               "| case | kernel ops/s | Pony ops/s | ratio | kernel p50 us | Pony p50 us | "
               "kernel p99 us | Pony p99 us | p99 ratio | kernel ops/core-s | Pony ops/core-s "
               "| ratio | kernel core-s | Pony core-s (daemons) | Pony app ops/core-s | "
               "busy runs (kernel, Pony) |",
               "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for row, ss in rows:
            k, p = ss[BASE], ss[st]
            if med(p, "ops_per_s") is None:
                continue
            md.append("| " + " | ".join([
                row[0], cell(k, "ops_per_s"), cell(p, "ops_per_s"),
                fmt(ratio(med(p, "ops_per_s"), med(k, "ops_per_s")), 3),
                cell(k, "p50_us", 1), cell(p, "p50_us", 1), cell(k, "p99_us", 1),
                cell(p, "p99_us", 1), fmt(ratio(med(p, "p99_us"), med(k, "p99_us")), 3),
                cell(k, "ops_per_core_s"), cell(p, "ops_per_core_s"),
                fmt(ratio(med(p, "ops_per_core_s"), med(k, "ops_per_core_s")), 3),
                fmt(med(k, "cpu_core_s")),
                "%s (%s)" % (fmt(med(p, "cpu_core_s")), fmt(med(p, "daemon_cpu_s"))),
                fmt(med(p, "ops_per_app_core_s")), busy_cell(k, p)]) + " |")
        md.append("")
    # Variants of the memif pair (authenticated flows, zero-copy), each beside pony-memif,
    # same run, per group mode.
    for vstack, vname, title, what in MEMIF_VARIANTS:
        for mode in meta["pony_modes"]:
            plain, var = "pony-memif/" + mode, vstack + "/" + mode
            var_rows = [(row, ss) for row, ss in rows if med(ss.get(plain), "ops_per_s") is not None
                        and med(ss.get(var), "ops_per_s") is not None]
            if not var_rows:
                continue
            md += ["## %s (%s vs %s)" % (title, var, plain), "",
                   "Same daemons, link and cases; %s. Ratio = %s / plain." % (what, vname),
                   "", "| case | ops/core-s | %s ops/core-s | ratio | Gbit/core-s | "
                   "%s Gbit/core-s | ratio | p50 us | %s p50 us |" % (vname, vname, vname),
                   "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
            for row, ss in var_rows:
                p, a = ss[plain], ss[var]
                md.append("| " + " | ".join([
                    row[0], cell(p, "ops_per_core_s"), cell(a, "ops_per_core_s"),
                    fmt(ratio(med(a, "ops_per_core_s"), med(p, "ops_per_core_s")), 3),
                    fmt(med(p, "gbit_per_core_s"), 3), fmt(med(a, "gbit_per_core_s"), 3),
                    fmt(ratio(med(a, "gbit_per_core_s"), med(p, "gbit_per_core_s")), 3),
                    cell(p, "p50_us", 1), cell(a, "p50_us", 1)]) + " |")
            md.append("")
    if not any(r["workload"] == "read" for r in runs):
        md += ["One-sided 64 B reads: not in this run (case read-64, not selected by "
               "--cases; at depth: tools/bench/onesided_bench).", ""]
    else:
        md += ["read-64: one-sided 64 B reads, one in flight, executed by the server's engine "
               "without the server app (Pony only: the kernel has no counterpart, so no ratio).",
               ""]
    md += ["![latency CDF](lat_cdf.png)", "", "![throughput per core](per_core.png)", ""]
    return md


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "merge":
        merge(*sys.argv[2:])
        return 0
    if len(sys.argv) == 3 and sys.argv[1] == "line":
        line(sys.argv[2])
        return 0
    if len(sys.argv) >= 7 and sys.argv[1] == "report":
        return report(*sys.argv[2:])
    sys.stderr.write("usage: report.py merge JSON STACK hz=.. repeat=.. server_ticks=.. server_ns=.."
                     " extra_ticks=.. extra_ns=.. ksoftirqd_ticks=.. ksoftirqd_ns=.."
                     " softirq_ticks=.. busy_ticks=.. child_ms=.. wall_us=.. shell_ms=.. loadavg_before=a,b,c"
                     " loadavg_after=a,b,c busy_limit=CORES |"
                     " line RUNS.jsonl |"
                     " report OUT KERNEL CCPUS SCPUS QUICK [repeat=N] [pony_modes='M ...']"
                     " [busy_limit=CORES] [loadavg_start=a,b,c] [command=...]\n")
    return 2


if __name__ == "__main__":
    sys.exit(main())
