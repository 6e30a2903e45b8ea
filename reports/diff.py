"""What changed between two result sets: ``python -m reports diff OLD NEW [--format markdown]``.

Records are paired by case, engine and toolchain; when each side holds one toolchain and they
differ (a go1.24.3 run against a go1.27.3 run), by case and engine alone. Engine versions are
never part of the pairing (an engine upgrade is what such a diff is for), and an agreement
record pairs with the agreement of the same case and toolchain, whatever engines it compared.

Every paired record is either unchanged or one change, counted per engine and per case, never as
a net percentage:

- **newly failing**: it did not fail before and fails, disagrees, errors or xpasses now;
- **newly diverging**: it passed and is now a known divergence (xfail);
- **newly passing**: it passes now and did not;
- **verdict changed**: any other change of verdict (fail → error, pass → skip, …);
- **observation changed**: the same verdict, a different normalised observation (reports.observe:
  values, streams, traps, traces; never addresses or wall times);
- **engines compared changed**: an agreement over another engine set (not a regression);
- **only in old** / **only in new**: no partner on the other side (a case, engine or toolchain
  that one side did not run).

The exit status is 1 when anything regressed (newly failing or newly diverging), else 0.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from harness.results import FAILING
from reports.dataset import AGREEMENT, DataSet, Entry, pick, release_key
from reports.observe import fingerprint, first_difference, focus

KINDS = ("newly failing", "newly diverging", "newly passing", "verdict changed",
         "observation changed", "engines compared changed", "only in old", "only in new")
REGRESSIONS = ("newly failing", "newly diverging")
EXCERPT = 400  # characters of an observed value a text diff shows
LIST_UNPAIRED = 20  # records without a partner listed by name up to this many, else counted


@dataclass(frozen=True)
class Change:
    kind: str
    case: str
    engine: str
    old: Entry | None
    new: Entry | None
    field: str = ""  # observation changed: the first field that differs, with both values
    before: str = ""
    after: str = ""

    def scope(self) -> str:
        """``wazero, go1.24.3 → go1.27.3``: the engine and the toolchain(s) compared."""
        tcs = [e.toolchain for e in (self.old, self.new) if e is not None]
        return f"{self.engine}, {' → '.join(dict.fromkeys(tcs))}"

    def where(self) -> str:
        return f"{self.case} [{self.scope()}]"

    def verdicts(self) -> str:
        if self.old is None or self.new is None:
            e = self.old or self.new
            assert e is not None
            return e.verdict
        text = (self.old.verdict if self.old.verdict == self.new.verdict
                else f"{self.old.verdict} → {self.new.verdict}")
        if self.kind == "engines compared changed":
            text += f" (engines {_engines(self.old)} → {_engines(self.new)})"
        return text


def _engines(e: Entry) -> str:
    return ", ".join(e.slot[3]) or "?"


@dataclass
class Diff:
    old_name: str
    new_name: str
    paired_by: str
    unchanged: int = 0
    changes: list[Change] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)  # "wasmtime 50.0.1 → 51.0.0"

    @property
    def regressed(self) -> bool:
        return any(c.kind in REGRESSIONS for c in self.changes)

    def of(self, kind: str) -> list[Change]:
        return [c for c in self.changes if c.kind == kind]

    def per_engine(self) -> dict[str, Counter[str]]:
        out: dict[str, Counter[str]] = defaultdict(Counter)
        for c in self.changes:
            out[c.engine][c.kind] += 1
        return dict(sorted(out.items(), key=lambda kv: (kv[0] == AGREEMENT, kv[0])))

    def per_case(self) -> Counter[str]:
        """Per kind, how many distinct cases have such a change."""
        seen: dict[str, set[str]] = defaultdict(set)
        for c in self.changes:
            seen[c.kind].add(c.case)
        return Counter({k: len(v) for k, v in seen.items()})


def _classify(old: Entry, new: Entry) -> Change | None:
    case, engine = new.case, new.engine
    if engine == AGREEMENT and old.slot[3] != new.slot[3]:
        if old.verdict == new.verdict:
            return None
        return Change("engines compared changed", case, engine, old, new)
    a, b = old.verdict, new.verdict
    if a != b:
        if b in FAILING and a not in FAILING:
            kind = "newly failing"
        elif a == "pass" and b == "xfail":
            kind = "newly diverging"
        elif b == "pass":
            kind = "newly passing"
        else:
            kind = "verdict changed"
        return Change(kind, case, engine, old, new)
    diff = first_difference(fingerprint(old.rec), fingerprint(new.rec))
    if diff is None:
        return None
    name, before, after = diff
    return Change("observation changed", case, engine, old, new, name, *focus(before, after))


def compare(old: DataSet, new: DataSet, old_name: str = "old", new_name: str = "new") -> Diff:
    """Pair the records of two data sets and classify every difference."""
    old_tcs, new_tcs = old.toolchains(), new.toolchains()
    across = len(old_tcs) == 1 and len(new_tcs) == 1 and old_tcs != new_tcs
    paired_by = (f"case and engine ({old_tcs[0]} → {new_tcs[0]})" if across
                 else "case, engine and toolchain")

    def index(data: DataSet) -> dict[tuple[str, str, str], Entry]:
        groups: dict[tuple[str, str, str], list[Entry]] = defaultdict(list)
        for e in data.entries:
            groups[(e.case, e.engine, "" if across else e.toolchain)].append(e)
        return {k: pick(v) for k, v in groups.items()}

    a, b = index(old), index(new)
    out = Diff(old_name, new_name, paired_by)
    for key in sorted(a.keys() | b.keys(), key=lambda k: (k[0], k[1] == AGREEMENT, k[1],
                                                         release_key(k[2]))):
        x, y = a.get(key), b.get(key)
        if x is None or y is None:
            e = x or y
            assert e is not None
            out.changes.append(Change("only in new" if x is None else "only in old", e.case,
                                      e.engine, x, y))
            continue
        change = _classify(x, y)
        if change is None:
            out.unchanged += 1
        else:
            out.changes.append(change)
    ov, nv = old.engine_versions(), new.engine_versions()
    for engine in sorted(ov.keys() & nv.keys()):
        if ov[engine] != nv[engine]:
            out.versions.append(f"{engine} {', '.join(ov[engine])} → {', '.join(nv[engine])}")
    return out


def clip(text: str, limit: int = EXCERPT) -> str:
    text = text.replace("\r", "\\r")
    return text if len(text) <= limit else text[:limit] + f"… ({len(text) - limit} more)"


def _indent(text: str, prefix: str) -> list[str]:
    return [prefix + line for line in clip(text).split("\n")]


def table(d: Diff) -> tuple[list[str], list[list[str]]]:
    kinds = [k for k in KINDS if d.of(k)] or list(REGRESSIONS)
    rows = [[engine, *(str(c[k]) for k in kinds)] for engine, c in d.per_engine().items()]
    per_case = d.per_case()
    rows.append(["cases", *(str(per_case[k]) for k in kinds)])
    return ["engine", *kinds], rows


def headline(d: Diff) -> list[str]:
    lines = [f"old: {d.old_name}", f"new: {d.new_name}", f"paired by {d.paired_by}"]
    lines += [f"engine version: {v}" for v in d.versions]
    lines.append(f"{d.unchanged} unchanged, {len(d.changes)} changed; regressed: "
                 + ("YES (newly failing or newly diverging)" if d.regressed else "no"))
    return lines


def listed(d: Diff, kind: str) -> list[Change]:
    """Changes of `kind` listed one by one: records without a partner only when they fail or
    are few (the others are counted per engine)."""
    changes = d.of(kind)
    if kind in ("only in old", "only in new") and len(changes) > LIST_UNPAIRED:
        return [c for c in changes if _one(c).verdict in FAILING]
    return changes


def _one(c: Change) -> Entry:
    e = c.old or c.new
    assert e is not None
    return e


def counted(changes: list[Change]) -> str:
    by: dict[str, Counter[str]] = defaultdict(Counter)
    for c in changes:
        e = c.old or c.new
        assert e is not None
        by[c.engine][e.verdict] += 1
    return "; ".join(f"{engine}: " + ", ".join(f"{n} {v}" for v, n in sorted(cnt.items()))
                     for engine, cnt in sorted(by.items()))


def render_text(d: Diff) -> str:
    heads, rows = table(d)
    widths = [max(len(r[i]) for r in [heads, *rows]) for i in range(len(heads))]
    lines = [*headline(d), ""]
    for row in [heads, *rows] if d.changes else []:
        lines.append("  ".join(c.rjust(w) if i else c.ljust(w)
                               for i, (c, w) in enumerate(zip(row, widths, strict=True))))
    for kind in KINDS:
        changes = d.of(kind)
        if not changes:
            continue
        lines += ["", f"{kind.upper()} ({len(changes)})"]
        if kind in ("only in old", "only in new"):
            lines.append(f"  by engine: {counted(changes)}")
        for c in listed(d, kind):
            lines.append(f"  {c.where()}: {c.verdicts()}")
            if c.field:
                lines.append(f"    at {c.field}")
                lines += _indent(c.before, "    - ")
                lines += _indent(c.after, "    + ")
            elif c.new is not None and c.new.verdict in FAILING and c.new.rec.get("reason"):
                lines += _indent(str(c.new.rec["reason"]).split("\n")[0], "    ")
    return "\n".join(lines) + "\n"
