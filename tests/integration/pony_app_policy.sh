#!/usr/bin/env bash
# Issue 5 item 4: an app running as a uid the policy does not allow (nobody) is refused with
# a clear message (socket mode 0666 so the refusal comes from the policy, not the file mode);
# once allow_users names that user, the same app attaches. Needs root (setpriv).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pony_lib.sh"
[ "$(id -u)" -eq 0 ] || skip "needs root to run the app as another user"
command -v setpriv >/dev/null || skip "setpriv not installed"
id nobody >/dev/null 2>&1 || skip "no user nobody"
AS_NOBODY=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
run_as_nobody() { "${AS_NOBODY[@]}" "$PONY_RPC" connect -s "$1"; }

conf() { # name extra-daemon-keys
  pony_conf "$1" server $PMA $PIPA $PIPB $PMB "socket_mode = \"0666\"; $2"
}
conf a "" >"$T/a.conf"
start_daemon a "$T/a.conf"
chmod 755 "$T/run-a" 2>/dev/null || true
set +e
out=$(run_as_nobody "$T/run-a/app.sock" 2>&1); rc=$?
set -e
echo "as nobody, default policy: rc=$rc: $out"
[ $rc -eq 3 ] || fail "expected refusal (exit 3), got $rc"
echo "$out" | grep -q "refused uid $(id -u nobody)" || fail "refusal does not name the uid"
echo "$out" | grep -q "allow_users" || fail "refusal does not say how to allow it"
grep -q "refused" "$T/a.log" || fail "daemon did not log the refusal"
$SNAPCTL --socket "$T/run-a/control.sock" apps | grep -q "^app" && fail "refused app listed"
stop_daemon a

rm -rf "$T/run-a"
conf a 'allow_users = [ "nobody" ];' >"$T/a.conf"
start_daemon a "$T/a.conf"
chmod 755 "$T/run-a" 2>/dev/null || true
set +e
out=$(run_as_nobody "$T/run-a/app.sock" 2>&1); rc=$?
set -e
echo "as nobody, allow_users = [nobody]: rc=$rc: $out"
[ $rc -eq 0 ] || fail "allowed user was refused"
stop_daemon a
echo PASS
