"""What every item of the suite shares: the session's state, ids and markers, the failure report
that is the verdict's own text, and the commands that rerun an item."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest

from harness.paths import SUITE
from harness.toolchains import ToolchainUnavailable
from suites.cli import CONFIG
from suites.state import State

AGREEMENT = "agreement"
RERUN_RESULTS = "reports/out/rerun.jsonl"
_STATE = pytest.StashKey[State]()


def state(config: pytest.Config) -> State:
    if _STATE not in config.stash:
        config.stash[_STATE] = State(config)
    return config.stash[_STATE]


def has_state(config: pytest.Config) -> State | None:
    return config.stash.get(_STATE, None)


def manifest_root(path: Path) -> Path | None:
    """The nearest enclosing directory named ``manifests`` that holds a ``schema.json`` (the
    suite's, or a copy): case ids are relative to it. Requiring the schema keeps the plugin,
    active wherever the suite is installed, away from other projects' ``manifests/`` YAML."""
    for parent in path.resolve().parents:
        if parent.name == "manifests" and (parent / "schema.json").is_file():
            return parent
    return None


def item_name(engine: str, label: str) -> str:
    """``wasmtime[go1.27.3]``: written like a parametrised test, and given the matching
    structured node id, so --lf, --ff and node ids on the command line find it."""
    return f"{engine}[{label}]"


class CaseFailure(Exception):
    """A verdict other than pass/skip/xfail: its text is the whole failure report."""


def mark(item: pytest.Item, *names: str) -> None:
    """Markers for ``-m``: the case's area, the engine (or ``agreement``) and the toolchain."""
    for name in names:
        register_marker(item.config, name)
        item.add_marker(name)


def register_marker(config: pytest.Config, name: str) -> None:
    known: set[str] = config.stash.setdefault(_MARKERS, set())
    if name not in known:
        known.add(name)
        config.addinivalue_line("markers", f"{name}: an area, engine or toolchain of the suite")


_MARKERS = pytest.StashKey[set[str]]()


class SuiteItem(pytest.Item):
    """An item whose failure report is the CaseFailure text itself, not a traceback."""

    record: dict[str, Any] | None = None
    # A skip or xfail, reported by the plugin without raising: pytest would otherwise format a
    # traceback for each (tens of milliseconds) that no report shows.
    quiet: tuple[str, str] | None = None

    def hand_over(self, rec: dict[str, Any]) -> None:
        """Give the record to this item's report, and its key facts to JUnit as properties."""
        self.record = rec
        for key in ("engine", "toolchain", "verdict"):
            self.user_properties.append((key, str(rec.get(key, ""))))
        self.user_properties.append(("area", self.case.split("/")[0]))

    case: str

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, CaseFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo)


def rerun_go(st: State, requested: str) -> str:
    """What ``--go`` must say to get this toolchain again: the resolved release (so ``go1.25``
    does not drift to a newer patch), or the toolchain's GOROOT for a local or devel Go."""
    fut = st.toolchain(requested)
    if fut.done():
        try:
            return fut.result().rerun_arg
        except ToolchainUnavailable:
            pass
    return requested


def rerun_program(config: pytest.Config) -> str:
    """``python -m pytest`` in a clone (run from its root); the console script of an installed
    suite, which maps ``manifests/…`` ids to the installed cases."""
    return "wasmexport-conformance" if config.inipath == CONFIG else "python -m pytest"


def bundle_arg(st: State) -> str:
    return "" if st.bundle is None else f" --bundle {shlex.quote(str(st.bundle.path))}"


def display(path: Path) -> str:
    return str(path.relative_to(SUITE)) if path.is_relative_to(SUITE) else str(path)
