"""Generated cases in pytest: ``--generated SEED[:COUNT]``, ``--generated SEED/N``.

The manifests root's ``schema.json`` stands in as the file of every generated case, so item ids
read ``manifests/schema.json::generated/<seed>/<n>::<engine>[<toolchain>]``: pytest accepts them
on the command line (the path exists), and such an id alone regenerates its signature, without
``--generated``. ``-m generated`` selects the generated cases among the others.

Under the items, the cases are ordinary manifests (harness/generate/cases.py) judged by the
suite's own items (suites/items.py). This module adds, for generated items only: the signature,
the seed and two commands (rerun the signature, shrink it) to each failure report, and at the end
of the run the signatures judged per engine with their rate, and each engine's first failing
signature shrunk (``WASMEXPORT_SHRINK_S`` seconds per engine, default 180; 0 turns it off). The
end-of-run lines come from the process that collected the cases (not an xdist controller).
Under ``-n`` (``--dist loadfile``) every generated case shares the one stand-in file, so they all
run on one worker; builds still run in parallel, and each case's engines at once.
"""

from __future__ import annotations

import os
import re
import shlex
import time
from collections import defaultdict
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.generate import cases
from harness.generate.signature import Sig, parse_key
from harness.manifest import Manifest
from harness.yamlsrc import YamlError
from suites.items import CaseItem, case_items, manifest_root, rerun_go, rerun_program, state

DEFAULT_COUNT = 100
OPTION_HELP = ("generate export signatures and judge them like cases: SEED (100 of them), "
               "SEED:COUNT, or SEED/N for the N-th alone (SEED/N~I.J: a shrunk one); comma-"
               "separated. Item ids: manifests/schema.json::generated/SEED/N::ENGINE[GO]")
_NODE = re.compile(r"schema\.json::generated/(\d+/\d+(?:~\d+(?:\.\d+)*)?)(?:::|$)")
_REPORTER = pytest.StashKey["GeneratedReport"]()


def parse_option(text: str) -> list[str]:
    """``--generated`` -> signature keys in order; raises pytest.UsageError."""
    keys: list[str] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        try:
            if "/" in part:
                parse_key(part)
                keys.append(part)
                continue
            seed, _, count = part.partition(":")
            n = int(count) if count else DEFAULT_COUNT
            if int(seed) < 0 or n < 1:
                raise ValueError(part)
            keys += [f"{int(seed)}/{i}" for i in range(n)]
        except ValueError:
            raise pytest.UsageError(f"--generated {text!r}: {part!r} is not SEED, SEED:COUNT or "
                                    "SEED/N (e.g. 7, 7:500, 7/42)") from None
    return list(dict.fromkeys(keys))


def requested(config: pytest.Config) -> list[str]:
    """The keys ``--generated`` names, plus those of generated item ids on the command line."""
    keys = parse_option(config.getoption("generated") or "")
    for arg in config.args:
        m = _NODE.search(arg)
        if m:
            keys.append(m[1])
    return list(dict.fromkeys(keys))


