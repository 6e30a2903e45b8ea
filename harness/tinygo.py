"""TinyGo, the other Go compiler: names, the Debian packages it needs, and its install.

``--go tinygo0.40.1`` builds with TinyGo's default scheduler (asyncify), ``tinygo0.40.1-none``
with ``-scheduler=none``. TinyGo is on neither PyPI nor npm; its source is the Go module
``github.com/tinygo-org/tinygo``, fetched through the module proxy and built with ``go build
-tags llvm<N>`` (cgo) against Debian's LLVM. The module zip lacks TinyGo's git submodules
(wasi-libc, compiler-rt, ``net``), so the install adds an empty ``src/net`` and target files
derived from TinyGo's own ``wasip1.json`` and ``wasm.json`` that link Debian's prebuilt wasi-libc
and compiler-rt builtins instead of building them, keeping only the CPU features this LLVM has.

The install lives in ``toolchains/tinygo<version>/<hash>`` of the cache, the hash covering what
the Debian probe found (paths and package versions): an upgraded LLVM gets a fresh install. It is
built in a temporary directory and renamed into place, so a half-finished one is never used.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness import cachedir
from harness.toolchain_fetch import PROXY, ToolchainUnavailable, sealed_go_env

MODULE = "github.com/tinygo-org/tinygo"
INSTALL_VERSION = "1"  # bump when the way TinyGo is installed changes
SCHEDULERS = ("asyncify", "none")  # asyncify: TinyGo's default on wasm
TARGETS = {"wasip1": "wasip1.json", "js": "wasm.json"}  # GOOS -> TinyGo's own target file
BUILD_TIMEOUT_S = 1800

# Looked up on PATH; tests point them at missing programs.
LLVM_CONFIG = "llvm-config-{llvm}"
DPKG_QUERY = "dpkg-query"
WASM_OPT = "wasm-opt"

_NAME = re.compile(r"^tinygo(\d+)\.(\d+)(?:\.(\d+))?(?:-(asyncify|none))?$")


@dataclass(frozen=True)
class Recipe:
    """How one TinyGo release is built here: its LLVM major and the Go release of its GOROOT."""

    version: tuple[int, int, int]
    llvm: str
    goroot: str  # a `--go` name: TinyGo 0.40 accepts Go 1.19-1.25 (1.26 lacks internal/itoa)

    @property
    def apt(self) -> tuple[str, ...]:
        return (f"llvm-{self.llvm}-dev", f"libclang-{self.llvm}-dev", f"clang-{self.llvm}",
                f"lld-{self.llvm}", "wasi-libc", f"libclang-rt-{self.llvm}-dev-wasm32", "binaryen",
                "g++")


RECIPES = {(0, 40, 1): Recipe((0, 40, 1), "19", "go1.25")}


def apt_command(recipe: Recipe) -> str:
    return f"apt-get install -y {' '.join(recipe.apt)}"


def is_name(text: str) -> bool:
    return text.strip().startswith("tinygo")


def label(version: tuple[int, int, int], scheduler: str) -> str:
    name = "tinygo" + ".".join(map(str, version))
    return name if scheduler == "asyncify" else f"{name}-{scheduler}"


def parse(text: str) -> tuple[Recipe, str]:
    """``tinygo0.40.1`` -> (its recipe, ``asyncify``); ``tinygo0.40.1-none`` -> (…, ``none``).
    Raises ToolchainUnavailable for a release without a recipe and for a minor release: the
    module proxy does not list TinyGo's versions, so ``tinygo0.40`` cannot be expanded."""
    m = _NAME.match(text.strip())
    known = ", ".join(label(v, s) for v in RECIPES for s in SCHEDULERS)
    if not m:
        raise ToolchainUnavailable(f"{text.strip()!r} is not a TinyGo toolchain name; known: {known}")
    if m[3] is None:
        raise ToolchainUnavailable(f"{text.strip()}: name the TinyGo release in full ({known}); "
                                   "the Go module proxy does not list TinyGo's releases")
    version = (int(m[1]), int(m[2]), int(m[3]))
    if version not in RECIPES:
        raise ToolchainUnavailable(f"TinyGo {'.'.join(m.group(1, 2, 3))} has no build recipe "
                                   f"here (each needs its own LLVM and Go); known: {known}")
    return RECIPES[version], m[4] or "asyncify"


