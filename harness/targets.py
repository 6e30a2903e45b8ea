"""Targets (GOOS): wasip1, and js with the toolchain's own wasm_exec.js.

A case names its targets (``program.target``); an item exists for each (target, toolchain,
engine) that can run it: js modules need an engine whose runner declares ``go_js`` (its adapter's
``TARGETS``), and a toolchain that builds js.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

TARGETS = ("wasip1", "js")
TINYGO_PREFIX = "tinygo"
TINYGO_JUDGED = ("wasip1",)  # TinyGo builds js too (Toolchain.targets), but its glue is not judged


def targets_of(requested: str) -> tuple[str, ...]:
    """The targets a toolchain, as ``--go`` names it, builds; known without fetching it."""
    return TINYGO_JUDGED if requested.strip().startswith(TINYGO_PREFIX) else TARGETS


def go_js(wasm_exec: Path) -> dict[str, str]:
    """The plan's ``go_js`` block: the wasm_exec.js a runner evaluates, and its hash."""
    return {"wasm_exec": str(wasm_exec),
            "wasm_exec_sha256": hashlib.sha256(wasm_exec.read_bytes()).hexdigest()}
