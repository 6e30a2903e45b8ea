"""The engine registry: names -> adapters in runners/<name>/adapter.py."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from harness.runner import REPO

DEFAULT = "wasmtime"


def known() -> list[str]:
    """Every engine with an adapter, in name order."""
    return sorted(p.parent.name for p in (REPO / "runners").glob("*/adapter.py"))


def adapter(name: str) -> ModuleType:
    """The adapter module for `name`; raises KeyError listing the known engines."""
    if name not in known():
        raise KeyError(f"unknown engine {name!r}; known: {', '.join(known())}")
    return importlib.import_module(f"runners.{name}.adapter")


def expectations_file(name: str) -> Path:
    return REPO / "runners" / name / "expectations.yaml"
