"""Building a case with a real Go toolchain (gc or TinyGo), behind a content-addressed cache.

The key is a hash of everything that can change the output: the files, the build mode, the
flags, the target (GOOS wasip1 or js), the environment the harness sets and the toolchain's
version line; for TinyGo also its scheduler and the target file's content. A hit (module or
remembered failure) costs a file read; a warm re-run builds nothing. Builds are safe to run in
parallel threads (each is a `go` or `tinygo` process; they share their caches; results land by
atomic rename).

TinyGo builds with ``tinygo build -target=<file> [-buildmode=c-shared] -scheduler=<s>
-no-debug``. ``-no-debug`` drops DWARF, which gc's wasm modules do not carry either and which
would record the temporary build directory (TinyGo has no ``-trimpath``); the name section stays.
A manifest's ``program.flags`` are gc flags; see `tinygo_flags` for what they become.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from harness import cachedir, isolation, tinygo
from harness.manifest import Manifest
from harness.toolchain_fetch import sealed_go_env
from harness.toolchains import Toolchain, go_config_dir, goroot

MODULE_PATH = "wasmcase"
GO_MOD = f"module {MODULE_PATH}\n\ngo 1.24\n"
BUILD_TIMEOUT_S = 600
_DIAG = re.compile(r"^(?:\./)?(?P<file>[^\s:][^:]*\.go):(?P<line>\d+)(?::(?P<col>\d+))?: (?P<msg>.*)$")
KEY_VERSION = "1"  # bump when the way modules are built changes


@dataclass(frozen=True)
class Diagnostic:
    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


@dataclass(frozen=True)
class BuildResult:
    key: str
    outcome: Literal["ok", "error", "crash"]
    module: Path | None  # the .wasm, when outcome is ok
    sha256: str | None
    diagnostics: tuple[Diagnostic, ...]
    output: str
    duration_s: float
    cached: bool


def _env(tc: Toolchain, home: Path, target: str = "wasip1") -> dict[str, str]:
    """Exactly the environment a build sees: nothing of the user's Go settings leaks in."""
    if tc.tinygo is not None:
        return tinygo.build_env(tc.tinygo, goroot(tc.binary), go_config_dir(), home)
    return {
        "PATH": f"{tc.binary.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(go_config_dir()),
        "GOOS": target,
        "GOARCH": "wasm",
        **sealed_go_env(),
    }


def _command(m: Manifest, tc: Toolchain, *, for_key: bool = False) -> list[str]:
    """The build command; `for_key` names TinyGo's binary and target file by role, not path."""
    bad = [p for p in map(isolation.flag_problem, m.flags) if p]
    if bad:  # the manifest loader refuses these already; a Manifest made otherwise must not pass
        raise ValueError(bad[0])
    mode = ["-buildmode=c-shared"] if m.mode == "reactor" else []
    if tc.tinygo is None:
        return ["go", "build", "-trimpath", *mode, *m.flags, "-o", "module.wasm", "."]
    binary = "tinygo" if for_key else str(tc.tinygo.binary)
    target = m.target if for_key else str(tc.tinygo.target_file(m.target))
    flags, _ = tinygo_flags(m.flags)
    return [binary, "build", f"-target={target}", *mode, f"-scheduler={tc.scheduler}", "-no-debug",
            *flags, "-o", "module.wasm", "."]


def tinygo_flags(flags: tuple[str, ...]) -> tuple[list[str], str | None]:
    """A manifest's gc flags for TinyGo: (the flags to pass, why the build is refused or None).

    ``-tags`` and ``-ldflags=-X name=value`` mean the same to TinyGo and pass through; ``-a``
    (rebuild everything), ``-buildvcs=false`` (TinyGo stamps no VCS information) and ``-w`` (no
    DWARF: TinyGo builds here always have none) change nothing and are dropped. ``-v``,
    ``-gcflags`` and ``-ldflags=-s`` have no TinyGo equivalent: such a case is not built, and
    its build outcome is an error saying so."""
    out: list[str] = []
    for flag in flags:
        name, _, value = flag.partition("=")
        name = "-" + name.lstrip("-")
        if name in ("-a", "-buildvcs"):
            continue
        if name == "-tags":
            out.append(flag)
        elif name == "-ldflags":
            words = [w for w in value.removeprefix("all=").split() if w != "-w"]
            if "-s" in words:
                return out, f"{flag}: TinyGo has no -s (its -ldflags takes only -X)"
            if words:
                out.append("-ldflags=" + " ".join(words))
        else:
            return out, f"{flag}: TinyGo has no equivalent of this gc flag"
    return out, None


def _files(m: Manifest) -> dict[str, str]:
    files = dict(m.files)
    files.setdefault("go.mod", GO_MOD)
    return files


_PATHS = ("PATH", "HOME", "GOCACHE", "GOPATH", "GOROOT", "TINYGOROOT", "WASMOPT", "XDG_CACHE_HOME",
          "XDG_CONFIG_HOME")


