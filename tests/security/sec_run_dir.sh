#!/usr/bin/env bash
# Issue 14 item 5, run dir squatting: another user (nobody) pre-creates the daemon's run dir
# so that it can later swap control.sock; the daemon must refuse that dir, naming its owner
# and mode, and likewise a group-writable dir or a symlink. Then a symlink planted at the
# control socket's path (in a world-writable dir) must not be followed: the daemon refuses
# to start and the symlink's target keeps its mode.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib_sec.sh"

# refuse DIR WANT: a daemon whose run dir is DIR exits 1 with WANT in its message.
refuse() {
  sec_conf a >"$T/a.conf"
  sed -i "s|run_dir = \"$T/run-a\"|run_dir = \"$1\"|" "$T/a.conf"
  run_rc rc "$SNAPNETD" -c "$T/a.conf"
  [ "$rc" -eq 1 ] || fail "daemon with run dir $1 exited $rc, expected 1"
  has "$2"
}

mkdir -m 755 "$T/squat"; chown nobody "$T/squat"
refuse "$T/squat" "refusing run dir $T/squat: owned by uid $NOBODY with mode 0755"
mkdir -m 775 "$T/gw"; chmod 775 "$T/gw"
refuse "$T/gw" "refusing run dir $T/gw: owned by uid 0 with mode 0775"
mkdir -m 755 "$T/real"; ln -s "$T/real" "$T/link"
refuse "$T/link" "run dir $T/link: not a directory (or a symlink)"

# A control socket in a shared sticky dir, with nobody's symlink already at its path.
mkdir -m 1777 "$T/shared"
printf 'secret\n' >"$T/victim"; chmod 600 "$T/victim"
"${AS_NOBODY[@]}" ln -s "$T/victim" "$T/shared/control.sock"
sec_conf a "control_socket = \"$T/shared/control.sock\";" >"$T/a.conf"
run_rc rc "$SNAPNETD" -c "$T/a.conf"
[ "$rc" -ne 0 ] || fail "daemon started on a symlinked control socket path"
has "$T/shared/control.sock exists and is not a socket"
[ "$(stat -c %a:%U "$T/victim")" = "600:root" ] || fail "symlink target changed: $(stat -c %a:%U "$T/victim")"

# The default set-up still works: our own fresh run dir, sockets owner+group only.
sec_conf a >"$T/a.conf"
start_daemon a "$T/a.conf"
[ "$(stat -c %a "$T/run-a")" = 755 ] || fail "run dir mode $(stat -c %a "$T/run-a")"
[ "$(stat -c %a "$T/run-a/control.sock")" = 660 ] || fail "control.sock mode"
# No takeover socket at all: the next daemon of an upgrade inherits a socketpair.
[ ! -e "$T/run-a/takeover.sock" ] || fail "a takeover socket exists"
stop_daemon a
echo PASS
