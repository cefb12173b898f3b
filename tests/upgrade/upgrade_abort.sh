#!/usr/bin/env bash
# Failed upgrades must leave the old daemon serving with nothing lost:
#  1. the new binary dies mid-takeover (SNAP_TAKEOVER_DIE_AFTER=1: after restoring the first
#     of two engines, before acking it): the old daemon resumes the engines it had parked;
#  2. the new binary cannot read the old state version (SNAP_TAKEOVER_FAKE_VERSION=99): it
#     refuses before any engine is parked, snapctl reports it (exit 1);
#  2b. the new binary reads the protocol but not one element type's state version
#     (SNAP_TAKEOVER_FAKE_READS=counter:9-9): the old daemon refuses naming the type, before
#     any engine is parked;
#  3. an executable that is not snapnetd (exits at once): error reply, nothing parked;
#  4. v1runtime: the new binary speaks only protocol 1 (SNAP_TAKEOVER_FAKE_VERSION=1, as
#     release 0.1.0), which builds from its config file, and a group was created at run time
#     (an empty one: the engines' path stays as it is): the old daemon refuses in its
#     welcome, naming the change, before parking anything.
# The env vars are read only by the --takeover side; A's spawned binary inherits them.
# B pings A every millisecond throughout; every ping must be answered and A's counter match.
# snapctl's progress must stop at the step that failed (check_progress.py): die after the fds
# (the first engine is restored but never acked), version after the hello, notsnap at once.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib_up.sh"
mkdir -m 755 "$T/bin"
[ "${1:-die}" = notsnap ] && UPGRADE_DIR=$T/bin
PINGS=4000 up_setup
start_daemon b "$T/b.conf"
case ${1:-die} in
  die) start_daemon a "$T/a.conf" env SNAP_TAKEOVER_DIE_AFTER=1 ;;
  version) start_daemon a "$T/a.conf" env SNAP_TAKEOVER_FAKE_VERSION=99 ;;
  elemversion) start_daemon a "$T/a.conf" env SNAP_TAKEOVER_FAKE_READS=counter:9-9 ;;
  notsnap) start_daemon a "$T/a.conf" ;;
  v1runtime) start_daemon a "$T/a.conf" env SNAP_TAKEOVER_FAKE_VERSION=1 ;;
esac
sleep 1
[ "${1:-die}" = v1runtime ] && { SA group create spare --mode spreading || fail "group create"; }
pid=$(a_pid)
bin=$SNAPNETD
case ${1:-die} in die) steps=4 ;; version|elemversion|v1runtime) steps=2 ;; notsnap) steps=1 ;; esac
# The fake must sit in A's upgrade_dir (default: the daemon binary's own dir): put one there.
[ "${1:-die}" = notsnap ] && { printf '#!/bin/sh\nexit 3\n' >"$T/bin/fake"; chmod 755 "$T/bin/fake"; bin=$T/bin/fake; }
for i in 1 2; do
  python3 "$(dirname "$0")/check_progress.py" failed --engines host,side --exit 1 --steps $steps \
    -- "$SNAPCTL" --socket "$T/run-a/control.sock" upgrade --binary "$bin" >"$T/up.out" 2>&1 ||
    { cat "$T/up.out"; fail "upgrade $i: not the error reply (exit 1) after $steps steps"; }
  cat "$T/up.out"
  case ${1:-die} in
    die) grep -q "failed\|lost" "$T/up.out" || fail "no failure reason" ;;
    version) grep -q "state versions 99-99" "$T/up.out" || fail "no version reason" ;;
    elemversion) grep -q "before any blackout: 'counter' state: the new binary reads versions 9-9" \
      "$T/up.out" || fail "no element version reason" ;;
    notsnap) grep -q "exited" "$T/up.out" || fail "no exit reason" ;;
    v1runtime) grep -q "builds from its config file and group spare was created at run time" \
      "$T/up.out" || fail "no run-time change reason" ;;
  esac
  [ "$(a_pid)" = "$pid" ] || fail "another daemon answers A's control socket"
  SA engines | grep -c running | grep -q 2 || fail "engines not running in the old daemon"
  sleep 0.5
done
case ${1:-die} in version|elemversion|v1runtime)
  grep -q "resumed" "$T/a.log" && fail "version refusal parked engines" ;; esac
[ "${1:-die}" = die ] && { grep -q "engine host resumed in the old daemon" "$T/a.log" || fail "host not resumed"; }
pings_wait "$T/run-b/control.sock" host 4000
stop_daemon b
stop_daemon a
sent=$(counter "$T/b.log" host ping sent)
recv=$(counter "$T/b.log" host ping received)
cnt=$(counter "$T/a.log" host cnt packets)
echo "$1: b sent $sent pings, got $recv replies; a's counter $cnt"
[ "$sent" -eq 4000 ] || fail "b sent $sent of 4000"
[ "$recv" -eq "$sent" ] || fail "lost $((sent - recv)) pings across failed upgrades"
[ "$cnt" -eq "$recv" ] || fail "counter $cnt != replies $recv"
echo PASS
