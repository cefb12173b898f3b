# Helpers for the security tests (sourced after tests/integration/lib.sh).
SNAPCTL=${SNAPCTL:?}
[ "$(id -u)" -eq 0 ] || skip "needs root to play a second user (nobody)"
command -v setpriv >/dev/null || skip "setpriv not installed"
id nobody >/dev/null 2>&1 || skip "no user nobody"
AS_NOBODY=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
NOBODY=$(id -u nobody)
# The squatter runs as nobody: a python3 nobody can execute (not a root-only shim).
PY=/usr/bin/python3
[ -x "$PY" ] || skip "no /usr/bin/python3 for the squatter"

# sec_conf NAME [EXTRA_DAEMON_KEYS]: ring_pinger_conf (lib.sh) under the name secNAME, so the
# run dir is $T/run-NAME as the tests expect.
sec_conf() { ring_pinger_conf "$1" "${2:-}"; }

# squat KIND PATH LOG: nobody listens on PATH (PATH and LOG in a dir nobody may write), logging what it
# is sent; killed at exit.
squat() {
  "${AS_NOBODY[@]}" "$PY" "$(dirname "$0")/squat.py" "$1" "$2" "$3" >"$3.out" 2>&1 &
  PIDS+=("$!")
  for _ in $(seq 100); do grep -q listening "$3.out" 2>/dev/null && return 0; sleep 0.05; done
  fail "squatter did not start: $(cat "$3.out")"
}

# run_rc VAR CMD...: run CMD, its output in $T/out, its exit status in VAR.
run_rc() {
  local _v=$1 _r=0; shift
  "$@" >"$T/out" 2>&1 || _r=$?
  eval "$_v=$_r"
  cat "$T/out"
}
has() { grep -q -- "$1" "$T/out" || fail "output lacks '$1'"; }
