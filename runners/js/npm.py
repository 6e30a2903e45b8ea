"""Deno and Bun from npm, for their adapters: one pinned install (runners/js/package-lock.json)
per lockfile hash in the shared cache, made with ``npm ci --ignore-scripts``.

The `deno` and `bun` npm packages carry each engine as a prebuilt binary in per-platform
packages (their optionalDependencies) and use install scripts only to link that binary into
place. package.json names those platform packages directly: npm installs the ones whose os/cpu
match this machine, no script runs, and the adapters start the binary where npm put it.
Nothing is fetched from anywhere but the npm registry.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from harness import cachedir
from harness.runner import EngineUnavailable
from runners import npmci
from runners.js import HOST

LOCK = (HOST.parent / "package.json", HOST.parent / "package-lock.json")
INSTALL = "install Node.js with npm (https://nodejs.org); the runner installs {engine} from npm itself"

# Where each package puts its platform binary, relative to node_modules.
_BINARIES = {"deno": ("@deno/*/deno", "@deno/*/deno.exe"),
             "bun": ("@oven/bun-*/bin/bun", "@oven/bun-*/bin/bun.exe")}


def _install(engine: str) -> Path:
    """node_modules of the pinned install, made on first use."""
    return npmci.node_modules("js-npm", LOCK, INSTALL.format(engine=engine))


def binary(engine: str) -> Path:
    """The engine's binary from the pinned npm install; EngineUnavailable if it cannot run here."""
    modules = _install(engine)
    found = [p for pattern in _BINARIES[engine] for p in sorted(modules.glob(pattern))]
    if not found:
        raise EngineUnavailable(f"npm installed no {engine} binary for this platform under {modules}; "
                                f"runners/js/package.json lists the platform packages it installs")
    exe = found[0]
    try:
        probe = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=60,
                               check=False)
    except OSError as e:
        raise EngineUnavailable(f"{exe} does not run here: {e}") from e
    if probe.returncode != 0:  # e.g. Bun's x64 build on a CPU without AVX2 (that needs -baseline)
        raise EngineUnavailable(f"{exe} --version exited {probe.returncode}: "
                                f"{(probe.stderr or probe.stdout).strip()[-500:]}")
    return exe


def scratch(engine: str) -> Path:
    """A directory for the engine's own caches, under the suite's cache, not the user's home."""
    return cachedir.sub(engine)
