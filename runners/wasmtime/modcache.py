"""Compiled modules by sha256: a bounded cache in memory over the on-disk cache of serialized ones.

In memory, modules are dropped least recently used first once their bytes pass the budget
(``WASMEXPORT_MODULE_CACHE_MB``, default 256); the module just asked for is always kept, so the
plans of one case reuse it whatever the budget. A hit costs a dict lookup: no decoding, no
compiling, no reflection (the export and import sections are reflected once, when loaded).

Size measure: the serialized module's length, which is what `Module.serialize()` returns and
the .cwasm file holds. Modules are held as `deserialize_file` maps them, so that is also the
most a module can keep resident. The suite's Go modules serialize to 4.2-5.9 MB (2.3 times the
.wasm), of which running a plan touches ~2.3 MB: the budget errs towards holding fewer modules.

On disk (``--cache DIR``): one ``<sha256>.cwasm`` per module, written once, never evicted.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import wasmtime

from runners.wasmtime.reflect import export_types, import_types

DEFAULT_BUDGET_MB = 256


def budget_bytes(default_mb: float | None = DEFAULT_BUDGET_MB) -> int | None:
    """The in-memory budget from ``WASMEXPORT_MODULE_CACHE_MB`` (MiB, may be 0), else
    `default_mb`; None is no bound."""
    text = os.environ.get("WASMEXPORT_MODULE_CACHE_MB", "").strip()
    try:
        mb = float(text) if text else default_mb
    except ValueError:
        raise SystemExit(f"WASMEXPORT_MODULE_CACHE_MB must be a number of MiB, not {text!r}") from None
    return None if mb is None else max(0, int(mb * (1 << 20)))


@dataclass(frozen=True)
class Compiled:
    """A compiled module, its size by the measure above, and its reflected sections.

    The reflections are shared by every observation of the module: read them, never change them.
    """

    module: wasmtime.Module
    nbytes: int
    exports: list[dict[str, Any]]
    imports: list[dict[str, Any]]


class ModuleCache:
    def __init__(self, engine: wasmtime.Engine, disk: Path | None, budget: int | None) -> None:
        self.engine, self.disk, self.budget = engine, disk, budget
        self.entries: OrderedDict[str, Compiled] = OrderedDict()  # least recently used first
        self.bytes = 0
        self.hits = self.misses = 0
        if disk:
            disk.mkdir(parents=True, exist_ok=True)
            _remove_orphans(disk)

    def get(self, path: str, sha256: str) -> Compiled:
        """The module: from memory, from the on-disk cache, or compiled now (WasmtimeError if
        it does not compile; a failure is not cached)."""
        entry = self.entries.get(sha256)
        if entry is not None:
            self.hits += 1
            self.entries.move_to_end(sha256)
            return entry
        self.misses += 1
        module, nbytes = self._load(path, sha256)
        entry = Compiled(module, nbytes, export_types(module), import_types(module))
        self.entries[sha256] = entry
        self.bytes += nbytes
        # a plan still running an evicted module holds its own reference until it closes
        while self.budget is not None and self.bytes > self.budget and len(self.entries) > 1:
            _, old = self.entries.popitem(last=False)
            self.bytes -= old.nbytes
        return entry

    def stats(self) -> dict[str, Any]:
        mb = None if self.budget is None else round(self.budget / (1 << 20), 3)
        return {"budget_mb": mb, "modules": len(self.entries),
                "bytes": self.bytes, "hits": self.hits, "misses": self.misses}

    def _load(self, path: str, sha256: str) -> tuple[wasmtime.Module, int]:
        cached = self.disk / f"{sha256}.cwasm" if self.disk else None
        if cached:
            mapped = self._mapped(cached)
            if mapped:
                return mapped
        module = wasmtime.Module.from_file(self.engine, path)
        data = module.serialize()
        if not cached:
            return module, len(data)
        # named by pid, so that a runner killed while writing leaves a file the next runner
        # can tell is orphaned
        tmp = cached.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        tmp.replace(cached)
        # hold the mapped copy rather than the compiled one: its pages are the page cache's,
        # shared with other runners of the same module
        return self._mapped(cached) or (module, len(data))

    def _mapped(self, cached: Path) -> tuple[wasmtime.Module, int] | None:
        try:
            size = cached.stat().st_size
            return wasmtime.Module.deserialize_file(self.engine, str(cached)), size
        except (OSError, wasmtime.WasmtimeError):
            return None


def _remove_orphans(cache: Path) -> None:
    """Half-written cache entries of runners that no longer exist (killed mid-write)."""
    for tmp in cache.glob("*.tmp"):
        pid = tmp.suffixes[-2][1:] if len(tmp.suffixes) >= 2 else ""
        if pid.isdigit() and not _alive(int(pid)):
            tmp.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
