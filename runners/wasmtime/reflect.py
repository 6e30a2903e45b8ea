"""The module's export and import sections as wasmtime reflects them, in module order."""

from __future__ import annotations

from typing import Any

import wasmtime


def _describe(ty: Any) -> dict[str, Any]:
    """Kind and type details of one extern type: a function's signature, a memory's pages."""
    if isinstance(ty, wasmtime.FuncType):
        return {"kind": "func", "params": [str(p) for p in ty.params],
                "results": [str(r) for r in ty.results]}
    if isinstance(ty, wasmtime.MemoryType):
        limits = ty.limits
        return {"kind": "memory", "min": int(limits.min),
                "max": None if limits.max is None else int(limits.max)}
    if isinstance(ty, wasmtime.TableType):
        return {"kind": "table"}
    return {"kind": "global"}  # the protocol knows no other kinds (tags do not occur here)


def export_types(module: wasmtime.Module) -> list[dict[str, Any]]:
    return [{"name": e.name, **_describe(e.type)} for e in module.exports]


def import_types(module: wasmtime.Module) -> list[dict[str, Any]]:
    out = []
    for i in module.imports:
        entry = {"module": i.module, "name": i.name or "", **_describe(i.type)}
        entry.pop("min", None)  # the protocol reflects limits for exported memories only
        entry.pop("max", None)
        out.append(entry)
    return out
