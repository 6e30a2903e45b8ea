"""Where each engine stands, computed from a data set: the case grid, pass percentages per engine
× toolchain and per area, the interop count per case, and findings grouped once.

- The **grid** has a column per (engine, toolchain) (an engine with several versions in the data
  gets a column per version) and a row per case; a cell shows one record (reports.dataset.pick)
  and keeps the others (conflicts, agreements over fewer engines).
- **Pass percentage** is of the applicable records: every verdict but skip. A known divergence
  (xfail) is applicable and not a pass.
- **Interop** of a case on a toolchain: how many of the engines that ran it pass, i.e. show the
  documented behaviour.
- **Findings**: a Go-release finding is one entry per case and release range (the engines and
  toolchains that showed it listed inside), apart from engine findings (one per case and engine).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from reports.dataset import AGREEMENT, DataSet, Entry, pick, release_key


@dataclass(frozen=True)
class Column:
    engine: str
    version: str | None  # set only when the data holds several versions of the engine
    toolchain: str

    @property
    def label(self) -> str:
        return self.engine if self.version is None else f"{self.engine} {self.version}"


@dataclass
class Cell:
    entry: Entry
    others: list[Entry]  # every other record of the cell: never hidden

    @property
    def conflict(self) -> bool:
        return any(o.slot == self.entry.slot for o in self.others)


@dataclass
class Tally:
    counts: Counter[str] = field(default_factory=Counter)

    @property
    def applicable(self) -> int:
        return sum(self.counts.values()) - self.counts["skip"]

    @property
    def percent(self) -> int | None:
        """Passes of applicable records, rounded down (99.6 % is not 100 %)."""
        return None if not self.applicable else self.counts["pass"] * 100 // self.applicable


@dataclass(frozen=True)
class Interop:
    passed: int
    ran: int
    go_finding: int  # engines whose record is a Go release's known behaviour (xfail)
    engines: tuple[str, ...]  # the engines that ran it


@dataclass
class Finding:
    kind: str  # "go" or "engine"
    case: str
    what: str  # the release range (go) or the engine (engine)
    text: str
    link: str
    line: int | None
    engines: set[str] = field(default_factory=set)
    toolchains: set[str] = field(default_factory=set)


class Grid:
    """The data set as cases × columns, with the views computed from it."""

    def __init__(self, data: DataSet) -> None:
        self.data = data
        versions = data.engine_versions()
        self.several = {e for e, v in versions.items() if len(v) > 1}
        groups: dict[tuple[str, Column], list[Entry]] = defaultdict(list)
        for e in data.entries:
            groups[(e.case, self.column_of(e))].append(e)
        engine_order = {name: n for n, name in enumerate(data.engines())}
        self.columns = sorted({c for _, c in groups}, key=lambda c: (
            release_key(c.toolchain), engine_order[c.engine], c.version or ""))
        self.cases = sorted({case for case, _ in groups})
        self.cells: dict[str, dict[Column, Cell]] = defaultdict(dict)
        for (case, col), entries in groups.items():
            chosen = pick(entries)
            self.cells[case][col] = Cell(chosen, [e for e in entries if e is not chosen])

    def column_of(self, e: Entry) -> Column:
        return Column(e.engine, (e.version or "?") if e.engine in self.several else None, e.toolchain)

    def family_spans(self) -> list[tuple[str, int]]:
        """The column header's top row: each run of adjacent columns of one engine family (an
        engine's configurations) as (family, columns); empty when no family has two engines."""
        fam = self.data.families()
        if len(set(fam.values())) == len(fam):
            return []
        spans: list[tuple[str, int]] = []
        for col in self.columns:
            f = fam.get(col.engine, col.engine)
            if spans and spans[-1][0] == f:
                spans[-1] = (f, spans[-1][1] + 1)
            else:
                spans.append((f, 1))
        return spans

    def toolchains(self) -> list[str]:
        return sorted({c.toolchain for c in self.columns}, key=release_key)

    def record(self, case: str) -> Entry:
        """Any record of the case, for its title, area, refs and path."""
        return next(iter(self.cells[case].values())).entry

    def area(self, case: str) -> str:
        return str(self.record(case).rec.get("area") or case.split("/", 1)[0])

    def areas(self) -> list[str]:
        return sorted({self.area(c) for c in self.cases})

    def tally(self, area: str | None = None) -> dict[Column, Tally]:
        out = {c: Tally() for c in self.columns}
        for case in self.cases:
            if area is not None and self.area(case) != area:
                continue
            for col, cell in self.cells[case].items():
                out[col].counts[cell.entry.verdict] += 1
        return out

    def interop(self, case: str, toolchain: str) -> Interop | None:
        cells = [(col, cell) for col, cell in self.cells[case].items()
                 if col.toolchain == toolchain and col.engine != AGREEMENT]
        ran = [(col, cell) for col, cell in cells if cell.entry.verdict != "skip"]
        if not ran:
            return None
        return Interop(passed=sum(cell.entry.verdict == "pass" for _, cell in ran), ran=len(ran),
                       go_finding=sum(go_finding(cell.entry) for _, cell in ran),
                       engines=tuple(col.label for col, _ in ran))

    def interop_summary(self, toolchain: str) -> tuple[int, int, int]:
        """(cases passing on every engine that ran them, cases run by two engines or more,
        cases of those with a Go finding on every engine)."""
        every = total = go = 0
        for case in self.cases:
            i = self.interop(case, toolchain)
            if i is None or i.ran < 2:
                continue
            total += 1
            every += i.passed == i.ran
            go += i.go_finding == i.ran
        return every, total, go

    def findings(self) -> list[Finding]:
        found: dict[tuple[str, str, str, str], Finding] = {}
        for e in self.data.entries:
            if e.verdict != "xfail":
                continue
            rel, div = e.rec.get("release_entry"), e.rec.get("divergence")
            if isinstance(rel, dict):
                key = ("go", e.case, str(rel.get("go", "?")), str(rel.get("finding", "")))
                line = rel.get("line")
                link = rel.get("link")
            elif isinstance(div, dict):
                source = str(div.get("source") or e.engine)
                kind = "go" if source == "go" else "engine"
                what = "toolchain expectations" if kind == "go" else e.engine
                key = (kind, e.case, what, str(div.get("reason", "")))
                line, link = None, div.get("link")
            else:  # an agreement explained by the engines' own divergences
                key = ("engine", e.case, f"agreement of {', '.join(e.slot[3])}", str(e.rec.get("reason", "")))
                line, link = None, None
            f = found.get(key)
            if f is None:
                f = found[key] = Finding(key[0], e.case, key[2], key[3], str(link or ""),
                                         line if isinstance(line, int) else None)
            f.engines.add(e.engine)
            f.toolchains.add(e.toolchain)
        return sorted(found.values(), key=lambda f: (f.kind, f.case, f.what))


def go_finding(e: Entry) -> bool:
    div = e.rec.get("divergence")
    return e.verdict == "xfail" and (isinstance(e.rec.get("release_entry"), dict) or (
        isinstance(div, dict) and div.get("source") == "go"))
