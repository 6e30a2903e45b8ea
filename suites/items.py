"""Test items: one per (case, target, toolchain, engine), and one agreement item per (case,
target, toolchain) (suites/agreement_item.py).

Item ids read ``manifests/<area>/<case>.yaml::<engine>[<toolchain>]`` and
``...::agreement[<toolchain>]``: a valid pytest node id, so every printed rerun command runs.
A manifest that fails to load still yields its items, each failing with the file, line and
problem, so nothing else is lost. An item never writes results itself: it hands its record to
its report (``report.wasmexport``), and the process that sees every report writes it — the
only process with pytest-xdist's ``-n``.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest

from harness import engines, expectations, targets
from harness.build import BuildResult
from harness.bundle import BundleError
from harness.manifest import MANIFEST_DIR, Manifest, case_id
from harness.manifest import load as load_manifest
from harness.model import Release
from harness.observation import Observation
from harness.plan import make_plan
from harness.runner import EngineUnavailable, Runner, RunnerFailure
from harness.toolchains import Toolchain, ToolchainUnavailable
from harness.verdict import Problem, decide, judge, judge_build
from harness.yamlsrc import YamlError
from suites.agreement_item import AgreementItem
from suites.base import (
    AGREEMENT,
    RERUN_RESULTS,
    CaseFailure,
    SuiteItem,
    bundle_arg,
    display,
    has_state,
    item_name,
    manifest_root,
    mark,
    register_marker,
    rerun_go,
    rerun_program,
    state,
)
from suites.state import Seen, State

__all__ = [  # what the plugin and the generated cases take from here
    "AGREEMENT", "CaseItem", "ManifestFile", "SuiteItem", "case_items", "has_state",
    "manifest_root", "register_marker", "rerun_go", "rerun_program", "state",
]

EXCERPT = 4000  # bytes of each stream a record keeps; its full length and hash are recorded too


@dataclass(frozen=True)
class Outcome:
    """The verdict of one item, with what the record and the failure report need."""

    verdict: str
    reason: str = ""
    problems: list[Problem] = field(default_factory=list)
    text: str = ""  # extra lines for the failure report
    report: str = ""  # a complete failure report, replacing the usual one


class ManifestFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        manifest: Manifest | None = None
        error: YamlError | None = None
        root = manifest_root(self.path) or MANIFEST_DIR
        try:
            manifest = load_manifest(self.path, root=root)
        except YamlError as e:
            error = e
        yield from case_items(self, manifest, error, case_id(self.path, root))


def case_items(parent: pytest.File, manifest: Manifest | None, error: YamlError | None,
               case: str) -> Iterator[pytest.Item]:
    """The items of one case: one per (target, toolchain, engine), plus agreement when engines
    are many. `parent` is the case's file node (a manifest, or a generated case's stand-in). A
    js item's parameter is the toolchain label with ``-js``; engines and toolchains that do not
    run a target get no item for it."""
    st = state(parent.config)
    area = case.split("/", maxsplit=1)[0]
    for target in manifest.targets if manifest is not None else ("wasip1",):
        variant = manifest.for_target(target) if manifest is not None else None
        on_target = [e for e in st.engines if target in engines.targets(e)]
        for tc in st.toolchains:
            if target not in targets.targets_of(tc):
                continue
            label = target_label(st.labels[tc], target)
            for engine in on_target:
                item = CaseItem.from_parent(parent, name=item_name(engine, label),
                                            nodeid=parent.id.child(engine).with_params(label),
                                            engine=engine, toolchain=tc, label=label,
                                            manifest=variant, error=error, case=case)
                mark(item, area, engine, st.labels[tc], target)
                yield item
            if len(on_target) > 1 and variant is not None and variant.runs_on:
                agree = AgreementItem.from_parent(
                    parent, name=item_name(AGREEMENT, label),
                    nodeid=parent.id.child(AGREEMENT).with_params(label), toolchain=tc,
                    label=label, manifest=variant, case=case)
                mark(agree, area, AGREEMENT, st.labels[tc], target)
                yield agree


def target_label(toolchain_label: str, target: str) -> str:
    """The item parameter and results label of a (toolchain, target): wasip1 items keep the
    toolchain's own label (``go1.27.3``), others add the target (``go1.27.3-js``)."""
    return toolchain_label if target == "wasip1" else f"{toolchain_label}-{target}"


