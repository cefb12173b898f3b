#!/usr/bin/env bash
# Two daemons joined by memif (KIND=vhost: a vhost-user server and a virtio-user client),
# stopped at the same moment (SIGTERM to both, as a host's shutdown or `systemctl stop` of
# two units does), ROUNDS times: each must exit 0 every time. DPDK 22.11's memif PMD tears the link down both in its interrupt thread, on the
# peer's hang-up, and in the thread closing the device, and rte_eal_cleanup then unmaps the
# heap under that interrupt thread: before core/portdev.c and the interrupt thread's parking
# in core/eal.c, about one stop in six here ended in SIGSEGV (see those files).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/host_conf.sh"
SNAPCTL=${SNAPCTL:?SNAPCTL must point at the snapctl binary}
ROUNDS=${ROUNDS:-20}
MA=02:00:00:00:0f:01 MB=02:00:00:00:0f:02
KIND=${KIND:-memif}
port() { # type role mac ip peer-ip peer-mac
  echo "type = \"$1\"; role = \"$2\"; socket = \"$T/$KIND.sock\"; mac = \"$3\";
        ip = \"$4/24\"; neighbours = ( { ip = \"$5\"; mac = \"$6\"; } );"
}
if [ "$KIND" = vhost ]; then ta=vhost tb=virtio_user; else ta=memif tb=memif; fi
host_conf sa "$(port $ta server $MA 10.91.0.1 10.91.0.2 $MB)" >"$T/a.conf"
host_conf sb "$(port $tb client $MB 10.91.0.2 10.91.0.1 $MA)" >"$T/b.conf"
link_up() { "$SNAPCTL" --socket "$T/run-sb/control.sock" --json ports p0 2>/dev/null |
            grep -q '"link_up":true'; }

for r in $(seq "$ROUNDS"); do
  start_daemon a "$T/a.conf"
  start_daemon b "$T/b.conf"
  for _ in $(seq 100); do link_up && break; sleep 0.05; done
  link_up || fail "round $r: the $KIND link did not come up within 5 s"
  kill -TERM "$PID_a" "$PID_b"
  rc_a=0 rc_b=0
  wait "$PID_a" || rc_a=$?
  wait "$PID_b" || rc_b=$?
  [ "$rc_a" -eq 0 ] && [ "$rc_b" -eq 0 ] ||
    fail "round $r: stopped together, the server exited $rc_a and the client $rc_b (139: SIGSEGV)"
  grep -q "snapnetd sa$$ stopped" "$T/a.log" || fail "round $r: the server did not finish its stop"
  grep -q "snapnetd sb$$ stopped" "$T/b.log" || fail "round $r: the client did not finish its stop"
done
echo "$KIND, $ROUNDS rounds: both daemons stopped together exited 0 every time"
