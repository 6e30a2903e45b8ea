"""Adapter for wasmtime: how to start its runner (which declares its capabilities in its hello)."""

from __future__ import annotations

import importlib.util
import os
import sys

from harness import cachedir
from harness.runner import EngineUnavailable, RunnerProcess

NAME = "wasmtime"
INSTALL = "python -m pip install 'wasmtime==50.0.1'"


def make_runner() -> RunnerProcess:
    """A wasmtime runner process; ``WASMEXPORT_WASMTIME_PYTHON`` picks another interpreter."""
    if importlib.util.find_spec("wasmtime") is None and "WASMEXPORT_WASMTIME_PYTHON" not in os.environ:
        raise EngineUnavailable(f"wasmtime-py is not installed; run: {INSTALL}")
    python = os.environ.get("WASMEXPORT_WASMTIME_PYTHON", sys.executable)
    return RunnerProcess(NAME, [python, "-m", "runners.wasmtime.host",
                                "--cache", str(cachedir.sub("compiled"))])