def build_key(m: Manifest, tc: Toolchain) -> str:
    """The cache key: sources, mode, flags, target, build environment and toolchain identity
    (gc's target is its GOOS, in the environment)."""
    env = {k: v for k, v in _env(tc, Path("~"), m.target).items() if k not in _PATHS}
    doc: dict[str, object] = {"v": KEY_VERSION, "files": sorted(_files(m).items()),
                              "cmd": _command(m, tc, for_key=True), "env": env,
                              "toolchain": tc.version_line}
    if tc.tinygo is not None:
        doc.update(family=tc.family, scheduler=tc.scheduler, target=m.target, flags=m.flags,
                   target_file=_target_file(m, tc))
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def _target_file(m: Manifest, tc: Toolchain) -> str:
    assert tc.tinygo is not None
    path = tc.tinygo.target_file(m.target)
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def parse_diagnostics(output: str) -> tuple[Diagnostic, ...]:
    """Positioned compiler/linker messages from `go build` or `tinygo build` output, in order
    (both print ``file.go:line:col: message``, relative to the case)."""
    out = []
    for line in output.splitlines():
        m = _DIAG.match(line.strip())
        if m:
            file = m["file"].removeprefix(f"{MODULE_PATH}/")
            out.append(Diagnostic(file, int(m["line"]), int(m["col"] or 0), m["msg"]))
    return tuple(out)


def classify(returncode: int, output: str) -> Literal["ok", "error", "crash"]:
    if returncode == 0:
        return "ok"
    if "internal compiler error" in output or re.search(r"^panic: ", output, re.M):
        return "crash"
    return "error"


def _load_cached(key: str, where: Path) -> BuildResult | None:
    meta = where / "build.json"
    if not meta.exists():
        return None
    try:
        doc = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    module = where / "module.wasm" if doc["outcome"] == "ok" else None
    if module is not None and not module.exists():
        return None
    return BuildResult(
        key=key, outcome=doc["outcome"], module=module, sha256=doc.get("sha256"),
        diagnostics=parse_diagnostics(doc["output"]), output=doc["output"],
        duration_s=doc["duration_s"], cached=True,
    )


def build(m: Manifest, tc: Toolchain) -> BuildResult:
    """Build `m` with `tc`, or return the cached result of the same build."""
    key = build_key(m, tc)
    where = cachedir.sub("builds", key[:2]) / key
    hit = _load_cached(key, where)
    if hit is not None:
        return hit
    # One build per key across processes (xdist workers, parallel runs): the second waits, then
    # reads the first one's result.
    with cachedir.locked(where.parent / f".{key}.lock"):
        hit = _load_cached(key, where)
        return hit if hit is not None else _build(m, tc, key, where)


def _run(m: Manifest, tc: Toolchain, src: Path) -> tuple[int, str]:
    """Run the build in `src`: (exit status, output with `src` itself shown as ``.``)."""
    refused = None
    if m.target not in tc.targets:
        refused = f"{tc.name} does not build for GOOS={m.target}"
    elif tc.tinygo is not None:
        refused = tinygo_flags(m.flags)[1]
    if refused is not None:
        return 1, f"{tc.name}: not built: {refused}\n"
    try:
        proc = subprocess.run(
            _command(m, tc), cwd=src, env=_env(tc, src, m.target), capture_output=True,
            text=True, timeout=BUILD_TIMEOUT_S, check=False,
        )
    except subprocess.TimeoutExpired:
        return -1, f"{_command(m, tc, for_key=True)[0]} build did not finish in {BUILD_TIMEOUT_S} s"
    return proc.returncode, (proc.stdout + proc.stderr).replace(f"{src}/", "./")


def _build(m: Manifest, tc: Toolchain, key: str, where: Path) -> BuildResult:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="wasmcase-") as tmp:
        src = Path(tmp)
        for name, body in _files(m).items():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            (src / name).write_text(body, encoding="utf-8")
        returncode, output = _run(m, tc, src)
        outcome = classify(returncode, output)
        staged = Path(tempfile.mkdtemp(dir=where.parent, prefix=f".{key[:8]}-"))
        sha = None
        if outcome == "ok":
            data = (src / "module.wasm").read_bytes()
            sha = hashlib.sha256(data).hexdigest()
            shutil.move(src / "module.wasm", staged / "module.wasm")
    duration = time.monotonic() - started
    (staged / "build.json").write_text(json.dumps({
        "outcome": outcome, "sha256": sha, "output": output, "duration_s": duration,
        "toolchain": tc.version_line,
    }, indent=1), encoding="utf-8")
    try:
        staged.rename(where)
    except OSError:  # another process finished the same build first: keep theirs
        shutil.rmtree(staged, ignore_errors=True)
    hit = _load_cached(key, where)
    if hit is None:
        raise RuntimeError(f"build cache entry {where} vanished")
    return BuildResult(**{**hit.__dict__, "cached": False, "duration_s": duration})
