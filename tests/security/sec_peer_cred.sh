#!/usr/bin/env bash
# Issue 14 item 5, socket squatting: another user (nobody) listens on control.sock and
# app.sock in a dir it can write but does not own (root's, mode 1777: the old /tmp defaults).
# snapctl (as root, about to ask for an upgrade) and libpony's pony_connect must refuse that
# server by its SO_PEERCRED uid, say so, and send it nothing.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib_sec.sh"
SEC_PONY=${SEC_PONY:?}
mkdir -m 1777 "$T/shared"
squat stream "$T/shared/control.sock" "$T/shared/ctl.got"
squat seqpacket "$T/shared/app.sock" "$T/shared/app.got"

run_rc rc "$SNAPCTL" --socket "$T/shared/control.sock" upgrade --binary /bin/true
[ "$rc" -eq 4 ] || fail "snapctl exited $rc, expected 4 (permission)"
has "peer credentials say uid $NOBODY"
has "only root or the owner of $T/shared (uid 0"
[ ! -s "$T/shared/ctl.got" ] || fail "the squatter received $(wc -c <"$T/shared/ctl.got") bytes of snapctl's request"

run_rc rc "$SEC_PONY" connect "$T/shared/app.sock"
[ "$rc" -eq 3 ] || fail "pony_connect to a squatter: exit $rc, expected 3 (refused)"
has "Operation not permitted"
has "peer credentials say uid $NOBODY"
[ ! -s "$T/shared/app.got" ] || fail "the squatter received libpony's hello"

# The same clients still reach a real daemon (root, its own run dir).
cat >"$T/a.conf" <<CONF
daemon = { name = "secp$$"; run_dir = "$T/run-a"; memory_mb = 128; };
CONF
start_daemon a "$T/a.conf"
run_rc rc "$SNAPCTL" --socket "$T/run-a/control.sock" status
[ "$rc" -eq 0 ] || fail "snapctl refused the real daemon"
stop_daemon a
echo PASS
