"""Plans: what a runner is asked to do, built from a manifest and a finished build."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from harness.build import BuildResult
from harness.manifest import Manifest
from harness.targets import go_js

PROTOCOL = 3
DEFAULT_MEMORY_BYTES = 1 << 30  # 1 GiB: far above what the cases need, far below the machine
OUTPUT_BYTES = 1 << 20  # per step and stream, what a runner keeps (harness.manifest caps expectations)


def make_plan(plan_id: str, m: Manifest, build: BuildResult,
              wasm_exec: Path | None = None) -> dict[str, Any]:
    """The protocol document for one (case, engine, toolchain); see runners/PROTOCOL.md. A js
    module's plan names the wasm_exec.js of the toolchain that built it."""
    if build.module is None or build.sha256 is None:
        raise ValueError(f"{m.id}: a plan needs a built module")
    target: dict[str, Any] = {}
    if m.target != "wasip1":
        if wasm_exec is None:
            raise ValueError(f"{m.id}: a js plan needs the toolchain's wasm_exec.js")
        target = {"target": m.target, "go_js": go_js(wasm_exec)}
    return {
        "type": "plan",
        "protocol": PROTOCOL,
        "id": plan_id,
        "module": {"path": str(build.module), "sha256": build.sha256},
        "wasi": {"args": list(m.wasi_args), "env": [list(kv) for kv in m.wasi_env],
                 "stdin_b64": base64.b64encode(m.wasi_stdin).decode()},
        "limits": {"memory_bytes": memory_bytes(m), "output_bytes": OUTPUT_BYTES},
        "imports": [h.spec for h in m.imports],
        "steps": [s.to_protocol() for s in m.steps],
        **target,
    }


def memory_bytes(m: Manifest) -> int:
    """The cap on a plan's linear memory: the case's own, else the default."""
    return m.memory_bytes or DEFAULT_MEMORY_BYTES


def deadline_s(plan: dict[str, Any], compile_allowance_s: float = 60.0) -> float:
    """How long a runner may take for the whole plan before it counts as hung."""
    total_ms = sum(int(s["timeout_ms"]) for s in plan["steps"])
    return compile_allowance_s + total_ms / 1000 * 1.5
