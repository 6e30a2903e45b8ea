"""Exact values across the seam between the protocol and wasmtime-py.

Values travel as ``(type, unsigned bits)``, like the protocol, so f32/f64 NaN payloads and -0.0
survive both ways: `call_exact` calls an export and `define_exact` defines a host function, both
through the C API's value union, never through Python floats (which quiet signalling f32 NaNs).
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Any

import wasmtime
from wasmtime import _ffi as ffi  # raw value calls: the only way to pass f32 bits unquieted
from wasmtime import _func
from wasmtime._func import enter_wasm
from wasmtime._slab import Slab

_MASK = {"i32": (1 << 32) - 1, "i64": (1 << 64) - 1, "f32": (1 << 32) - 1, "f64": (1 << 64) - 1}
_KIND = {"i32": ffi.WASMTIME_I32.value, "i64": ffi.WASMTIME_I64.value,
         "f32": ffi.WASMTIME_F32.value, "f64": ffi.WASMTIME_F64.value}
_NAME = {v: k for k, v in _KIND.items()}

Raw = tuple[str, int]  # (type, unsigned bits): exact, like the protocol
HostFn = Callable[[wasmtime.Caller, list[Raw]], list[Raw]]


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


def valtype(t: str) -> wasmtime.ValType:
    return {"i32": wasmtime.ValType.i32, "i64": wasmtime.ValType.i64,
            "f32": wasmtime.ValType.f32, "f64": wasmtime.ValType.f64}[t]()


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
    for i, raw in enumerate(args):
        params[i] = _to_val(raw)
    results = (ffi.wasmtime_val_t * max(m, 1))()
    with enter_wasm(store) as trap:
        error = ffi.wasmtime_func_call(store._context(), ctypes.byref(func._func), params, n,
                                       results, m, trap)
        if error:
            raise wasmtime.WasmtimeError._from_ptr(error)
    return [_from_val(results[i]) for i in range(m)]


def _to_val(raw: Raw) -> Any:
    t, bits = raw
    val = ffi.wasmtime_val_t()
    val.kind = _KIND[t]  # type: ignore[assignment]
    if t in ("i32", "f32"):
        val.of.i32 = _signed(bits, 32)
    else:
        val.of.i64 = _signed(bits, 64)
    return val


def _from_val(val: Any) -> Raw:
    t = _NAME[int(val.kind)]
    bits = val.of.i32 if t in ("i32", "f32") else val.of.i64
    return t, bits & _MASK[t]


# -- host functions with raw values ------------------------------------------------------------

_HOSTS: Slab[tuple[HostFn, list[str]]] = Slab()


def define_exact(linker: wasmtime.Linker, module: str, name: str, *, params: list[str],
                 results: list[str], fn: HostFn) -> None:
    """Define `module.name` in `linker`: `fn(caller, args)` gets and returns raw values.

    wasmtime-py's define_func hands callbacks Python floats; this registers our own C callback
    instead, reading and writing the value union's integer fields.
    """
    ty = wasmtime.FuncType([valtype(t) for t in params], [valtype(t) for t in results])
    mod, nm = module.encode(), name.encode()
    idx = _HOSTS.allocate((fn, results))
    error = ffi.wasmtime_linker_define_func(
        linker.ptr(), ctypes.create_string_buffer(mod), len(mod), ctypes.create_string_buffer(nm),
        len(nm), ty.ptr(), _trampoline, idx, _finalize)
    if error:
        raise wasmtime.WasmtimeError._from_ptr(error)


@ffi.wasmtime_func_callback_t  # type: ignore[untyped-decorator]
def _trampoline(idx: Any, caller_ptr: Any, params: Any, nparams: int, results: Any,  # noqa: PLR0917
                nresults: int) -> int:
    caller = wasmtime.Caller(caller_ptr)
    try:
        fn, types = _HOSTS.get(idx or 0)
        out = fn(caller, [_from_val(params[i]) for i in range(nparams)])
        got = [t for t, _ in out]
        if got != types or len(out) != nresults:
            raise TypeError(f"host function returned ({', '.join(got)}), "
                            f"declared ({', '.join(types)})")
        for i, raw in enumerate(out):
            results[i] = _to_val(raw)
        return 0
    except BaseException as e:
        # wasmtime-py's own convention: the caller's enter_wasm re-raises this exception
        _func.LAST_EXCEPTION = e  # type: ignore[assignment]
        trap = wasmtime.Trap("python exception")._consume()
        return ctypes.cast(trap, ctypes.c_void_p).value or 0
    finally:
        caller._invalidate()


@ctypes.CFUNCTYPE(None, ctypes.c_void_p)  # type: ignore[untyped-decorator]
def _finalize(idx: Any) -> None:
    _HOSTS.deallocate(idx or 0)
