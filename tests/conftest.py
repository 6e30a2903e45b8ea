"""Fixtures for the harness's own tests: WAT modules, every engine's real runner, manifest files.

An engine that is not installed skips its runner checks with the install command, unless
``WASMEXPORT_REQUIRE_ENGINES=1`` (set by CI), where a missing engine fails instead.
"""

from __future__ import annotations

import hashlib
import os
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import wasmtime

from harness import engines
from harness.plan import OUTPUT_BYTES, PROTOCOL
from harness.runner import EngineUnavailable, Runner


def started_runner(name: str) -> Runner:
    """The engine's real runner, started (its hello read); an engine that is not installed skips
    the test, or fails it under ``WASMEXPORT_REQUIRE_ENGINES=1``."""
    try:
        r = engines.make_runner(name)
        r.info()  # starts the process and reads its hello
    except EngineUnavailable as e:
        if os.environ.get("WASMEXPORT_REQUIRE_ENGINES") == "1":
            pytest.fail(f"{name} is required here but unavailable: {e}")
        pytest.skip(f"{name} unavailable: {e}")
    return r


@pytest.fixture(scope="session", params=engines.known())
def runner(request: pytest.FixtureRequest) -> Iterator[Runner]:
    """One real runner process per engine for the whole test session."""
    r = started_runner(request.param)
    yield r
    r.close()


@pytest.fixture
def wat(tmp_path: Path) -> Callable[[str], tuple[Path, str]]:
    """Compile WAT text to a .wasm file; returns (path, sha256)."""

    def make(text: str) -> tuple[Path, str]:
        data = wasmtime.wat2wasm(textwrap.dedent(text))
        sha = hashlib.sha256(data).hexdigest()
        path = tmp_path / f"{sha[:12]}.wasm"
        path.write_bytes(data)
        return path, sha

    return make


@pytest.fixture
def plan_for() -> Callable[..., dict[str, Any]]:
    """A protocol plan for a module with the given steps and imports."""
    counter = iter(range(1_000_000))

    def make(module: tuple[Path, str], steps: list[dict[str, Any]],
             imports: list[dict[str, Any]] | None = None, **wasi: Any) -> dict[str, Any]:
        path, sha = module
        return {
            "type": "plan", "protocol": PROTOCOL, "id": f"test-{next(counter)}",
            "module": {"path": str(path), "sha256": sha},
            "wasi": {"args": wasi.get("args", ["t.wasm"]), "env": wasi.get("env", []),
                     "stdin_b64": ""},
            "limits": {"memory_bytes": 64 << 20, "output_bytes": OUTPUT_BYTES},
            "imports": imports or [],
            "steps": [{"args": [], "timeout_ms": 5000, **s} for s in steps],
        }

    return make


@pytest.fixture
def manifest_file(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a manifest under a temporary manifests/<area>/ tree."""

    def make(text: str, name: str = "area/case.yaml") -> Path:
        path = tmp_path / "manifests" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return make
