"""The Go program of a batch of generated signatures (one module), or of one signature alone.

Per signature ``gNNNNN`` the program has:
- ``//go:wasmimport gen hNNNNN``, a host function of the same signature;
- ``//go:wasmexport gNNNNN``: records one uint64 observation per parameter (the value's bits; a
  bool's raw byte; a string's length and FNV-1a; what a pointer points at, field by field),
  their checksum, then passes every parameter to hNNNNN and returns the host's result (integers
  xor-ed with the rotated checksum, bools xor-ed with its low bit, floats and pointers as they
  came back);
- ``gNNNNN_K()`` for each parameter K: the parameter itself (numbers, in their own type), its raw
  byte (bool, as uint32) or its observation (string, pointer, as uint64); ``gNNNNN_sum()``.
The shared part declares the named types, the HostLayout structs, ``alloc`` (a pinned buffer for
the host to write a string or a pointee into) and the helpers. Indentation is spaces, so the
source sits in a YAML block as it is.
"""

from __future__ import annotations

from harness.generate import gotypes as gt
from harness.generate.gotypes import GoType, Leaf, Pointee
from harness.generate.signature import Sig

DIAGNOSTIC = "wasmexport function argument too large"
_LEAF_READ = {
    "int8": "uint64(uint8({x}))", "uint8": "uint64({x})", "int16": "uint64(uint16({x}))",
    "uint16": "uint64({x})", "int32": "uint64(uint32({x}))", "uint32": "uint64({x})",
    "int64": "uint64({x})", "uint64": "uint64({x})", "float32": "uint64(math.Float32bits({x}))",
    "float64": "math.Float64bits({x})", "bool": "rawBool(&{x})",
}


def _prologue() -> list[str]:
    out = ["package main", "", "import (", '    "math"', '    "structs"', '    "unsafe"', ")", "",
           "const fnvBasis uint64 = 14695981039346656037", "const fnvPrime uint64 = 1099511628211",
           "const nilObs = ^uint64(0)", ""]
    out += [f"type {name} {under}" for name, under in gt.NAMED.items()]
    for name, fields in gt.STRUCTS.items():
        out += ["", f"type {name} struct {{", "    _ structs.HostLayout"]
        out += [f"    {f} {t}" for f, t in fields] + ["}"]
    out += [""] + [f"type {a} = {t}" for a, t in gt.ALIASES.items()]
    out += ["", "var pinned [][]byte", "", "//go:wasmexport alloc", "func alloc(n int32) int32 {",
            "    b := make([]byte, (n+7)&^7)", "    pinned = append(pinned, b)",
            "    return int32(uintptr(unsafe.Pointer(unsafe.SliceData(b))))", "}", "",
            "func step(h, x uint64) uint64 { return (h ^ x) * fnvPrime }", "",
            "func check(o []uint64) uint64 {", "    h := fnvBasis",
            "    for _, x := range o {", "        h = step(h, x)", "    }", "    return h", "}", "",
            "func mix(c uint64) uint64 { return c>>3 | c<<61 }", "",
            "func rawBool(b *bool) uint64 { return uint64(*(*uint8)(unsafe.Pointer(b))) }", "",
            "func obsString(s string) uint64 {", "    h := uint32(2166136261)",
            "    for i := 0; i < len(s); i++ {", "        h = (h ^ uint32(s[i])) * 16777619", "    }",
            "    return uint64(len(s))<<32 | uint64(h)", "}", "",
            "func obsUnsafe(p unsafe.Pointer) uint64 {", "    if p == nil {", "        return nilObs",
            "    }", "    return uint64(*(*uint32)(p))", "}"]
    for p in gt.POINTEES:
        out += ["", *_fold(p)]
    return out


def _fold(p: Pointee) -> list[str]:
    lines = [f"func fold_{p.id}(p *{p.go}) uint64 {{", "    if p == nil {", "        return nilObs",
             "    }", "    h := fnvBasis"]
    lines += [f"    h = step(h, {_read(lf)})" for lf in p.leaves]
    return [*lines, "    return h", "}"]


def _read(lf: Leaf) -> str:
    target = f"(*p){lf.path}" if lf.path else "*p"
    if lf.kind == "bool":
        return f"rawBool(&{target})" if lf.path else "rawBool(p)"
    return _LEAF_READ[lf.kind].format(x=target)


