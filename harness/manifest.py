"""Manifests: one YAML file describes one case. Loading = parse, schema-check, semantic dry run.

The dry run rejects a script that could never be judged (a call to an export the module does
not declare, wrong argument types, a host function returning the wrong count) before anything is
built, with the file, the line and the field at fault.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

import jsonschema

from harness import isolation, trace, values
from harness.patterns import PatternError, compile_pattern, full_match
from harness.values import ValType, Value, ValuePattern
from harness.versions import ALL_RELEASES, VersionRange
from harness.yamlsrc import LineDict, YamlError, dotted, line_at
from harness.yamlsrc import load as load_yaml

MANIFEST_DIR = Path(__file__).resolve().parent.parent / "manifests"
SCHEMA_PATH = MANIFEST_DIR / "schema.json"
DEFAULT_STEP_TIMEOUT_MS = 10_000
# What one case may ask of the machine; a manifest asking more is refused where it says so.
MAX_CASE_TIMEOUT_MS = 600_000  # every step's timeout together
MAX_STEPS = 1_000
MAX_EXPECTED_TEXT = 1 << 20  # an exact stream expectation: the bytes a runner keeps per stream


class ManifestError(YamlError):
    """A manifest that is not valid: file, line, field and what to change."""


@cache
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


# -- the model ---------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class Step:
    index: int
    line: int | None
    call: str
    args: tuple[Value, ...]
    timeout_ms: int
    expect: Expect
    note: str = ""


@dataclass(frozen=True)
class HostFunction:
    """A host import in the runner vocabulary; `spec` is the protocol-ready definition."""

    module: str
    name: str
    params: tuple[ValType, ...]
    results: tuple[ValType, ...]
    spec: dict[str, Any]


@dataclass(frozen=True)
class Release:
    """What the releases in `go` really do, where that differs from the documented expectation:
    `actual` is the whole case with the entry's build/module/imports/script in place."""

    go: VersionRange
    finding: str
    link: str
    line: int | None
    actual: Manifest

    def describe(self) -> str:
        return f"Go {self.go}: {self.finding}" + (f" ({self.link})" if self.link else "")


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
    build_line: int | None = None
    module_line: int | None = None
    releases: tuple[Release, ...] = ()

    def release(self, version: tuple[int, int, int]) -> Release | None:
        """The per-release entry covering `version`, if any (entries must not overlap)."""
        return next((r for r in self.releases if r.go.contains(version)), None)

    @property
    def runs_on(self) -> bool:
        """Whether an engine may have anything to do on some release."""
        return self.runs or any(r.actual.runs for r in self.releases)

    @property
    def runs(self) -> bool:
        """Whether an engine has anything to do (the build must succeed for that)."""
        return self.build.outcome == "ok"


# -- loading -----------------------------------------------------------------------------------


def _probe_versions(rng: VersionRange) -> list[tuple[int, int, int]]:
    """Versions inside `rng` among a grid of releases, to detect overlapping ranges."""
    return [v for v in ((1, minor, patch) for minor in range(24, 40) for patch in range(40))
            if rng.contains(v)]


def case_id(path: Path, root: Path = MANIFEST_DIR) -> str:
    """``manifests/types/ints.yaml`` -> ``types/ints``."""
    try:
        rel = path.resolve().relative_to(root.resolve())
    except ValueError:
        rel = Path(path.name)
    return rel.with_suffix("").as_posix()


