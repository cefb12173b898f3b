#!/usr/bin/env bash
# Groups, idle CPU (issue 8): four idle engines in a spreading group, then in a compacting
# group, must together use under 2% of one core over 10 s (from /proc/PID/stat); a dedicated
# group's polling thread uses its core fully, by design (printed, not asserted beyond > 50%).
# The engines are Pony engines (timers and app doorbells only, no port), which is what an
# idle host's transport engines look like.
. "$(dirname "$0")/lib.sh"
SECS=${IDLE_SECS:-10}
HZ=$(getconf CLK_TCK)

conf() { # name mode
  {
    echo "daemon = { name = \"idle$1$$\"; run_dir = \"$T/run-$1\"; memory_mb = 128; };"
    echo "groups = ( { name = \"g\"; mode = \"$2\"; } );"
    echo "engines = ("
    for i in 1 2 3 4; do
      [ $i -gt 1 ] && echo ","
      echo "{ name = \"e$i\"; group = \"g\"; elements = ( { name = \"pony\"; type = \"pony\"; ip = \"10.99.0.$i\"; apps = 1; } ); }"
    done
    echo ");"
  } >"$T/$1.conf"
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

measure() { # name mode -> prints percent of one core
  conf "$1" "$2"
  start_daemon "$1" "$T/$1.conf"
  local pid
  eval "pid=\$PID_$1"
  sleep 1 # let start-up settle
  local a b
  a=$(cpu_ticks "$pid")
  sleep "$SECS"
  b=$(cpu_ticks "$pid")
  stop_daemon "$1"
  python3 -c "print(f'{100.0 * ($b - $a) / $HZ / $SECS:.2f}')"
}

sp=$(measure sp spreading)
cp=$(measure cp compacting)
ded=$(IDLE_SECS=2 SECS=2 measure dd dedicated)
echo "idle CPU over ${SECS} s, 4 engines: spreading ${sp}% of a core, compacting ${cp}%; dedicated (1 polling thread, by design) ${ded}%"
python3 -c "import sys; sys.exit(0 if $sp < 2.0 else 1)" || fail "spreading group used ${sp}% (limit 2%)"
python3 -c "import sys; sys.exit(0 if $cp < 2.0 else 1)" || fail "compacting group used ${cp}% (limit 2%)"
python3 -c "import sys; sys.exit(0 if $ded > 50.0 else 1)" || fail "dedicated group used only ${ded}%: it should poll"
echo PASS
