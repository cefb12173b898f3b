#!/usr/bin/env python3
"""Run `snapctl ... upgrade ...` and check that its progress is live (upgrade tests).

usage: check_progress.py MODE [--engines NAME,NAME..] [--slow-ms N] [--exit N] [--steps N]
                           -- CMD...

Every stdout line of CMD is stamped with the monotonic time it arrived and echoed (for the
test log); stderr passes through. MODE is what the output must be:
  human  the progress lines in order (started, hello, version, fds, one per engine in
         --engines order, apps, released, running), then the three result lines
  json   the same steps as one JSON object per line (each with "phase"), then the
         UpgradeReply object last
  none   (--no-progress) no progress line at all, only the result lines
  failed a prefix of the steps (--steps N: that many), no result (with --exit 1)
Live means: a step the daemon reported T ms before its last step reached us at least T/2
ms (less 5 ms of slack) before the last line, and at least one step (the new daemon's
start-up) was 20 ms or more before the end, so batching at the end cannot pass. --slow-ms N
(SNAP_TAKEOVER_ACK_DELAY_MS=N) also requires engine k+1 to be reported >= N ms after engine
k: then the per-engine lines, sent while engines are parked, are timed too.
Exits 0, or 1 with a FAIL line.
"""
import json
import re
import subprocess
import sys
import time

STEPS = ["started", "hello", "version", "fds", "engine", "apps", "released", "running"]
HUMAN = [
    ("started", r"started \S+ as pid \d+$"),
    ("hello", r"new daemon pid \d+ \(build \S+\) started up and connected$"),
    ("version", r"state version \d+ checked"),
    ("fds", r"\d+ fds passed"),
    ("engine", r"engine (\d+) of (\d+) \((\S+)\) moved in [\d.]+ ms, \d+ bytes of state$"),
    ("apps", r"\d+ apps? handed over"),
    ("released", r"old daemon stopped its \d+ ports? and closed the takeover socket$"),
    ("running", r"new daemon started its ports and runs the engines$"),
]
RESULT = [r"blackout per engine: ", r"brownout \d+ us, \d+ fds passed$",
          r"upgraded to \S+ \(build \S+\): new pid \d+, blackout \d+ us, \d+ engines? moved$"]


LIVE_TAIL_MS = 40


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def parse_human(line):
    """(phase, elapsed_ms, engine (index, total, name) or None), or None if not a step."""
    m = re.match(r"\s*([\d.]+) ms  (.*)$", line)
    if not m:
        return None
    for phase, rx in HUMAN:
        e = re.match(rx, m.group(2))
        if e:
            eng = (int(e.group(1)), int(e.group(2)), e.group(3)) if phase == "engine" else None
            return phase, float(m.group(1)), eng
    fail("unrecognised progress line: " + line)


def parse_json(line):
    try:
        o = json.loads(line)
    except ValueError as err:
        fail("not JSON (%s): %s" % (err, line))
    if "phase" not in o:
        return None, o
    eng = None
    if o["phase"] == "engine":
        eng = (o["engine_index"], o["engines_total"], o["engine"])
    return (o["phase"], o["elapsed_us"] / 1000.0, eng), o


