"""The expected observations of a generated signature, computed from the Go and Wasm rules alone.

Nothing here comes from an engine. The rules (cmd/compile `paramsToWasmFields`, cmd/internal/obj/
wasm `genWasmExportWrapper` / `genWasmImportWrapper`, the Wasm spec's loads, stores and calls):

- integers are bit patterns: an int32 and a uint32 are the same i32; Go's conversions to a
  narrower type keep the low bits and its arithmetic wraps (two's complement, modulo 2^64);
- a bool parameter is stored with i32.store8: Go holds the low byte of the host's i32, and passes
  that byte on to an import (i32.load8_u); a bool the host returns to an import is likewise its
  low byte (i64.store8);
- uintptr, unsafe.Pointer and pointers arrive zero-extended to Go's 8-byte slot and leave as its
  low 32 bits; a string is (pointer, length) as two i32;
- f32 and f64 cross by loads, stores and calls, which keep every bit, NaN payloads included (only
  arithmetic may change a NaN: the generated Go does none on floats).

Bool results stay 0 or 1: the Go code only returns bools it computed (a comparison) or the
host's, whose low byte is 0 or 1. A bool byte of 2..255 is not a Go value (the spec has only
true and false), so no Go rule gives the result of returning one; what gc does with it (the
byte, not normalised) is pinned, as a finding, by types/bool-result-normalized. A bool
parameter of 2 is observed as its raw byte (through unsafe), never returned as a bool.

The generated Go (harness/generate/gosource.py) computes one uint64 observation per parameter and
an FNV-1a checksum of them; the functions below are the same arithmetic in Python.
"""

from __future__ import annotations

from harness.generate.gotypes import GoType
from harness.generate.signature import M32, M64, Sig, Val

FNV64_BASIS, FNV64_PRIME = 0xCBF29CE484222325, 0x100000001B3
FNV32_BASIS, FNV32_PRIME = 0x811C9DC5, 0x01000193
NIL = M64  # the observation of a nil pointer
ANY = "*"  # a value the guest chose (a pointer): matched by {i32: "*"}

Bits = int | str  # raw bits, or ANY


def step(h: int, x: int) -> int:
    return ((h ^ x) * FNV64_PRIME) & M64


def checksum(obs: list[int]) -> int:
    h = FNV64_BASIS
    for x in obs:
        h = step(h, x)
    return h


def mix(c: int) -> int:
    """``c>>3 | c<<61``: the checksum rotated, so a result depends on every bit of it."""
    return ((c >> 3) | (c << 61)) & M64


def fnv32(data: bytes) -> int:
    h = FNV32_BASIS
    for b in data:
        h = ((h ^ b) * FNV32_PRIME) & M32
    return h


def observation(t: GoType, v: Val) -> int:
    """The uint64 the Go code records for a parameter of type `t` the host passed as `v`."""
    if t.kind == "string":
        assert isinstance(v, bytes)
        return (len(v) << 32) | fnv32(v)
    if t.kind == "unsafe.Pointer":
        return NIL if v is None else int.from_bytes(bytes(v)[:4], "little")
    if t.kind == "ptr":
        if v is None:
            return NIL
        assert isinstance(v, bytes) and t.pointee is not None
        h = FNV64_BASIS
        for lf in t.pointee.leaves:
            h = step(h, int.from_bytes(v[lf.offset:lf.offset + lf.width], "little"))
        return h
    assert isinstance(v, int)
    return v & 0xFF if t.kind == "bool" else v


def observations(sig: Sig, call: tuple[Val, ...]) -> list[int]:
    return [observation(t, v) for t, v in zip(sig.params, call, strict=True)]


def host_args(sig: Sig, call: tuple[Val, ...]) -> list[Bits]:
    """The Wasm arguments the host function receives when the export passes its parameters on."""
    out: list[Bits] = []
    for t, v in zip(sig.params, call, strict=True):
        if t.kind == "string":
            assert isinstance(v, bytes)
            out += [ANY if v else 0, len(v)]
        elif t.is_pointer:
            out.append(0 if v is None else ANY)
        else:
            assert isinstance(v, int)
            out.append(v & 0xFF if t.kind == "bool" else v)
    return out


def wasm_index(sig: Sig, k: int) -> int:
    """The host-side parameter index of Go parameter k (a string's length is the one after)."""
    w = sum(len(t.wasm) for t in sig.params[:k])
    return w + 1 if sig.params[k].kind == "string" else w


def host_value(sig: Sig, call: tuple[Val, ...]) -> Bits | None:
    """What the host function returns for this call (None: it returns nothing)."""
    r = sig.ret
    if r.kind == "none":
        return None
    if r.kind == "const":
        return r.value
    if r.kind == "call":
        return checksum(observations(sig, call))
    return host_args(sig, call)[wasm_index(sig, r.value)]


def export_result(sig: Sig, call: tuple[Val, ...]) -> Bits | None:
    """The export's own result: the host's value, mixed with the checksum for integers."""
    t = sig.result
    if t is None:
        return None
    r = host_value(sig, call)
    if t.is_pointer or t.kind in ("float32", "float64"):
        return r  # returned as Go got it
    assert isinstance(r, int)
    m = mix(checksum(observations(sig, call)))
    if t.kind == "bool":
        return (r & 0xFF) ^ (m & 1)
    if t.kind in ("int64", "uint64"):
        return (m ^ r) & M64
    return (m & M32) ^ r  # int32, uint32, uintptr (the host's i32, zero-extended)


def getter(t: GoType, v: Val) -> tuple[str, int]:
    """(Wasm type, bits) of ``<name>_<k>()``: the parameter itself for numbers, the low byte of a
    bool (as uint32), the observation (uint64) of a string or a pointer."""
    if t.kind == "bool":
        assert isinstance(v, int)
        return "i32", v & 0xFF
    if t.kind in ("string", "ptr", "unsafe.Pointer"):
        return "i64", observation(t, v)
    assert isinstance(v, int)
    return t.wasm[0], v


def is_f32_nan(bits: int) -> bool:
    return (bits & 0x7F800000) == 0x7F800000 and bits & 0x7FFFFF != 0


def needs_exact_f32(sig: Sig) -> bool:
    """Whether an f32 NaN crosses the boundary as a value (a host holding floats as doubles may
    quiet it: such engines leave out the exact_f32 capability and skip the case)."""
    f32 = [k for k, t in enumerate(sig.params) if t.wasm == ("f32",)]
    if any(isinstance(v, int) and is_f32_nan(v) for call in sig.calls for v in (call[k] for k in f32)):
        return True
    return (sig.result is not None and sig.result.wasm == ("f32",) and sig.ret.kind == "const"
            and is_f32_nan(sig.ret.value))
