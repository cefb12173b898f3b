#!/usr/bin/env bash
# Issue 16, memif zero-copy (core/portzc.c): a zero-copy memif client lets its server read and
# write the daemon's whole DPDK memory, so the daemon refuses zero_copy unless only root or
# its own user can have put the server's socket there: a socket directory another user may
# write (a sticky shared dir like /tmp, or nobody's own) is refused at start with the reason,
# and no connection is made. The same directory in copy mode, and zero_copy in the daemon's
# own directory, start; `snapctl ports` says which mode the port runs. A zero_copy server, a
# zero_copy non-memif port and too few mbufs for the rings are config errors.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib_sec.sh"

# zc_conf NAME SOCKET PORT_EXTRA: a daemon with one memif client port.
zc_conf() {
  cat <<CONF
daemon = { name = "zc$1$$"; run_dir = "$T/run-$1"; memory_mb = 128; };
ports = ( { name = "p0"; type = "memif"; role = "client"; socket = "$2"; ip = "10.0.0.1/24";
            $3 } );
engines = ( { name = "e"; elements = (
    { name = "rx"; type = "port_rx"; port = "p0"; }, { name = "d"; type = "drop"; } );
  links = ( "rx -> d" ); } );
CONF
}
# refuse RC CONF WANT...: the daemon exits RC (1: refused at start, 2: a config error), its
# message has each WANT.
refuse() {
  local want_rc=$1 conf=$2; shift 2
  run_rc rc "$SNAPNETD" -c "$conf"
  [ "$rc" -eq "$want_rc" ] || fail "daemon with $(grep -o 'socket = "[^"]*"' "$conf") exited $rc, expected $want_rc"
  for w in "$@"; do has "$w"; done
}

# A nobody-owned listener at the path would have been the server; it must see nothing.
mkdir -m 1777 "$T/shared"
squat seqpacket "$T/shared/memif.sock" "$T/shared/squat.log"
zc_conf a "$T/shared/memif.sock" "zero_copy = true;" >"$T/a.conf"
refuse 1 "$T/a.conf" "port p0: zero_copy lets the memif server read and write this daemon's memory" \
  "refusing socket directory $T/shared: owned by uid 0 with mode 1777"
mkdir -m 755 "$T/theirs"; chown nobody "$T/theirs"
zc_conf a "$T/theirs/memif.sock" "zero_copy = true;" >"$T/a.conf"
refuse 1 "$T/a.conf" "refusing socket directory $T/theirs: owned by uid $NOBODY with mode 0755"
grep -q "accepted" "$T/shared/squat.log.out" 2>/dev/null && fail "the refused daemon connected to the squatter"

# Config errors.
sed -i 's/role = "client"/role = "server"/' "$T/a.conf"
refuse 2 "$T/a.conf" "zero_copy is for a memif client only"
zc_conf a "memif.sock" "zero_copy = true; mbufs = 2048;" >"$T/a.conf"
refuse 2 "$T/a.conf" "a zero_copy memif client needs at least 6144 mbufs"

# Copy mode in the shared dir starts (nothing of ours is exposed); so does zero-copy in the
# daemon's own run dir (a relative socket), and each says which it is.
zc_conf a "$T/shared/memif.sock" "" >"$T/a.conf"
start_daemon a "$T/a.conf"
run_rc rc "$SNAPCTL" --socket "$T/run-a/control.sock" ports
has "memif zero-copy off"
stop_daemon a
zc_conf a "memif.sock" "zero_copy = true;" >"$T/a.conf"
start_daemon a "$T/a.conf"
run_rc rc "$SNAPCTL" --socket "$T/run-a/control.sock" ports
has "memif zero-copy on"
run_rc rc "$SNAPCTL" --socket "$T/run-a/control.sock" --json ports
has '"zero_copy":true'
stop_daemon a
echo PASS
