"""Generated export signatures: parameter and result types, the values the host passes, and what
the host function of the same signature returns; all drawn from one seeded stream per (seed, n).

A signature is a pure function of (seed, n) (`generate`), so ``--generated 7/42`` rebuilds exactly
the 43rd signature of seed 7. Values are drawn from the edges of each type (0, min, max, -1, 2^31,
-0.0, ±Inf, quiet and signalling NaNs with payloads, bool as 0/1/2/256/257) and sometimes at
random. A value is the raw Wasm bits the host passes (an int), the bytes of a string, or the bytes
behind a pointer (None for nil).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field, replace
from typing import Literal

from harness.generate import gotypes as gt
from harness.generate.gotypes import GoType

Val = int | bytes | None
M32, M64 = (1 << 32) - 1, (1 << 64) - 1
MAX_PARAMS = 24
KEY = re.compile(r"^(\d+)/(\d+)(?:~(\d+(?:\.\d+)*))?$")

I32_EDGES = (0, 1, M32, 0x80000000, 0x7FFFFFFF, 0x40000000, 0xC0000000, 0xFFFFFFFE, 0x55555555)
I64_EDGES = (0, 1, M64, 1 << 63, (1 << 63) - 1, 1 << 31, 1 << 32, M32, M64 - M32,
             (1 << 64) - (1 << 31), 0x5555555555555555)
F32_EDGES = (0, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00000, 0x7FC00001,
             0x7FA00001, 0x7F800001, 0xFF800001, 0x3F800000, 0x7F7FFFFF, 0x00000001, 0x00800000)
F64_EDGES = (0, 1 << 63, 0x7FF0000000000000, 0xFFF0000000000000, 0x7FF8000000000000,
             0x7FF8000000000001, 0x7FF0000000000001, 0x7FF4000000000000, 0xFFF0000000000001,
             0x3FF0000000000000, 0x7FEFFFFFFFFFFFFF, 0x0000000000000001, 0x0010000000000000)
BOOL_EDGES = (0, 1, 2, 255, 256, 257, M32, 0xFFFFFF00, 0x80000000, 0xFE)
UINTPTR_EDGES = (0, 1, M32, 0x80000000, 0x7FFFFFFF, 0x10000, 8)
# What a host may return for a bool: the import wrapper keeps the low byte (i64.store8), and only
# a byte of 0 or 1 is a Go bool, so the host's word may carry anything above it.
BOOL_RETURNS = (0, 1, 256, 257, 0xFFFFFF00, 0xFFFFFF01)
STRINGS = (b"", b"a", "h\u00e9llo, w\u00f6rld".encode(), "\u4e16\u754c".encode(), b"\x00",
           b"\xff\xfe\x80", bytes(range(32)))


@dataclass(frozen=True)
class HostReturn:
    """What the host function returns: nothing, a constant (bits), the host's own parameter
    `index` (a Go parameter; a string's length), or the result of re-entering ``<name>_sum``."""

    kind: Literal["none", "const", "param", "call"]
    value: int = 0


@dataclass(frozen=True)
class Sig:
    seed: int
    n: int
    params: tuple[GoType, ...]
    result: GoType | None
    calls: tuple[tuple[Val, ...], ...]  # per host call of the export: one value per parameter
    ret: HostReturn
    reenter: bool  # the host function calls back into <name>_sum
    path: tuple[int, ...] = field(default=())  # shrink steps from the generated signature

    @property
    def key(self) -> str:
        """``seed/n``, or ``seed/n~i.j.k`` for a shrunk signature: what ``--generated`` takes."""
        return f"{self.seed}/{self.n}" + (f"~{'.'.join(map(str, self.path))}" if self.path else "")

    @property
    def name(self) -> str:
        return f"g{self.n:05d}"

    @property
    def width(self) -> int:
        return gt.arg_width(self.params, self.result)

    @property
    def wasm_params(self) -> int:
        return len(gt.wasm_params(self.params))

    @property
    def outcome(self) -> Literal["ok", "error", "crash"]:
        """The build the documents predict is ``error`` past 128 bytes; ``crash`` marks a
        signature gc is known to crash on (more than 16 Wasm parameters), documented ``ok``."""
        if self.width > gt.ARG_LIMIT:
            return "error"
        return "crash" if self.wasm_params > gt.WASM_PARAM_LIMIT else "ok"

    def go(self) -> str:
        """The export's Go declaration."""
        params = ", ".join(f"a{i} {t.go}" for i, t in enumerate(self.params))
        return f"func {self.name}({params})" + (f" {self.result.go}" if self.result else "")

    def with_(self, **kw: object) -> Sig:
        return replace(self, **kw)  # type: ignore[arg-type]


def parse_key(key: str) -> tuple[int, int, tuple[int, ...]]:
    m = KEY.match(key)
    if not m:
        raise ValueError(f"{key!r} is not SEED/N or SEED/N~I.J (a shrunk signature)")
    path = tuple(int(x) for x in m[3].split(".")) if m[3] else ()
    return int(m[1]), int(m[2]), path


# -- drawing ---------------------------------------------------------------------------------


def _param_type(rng: random.Random) -> GoType:
    pick = rng.choices(("scalar", "named", "string", "unsafe", "pointer"), (45, 9, 9, 4, 14))[0]
    if pick == "scalar":
        return rng.choice(gt.SCALARS)
    if pick == "named":
        return rng.choice(gt.NAMED_TYPES)
    if pick == "string":
        return gt.STRING
    return gt.UNSAFE if pick == "unsafe" else rng.choice(gt.POINTERS)


def _result_type(rng: random.Random) -> GoType | None:
    pick = rng.choices(("none", "scalar", "named", "unsafe", "pointer"), (18, 52, 12, 5, 13))[0]
    if pick == "none":
        return None
    if pick == "scalar":
        return rng.choice(gt.SCALARS)
    if pick == "named":
        return rng.choice([t for t in gt.NAMED_TYPES if t.kind != "string"])
    return gt.UNSAFE if pick == "unsafe" else rng.choice(gt.POINTERS)


def _small_type(rng: random.Random) -> GoType:
    """A type of 4 bytes or less that is one Wasm parameter: to pass 16 parameters in 128 bytes."""
    return rng.choice([t for t in (*gt.SCALARS, *gt.NAMED_TYPES) if t.size <= 4])


def _params(rng: random.Random, result: GoType | None) -> list[GoType]:
    shape = rng.choices(("few", "many", "count", "bytes"), (50, 22, 16, 12))[0]
    if shape == "few":
        return [_param_type(rng) for _ in range(rng.randint(0, 5))]
    if shape == "many":
        return [_param_type(rng) for _ in range(rng.randint(6, 16))]
    out: list[GoType] = []
    if shape == "count":  # around the 16 Wasm parameters, mostly within 128 bytes
        target = rng.choice((15, 16, 16, 17, 17, 18, 20))
        while len(gt.wasm_params(tuple(out))) < target and len(out) < MAX_PARAMS:
            t = _small_type(rng) if rng.random() < 0.75 else _param_type(rng)
            if len(gt.wasm_params((*out, t))) <= target:
                out.append(t)
        return out
    target = rng.choice((120, 128, 128, 132, 136, 144))  # around the 128 bytes
    while gt.arg_width(tuple(out), result) < target and len(out) < MAX_PARAMS:
        out.append(_param_type(rng) if rng.random() < 0.6 else _small_type(rng))
    return out


def _int(rng: random.Random, edges: tuple[int, ...], mask: int) -> int:
    return rng.choice(edges) if rng.random() < 0.8 else rng.getrandbits(mask.bit_length())


def _leaf(rng: random.Random, kind: str, width: int) -> int:
    if kind == "float32":
        return _int(rng, F32_EDGES, M32)
    if kind == "float64":
        return _int(rng, F64_EDGES, M64)
    if kind == "bool":
        return rng.choice((0, 1, 1, 0, 2, 255))
    mask = (1 << (8 * width)) - 1
    return _int(rng, (0, 1, mask, 1 << (8 * width - 1), (1 << (8 * width - 1)) - 1), mask)


def content(rng: random.Random, t: GoType) -> bytes:
    """The bytes a host writes behind a pointer of type `t`: edge values in each scalar, random
    padding."""
    size = t.content_size
    buf = bytearray(rng.getrandbits(8) for _ in range(size))
    if t.kind == "unsafe.Pointer":
        buf[:] = _int(rng, I32_EDGES, M32).to_bytes(4, "little")
    elif t.pointee is not None:
        for lf in t.pointee.leaves:
            buf[lf.offset:lf.offset + lf.width] = _leaf(rng, lf.kind, lf.width).to_bytes(
                lf.width, "little")
    return bytes(buf)


def value(rng: random.Random, t: GoType, nil: bool) -> Val:
    if t.is_pointer:
        return None if nil else content(rng, t)
    if t.kind == "string":
        if rng.random() < 0.7:
            return rng.choice(STRINGS)
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 48)))
    return _int(rng, *_EDGES[t.kind])


