"""Bench mode: the bare in-process loop over plans, which the suite's per-item cost is compared to.

Every plan of the file runs once to warm up (compile, fill the caches), then the whole list runs
`repeat` times through the same function the protocol loop uses, with no JSON round trip and no
observation written. One JSON line goes to stdout: the per-plan wall times of the timed runs,
their CPU time per plan, and the module cache's hits and misses during them.
"""

from __future__ import annotations

import json
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def bench(eng: Any, execute: Callable[[Any, Any], dict[str, Any]], plans_file: Path,
          repeat: int) -> int:
    """`execute(eng, plan)` is the runner's plan function; `eng.modules` its module cache."""
    if repeat < 1:
        print("--repeat must be at least 1", file=sys.stderr)
        return 2
    with plans_file.open(encoding="utf-8") as f:
        plans = [json.loads(line) for line in f if line.strip()]
    if not plans:
        print(f"{plans_file}: no plans", file=sys.stderr)
        return 2
    failed = 0
    first: list[float] = []  # the warm-up pass: each module compiled (or read back) once
    for plan in plans:
        t = time.perf_counter()
        failed += "error" in execute(eng, plan)
        first.append((time.perf_counter() - t) * 1000)
    if failed:  # still timed (the suite pays for them too), but worth knowing
        print(f"{failed} of {len(plans)} plans answered with a runner error", file=sys.stderr)
    before = eng.modules.stats()
    times: list[float] = []
    started, cpu = time.perf_counter(), time.process_time()
    for _ in range(repeat):
        for plan in plans:
            t = time.perf_counter()
            execute(eng, plan)
            times.append(time.perf_counter() - t)
    total, cpu = time.perf_counter() - started, time.process_time() - cpu
    after = eng.modules.stats()
    ms = [t * 1000 for t in times]
    cache = {**after, "hits": after["hits"] - before["hits"],
             "misses": after["misses"] - before["misses"]}  # of the timed runs
    print(json.dumps({
        "engine": eng.name, "engine_version": eng.version, "plans": len(plans),
        "repeat": repeat,
        "per_plan_ms": summary(ms), "first_pass_ms": summary(first),
        # every thread of the process (wasm, WASI, watchdog): steadier than wall on a busy machine
        "cpu_ms_per_plan": cpu * 1000 / len(ms), "total_s": total, "module_cache": cache}))
    sys.stdout.flush()
    return 0


def summary(ms: list[float]) -> dict[str, float]:
    """Median, mean and p90 (nearest rank) of `ms`."""
    ms = sorted(ms)
    return {"median": statistics.median(ms), "mean": statistics.fmean(ms),
            "p90": ms[math.ceil(0.9 * len(ms)) - 1]}
