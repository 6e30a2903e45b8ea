"""A case's other views: the case on each of its targets (a top-level ``js:`` block), and the
case as the releases a ``releases:`` entry names really behave. Each view is the document with
some sections replaced, built and checked like the case itself (harness/manifest.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from harness.model import Compiler, Manifest, Release
from harness.versions import VersionRange
from harness.yamlsrc import LineDict, YamlError, dotted, line_at

RELEASE_SECTIONS = ("build", "module", "imports", "script")


class _Case(Protocol):
    doc: dict[str, Any]
    targets: tuple[str, ...]
    target: str

    def fail(self, where: list[str | int], message: str) -> YamlError: ...


def replaced(doc: dict[str, Any], block: dict[str, Any], keys: tuple[str, ...] | None = None,
             drop: tuple[str, ...] = ()) -> LineDict:
    """`doc` with `block`'s sections (those in `keys`, or all) in place, keeping the line marks;
    `program` keys are merged into the case's program. A build that fails has no module or
    script, unless the block gives them."""
    out = LineDict({k: v for k, v in doc.items() if k not in drop})
    out.line = getattr(doc, "line", 1)
    out.key_lines = dict(getattr(doc, "key_lines", {}))
    for key, value in block.items():
        if keys is not None and key not in keys:
            continue
        out[key] = {**doc["program"], **value} if key == "program" else value
        out.key_lines[key] = getattr(block, "key_lines", {}).get(key, 0)
    if block.get("build", {}).get("outcome", "ok") != "ok":
        for gone in ("module", "script"):
            if gone not in block:
                out.pop(gone, None)
    return out


def probe_versions(rng: VersionRange, major: int = 1) -> list[tuple[int, int, int]]:
    """Versions inside `rng` among a grid of releases (Go 1.x; TinyGo 0.x), to detect
    overlapping ranges."""
    minors = range(24, 40) if major else range(30, 80)
    return [v for v in ((major, minor, patch) for minor in minors for patch in range(40))
            if rng.contains(v)]


def releases(case: _Case, build: Callable[[LineDict], Manifest],
             error: Callable[[YamlError, str], YamlError]) -> tuple[Release, ...]:
    """The case's `releases:` entries for its target, each with the case as those releases
    really behave (`build` checks it; `error` re-raises a problem inside the entry)."""
    out: list[Release] = []
    for i, entry in enumerate(case.doc.get("releases", ())):
        at: list[str | int] = ["releases", i]
        compiler: Compiler = "tinygo" if "tinygo" in entry else "gc"
        key = "tinygo" if compiler == "tinygo" else "go"
        where = entry.get("target")
        if where is not None and where not in case.targets:
            raise case.fail([*at, "target"], f"the case is not built for {where} "
                            f"(program.target: {', '.join(case.targets)})")
        if where not in (None, case.target):
            continue
        try:
            rng = VersionRange.parse(entry[key])
        except ValueError as e:
            raise case.fail([*at, key], str(e)) from e
        try:
            actual = build(replaced(case.doc, entry, RELEASE_SECTIONS, drop=("releases",)))
        except YamlError as e:
            raise error(e, dotted(at)) from e
        overlap = [r for r in out if r.compiler == compiler and r.target in (None, where)
                   and any(r.go.contains(v) for v in probe_versions(rng, int(compiler == "gc")))]
        if overlap:
            raise case.fail([*at, key], f"{rng} overlaps the entry for {overlap[0].go}")
        out.append(Release(rng, entry["finding"], entry.get("link", ""), line_at(case.doc, at),
                           actual, compiler, where))
    return tuple(out)
