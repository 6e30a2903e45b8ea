"""Adapter for wasmi: builds the Rust runner in runners/wasmi/host once per source hash.

wasmi is an interpreter in Rust with no Python binding on PyPI, so the runner is a small Rust
program on the `wasmi` and `wasmi_wasi` crates from crates.io (versions pinned by the committed
Cargo.lock). It is built with ``cargo build --release --locked`` into the target directory in the
shared cache that the wasmer runner uses too (so a changed source rebuilds only the runner
itself) and the binary is copied into ``runners/wasmi-<hash>/``, where the hash covers the
sources and ``cargo --version``.
"""

from __future__ import annotations

from pathlib import Path

from harness.runner import RunnerProcess
from runners import cargo

NAME = "wasmi"
INSTALL = cargo.INSTALL
HOST = Path(__file__).resolve().parent / "host"
BINARY = "wasmexport-wasmi-runner"


def make_runner() -> RunnerProcess:
    """A wasmi runner process, building it first if this source hash has no binary yet."""
    return RunnerProcess(NAME, [str(cargo.built_binary(NAME, HOST, BINARY))])