def load(path: Path, root: Path = MANIFEST_DIR) -> Manifest:
    """Read, validate and model one manifest; raises ManifestError naming file, line and field."""
    try:
        doc = load_yaml(path)
    except YamlError as e:
        raise ManifestError(e.path, e.line, e.message) from e
    if not isinstance(doc, dict):
        raise ManifestError(path, 1, "a manifest is a YAML mapping (title, refs, program, ...)")
    errors = sorted(_validator().iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        err = min(errors, key=lambda e: -len(e.absolute_path))
        where = list(err.absolute_path)
        raise ManifestError(path, line_at(doc, where), f"{dotted(where)}: {_schema_message(err)}")
    return _Builder(path, root, doc).build()


def _schema_message(err: jsonschema.ValidationError) -> str:
    if err.validator == "oneOf" and err.context:
        best = jsonschema.exceptions.best_match(err.context)
        return f"{best.message} (see manifests/schema.json {'/'.join(map(str, err.schema_path))})"
    schema = err.schema if isinstance(err.schema, dict) else {}
    if err.validator == "pattern" and schema.get("description"):
        return f"{err.instance!r} is not valid here: {schema['description']}"
    if err.validator == "additionalProperties":
        return f"{err.message}; the allowed fields are in manifests/schema.json"
    return err.message


class _Builder:
    """Turns a schema-valid document into a Manifest, checking what the schema cannot."""

    def __init__(self, path: Path, root: Path, doc: dict[str, Any]) -> None:
        self.path, self.root, self.doc = path, root, doc

    def fail(self, where: list[str | int], message: str) -> ManifestError:
        return ManifestError(self.path, line_at(self.doc, where), f"{dotted(where)}: {message}")

    def build(self) -> Manifest:
        d = self.doc
        program = d["program"]
        build = self._build_expect()
        module = d.get("module", {})
        exports = self._exports(module)
        if build.outcome == "ok" and exports is None:
            raise self.fail(["module"], "a case whose build succeeds must list module.exports")
        if build.outcome != "ok" and d.get("script"):
            raise self.fail(["script"], "a case whose build fails has no script")
        imports = self._imports(exports)
        steps = self._steps(exports)
        cid = case_id(self.path, self.root)
        wasi = d.get("wasi", {})
        try:
            go = VersionRange.parse(d["go"]) if "go" in d else ALL_RELEASES
        except ValueError as e:
            raise self.fail(["go"], str(e)) from e
        return Manifest(
            path=self.path,
            id=cid,
            area=cid.split("/")[0] if "/" in cid else "misc",
            title=d["title"],
            refs=tuple(d["refs"]),
            notes=d.get("notes", ""),
            go=go,
            requires=frozenset(d.get("requires", ())),
            mode=program["mode"],
            files=self._files(program["files"]),
            flags=self._flags(program.get("flags", [])),
            build=build,
            load=module.get("load", "ok"),
            exports=exports,
            wasi_args=tuple(wasi.get("args", ["main.wasm"])),
            wasi_env=tuple(sorted(wasi.get("env", {}).items())),
            imports=imports,
            steps=steps,
            build_line=line_at(d, ["build"]),
            module_line=line_at(d, ["module"]),
            releases=self._releases(),
        )

    def _releases(self) -> tuple[Release, ...]:
        out: list[Release] = []
        for i, entry in enumerate(self.doc.get("releases", ())):
            at: list[str | int] = ["releases", i]
            try:
                rng = VersionRange.parse(entry["go"])
            except ValueError as e:
                raise self.fail([*at, "go"], str(e)) from e
            actual_doc = LineDict({k: v for k, v in self.doc.items() if k != "releases"})
            actual_doc.line = getattr(self.doc, "line", 1)
            actual_doc.key_lines = dict(getattr(self.doc, "key_lines", {}))
            for key in ("build", "module", "imports", "script"):
                if key in entry:
                    actual_doc[key] = entry[key]
                    actual_doc.key_lines[key] = getattr(entry, "key_lines", {}).get(key, 0)
                elif key in ("module", "script") and entry.get("build", {}).get("outcome", "ok") != "ok":
                    actual_doc.pop(key, None)  # a failing build has no module or script
            try:
                actual = _Builder(self.path, self.root, actual_doc).build()
            except ManifestError as e:
                raise ManifestError(e.path, e.line, f"{dotted(at)}: {e.message}") from e
            overlap = [r for r in out if any(r.go.contains(v) for v in _probe_versions(rng))]
            if overlap:
                raise self.fail([*at, "go"], f"{rng} overlaps the entry for {overlap[0].go}")
            out.append(Release(rng, entry["finding"], entry.get("link", ""), line_at(self.doc, at),
                               actual))
        return tuple(out)

    def _files(self, files: dict[str, Any]) -> tuple[tuple[str, str], ...]:
        """The case's files, each inside the case (see harness/isolation.py)."""
        out = []
        total = 0
        for name, spec in sorted(files.items()):
            at: list[str | int] = ["program", "files", name]
            problem = isolation.file_name_problem(name)
            if problem:
                raise self.fail(at, problem)
            if isinstance(spec, dict):
                try:
                    body = isolation.read_beside(self.path, spec["path"])
                except (OSError, ValueError) as e:
                    raise self.fail([*at, "path"], f"cannot use {spec['path']!r}: {e}") from e
            else:
                body = spec
            total += len(body.encode())
            if total > isolation.MAX_FILE_BYTES:
                raise self.fail(at, f"the case's files exceed {isolation.MAX_FILE_BYTES} bytes")
            if name == "go.mod":
                bad = isolation.go_mod_problem(body)
                if bad:
                    raise self.fail(at, f"go.mod line {bad[0]}: {bad[1]}")
            out.append((name, body))
        return tuple(out)

    def _flags(self, flags: list[str]) -> tuple[str, ...]:
        for i, flag in enumerate(flags):
            problem = isolation.flag_problem(flag)
            if problem:
                raise self.fail(["program", "flags", i], problem)
        return tuple(flags)

    def _build_expect(self) -> BuildExpect:
        b = self.doc.get("build", {})
        outcome = b.get("outcome", "ok")
        diags = tuple(
            Diagnostic(x.get("file"), x.get("line"), x["message"], bool(x.get("match")))
            for x in b.get("diagnostics", ())
        )
        for i, d in enumerate(diags):
            if d.is_regex:
                try:
                    compile_pattern(d.message)
                except PatternError as e:
                    raise self.fail(["build", "diagnostics", i, "message"], str(e)) from e
        if outcome == "error" and not diags and "output" not in b:
            raise self.fail(["build"], "a build error case must give diagnostics or output")
        if outcome != "error" and diags:
            raise self.fail(["build", "diagnostics"], "diagnostics only go with outcome: error")
        try:
            output = TextExpect.parse(b["output"]) if "output" in b else TextExpect("any")
        except PatternError as e:
            raise self.fail(["build", "output"], f"bad regular expression: {e}") from e
        return BuildExpect(outcome, diags, output)

    def _exports(self, module: dict[str, Any]) -> dict[str, ExportType] | None:
        if "exports" not in module:
            return None
        out = {}
        for name, text in module["exports"].items():
            try:
                out[name] = ExportType.parse(text)
            except ValueError as e:
                raise self.fail(["module", "exports", name], str(e)) from e
        return out

    def _value(self, where: list[str | int], doc: Any) -> Value:
        try:
            return values.from_manifest(doc)
        except values.ValueError_ as e:
            raise self.fail(where, str(e)) from e

    def _pattern(self, where: list[str | int], doc: Any) -> ValuePattern:
        try:
            return values.pattern_from_manifest(doc)
        except values.ValueError_ as e:
            raise self.fail(where, str(e)) from e

    def _func(self, exports: dict[str, ExportType] | None, name: str) -> ExportType | None:
        if exports is None:
            return None
        return exports.get(name)

    def _steps(self, exports: dict[str, ExportType] | None) -> tuple[Step, ...]:
        out = []
        loads = self.doc.get("module", {}).get("load", "ok") == "ok"
        for i, s in enumerate(self.doc.get("script", ())):
            at: list[str | int] = ["script", i]
            sig = self._func(exports, s["call"])
            if exports is not None and loads and (sig is None or sig.kind != "func"):
                raise self.fail([*at, "call"], f"{s['call']!r} is not a function in module.exports")
            args = tuple(self._value([*at, "args", j], a) for j, a in enumerate(s.get("args", ())))
            if sig is not None and tuple(a.t for a in args) != sig.params:
                raise self.fail(
                    [*at, "args"],
                    f"{s['call']} takes ({', '.join(sig.params)}), "
                    f"the step passes ({', '.join(a.t for a in args)})",
                )
            expect = self._expect([*at, "expect"], s.get("expect", {}), sig)
            out.append(
                Step(
                    index=i,
                    line=line_at(self.doc, at),
                    call=s["call"],
                    args=args,
                    timeout_ms=s.get("timeout_ms", DEFAULT_STEP_TIMEOUT_MS),
                    expect=expect,
                    note=s.get("note", ""),
                )
            )
        if len(out) > MAX_STEPS:
            raise self.fail(["script"], f"{len(out)} steps; a case may have at most {MAX_STEPS}")
        total = sum(st.timeout_ms for st in out)
        if total > MAX_CASE_TIMEOUT_MS:
            raise self.fail(["script"], f"the steps' timeouts add up to {total} ms; a case may "
                            f"wait at most {MAX_CASE_TIMEOUT_MS} ms in all")
        return tuple(out)

    def _expect(self, at: list[str | int], e: dict[str, Any], sig: ExportType | None) -> Expect:
        outcome: Literal["ok", "trap", "exit", "any"] = (
            "trap" if "trap" in e else "exit" if "exit" in e else "any" if "undefined" in e else "ok"
        )
        returns = tuple(self._pattern([*at, "returns", j], v) for j, v in enumerate(e.get("returns", ())))
        if outcome == "ok" and sig is not None and tuple(p.t for p in returns) != sig.results:
            raise self.fail(
                [*at, "returns"],
                f"the export returns ({', '.join(sig.results)}), "
                f"the expectation lists ({', '.join(p.t for p in returns)})",
            )
        trace: tuple[str, ...] | None
        tr = e.get("trace", [])
        if isinstance(tr, dict):
            trace = None
        else:
            trace = tuple(self._trace_event([*at, "trace", j], ev) for j, ev in enumerate(tr))
        dur = e.get("duration_ms", {})
        try:
            stdout, stderr = TextExpect.parse(e.get("stdout")), TextExpect.parse(e.get("stderr"))
            for name, t in (("stdout", stdout), ("stderr", stderr)):
                if len(t.text.encode()) + sum(len(f.encode()) for f in t.fragments) > MAX_EXPECTED_TEXT:
                    raise self.fail([*at, name], f"an expectation longer than {MAX_EXPECTED_TEXT} "
                                    "bytes: runners keep that much of a stream")
        except PatternError as err:
            raise self.fail(at, f"bad regular expression: {err}") from err
        return Expect(
            outcome=outcome,
            returns=returns,
            trap=e.get("trap"),
            exit=e.get("exit"),
            stdout=stdout,
            stderr=stderr,
            trace=trace,
            duration_min_ms=dur.get("min"),
            duration_max_ms=dur.get("max"),
        )

    def _trace_event(self, at: list[str | int], ev: dict[str, Any]) -> str:
        """Normalise a manifest trace event to the canonical one-line form (see trace.py)."""
        try:
            return trace.from_manifest(ev)
        except ValueError as e:
            raise self.fail(at, str(e)) from e

    def _imports(self, exports: dict[str, ExportType] | None) -> tuple[HostFunction, ...]:
        out = []
        for key, spec in self.doc.get("imports", {}).items():
            at: list[str | int] = ["imports", key]
            module, name = key.split(".", 1)
            params, results = tuple(spec["params"]), tuple(spec["results"])
            ops = []
            for j, op in enumerate(spec.get("do", ())):
                ops.append(self._op([*at, "do", j], op, params, exports))
            ret = [self._expr([*at, "return", j], x, params) for j, x in enumerate(spec.get("return", ()))]
            if len(ret) != len(results):
                raise self.fail(
                    [*at, "return"], f"declares {len(results)} result(s), returns {len(ret)}"
                )
            for j, (x, t) in enumerate(zip(ret, results, strict=True)):
                if "value" in x and x["value"]["t"] != t:
                    raise self.fail([*at, "return", j], f"result {j} is {t}, not {x['value']['t']}")
                if "param" in x and params[x["param"]] != t:
                    raise self.fail([*at, "return", j], f"param {x['param']} is not {t}")
            proto = {"module": module, "name": name, "params": list(params),
                     "results": list(results), "do": ops, "return": ret}
            out.append(HostFunction(module, name, params, results, proto))
        return tuple(out)

    def _op(
        self,
        at: list[str | int],
        op: dict[str, Any],
        params: tuple[str, ...],
        exports: dict[str, ExportType] | None,
    ) -> dict[str, Any]:
        if "call" in op:
            sig = self._func(exports, op["call"])
            if exports is not None and (sig is None or sig.kind != "func"):
                raise self.fail([*at, "call"], f"{op['call']!r} is not a function in module.exports")
            args = [self._expr([*at, "args", j], x, params) for j, x in enumerate(op.get("args", ()))]
            if sig is not None and len(args) != len(sig.params):
                raise self.fail([*at, "args"], f"{op['call']} takes {len(sig.params)} argument(s)")
            return {"call": op["call"], "args": args}
        if "read" in op:
            r = op["read"]
            return {"read": {"ptr": self._expr([*at, "read", "ptr"], r["ptr"], params),
                             "len": self._expr([*at, "read", "len"], r["len"], params)}}
        if "write" in op:
            w = op["write"]
            return {"write": {"ptr": self._expr([*at, "write", "ptr"], w["ptr"], params),
                              "hex": w["hex"].lower()}}
        return {"trap": op["trap"]}

    def _expr(self, at: list[str | int], x: dict[str, Any], params: tuple[str, ...]) -> dict[str, Any]:
        if "param" in x:
            if x["param"] >= len(params):
                raise self.fail(at, f"param {x['param']} does not exist ({len(params)} params)")
            return {"param": x["param"]}
        if "result" in x:
            return {"result": x["result"]}
        return {"value": self._value(at, x).to_protocol()}
