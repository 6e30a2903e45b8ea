"""The model of a case: what a manifest says, once loaded and checked (harness/manifest.py).

Every expectation is a frozen value; a `Manifest` is the whole case, with its per-release
replacements (`Release.actual`) when releases differ from the documented behaviour.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from harness import values
from harness.patterns import compile_pattern, full_match
from harness.script import BytesExpect, Operand
from harness.values import ValType, ValuePattern
from harness.versions import VersionRange


@dataclass(frozen=True)
class ExportType:
    """An export as the engine reports it: a function signature or another extern kind."""

    kind: Literal["func", "memory", "table", "global"]
    params: tuple[ValType, ...] = ()
    results: tuple[ValType, ...] = ()

    _SIG = re.compile(r"^\(\s*(.*?)\s*\)\s*->\s*(?:\(\s*(.*?)\s*\)|(\w+))$")

    @classmethod
    def parse(cls, text: str) -> ExportType:
        text = text.strip()
        if text in ("memory", "table", "global"):
            return cls(text)  # type: ignore[arg-type]
        m = cls._SIG.match(text)
        if not m:
            raise ValueError(f"bad export type {text!r}; write '(i32, i64) -> f64' or 'memory'")
        params = _types(m.group(1))
        results = _types(m.group(2)) if m.group(3) is None else _types(m.group(3))
        return cls("func", params, results)

    def __str__(self) -> str:
        if self.kind != "func":
            return self.kind
        res = ", ".join(self.results)
        return f"({', '.join(self.params)}) -> " + (res if len(self.results) == 1 else f"({res})")


def _types(text: str | None) -> tuple[ValType, ...]:
    if not text:
        return ()
    out = []
    for raw in text.split(","):
        part = raw.strip()
        if part not in values.VAL_TYPES:
            raise ValueError(f"unknown value type {part!r}")
        out.append(part)
    return tuple(out)


@dataclass(frozen=True)
class TextExpect:
    """An expected output stream: exact text, a full-match regex, fragments in order, or any."""

    kind: Literal["exact", "match", "contains", "any"]
    text: str = ""
    fragments: tuple[str, ...] = ()

    @classmethod
    def parse(cls, doc: Any) -> TextExpect:
        if doc is None:
            return cls("exact", "")
        if isinstance(doc, str):
            return cls("exact", doc)
        if "match" in doc:
            compile_pattern(doc["match"])
            return cls("match", doc["match"])
        if "contains" in doc:
            frags = doc["contains"]
            return cls("contains", fragments=(frags,) if isinstance(frags, str) else tuple(frags))
        return cls("any")

    def matches(self, got: str) -> bool:
        if self.kind == "exact":
            return got == self.text
        if self.kind == "match":
            return full_match(self.text, got)
        if self.kind == "contains":
            pos = 0
            for frag in self.fragments:
                found = got.find(frag, pos)
                if found < 0:
                    return False
                pos = found + len(frag)
            return True
        return True

    def __str__(self) -> str:
        if self.kind == "exact":
            return json.dumps(self.text)
        if self.kind == "match":
            return f"match /{self.text}/"
        if self.kind == "contains":
            return "contains " + " ... ".join(json.dumps(f) for f in self.fragments)
        return "(anything)"


@dataclass(frozen=True)
class Diagnostic:
    file: str | None
    line: int | None
    message: str
    is_regex: bool = False

    def matches(self, file: str, line: int, message: str) -> bool:
        if self.file is not None and self.file != file:
            return False
        if self.line is not None and self.line != line:
            return False
        if self.is_regex:
            return full_match(self.message, message)
        return self.message == message

    def __str__(self) -> str:
        where = f"{self.file or '*'}:{self.line or '*'}"
        return f"{where}: {'/' + self.message + '/' if self.is_regex else self.message}"


@dataclass(frozen=True)
class BuildExpect:
    outcome: Literal["ok", "error", "crash"] = "ok"
    diagnostics: tuple[Diagnostic, ...] = ()
    output: TextExpect = field(default_factory=lambda: TextExpect("any"))


@dataclass(frozen=True)
class Expect:
    """What one step must produce. Unset stream/trace fields mean empty (strict)."""

    outcome: Literal["ok", "trap", "exit", "any"]  # any: undefined by the contract
    returns: tuple[ValuePattern, ...] = ()
    trap: str | None = None
    exit: int | None = None
    stdout: TextExpect = field(default_factory=lambda: TextExpect("exact", ""))
    stderr: TextExpect = field(default_factory=lambda: TextExpect("exact", ""))
    trace: tuple[str, ...] | None = ()  # None: any trace
    duration_min_ms: float | None = None
    duration_max_ms: float | None = None
    bytes: BytesExpect | None = None  # what a read step must find


@dataclass(frozen=True)
class Step:
    """One host action (harness/script.py): call an export, or write or read guest memory."""

    index: int
    line: int | None
    call: str  # the export called; empty for write and read steps
    args: tuple[Operand, ...]
    timeout_ms: int
    expect: Expect
    note: str = ""
    kind: Literal["call", "write", "read", "run"] = "call"
    bind: tuple[str | None, ...] = ()  # names for a call's results
    ptr: Operand | None = None  # write and read
    data: bytes = b""  # write
    length: Operand | None = None  # read

    @property
    def action(self) -> str:
        if self.kind == "call":
            return f"call {self.call}"
        if self.kind == "run":
            return "run (go.run)"
        if self.kind == "write":
            return f"write {len(self.data)} bytes at {self.ptr}"
        return f"read {self.length} bytes at {self.ptr}"

    def to_protocol(self) -> dict[str, Any]:
        if self.kind == "run":
            return {"run": {}, "timeout_ms": self.timeout_ms}
        if self.kind == "write":
            assert self.ptr is not None
            return {"write": {"ptr": self.ptr.to_protocol(), "hex": self.data.hex()},
                    "timeout_ms": self.timeout_ms}
        if self.kind == "read":
            assert self.ptr is not None and self.length is not None
            return {"read": {"ptr": self.ptr.to_protocol(), "len": self.length.to_protocol()},
                    "timeout_ms": self.timeout_ms}
        out: dict[str, Any] = {"call": self.call, "args": [a.to_protocol() for a in self.args],
                               "timeout_ms": self.timeout_ms}
        if any(self.bind):
            out["bind"] = list(self.bind)
        return out


@dataclass(frozen=True)
class ImportSpec:
    """One entry of the import section a case expects, in order."""

    module: str
    name: str
    type: ExportType

    def __str__(self) -> str:
        return f"{self.module}.{self.name}: {self.type}"


@dataclass(frozen=True)
class HostFunction:
    """A host import in the runner vocabulary; `spec` is the protocol-ready definition."""

    module: str
    name: str
    params: tuple[ValType, ...]
    results: tuple[ValType, ...]
    spec: dict[str, Any]


Compiler = Literal["gc", "tinygo"]
COMPILER_NAMES: dict[str, str] = {"gc": "Go", "tinygo": "TinyGo"}


@dataclass(frozen=True)
class Release:
    """What the releases in `go` (of `compiler`: gc's Go releases, or TinyGo's own) really do,
    where that differs from the documented expectation: `actual` is the whole case with the
    entry's build/module/imports/script in place. `target` limits it to one target."""

    go: VersionRange
    finding: str
    link: str
    line: int | None
    actual: Manifest
    compiler: Compiler = "gc"
    target: str | None = None

    def covers(self, compiler: str, version: tuple[int, int, int], target: str) -> bool:
        return (self.compiler == compiler and self.go.contains(version)
                and self.target in (None, target))

    def describe(self) -> str:
        return (f"{COMPILER_NAMES[self.compiler]} {self.go}: {self.finding}"
                + (f" ({self.link})" if self.link else ""))


