#!/usr/bin/env python3
"""Issue 19 test helper: a strict OpenMetrics text parser (the subset snapnetd writes:
counter families with # TYPE/# HELP, labelled _total samples, # EOF), and a client for DPDK's
telemetry socket (SOCK_SEQPACKET; no dpdk-telemetry.py needed). Loaded by metrics.sh with
importlib, or run as
  metrics_check.py parse FILE            -> prints one "family{labels} value" per sample
  metrics_check.py telemetry SOCK CMD... -> prints each command's JSON reply, one per line
"""
import json
import re
import socket
import sys

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')


def parse(text):
    """Return {(family, frozenset(labels)): value}; raise ValueError on any deviation."""
    if not text.endswith("# EOF\n"):
        raise ValueError("text does not end with '# EOF\\n'")
    lines = text[: -len("# EOF\n")].split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    families, cur, out = set(), None, {}
    for n, line in enumerate(lines, 1):
        m = re.fullmatch(r"# TYPE (%s) (counter|gauge|unknown)" % NAME, line)
        if m:
            if m.group(1) in families:
                raise ValueError("line %d: family %s declared twice" % (n, m.group(1)))
            families.add(m.group(1))
            cur = m.group(1)
            continue
        m = re.fullmatch(r"# HELP (%s) (.*)" % NAME, line)
        if m:
            if m.group(1) != cur:
                raise ValueError("line %d: HELP for %s inside family %s" % (n, m.group(1), cur))
            continue
        if line.startswith("#") or line.strip() != line or not line:
            raise ValueError("line %d: unexpected %r" % (n, line))
        m = re.fullmatch(r"(%s)\{(.*)\} ([0-9]+)" % NAME, line)
        if not m or cur is None or m.group(1) != cur + "_total":
            raise ValueError("line %d: sample %r not a %s_total sample" % (n, line, cur))
        labels, rest = {}, m.group(2)
        while rest:
            lm = LABEL.match(rest)
            if not lm or lm.group(1) in labels:
                raise ValueError("line %d: bad labels %r" % (n, m.group(2)))
            labels[lm.group(1)] = re.sub(r"\\(.)", lambda e: "\n" if e.group(1) == "n" else e.group(1), lm.group(2))
            rest = rest[lm.end():]
            if rest and not rest.startswith(","):
                raise ValueError("line %d: bad labels %r" % (n, m.group(2)))
            rest = rest[1:]
        key = (cur, frozenset(labels.items()))
        if key in out:
            raise ValueError("line %d: duplicate sample %r" % (n, line))
        out[key] = int(m.group(3))
    return out


def telemetry(path, cmds):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(20)
    s.connect(path)
    info = json.loads(s.recv(16384))
    replies = []
    for c in cmds:
        s.send(c.encode())
        replies.append(json.loads(s.recv(info["max_output_len"])))
    s.close()
    return info, replies


if __name__ == "__main__":
    if sys.argv[1] == "parse":
        for (fam, labels), v in sorted(parse(open(sys.argv[2]).read()).items(), key=str):
            print("%s{%s} %d" % (fam, ",".join("%s=%s" % kv for kv in sorted(labels)), v))
    elif sys.argv[1] == "telemetry":
        _, rep = telemetry(sys.argv[2], sys.argv[3:])
        for r in rep:
            print(json.dumps(r))
