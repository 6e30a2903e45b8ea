"""Merge results files into one, losing nothing: ``python -m reports merge FILE… -o OUT.jsonl``.

The output is a results file like any other (harness.results.read reads it; every report command
takes it). Its header lists every run it holds (`runs`: suite commit, engines, toolchains, host,
start and end) and, when asked for, the cases' sources; each record lists the runs that produced
it (`runs`, by run id). The footer is written only when every run finished, so a merged set of a
partial run is partial too. Records are merged as reports.dataset describes: identical records
are one, different engine versions are two, conflicting records are all kept and reported.
``--strict`` exits 1 on a conflict or a rejected record. Merging a merged file again changes
nothing: a run is identified by its header, a record by its content.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import IO, Any

from reports.dataset import DataSet, header_of


def write(data: DataSet, out: IO[str]) -> None:
    """The data set as a results file: header, records (in a stable order), footer."""
    header = header_of(data)
    if data.cases:
        header["cases"] = data.cases
    header["conflicts"] = [c.describe() for c in data.conflicts()]
    lines: list[dict[str, Any]] = [header]
    entries = data.sorted_entries()
    lines += [{"type": "result", **e.rec, "runs": e.runs} for e in entries]
    if data.finished:
        finished = [r.finished for r in data.runs.values() if r.finished is not None]
        lines.append({"type": "footer", "finished": max(finished, default=0.0),
                      "counts": dict(Counter(e.verdict for e in entries)), "merged": True})
    for doc in lines:
        out.write(json.dumps(doc, ensure_ascii=False) + "\n")


def issues(data: DataSet) -> list[str]:
    """What makes a merge unclean: conflicting and rejected records."""
    return [f"conflict: {c.describe()}" for c in data.conflicts()] + [
        f"rejected: {r}" for r in data.rejected]


def run(data: DataSet, output: Path, strict: bool) -> int:
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        write(data, fh)
    tmp.replace(output)
    problems = issues(data)
    for line in problems:
        if line.startswith("conflict"):  # rejected records were reported as they were read
            print(f"merge: {line}", file=sys.stderr)
    runs = len(data.runs)
    print(f"merged {runs} run{'s' * (runs != 1)} into {output}: {len(data.entries)} records, "
          f"{len(data.conflicts())} conflicts, {len(data.rejected)} rejected"
          + ("" if data.finished else "; a run did not finish: the merged set is partial"))
    return 1 if strict and problems else 0
