"""Adapter for wasmtime: how to start its runner (which declares its capabilities in its hello).

One runner, three engines: wasmtime with each of its code generators (runners/wasmtime/configs.py),
the configuration passed to the host as ``--config``.
"""

from __future__ import annotations

import importlib.util
import os
import sys

from harness import cachedir
from harness.runner import EngineUnavailable, RunnerProcess

NAME = "wasmtime"
INSTALL = "python -m pip install 'wasmtime==50.0.1'"
CONFIGURATIONS = {
    "wasmtime": "Cranelift (the default)",
    "wasmtime-winch": "Winch, wasmtime's baseline (single-pass) compiler",
    "wasmtime-pulley": "Pulley, wasmtime's portable interpreter (Cranelift targeting pulley64)",
}
_HOST_CONFIG = {"wasmtime": "cranelift", "wasmtime-winch": "winch", "wasmtime-pulley": "pulley"}


def make_runner(name: str = NAME) -> RunnerProcess:
    """A wasmtime runner process for the configuration `name`; ``WASMEXPORT_WASMTIME_PYTHON``
    picks another interpreter."""
    if name not in CONFIGURATIONS:
        raise KeyError(f"unknown wasmtime configuration {name!r}; known: {', '.join(CONFIGURATIONS)}")
    if importlib.util.find_spec("wasmtime") is None and "WASMEXPORT_WASMTIME_PYTHON" not in os.environ:
        raise EngineUnavailable(f"wasmtime-py is not installed; run: {INSTALL}")
    python = os.environ.get("WASMEXPORT_WASMTIME_PYTHON", sys.executable)
    config = [] if name == NAME else ["--config", _HOST_CONFIG[name]]
    return RunnerProcess(name, [python, "-m", "runners.wasmtime.host",
                                "--cache", str(cachedir.sub("compiled")), *config])
