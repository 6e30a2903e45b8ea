"""Building a case with a real Go toolchain, behind a content-addressed cache.

The key is a hash of everything that can change the output: the files, the build mode, the
flags, the environment the harness sets and the toolchain's ``go version`` line. A hit (module or
remembered failure) costs a file read; a warm re-run builds nothing. Builds are safe to run in
parallel threads (each is a `go` process; they share one GOCACHE; results land by atomic rename).
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

from harness import cachedir, isolation
from harness.manifest import Manifest
from harness.toolchains import Toolchain

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


def _env(tc: Toolchain, home: Path) -> dict[str, str]:
    """Exactly the environment a build sees: nothing of the user's Go settings leaks in."""
    return {
        "PATH": f"{tc.binary.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(home),
        "GOOS": "wasip1",
        "GOARCH": "wasm",
        "GOPROXY": "off",
        "GOTOOLCHAIN": "local",
        "GOFLAGS": "",
        "GOWORK": "off",
        "GOENV": "off",
        "GOTELEMETRY": "off",
        "CGO_ENABLED": "0",
        "GOCACHE": str(cachedir.sub("gocache")),
        "GOPATH": str(cachedir.sub("gopath")),
    }


def _command(m: Manifest) -> list[str]:
    bad = [p for p in map(isolation.flag_problem, m.flags) if p]
    if bad:  # the manifest loader refuses these already; a Manifest made otherwise must not pass
        raise ValueError(bad[0])
    cmd = ["go", "build", "-trimpath"]
    if m.mode == "reactor":
        cmd.append("-buildmode=c-shared")
    return [*cmd, *m.flags, "-o", "module.wasm", "."]


def _files(m: Manifest) -> dict[str, str]:
    files = dict(m.files)
    files.setdefault("go.mod", GO_MOD)
    return files


def build_key(m: Manifest, tc: Toolchain) -> str:
    """The cache key: sources, mode, flags, build environment and toolchain identity."""
    env = {k: v for k, v in _env(tc, Path("~")).items() if k not in ("PATH", "HOME", "GOCACHE", "GOPATH")}
    doc = {"v": KEY_VERSION, "files": sorted(_files(m).items()), "cmd": _command(m), "env": env,
           "toolchain": tc.version_line}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def parse_diagnostics(output: str) -> tuple[Diagnostic, ...]:
    """Positioned compiler/linker messages from `go build` output, in order."""
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


def _build(m: Manifest, tc: Toolchain, key: str, where: Path) -> BuildResult:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="wasmcase-") as tmp:
        src = Path(tmp)
        for name, body in _files(m).items():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            (src / name).write_text(body, encoding="utf-8")
        try:
            proc = subprocess.run(
                _command(m), cwd=src, env=_env(tc, src), capture_output=True, text=True,
                timeout=BUILD_TIMEOUT_S, check=False,
            )
            returncode, output = proc.returncode, proc.stdout + proc.stderr
        except subprocess.TimeoutExpired:
            returncode, output = -1, f"go build did not finish in {BUILD_TIMEOUT_S} s"
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
