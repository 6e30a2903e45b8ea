"""Results files as one data set: checked, bounded records, each with the runs it came from.

Every report command reads its inputs here, so any number of results files (single runs, CI
shards, merged sets) become one `DataSet`, losslessly:

- a record's **slot** is (case, engine, toolchain, engines compared): an agreement record is
  keyed by the engine set it compared, so the six-engine verdict of a case and a two-engine
  verdict of the same case are two records, never one replacing the other;
- records of one slot with the same content (`identity`: everything but timings, cache hits,
  rerun commands and raw engine messages; observations compared normalised) are one record that
  lists every run that produced it;
- records of one slot with different content are kept, all of them: different engine versions
  are simply two records; anything else is a `Conflict`, reported (and failing ``--strict``).

Results files are untrusted input: a record without a usable case, engine, toolchain or verdict
is rejected with its file and line, and every string, list and mapping is bounded in size.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.results import SCHEMA, VERDICTS, read
from reports.observe import fingerprint, items

Record = dict[str, Any]
Slot = tuple[str, str, str, tuple[str, ...]]  # case, engine, toolchain, engines (agreement only)

AGREEMENT = "agreement"
MAX_TEXT = 64_000  # characters of any one string a record keeps
MAX_ITEMS = 2_000  # entries of any one list or mapping
MAX_DEPTH = 12
# Fields that differ between two runs that saw the same thing, and the case's description
# (which another suite commit may word differently).
_RUN_LOCAL = frozenset({"type", "runs", "duration_s", "rerun", "toolchain_requested", "title",
                        "refs", "path", "area"})
_NAME = re.compile(r"^[A-Za-z0-9_.+@-]{1,200}$")
_CASE = re.compile(r"^(?!.*(?:^|/)\.{1,2}(?:/|$))[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)+$")
_LABEL = re.compile(r"^[^\x00-\x1f\x7f]{1,200}$")


def bounded(value: Any, depth: int = 0) -> Any:
    """A JSON value cut down to the report's limits; a cut string says how much was cut."""
    if isinstance(value, str):
        if len(value) <= MAX_TEXT:
            return value
        return value[:MAX_TEXT] + f"\n… ({len(value) - MAX_TEXT} more characters not kept)"
    if depth >= MAX_DEPTH:
        return "(nested too deeply: not kept)"
    if isinstance(value, list):
        return [bounded(v, depth + 1) for v in value[:MAX_ITEMS]]
    if isinstance(value, dict):
        return {str(k)[:200]: bounded(v, depth + 1) for k, v in list(value.items())[:MAX_ITEMS]}
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)[:MAX_TEXT]


def check(doc: Any) -> str | None:
    """Why `doc` cannot be a result record, or None when it can."""
    if not isinstance(doc, dict):
        return "not an object"
    for key, pattern in (("case", _CASE), ("engine", _NAME), ("toolchain", _LABEL)):
        if not isinstance(doc.get(key), str) or not pattern.match(doc[key]):
            return f"{key} {str(doc.get(key))[:80]!r} is not a valid {key}"
    if doc.get("verdict") not in VERDICTS:
        return f"verdict {str(doc.get('verdict'))[:40]!r} is not one of {', '.join(VERDICTS)}"
    version = doc.get("engine_version")
    if version is not None and (not isinstance(version, str) or not _LABEL.match(version)):
        return "engine_version is not a version string"
    engines = doc.get("engines", [])
    if not isinstance(engines, list) or not all(isinstance(e, str) and _NAME.match(e) for e in engines):
        return "engines is not a list of engine names"
    return None


def slot(rec: Record) -> Slot:
    engines = tuple(sorted(rec.get("engines") or ())) if rec["engine"] == AGREEMENT else ()
    return rec["case"], rec["engine"], rec["toolchain"], engines


def compared(rec: Record) -> Record:
    """The part of a record two records must share to be the same record (see above)."""
    doc = {k: v for k, v in rec.items() if k not in _RUN_LOCAL and k != "observed"}
    if isinstance(doc.get("build"), dict):
        doc["build"] = {k: v for k, v in doc["build"].items() if k not in ("cached", "duration_s")}
    doc["observed"] = fingerprint(rec)
    return doc


def identity(rec: Record) -> str:
    return json.dumps(compared(rec), sort_keys=True, default=str)


def release_key(label: str) -> tuple[Any, ...]:
    """Toolchain labels grouped by compiler (gc, then TinyGo), then target (wasip1, then js:
    ``go1.27.3-js``), each in release order: go1.24.3 < go1.24.13 < go1.27rc1 < go1.27.3 <
    devel-go1.28-… ; anything else after them, by name."""
    target = 1 if label.endswith("-js") else 0
    base = label.removesuffix("-js")
    t = re.match(r"^tinygo(\d+)\.(\d+)(?:\.(\d+))?", base)
    if t:
        return (1, target, int(t.group(1)), int(t.group(2)), int(t.group(3) or 0), 0, label)
    m = re.match(r"^(?:devel-)?go(\d+)\.(\d+)(?:\.(\d+)|(?:rc|beta)(\d+))?", base)
    if not m:
        return (2, target, 1 << 30, 0, 0, 0, label)
    major, minor = int(m.group(1)), int(m.group(2))
    if base.startswith("devel-"):
        return (0, target, major, minor, -1, -1, label)  # newer than every release of the previous minor
    if m.group(4) is not None:  # a pre-release: before the minor's first release
        return (0, target, major, minor, 0, int(m.group(4)) - 1000, label)
    return (0, target, major, minor, int(m.group(3) or 0), 0, label)