@dataclass(frozen=True)
class Debian:
    """What the Debian packages provide, found by asking dpkg and llvm-config."""

    bindir: Path  # LLVM's: clang-<N>, wasm-ld, llc
    includedir: Path
    libdir: Path
    wasm_opt: Path
    libc_dir: Path  # wasi-libc's libc.a
    libc_include: Path
    builtins: Path  # compiler-rt's libclang_rt.builtins-wasm32.a
    features: frozenset[str]  # wasm CPU features this LLVM knows
    packages: tuple[tuple[str, str], ...]  # (package, version)

    def key(self) -> str:
        doc = {k: sorted(v) if isinstance(v, frozenset) else str(v) if isinstance(v, Path) else v
               for k, v in self.__dict__.items()}
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class TinyGo:
    """An installed TinyGo: its root (TINYGOROOT) and the host tools its builds use."""

    version: tuple[int, int, int]
    root: Path
    debian: Debian
    built_with: str  # `go version` of the Go that compiled TinyGo

    @property
    def binary(self) -> Path:
        return self.root / "build" / "tinygo"

    @property
    def wasm_exec(self) -> Path:
        """TinyGo's own wasm_exec.js, which its js modules need (not gc's)."""
        return self.root / "targets" / "wasm_exec.js"

    @property
    def path(self) -> tuple[Path, ...]:
        """Directories a build puts first on PATH: TinyGo looks for clang-<N> and wasm-ld there."""
        return (self.debian.bindir, self.debian.wasm_opt.parent)

    def target_file(self, goos: str) -> Path:
        return self.root / "targets" / f"{goos}-debian.json"


_probed: dict[tuple[str, ...], Debian] = {}
_lock = threading.Lock()


def debian(recipe: Recipe) -> Debian:
    """Probe the Debian packages `recipe` needs (once per process); raises ToolchainUnavailable
    naming the apt-get command when something is missing."""
    key = (recipe.llvm, LLVM_CONFIG, DPKG_QUERY, WASM_OPT)
    with _lock:
        hit = _probed.get(key)
    if hit is None:
        hit = _probe(recipe)
        with _lock:
            _probed[key] = hit
    return hit


def _missing(recipe: Recipe, what: str) -> ToolchainUnavailable:
    return ToolchainUnavailable(f"TinyGo {'.'.join(map(str, recipe.version))} needs {what}; on "
                                f"Debian or Ubuntu run `{apt_command(recipe)}`")


def _run(cmd: list[str]) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0:
        raise ToolchainUnavailable(f"{' '.join(cmd)} exited {proc.returncode}: "
                                   f"{(proc.stderr or proc.stdout).strip()[-300:]}")
    return proc.stdout


