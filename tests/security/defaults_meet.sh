#!/usr/bin/env bash
# Defaults that meet (issue 19): as root, `snapnetd` with no arguments reads the installed
# example config (SNAP_CONFIG_DEFAULT, shown by --help), serves in /run/snapnetd, and a bare
# `snapctl status` and pony_connect(NULL, NULL) reach it. Runs in a private mount namespace
# with the config dir bind-mounted from the test's dir and a tmpfs on /run/snapnetd, so the
# host's files and any real daemon's sockets are never touched.
. "$LIBDIR/lib.sh"
need_root
command -v unshare >/dev/null || skip "no unshare"
conf=$("$SNAPNETD" --help | sed -n 's/.*default \(\/.*snapnetd\.conf\)).*/\1/p')
[ -n "$conf" ] || fail "snapnetd --help names no default config"
confdir=$(dirname "$conf")
mkdir -p "$T/etc"
cp "$(dirname "$0")/../../tools/conf/snapnetd.conf" "$T/etc/snapnetd.conf"
# Mount points must exist on the host; remove the ones made here at exit (if still empty).
for d in "$confdir" /run/snapnetd; do
  if [ ! -d "$d" ]; then mkdir -p "$d"; CLEANUPS+=("rmdir $d"); fi
done
cat >"$T/inner.sh" <<INNER
set -eu
mount --bind "$T/etc" "$confdir"
mount -t tmpfs -o mode=0755 tmpfs /run/snapnetd
"$SNAPNETD" >"$T/d.log" 2>&1 &
pid=\$!
for _ in \$(seq 200); do grep -q '^READY' "$T/d.log" && break; sleep 0.1; done
grep -q '^READY' "$T/d.log" || { echo "FAIL: daemon not ready"; kill \$pid; exit 1; }
rc=0
"$SNAPCTL" status >"$T/status.out" 2>&1 || rc=1
"$SEC_PONY" connect default >"$T/app.out" 2>&1 || rc=\$((rc | 2))
ls -l /run/snapnetd >"$T/rundir.out"
kill -TERM \$pid; wait \$pid || rc=\$((rc | 4))
exit \$rc
INNER
rc=0
unshare --mount --propagation private bash "$T/inner.sh" || rc=$?
cat "$T/status.out" 2>/dev/null | head -5
echo "run dir: $(awk 'NR>1 {print $1, $NF}' "$T/rundir.out" 2>/dev/null | tr '\n' ' ')"
[ $((rc & 1)) -eq 0 ] || { cat "$T/d.log"; fail "bare snapctl status did not reach the daemon"; }
[ $((rc & 2)) -eq 0 ] || { cat "$T/app.out"; fail "pony_connect(NULL, NULL) did not reach the daemon"; }
[ $((rc & 4)) -eq 0 ] || { tail "$T/d.log"; fail "daemon did not stop cleanly"; }
[ "$rc" -eq 0 ] || { cat "$T/d.log"; fail "inner script failed ($rc)"; }
grep -q "reads\|config\|snapnetd" "$T/d.log" || true
grep -q "control.sock" "$T/rundir.out" && grep -q "app.sock" "$T/rundir.out" ||
  fail "sockets not in /run/snapnetd"
echo "snapnetd with no arguments read $conf; snapctl and libpony met it in /run/snapnetd"
echo PASS
