"""What the items of one pytest session (or one xdist worker) share: toolchains, builds, runners,
the engines' observations awaiting their agreement item, and (in the controller) the results file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections import defaultdict
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from threading import BoundedSemaphore, RLock
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from harness import engines, expectations, results
from harness.build import BuildResult
from harness.build import build as run_build
from harness.bundle import Bundle, BundleError
from harness.manifest import MANIFEST_DIR, Manifest
from harness.observation import Observation
from harness.paths import SUITE
from harness.runner import EngineUnavailable, Runner, RunnerFailure
from harness.toolchains import DEFAULT as DEFAULT_GO
from harness.toolchains import Toolchain, ToolchainUnavailable, check, label, resolve
from harness.versions import parse_release

if TYPE_CHECKING:
    from suites.lookahead import Lookahead

T = TypeVar("T")
TOOLCHAIN_EXPECTATIONS = MANIFEST_DIR / "toolchain-expectations.yaml"


def at_once() -> int:
    """How many plans may run at once across engines: ``WASMEXPORT_PLANS_AT_ONCE``, else the
    number of cores."""
    value = os.environ.get("WASMEXPORT_PLANS_AT_ONCE", "")
    return int(value) if value.isdigit() and int(value) > 0 else (os.cpu_count() or 2)


def split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def engine_names(option: str) -> list[str]:
    """``--engine`` -> engine names; raises pytest.UsageError naming the known ones."""
    names = split(option)
    if names == ["all"]:
        return engines.known()
    unknown = [n for n in names if n not in engines.known()]
    if unknown or not names:
        raise pytest.UsageError(
            f"--engine {option!r}: unknown engine {', '.join(map(repr, unknown)) or '(none)'}; "
            f"known: {', '.join(engines.known())}, or 'all'")
    return list(dict.fromkeys(names))


def toolchain_names(option: str | None, bundle: Bundle | None) -> list[str]:
    """``--go`` -> toolchain requests (default: the pinned release, or every toolchain of the
    bundle); raises pytest.UsageError on a malformed one or one the bundle lacks."""
    default = list(bundle.toolchains) if bundle else [DEFAULT_GO]
    names = list(dict.fromkeys(split(option or ""))) or default
    if bundle is not None:
        missing = [n for n in names if n not in bundle.toolchains]
        if missing:
            raise pytest.UsageError(f"--go {','.join(missing)}: not in {bundle.path}, which holds "
                                    f"{', '.join(bundle.toolchains)}")
        return names
    for name in names:
        try:
            check(name)
        except ValueError as e:
            raise pytest.UsageError(str(e)) from None
    return names


@dataclass(frozen=True)
class Seen:
    """One engine's observation of a (case, toolchain), kept for the agreement item."""

    manifest: Manifest  # the expectation the observation was judged against
    observation: Observation
    capabilities: frozenset[str]
    divergence: str | None  # the engine's own listed divergence for this case, if any


