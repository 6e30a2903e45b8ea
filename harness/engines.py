"""The engine registry: names -> adapters in runners/<name>/adapter.py."""

from __future__ import annotations

import importlib
import os
import shlex
from pathlib import Path
from types import ModuleType

from harness.paths import RUNNERS
from harness.runner import Runner, RunnerProcess

DEFAULT = "wasmtime"


def known() -> list[str]:
    """Every engine with an adapter, in name order."""
    return sorted(p.parent.name for p in RUNNERS.glob("*/adapter.py"))


def adapter(name: str) -> ModuleType:
    """The adapter module for `name`; raises KeyError listing the known engines."""
    if name not in known():
        raise KeyError(f"unknown engine {name!r}; known: {', '.join(known())}")
    return importlib.import_module(f"runners.{name}.adapter")


def override_variable(name: str) -> str:
    return f"WASMEXPORT_RUNNER_{name.upper()}"


def make_runner(name: str) -> Runner:
    """The engine's runner; ``WASMEXPORT_RUNNER_<NAME>`` (a command line) replaces it, e.g. to
    put a patched engine, or a deliberately broken one, behind the same adapter."""
    override = os.environ.get(override_variable(name))
    if override:
        return RunnerProcess(name, shlex.split(override))
    runner: Runner = adapter(name).make_runner()
    return runner


def expectations_file(name: str) -> Path:
    return RUNNERS / name / "expectations.yaml"