_EDGES: dict[str, tuple[tuple[int, ...], int]] = {
    "int32": (I32_EDGES, M32), "uint32": (I32_EDGES, M32), "int64": (I64_EDGES, M64),
    "uint64": (I64_EDGES, M64), "float32": (F32_EDGES, M32), "float64": (F64_EDGES, M64),
    "bool": (BOOL_EDGES, M32), "uintptr": (UINTPTR_EDGES, M32),
}


def host_return(rng: random.Random, params: tuple[GoType, ...], result: GoType | None,
                nil: tuple[bool, ...], reenter: bool) -> HostReturn:
    """What the host function returns, of the result's Wasm type."""
    if result is None:
        return HostReturn("none")
    want = result.wasm[0]
    if result.is_pointer:
        ptrs = [i for i, t in enumerate(params) if t.is_pointer and not nil[i]]
        return HostReturn("param", rng.choice(ptrs)) if ptrs else HostReturn("const", 0)
    if result.kind == "bool":
        return HostReturn("const", rng.choice(BOOL_RETURNS))
    if reenter and want == "i64" and rng.random() < 0.5:
        return HostReturn("call")
    known = [i for i, t in enumerate(params)
             if not t.is_pointer and (t.wasm[-1] == want if t.kind == "string" else t.wasm == (want,))]
    if known and rng.random() < 0.45:
        return HostReturn("param", rng.choice(known))
    edges, mask = _EDGES[{"i32": "int32", "i64": "int64", "f32": "float32", "f64": "float64"}[want]]
    return HostReturn("const", _int(rng, edges, mask))


def generate(seed: int, n: int) -> Sig:
    """The n-th signature of `seed` (deterministic: a string-seeded stream of its own)."""
    rng = random.Random(f"wasmexport-generated/{seed}/{n}")
    result = _result_type(rng)
    params = tuple(_params(rng, result))
    nil = tuple(t.is_pointer and rng.random() < 0.15 for t in params)
    calls = tuple(tuple(value(rng, t, nil[i]) for i, t in enumerate(params))
                  for _ in range(2 if len(params) <= 12 else 1))
    reenter = rng.random() < 0.3
    return Sig(seed, n, params, result, calls, host_return(rng, params, result, nil, reenter),
               reenter)