def _probe(recipe: Recipe) -> Debian:
    config = shutil.which(LLVM_CONFIG.format(llvm=recipe.llvm))
    if config is None:
        raise _missing(recipe, f"{LLVM_CONFIG.format(llvm=recipe.llvm)} (llvm-{recipe.llvm}-dev)")
    bindir, includedir, libdir = map(Path, _run([config, "--bindir", "--includedir", "--libdir"])
                                     .split())
    for tool, package in ((f"clang-{recipe.llvm}", f"clang-{recipe.llvm}"),
                          ("wasm-ld", f"lld-{recipe.llvm}"), ("llc", f"llvm-{recipe.llvm}")):
        if not (bindir / tool).is_file():
            raise _missing(recipe, f"{bindir / tool} ({package})")
    wasm_opt = shutil.which(WASM_OPT)
    if wasm_opt is None:
        raise _missing(recipe, f"{WASM_OPT} (binaryen)")
    dpkg = shutil.which(DPKG_QUERY)
    if dpkg is None:
        raise _missing(recipe, "Debian's packages (no dpkg-query here)")
    proc = subprocess.run([dpkg, "-W", "-f", "${Package}\t${Version}\t${db:Status-Abbrev}\n",
                           *recipe.apt], capture_output=True, text=True, timeout=120, check=False)
    packages = dict(line.split("\t")[:2] for line in proc.stdout.splitlines()
                    if line.count("\t") == 2 and line.split("\t")[2].startswith("ii"))
    absent = [p for p in recipe.apt if p not in packages]
    if absent:
        raise _missing(recipe, f"the packages {', '.join(absent)}")
    files = _run([dpkg, "-L", "wasi-libc", f"libclang-rt-{recipe.llvm}-dev-wasm32"]).splitlines()
    libc = _one(recipe, files, "/wasm32-wasi/libc.a", "wasi-libc's libc.a")
    include = _one(recipe, files, "/include/wasm32-wasi", "wasi-libc's headers")
    builtins = _one(recipe, files, "/libclang_rt.builtins-wasm32.a", "compiler-rt's wasm32 builtins")
    return Debian(bindir, includedir, libdir, Path(wasm_opt), libc.parent, include, builtins,
                  _features(bindir / "llc"), tuple(sorted(packages.items())))


def _one(recipe: Recipe, files: list[str], suffix: str, what: str) -> Path:
    found = [Path(f) for f in files if f.endswith(suffix) and Path(f).exists()]
    if not found:
        raise _missing(recipe, what)
    return found[0]


def _features(llc: Path) -> frozenset[str]:
    """The wasm CPU features `llc -mattr=help` lists (it prints them on stderr)."""
    proc = subprocess.run([str(llc), "-march=wasm32", "-mattr=help"], capture_output=True,
                          text=True, timeout=60, check=False)
    text = proc.stdout + proc.stderr
    section = text.partition("Available features")[2]
    return frozenset(m[1] for m in re.finditer(r"^\s+([a-z0-9-]+)\s+- ", section, re.M))


def target_json(source: dict[str, object], deb: Debian) -> dict[str, object]:
    """TinyGo's target file rewritten to link Debian's wasi-libc and builtins (TinyGo would build
    both from the submodules the module zip lacks), with the CPU features this LLVM knows."""
    doc = dict(source)
    flags = str(doc["features"]).split(",")
    doc["features"] = ",".join(f for f in flags if f[1:] in deb.features)
    doc["libc"] = ""
    doc["rtlib"] = ""
    doc["cflags"] = [*list(doc.get("cflags", [])),  # type: ignore[call-overload]
                     "-nostdlibinc", "-isystem", str(deb.libc_include)]
    doc["ldflags"] = [*list(doc.get("ldflags", [])),  # type: ignore[call-overload]
                      f"-L{deb.libc_dir}", "-lc", str(deb.builtins)]
    doc.pop("emulator", None)
    return doc


def install(recipe: Recipe, bootstrap: Callable[[], Path], config: Path) -> TinyGo:
    """The TinyGo of `recipe`, installed on first use; `bootstrap` gives the go binary that
    downloads the module and compiles TinyGo, `config` the go command's XDG_CONFIG_HOME."""
    deb = debian(recipe)
    home = cachedir.sub("toolchains", label(recipe.version, "asyncify"))
    dest = home / f"{deb.key()}-{INSTALL_VERSION}"
    if not (dest / "build" / "tinygo").exists():
        with cachedir.locked(home / f".{dest.name}.lock"):
            if not (dest / "build" / "tinygo").exists():
                _install(recipe, deb, bootstrap(), dest, config)
    return TinyGo(recipe.version, dest, deb, (dest / "build" / "BUILT_WITH").read_text().strip())


