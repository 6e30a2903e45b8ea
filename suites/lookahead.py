"""Work started ahead of the items that need it, so every core is busy (the items' order is
known once they are collected):

- module preloads: each runner that declares ``preload`` is told which modules its next items
  run, and compiles them on a spare core while the current plan runs (runners/PROTOCOL.md
  "Preloads"). Only a hint: a module not preloaded is compiled when its plan comes, as always.
- with more than one engine, the plans of the next cases start as well, so a case's slowest
  engine does not hold the others idle; the items take those observations as they take their
  siblings' (State.prefetch). At most ``at_once()`` plans run at a time, as before. A session
  on one engine starts nothing early: its items' durations stay each plan's own.

An xdist worker does not know which items it runs next (the controller hands them out as it
goes), so workers look nowhere ahead.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from harness.plan import make_plan, memory_bytes
from harness.runner import EngineUnavailable, RunnerFailure
from suites.items import skipped_by_toolchain

if TYPE_CHECKING:
    from harness.build import BuildResult
    from suites.state import State

# Modules ahead per engine (WASMEXPORT_PRELOAD_AHEAD, 0 turns preloads off): a few plans' worth
# of compiling, inside every runner's default module-cache budget (256 MiB holds 17 of the
# suite's modules on wazero, 50 on Node).
AHEAD_ENV = "WASMEXPORT_PRELOAD_AHEAD"
AHEAD = 6
# Plans started ahead per engine when several engines run (0 with one engine).
PLANS_AHEAD = 2
# Items looked at ahead of the current one, whatever their engine.
SCAN = 128


class Lookahead:
    """Sends preloads, and with several engines starts plans, for the items after the current."""

    def __init__(self, items: Sequence[Any], engines: int) -> None:
        self._items = list(items)
        self._index = {id(item): n for n, item in enumerate(self._items)}
        self._sent: set[tuple[str, str, int]] = set()
        self._started: set[str] = set()  # node ids whose plan was started early
        self._builds: dict[int, BuildResult] = {}  # id(item) -> its finished build
        self._engines = engines
        self.window = int(os.environ.get(AHEAD_ENV) or AHEAD)
        self.plans_ahead = PLANS_AHEAD if engines > 1 else 0

    def ahead(self, st: State, item: Any, plan: dict[str, Any]) -> None:
        """Before `item` runs `plan`: preload what the items after it run and, with several
        engines, start `plan` and then the next items' plans (in that order on each engine)."""
        n = self._index.get(id(item))
        if n is None:
            return
        later = self._later(st, n)
        modules: Counter[str] = Counter()
        for it, b in later:
            if modules[it.engine] < self.window:
                modules[it.engine] += 1
                self._preload(st, it.engine, it.manifest, b)
        if not self.plans_ahead:
            return
        st.prefetch(item.engine, plan)
        plans: Counter[str] = Counter()
        for it, b in later:
            if plans[it.engine] < self.plans_ahead:
                plans[it.engine] += 1
                self._start(st, it, b)

    def _later(self, st: State, n: int) -> list[tuple[Any, BuildResult]]:
        """The items after the n-th that run a built module, with their builds: enough of them
        for every engine's window (a build, once done, is looked up only once)."""
        found: list[tuple[Any, BuildResult]] = []
        per_engine: Counter[str] = Counter()
        need = max(self.window, self.plans_ahead)
        for it in self._items[n + 1:n + 1 + SCAN]:
            b = self._builds.get(id(it))
            if b is None and (b := _build_of(st, it)) is not None:
                self._builds[id(it)] = b
            if b is None:
                continue
            found.append((it, b))
            per_engine[it.engine] += 1
            if len(per_engine) == self._engines and min(per_engine.values()) >= need:
                break
        return found

    def _preload(self, st: State, engine: str, m: Any, b: BuildResult) -> None:
        memory = memory_bytes(m)
        key = (engine, str(b.sha256), memory)
        if key in self._sent:
            return
        preload = getattr(st.live_runner(engine), "preload", None)
        module = {"path": str(b.module), "sha256": str(b.sha256)}
        if preload is not None and preload(module, {"memory_bytes": memory}):
            self._sent.add(key)

    def _start(self, st: State, item: Any, b: BuildResult) -> None:
        """Start the item's first plan now, if the item will run exactly that plan."""
        if item.nodeid in self._started:
            return
        runner = st.live_runner(item.engine)
        tc = st.finished_toolchain(item.toolchain)
        m = item.manifest
        if runner is None or tc is None or not m.runs_on:
            return
        if skipped_by_toolchain(m, tc) is not None:
            return  # the item skips
        try:
            caps = runner.info().capabilities
        except (EngineUnavailable, RunnerFailure):
            return  # the item meets it again, and reports it
        if not m.requires <= caps:
            return
        self._started.add(item.nodeid)
        st.prefetch(item.engine, make_plan(item.nodeid, m, b, tc.wasm_exec))


def _build_of(st: State, item: Any) -> BuildResult | None:
    """The item's build, if the item runs a module and its build is done and made one."""
    m = getattr(item, "manifest", None)
    if m is None or not m.runs or not hasattr(item, "engine"):
        return None
    b = st.finished_build(m, item.toolchain)
    if b is None or b.module is None or b.sha256 is None:
        return None
    return b
