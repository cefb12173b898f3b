#!/usr/bin/env python3
"""Plot of tools/bench/qos.sh's results: the critical RPC stream's p50 and p99 per case
(unloaded, with classes, without classes, critical overload without admission, at an SLO
nothing meets, and with admission) with the SLO of the overload case, and the overload's
downgrade share in the title; the overload cases' p99 as daemon A measures it as a mark.
Usage: qos_plot.py QOS.JSONL OUT.PNG"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

rows = {r["case"]: r for r in map(json.loads, open(sys.argv[1]))}
order = [c for c in ("unloaded", "classes", "noclasses", "overload-noac", "overload-floor",
                    "overload") if c in rows]
labels = {"unloaded": "unloaded", "classes": "bulk, classes", "noclasses": "bulk, no classes",
          "overload-noac": "critical\noverload,\nno admission",
          "overload-floor": "overload,\nSLO 1 us\n(the floor)",
          "overload": "overload,\nadmission\n(admitted)"}
p50, p99 = [], []
for c in order:
    admitted = c in ("overload", "overload-floor")
    lat = rows[c]["lat_in_class_ns"] if admitted else rows[c]["lat_ns"]
    p50.append(lat["p50"] / 1000)
    p99.append(lat["p99"] / 1000)
fig, ax = plt.subplots(figsize=(9, 4.8))
x = range(len(order))
ax.bar([i - 0.2 for i in x], p50, 0.4, label="p50")
ax.bar([i + 0.2 for i in x], p99, 0.4, label="p99")
# The overload cases' p99 as daemon A measures it (what admission control holds to the SLO).
dx = [i + 0.2 for i, c in enumerate(order) if "daemon" in rows[c]]
dy = [rows[c]["daemon"]["p99_ns"] / 1000 for c in order if "daemon" in rows[c]]
if dx:
    ax.scatter(dx, dy, marker="_", s=900, color="black", zorder=3,
               label="p99 in the daemon (critical RPCs)")
ax.set_xticks(list(x))
ax.set_xticklabels([labels[c] for c in order])
ax.set_ylabel("64 B critical RPC latency (us, log scale)")
ax.set_yscale("log")
title = "Pony priority classes over memif"
if "overload" in rows:
    o = rows["overload"]
    ax.axhline(o["slo_us"], color="red", linestyle="--", label="SLO (overload case)")
    title += " - overload: %.0f%% downgraded" % (100 * o["downgrade_share"])
ax.set_title(title)
ax.legend()
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=120)
