"""The wasmtime runner: executes plans with wasmtime-py and reports observations.

Speaks runners/PROTOCOL.md on stdin/stdout: a hello line, then one observation line per plan
line. It never judges. Run as ``python -m runners.wasmtime.host --cache DIR [--config C]``,
C one of wasmtime's code generators (configs.py): ``cranelift`` (the default), ``winch`` or
``pulley``, each a separate engine of the suite (wasmtime, wasmtime-winch, wasmtime-pulley).

Configured the way Go's own wasip1 runner configures wasmtime, within what wasmtime-py allows:
a 1 MiB wasm stack (wasmtime-py aborts the process above its 2 MiB async stack), a wall-clock
deadline per step (epoch interruption for wasm, a deadline-aware poll_oneoff for WASI waits), a
memory cap per store, complete WASI preview1 with the plan's stdin bytes and stdout and stderr
captured in memory, no inherited environment, no preopened directories. Values cross exports
and host functions as raw bits (values.py). Nothing of a plan outlives its observation:
its store and linker are closed, and no files are written besides the compiled-module cache.

Compiled modules (modcache.py) stay in memory by sha256, least recently used dropped first past
``WASMEXPORT_MODULE_CACHE_MB`` (default 256; counted as serialized bytes), over the on-disk cache
in ``--cache DIR`` (one subdirectory per wasmtime version and configuration: a module compiled
for one cannot be loaded by another): a module seen before costs no decoding, compiling or
reflecting.

Bench mode (bench.py), the bare in-process loop the suite's per-item cost is compared to:
``python -m runners.wasmtime.host --cache DIR --bench PLANS.jsonl [--repeat N]`` (N default 5)
runs every plan of the file (one plan per line, as the harness sends them) once to warm up,
then the whole list N times through `execute_plan`, the function the protocol loop calls, with
no JSON round trip and no observation written, and prints one JSON line: ``{"engine",
"engine_version", "plans", "repeat", "per_plan_ms": {"median", "mean", "p90"},
"cpu_ms_per_plan", "total_s", "module_cache": {"budget_mb", "modules", "bytes", "hits",
"misses"}}``, all of the timed runs. It holds every module of the file (the bare loop's modules
are warm) unless ``WASMEXPORT_MODULE_CACHE_MB`` is set; 0 makes every plan a miss.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
import traceback
from importlib.metadata import version
from pathlib import Path
from typing import Any

import wasmtime

from runners.wasmtime import configs, hostfunc
from runners.wasmtime.bench import bench
from runners.wasmtime.hostfunc import GUEST_TRAPS, MemoryTrap, guest_memory, trap_kind
from runners.wasmtime.modcache import ModuleCache, budget_bytes
from runners.wasmtime.values import Raw, call_exact, decode, encode
from runners.wasmtime.wasi import GuestWasi, Watchdog

PROTOCOL = 3
STACK_BYTES = 1 << 20
OUTPUT_BYTES = 1 << 20  # when a plan names no limits.output_bytes
INSTANTIATE_S = 10.0  # a start function's allowance: instantiation is no step, but must end
CAPABILITIES = ["host_imports", "command_mode", "exact_f32", "export_types", "import_types",
                "memory_types", "memory_limit", "timeout"]


class StepError(Exception):
    """A step that cannot be attempted (an unbound name, no memory): its outcome is `error`."""


# -- engine and compiled-module cache ----------------------------------------------------------


class Engine:
    """One wasmtime Engine for the process, its step watchdog, and its compiled modules."""

    def __init__(self, cache: Path | None, budget: int | None,
                 config: configs.Configuration = configs.CRANELIFT) -> None:
        cfg = wasmtime.Config()
        cfg.epoch_interruption = True
        cfg.max_wasm_stack = STACK_BYTES
        config.apply(cfg)
        self.engine = wasmtime.Engine(cfg)
        config.check(self.engine)
        self.name, self.version = config.engine, config.version(wasmtime_version())
        key = f"-{config.key}" if config.key else ""
        fingerprint = f"wasmtime-{wasmtime_version()}{key}-epoch-stack{STACK_BYTES}"
        self.modules = ModuleCache(self.engine, cache / fingerprint if cache else None, budget)
        self.watchdog = Watchdog(self.engine)


def wasmtime_version() -> str:
    return version("wasmtime")


# -- one plan ----------------------------------------------------------------------------------


class Run:
    """The state of one plan: store, instance, captured streams, bindings, the step's trace.

    `close` must follow: the linker's host functions refer back to this object through a
    global callback table, so only closing frees the store and its instance.
    """

    def __init__(self, eng: Engine, plan: dict[str, Any]) -> None:
        self.eng, self.plan = eng, plan
        self.trace: list[dict[str, Any]] = []
        self.bindings: dict[str, Raw] = {}
        self.store = wasmtime.Store(eng.engine)
        self.linker = wasmtime.Linker(eng.engine)
        try:
            limits = plan.get("limits", {})
            if limits.get("memory_bytes"):
                self.store.set_limits(memory_size=int(limits["memory_bytes"]))
            self.wasi = GuestWasi(self.store, plan, eng.watchdog,
                                  int(limits.get("output_bytes", OUTPUT_BYTES)))
            self.wasi.define(self.linker)
            for spec in plan["imports"]:
                hostfunc.define(self.linker, spec, self)
        except BaseException:  # a plan it cannot set up: free what it has, then report
            self.close()
            raise

    def execute(self) -> dict[str, Any]:
        plan = self.plan
        obs: dict[str, Any] = {"type": "observation", "protocol": PROTOCOL, "id": plan["id"],
                               "exports": None, "imports": None, "steps": []}
        try:
            compiled = self.eng.modules.get(plan["module"]["path"], plan["module"]["sha256"])
        except wasmtime.WasmtimeError as e:
            obs["load"] = {"ok": False, "stage": "compile", "message": str(e)}
            return obs
        module = compiled.module
        obs["exports"], obs["imports"] = compiled.exports, compiled.imports
        self.eng.watchdog.arm(self.store, INSTANTIATE_S)  # a start function runs in here
        try:
            instance = self.linker.instantiate(self.store, module)
        except (wasmtime.WasmtimeError, *GUEST_TRAPS) as e:
            obs["load"] = {"ok": False, "stage": "instantiate", "message": str(e)}
            return obs
        finally:
            self.eng.watchdog.disarm()
        obs["load"] = {"ok": True}
        exports = instance.exports(self.store)
        for step in plan["steps"]:
            obs["steps"].append(self._step(exports, step))
        return obs

    def _step(self, exports: Any, step: dict[str, Any]) -> dict[str, Any]:
        self.trace = []
        self.wasi.reset()
        started = time.perf_counter()
        out: dict[str, Any]
        try:
            # a write or read step may carry an empty `args`: the memory key decides
            if "write" in step:
                out = self._write(exports, step["write"])
            elif "read" in step:
                out = self._read(exports, step["read"])
            else:
                out = self._call(exports, step)
        except (StepError, TypeError) as e:
            out = {"outcome": "error", "message": str(e)}
        except MemoryTrap as e:
            out = {"outcome": "trap", "trap": trap_kind(e), "message": str(e)}
        out["duration_ms"] = (time.perf_counter() - started) * 1000
        out.update(self.wasi.report())
        out["trace"] = self.trace
        return out

    def _operand(self, x: dict[str, Any]) -> Raw:
        if "ref" in x:
            if x["ref"] not in self.bindings:
                raise StepError(f"no earlier call bound a value to the name {x['ref']!r}")
            return self.bindings[x["ref"]]
        return decode(x)

    def _u32(self, x: dict[str, Any], what: str) -> int:
        t, bits = self._operand(x)
        if t != "i32":
            raise TypeError(f"the {what} must be an i32, not an {t}")
        return bits

    def _write(self, exports: Any, spec: dict[str, Any]) -> dict[str, Any]:
        data = bytes.fromhex(spec["hex"])
        ptr = self._u32(spec["ptr"], "pointer")
        mem = guest_memory(exports, self.store, ptr, len(data), trap=MemoryTrap, missing=StepError)
        mem.write(self.store, data, ptr)
        return {"outcome": "ok", "results": []}

    def _read(self, exports: Any, spec: dict[str, Any]) -> dict[str, Any]:
        ptr, n = self._u32(spec["ptr"], "pointer"), self._u32(spec["len"], "length")
        mem = guest_memory(exports, self.store, ptr, n, trap=MemoryTrap, missing=StepError)
        data = bytes(mem.read(self.store, ptr, ptr + n)) if n else b""
        return {"outcome": "ok", "results": [], "data_b64": base64.b64encode(data).decode()}

    def _call(self, exports: Any, step: dict[str, Any]) -> dict[str, Any]:
        func = exports.get(step["call"])
        args = [self._operand(a) for a in step.get("args", [])]
        if not isinstance(func, wasmtime.Func):
            return {"outcome": "error", "message": f"no function export named {step['call']!r}"}
        self.eng.watchdog.arm(self.store, step["timeout_ms"] / 1000)
        try:
            results = call_exact(self.store, func, args)
        except wasmtime.ExitTrap as e:
            return {"outcome": "exit", "code": e.code, "message": str(e)}
        except GUEST_TRAPS as e:
            return {"outcome": "trap", "trap": trap_kind(e), "message": str(e)}
        except wasmtime.WasmtimeError as e:
            return {"outcome": "trap", "trap": "other", "message": str(e)}
        finally:
            self.eng.watchdog.disarm()
        for name, raw in zip(step.get("bind") or [], results, strict=False):
            if name is not None:
                self.bindings[name] = raw
        return {"outcome": "ok", "results": [encode(r) for r in results]}

    def close(self) -> None:
        """Free the plan: the store (instance, memory, WASI context, captures) and linker."""
        self.store.close()
        self.linker.close()


# -- the protocol loop -------------------------------------------------------------------------


def execute_plan(eng: Engine, plan: Any) -> dict[str, Any]:
    """The observation of one plan (already parsed): what the protocol loop and bench mode run."""
    try:
        run = Run(eng, plan)
        try:
            return run.execute()
        finally:
            run.close()
    except Exception as e:  # the runner's own failure: report it, keep serving
        return {"type": "observation", "protocol": PROTOCOL,
                "id": plan.get("id") if isinstance(plan, dict) else None,
                "error": f"{type(e).__name__}: {e}\n{traceback.format_exc()}"}


def serve(cache: Path | None, config: configs.Configuration = configs.CRANELIFT) -> int:
    eng = Engine(cache, budget_bytes(), config)
    send({"type": "hello", "protocol": PROTOCOL, "engine": eng.name,
          "engine_version": eng.version, "capabilities": CAPABILITIES})
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            plan = json.loads(line)
        except ValueError as e:
            send({"type": "observation", "protocol": PROTOCOL, "id": None,
                  "error": f"{type(e).__name__}: {e}"})
            continue
        send(execute_plan(eng, plan))
    return 0


def send(doc: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(doc) + "\n")
    sys.stdout.flush()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", type=Path, help="directory for compiled modules")
    ap.add_argument("--config", choices=sorted(configs.BY_NAME), default="cranelift",
                    help="wasmtime's code generator (default cranelift)")
    ap.add_argument("--bench", type=Path, metavar="PLANS.jsonl",
                    help="time the plans in this file in-process instead of serving")
    ap.add_argument("--repeat", type=int, default=5, help="timed passes over the plans (bench)")
    args = ap.parse_args()
    config = configs.BY_NAME[args.config]
    if args.bench:
        # the bare loop holds every module of the file unless a budget is set explicitly
        return bench(Engine(args.cache, budget_bytes(None), config), execute_plan, args.bench,
                     args.repeat)
    return serve(args.cache, config)


def exit_now(code: int) -> None:
    """Exit without finalizing the interpreter: wasmtime's WASI threads call back into Python
    (the output captures) and are torn down late, and one that does so while the interpreter
    finalizes is ended by pthread_exit, through frames that cannot unwind: the process aborts."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_now(main())
