"""A pytest plugin for scripts/bench.py: what each item costs outside the runner.

Loaded with ``-p scripts.itemclock`` and ``WASMEXPORT_ITEMCLOCK=FILE``, it times every item's
whole protocol (setup, call, teardown, reports, the results record) and the time spent in it
waiting for observations (``State.observe``), and writes one JSON document to FILE: per kind
of item (pass, xfail, skip: a quiet verdict, reported without a traceback) the median and mean
of the difference, the harness's own cost of an item, in ms.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections import defaultdict
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from suites.state import State

_waited = [0.0]  # seconds the current item waited for observations
_rows: list[tuple[str, float]] = []  # (kind, ms outside the runner)
_observe = State.observe


def _timed_observe(self: State, engine: str, plan: dict[str, Any]) -> Any:
    started = time.perf_counter()
    try:
        return _observe(self, engine, plan)
    finally:
        _waited[0] += time.perf_counter() - started


State.observe = _timed_observe  # type: ignore[method-assign]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None]:
    _waited[0] = 0.0
    started = time.perf_counter()
    yield
    wall = time.perf_counter() - started
    quiet = getattr(item, "quiet", None)
    _rows.append((quiet[0] if quiet else "pass", (wall - _waited[0]) * 1000))


def pytest_sessionfinish(session: pytest.Session) -> None:
    out = os.environ.get("WASMEXPORT_ITEMCLOCK")
    if not out:
        return
    by: dict[str, list[float]] = defaultdict(list)
    for kind, ms in _rows:
        by[kind].append(ms)
    doc = {k: {"items": len(ms), "median_ms": round(statistics.median(ms), 3),
               "mean_ms": round(statistics.fmean(ms), 3)} for k, ms in sorted(by.items())}
    Path(out).write_text(json.dumps(doc), encoding="utf-8")
