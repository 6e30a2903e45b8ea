"""Where a case changes across Go releases (and engine versions):
``python -m reports transitions FILE…``.

For every case and engine, the records are put in release order and adjacent ones compared: a
different verdict or a different normalised observation (reports.observe) is a transition, and
the first one is the first release that differs from the oldest. Where the data set holds
several versions of an engine, the same is done across those versions for each toolchain. Only
cases with a transition are listed, each once, with the engines that showed each step. This is
what ``python -m harness.bisect`` finds for one case by building the releases in between; here
it is read from the results for every case at once, over the releases that were run.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from itertools import pairwise

from reports.dataset import DataSet, Entry, pick, release_key, version_key
from reports.observe import fingerprint, first_difference, focus


@dataclass(frozen=True)
class Step:
    """One change between adjacent releases (or engine versions) of one case."""

    case: str
    axis: str  # "Go release" or "<engine> version"
    before: str  # the release (or version) before the change
    after: str  # the first one that differs
    what: str  # "verdict xfail → pass", or "observation: step 2 stdout"
    engines: tuple[str, ...]
    old_value: str = ""
    new_value: str = ""


def _what(a: Entry, b: Entry) -> tuple[str, str, str] | None:
    if a.verdict != b.verdict:
        return f"verdict {a.verdict} → {b.verdict}", "", ""
    diff = first_difference(fingerprint(a.rec), fingerprint(b.rec))
    if diff is None:
        return None
    return (f"observation: {diff[0]}", *focus(diff[1], diff[2]))


def find(data: DataSet) -> list[Step]:
    """Every transition, grouped over engines, in case order then release order."""
    versions = data.engine_versions()
    by_release: dict[tuple[str, str, str | None], dict[str, list[Entry]]] = defaultdict(
        lambda: defaultdict(list))
    by_version: dict[tuple[str, str, str], dict[str, list[Entry]]] = defaultdict(
        lambda: defaultdict(list))
    for e in data.entries:
        several = len(versions.get(e.engine, ())) > 1
        by_release[(e.case, e.engine, e.version if several else None)][e.toolchain].append(e)
        if several and e.version:
            by_version[(e.case, e.engine, e.toolchain)][e.version].append(e)
    found: dict[tuple[str, str, str, str, str, str, str], list[str]] = defaultdict(list)

    def scan(case: str, engine: str, axis: str, points: list[tuple[str, Entry]]) -> None:
        for (p, a), (q, b) in pairwise(points):
            what = _what(a, b)
            if what is not None:
                found[(case, axis, p, q, *what)].append(engine)

    for (case, engine, version), seq in by_release.items():
        points = [(tc, pick(seq[tc])) for tc in sorted(seq, key=release_key)]
        label = engine if version is None else f"{engine} {version}"
        scan(case, label, "Go release", points)
    for (case, engine, tc), seq in by_version.items():
        points = [(v, pick(seq[v])) for v in sorted(seq, key=version_key)]
        scan(case, f"{engine} on {tc}", f"{engine} version", points)
    steps = [Step(case, axis, p, q, what, tuple(sorted(engines)), old, new)
             for (case, axis, p, q, what, old, new), engines in found.items()]
    order = {"Go release": 0}
    return sorted(steps, key=lambda s: (s.case, order.get(s.axis, 1), s.axis,
                                        release_key(s.after) if s.axis == "Go release"
                                        else (0, 0, 0, 0, ""), version_key(s.after), s.what))


def first_changes(steps: list[Step]) -> dict[str, Step]:
    """Per case, its first transition across Go releases (else across engine versions)."""
    out: dict[str, Step] = {}
    for s in steps:
        out.setdefault(s.case, s)
    return out


def _clip(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + f"… ({len(text) - limit} more)"


def render_text(data: DataSet, steps: list[Step]) -> str:
    tcs = data.toolchains()
    lines = [f"transitions over {len(tcs)} toolchains ({', '.join(tcs)})"
             + "".join(f"; {e} versions {', '.join(v)}" for e, v in data.engine_versions().items()
                       if len(v) > 1)]
    firsts = first_changes(steps)
    lines.append(f"{len(firsts)} cases change"
                 + (":" if firsts else " (no verdict or observation differs between adjacent ones)"))
    for case in sorted(firsts):
        first = firsts[case]
        lines += ["", f"{case}: first differs at {first.after} (after {first.before}, {first.axis})"]
        for s in (s for s in steps if s.case == case):
            lines.append(f"  {s.before} → {s.after}: {s.what} [{', '.join(s.engines)}]")
            if s.old_value or s.new_value:
                lines += [f"    - {x}" for x in _clip(s.old_value).split("\n")]
                lines += [f"    + {x}" for x in _clip(s.new_value).split("\n")]
    return "\n".join(lines) + "\n"
