"""Helpers for end-to-end tests that act as a user would: a fresh copy of the suite, its printed
commands executed in a shell, results files read back."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from harness import cachedir

REPO = Path(__file__).resolve().parent.parent
BROKEN = REPO / "tests" / "broken_runner.py"


def fresh_copy(dest: Path) -> Path:
    """The suite's files as a fresh clone of this work tree would have them (tracked and new,
    never ignored outputs such as reports/out or caches)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=REPO, capture_output=True, check=True).stdout.decode()
    for name in filter(None, listed.split("\0")):
        src = REPO / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


def env(**extra: str) -> dict[str, str]:
    """The user's environment with the shared cache (toolchains, builds) kept."""
    out = {k: v for k, v in os.environ.items()
           if not k.startswith(("WASMEXPORT_RUNNER_", "PYTEST_"))}
    out[cachedir.ENV] = str(cachedir.root())
    out.update(extra)
    return out


def shell(command: str, cwd: Path, environ: dict[str, str], timeout: float = 900
          ) -> subprocess.CompletedProcess[str]:
    """Run a printed command line as a user pastes it: through the shell, `python` being this
    interpreter."""
    bindir = Path(sys.executable).parent
    environ = {**environ, "PATH": f"{bindir}{os.pathsep}{environ.get('PATH', '')}"}
    if not (bindir / "python").exists():  # a venv always has it; a bare interpreter may not
        command = command.replace("python ", f"{sys.executable} ", 1)
    return subprocess.run(["bash", "-c", command], cwd=cwd, env=environ, capture_output=True,
                          text=True, timeout=timeout, check=False)


def pytest_run(args: list[str], cwd: Path, environ: dict[str, str], timeout: float = 900
               ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", *args], cwd=cwd, env=environ,
                          capture_output=True, text=True, timeout=timeout, check=False)


def records(path: Path) -> list[dict[str, Any]]:
    return [d for d in map(json.loads, path.read_text().splitlines()) if d["type"] == "result"]


def broken(mode: str) -> str:
    """A runner command line: the real wasmtime runner with one deliberate defect."""
    return f"{sys.executable} {BROKEN} {mode}"
