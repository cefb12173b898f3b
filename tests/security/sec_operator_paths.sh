#!/usr/bin/env bash
# Issue 14 item 8, operator actions: the operator group acts with the daemon's uid, so
# `snapctl upgrade --binary` may only run a file of the configured upgrade_dir (root's or the
# daemon's, not group/world-writable, the file too), and `capture --out` may only create a
# file by name in the configured capture_dir: no '..', no symlinked directory, no symlink
# followed, nothing outside. Each refusal says why; no file outside is touched.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib_sec.sh"
mkdir -m 755 "$T/up" "$T/cap" "$T/elsewhere"
printf '#!/bin/sh\ntouch %s/ran\nexit 3\n' "$T" >"$T/evil"; chmod 755 "$T/evil"
cp "$T/evil" "$T/up/gw"; chmod 775 "$T/up/gw"
ln -s "$T/evil" "$T/up/link"
printf 'keep\n' >"$T/victim"; chmod 600 "$T/victim"
ln -s "$T/elsewhere" "$T/caplink"
sec_conf a "upgrade_dir = \"$T/up\"; capture_dir = \"$T/cap\";" >"$T/a.conf"
start_daemon a "$T/a.conf"
S=(--socket "$T/run-a/control.sock")

run_rc rc "$SNAPCTL" "${S[@]}" upgrade --binary "$T/evil"
[ "$rc" -eq 4 ] || fail "upgrade outside upgrade_dir: exit $rc, expected 4"
has "upgrade binary refused: '$T/evil' is outside $T/up"
run_rc rc "$SNAPCTL" "${S[@]}" upgrade --binary "$T/up/gw"
[ "$rc" -eq 4 ] || fail "group-writable upgrade binary: exit $rc, expected 4"
has "not writable by group or others (it is uid 0, mode 0775)"
# snapctl resolves the symlink itself; the daemon is asked for the target, outside.
run_rc rc "$SNAPCTL" "${S[@]}" upgrade --binary "$T/up/link"
[ "$rc" -eq 4 ] || fail "symlinked upgrade binary: exit $rc, expected 4"
has "is outside $T/up"
[ ! -e "$T/ran" ] || fail "a refused upgrade binary ran"

run_rc rc "$SNAPCTL" "${S[@]}" capture p0 --out "$T/cap/../victim" --count 1
[ "$rc" -eq 4 ] || fail "capture to ../: exit $rc, expected 4"
has "is outside $T/cap"
run_rc rc "$SNAPCTL" "${S[@]}" capture p0 --out "$T/caplink/x.pcapng" --count 1
[ "$rc" -eq 4 ] || fail "capture through a symlinked dir: exit $rc, expected 4"
has "is outside $T/cap"
run_rc rc "$SNAPCTL" "${S[@]}" capture p0 --out ".." --count 1
[ "$rc" -eq 4 ] || fail "capture named ..: exit $rc, expected 4"
has "not a file name"
# A symlink inside capture_dir (root planted it: only root and the daemon may write there)
# is replaced by the capture, never written through.
ln -s "$T/victim" "$T/cap/s.pcapng"
run_rc rc "$SNAPCTL" "${S[@]}" capture p0 --out s.pcapng --count 3
[ "$rc" -eq 0 ] || fail "capture by name into capture_dir failed ($rc)"
[ ! -L "$T/cap/s.pcapng" ] && [ -s "$T/cap/s.pcapng" ] || fail "capture did not replace the symlink"
[ "$(cat "$T/victim")" = keep ] && [ "$(stat -c %a "$T/victim")" = 600 ] || fail "victim touched"
stop_daemon a

# capture_dir owned by another user: refused with owner and mode.
chown nobody "$T/cap"
start_daemon a "$T/a.conf"
run_rc rc "$SNAPCTL" "${S[@]}" capture p0 --out x.pcapng --count 1
[ "$rc" -eq 4 ] || fail "capture into nobody's dir: exit $rc, expected 4"
has "refusing capture_dir $T/cap: owned by uid $NOBODY"
stop_daemon a

# No capture_dir: captures are off.
sec_conf a >"$T/a.conf"
start_daemon a "$T/a.conf"
run_rc rc "$SNAPCTL" "${S[@]}" capture p0 --out "$T/x.pcapng" --count 1
[ "$rc" -eq 4 ] || fail "capture without capture_dir: exit $rc, expected 4"
has "captures are disabled"
stop_daemon a
echo PASS
