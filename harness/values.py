"""Typed WebAssembly values, exact to the bit.

Every value that crosses the boundary (arguments, results, host-call traces) is a `Value`: a Wasm
type and the raw bit pattern. Integers are compared as bit patterns, so `uint32(0xFFFFFFFF)` and
`int32(-1)` are the same i32; floats are compared as bit patterns, so -0.0 differs from 0.0 and
NaN payloads are visible. A `ValuePattern` is what a manifest expects: an exact value, or any NaN
where the Wasm spec lets the payload vary.

Three spellings exist and this module converts between them:
- manifest: ``{i32: -1}``, ``{i64: "0xffffffffffffffff"}``, ``{f64: -0.0}``, ``{f32: "nan"}``,
  ``{f32: "0x7fa00001"}`` (hex is always the raw bit pattern), ``{f64: "nan:any"}`` (patterns only);
- protocol: ``{"t": "i32", "v": "-1"}`` (integers as signed decimal strings, floats as
  ``"0x…"`` bit patterns) — exact in every language;
- display: ``i32:-1`` or ``f64:-0 (0x8000000000000000)``.
"""

from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass
from typing import Any, Literal

ValType = Literal["i32", "i64", "f32", "f64"]
VAL_TYPES: tuple[ValType, ...] = ("i32", "i64", "f32", "f64")
_WIDTH = {"i32": 32, "i64": 64, "f32": 32, "f64": 64}
_CANONICAL_NAN = {"f32": 0x7FC00000, "f64": 0x7FF8000000000000}


class ValueError_(ValueError):
    """A value spelled in a way this module does not accept."""


@dataclass(frozen=True, order=True)
class Value:
    """A Wasm value: its type and its raw bits (unsigned, masked to the type's width)."""

    t: ValType
    bits: int

    def __post_init__(self) -> None:
        if self.t not in _WIDTH:
            raise ValueError_(f"unknown value type {self.t!r}")
        if not 0 <= self.bits < (1 << _WIDTH[self.t]):
            raise ValueError_(f"{self.t} bits out of range: {self.bits:#x}")

    @property
    def signed(self) -> int:
        """The integer value read as two's complement (integers only)."""
        width = _WIDTH[self.t]
        return self.bits - (1 << width) if self.bits >> (width - 1) else self.bits

    @property
    def is_nan(self) -> bool:
        if self.t == "f32":
            return (self.bits & 0x7F800000) == 0x7F800000 and (self.bits & 0x7FFFFF) != 0
        if self.t == "f64":
            exp = 0x7FF0000000000000
            return (self.bits & exp) == exp and (self.bits & 0xFFFFFFFFFFFFF) != 0
        return False

    def as_float(self) -> float:
        if self.t == "f32":
            return float(struct.unpack("<f", struct.pack("<I", self.bits))[0])
        if self.t == "f64":
            return float(struct.unpack("<d", struct.pack("<Q", self.bits))[0])
        raise ValueError_(f"{self.t} is not a float type")

    def to_protocol(self) -> dict[str, str]:
        """The runner-protocol spelling: integers signed decimal, floats as hex bits."""
        if self.t in ("i32", "i64"):
            return {"t": self.t, "v": str(self.signed)}
        digits = _WIDTH[self.t] // 4
        return {"t": self.t, "v": f"0x{self.bits:0{digits}x}"}

    def __str__(self) -> str:
        if self.t in ("i32", "i64"):
            return f"{self.t}:{self.signed}"
        digits = _WIDTH[self.t] // 4
        return f"{self.t}:{_float_text(self)} (0x{self.bits:0{digits}x})"


def _float_text(v: Value) -> str:
    if v.is_nan:
        return "nan"
    f = v.as_float()
    if math.isinf(f):
        return "inf" if f > 0 else "-inf"
    if f == 0.0:
        return "-0" if math.copysign(1.0, f) < 0 else "0"
    return repr(f)


def from_protocol(doc: Any) -> Value:
    """Decode ``{"t": "i32", "v": "-1"}``; raises ValueError_ on anything else."""
    if not isinstance(doc, dict) or set(doc) != {"t", "v"}:
        raise ValueError_(f"a value must be {{'t': type, 'v': string}}, got {doc!r}")
    t, v = doc["t"], doc["v"]
    if t not in _WIDTH or not isinstance(v, str):
        raise ValueError_(f"bad value {doc!r}")
    width = _WIDTH[t]
    if t in ("i32", "i64"):
        try:
            n = int(v, 10)
        except ValueError as e:
            raise ValueError_(f"{t} value {v!r} is not a decimal integer") from e
        if not -(1 << (width - 1)) <= n < (1 << (width - 1)):
            raise ValueError_(f"{t} value {v} out of signed range")
        return Value(t, n & ((1 << width) - 1))
    if not v.startswith("0x"):
        raise ValueError_(f"{t} value {v!r} must be a 0x bit pattern")
    return Value(t, int(v, 16))


