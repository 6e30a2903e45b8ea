"""Manifests: one YAML file describes one case. Loading = parse, schema-check, semantic dry run.

The dry run rejects a script that could never be judged (a call to an export the module does
not declare, wrong argument types, a host function returning the wrong count) before anything is
built, with the file, the line and the field at fault.
"""

from __future__ import annotations

import json
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any, Literal

import jsonschema

from harness import hostfunctions, isolation, trace, values, variants
from harness.model import (
    BuildExpect,
    Diagnostic,
    Expect,
    ExportType,
    HostFunction,
    ImportSpec,
    Manifest,
    Release,
    Step,
    TextExpect,
)
from harness.patterns import PatternError, compile_pattern
from harness.script import Bindings, bytes_expect, data_of
from harness.values import Value, ValuePattern
from harness.versions import ALL_RELEASES, VersionRange
from harness.yamlsrc import LineDict, YamlError, dotted, line_at
from harness.yamlsrc import load as load_yaml

__all__ = [  # the model (harness/model.py), for the users of this module
    "BuildExpect", "Diagnostic", "Expect", "ExportType", "HostFunction", "ImportSpec", "Manifest",
    "ManifestError", "Release", "Step", "TextExpect", "case_id", "load",
]

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



# -- loading -----------------------------------------------------------------------------------


def case_id(path: Path, root: Path = MANIFEST_DIR) -> str:
    """``manifests/types/ints.yaml`` -> ``types/ints``."""
    try:
        rel = path.resolve().relative_to(root.resolve())
    except ValueError:
        rel = Path(path.name)
    return rel.with_suffix("").as_posix()


def load(path: Path, root: Path = MANIFEST_DIR, text: str | None = None) -> Manifest:
    """Read, validate and model one manifest; raises ManifestError naming file, line and field.
    `text` stands for the file's contents (generated cases have no file)."""
    try:
        doc = load_yaml(path, text)
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


