"""The wasmtime runner: executes plans with wasmtime-py and reports observations.

Speaks runners/PROTOCOL.md on stdin/stdout: a hello line, then one observation line per plan
line. It never judges. Run as ``python -m runners.wasmtime.host --cache DIR``.

Configured the way Go's own wasip1 runner configures wasmtime, within what wasmtime-py allows:
a 1 MiB wasm stack (wasmtime-py aborts the process above its 2 MiB async stack), epoch
interruption for per-step timeouts, a memory cap per store, complete WASI preview1 with stdout
and stderr captured to files, no inherited environment, no preopened directories.
"""

from __future__ import annotations

import argparse
import base64
import ctypes
import json
import math
import struct
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import wasmtime
from wasmtime import _ffi as ffi  # raw value calls: the only way to pass f32 bits unquieted
from wasmtime._func import enter_wasm

PROTOCOL = 1
TICK_S = 0.005
STACK_BYTES = 1 << 20
CAPABILITIES = ["host_imports", "command_mode", "exact_f32", "export_types", "memory_limit",
                "timeout"]
_MASK = {"i32": (1 << 32) - 1, "i64": (1 << 64) - 1, "f32": (1 << 32) - 1, "f64": (1 << 64) - 1}
_KIND = {"i32": ffi.WASMTIME_I32.value, "i64": ffi.WASMTIME_I64.value,
         "f32": ffi.WASMTIME_F32.value, "f64": ffi.WASMTIME_F64.value}
_NAME = {v: k for k, v in _KIND.items()}
_TRAPS = {
    "STACK_OVERFLOW": "stack_overflow", "MEMORY_OUT_OF_BOUNDS": "memory_out_of_bounds",
    "INTEGER_OVERFLOW": "integer_overflow", "INTEGER_DIVISION_BY_ZERO": "integer_divide_by_zero",
    "BAD_CONVERSION_TO_INTEGER": "invalid_conversion", "UNREACHABLE": "unreachable",
    "INTERRUPT": "timeout", "OUT_OF_FUEL": "out_of_fuel", "INDIRECT_CALL_TO_NULL": "indirect_call",
    "BAD_SIGNATURE": "indirect_call",
}

Raw = tuple[str, int]  # (type, unsigned bits): exact, like the protocol


class HostTrap(Exception):
    """A host function failing on purpose (the `trap` op) or by a bad memory access."""


# -- values ------------------------------------------------------------------------------------


def decode(v: dict[str, str]) -> Raw:
    t = str(v["t"])
    n = int(v["v"], 16) if t in ("f32", "f64") else int(v["v"], 10)
    return t, n & _MASK[t]


def encode(raw: Raw) -> dict[str, str]:
    t, bits = raw
    if t == "i32":
        return {"t": t, "v": str(bits - (1 << 32) if bits >> 31 else bits)}
    if t == "i64":
        return {"t": t, "v": str(bits - (1 << 64) if bits >> 63 else bits)}
    return {"t": t, "v": f"0x{bits:0{8 if t == 'f32' else 16}x}"}


def _signed(bits: int, width: int) -> int:
    return bits - (1 << width) if bits >> (width - 1) else bits


def from_python(t: str, v: Any) -> Raw:
    """A value wasmtime-py handed us (host-function params): f32 payloads may be quieted."""
    if t in ("i32", "i64"):
        return t, int(v) & _MASK[t]
    if t == "f64":
        return t, struct.unpack("<Q", struct.pack("<d", v))[0]
    return t, struct.unpack("<I", struct.pack("<f", v))[0]


def to_python(raw: Raw) -> Any:
    t, bits = raw
    if t == "i32":
        return _signed(bits, 32)
    if t == "i64":
        return _signed(bits, 64)
    if t == "f64":
        return struct.unpack("<d", struct.pack("<Q", bits))[0]
    return struct.unpack("<f", struct.pack("<I", bits))[0]


def call_exact(store: Any, func: wasmtime.Func, args: list[Raw]) -> list[Raw]:
    """Call `func` with raw bit patterns in and out, so f32/f64 NaN payloads survive.

    wasmtime-py's Func.__call__ converts through Python floats, which quiets signalling f32
    NaNs; this goes through the same C API with the union's integer fields instead.
    """
    ty = func.type(store)
    want = [str(p) for p in ty.params]
    if [t for t, _ in args] != want:
        raise TypeError(f"arguments ({', '.join(t for t, _ in args)}) do not match the "
                        f"export's parameters ({', '.join(want)})")
    n, m = len(args), len(ty.results)
    params = (ffi.wasmtime_val_t * max(n, 1))()
    for i, (t, bits) in enumerate(args):
        params[i].kind = _KIND[t]  # type: ignore[assignment]
        if t in ("i32", "f32"):
            params[i].of.i32 = _signed(bits, 32)
        else:
            params[i].of.i64 = _signed(bits, 64)
    results = (ffi.wasmtime_val_t * max(m, 1))()
    with enter_wasm(store) as trap:
        error = ffi.wasmtime_func_call(store._context(), ctypes.byref(func._func), params, n,
                                       results, m, trap)
        if error:
            raise wasmtime.WasmtimeError._from_ptr(error)
    out = []
    for i in range(m):
        t = _NAME[int(results[i].kind)]
        raw = results[i].of.i32 if t in ("i32", "f32") else results[i].of.i64
        out.append((t, raw & _MASK[t]))
    return out


