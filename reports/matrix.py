"""The matrix as JSON for other tools: ``python -m reports json FILE… -o matrix.json``.

One object (``"schema": "wasmexport-matrix/1"``): the runs it was made from, engines with their
versions, toolchains in release order, every case (area, title, refs, manifest path), and one
entry per record, in a stable order: case, engine, engine version, toolchain, verdict, reason,
the engines an agreement compared, the runs that produced it, whether it conflicts, and the
normalised observation (reports.observe) as a one-line summary, its ordered fields and a digest
(equal observations have equal digests, so a consumer can compare without re-normalising).
Every value comes from the results files; nothing is rendered.
"""

from __future__ import annotations

import json
from typing import Any

from reports.dataset import DataSet
from reports.observe import digest, fingerprint, summary
from reports.standing import Grid

SCHEMA = "wasmexport-matrix/1"


def export(data: DataSet) -> dict[str, Any]:
    grid = Grid(data)
    conflicted = {e.slot for c in data.conflicts() for e in c.entries}
    cases: dict[str, Any] = {}
    results = []
    for e in data.sorted_entries():
        rec = e.rec
        cases.setdefault(e.case, {"area": grid.area(e.case), "title": rec.get("title", ""),
                                  "refs": rec.get("refs", []), "path": rec.get("path", "")})
        fields = fingerprint(rec)
        results.append({
            "case": e.case, "engine": e.engine, "engine_version": e.version,
            "toolchain": e.toolchain, "verdict": e.verdict, "reason": rec.get("reason", ""),
            "engines": list(e.slot[3]) or None, "runs": e.runs, "conflict": e.slot in conflicted,
            "observation": {"summary": summary(rec), "digest": digest(fields),
                            "fields": [list(f) for f in fields]},
            "rerun": rec.get("rerun", ""),
        })
    return {"schema": SCHEMA, "finished": data.finished,
            "runs": [r.as_dict() for r in data.runs.values()],
            "engines": data.engine_versions(), "toolchains": data.toolchains(),
            "cases": dict(sorted(cases.items())), "results": results,
            "conflicts": [c.describe() for c in data.conflicts()], "rejected": data.rejected}


def dumps(data: DataSet) -> str:
    return json.dumps(export(data), indent=1, ensure_ascii=False) + "\n"
