"""Exact values across the seam between the protocol and wasmtime-py.

Values travel as ``(type, unsigned bits)``, like the protocol, so f32/f64 NaN payloads and -0.0
survive both ways; `call_exact` calls an export without wasmtime-py's float conversions.
"""

from __future__ import annotations

import ctypes
import struct
from typing import Any

import wasmtime
from wasmtime import _ffi as ffi  # raw value calls: the only way to pass f32 bits unquieted
from wasmtime._func import enter_wasm

_MASK = {"i32": (1 << 32) - 1, "i64": (1 << 64) - 1, "f32": (1 << 32) - 1, "f64": (1 << 64) - 1}
_KIND = {"i32": ffi.WASMTIME_I32.value, "i64": ffi.WASMTIME_I64.value,
         "f32": ffi.WASMTIME_F32.value, "f64": ffi.WASMTIME_F64.value}
_NAME = {v: k for k, v in _KIND.items()}

Raw = tuple[str, int]  # (type, unsigned bits): exact, like the protocol


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