# -- engine and compiled-module cache ----------------------------------------------------------


class Engine:
    """One wasmtime Engine for the process, an epoch ticker, and a compiled-module cache."""

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
        self.modules: dict[str, wasmtime.Module] = {}
        threading.Thread(target=self._tick, daemon=True, name="epoch").start()

    def _tick(self) -> None:
        while True:
            time.sleep(TICK_S)
            self.engine.increment_epoch()

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
                tmp = cached.with_suffix(f".{id(module)}.tmp")
                tmp.write_bytes(module.serialize())
                tmp.replace(cached)
        self.modules[sha256] = module
        return module


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
    if isinstance(err, wasmtime.Trap):
        code = err.trap_code
        return _TRAPS.get(code.name, "other") if code is not None else "other"
    return "host_error"


# -- one plan ----------------------------------------------------------------------------------


class Run:
    """The state of one plan: store, instance, captured streams, the current step's trace."""

    def __init__(self, eng: Engine, plan: dict[str, Any], tmp: Path) -> None:
        self.eng, self.plan = eng, plan
        self.trace: list[dict[str, Any]] = []
        self.out_path, self.err_path = tmp / "stdout", tmp / "stderr"
        self.offsets = {"stdout": 0, "stderr": 0}
        self.store = wasmtime.Store(eng.engine)
        limits = plan.get("limits", {})
        if limits.get("memory_bytes"):
            self.store.set_limits(memory_size=int(limits["memory_bytes"]))
        wasi = wasmtime.WasiConfig()
        wasi.argv = plan["wasi"]["args"]
        wasi.env = [tuple(kv) for kv in plan["wasi"]["env"]]
        wasi.stdout_file = str(self.out_path)
        wasi.stderr_file = str(self.err_path)
        self.store.set_wasi(wasi)
        self.linker = wasmtime.Linker(eng.engine)
        self.linker.define_wasi()
        for spec in plan["imports"]:
            ty = wasmtime.FuncType([_valtype(t) for t in spec["params"]],
                                   [_valtype(t) for t in spec["results"]])
            self.linker.define_func(spec["module"], spec["name"], ty, self._host(spec),
                                    access_caller=True)

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
        except (wasmtime.Trap, HostTrap) as e:
            self.trace.append({"ev": "export_trap", "kind": trap_kind(e)})
            raise
        self.trace.append({"ev": "export_return", "values": [encode(r) for r in out]})
        return out

    def _drain(self, stream: str) -> str:
        path = self.out_path if stream == "stdout" else self.err_path
        if not path.exists():
            return ""
        with path.open("rb") as fh:
            fh.seek(self.offsets[stream])
            data = fh.read()
        self.offsets[stream] += len(data)
        return base64.b64encode(data).decode()

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
        try:
            instance = self.linker.instantiate(self.store, module)
        except (wasmtime.WasmtimeError, HostTrap) as e:
            obs["load"] = {"ok": False, "stage": "instantiate", "message": str(e)}
            return obs
        obs["load"] = {"ok": True}
        exports = instance.exports(self.store)
        for step in plan["steps"]:
            obs["steps"].append(self._step(exports, step))
        return obs

    def _step(self, exports: Any, step: dict[str, Any]) -> dict[str, Any]:
        self.trace = []
        ticks = max(1, math.ceil(step["timeout_ms"] / 1000 / TICK_S))
        self.store.set_epoch_deadline(ticks)
        func = exports.get(step["call"])
        args = [decode(a) for a in step["args"]]
        started = time.perf_counter()
        out: dict[str, Any]
        if not isinstance(func, wasmtime.Func):
            out = {"outcome": "error", "message": f"no function export named {step['call']!r}"}
        else:
            try:
                out = {"outcome": "ok", "results": [encode(r) for r in
                                                    call_exact(self.store, func, args)]}
            except wasmtime.ExitTrap as e:
                out = {"outcome": "exit", "code": e.code, "message": str(e)}
            except (wasmtime.Trap, HostTrap) as e:
                out = {"outcome": "trap", "trap": trap_kind(e), "message": str(e)}
            except TypeError as e:
                out = {"outcome": "error", "message": str(e)}
            except wasmtime.WasmtimeError as e:
                out = {"outcome": "trap", "trap": "other", "message": str(e)}
        out["duration_ms"] = (time.perf_counter() - started) * 1000
        out["stdout_b64"] = self._drain("stdout")
        out["stderr_b64"] = self._drain("stderr")
        out["trace"] = self.trace
        return out


def _valtype(t: str) -> wasmtime.ValType:
    return {"i32": wasmtime.ValType.i32, "i64": wasmtime.ValType.i64,
            "f32": wasmtime.ValType.f32, "f64": wasmtime.ValType.f64}[t]()


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
            with tempfile.TemporaryDirectory(prefix="wasmtime-run-") as tmp:
                obs = Run(eng, plan, Path(tmp)).execute()
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
