"""Results: JSON lines, one record per verdict, appended and flushed as each is decided.

A run that is killed halfway keeps every verdict it reached. The first line is a header with the
versions of everything; the last (when the run ends normally) is a footer with the counts.
"""

from __future__ import annotations

import fcntl
import importlib.metadata
import json
import platform
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

SCHEMA = 1
# Every verdict a record can carry, and those that make a run unclean. `disagree` belongs to the
# agreement records (engine "agreement"): engines that ran the same case saw different things.
VERDICTS = ("pass", "fail", "disagree", "error", "skip", "xfail", "xpass")
FAILING = ("fail", "disagree", "error", "xpass")


def suite_commit(suite: Path) -> str:
    """The git commit of the suite when `suite` is a checkout's root; else the installed
    package's version (never the commit of some other repository around it)."""
    try:
        def git(*args: str) -> str:
            return subprocess.run(["git", "-C", str(suite), *args], capture_output=True, text=True,
                                  check=True, timeout=10).stdout.strip()

        if Path(git("rev-parse", "--show-toplevel")).resolve() == suite.resolve():
            return git("rev-parse", "HEAD")
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        return f"package {importlib.metadata.version('wasmexport-conformance')}"
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


class ResultsBusy(Exception):
    """Another live run is writing this results file."""


class ResultsWriter:
    """Writes records to a JSON-lines file and flushes after each one.

    The file is held under an exclusive lock for the whole run, so two runs given one file
    cannot splice it: the second is refused. It is emptied only once the lock is held.
    """

    def __init__(self, path: Path, header: dict[str, Any]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.counts: Counter[str] = Counter()
        self._fh: IO[str] = path.open("a", encoding="utf-8")
        try:
            fcntl.flock(self._fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._fh.close()
            raise ResultsBusy(f"{path} is being written by another run; give this run its own "
                              "--results file") from None
        self._fh.truncate(0)
        self._write({"type": "header", "schema": SCHEMA, "started": time.time(),
                     "python": sys.version.split()[0], "platform": platform.platform(),
                     "host": platform.node(), **header})

    def _write(self, doc: dict[str, Any]) -> None:
        self._fh.write(json.dumps(doc, sort_keys=False) + "\n")
        self._fh.flush()

    def record(self, doc: dict[str, Any]) -> None:
        self.counts[doc["verdict"]] += 1
        self._write({"type": "result", **doc})

    def close(self, extra: dict[str, Any] | None = None) -> None:
        self._write({"type": "footer", "finished": time.time(), "counts": dict(self.counts),
                     **(extra or {})})
        self._fh.close()  # closing releases the lock


def discard_stale(path: Path) -> None:
    """Remove a previous run's results file (a run that cannot start must not leave it looking
    like its own), unless a live run holds it."""
    try:
        with path.open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            path.unlink()
    except OSError:
        pass


def read(path: Path, warn: Callable[[str], None] | None = None
         ) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any] | None]:
    """Header, result records and footer (None for a run that did not finish: partial).

    A torn last line (a run killed mid-write) is skipped with a warning and the rest is read; any
    other damage, and a second header (two runs spliced into one file), is an error."""
    warn = warn or (lambda text: print(text, file=sys.stderr))
    header: dict[str, Any] = {}
    records: list[dict[str, Any]] = []
    footer = None
    lines = path.read_text(encoding="utf-8", errors="replace").split("\n")
    last = max((i for i, x in enumerate(lines) if x.strip()), default=-1)
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except json.JSONDecodeError as e:
            if n - 1 == last and not path.read_bytes().endswith(b"\n"):
                warn(f"{path}:{n}: a torn last line (the run was cut off mid-write) is ignored")
                continue
            raise ValueError(f"{path}:{n}: not a JSON line ({e}); the file is damaged") from e
        kind = doc.get("type") if isinstance(doc, dict) else None
        if kind == "header":
            if header or records:
                raise ValueError(f"{path}:{n}: a second header: two runs wrote this file")
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
