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

An entry with ``extra_exports`` (no case) is an allowance: exports a compiler adds to every
module, set aside before the export section is judged (`allowed_exports`); the finding is shown
once, not as a failure of every case.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from harness.versions import ALL_RELEASES, VersionRange
from harness.yamlsrc import YamlError, line_at
from harness.yamlsrc import load as load_yaml

_FIELDS = {"case", "go", "tinygo", "reason", "link", "intermittent", "engines", "extra_exports"}


@dataclass(frozen=True)
class Divergence:
    source: str  # which file: the engine name or "go"
    case: str
    go: VersionRange
    reason: str
    link: str
    line: int
    intermittent: bool = False
    engines: tuple[str, ...] = ()  # the configurations it is limited to; () = every one
    compiler: str = "gc"  # whose releases `go` names: gc's, or TinyGo's own (a `tinygo:` entry)
    extra_exports: tuple[str, ...] = ()  # an allowance (see `allowed_exports`), not a divergence

    def applies_to(self, engine: str) -> bool:
        return not self.engines or engine in self.engines

    def covers(self, case: str, version: tuple[int, int, int], compiler: str) -> bool:
        """`case` may be a glob (``build-errors/*``)."""
        return (self.compiler == compiler and fnmatchcase(case, self.case)
                and self.go.contains(version))

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
    out = []
    for i, raw in enumerate(doc):
        line = line_at(doc, [i]) or 1
        entry = {"case": "*", **raw} if isinstance(raw, dict) and "extra_exports" in raw else raw
        if not isinstance(entry, dict) or not {"case", "reason", "link"} <= set(entry):
            raise YamlError(path, line, "each entry needs case, reason and link (go is optional)")
        extra = set(entry) - _FIELDS
        if extra:
            raise YamlError(path, line, f"unknown field(s) {sorted(extra)}; allowed: {sorted(_FIELDS)}")
        if not str(entry["reason"]).strip() or not str(entry["link"]).strip():
            raise YamlError(path, line, "reason and link must not be empty")
        if "go" in entry and "tinygo" in entry:
            raise YamlError(path, line, "an entry names Go releases (go) or TinyGo's (tinygo)")
        compiler = "tinygo" if "tinygo" in entry else "gc"
        try:
            go = (VersionRange.parse(entry["tinygo"]) if compiler == "tinygo"
                  else VersionRange.parse(entry["go"]) if "go" in entry else ALL_RELEASES)
        except ValueError as e:
            raise YamlError(path, line, str(e)) from e
        extra = entry.get("extra_exports", [])
        if not isinstance(extra, list) or not all(isinstance(x, str) and x for x in extra):
            raise YamlError(path, line, "extra_exports is a list of export names or globs")
        if not isinstance(entry.get("intermittent", False), bool):
            raise YamlError(path, line, "intermittent is true or false")
        limited = entry.get("engines", [])
        if not isinstance(limited, list) or not all(isinstance(e, str) and e for e in limited):
            raise YamlError(path, line, "engines is a list of engine names (configurations)")
        out.append(Divergence(source, str(entry["case"]), go, str(entry["reason"]),
                              str(entry["link"]), line, bool(entry.get("intermittent", False)),
                              tuple(limited), compiler, tuple(extra)))
    return tuple(out)


def find(entries: tuple[Divergence, ...], case: str, version: tuple[int, int, int],
         compiler: str = "gc") -> Divergence | None:
    """The divergence listed for `case` on this release of `compiler` (allowances aside)."""
    return next((d for d in entries if not d.extra_exports and d.covers(case, version, compiler)),
                None)


def allowed_exports(entries: tuple[Divergence, ...], case: str, version: tuple[int, int, int],
                    compiler: str) -> tuple[Divergence, ...]:
    """Allowances: exports a compiler adds to every module (TinyGo's malloc, asyncify_*...).
    The export section is judged without them, and the record says which were set aside."""
    return tuple(d for d in entries if d.extra_exports and d.covers(case, version, compiler))


def for_engine(engine: str, family: str, file_of: Callable[[str], Path]) -> tuple[Divergence, ...]:
    """The divergences listed for `engine`: its family's file (entries not limited to other
    configurations), then, for a configuration, its own file."""
    shared = tuple(d for d in load(file_of(family), family) if d.applies_to(engine))
    return shared if engine == family else shared + load(file_of(engine), engine)