def _install(recipe: Recipe, deb: Debian, go: Path, dest: Path, config: Path) -> None:
    version = "v" + ".".join(map(str, recipe.version))
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".install-") as tmp:
        work = Path(tmp)
        env = {"PATH": f"{go.parent}{os.pathsep}{os.environ.get('PATH', '')}",
               "HOME": str(work), "XDG_CONFIG_HOME": str(config), "GOTOOLCHAIN": "local",
               "GOFLAGS": "-modcacherw",
               "GOPROXY": os.environ.get("GOPROXY", PROXY), "GOMODCACHE": str(cachedir.sub("gomod")),
               "GOCACHE": str(cachedir.sub("gocache-tools")), "GOENV": "off", "GOWORK": "off",
               "CGO_ENABLED": "1", "CGO_CPPFLAGS": f"-I{deb.includedir}",
               "CGO_LDFLAGS": f"-L{deb.libdir}"}
        info = json.loads(_step([str(go), "mod", "download", "-json", f"{MODULE}@{version}"],
                                work, env))
        root = work / "root"
        shutil.copytree(info["Dir"], root)
        for p in (root, *root.rglob("*")):  # the module cache's files are read-only
            if not p.is_symlink():
                p.chmod(p.stat().st_mode | 0o200)
        (root / "src" / "net").mkdir(exist_ok=True)  # a git submodule; absent from the zip
        for goos, name in TARGETS.items():
            source = json.loads((root / "targets" / name).read_text())
            (root / "targets" / f"{goos}-debian.json").write_text(
                json.dumps(target_json(source, deb), indent=1) + "\n")
        _step([str(go), "build", "-trimpath", f"-tags=llvm{recipe.llvm}", "-o", "build/tinygo", "."],
              root, env)
        (root / "build" / "BUILT_WITH").write_text(_step([str(go), "version"], root, env))
        root.rename(dest)


def _step(cmd: list[str], cwd: Path, env: dict[str, str]) -> str:
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=BUILD_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ToolchainUnavailable(f"installing TinyGo: {' '.join(cmd)}: {e}") from e
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise ToolchainUnavailable(f"installing TinyGo: {' '.join(cmd)} exited "
                                   f"{proc.returncode}:\n{tail}")
    return proc.stdout


def build_env(tg: TinyGo, goroot: Path, config: Path, home: Path) -> dict[str, str]:
    """The environment of a TinyGo build (and of `tinygo version`): nothing of the user's Go or
    TinyGo settings leaks in; the caches are the suite's; `config` is the go command's
    XDG_CONFIG_HOME."""
    path = [*tg.path, goroot / "bin"]
    return {
        "PATH": os.pathsep.join([*map(str, path), os.environ.get("PATH", "")]),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(config),
        "GOROOT": str(goroot),
        "TINYGOROOT": str(tg.root),
        "WASMOPT": str(tg.debian.wasm_opt),
        "XDG_CACHE_HOME": str(cachedir.sub("tinygo-cache")),  # TinyGo's cache is <this>/tinygo
        **sealed_go_env(),
    }


_versions: dict[tuple[str, int], str] = {}


def version_text(tg: TinyGo, goroot: Path, config: Path) -> str:
    """``tinygo version`` (once per process per binary)."""
    key = (str(tg.binary), tg.binary.stat().st_mtime_ns)
    with _lock:
        hit = _versions.get(key)
    if hit is None:
        with tempfile.TemporaryDirectory(prefix="tinygo-version-") as tmp:
            hit = _step([str(tg.binary), "version"], Path(tmp),
                        build_env(tg, goroot, config, Path(tmp))).strip()
        with _lock:
            _versions[key] = hit
    return hit


def version_line(tg: TinyGo, goroot: Path, config: Path, goroot_line: str, scheduler: str) -> str:
    """How this toolchain was built, for results and build keys: TinyGo's version, its scheduler,
    the GOROOT's Go, the Go that compiled TinyGo and the Debian packages it uses."""
    packages = ", ".join(f"{p} {v}" for p, v in tg.debian.packages)
    return (f"{version_text(tg, goroot, config)}; -scheduler={scheduler}; GOROOT {goroot_line}; "
            f"compiled by {tg.built_with}; Debian {packages}")
