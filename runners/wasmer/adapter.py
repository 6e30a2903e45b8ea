"""Adapter for Wasmer: builds the Rust runner in runners/wasmer/host once per source hash.

The PyPI ``wasmer`` package embeds a 2021 engine and has no wheels for Python >= 3.11, so the
runner is a small Rust program on the current ``wasmer`` and ``wasmer-wasix`` crates from
crates.io (versions pinned by the committed Cargo.lock). It is built with ``cargo build --release
--locked`` into a target directory in the shared cache (so a changed source rebuilds only the
runner itself) and the binary is copied into ``runners/wasmer-<hash>/``, where the hash covers
the sources and ``cargo --version``.

Two engines share the binary: ``wasmer`` compiles with Cranelift (the default) and
``wasmer-singlepass`` with Singlepass (``--compiler singlepass``), each with its own disk cache
directory of compiled modules. The third, ``wasmer-llvm`` (``--compiler llvm``), runs a second
binary of the same sources built with the ``llvm`` feature, which needs LLVM 22's development
packages (llvm.py); it is built only when ``wasmer-llvm`` is asked for.
"""

from __future__ import annotations

from pathlib import Path

from harness import cachedir
from harness.runner import RunnerProcess
from runners import cargo
from runners.wasmer import llvm

NAME = "wasmer"
SINGLEPASS = "wasmer-singlepass"
LLVM = llvm.NAME
CONFIGURATIONS = {
    NAME: "Cranelift (the default)",
    SINGLEPASS: "Singlepass, wasmer's single-pass compiler",
    LLVM: "LLVM, wasmer's optimising compiler (a separate binary; needs LLVM 22's -dev packages)",
}
COMPILERS = {NAME: "cranelift", SINGLEPASS: "singlepass", LLVM: "llvm"}
INSTALL = cargo.INSTALL
HOST = Path(__file__).resolve().parent / "host"
BINARY = "wasmexport-wasmer-runner"


def make_runner(name: str = NAME) -> RunnerProcess:
    """A runner process for the configuration `name`, building the binary first if this source
    hash has none yet."""
    if name not in COMPILERS:
        raise ValueError(f"unknown wasmer configuration {name!r}; known: {', '.join(COMPILERS)}")
    binary = llvm.built_binary(HOST) if name == LLVM else cargo.built_binary(NAME, HOST, BINARY)
    # LLVM compiles a Go module in 9-18 s (more on a loaded machine): three minutes of margin.
    return RunnerProcess(name, [str(binary), "--cache", str(cachedir.sub("compiled-wasmer")),
                                "--compiler", COMPILERS[name]],
                         compile_allowance_s=180.0 if name == LLVM else 60.0)
