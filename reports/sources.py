"""The cases' sources for the report's detail view: manifest text, Go files and notes.

A record names its case's manifest (`path`) but does not carry it. A report takes sources, in
this order, from the data set itself (a merged file made with ``--sources``), from a suite
checkout given with ``--sources DIR``, or, with ``--sources auto`` (the default), from this
suite's own manifests when a run in the data set was made by this very suite commit. Every
source records where it came from; a case without one shows its records alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from harness import isolation
from harness.paths import SUITE
from harness.results import suite_commit
from reports.dataset import DataSet

MAX_SOURCE = 200_000  # characters of one manifest or file


def _clip(text: str) -> str:
    return text if len(text) <= MAX_SOURCE else text[:MAX_SOURCE] + "\n… (cut)"


def read_case(manifests: Path, case: str, origin: str) -> dict[str, Any] | None:
    """One case's sources from a ``manifests`` directory, or None when it has no such case."""
    path = manifests / f"{case}.yaml"
    if ".." in Path(case).parts or not path.resolve().is_relative_to(manifests.resolve()):
        return None
    try:
        text = path.read_text(encoding="utf-8")
        doc = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    if not isinstance(doc, dict):
        return None
    files: dict[str, str] = {}
    program = doc.get("program")
    specs = program.get("files") if isinstance(program, dict) else None
    for name, spec in (specs.items() if isinstance(specs, dict) else ()):
        if isinstance(spec, str):
            files[str(name)] = _clip(spec)
        elif isinstance(spec, dict) and isinstance(spec.get("path"), str):
            try:
                files[str(name)] = _clip(isolation.read_beside(path, spec["path"]))
            except (OSError, ValueError) as e:
                files[str(name)] = f"(not readable: {e})"
    notes = doc.get("notes")
    return {"manifest": _clip(text), "files": files, "notes": notes if isinstance(notes, str) else "",
            "origin": origin}


def manifests_dir(root: Path) -> Path:
    """`root` itself when it is a ``manifests`` directory, else its ``manifests``."""
    return root if (root / "schema.json").is_file() and root.name == "manifests" else root / "manifests"


def collect(root: Path, cases: Iterable[str], origin: str) -> dict[str, dict[str, Any]]:
    where = manifests_dir(root)
    out = {}
    for case in sorted(set(cases)):
        doc = read_case(where, case, origin)
        if doc is not None:
            out[case] = doc
    return out


def attach(data: DataSet, choice: str) -> str:
    """Fill ``data.cases`` from `choice` (``auto``, ``none`` or a directory) where the data set
    carries no sources; returns a sentence saying where they came from."""
    cases = {e.case for e in data.entries} - set(data.cases)
    if choice == "none" or not cases:
        return "sources: carried by the results" if data.cases else "sources: none"
    if choice == "auto":
        commit = suite_commit(SUITE)
        if commit not in data.commits():
            return (f"sources: none (this suite is at {commit[:12]}, the results come from "
                    f"{', '.join(c[:12] for c in data.commits())}; give --sources DIR)")
        root, origin = SUITE, f"this suite's manifests ({commit[:12]})"
    else:
        root = Path(choice)
        origin = f"{root} ({suite_commit(root)[:12]})"
    found = collect(root, cases, origin)
    data.cases.update(found)
    return f"sources: {len(found)} of {len(cases)} cases from {origin}"
