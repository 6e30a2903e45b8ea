"""Results: JSON lines, one record per verdict, appended and flushed as each is decided.

A run that is killed halfway keeps every verdict it reached. The first line is a header with the
versions of everything; the last (when the run ends normally) is a footer with the counts.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import IO, Any

SCHEMA = 1
# Every verdict a record can carry, and those that make a run unclean. `disagree` belongs to the
# agreement records (engine "agreement"): engines that ran the same case saw different things.
VERDICTS = ("pass", "fail", "disagree", "error", "skip", "xfail", "xpass")
FAILING = ("fail", "disagree", "error", "xpass")


def suite_commit(repo: Path) -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True,
                              text=True, check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


class ResultsWriter:
    """Appends records to a JSON-lines file and flushes after each one."""

    def __init__(self, path: Path, header: dict[str, Any]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.counts: Counter[str] = Counter()
        self._fh: IO[str] = path.open("w", encoding="utf-8")
        self._write({"type": "header", "schema": SCHEMA, "started": time.time(),
                     "python": sys.version.split()[0], "platform": platform.platform(), **header})

    def _write(self, doc: dict[str, Any]) -> None:
        self._fh.write(json.dumps(doc, sort_keys=False) + "\n")
        self._fh.flush()

    def record(self, doc: dict[str, Any]) -> None:
        self.counts[doc["verdict"]] += 1
        self._write({"type": "result", **doc})

    def close(self, extra: dict[str, Any] | None = None) -> None:
        self._write({"type": "footer", "finished": time.time(), "counts": dict(self.counts),
                     **(extra or {})})
        self._fh.close()


def read(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any] | None]:
    """Header, result records and footer (None for a run that did not finish)."""
    header: dict[str, Any] = {}
    records: list[dict[str, Any]] = []
    footer = None
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                doc = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{n}: not a JSON line ({e}); the file is damaged") from e
            kind = doc.get("type")
            if kind == "header":
                header = doc
            elif kind == "result":
                records.append(doc)
            elif kind == "footer":
                footer = doc
            else:
                raise ValueError(f"{path}:{n}: unknown record type {kind!r}")
    return header, records, footer


def engine_versions(records: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Engine name -> every engine version its records name."""
    out: dict[str, set[str]] = {}
    for r in records:
        if r.get("engine_version"):
            out.setdefault(r["engine"], set()).add(r["engine_version"])
    return out