def version_key(version: str | None) -> tuple[Any, ...]:
    """Engine versions in natural order (50.0.1 < 50.0.10); unknown first."""
    if not version:
        return ()
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", version) if p)


@dataclass(frozen=True)
class Run:
    """One run of the suite that records came from: what ran, where, when."""

    id: str
    suite_commit: str
    engines: tuple[str, ...]
    toolchains: tuple[str, ...]
    host: str
    platform: str
    python: str
    started: float | None
    finished: float | None  # None: the run did not finish (its file has no footer)
    file: str  # where it was first read from

    @classmethod
    def from_header(cls, header: Record, footer: Record | None, file: str) -> Run:
        doc = {k: v for k, v in header.items() if k != "type"}
        digest = hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()
        finished = None if footer is None else (_number(footer.get("finished")) or 0.0)
        return cls.from_dict({**doc, "id": digest[:16], "file": file, "finished": finished})

    @classmethod
    def from_dict(cls, doc: Record) -> Run:
        def text(key: str) -> str:
            return str(doc.get(key) or "")[:300]

        def names(key: str) -> tuple[str, ...]:
            got = doc.get(key)
            return tuple(str(x)[:200] for x in got[:100]) if isinstance(got, list) else ()

        return cls(id=text("id"), suite_commit=text("suite_commit") or "unknown",
                   engines=names("engines"), toolchains=names("toolchains"), host=text("host"),
                   platform=text("platform"), python=text("python"),
                   started=_number(doc.get("started")), finished=_number(doc.get("finished")),
                   file=text("file"))

    def as_dict(self) -> Record:
        return {"id": self.id, "suite_commit": self.suite_commit, "engines": list(self.engines),
                "toolchains": list(self.toolchains), "host": self.host, "platform": self.platform,
                "python": self.python, "started": self.started, "finished": self.finished,
                "file": self.file}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


@dataclass
class Entry:
    """One distinct record and the runs that produced it."""

    rec: Record
    runs: list[str]

    @property
    def case(self) -> str:
        return str(self.rec["case"])

    @property
    def engine(self) -> str:
        return str(self.rec["engine"])

    @property
    def toolchain(self) -> str:
        return str(self.rec["toolchain"])

    @property
    def verdict(self) -> str:
        return str(self.rec["verdict"])

    @property
    def family(self) -> str:
        """The engine a configuration belongs to (`wasmtime` for `wasmtime-winch`)."""
        f = self.rec.get("engine_family")
        return f if isinstance(f, str) and _NAME.match(f) else self.engine

    @property
    def version(self) -> str | None:
        v = self.rec.get("engine_version")
        return v if isinstance(v, str) else None

    @property
    def slot(self) -> Slot:
        return slot(self.rec)


@dataclass(frozen=True)
class Conflict:
    """Records of one slot (and engine version) that disagree: every one is kept."""

    slot: Slot
    entries: tuple[Entry, ...]

    def describe(self) -> str:
        case, engine, toolchain, engines = self.slot
        what = f"{case} [{engine}{' of ' + ', '.join(engines) if engines else ''}, {toolchain}]"
        parts = [f"{e.verdict} (engine {e.version or '?'}; runs {', '.join(e.runs)})"
                 for e in self.entries]
        docs = [compared(e.rec) for e in self.entries]
        fields = sorted({k for d in docs for k in d if any(o.get(k) != d.get(k) for o in docs)})
        return f"{what}: {' vs '.join(parts)}; they differ in {', '.join(fields)}"