@dataclass(frozen=True)
class Manifest:
    path: Path
    id: str
    area: str
    title: str
    refs: tuple[str, ...]
    notes: str
    go: VersionRange
    requires: frozenset[str]
    mode: Literal["command", "reactor"]
    files: tuple[tuple[str, str], ...]
    flags: tuple[str, ...]
    build: BuildExpect
    load: Literal["ok", "invalid"]
    exports: dict[str, ExportType] | None
    wasi_args: tuple[str, ...]
    wasi_env: tuple[tuple[str, str], ...]
    imports: tuple[HostFunction, ...]
    steps: tuple[Step, ...]
    line: int = 1
    wasi_stdin: bytes = b""
    memory_bytes: int | None = None  # limits.memory_*: the cap the host sets
    import_section: tuple[ImportSpec, ...] | None = None  # module.imports, in order
    memory_pages: tuple[int, int | None] | None = None  # module.memory: min, max
    streams: tuple[TextExpect, TextExpect] | None = None  # the whole script's stdout, stderr
    build_line: int | None = None
    module_line: int | None = None
    releases: tuple[Release, ...] = ()
    target: Literal["wasip1", "js"] = "wasip1"  # GOOS the module is built for
    targets: tuple[str, ...] = ("wasip1",)  # every target of the case, in order
    variants: tuple[Manifest, ...] = ()  # the case on each other target (see `for_target`)

    def release(self, version: tuple[int, int, int], compiler: str = "gc") -> Release | None:
        """The per-release entry covering `version` of `compiler` on this target, if any
        (entries must not overlap)."""
        return next((r for r in self.releases if r.covers(compiler, version, self.target)), None)

    def for_target(self, target: str) -> Manifest:
        """The case as it is on `target` (one of `targets`)."""
        if target == self.target:
            return self
        found = next((v for v in self.variants if v.target == target), None)
        if found is None:
            raise KeyError(f"{self.id} is not built for {target}")
        return found

    @property
    def runs_on(self) -> bool:
        """Whether an engine may have anything to do on some release."""
        return self.runs or any(r.actual.runs for r in self.releases)

    @property
    def runs(self) -> bool:
        """Whether an engine has anything to do (the build must succeed for that)."""
        return self.build.outcome == "ok"
