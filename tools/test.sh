#!/usr/bin/env bash
# The whole Snap-C test suite, from a fresh clone: installs missing packages (as root), builds
# with gcc and with clang (warnings are errors in both; the clang build adds ASan/UBSan and
# libFuzzer), then runs the unit, integration, security, upgrade, bench-quick and package
# suites on the gcc build (package: builds the Debian packages once more and installs them in
# a throwaway root), and unit, integration, security, upgrade and fuzz on the clang build.
# Usage: tools/test.sh [--quick]   (--quick: unit suite on the gcc build only)
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
quick=0
[ "${1:-}" = "--quick" ] && quick=1

bash tools/setup.sh
rm -f build-*/meson-logs/testlog-*.json

step() { printf '\n==== %s ====\n' "$*"; }

configure() { # dir, extra args...
  local dir=$1; shift
  if [ -f "$dir/build.ninja" ]; then
    meson setup --reconfigure "$dir" "$@" >/dev/null
  else
    meson setup "$dir" "$@" >/dev/null
  fi
}

step "build (gcc)"
# werror is off by default (distribution builds); CI wants it on.
CC=gcc configure build-gcc -Dtests=true -Dwerror=true
ninja -C build-gcc

suites=(unit)
[ $quick -eq 0 ] && suites+=(integration security bench-quick upgrade package)
if [ $quick -eq 0 ]; then
  step "build (clang, ASan+UBSan, libFuzzer)"
  # -fno-sanitize=alignment: DPDK's x86 CRC inlines (rte_hash_crc.h, used for Pony's
  # checksum) load 8 bytes from unaligned packet offsets, which x86 allows; every other UBSan
  # check stays on and halts.
  CC=clang configure build-clang -Dtests=true -Dwerror=true -Dfuzz=true \
    -Db_sanitize=address,undefined \
    -Db_lundef=false -Dc_args=-fno-sanitize=alignment
  ninja -C build-clang
fi

fail=0
run_suite() { # build dir, suite, parallel jobs
  local dir=$1 suite=$2 jobs=$3
  step "suite $suite ($dir)"
  if ! meson test -C "$dir" --suite "$suite" --num-processes "$jobs" --print-errorlogs \
      --no-rebuild --logbase "testlog-$suite"; then
    fail=1
  fi
}

run_suite build-gcc unit 2
if [ $quick -eq 0 ]; then
  # Integration tests start daemons that poll: one at a time on a 2-core machine.
  for s in integration security upgrade bench-quick package; do run_suite build-gcc "$s" 1; done
  export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
  run_suite build-clang unit 2
  # Real daemons under ASan/UBSan too: memory errors are caught where they happen (the gcc
  # build cannot say why a daemon died).
  for s in integration security upgrade; do run_suite build-clang "$s" 1; done
  # Each fuzzer is one busy thread of its own: two at a time on two cores.
  run_suite build-clang fuzz 2
fi

# One closing line that CI and people can read: totals over every suite that ran.
python3 - "$top" <<'PY'
import json, glob, sys
ok = bad = skip = 0
for f in glob.glob(sys.argv[1] + "/build-*/meson-logs/testlog-*.json"):
    for line in open(f):
        r = json.loads(line)
        res = r.get("result")
        if res in ("OK", "EXPECTEDFAIL"):
            ok += 1
        elif res == "SKIP":
            skip += 1
        else:
            bad += 1
print(f"{ok} passed, {bad} failed, {skip} skipped")
PY
exit $fail
