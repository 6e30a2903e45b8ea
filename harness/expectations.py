"""Known divergences, as data: per engine (runners/<engine>/expectations.yaml) and per Go
release (manifests/toolchain-expectations.yaml).

Each entry names a case, optionally the Go releases it applies to, the reason and a link. A
listed case that fails is `xfail` (a finding the report shows); one that passes is `xpass`,
which fails the run so the list cannot go stale. An entry marked ``intermittent: true`` is a
divergence seen only sometimes (a JIT tiering up, say): when it does not show, the case passes
with a note, never an xpass.

An engine with configurations (wasmtime's Cranelift, Winch, Pulley) has one file for what every
configuration shows (`expectations.yaml`: the engine's WASI layer, say), where an entry may name
the ``engines`` it is limited to, and one per configuration for what only that configuration
shows (`expectations-winch.yaml`: a finding about that compiler); see `for_engine`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.versions import ALL_RELEASES, VersionRange
from harness.yamlsrc import YamlError, line_at
from harness.yamlsrc import load as load_yaml

_FIELDS = {"case", "go", "reason", "link", "intermittent", "engines"}


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

    def applies_to(self, engine: str) -> bool:
        return not self.engines or engine in self.engines

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
    for i, entry in enumerate(doc):
        line = line_at(doc, [i]) or 1
        if not isinstance(entry, dict) or not {"case", "reason", "link"} <= set(entry):
            raise YamlError(path, line, "each entry needs case, reason and link (go is optional)")
        extra = set(entry) - _FIELDS
        if extra:
            raise YamlError(path, line, f"unknown field(s) {sorted(extra)}; allowed: {sorted(_FIELDS)}")
        if not str(entry["reason"]).strip() or not str(entry["link"]).strip():
            raise YamlError(path, line, "reason and link must not be empty")
        try:
            go = VersionRange.parse(entry["go"]) if "go" in entry else ALL_RELEASES
        except ValueError as e:
            raise YamlError(path, line, str(e)) from e
        if not isinstance(entry.get("intermittent", False), bool):
            raise YamlError(path, line, "intermittent is true or false")
        limited = entry.get("engines", [])
        if not isinstance(limited, list) or not all(isinstance(e, str) and e for e in limited):
            raise YamlError(path, line, "engines is a list of engine names (configurations)")
        out.append(Divergence(source, str(entry["case"]), go, str(entry["reason"]),
                              str(entry["link"]), line, bool(entry.get("intermittent", False)),
                              tuple(limited)))
    return tuple(out)


def find(entries: tuple[Divergence, ...], case: str, version: tuple[int, int, int]) -> Divergence | None:
    return next((d for d in entries if d.case == case and d.go.contains(version)), None)


def for_engine(engine: str, family: str, file_of: Callable[[str], Path]) -> tuple[Divergence, ...]:
    """The divergences listed for `engine`: its family's file (entries not limited to other
    configurations), then, for a configuration, its own file."""
    shared = tuple(d for d in load(file_of(family), family) if d.applies_to(engine))
    return shared if engine == family else shared + load(file_of(engine), engine)
