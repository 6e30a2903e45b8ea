"""Known divergences, as data: per engine (runners/<engine>/expectations.yaml) and per Go
release (manifests/toolchain-expectations.yaml).

Each entry names a case (or a glob of cases), optionally the releases it applies to (``go:``
Go's, or ``tinygo:`` TinyGo's own versions), the reason and a link. A
listed case that fails is `xfail` (a finding the report shows); one that passes is `xpass`,
which fails the run so the list cannot go stale. An entry marked ``intermittent: true`` is a
divergence seen only sometimes (a JIT tiering up, say): when it does not show, the case passes
with a note, never an xpass.

An engine with configurations (wasmtime's Cranelift, Winch, Pulley) has one file for what every
configuration shows (`expectations.yaml`: the engine's WASI layer, say), where an entry may name
the ``engines`` it is limited to, and one per configuration for what only that configuration
shows (`expectations-winch.yaml`: a finding about that compiler); see `for_engine`.

An entry may name several cases (``cases: [...]``) for one cause, and a TinyGo entry one
``scheduler``. An entry with ``extra_exports`` or ``export_order: any`` (no case) is an
allowance: what a compiler does to every module (exports it adds, the order of the section), set
aside before the export section is judged (`allowances`); the finding is shown once, not as a
failure of every case.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from harness.versions import ALL_RELEASES, VersionRange
from harness.yamlsrc import YamlError, line_at
from harness.yamlsrc import load as load_yaml

_FIELDS = {"case", "cases", "go", "tinygo", "scheduler", "reason", "link", "intermittent",
           "engines", "extra_exports", "export_order"}
_ALLOWANCES = ("extra_exports", "export_order")


@dataclass(frozen=True)
class Divergence:
    source: str  # which file: the engine name or "go"
    case: str
    go: VersionRange | None  # None: every release of every compiler
    reason: str
    link: str
    line: int
    intermittent: bool = False
    engines: tuple[str, ...] = ()  # the configurations it is limited to; () = every one
    compiler: str | None = "gc"  # whose releases `go` names: gc's, TinyGo's (`tinygo:`), any
    extra_exports: tuple[str, ...] = ()  # allowances (see `allowances`), not divergences
    export_order: bool = False
    scheduler: str | None = None  # a TinyGo entry limited to one scheduler

    @property
    def allowance(self) -> bool:
        return bool(self.extra_exports) or self.export_order

    def applies_to(self, engine: str) -> bool:
        return not self.engines or engine in self.engines

    def covers(self, case: str, version: tuple[int, int, int], compiler: str,
               scheduler: str | None = None) -> bool:
        """`case` may be a glob (``build-errors/*``)."""
        return (self.compiler in (None, compiler) and fnmatchcase(case, self.case)
                and (self.go is None or self.go.contains(version))
                and self.scheduler in (None, scheduler))

    def describe(self) -> str:
        return f"{self.reason} ({self.link})"


def load(path: Path, source: str) -> tuple[Divergence, ...]:
    """Read one expectations file; a missing file means none. Raises YamlError on bad entries."""
    if not path.exists():
        return ()
    doc = load_yaml(path)
    if doc is None:
        return ()
    if not isinstance(doc, list):
        raise YamlError(path, 1, "an expectations file is a list of {case, go, reason, link}")
    out: list[Divergence] = []
    for i, entry in enumerate(doc):
        line = line_at(doc, [i]) or 1
        out += _entry(path, source, line, entry)
    return tuple(out)


def _entry(path: Path, source: str, line: int, entry: Any) -> list[Divergence]:
    """One entry: a divergence of one case or of several (``cases``), or an allowance."""
    if not isinstance(entry, dict):
        raise YamlError(path, line, "each entry is a mapping: case, reason, link (go is optional)")
    allowance = any(k in entry for k in _ALLOWANCES)
    cases = ["*"] if allowance else entry.get("cases", [entry.get("case")])
    if not {"reason", "link"} <= set(entry) or not cases or not all(
            isinstance(c, str) and c for c in cases) or ("case" in entry and "cases" in entry):
        raise YamlError(path, line, "each entry needs case (or a list: cases), reason and link "
                        "(go is optional)")
    extra = set(entry) - _FIELDS
    if extra:
        raise YamlError(path, line, f"unknown field(s) {sorted(extra)}; allowed: {sorted(_FIELDS)}")
    if not str(entry["reason"]).strip() or not str(entry["link"]).strip():
        raise YamlError(path, line, "reason and link must not be empty")
    if "go" in entry and "tinygo" in entry:
        raise YamlError(path, line, "an entry names Go releases (go) or TinyGo's (tinygo)")
    compiler = "tinygo" if "tinygo" in entry else "gc" if "go" in entry or source == "go" else None
    try:
        go = (VersionRange.parse(entry["tinygo"]) if "tinygo" in entry
              else VersionRange.parse(entry["go"]) if "go" in entry
              else ALL_RELEASES if compiler == "gc" else None)
    except ValueError as e:
        raise YamlError(path, line, str(e)) from e
    exports = entry.get("extra_exports", [])
    if not isinstance(exports, list) or not all(isinstance(x, str) and x for x in exports):
        raise YamlError(path, line, "extra_exports is a list of export names or globs")
    if entry.get("export_order", "any") != "any":
        raise YamlError(path, line, "export_order: any (the section's order is not judged)")
    if entry.get("scheduler") not in (None, "asyncify", "none") or (
            "scheduler" in entry and compiler != "tinygo"):
        raise YamlError(path, line, "scheduler (asyncify or none) limits a tinygo: entry")
    if not isinstance(entry.get("intermittent", False), bool):
        raise YamlError(path, line, "intermittent is true or false")
    limited = entry.get("engines", [])
    if not isinstance(limited, list) or not all(isinstance(e, str) and e for e in limited):
        raise YamlError(path, line, "engines is a list of engine names (configurations)")
    return [Divergence(source, case, go, str(entry["reason"]), str(entry["link"]), line,
                       bool(entry.get("intermittent", False)), tuple(limited), compiler,
                       tuple(exports), "export_order" in entry, entry.get("scheduler"))
            for case in cases]


def find(entries: tuple[Divergence, ...], case: str, version: tuple[int, int, int],
         compiler: str = "gc", scheduler: str | None = None) -> Divergence | None:
    """The divergence listed for `case` on this release of `compiler` (allowances aside). An
    engine's entry naming no releases applies to every compiler's modules."""
    return next((d for d in entries
                 if not d.allowance and d.covers(case, version, compiler, scheduler)), None)


def allowances(entries: tuple[Divergence, ...], case: str, version: tuple[int, int, int],
               compiler: str, scheduler: str | None = None) -> tuple[Divergence, ...]:
    """What a compiler does to every module, set aside before judging: exports it adds
    (TinyGo's malloc, asyncify_*...) and the export section's order. The record says which."""
    return tuple(d for d in entries
                 if d.allowance and d.covers(case, version, compiler, scheduler))


def for_engine(engine: str, family: str, file_of: Callable[[str], Path]) -> tuple[Divergence, ...]:
    """The divergences listed for `engine`: its family's file (entries not limited to other
    configurations), then, for a configuration, its own file."""
    shared = tuple(d for d in load(file_of(family), family) if d.applies_to(engine))
    return shared if engine == family else shared + load(file_of(engine), engine)
