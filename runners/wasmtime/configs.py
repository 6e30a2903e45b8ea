"""wasmtime's code generators, one per engine configuration the runner offers.

- ``cranelift``: wasmtime's default, its optimizing compiler.
- ``winch``: the baseline (single-pass) compiler. wasmtime-py 50.0.1's `Config.strategy`
  accepts only "auto" and "cranelift", so Winch is selected through the C API the binding
  wraps, ``wasmtime_config_strategy_set(config, WASMTIME_STRATEGY_WINCH)`` (2 in the C enum).
  Winch refuses some proposals (GC, function references, relaxed SIMD, stack switching), and
  a config that enables one does not fail with an error: `wasm_engine_new_with_config`
  panics and the process aborts. wasmtime leaves them off by default for Winch; they are set
  off explicitly here as well, so that no default can turn them on. A module using one then
  fails to load (parse or compile error), which is the module's outcome, not the runner's.
  Epoch interruption, fuel, the wasm stack limit and signals-based traps (which Winch needs)
  all work with Winch in wasmtime 50.
- ``pulley``: Cranelift compiling for the Pulley interpreter (target ``pulley64``), wasmtime's
  portable interpreter; `Engine.is_pulley` confirms it. Epochs and fuel work there too.
"""

from __future__ import annotations

from dataclasses import dataclass

import wasmtime
from wasmtime import _ffi as ffi

WASMTIME_STRATEGY_WINCH = 2  # wasmtime_strategy_t, crates/c-api/include/wasmtime/config.h
WINCH_UNSUPPORTED = ("wasm_gc", "wasm_function_references", "wasm_relaxed_simd",
                     "wasm_stack_switching")


@dataclass(frozen=True)
class Configuration:
    """One code generator: its engine name, its label in versions and cache keys."""

    engine: str  # the engine name the suite knows it by
    key: str  # in the compiled-module cache's directory name ("" for the default)
    label: str  # appended to the version in the hello ("" for the default)

    def apply(self, cfg: wasmtime.Config) -> None:
        """Select this code generator on `cfg` (before the engine is made from it)."""
        if self is WINCH:
            for feature in WINCH_UNSUPPORTED:
                setattr(cfg, feature, False)
            ffi.wasmtime_config_strategy_set(cfg.ptr(), WASMTIME_STRATEGY_WINCH)
        elif self is PULLEY:
            cfg.target = "pulley64"

    def check(self, engine: wasmtime.Engine) -> None:
        """Raise if the engine is not what the configuration asked for."""
        if engine.is_pulley() != (self is PULLEY):
            raise RuntimeError(f"{self.engine}: wasmtime_engine_is_pulley is {engine.is_pulley()}")

    def version(self, wasmtime_version: str) -> str:
        return f"{wasmtime_version} ({self.label})" if self.label else wasmtime_version


CRANELIFT = Configuration("wasmtime", "", "")
WINCH = Configuration("wasmtime-winch", "winch", "Winch")
PULLEY = Configuration("wasmtime-pulley", "pulley64", "Pulley, pulley64")
BY_NAME = {"cranelift": CRANELIFT, "winch": WINCH, "pulley": PULLEY}