class State:
    """Everything shared by the items of one session; builds and toolchains run in a pool."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.engines = engine_names(config.getoption("engine"))
        self.bundle: Bundle | None = None
        if config.getoption("bundle"):
            try:
                self.bundle = Bundle.open(Path(config.getoption("bundle")))
            except BundleError as e:
                raise pytest.UsageError(f"--bundle: {e}") from None
        self.toolchains = toolchain_names(config.getoption("go"), self.bundle)
        self.labels = {name: name if self.bundle else _label(name) for name in self.toolchains}
        twice = {lb for lb in self.labels.values() if list(self.labels.values()).count(lb) > 1}
        if twice:
            raise pytest.UsageError(
                f"--go: {', '.join(n for n, lb in self.labels.items() if lb in twice)} are the "
                f"same toolchain ({', '.join(sorted(twice))}); name it once")
        self.results_path = config.invocation_params.dir / config.getoption("results")
        self.pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="build")
        self._tc: dict[str, Future[Toolchain]] = {}
        self._builds: dict[tuple[str, str, str], Future[BuildResult]] = {}
        self._runners: dict[str, Runner | EngineUnavailable] = {}
        self._starting: dict[str, Future[None]] = {}  # runners starting in the background
        self._expect: dict[str, tuple[expectations.Divergence, ...]] = {}
        # (case, toolchain label) -> engine -> what its item saw, for the agreement items
        self.seen: dict[tuple[str, str], dict[str, Seen]] = defaultdict(dict)
        # one thread per engine drives its runner; a case's plans go to every engine at once
        self._engine_pools: dict[str, ThreadPoolExecutor] = {}
        # ... but no more plans at once than cores: a guest's timers and timeouts are wall
        # time, and sixteen engines on two cores would stretch every step
        self._running = BoundedSemaphore(at_once())
        self._observations: dict[tuple[str, str], Future[Observation]] = {}
        self.selected: set[str] = set()  # node ids of the items this session runs
        self.lookahead: Lookahead | None = None  # set once the items are known (not on workers)
        self._primers: dict[str, Future[BuildResult]] = {}
        self._writer: results.ResultsWriter | None = None
        self._closed = False
        self.unclean: list[str] = []  # why the run is not clean, under --require-clean
        self._lock = RLock()
        for name in self.toolchains:  # resolving (maybe fetching) overlaps collection
            self.toolchain(name)

    # toolchains and builds run in the pool, in parallel with the items
    def toolchain(self, requested: str) -> Future[Toolchain]:
        with self._lock:
            if requested not in self._tc:
                if self.bundle is not None:
                    self._tc[requested] = done(self.bundle.toolchains[requested])
                else:
                    self._tc[requested] = self.pool.submit(resolve, requested)
            return self._tc[requested]

    def build(self, m: Manifest, requested: str) -> Future[BuildResult]:
        """The build of `m` (from the bundle, with --bundle); raises BundleError from result().

        A toolchain's first build runs alone: it compiles the standard library into the shared
        GOCACHE once, instead of every parallel build compiling it at the same time."""
        key = (str(m.path), m.target, requested)
        with self._lock:
            fut = self._builds.get(key)
            if fut is None:
                if self.bundle is not None:
                    fut = self.pool.submit(self.bundle.build, m, requested)
                else:
                    tc_future = self.toolchain(requested)
                    primer = self._primers.get(f"{requested}/{m.target}")

                    def go() -> BuildResult:
                        if primer is not None:
                            wait([primer])
                        return run_build(m, tc_future.result())

                    fut = self.pool.submit(go)
                    self._primers.setdefault(f"{requested}/{m.target}", fut)
                self._builds[key] = fut
            return fut

    def observe(self, engine: str, plan: dict[str, Any]) -> Observation:
        """Run `plan` on `engine`, or take the observation started for it by `prefetch`."""
        with self._lock:
            fut = self._observations.pop((engine, plan_key(plan)), None)
        if fut is None:
            fut = self._engine_pool(engine).submit(self._run, self.runner(engine), plan)
        return fut.result()

    def prefetch(self, engine: str, plan: dict[str, Any]) -> None:
        """Start `plan` on `engine` now, in parallel with the other engines' runs."""
        with self._lock:
            key = (engine, plan_key(plan))
            if key not in self._observations:
                runner = self.runner(engine)
                self._observations[key] = self._engine_pool(engine).submit(self._run, runner, plan)

    def _run(self, runner: Runner, plan: dict[str, Any]) -> Observation:
        with self._running:
            return runner.run(plan)

    def _engine_pool(self, engine: str) -> ThreadPoolExecutor:
        with self._lock:
            if engine not in self._engine_pools:
                self._engine_pools[engine] = ThreadPoolExecutor(1, thread_name_prefix=engine)
            return self._engine_pools[engine]

    def finished_build(self, m: Manifest, requested: str) -> BuildResult | None:
        """The build of `m` if it was asked for and is done without an exception, else None."""
        with self._lock:
            return finished(self._builds.get((str(m.path), m.target, requested)))

    def finished_toolchain(self, requested: str) -> Toolchain | None:
        """The toolchain if it is resolved, else None (never waits)."""
        with self._lock:
            return finished(self._tc.get(requested))

    def live_runner(self, engine: str) -> Runner | None:
        """The engine's runner if it has been made, without making or starting it."""
        got = self._runners.get(engine)
        return None if got is None or isinstance(got, EngineUnavailable) else got

    def start_runners(self, names: set[str]) -> None:
        """Start every engine's runner now, each in its own thread (building it first if it is
        not built yet), so cold builds overlap each other and the case builds."""
        pool = ThreadPoolExecutor(max_workers=max(1, len(names)), thread_name_prefix="start")
        with self._lock:
            for name in sorted(names - set(self._starting)):
                self._starting[name] = pool.submit(self._start_runner, name)
        pool.shutdown(wait=False)

    def _start_runner(self, engine: str) -> None:
        # a runner that cannot start is met again, and reported, by the engine's first item
        with contextlib.suppress(Exception):
            self._runner_now(engine).info()

    def runner(self, engine: str) -> Runner:
        started = self._starting.get(engine)
        if started is not None:
            started.result()
        return self._runner_now(engine)

    def _runner_now(self, engine: str) -> Runner:
        if engine not in self._runners:
            try:
                self._runners[engine] = engines.make_runner(engine)
            except EngineUnavailable as e:
                self._runners[engine] = e
        got = self._runners[engine]
        if isinstance(got, EngineUnavailable):
            raise got
        return got

    def engine_version(self, engine: str) -> str | None:
        """The engine's version if its runner can be started, else None."""
        try:
            return self.runner(engine).info().version
        except (EngineUnavailable, RunnerFailure):
            return None

    def divergences(self, source: str) -> tuple[expectations.Divergence, ...]:
        if source not in self._expect:
            self._expect[source] = expectations.load(TOOLCHAIN_EXPECTATIONS, source) \
                if source == "go" else \
                expectations.for_engine(source, engines.family(source), engines.expectations_file)
        return self._expect[source]

    # results: written by the controller only (the process that sees every report)
    def open_results(self) -> None:
        if self._writer is None:
            bundle = None if self.bundle is None else {
                "path": str(self.bundle.path), "suite_commit": self.bundle.index.get("suite_commit"),
                "toolchains": self.bundle.index["toolchains"]}
            self._writer = results.ResultsWriter(self.results_path, {
                "suite_commit": results.suite_commit(SUITE), "engines": self.engines,
                "toolchains": self.toolchains, "labels": self.labels, "bundle": bundle,
            })

    def record(self, doc: dict[str, Any]) -> None:
        self.open_results()
        assert self._writer is not None
        self._writer.record(doc)

    def close(self) -> None:
        """Stop the runners and the pool and finish the results file; safe to call twice."""
        for pool in self._engine_pools.values():
            pool.shutdown(wait=True, cancel_futures=True)
        for r in self._runners.values():
            if not isinstance(r, EngineUnavailable):
                r.close()
        self._runners.clear()
        self.pool.shutdown(wait=False, cancel_futures=True)
        if self._writer is not None and not self._closed:
            self._writer.close()
        self._closed = True

    @property
    def counts(self) -> dict[str, int]:
        return dict(self._writer.counts) if self._writer else {}


def plan_key(plan: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(plan, sort_keys=True).encode()).hexdigest()


def finished(fut: Future[T] | None) -> T | None:
    """The future's result if it has one now (never waits), else None."""
    if fut is None or not fut.done() or fut.exception() is not None:
        return None
    return fut.result()


def done(value: Toolchain) -> Future[Toolchain]:
    fut: Future[Toolchain] = Future()
    fut.set_result(value)
    return fut


def _label(requested: str) -> str:
    """The toolchain part of an item id: the release (a minor release names its newest patch), or
    a devel toolchain's short label. A release that cannot be listed keeps its name (its items
    skip with the reason); a local toolchain that does not run is a usage error."""
    try:
        return label(requested)
    except ToolchainUnavailable as e:
        try:
            parse_release(requested)
        except ValueError:
            raise pytest.UsageError(f"--go {requested}: {e}") from None
        return requested