@dataclass
class DataSet:
    """Every distinct record of some results files, with their runs, conflicts and rejects."""

    runs: dict[str, Run] = field(default_factory=dict)
    entries: list[Entry] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)  # "file:line: why"
    cases: dict[str, Record] = field(default_factory=dict)  # case sources carried by merged files
    _by_identity: dict[tuple[Slot, str], Entry] = field(default_factory=dict, repr=False)

    @property
    def finished(self) -> bool:
        return all(r.finished is not None for r in self.runs.values())

    def add_file(self, header: Record, records: list[Record], footer: Record | None, file: str) -> None:
        """Add one results file: a single run, or a merged set (its header lists its runs)."""
        merged = header.get("runs")
        if isinstance(merged, list) and header.get("merged"):
            for doc in merged[:10_000]:
                if isinstance(doc, dict) and doc.get("id"):
                    run = Run.from_dict(doc)
                    self.runs.setdefault(run.id, run)
            cases = header.get("cases")
            if isinstance(cases, dict):
                for case, doc in list(cases.items())[:MAX_ITEMS * 10]:
                    if isinstance(doc, dict):
                        self.cases.setdefault(str(case), bounded(doc))
            default: list[str] = []
        else:
            run = Run.from_header(header, footer, file)
            self.runs.setdefault(run.id, run)
            default = [run.id]
        for n, doc in enumerate(records, 1):
            why = check(doc)
            if why is not None:
                self.rejected.append(f"{file}: record {n}: {why}")
                continue
            rec = bounded({k: v for k, v in doc.items() if k not in ("type", "runs")})
            runs = [str(r)[:64] for r in items(doc.get("runs")) if str(r)[:64] in self.runs]
            self.add(rec, runs or default)

    def add(self, rec: Record, runs: Iterable[str]) -> Entry:
        key = (slot(rec), identity(rec))
        entry = self._by_identity.get(key)
        if entry is None:
            entry = self._by_identity[key] = Entry(rec, [])
            self.entries.append(entry)
        entry.runs.extend(r for r in runs if r not in entry.runs)
        return entry

    def conflicts(self) -> list[Conflict]:
        """Slots holding different records that are not simply different engine versions."""
        by_slot: dict[Slot, list[Entry]] = {}
        for e in self.entries:
            by_slot.setdefault(e.slot, []).append(e)
        out = []
        for key, group in sorted(by_slot.items()):
            versions = [e.version for e in group]
            if len(group) > 1 and (None in versions or len(set(versions)) < len(versions)):
                out.append(Conflict(key, tuple(group)))
        return out

    def only(self, toolchains: Iterable[str] = (), engines: Iterable[str] = ()) -> DataSet:
        """The same runs with only the records of these toolchains and engines (all when empty)."""
        tcs, names = set(toolchains), set(engines)
        out = DataSet(runs=dict(self.runs), rejected=list(self.rejected), cases=dict(self.cases))
        for e in self.entries:
            if (not tcs or e.toolchain in tcs) and (not names or e.engine in names):
                out.add(e.rec, e.runs)
        return out

    def sorted_entries(self) -> list[Entry]:
        return sorted(self.entries, key=lambda e: (e.case, e.engine == AGREEMENT, e.engine,
                                                   release_key(e.toolchain), e.slot[3],
                                                   version_key(e.version)))

    def toolchains(self) -> list[str]:
        return sorted({e.toolchain for e in self.entries}, key=release_key)

    def families(self) -> dict[str, str]:
        """Engine name -> its family, for every engine in the data."""
        return {e.engine: e.family for e in self.entries if e.engine != AGREEMENT}

    def engines(self) -> list[str]:
        """Engine names, configurations of one engine side by side, then agreement."""
        fam = self.families()
        names = sorted(fam, key=lambda n: (fam[n], n != fam[n], n))
        return names + ([AGREEMENT] if any(e.engine == AGREEMENT for e in self.entries) else [])

    def engine_versions(self) -> dict[str, list[str]]:
        out: dict[str, set[str]] = {}
        for e in self.entries:
            if e.version and e.engine != AGREEMENT:
                out.setdefault(e.engine, set()).add(e.version)
        return {k: sorted(v, key=version_key) for k, v in sorted(out.items())}

    def commits(self) -> list[str]:
        return sorted({r.suite_commit for r in self.runs.values()})


def load(paths: Iterable[Path], warn: Callable[[str], None] | None = None) -> DataSet:
    """Read and merge results files; raises OSError or ValueError for an unreadable file."""
    data = DataSet()
    for path in paths:
        header, records, footer = read(path, warn)
        data.add_file(header, records, footer, str(path))
    return data


def header_of(data: DataSet) -> Record:
    """A results-file header describing the merged set (what harness.results.read returns)."""
    runs = list(data.runs.values())
    return {"type": "header", "schema": SCHEMA, "merged": True,
            "suite_commit": ", ".join(data.commits()) or "unknown",
            "engines": sorted({e for r in runs for e in r.engines}),
            "toolchains": sorted({t for r in runs for t in r.toolchains}, key=release_key),
            "runs": [r.as_dict() for r in runs]}


# The worst verdict first: what a cell shows when its records disagree.
SEVERITY = ("error", "fail", "disagree", "xpass", "xfail", "skip", "pass")


def pick(entries: list[Entry]) -> Entry:
    """The record a one-record view shows for several: the agreement over the most engines,
    the newest engine version, then the worst verdict (a conflict is never hidden as a pass)."""
    widest = max(len(e.slot[3]) for e in entries)
    chosen = [e for e in entries if len(e.slot[3]) == widest]
    newest = max(version_key(e.version) for e in chosen)
    chosen = [e for e in chosen if version_key(e.version) == newest]
    return min(chosen, key=lambda e: SEVERITY.index(e.verdict))