class CaseItem(SuiteItem):
    def __init__(self, *, engine: str, toolchain: str, label: str, manifest: Manifest | None,
                 error: YamlError | None, case: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.engine, self.toolchain, self.label = engine, toolchain, label
        self.manifest, self.error = manifest, error
        self.case = case
        self._last_plan = ""  # steps and imports of the last plan run, to reuse its observation
        self._wasm_exec: Path | None = None  # a js item's wasm_exec.js, from its toolchain
        self._allowances: tuple[expectations.Divergence, ...] = ()  # exports a compiler adds

    def rerun(self) -> str:
        """A shell command, run from the suite's root, that runs exactly this item again."""
        st = state(self.config)
        return (f"{rerun_program(self.config)} {shlex.quote(self.nodeid)} --engine {self.engine} "
                f"--go {shlex.quote(rerun_go(st, self.toolchain))}{bundle_arg(st)} "
                f"--results {RERUN_RESULTS}")

    def runtest(self) -> None:
        st = state(self.config)
        started = time.monotonic()
        rec: dict[str, Any] = {"case": self.case, "engine": self.engine, "engine_version": None,
                               "engine_family": engines.family(self.engine),
                               "toolchain": self.label, "toolchain_requested": self.toolchain,
                               "target": self.manifest.target if self.manifest else "wasip1"}
        try:
            out = self._evaluate(st, rec)
        except Exception as e:  # a harness bug: record it, then let pytest show the traceback
            out = Outcome("error", f"harness error: {type(e).__name__}: {e}")
            raise
        finally:
            rec.update(verdict=out.verdict, reason=out.reason,
                       duration_s=round(time.monotonic() - started, 4), rerun=self.rerun(),
                       problems=[p.as_dict() for p in out.problems])
            self.hand_over(rec)
        if out.verdict == "xfail":
            self.quiet = ("xfail", f"known divergence: {out.reason}")
        elif out.verdict == "skip":
            self.quiet = ("skip", out.reason)
        elif out.verdict != "pass":
            raise CaseFailure(out.report or self._report(out))

    def _evaluate(self, st: State, rec: dict[str, Any]) -> Outcome:
        """Build, run and judge this item; every result is an Outcome, nothing is raised."""
        if self.error is not None:
            return Outcome("error", str(self.error),
                           report=f"{self.error}\nFix the manifest; every other case still runs.")
        m = self.manifest
        assert m is not None
        rec.update(area=m.area, title=m.title, refs=list(m.refs), path=display(m.path))
        try:
            tc = st.toolchain(self.toolchain).result()
        except ToolchainUnavailable as e:
            return Outcome("skip", f"toolchain {self.toolchain} unavailable: {e}")
        early = self._prepare(st, m, tc, rec)
        if early is not None:
            return early
        compiler = tc.family
        release = m.release(tc.version, compiler)
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
        try:
            b = st.build(m, self.toolchain).result()
        except BundleError as e:
            return Outcome("error", str(e), text=str(e))
        rec["build"] = {"outcome": b.outcome, "cached": b.cached, "sha256": b.sha256,
                        "duration_s": round(b.duration_s, 3)}
        try:
            problems, obs = self._judge(m, b, runner, rec)
            if release is not None:  # this release's own expectation, from the manifest
                return self._judge_release(st, m=m, release=release, tc=tc, b=b, runner=runner,
                                           rec=rec, problems=problems, obs=obs)
        except RunnerFailure as e:
            if e.kind != "hang" or "observation" not in e.detail:
                return Outcome("error", str(e), text=str(e))
            # A plan that outlived every step's timeout: the host did not bound the guest's wait,
            # which is the engine's (or its runner's) behaviour, judged like any other.
            problems = [Problem("plan deadline", m.line, "every step ends within its timeout",
                                f"{e.detail}; the runner was killed")]
            obs = None
        try:
            known = (expectations.find(st.divergences(self.engine), m.id, tc.version, compiler, tc.scheduler)
                     or expectations.find(st.divergences("go"), m.id, tc.version, compiler, tc.scheduler))
        except YamlError as e:  # a broken expectations file: its own error, with file and line
            return Outcome("error", str(e), text=f"{e}\nFix the expectations file.")
        if known is not None:
            rec["divergence"] = {"source": known.source, "reason": known.reason, "link": known.link}
        verdict, reason = decide(problems, known)
        if obs is not None and runner is not None:
            own = expectations.find(st.divergences(self.engine), m.id, tc.version, compiler, tc.scheduler)
            st.seen[(self.case, self.label)][self.engine] = Seen(
                m, obs, runner.info().capabilities, own.describe() if own else None)
        return Outcome(verdict, reason, problems, text=reason if verdict == "xpass" else "")

    def _prepare(self, st: State, m: Manifest, tc: Toolchain, rec: dict[str, Any]
                 ) -> Outcome | None:
        """What the toolchain decides before anything runs: its label and compiler in the record,
        a js item's wasm_exec.js, the case's range, the compiler's export allowances."""
        rec["toolchain"] = target_label(tc.name, m.target)
        compiler = rec["compiler"] = tc.family
        self._wasm_exec = tc.wasm_exec if m.target == "js" else None
        skipped = skipped_by_toolchain(m, tc)
        if skipped is not None:
            return Outcome("skip", skipped)
        try:
            self._allowances = expectations.allowances(st.divergences("go"), m.id, tc.version,
                                                       compiler, tc.scheduler)
        except YamlError as e:
            return Outcome("error", str(e), text=f"{e}\nFix the expectations file.")
        return None

    def _judge_release(self, st: State, *, m: Manifest, release: Release, tc: Toolchain,
                       b: BuildResult, runner: Runner | None, rec: dict[str, Any],
                       problems: list[Problem], obs: Observation | None) -> Outcome:
        """Judge against the manifest's `releases:` entry for this release (the documented
        expectation failed as `problems`); an engine that departs from the release's behaviour
        too is judged by its own expectations."""
        rec["release_entry"] = {"go": str(release.go), "finding": release.finding,
                                "link": release.link, "line": release.line}
        if not problems:
            return Outcome("xpass", f"the documented expectation now holds on {tc.name}: "
                           f"narrow or remove the releases entry at line {release.line}")
        problems, obs = self._judge(release.actual, b, runner, rec, obs)
        own = None if not problems else expectations.find(
            st.divergences(self.engine), m.id, tc.version, tc.family, tc.scheduler)
        if obs is not None and runner is not None:
            st.seen[(self.case, self.label)][self.engine] = Seen(
                release.actual, obs, runner.info().capabilities, own.describe() if own else None)
        if not problems:
            return Outcome("xfail", release.describe())
        if own is not None:
            rec["divergence"] = {"source": own.source, "reason": own.reason, "link": own.link}
            return Outcome("xfail", own.describe(), problems)
        return Outcome("fail", "", problems, text=(
            f"{tc.name} matches neither the documented expectation nor the releases entry "
            f"at line {release.line} ({release.finding}); the problems above are against "
            "that entry"))

    def _judge(self, m: Manifest, b: BuildResult, runner: Runner | None, rec: dict[str, Any],
               earlier: Observation | None = None) -> tuple[list[Problem], Observation | None]:
        """Problems of the build (and of a run, when `m` expects a module) against `m`; a run
        with the same plan as `earlier` reuses its observation."""
        build_problems = judge_build(m, b)
        if build_problems or not m.runs or runner is None:
            return build_problems, None
        plan = make_plan(self.nodeid, m, b, self._wasm_exec)
        what = json.dumps([plan["steps"], plan["imports"]], sort_keys=True)
        if earlier is not None and self._last_plan == what:
            obs = earlier
        else:
            st = state(self.config)
            if earlier is None:
                self._prefetch_siblings(st, m, b)
            if st.lookahead is not None:  # preloads go before this plan's line, to compile meanwhile
                st.lookahead.ahead(st, self, plan)
            obs = st.observe(self.engine, plan)
            self._last_plan = what
            rec["observed"] = _observed(obs)
        return judge(m, b, self._set_aside(obs, m, rec), runner.info().capabilities), obs

    def _set_aside(self, obs: Observation, m: Manifest, rec: dict[str, Any]) -> Observation:
        """The observation as this toolchain's allowances say to judge it: without the exports
        they name (and the case does not list), in the case's order where the order is not
        judged. What was set aside, and why, goes into the record."""
        if not self._allowances or obs.exports is None:
            return obs
        wanted = m.exports or {}
        patterns = [p for a in self._allowances for p in a.extra_exports]
        aside = [n for n in obs.exports
                 if n not in wanted and any(fnmatchcase(n, p) for p in patterns)]
        exports = {n: t for n, t in obs.exports.items() if n not in aside}
        reorder = any(a.export_order for a in self._allowances) and set(exports) == set(wanted) \
            and list(exports) != list(wanted)
        if reorder:
            exports = {n: exports[n] for n in wanted}
        used = [a for a in self._allowances if (a.export_order and reorder) or (
            aside and any(fnmatchcase(n, p) for n in aside for p in a.extra_exports))]
        if used:
            rec["allowance"] = {"exports": aside, "order": list(obs.exports) if reorder else None,
                                "reasons": [{"reason": a.reason, "link": a.link, "line": a.line}
                                            for a in used]}
        return dataclasses.replace(obs, exports=exports)

    def _prefetch_siblings(self, st: State, m: Manifest, b: BuildResult) -> None:
        """Start this case's plan on every other engine this session runs it on, so the engines
        work at once; their items then take the observation instead of running the plan."""
        for engine in st.engines:
            node = self.parent.id.child(engine).with_params(self.label)  # type: ignore[union-attr]
            if engine == self.engine or str(node) not in st.selected:
                continue
            try:
                caps = st.runner(engine).info().capabilities
            except (EngineUnavailable, RunnerFailure):
                continue
            if m.requires <= caps:
                st.prefetch(engine, make_plan(str(node), m, b, self._wasm_exec))

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


def skipped_by_toolchain(m: Manifest, tc: Toolchain) -> str | None:
    """Why an item of `m` built by `tc` runs nothing, as the toolchain alone decides, or None."""
    if m.target == "js" and tc.wasm_exec is None:
        return (f"{tc.name} has no wasm_exec.js here (a bundle carries none): "
                "js cases need the toolchain itself (--go)")
    if tc.family == "gc" and not m.go.contains(tc.version):
        return f"{tc.name} is outside the case's range {m.go}"
    return None


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


def _observed(obs: Any) -> dict[str, Any]:
    """A compact, JSON-ready copy of the observation for the results file."""
    return {
        "load_ok": obs.load_ok,
        "load_message": obs.load_message[:2000],
        "exports": {k: str(v) for k, v in (obs.exports or {}).items()},
        "steps": [{"outcome": s.outcome, "summary": s.summary(),
                   "stdout": s.stdout[:EXCERPT].decode("utf-8", "backslashreplace"),
                   "stderr": s.stderr[:EXCERPT].decode("utf-8", "backslashreplace"),
                   "stdout_len": s.stdout_len, "stdout_sha256": s.stdout_sha256,
                   "stderr_len": s.stderr_len, "stderr_sha256": s.stderr_sha256,
                   "trace": list(s.trace), "duration_ms": round(s.duration_ms, 3)}
                  for s in obs.steps],
    }
