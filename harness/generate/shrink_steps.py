"""The shrinking steps of a generated signature: a deterministic list of simpler neighbours.

`candidates(sig)` lists, most aggressive first: one call instead of several, no result, fewer
parameters (halves, quarters, ... single ones), simpler types (a named type's underlying type,
then int32), no re-entry, a constant host result, then values towards 0. A shrunk signature is
named by the indices chosen at each step (``seed/n~i.j.k``), so `apply_path` rebuilds it from the
generated one without running anything.
"""

from __future__ import annotations

from harness.generate import gotypes as gt
from harness.generate.gotypes import GoType
from harness.generate.signature import BOOL_RETURNS, HostReturn, Sig, Val

INT32 = gt.go_type("int32")


def _zero(t: GoType, v: Val) -> Val:
    if t.is_pointer:
        return None if v is None else bytes(t.content_size)
    return b"" if t.kind == "string" else 0


def _fixed(sig: Sig) -> Sig:
    """`sig` with a host result that still fits its result type and parameters."""
    r, res = sig.ret, sig.result
    if res is None:
        return sig.with_(ret=HostReturn("none"))
    ok = r.kind == "const"
    if r.kind == "call":
        ok = sig.reenter and res.wasm == ("i64",)
    elif r.kind == "param" and r.value < len(sig.params):
        t = sig.params[r.value]
        first = sig.calls[0][r.value] if sig.calls else None
        ok = (t.is_pointer and first is not None) if res.is_pointer else (
            res.kind != "bool" and not t.is_pointer
            and (t.wasm[-1] if t.kind == "string" else t.wasm[0]) == res.wasm[0])
    if r.kind == "const" and res.kind == "bool":
        ok = r.value in BOOL_RETURNS
    if r.kind == "const" and res.is_pointer:
        ok = r.value == 0
    if r.kind == "const" and r.value >> (32 if res.wasm[0] in ("i32", "f32") else 64):
        ok = False
    return sig if ok else sig.with_(ret=HostReturn("const", 0))


def _drop(sig: Sig, lo: int, hi: int) -> Sig:
    keep = [k for k in range(len(sig.params)) if not lo <= k < hi]
    ret = sig.ret
    if ret.kind == "param":
        ret = HostReturn("param", keep.index(ret.value)) if ret.value in keep else HostReturn("const")
    return sig.with_(params=tuple(sig.params[k] for k in keep), ret=ret,
                     calls=tuple(tuple(c[k] for k in keep) for c in sig.calls))


def _retype(sig: Sig, k: int, t: GoType) -> Sig:
    same = t.kind == sig.params[k].kind and t.pointee == sig.params[k].pointee
    calls = sig.calls if same else tuple((*c[:k], _zero(t, c[k]), *c[k + 1:]) for c in sig.calls)
    return sig.with_(params=(*sig.params[:k], t, *sig.params[k + 1:]), calls=calls)


def _set(sig: Sig, c: int, k: int, v: Val) -> Sig:
    call = sig.calls[c]
    return sig.with_(calls=(*sig.calls[:c], (*call[:k], v, *call[k + 1:]), *sig.calls[c + 1:]))


def _simpler_values(t: GoType, v: Val) -> list[Val]:
    if isinstance(v, int):
        return [x for x in dict.fromkeys((0, 1, v & 0xFF)) if x != v and x < v]
    if isinstance(v, bytes):
        out: list[Val] = [_zero(t, v)]
        if t.kind == "string" and len(v) > 1:
            out.append(v[:1])
        return [x for x in out if x != v]
    return []


def candidates(sig: Sig) -> list[Sig]:
    """Every one-step simplification of `sig`, in the order the shrinker tries them."""
    out: list[Sig] = []
    if len(sig.calls) > 1:
        out += [sig.with_(calls=(c,)) for c in sig.calls]
    if sig.result is not None:
        out.append(sig.with_(result=None))
    n = len(sig.params)
    size = n // 2
    while size >= 1:
        out += [_drop(sig, lo, lo + size) for lo in range(0, n, size)]
        size //= 2
    if sig.result is not None:
        for t in (gt.underlying(sig.result), INT32):
            if t != sig.result:
                out.append(sig.with_(result=t))
    for k, t in enumerate(sig.params):
        for simpler in dict.fromkeys((gt.underlying(t), INT32)):
            if simpler != t:
                out.append(_retype(sig, k, simpler))
    if sig.reenter:
        out.append(sig.with_(reenter=False))
    if sig.ret.kind != "none" and sig.ret != HostReturn("const", 0):
        out.append(sig.with_(ret=HostReturn("const", 0)))
    for c, call in enumerate(sig.calls):
        for k, (t, v) in enumerate(zip(sig.params, call, strict=True)):
            out += [_set(sig, c, k, x) for x in _simpler_values(t, v)]
    return [_fixed(s).with_(path=(*sig.path, i)) for i, s in enumerate(out)]


def apply_path(sig: Sig, path: tuple[int, ...]) -> Sig:
    """The signature reached from `sig` by taking candidate `i` at each step of `path`."""
    for i in path:
        options = candidates(sig)
        if not 0 <= i < len(options):
            raise ValueError(f"shrink step {i} does not exist for {sig.key} ({len(options)} steps)")
        sig = options[i]
    return sig