def from_manifest(doc: Any) -> Value:
    """Decode a manifest value such as ``{i32: -1}`` or ``{f64: "-0.0"}``."""
    t, raw = _single_entry(doc)
    width = _WIDTH[t]
    if isinstance(raw, str) and raw.lower().startswith("0x"):
        bits = int(raw, 16)
        if bits >> width:
            raise ValueError_(f"{t} bit pattern {raw} is wider than {width} bits")
        return Value(t, bits)
    if t in ("i32", "i64"):
        if isinstance(raw, str) and re.fullmatch(r"-?[0-9]+", raw.strip()):
            raw = int(raw)
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise ValueError_(f"{t} value {raw!r} must be an integer or a 0x bit pattern")
        if not -(1 << (width - 1)) <= raw < (1 << width):
            raise ValueError_(f"{t} value {raw} does not fit in {width} bits")
        return Value(t, raw & ((1 << width) - 1))
    return Value(t, _float_bits(t, raw))


def _single_entry(doc: Any) -> tuple[ValType, Any]:
    if not isinstance(doc, dict) or len(doc) != 1:
        raise ValueError_(f"a value is a one-entry mapping such as {{i32: 5}}, got {doc!r}")
    ((t, raw),) = doc.items()
    if t not in _WIDTH:
        raise ValueError_(f"unknown value type {t!r}; use one of {', '.join(VAL_TYPES)}")
    return t, raw


def _float_bits(t: ValType, raw: Any) -> int:
    if isinstance(raw, bool):
        raise ValueError_(f"{t} value {raw!r} is a boolean, not a number")
    if isinstance(raw, str):
        text = raw.strip().lower()
        if text == "nan":
            return _CANONICAL_NAN[t]
        if text == "-nan":
            return _CANONICAL_NAN[t] | (1 << (_WIDTH[t] - 1))
        try:
            raw = float(text)
        except ValueError as e:
            raise ValueError_(f"{t} value {raw!r} is not a number, inf, nan or 0x bits") from e
    if not isinstance(raw, int | float):
        raise ValueError_(f"{t} value {raw!r} is not a number")
    f = float(raw)
    if t == "f64":
        return int(struct.unpack("<Q", struct.pack("<d", f))[0])
    try:
        packed = struct.pack("<f", f)
    except OverflowError as e:
        raise ValueError_(f"f32 value {raw!r} is out of f32 range") from e
    if struct.unpack("<f", packed)[0] != f and not math.isnan(f):
        raise ValueError_(f"f32 value {raw!r} is not exactly representable; give 0x bits")
    return int(struct.unpack("<I", packed)[0])


@dataclass(frozen=True)
class ValuePattern:
    """An expected value: exact bits, any NaN of a float type (``nan:any``), or any value of the
    type (``*``: a pointer the guest chose, still bound by ``as``)."""

    t: ValType
    bits: int | None  # None: any NaN (or anything, with `anything`)
    anything: bool = False

    def matches(self, v: Value) -> bool:
        if v.t != self.t:
            return False
        if self.anything:
            return True
        if self.bits is None:
            return v.is_nan
        return v.bits == self.bits

    def __str__(self) -> str:
        if self.anything:
            return f"{self.t}:*"
        return f"{self.t}:nan:any" if self.bits is None else str(Value(self.t, self.bits))


def pattern_from_manifest(doc: Any) -> ValuePattern:
    """Decode an expected value; accepts everything `from_manifest` does plus ``nan:any`` and
    ``*``."""
    t, raw = _single_entry(doc)
    if isinstance(raw, str) and raw.strip() == "*":
        return ValuePattern(t, None, anything=True)
    if isinstance(raw, str) and raw.strip().lower() == "nan:any":
        if t not in ("f32", "f64"):
            raise ValueError_(f"nan:any is only for f32/f64, not {t}")
        return ValuePattern(t, None)
    v = from_manifest(doc)
    return ValuePattern(v.t, v.bits)


def match_all(patterns: tuple[ValuePattern, ...], values: tuple[Value, ...]) -> bool:
    """True when the values match the patterns one for one."""
    return len(patterns) == len(values) and all(
        p.matches(v) for p, v in zip(patterns, values, strict=True)
    )
