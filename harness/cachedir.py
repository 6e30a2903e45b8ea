"""Where the suite keeps what it can reuse between runs: toolchains, builds, compiled modules."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

ENV = "WASMEXPORT_CACHE"


def root() -> Path:
    """``$WASMEXPORT_CACHE``, else ``$XDG_CACHE_HOME/wasmexport-conformance``, else ~/.cache/…."""
    if os.environ.get(ENV):
        return Path(os.environ[ENV]).expanduser().resolve()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser().resolve() / "wasmexport-conformance"


def sub(*parts: str) -> Path:
    """A directory under the cache root, created on first use."""
    path = root().joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created if missing) across processes."""
    with path.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