def _targets(doc: Any) -> tuple[str, ...]:
    return (doc,) if isinstance(doc, str) else tuple(doc)


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

    def __init__(self, path: Path, root: Path, doc: dict[str, Any], target: str | None = None,
                 variant: bool = False) -> None:
        self.path, self.root, self.doc = path, root, doc
        self.targets = _targets(doc["program"].get("target", "wasip1"))
        self.target = target or self.targets[0]
        self.variant = variant  # building a target's or a release's own view of the case

    def fail(self, where: list[str | int], message: str) -> ManifestError:
        return ManifestError(self.path, line_at(self.doc, where), f"{dotted(where)}: {message}")

    def build(self) -> Manifest:
        if not self.variant:
            return self._on_target(self.target)
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
        self._check_refs(imports, steps)
        cid = case_id(self.path, self.root)
        wasi = d.get("wasi", {})
        stdin = wasi.get("stdin", "")
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
            wasi_env=self._env(wasi.get("env", {})),
            wasi_stdin=data_of(["wasi", "stdin"], stdin, self.fail) if isinstance(stdin, dict)
            else str(stdin).encode(),
            memory_bytes=self._memory_bytes(),
            import_section=self._import_section(module.get("imports")),
            memory_pages=(None if "memory" not in module else
                          (module["memory"]["min"], module["memory"].get("max"))),
            streams=self._streams(),
            imports=imports,
            steps=steps,
            build_line=line_at(d, ["build"]),
            module_line=line_at(d, ["module"]),
            releases=self._releases(),
            target=self.target,  # type: ignore[arg-type]
            targets=self.targets,
        )

    def _on_target(self, target: str) -> Manifest:
        """The case on `target`, with the other targets' views as its variants."""
        main = self._target_view(target)
        others = tuple(self._target_view(t) for t in self.targets if t != target)
        return replace(main, variants=others)

    def _target_view(self, target: str) -> Manifest:
        """The document with the `<target>:` block's sections in place, built for that target."""
        doc = variants.replaced(self.doc, self.doc.get(target, {}))
        try:
            return _Builder(self.path, self.root, doc, target, variant=True).build()
        except ManifestError as e:
            if target == self.targets[0] or target not in self.doc:
                raise
            raise ManifestError(e.path, e.line, f"{target}: {e.message}") from e

    def _env(self, env: Any) -> tuple[tuple[str, str], ...]:
        """A list of ``NAME=value`` keeps its order; a mapping is sorted by name."""
        if isinstance(env, dict):
            return tuple(sorted((str(k), str(v)) for k, v in env.items()))
        out = []
        for i, item in enumerate(env):
            name, eq, value = str(item).partition("=")
            if not eq or not name:
                raise self.fail(["wasi", "env", i], f"{item!r} is not NAME=value")
            out.append((name, value))
        return tuple(out)

    def _memory_bytes(self) -> int | None:
        limits = self.doc.get("limits", {})
        if "memory_pages" in limits:
            return int(limits["memory_pages"]) * 65536
        return None if "memory_bytes" not in limits else int(limits["memory_bytes"])

    def _import_section(self, doc: Any) -> tuple[ImportSpec, ...] | None:
        if doc is None:
            return None
        out = []
        for i, entry in enumerate(doc):
            ((key, text),) = entry.items()
            module, dot, name = key.partition(".")
            if not dot:
                raise self.fail(["module", "imports", i], f"{key!r} is not module.name")
            try:
                out.append(ImportSpec(module, name, ExportType.parse(text)))
            except ValueError as e:
                raise self.fail(["module", "imports", i], str(e)) from e
        return tuple(out)

    def _streams(self) -> tuple[TextExpect, TextExpect] | None:
        doc = self.doc.get("streams")
        if doc is None:
            return None
        try:
            return TextExpect.parse(doc.get("stdout")), TextExpect.parse(doc.get("stderr"))
        except PatternError as e:
            raise self.fail(["streams"], f"bad regular expression: {e}") from e

    def _check_refs(self, imports: tuple[HostFunction, ...], steps: tuple[Step, ...]) -> None:
        """A host function's ``{ref}`` names a value some step binds."""
        bound = {n for st in steps for n in st.bind if n}
        for h in imports:
            for name in hostfunctions.refs(h.spec):
                if name not in bound:
                    raise self.fail(["imports", f"{h.module}.{h.name}"],
                                    f"{name!r} is bound by no step (`as:` on a call)")

    def _releases(self) -> tuple[Release, ...]:
        def build(doc: LineDict) -> Manifest:
            return _Builder(self.path, self.root, doc, self.target, variant=True).build()

        def error(e: YamlError, where: str) -> YamlError:
            return ManifestError(e.path, e.line, f"{where}: {e.message}")

        return variants.releases(self, build, error)

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
        names = Bindings(self.fail)
        default_timeout = self.doc.get("limits", {}).get("timeout_ms", DEFAULT_STEP_TIMEOUT_MS)
        for i, s in enumerate(self.doc.get("script", ())):
            at: list[str | int] = ["script", i]
            common = {"index": i, "line": line_at(self.doc, at), "note": s.get("note", ""),
                      "timeout_ms": s.get("timeout_ms", default_timeout)}
            if "write" in s or "read" in s:
                out.append(self._memory_step(at, s, names, common))
                continue
            if "run" in s:
                if self.target != "js":
                    raise self.fail([*at, "run"], "a run step (go.run) is for the js target; "
                                    "on wasip1 call _start or _initialize")
                expect = self._expect([*at, "expect"], s.get("expect", {}), None)
                out.append(Step(call="", args=(), expect=expect, kind="run", **common))
                continue
            sig = self._func(exports, s["call"])
            if exports is not None and loads and (sig is None or sig.kind != "func"):
                raise self.fail([*at, "call"], f"{s['call']!r} is not a function in module.exports")
            args = tuple(names.operand([*at, "args", j], a) for j, a in enumerate(s.get("args", ())))
            if sig is not None and tuple(a.t for a in args) != sig.params:
                raise self.fail(
                    [*at, "args"],
                    f"{s['call']} takes ({', '.join(sig.params)}), "
                    f"the step passes ({', '.join(a.t for a in args)})",
                )
            expect = self._expect([*at, "expect"], s.get("expect", {}), sig)
            bind = names.bind([*at, "as"], s["as"], sig.results if sig else None) if "as" in s else ()
            out.append(Step(call=s["call"], args=args, expect=expect, bind=bind, **common))
        if len(out) > MAX_STEPS:
            raise self.fail(["script"], f"{len(out)} steps; a case may have at most {MAX_STEPS}")
        total = sum(st.timeout_ms for st in out)
        if total > MAX_CASE_TIMEOUT_MS:
            raise self.fail(["script"], f"the steps' timeouts add up to {total} ms; a case may "
                            f"wait at most {MAX_CASE_TIMEOUT_MS} ms in all")
        return tuple(out)

    def _memory_step(self, at: list[str | int], s: dict[str, Any], names: Bindings,
                     common: dict[str, Any]) -> Step:
        """``write: {ptr, text | hex}`` or ``read: {ptr, len}`` with ``expect: {bytes}``."""
        kind: Literal["write", "read"] = "write" if "write" in s else "read"
        body = s[kind]
        ptr = names.operand([*at, kind, "ptr"], body["ptr"], "i32")
        e = s.get("expect", {})
        expect = self._expect([*at, "expect"], {k: v for k, v in e.items() if k != "bytes"}, None)
        if kind == "write":
            return Step(call="", args=(), expect=expect, kind="write", ptr=ptr,
                        data=data_of([*at, "write"], body, self.fail), **common)
        length = names.operand([*at, "read", "len"], body["len"], "i32")
        if length.value is not None and length.value.bits > MAX_EXPECTED_TEXT:
            raise self.fail([*at, "read", "len"], f"a read of at most {MAX_EXPECTED_TEXT} bytes")
        if expect.outcome == "ok" and "bytes" not in e:
            raise self.fail([*at, "expect"], "a read step says what it must find: expect.bytes")
        found = bytes_expect([*at, "expect", "bytes"], e["bytes"], self.fail) if "bytes" in e else None
        return Step(call="", args=(), expect=replace(expect, bytes=found), kind="read", ptr=ptr,
                    length=length, **common)

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
        return hostfunctions.read(self.doc.get("imports", {}), exports, self.fail, self._value)
