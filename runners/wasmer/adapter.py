"""Adapter for Wasmer: builds the Rust runner in runners/wasmer/host once per source hash.

The PyPI ``wasmer`` package embeds a 2021 engine and has no wheels for Python >= 3.11, so the
runner is a small Rust program on the current ``wasmer`` and ``wasmer-wasix`` crates from
crates.io (versions pinned by the committed Cargo.lock). It is built with ``cargo build --release
--locked`` into a target directory in the shared cache (so a changed source rebuilds only the
runner itself) and the binary is copied into ``runners/wasmer-<hash>/``, where the hash covers
the sources and ``cargo --version``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from harness import cachedir, hostbuild
from harness.runner import EngineUnavailable, RunnerProcess

NAME = "wasmer"
INSTALL = "install Rust: https://rustup.rs or apt-get install cargo"
HOST = Path(__file__).resolve().parent / "host"
BINARY = "wasmexport-wasmer-runner"


def _sources() -> list[Path]:
    return [HOST / "Cargo.toml", HOST / "Cargo.lock", *sorted((HOST / "src").rglob("*.rs"))]


def _cargo() -> tuple[str, str]:
    """The cargo binary and its version line; EngineUnavailable if there is none."""
    cargo = shutil.which("cargo")
    if cargo is None:
        raise EngineUnavailable(f"no `cargo` on PATH to build the wasmer runner; {INSTALL}")
    try:
        version = subprocess.run([cargo, "--version"], capture_output=True, text=True,
                                 timeout=60, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError) as e:
        raise EngineUnavailable(f"`cargo --version` failed: {e}; {INSTALL}") from e
    return cargo, version


def _build(cargo: str, dest: Path) -> None:
    target = cachedir.sub("cargo-target")
    env = {**os.environ, "CARGO_TARGET_DIR": str(target)}
    hostbuild.run_build_step(NAME, [cargo, "build", "--release", "--locked"], HOST, env=env,
                             install=INSTALL)
    shutil.copy2(target / "release" / BINARY, dest / BINARY)


def make_runner() -> RunnerProcess:
    """A wasmer runner process, building it first if this source hash has no binary yet."""
    cargo, version = _cargo()
    key = hostbuild.source_hash(_sources(), extra=version)
    built = hostbuild.cached(NAME, key, lambda dest: _build(cargo, dest))
    return RunnerProcess(NAME, [str(built / BINARY), "--cache",
                                str(cachedir.sub("compiled-wasmer"))])
