#!/usr/bin/env python3
"""Run a command and report the peak resident memory of its whole process tree.

``python scripts/treerss.py -- pytest manifests --engine all`` prints, when the command ends,
the peak of the tree's summed RSS and each program's own peak (pytest, every runner). Sampled
from /proc every 100 ms, so a spike shorter than that can be missed. The command's exit status
is passed on.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            out += [int(c) for c in (task / "children").read_text().split()]
    except OSError:
        pass
    return out


def _tree(pid: int) -> list[int]:
    seen, todo = [], [pid]
    while todo:
        p = todo.pop()
        seen.append(p)
        todo += _children(p)
    return seen


def _rss(pid: int) -> tuple[str, int]:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "", 0
    kb = next((int(x.split()[1]) for x in status.splitlines() if x.startswith("VmRSS:")), 0)
    name = " ".join(Path(c.decode(errors="replace")).name for c in cmd[:3] if c)
    return name, kb << 10


def peak_tree_rss(cmd: list[str], **popen: Any) -> tuple[int, int]:
    """Run `cmd`; (exit status, peak summed RSS of its process tree in bytes)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **popen)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, sum(_rss(p)[1] for p in _tree(proc.pid)))
        time.sleep(0.1)
    return proc.returncode, peak


def main(argv: list[str]) -> int:
    if "--" in argv:
        argv = argv[argv.index("--") + 1:]
    proc = subprocess.Popen(argv)
    peak_total = 0
    peak_by: dict[str, int] = defaultdict(int)
    while proc.poll() is None:
        total = 0
        for pid in _tree(proc.pid):
            name, rss = _rss(pid)
            total += rss
            peak_by[name] = max(peak_by[name], rss)
        peak_total = max(peak_total, total)
        time.sleep(0.1)
    top = sorted(peak_by.items(), key=lambda kv: -kv[1])[:12]
    print(json.dumps({"peak_tree_mib": round(peak_total / 2**20, 1),
                      "peak_by_program_mib": {k: round(v / 2**20, 1) for k, v in top}}, indent=1),
          file=sys.stderr)
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
