"""Targets (GOOS): wasip1, and js with the toolchain's own wasm_exec.js.

A case names its targets (``program.target``); an item exists for each (target, toolchain,
engine) that can run it: js modules need an engine whose runner declares ``go_js`` (its adapter's
``TARGETS``), and a toolchain that builds js.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from harness.toolchains import Toolchain, goroot

TARGETS = ("wasip1", "js")
TINYGO_PREFIX = "tinygo"
TINYGO_TARGETS = ("wasip1",)  # TinyGo's js target needs its own wasm_exec.js: not judged yet


def compiler_of(tc: Toolchain) -> str:
    """``gc`` or ``tinygo``: which compiler's releases a case's `releases:` entries name."""
    return str(getattr(tc, "family", "gc"))


def targets_of(requested: str) -> tuple[str, ...]:
    """The targets a toolchain, as ``--go`` names it, builds; known without fetching it."""
    return TINYGO_TARGETS if requested.strip().startswith(TINYGO_PREFIX) else TARGETS


def wasm_exec_of(tc: Toolchain) -> Path | None:
    """The toolchain's own wasm_exec.js (``lib/wasm`` since Go 1.24, ``misc/wasm`` before), or
    None for a toolchain recorded without its files (a bundle)."""
    own = getattr(tc, "wasm_exec", None)
    if own is not None:
        return Path(own)
    if tc.go is None:
        return None
    root = goroot(tc.go)
    for where in (root / "lib" / "wasm", root / "misc" / "wasm"):
        if (where / "wasm_exec.js").is_file():
            return where / "wasm_exec.js"
    return None


def go_js(wasm_exec: Path) -> dict[str, str]:
    """The plan's ``go_js`` block: the wasm_exec.js a runner evaluates, and its hash."""
    return {"wasm_exec": str(wasm_exec),
            "wasm_exec_sha256": hashlib.sha256(wasm_exec.read_bytes()).hexdigest()}
