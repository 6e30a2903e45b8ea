"""Rust runners (wasmer, wasmi): built once per source hash with the cargo on PATH.

Each runner is a Cargo project in ``runners/<engine>/host`` pinning its crates with a committed
Cargo.lock. It is built with ``cargo build --release --locked`` into one target directory in the
shared cache (so the runners share compiled dependencies, and a changed source rebuilds only the
runner itself), and the binary is copied into ``runners/<engine>-<hash>/`` in the cache, where the
hash covers the sources (the runner's and those of ``runners/rust_shared``, the crate the runners
share) and ``cargo --version``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from harness import cachedir, hostbuild
from harness.runner import EngineUnavailable

INSTALL = "install Rust: https://rustup.rs or apt-get install cargo"
SHARED = Path(__file__).resolve().parent / "rust_shared"  # a path dependency of every runner


def _cargo(engine: str) -> tuple[str, str]:
    """The cargo binary and its version line; EngineUnavailable if there is none."""
    cargo = shutil.which("cargo")
    if cargo is None:
        raise EngineUnavailable(f"no `cargo` on PATH to build the {engine} runner; {INSTALL}")
    try:
        version = subprocess.run([cargo, "--version"], capture_output=True, text=True,
                                 timeout=60, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError) as e:
        raise EngineUnavailable(f"`cargo --version` failed: {e}; {INSTALL}") from e
    return cargo, version


def built_binary(engine: str, host: Path, binary: str) -> Path:
    """The runner binary of the Cargo project `host`, building it first if this source hash has
    none yet."""
    cargo, version = _cargo(engine)
    sources = [host / "Cargo.toml", host / "Cargo.lock", *sorted((host / "src").rglob("*.rs")),
               SHARED / "Cargo.toml", *sorted((SHARED / "src").rglob("*.rs"))]
    key = hostbuild.source_hash(sources, extra=version)

    def build(dest: Path) -> None:
        target = cachedir.sub("cargo-target")
        env = {**os.environ, "CARGO_TARGET_DIR": str(target)}
        hostbuild.run_build_step(engine, [cargo, "build", "--release", "--locked"], host, env=env,
                                 install=INSTALL)
        shutil.copy2(target / "release" / binary, dest / binary)

    return hostbuild.cached(engine, key, build) / binary
