# Helpers of the security tests run with a local attacker (sourced after lib.sh): the
# attacker runs as nobody under the system's python3 (sock_flood.py), and status counters
# are read from `snapctl --json status`.
[ "$(id -u)" -eq 0 ] || skip "needs root to run the attacker as nobody"
command -v setpriv >/dev/null || skip "setpriv not installed"
id nobody >/dev/null 2>&1 || skip "no user nobody"
# The system's interpreter, not a user's shim nobody cannot run.
PY=/usr/bin/python3
[ -x "$PY" ] || skip "no /usr/bin/python3"
AS_NOBODY=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
FLOOD="$(dirname "${BASH_SOURCE[0]}")/sock_flood.py"

# status_counter SOCKET NAME: a counter of `snapctl status` (0 when absent).
status_counter() {
  "$SNAPCTL" --socket "$1" --json status | "$PY" -c 'import json,sys
d=json.load(sys.stdin); n=sys.argv[1]
print(next((int(c["value"]) for c in d.get("counters", []) if c["name"]==n), 0))' "$2"
}

# start_flood NAME ARGS...: sock_flood.py ARGS as nobody, output in $T/NAME.log; it holds its
# connections until fd 9 (opened here on the first call) is closed or the test ends.
start_flood() {
  local name=$1; shift
  if [ ! -p "$T/hold" ]; then
    mkfifo "$T/hold"
    CLEANUPS+=("exec 9>&-")
  fi
  "${AS_NOBODY[@]}" "$PY" "$FLOOD" "$@" <"$T/hold" >"$T/$name.log" 2>&1 &
  PIDS+=("$!")
  [ -e /dev/fd/9 ] || exec 9>"$T/hold"
}

# wait_flood NAME WORD SECS: wait until the attacker printed its line starting with WORD.
wait_flood() {
  for _ in $(seq $(($3 * 10))); do
    grep -q "^$2" "$T/$1.log" && return 0
    sleep 0.1
  done
  cat "$T/$1.log"
  fail "attacker $1 did not report '$2' within $3 s"
}
