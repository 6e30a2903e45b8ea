"""Results records shaped like the plugin's (suites/items.py), for the report tests."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

ENGINES = ["bun", "deno", "node", "wasmer", "wasmtime", "wazero"]
VERSIONS = {"bun": "1.4.5", "deno": "2.9.6", "node": "22.12.0", "wasmer": "7.4.0",
            "wasmtime": "50.0.1", "wazero": "1.12.0"}


def step(summary: str = "returned ()", outcome: str = "ok", stdout: str = "", stderr: str = "",
         trace: list[str] | None = None, duration_ms: float = 0.5) -> dict[str, Any]:
    return {"outcome": outcome, "summary": summary, "stdout": stdout, "stderr": stderr,
            "stdout_len": len(stdout.encode()), "stdout_sha256": hashlib.sha256(stdout.encode()).hexdigest(),
            "stderr_len": len(stderr.encode()), "stderr_sha256": hashlib.sha256(stderr.encode()).hexdigest(),
            "trace": trace or [], "duration_ms": duration_ms}


def record(case: str, engine: str, verdict: str = "pass", toolchain: str = "go1.27.3", *,
           steps: list[dict[str, Any]] | None = None, version: str | None = None,
           **extra: Any) -> dict[str, Any]:
    """One record as the plugin writes it; `steps` None means one step that returned ()."""
    area = case.split("/", 1)[0]
    rec: dict[str, Any] = {
        "case": case, "engine": engine,
        "engine_version": version if version is not None else VERSIONS.get(engine, "1.0"),
        "toolchain": toolchain, "toolchain_requested": toolchain, "area": area,
        "title": f"title of {case}", "refs": ["https://go.dev/blog/wasmexport"],
        "path": f"manifests/{case}.yaml",
        "build": {"outcome": "ok", "cached": True, "sha256": "ab" * 32, "duration_s": 0.01},
        "observed": {"load_ok": True, "load_message": "",
                     "exports": {"_initialize": "() -> ()", "memory": "memory"},
                     "steps": [step("returned ()"), *(steps if steps is not None else [])]},
        "verdict": verdict, "reason": "", "duration_s": 0.002,
        "rerun": f"python -m pytest 'manifests/{case}.yaml::{engine}[{toolchain}]' --engine {engine} "
                 f"--go {toolchain} --results reports/out/rerun.jsonl",
        "problems": [],
    }
    rec.update(extra)
    return rec


def agreement(case: str, engines: list[str], verdict: str = "pass", toolchain: str = "go1.27.3",
              **extra: Any) -> dict[str, Any]:
    area = case.split("/", 1)[0]
    rec: dict[str, Any] = {
        "case": case, "engine": "agreement", "engine_version": None, "toolchain": toolchain,
        "toolchain_requested": toolchain, "area": area, "title": f"title of {case}",
        "refs": ["https://go.dev/blog/wasmexport"], "path": f"manifests/{case}.yaml",
        "engines": sorted(engines),
        "rerun": f"python -m pytest manifests/{case}.yaml --engine {','.join(engines)} --go {toolchain} "
                 "--results reports/out/rerun.jsonl",
        "problems": [], "verdict": verdict, "reason": "",
    }
    rec.update(extra)
    return rec


def deep_recursion_bun_diverges(toolchain: str = "go1.27.3") -> dict[str, Any]:
    """The six-engine agreement of lifecycle/deep-recursion: bun traps differently (listed)."""
    return agreement(
        "lifecycle/deep-recursion", ENGINES, "xfail", toolchain,
        reason="bun: Bun's JavaScriptCore stack is smaller: the recursion traps as stack_overflow "
               "earlier (https://github.com/oven-sh/bun/issues/1)",
        disagreement={"field": "step 1 (call recurse) results",
                      "groups": [[e for e in ENGINES if e != "bun"], ["bun"]],
                      "values": ["(i32:100000)", "trapped: stack_overflow"]})


def header(commit: str = "c0ffee" * 6 + "abcd", engines: list[str] | None = None,
           toolchains: list[str] | None = None, host: str = "ci-1", started: float = 1.8e9
           ) -> dict[str, Any]:
    return {"type": "header", "schema": 1, "started": started, "python": "3.11.7",
            "platform": "Linux-x86_64", "host": host, "suite_commit": commit,
            "engines": engines or ["wasmtime"], "toolchains": toolchains or ["go1.27.3"]}


def write(path: Path, records: list[dict[str, Any]], head: dict[str, Any] | None = None,
          finished: bool = True) -> Path:
    lines = [head or header(), *({"type": "result", **r} for r in records)]
    if finished:
        lines.append({"type": "footer", "finished": 1.8e9 + 100, "counts": {}})
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    return path


def variant(rec: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(rec)
    out.update(changes)
    return out