def collect(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """The generated cases' collector, for the manifests root's schema.json when any are asked for."""
    if file_path.name != "schema.json" or manifest_root(file_path) != file_path.parent.resolve():
        return None
    if not requested(parent.config):
        return None
    return GeneratedRoot.from_parent(parent, path=file_path)


class GeneratedRoot(pytest.File):
    def collect(self) -> Iterator[pytest.Collector]:
        report = reporter(self.config)
        for key in requested(self.config):
            try:
                sig = cases.signature(key)
            except ValueError as e:
                raise self.CollectError(f"--generated {key}: {e}") from None
            report.modules.add(cases.module_of(sig)[1])
            name = f"generated/{key}"
            yield GeneratedCase.from_parent(self, path=self.path, name=name,
                                            nodeid=self.id.child(name), sig=sig)


class GeneratedCase(pytest.File):
    """One signature: its items are the suite's items for its manifest."""

    def __init__(self, *, sig: Sig, **kw: Any) -> None:
        super().__init__(**kw)
        self.sig = sig

    def collect(self) -> Iterator[pytest.Item]:
        root = self.path.parent
        manifest: Manifest | None = None
        error: YamlError | None = None
        try:
            manifest = cases.load_case(self.sig, root)
        except YamlError as e:
            error = e
        yield from case_items(self, manifest, error, f"generated/{self.sig.key}")


def reporter(config: pytest.Config) -> GeneratedReport:
    if _REPORTER not in config.stash:
        config.stash[_REPORTER] = GeneratedReport(config)
        config.pluginmanager.register(config.stash[_REPORTER], "wasmexport-generated")
    return config.stash[_REPORTER]


def rerun(item: CaseItem, key: str) -> str:
    """A command, run from the suite's root, that regenerates and reruns this signature."""
    return (f"{rerun_program(item.config)} manifests/schema.json --generated {key} "
            f"--engine {item.engine} --go {shlex.quote(rerun_go(state(item.config), item.toolchain))}"
            f" --results reports/out/rerun.jsonl")


def shrink_command(item: CaseItem, key: str) -> str:
    return (f"python -m harness.generate.shrink --key {key} --engine {item.engine} "
            f"--go {shlex.quote(rerun_go(state(item.config), item.toolchain))}")


class GeneratedReport:
    """Failure details, rates and shrinking for generated items (a plugin object)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.modules: set[str] = set()
        self.started: float | None = None
        self.end = 0.0
        self.judged: dict[str, int] = defaultdict(int)
        self.verdicts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.failed: dict[str, list[tuple[str, str]]] = defaultdict(list)  # engine -> (key, go)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]
                                  ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if (call.when == "call" and report.failed and isinstance(item, CaseItem)
                and isinstance(item.parent, GeneratedCase)):
            sig = item.parent.sig
            report.longrepr = "\n".join([
                str(report.longrepr), f"generated signature {sig.key} (seed {sig.seed}): {sig.go()}",
                f"rerun this signature: {rerun(item, sig.key)}",
                f"shrink it: {shrink_command(item, sig.key)}"])
        return report

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.started = time.monotonic()  # builds and runners start now (suites/plugin.py)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        rec = getattr(report, "wasmexport", None)
        if rec is None or not str(rec.get("case", "")).startswith("generated/"):
            return
        self.end = time.monotonic()
        engine, verdict = rec["engine"], rec["verdict"]
        self.verdicts[engine][verdict] += 1
        if engine != "agreement":
            self.judged[engine] += 1
            if verdict in ("fail", "error", "xpass"):
                self.failed[engine].append((rec["case"].removeprefix("generated/"),
                                            rec.get("toolchain_requested", "")))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.started is None or not self.end:
            return
        tr = terminalreporter
        wall = max(self.end - self.started, 1e-9)
        tr.write_sep("-", f"generated signatures ({len(self.modules)} modules)")
        for engine in sorted(self.verdicts):
            counts = ", ".join(f"{v} {n}" for v, n in sorted(self.verdicts[engine].items()))
            if engine == "agreement":
                tr.write_line(f"agreement: {counts}")
                continue
            judged = self.judged[engine]
            tr.write_line(f"{engine}: {judged} signatures judged ({counts}) in {wall:.1f} s wall "
                          f"(builds included): {judged / wall:.2f} signatures/s")
        self._shrink(tr)

    def _shrink(self, tr: Any) -> None:
        budget = float(os.environ.get("WASMEXPORT_SHRINK_S", "180") or 0)
        if budget <= 0 or not self.failed:
            return
        from harness.generate.shrink import describe, shrink_failure  # noqa: PLC0415 - on failure

        for engine, failures in sorted(self.failed.items()):
            key, toolchain = failures[0]
            tr.write_line(f"shrinking {key} on {engine} (first of {len(failures)} failing, "
                          f"{budget:.0f} s at most) ...")
            try:
                result = shrink_failure(key, engine, toolchain, budget)
            except Exception as e:  # the run's verdicts stand; say why there is no shrink
                tr.write_line(f"  could not shrink: {type(e).__name__}: {e}")
                continue
            tr.write_line(describe(result, engine, toolchain, rerun_program(self.config)))
