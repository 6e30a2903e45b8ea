"""The wasmtime runner: executes plans with wasmtime-py and reports observations.

Speaks runners/PROTOCOL.md on stdin/stdout: a hello line, then one observation line per plan
line. It never judges. Run as ``python -m runners.wasmtime.host --cache DIR``.

Configured the way Go's own wasip1 runner configures wasmtime, within what wasmtime-py allows:
a 1 MiB wasm stack (wasmtime-py aborts the process above its 2 MiB async stack), a wall-clock
deadline per step (epoch interruption for wasm, a deadline-aware poll_oneoff for WASI waits), a
memory cap per store, complete WASI preview1 with stdout and stderr captured in memory, no
inherited environment, no preopened directories. Nothing of a plan outlives its observation:
its store and linker are closed, and no files are written besides the compiled-module cache.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import wasmtime

from runners.wasmtime.values import Raw, call_exact, decode, encode, from_python, to_python, valtype
from runners.wasmtime.wasi import GuestWasi, StepTimeout, WasiTrap, Watchdog

PROTOCOL = 2
STACK_BYTES = 1 << 20
OUTPUT_BYTES = 1 << 20  # when a plan names no limits.output_bytes
INSTANTIATE_S = 10.0  # a start function's allowance: instantiation is no step, but must end
CAPABILITIES = ["host_imports", "command_mode", "exact_f32", "export_types", "memory_limit",
                "timeout"]
_TRAPS = {
    "STACK_OVERFLOW": "stack_overflow", "MEMORY_OUT_OF_BOUNDS": "memory_out_of_bounds",
    "INTEGER_OVERFLOW": "integer_overflow", "INTEGER_DIVISION_BY_ZERO": "integer_divide_by_zero",
    "BAD_CONVERSION_TO_INTEGER": "invalid_conversion", "UNREACHABLE": "unreachable",
    "INTERRUPT": "timeout", "OUT_OF_FUEL": "out_of_fuel", "INDIRECT_CALL_TO_NULL": "indirect_call",
    "BAD_SIGNATURE": "indirect_call",
}
GUEST_TRAPS = (wasmtime.Trap, StepTimeout, WasiTrap)  # a step reports these (and HostTrap) as traps


class HostTrap(Exception):
    """A host function failing on purpose (the `trap` op) or by a bad memory access."""


# -- engine and compiled-module cache ----------------------------------------------------------


class Engine:
    """One wasmtime Engine for the process, its step watchdog, and a compiled-module cache."""

    def __init__(self, cache: Path | None) -> None:
        cfg = wasmtime.Config()
        cfg.epoch_interruption = True
        cfg.max_wasm_stack = STACK_BYTES
        self.engine = wasmtime.Engine(cfg)
        self.version = wasmtime_version()
        fingerprint = f"wasmtime-{self.version}-epoch-stack{STACK_BYTES}"
        self.cache = cache / fingerprint if cache else None
        if self.cache:
            self.cache.mkdir(parents=True, exist_ok=True)
            _remove_orphans(self.cache)
        self.modules: dict[str, wasmtime.Module] = {}
        self.watchdog = Watchdog(self.engine)

    def module(self, path: str, sha256: str) -> wasmtime.Module:
        """The compiled module: from memory, from the on-disk cache, or compiled now."""
        if sha256 in self.modules:
            return self.modules[sha256]
        cached = self.cache / f"{sha256}.cwasm" if self.cache else None
        module = None
        if cached and cached.exists():
            try:
                module = wasmtime.Module.deserialize_file(self.engine, str(cached))
            except wasmtime.WasmtimeError:
                module = None
        if module is None:
            module = wasmtime.Module.from_file(self.engine, path)
            if cached:
                # named by pid, so that a runner killed while writing leaves a file the next
                # runner can tell is orphaned
                tmp = cached.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_bytes(module.serialize())
                tmp.replace(cached)
        self.modules[sha256] = module
        return module


def _remove_orphans(cache: Path) -> None:
    """Half-written cache entries of runners that no longer exist (killed mid-write)."""
    for tmp in cache.glob("*.tmp"):
        pid = tmp.suffixes[-2][1:] if len(tmp.suffixes) >= 2 else ""
        if pid.isdigit() and not _alive(int(pid)):
            tmp.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def wasmtime_version() -> str:
    return version("wasmtime")


def export_types(module: wasmtime.Module) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for e in module.exports:
        ty = e.type
        if isinstance(ty, wasmtime.FuncType):
            out.append({"name": e.name, "kind": "func", "params": [str(p) for p in ty.params],
                        "results": [str(r) for r in ty.results]})
        elif isinstance(ty, wasmtime.MemoryType):
            out.append({"name": e.name, "kind": "memory"})
        elif isinstance(ty, wasmtime.TableType):
            out.append({"name": e.name, "kind": "table"})
        else:
            out.append({"name": e.name, "kind": "global"})
    return out


def trap_kind(err: BaseException) -> str:
    if isinstance(err, HostTrap):
        return "host_error"
    if isinstance(err, StepTimeout):
        return "timeout"
    if isinstance(err, WasiTrap):
        return "other"
    if isinstance(err, wasmtime.Trap):
        code = err.trap_code
        return _TRAPS.get(code.name, "other") if code is not None else "other"
    return "host_error"


# -- one plan ----------------------------------------------------------------------------------


class Run:
    """The state of one plan: store, instance, captured streams, the current step's trace.

    `close` must follow: the linker's host functions refer back to this object through
    wasmtime-py's global callback table, so only closing frees the store and its instance.
    """

    def __init__(self, eng: Engine, plan: dict[str, Any]) -> None:
        self.eng, self.plan = eng, plan
        self.trace: list[dict[str, Any]] = []
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
                ty = wasmtime.FuncType([valtype(t) for t in spec["params"]],
                                       [valtype(t) for t in spec["results"]])
                self.linker.define_func(spec["module"], spec["name"], ty, self._host(spec),
                                        access_caller=True)
        except BaseException:  # a plan it cannot set up: free what it has, then report
            self.close()
            raise

    def _host(self, spec: dict[str, Any]) -> Callable[..., Any]:
        name = f"{spec['module']}.{spec['name']}"

        def host(caller: wasmtime.Caller, *args: Any) -> Any:
            params = [from_python(t, a) for t, a in zip(spec["params"], args, strict=True)]
            self.trace.append({"ev": "import", "name": name, "args": [encode(p) for p in params]})
            last: list[Raw] = []

            def value(x: dict[str, Any]) -> Raw:
                if "param" in x:
                    return params[int(x["param"])]
                if "result" in x:
                    if x["result"] >= len(last):
                        raise HostTrap(f"{name}: result {x['result']} of the last call is missing")
                    return last[int(x["result"])]
                return decode(x["value"])

            for op in spec["do"]:
                if "call" in op:
                    last = self._nested(caller, op["call"], [value(a) for a in op.get("args", [])])
                elif "read" in op:
                    ptr, n = value(op["read"]["ptr"])[1], value(op["read"]["len"])[1]
                    self.trace.append({"ev": "read", "hex": _memory(caller, ptr, n).hex()})
                elif "write" in op:
                    data = bytes.fromhex(op["write"]["hex"])
                    ptr = value(op["write"]["ptr"])[1]
                    _memory(caller, ptr, len(data))
                    mem = caller.get("memory")
                    assert isinstance(mem, wasmtime.Memory)
                    mem.write(caller, data, ptr)
                    self.trace.append({"ev": "write", "len": len(data)})
                else:
                    raise HostTrap(op["trap"])
            results = [value(x) for x in spec["return"]]
            self.trace.append({"ev": "import_return", "values": [encode(r) for r in results]})
            if not results:
                return None
            py = [to_python(r) for r in results]
            return py[0] if len(py) == 1 else py

        return host

    def _nested(self, caller: wasmtime.Caller, export: str, args: list[Raw]) -> list[Raw]:
        self.trace.append({"ev": "export", "name": export, "args": [encode(a) for a in args]})
        func = caller.get(export)
        if not isinstance(func, wasmtime.Func):
            raise HostTrap(f"the guest has no function export {export!r}")
        try:
            out = call_exact(caller, func, args)
        except wasmtime.ExitTrap as e:
            self.trace.append({"ev": "export_exit", "code": e.code})
            raise
        except (*GUEST_TRAPS, HostTrap) as e:
            self.trace.append({"ev": "export_trap", "kind": trap_kind(e)})
            raise
        self.trace.append({"ev": "export_return", "values": [encode(r) for r in out]})
        return out

    def execute(self) -> dict[str, Any]:
        plan = self.plan
        obs: dict[str, Any] = {"type": "observation", "protocol": PROTOCOL, "id": plan["id"],
                               "exports": None, "steps": []}
        try:
            module = self.eng.module(plan["module"]["path"], plan["module"]["sha256"])
        except wasmtime.WasmtimeError as e:
            obs["load"] = {"ok": False, "stage": "compile", "message": str(e)}
            return obs
        obs["exports"] = export_types(module)
        self.eng.watchdog.arm(self.store, INSTANTIATE_S)  # a start function runs in here
        try:
            instance = self.linker.instantiate(self.store, module)
        except (wasmtime.WasmtimeError, *GUEST_TRAPS, HostTrap) as e:
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
        func = exports.get(step["call"])
        args = [decode(a) for a in step["args"]]
        started = time.perf_counter()
        out: dict[str, Any]
        if not isinstance(func, wasmtime.Func):
            out = {"outcome": "error", "message": f"no function export named {step['call']!r}"}
        else:
            self.eng.watchdog.arm(self.store, step["timeout_ms"] / 1000)
            try:
                out = {"outcome": "ok", "results": [encode(r) for r in
                                                    call_exact(self.store, func, args)]}
            except wasmtime.ExitTrap as e:
                out = {"outcome": "exit", "code": e.code, "message": str(e)}
            except (*GUEST_TRAPS, HostTrap) as e:
                out = {"outcome": "trap", "trap": trap_kind(e), "message": str(e)}
            except TypeError as e:
                out = {"outcome": "error", "message": str(e)}
            except wasmtime.WasmtimeError as e:
                out = {"outcome": "trap", "trap": "other", "message": str(e)}
            finally:
                self.eng.watchdog.disarm()
        out["duration_ms"] = (time.perf_counter() - started) * 1000
        out.update(self.wasi.report())
        out["trace"] = self.trace
        return out

    def close(self) -> None:
        """Free the plan: the store (instance, memory, WASI context, captures) and linker."""
        self.store.close()
        self.linker.close()


def _memory(caller: wasmtime.Caller, ptr: int, n: int) -> bytes:
    mem = caller.get("memory")
    if not isinstance(mem, wasmtime.Memory):
        raise HostTrap("the guest exports no memory")
    size = mem.data_len(caller)
    if ptr + n > size:
        raise HostTrap(f"memory access [{ptr}, {ptr + n}) is outside the {size}-byte memory")
    return bytes(mem.read(caller, ptr, ptr + n))


# -- the protocol loop -------------------------------------------------------------------------


def serve(cache: Path | None) -> int:
    eng = Engine(cache)
    send({"type": "hello", "protocol": PROTOCOL, "engine": "wasmtime",
          "engine_version": eng.version, "capabilities": CAPABILITIES})
    for line in sys.stdin:
        if not line.strip():
            continue
        plan: Any = None
        try:
            plan = json.loads(line)
            run = Run(eng, plan)
            try:
                obs = run.execute()
            finally:
                run.close()
        except Exception as e:  # the runner's own failure: report it, keep serving
            obs = {"type": "observation", "protocol": PROTOCOL,
                   "id": plan.get("id") if isinstance(plan, dict) else None,
                   "error": f"{type(e).__name__}: {e}\n{traceback.format_exc()}"}
        send(obs)
    return 0


def send(doc: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(doc) + "\n")
    sys.stdout.flush()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cache", type=Path, help="directory for compiled modules")
    return serve(ap.parse_args().cache)


if __name__ == "__main__":
    sys.exit(main())
