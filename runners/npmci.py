"""npm packages and Node.js for the runners that need them (Deno and Bun from npm; the browser
runner's puppeteer-core): one pinned install per lockfile hash in the shared cache, made with
``npm ci --ignore-scripts``, so nothing but the npm registry is reached and no install script
runs; and the system `node`, checked for a minimum major version.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from harness import hostbuild
from harness.runner import EngineUnavailable


def node_modules(name: str, lock: Sequence[Path], install: str) -> Path:
    """node_modules of the pinned install of `lock` (package.json, package-lock.json), made on
    first use under the cache entry `name`; `install` says how to get npm."""
    npm = shutil.which("npm")
    if npm is None:
        raise EngineUnavailable(f"{name} installs its packages with npm, but `npm` is not on PATH; "
                                f"{install}")

    def build(tmp: Path) -> None:
        for f in lock:
            shutil.copy(f, tmp / f.name)
        env = {**os.environ, "npm_config_update_notifier": "false", "npm_config_fund": "false",
               "npm_config_audit": "false"}
        hostbuild.run_build_step(name, [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
                                 tmp, env=env, timeout=1800, install=install)

    return hostbuild.cached(name, hostbuild.source_hash(lock), build) / "node_modules"


def system_node(min_major: int, install: str) -> str:
    """The `node` on PATH, at least `min_major`; EngineUnavailable (with `install`) otherwise."""
    node = shutil.which("node")
    if node is None:
        raise EngineUnavailable(f"`node` is not on PATH; {install}")
    try:
        version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=60,
                                 check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError) as e:
        raise EngineUnavailable(f"{node} does not run: {e}; {install}") from e
    if int(version.lstrip("v").split(".")[0]) < min_major:
        raise EngineUnavailable(f"node {version} is older than {min_major}; {install}")
    return node
