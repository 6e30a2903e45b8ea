"""The Go types a generated signature draws from, with their Wasm and Go-ABI facts on GOARCH=wasm.

Every type here is one `//go:wasmexport` accepts (cmd/compile `paramsToWasmFields`,
`wasmElemTypeAllowed`; golang/go test/wasmexport2.go): sized 32/64-bit integers, floats, bool,
uintptr, unsafe.Pointer, string (parameters only), named types of those, and pointers to
allowed pointees (sized integers of any width, floats, bool, arrays of them, structs that embed
`structs.HostLayout`, the empty struct, an alias of such a struct).

Sizes and alignments are Go's on GOARCH=wasm, a 64-bit architecture: pointers, uintptr and
unsafe.Pointer take 8 bytes of the argument area even though the Wasm ABI passes them as i32,
and a string takes 16 (pointer and length). `types.CalcSize` lays parameters out in order, each
at its own alignment, rounds to 8, then lays out the result and rounds to 8 again: that is
`ArgWidth`, the number the 128-byte rule (`rtabi.StackSmall`) is checked against.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from harness.values import ValType

ARG_LIMIT = 128  # rtabi.StackSmall: GenWasmExportWrapper rejects ArgWidth() above it
WASM_PARAM_LIMIT = 16  # cmd/internal/obj/wasm: R0-R15, the export wrapper's argument registers


@dataclass(frozen=True)
class Leaf:
    """One scalar inside a pointee: where it lives, how wide it is, how Go reads it."""

    offset: int
    width: int
    kind: str  # a scalar pointee kind: int8 ... uint64, float32, float64, bool
    path: str  # Go selector after the pointer: ".A", "[2]", "[1].Q", "" for a scalar pointee


@dataclass(frozen=True)
class Pointee:
    """A type a pointer parameter may point at, laid out as Go (and the host) lay it out."""

    id: str  # a Go identifier fragment: int32, arr4int32, H1
    go: str  # its Go spelling: int32, [4]int32, H1, struct{}
    size: int
    align: int
    leaves: tuple[Leaf, ...]


_SCALAR_WIDTH = {"int8": 1, "uint8": 1, "int16": 2, "uint16": 2, "int32": 4, "uint32": 4,
                 "int64": 8, "uint64": 8, "float32": 4, "float64": 8, "bool": 1}

# HostLayout structs, declared once in every generated program (field name, field type).
STRUCTS: dict[str, tuple[tuple[str, str], ...]] = {
    "H1": (("A", "uint8"), ("B", "int32"), ("C", "int16"), ("D", "float64")),
    "H2": (("A", "[3]uint8"), ("B", "uint64"), ("C", "bool"), ("D", "float32")),
    "H4": (("P", "uint8"), ("Q", "uint32")),
    "H3": (("X", "int16"), ("Y", "H4")),
}
ALIASES = {"HA": "H1"}  # `type HA = H1`: an alias of a HostLayout struct counts as one


def _layout(go: str) -> tuple[int, int, tuple[Leaf, ...]]:
    """Size, alignment and leaves of a pointee type spelled in Go."""
    if go in _SCALAR_WIDTH:
        w = _SCALAR_WIDTH[go]
        return w, w, (Leaf(0, w, go, ""),)
    if go.startswith("["):
        count, elem = go[1:].split("]", 1)
        size, align, leaves = _layout(elem)
        out = [Leaf(i * size + lf.offset, lf.width, lf.kind, f"[{i}]{lf.path}")
               for i in range(int(count)) for lf in leaves]
        return int(count) * size, align, tuple(out)
    if go == "struct{}":
        return 0, 1, ()
    fields = STRUCTS[ALIASES.get(go, go)]
    offset, align, out = 0, 1, []
    for name, ftype in fields:
        size, falign, leaves = _layout(ftype)
        offset = -(-offset // falign) * falign
        out += [Leaf(offset + lf.offset, lf.width, lf.kind, f".{name}{lf.path}") for lf in leaves]
        offset += size
        align = max(align, falign)
    return -(-offset // align) * align, align, tuple(out)


@cache
def pointee(go: str) -> Pointee:
    size, align, leaves = _layout(go)
    ident = {"struct{}": "empty"}.get(go, go.replace("[", "arr").replace("]", ""))
    return Pointee(ident, go, size, align, leaves)


POINTEES = tuple(pointee(g) for g in (
    *_SCALAR_WIDTH, "[4]int32", "[3]uint8", "[2]float64", "[2]bool", "H1", "H2", "H3", "[2]H4",
    "struct{}"))

# A GoType's kind is its underlying kind; `ptr` is a pointer to `pointee`.
SCALAR_KINDS = ("int32", "uint32", "int64", "uint64", "float32", "float64", "bool", "uintptr")
_WASM: dict[str, tuple[ValType, ...]] = {
    "int32": ("i32",), "uint32": ("i32",), "int64": ("i64",), "uint64": ("i64",),
    "float32": ("f32",), "float64": ("f64",), "bool": ("i32",), "uintptr": ("i32",),
    "unsafe.Pointer": ("i32",), "ptr": ("i32",), "string": ("i32", "i32"),
}
_SIZE = {"int32": 4, "uint32": 4, "float32": 4, "bool": 1, "int64": 8, "uint64": 8, "float64": 8,
         "uintptr": 8, "unsafe.Pointer": 8, "ptr": 8, "string": 16}
# Named types declared in every generated program: name -> underlying Go type.
NAMED = {"NInt32": "int32", "NUint32": "uint32", "NInt64": "int64", "NUint64": "uint64",
         "NFloat32": "float32", "NFloat64": "float64", "NBool": "bool", "NUintptr": "uintptr",
         "NUnsafe": "unsafe.Pointer", "NString": "string", "NPInt32": "*int32"}


@dataclass(frozen=True)
class GoType:
    """A parameter or result type: its Go spelling and what it is underneath."""

    go: str  # as written in the signature: int32, NInt32, *H1, *HA, NPInt32, string
    kind: str  # int32 ... uintptr, unsafe.Pointer, string, ptr
    pointee: Pointee | None = None

    @property
    def wasm(self) -> tuple[ValType, ...]:
        return _WASM[self.kind]

    @property
    def size(self) -> int:
        return _SIZE[self.kind]

    @property
    def align(self) -> int:
        return min(self.size, 8)

    @property
    def named(self) -> bool:
        return self.go in NAMED

    @property
    def is_pointer(self) -> bool:
        return self.kind in ("ptr", "unsafe.Pointer")

    @property
    def content_size(self) -> int:
        """Bytes the host writes behind a pointer of this type (unsafe.Pointer: a uint32)."""
        if self.kind == "unsafe.Pointer":
            return 4
        return self.pointee.size if self.pointee else 0


@cache
def go_type(go: str) -> GoType:
    """The GoType for a spelling: a scalar, a named type, unsafe.Pointer, string or ``*T``."""
    under = NAMED.get(go, go)
    if under.startswith("*"):
        target = under[1:]
        return GoType(go, "ptr", pointee(ALIASES.get(target, target)))
    if under in SCALAR_KINDS or under in ("unsafe.Pointer", "string"):
        return GoType(go, under)
    raise ValueError(f"not a generated parameter type: {go!r}")


def underlying(t: GoType) -> GoType:
    """The unnamed type under a named one (shrinking prefers it)."""
    return go_type(NAMED[t.go]) if t.named else t


SCALARS = tuple(go_type(k) for k in SCALAR_KINDS)
NAMED_TYPES = tuple(go_type(n) for n in NAMED)
POINTERS = (*(go_type(f"*{p.go}") for p in POINTEES), go_type("*HA"), go_type("NPInt32"))
UNSAFE = go_type("unsafe.Pointer")
STRING = go_type("string")


def arg_width(params: tuple[GoType, ...], result: GoType | None) -> int:
    """``ArgWidth()`` of the function type, as cmd/compile's types.CalcSize computes it."""
    off = 0
    for t in params:
        off = -(-off // t.align) * t.align + t.size
    off = -(-off // 8) * 8
    if result is not None:
        off = -(-off // result.align) * result.align + result.size
    return -(-off // 8) * 8


def wasm_params(params: tuple[GoType, ...]) -> tuple[ValType, ...]:
    return tuple(w for t in params for w in t.wasm)