def main():
    args = sys.argv[1:]
    if "--" not in args or not args:
        fail("usage: check_progress.py MODE [options] -- CMD...")
    cut = args.index("--")
    opts, cmd = args[:cut], args[cut + 1:]
    mode, engines, slow_ms, want_exit, n_steps = opts[0], [], 0, 0, None
    i = 1
    while i < len(opts):
        if opts[i] == "--engines":
            engines = opts[i + 1].split(",")
        elif opts[i] == "--slow-ms":
            slow_ms = float(opts[i + 1])
        elif opts[i] == "--exit":
            want_exit = int(opts[i + 1])
        elif opts[i] == "--steps":
            n_steps = int(opts[i + 1])
        else:
            fail("unknown option " + opts[i])
        i += 2

    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE)
    lines = []  # (arrival ms, text)
    for raw in p.stdout:
        now = (time.monotonic() - t0) * 1000.0
        text = raw.decode(errors="replace").rstrip("\n")
        print("%10.1f  %s" % (now, text), flush=True)
        lines.append((now, text))
    rc = p.wait()
    if rc != want_exit:
        fail("%s exited %d, want %d" % (cmd[0], rc, want_exit))

    steps, rest = [], []  # steps: (arrival, phase, elapsed ms, engine)
    for at, text in lines:
        if mode == "json":
            st, obj = parse_json(text)
            if st is None:
                rest.append((at, obj))
                continue
        else:
            st = parse_human(text)
            if st is None:
                rest.append((at, text))
                continue
        if rest:
            fail("progress line after the result: " + text)
        steps.append((at,) + st)

    if mode == "none":
        if steps:
            fail("progress lines although none was asked for")
    phases = [s[1] for s in steps]
    want = [p for p in STEPS if p != "engine"]
    k = want.index("apps")
    want = want[:k] + ["engine"] * len(engines) + want[k:]
    if mode in ("human", "json"):
        if phases != want:
            fail("steps %s, want %s" % (phases, want))
    elif mode == "failed":
        if not phases or phases != want[:len(phases)] or len(phases) == len(want):
            fail("steps %s are not a strict prefix of %s" % (phases, want))
        if n_steps is not None and len(phases) != n_steps:
            fail("%d steps %s before the error, want %d" % (len(phases), phases, n_steps))
        if rest:
            fail("a result although the upgrade failed")
        print("failed upgrade: %d steps reported before the error" % len(phases))
        return
    got = [s[3] for s in steps if s[1] == "engine"]
    want_eng = [(n + 1, len(engines), name) for n, name in enumerate(engines)]
    if mode != "none" and got != want_eng:
        fail("engine steps %s, want %s" % (got, want_eng))
    el = [s[2] for s in steps]
    if el != sorted(el):
        fail("elapsed times go backwards: %s" % el)

    # The result.
    if mode == "json":
        if len(rest) != 1:
            fail("%d lines after the steps, want the reply alone" % len(rest))
        r = rest[0][1]
        if r.get("engines_moved") != len(engines) or "new_pid" not in r or \
                len(r.get("engine_blackout_us", [])) != len(engines):
            fail("bad reply object %s" % r)
    else:
        if len(rest) != len(RESULT) or not all(re.match(rx, t) for rx, (_, t) in zip(RESULT, rest)):
            fail("result lines %s" % [t for _, t in rest])
        names = engines if mode == "human" else ["#%d" % (n + 1) for n in range(len(engines))]
        per = rest[0][1][len("blackout per engine: "):].split(", ")
        if [x.split(" ")[0] for x in per] != names:
            fail("blackout per engine %s, want %s" % (per, names))
    if mode == "none":
        print("no progress asked, none sent; result as before")
        return

    # Live: compare when each step reached us with when the daemon reported it. Steps of the
    # last LIVE_TAIL_MS may come with the result: a stall of the old daemon's control thread
    # there (its port's release, a host stealing CPU under ASan: 23 ms once in CI) batches
    # them without saying anything about the steps before, which a batching daemon would
    # hold back too.
    end_at, end_el = rest[-1][0], el[-1]
    for at, phase, e, _ in steps:
        if end_el - e >= LIVE_TAIL_MS and end_at - at < (end_el - e) / 2 - 5:
            fail("step %s (daemon: %.1f ms before the end) reached snapctl's output only %.1f "
                 "ms before the end: not live" % (phase, end_el - e, end_at - at))
    if end_el - el[0] < 20:
        fail("whole upgrade took %.1f ms: too short to tell live from batched" % (end_el - el[0]))
    if slow_ms:
        eng_el = [s[2] for s in steps if s[1] == "engine"]
        gaps = [b - a for a, b in zip(eng_el, eng_el[1:])]
        if not gaps or min(gaps) < slow_ms:
            fail("engine steps %s ms apart, want >= %g (SNAP_TAKEOVER_ACK_DELAY_MS)" % (gaps, slow_ms))
    first_engine = next(s for s in steps if s[1] == "engine")
    print("live: %d steps; 'started' %.1f ms and engine 1 %.1f ms before the result "
          "(daemon: %.1f / %.1f ms)" % (len(steps), end_at - steps[0][0], end_at - first_engine[0],
                                        end_el - el[0], end_el - first_engine[2]))


main()
