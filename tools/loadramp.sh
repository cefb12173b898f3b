#!/usr/bin/env bash
# Load-ramp benchmark for engine groups (issue 8): offered load goes up then down over about a
# minute (or a few seconds with --quick) on a compacting group, then the same ramp on a
# spreading and a dedicated group for comparison. Writes the per-step CSV and a PNG timeline
# (threads, offered load, CPU used, p99 queueing delay) per mode, and prints a summary. Fails
# (--check) if an item is lost or reordered, or the compacting group did not grow and shrink back.
# Usage: tools/loadramp.sh [--quick] [--out DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0 out=results/loadramp
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 ;;
    --out) out=$2; shift ;;
    *) echo "usage: $0 [--quick] [--out DIR]" >&2; exit 2 ;;
  esac
  shift
done
LR=${LOADRAMP:-build/tools/loadramp}
[ -x "$LR" ] || { echo "loadramp: $LR not built (meson setup build && ninja -C build)" >&2; exit 1; }
mkdir -p "$out"
if [ $quick -eq 1 ]; then steps=8 step_ms=250; else steps=15 step_ms=2000; fi
# A ramp of 2*steps steps (a minute per mode in full): up to 1.2 cores of offered load and
# back (this box has 2 cores, and the load generator and the control thread need some).
# Items cost 1 us each, about what an engine spends on a packet or an RPC, in batches of up
# to 32 per poll. The compacting target is 100 us (four engines packed on one thread already
# wait 30-60 us for each other's batches at moderate load, so 50 us would keep two threads
# from 0.2 cores up); max_threads 3 is capped at the CPU count.
target_us=100
for mode in compacting spreading dedicated; do
  "$LR" --mode $mode --engines 4 --cost-ns 1000 --max-load 1.2 --steps $steps \
    --step-ms $step_ms --max-threads 3 --target-us $target_us --check >"$out/$mode.csv"
  gnuplot <<GP
set terminal pngcairo size 1000,600
set output "$out/$mode.png"
set datafile separator ","
set title "loadramp: $mode group, 4 engines, 1 us items, target $target_us us (step = $step_ms ms)"
set xlabel "step"
set ylabel "cores / threads"
set y2label "p99 queueing delay (us)"
set y2tics
set ytics nomirror
set key top left
set offsets 0, 0, 0.5, 0
plot "$out/$mode.csv" every ::1 using 2:3 with lines lw 2 title "offered load (cores)", \
     "" every ::1 using 2:4 with lines lw 2 title "CPU used (cores)", \
     "" every ::1 using 2:5 with steps lw 2 title "threads", \
     "" every ::1 using 2:6 axes x1y2 with lines title "p99 queueing delay (us)", \
     $target_us axes x1y2 with lines dt 2 lc rgb "gray" title "compacting target (us)"
GP
  python3 - "$out/$mode.csv" "$mode" "$target_us" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
target = float(sys.argv[3])
peak = max(float(r["offered_cores"]) for r in rows)
thr = [int(r["threads"]) for r in rows]
cpu = [float(r["cpu_cores"]) for r in rows]
p99 = sorted(float(r["p99_us"]) for r in rows)
low = [float(r["cpu_cores"]) for r in rows if float(r["offered_cores"]) <= 0.2 * peak]
print(f"{sys.argv[2]:>10}: threads {min(thr)}..{max(thr)}, CPU {min(cpu):.2f}..{max(cpu):.2f} cores "
      f"(at <=20% load: {max(low) if low else 0:.2f}), p99 queueing delay median {p99[len(p99)//2]:.0f} us, "
      f"max {p99[-1]:.0f} us")
loaded = [float(r["p99_us"]) for r in rows if float(r["offered_cores"]) > 0]
near = sum(1 for v in loaded if v <= 1.5 * target)
print(f"{'':>10}  p99 within 1.5x the {target:.0f} us target in {near} of {len(loaded)} loaded steps")
PY
done
echo "CSV and PNG timelines in $out/"
