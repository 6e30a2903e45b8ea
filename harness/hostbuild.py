"""Runner host programs that must be built (Go, Rust) or installed (npm): built once per source
hash into the shared cache, under a lock, so parallel runs and warm runs build nothing."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from harness import cachedir
from harness.runner import EngineUnavailable


def source_hash(files: Iterable[Path], extra: str = "") -> str:
    """A short hash over the files' names and bytes (in the given order) and `extra`."""
    h = hashlib.sha256(extra.encode())
    for f in files:
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def cached(name: str, key: str, build: Callable[[Path], None]) -> Path:
    """The directory ``runners/<name>-<key>`` in the cache, made by ``build(tmpdir)`` on first use.

    `build` fills a fresh directory; it is renamed into place only when `build` returns, so a
    failed or interrupted build leaves nothing behind."""
    root = cachedir.sub("runners")
    dest = root / f"{name}-{key}"
    if dest.exists():
        return dest
    with cachedir.locked(root / f".{name}-{key}.lock"):
        if dest.exists():
            return dest
        tmp = root / f".{name}-{key}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        try:
            build(tmp)
            tmp.rename(dest)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


def run_build_step(engine: str, cmd: Sequence[str], cwd: Path, *, env: Mapping[str, str] | None = None,
                   timeout: float = 3600, install: str = "") -> None:
    """Run one build command; a failure raises EngineUnavailable with the command's last lines."""
    try:
        proc = subprocess.run(list(cmd), cwd=cwd, env=dict(env) if env is not None else None,
                              capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise EngineUnavailable(f"building the {engine} runner failed: {' '.join(cmd)}: {e}"
                                + (f"; {install}" if install else "")) from e
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise EngineUnavailable(f"building the {engine} runner failed: {' '.join(cmd)} exited "
                                f"{proc.returncode}:\n{tail}" + (f"\n{install}" if install else ""))
