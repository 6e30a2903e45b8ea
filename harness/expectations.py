"""Known divergences, as data: per engine (runners/<engine>/expectations.yaml) and per Go
release (manifests/toolchain-expectations.yaml).

Each entry names a case, optionally the Go releases it applies to, the reason and a link. A
listed case that fails is `xfail` (a finding the report shows); one that passes is `xpass`,
which fails the run so the list cannot go stale. An entry marked ``intermittent: true`` is a
divergence seen only sometimes (a JIT tiering up, say): when it does not show, the case passes
with a note, never an xpass.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.versions import ALL_RELEASES, VersionRange
from harness.yamlsrc import YamlError, line_at
from harness.yamlsrc import load as load_yaml

_FIELDS = {"case", "go", "reason", "link", "intermittent"}


@dataclass(frozen=True)
class Divergence:
    source: str  # which file: the engine name or "go"
    case: str
    go: VersionRange
    reason: str
    link: str
    line: int
    intermittent: bool = False

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
        out.append(Divergence(source, str(entry["case"]), go, str(entry["reason"]),
                              str(entry["link"]), line, bool(entry.get("intermittent", False))))
    return tuple(out)


def find(entries: tuple[Divergence, ...], case: str, version: tuple[int, int, int]) -> Divergence | None:
    return next((d for d in entries if d.case == case and d.go.contains(version)), None)