def _observe(t: GoType, x: str) -> str:
    """The Go expression of a parameter's observation."""
    k = t.kind
    if k in ("int32", "uint32", "int64", "uint64"):
        return _LEAF_READ[k].format(x=x)
    if k in ("float32", "float64"):
        return _LEAF_READ[k].format(x=f"{k}({x})")
    if k == "bool":
        return f"rawBool((*bool)(&{x}))"
    if k == "uintptr":
        return f"uint64({x})"
    if k == "string":
        return f"obsString(string({x}))"
    if k == "unsafe.Pointer":
        return f"obsUnsafe(unsafe.Pointer({x}))"
    assert t.pointee is not None
    arg = f"(*{t.pointee.go})({x})" if t.named else x
    return f"fold_{t.pointee.id}({arg})"


def _returned(sig: Sig) -> str:
    t = sig.result
    assert t is not None
    k, c = t.kind, f"c{sig.name[1:]}"
    if t.is_pointer or k in ("float32", "float64"):
        return "r"
    if k == "bool":
        return f"r != (mix({c})&1 == 1)"
    if k == "uintptr":
        return f"{t.go}(uint32(mix({c}))) ^ r"
    return f"{t.go}(mix({c})) ^ r"


def _params(sig: Sig) -> str:
    return ", ".join(f"a{i} {t.go}" for i, t in enumerate(sig.params))


def signature_source(sig: Sig) -> list[str]:
    """The declarations, import and exports of one signature."""
    n, params = sig.name[1:], sig.params
    res = f" {sig.result.go}" if sig.result else ""
    out = ["", f"var o{n} [{max(1, len(params))}]uint64", f"var c{n} uint64"]
    scalars = [k for k, t in enumerate(params) if t.kind in gt.SCALAR_KINDS and t.kind != "bool"]
    out += [f"var v{n}_{k} {params[k].go}" for k in scalars]
    out += ["", f"//go:wasmimport gen h{n}", f"func h{n}({_params(sig)}){res}", "",
            f"//go:wasmexport {sig.name}", f"func {sig.name}({_params(sig)}){res} {{"]
    out += [f"    v{n}_{k} = a{k}" for k in scalars]
    out += [f"    o{n}[{k}] = {_observe(t, f'a{k}')}" for k, t in enumerate(params)]
    out.append(f"    c{n} = check(o{n}[:{len(params)}])")
    call = f"h{n}({', '.join(f'a{k}' for k in range(len(params)))})"
    out += [f"    r := {call}", f"    return {_returned(sig)}"] if sig.result else [f"    {call}"]
    out.append("}")
    for k, t in enumerate(params):
        if k in scalars:
            body, rtype = f"v{n}_{k}", t.go
        else:
            body, rtype = (f"uint32(o{n}[{k}])", "uint32") if t.kind == "bool" else (
                f"o{n}[{k}]", "uint64")
        out += ["", f"//go:wasmexport {sig.name}_{k}",
                f"func {sig.name}_{k}() {rtype} {{ return {body} }}"]
    out += ["", f"//go:wasmexport {sig.name}_sum", f"func {sig.name}_sum() uint64 {{ return c{n} }}"]
    return out


def program(sigs: list[Sig]) -> str:
    """One module holding every signature of `sigs`, in order."""
    lines = _prologue()
    for sig in sigs:
        lines += signature_source(sig)
    return "\n".join([*lines, "", "func main() {}", ""])


def rejected_program(sig: Sig) -> tuple[str, int]:
    """The program of a signature the compiler must reject, and the line of its ``func``: the
    export alone, with a body returning the zero value."""
    lines = _prologue()
    res = f" {sig.result.go}" if sig.result else ""
    body = [f"    var r{res}", "    return r"] if sig.result else []
    lines += ["", f"//go:wasmexport {sig.name}", f"func {sig.name}({_params(sig)}){res} {{"]
    line = len(lines)
    lines += [*body, "}", "", "func main() {}", ""]
    return "\n".join(lines), line


def export_section(sigs: list[Sig]) -> dict[str, str]:
    """The module's export section, in order, as manifest export types."""
    out = {"_initialize": "() -> ()", "alloc": "(i32) -> i32"}
    for sig in sigs:
        res = sig.result.wasm[0] if sig.result else "()"
        out[sig.name] = f"({', '.join(gt.wasm_params(sig.params))}) -> {res}"
        for k, t in enumerate(sig.params):
            kind = "i32" if t.kind == "bool" else t.wasm[0] if (
                t.kind in gt.SCALAR_KINDS) else "i64"
            out[f"{sig.name}_{k}"] = f"() -> {kind}"
        out[f"{sig.name}_sum"] = "() -> i64"
    out["memory"] = "memory"
    return out
