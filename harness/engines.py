"""The engine registry: names -> adapters in runners/<name>/adapter.py."""

from __future__ import annotations

import functools
import importlib
import os
import shlex
from pathlib import Path
from types import ModuleType

from harness.paths import RUNNERS
from harness.runner import Runner, RunnerProcess

DEFAULT = "wasmtime"


def _directories() -> list[str]:
    return sorted(p.parent.name for p in RUNNERS.glob("*/adapter.py"))


@functools.cache
def _registry() -> dict[str, str]:
    """Engine name -> its runner directory. An adapter runs one engine named after its directory,
    or declares ``CONFIGURATIONS`` (name -> what the configuration is): one engine per
    configuration (wasmtime's Cranelift, Winch and Pulley), each with its own name,
    expectations file and capabilities, grouped in reports under the directory's name."""
    names: dict[str, str] = {}
    for d in _directories():
        for name in getattr(_module(d), "CONFIGURATIONS", None) or {d: ""}:
            names[name] = d
    return names


def _module(directory: str) -> ModuleType:
    return importlib.import_module(f"runners.{directory}.adapter")


def known() -> list[str]:
    """Every engine (each configuration of a runner counts as one), in name order."""
    return sorted(_registry())


def family(name: str) -> str:
    """The engine a configuration belongs to (its runner directory): `wasmtime` for
    `wasmtime-winch`. A name no adapter declares is its own family."""
    return _registry().get(name, name)


def configuration(name: str) -> str:
    """What the configuration `name` is, as its adapter describes it ("" for a runner with one)."""
    d = family(name)
    if d not in _directories():
        return ""
    return str((getattr(_module(d), "CONFIGURATIONS", None) or {}).get(name, ""))


def adapter(name: str) -> ModuleType:
    """The adapter module for `name`; raises KeyError listing the known engines."""
    if name not in _registry():
        raise KeyError(f"unknown engine {name!r}; known: {', '.join(known())}")
    return _module(_registry()[name])


def targets(name: str) -> tuple[str, ...]:
    """The targets an engine's runner runs: its adapter's ``TARGETS`` (js needs Go's
    wasm_exec.js, so only JavaScript hosts declare it); ``("wasip1",)`` unless said. A name no
    adapter declares (a stand-in runner) runs wasip1."""
    if name not in _registry():
        return ("wasip1",)
    return tuple(getattr(_module(_registry()[name]), "TARGETS", ("wasip1",)))


def override_variable(name: str) -> str:
    return f"WASMEXPORT_RUNNER_{name.upper()}"


def make_runner(name: str) -> Runner:
    """The engine's runner; ``WASMEXPORT_RUNNER_<NAME>`` (a command line) replaces it, e.g. to
    put a patched engine, or a deliberately broken one, behind the same adapter."""
    override = os.environ.get(override_variable(name))
    if override:
        return RunnerProcess(name, shlex.split(override))
    module = adapter(name)
    configured = getattr(module, "CONFIGURATIONS", None)
    runner: Runner = module.make_runner(name) if configured else module.make_runner()
    return runner


def expectations_file(name: str) -> Path:
    """`runners/<dir>/expectations.yaml` for the engine named after its directory, else
    `runners/<dir>/expectations-<configuration>.yaml` (`expectations-winch.yaml`)."""
    d = family(name)
    if name == d:
        return RUNNERS / d / "expectations.yaml"
    return RUNNERS / d / f"expectations-{name.removeprefix(d + '-')}.yaml"
