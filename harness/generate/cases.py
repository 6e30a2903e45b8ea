"""Generated signatures as ordinary manifests: YAML text the real loader reads and checks.

Batching: signatures are taken in blocks of `BLOCK` consecutive numbers; every signature of a
block that is expected to build shares one program (the whole block's Go source), so all their
manifests carry the same files and the content-addressed build cache builds the module once.
A signature expected not to build (over 128 bytes), one gc crashes on (over 16 Wasm
parameters) and a shrunk signature each get a module of their own. A manifest is a function of
its key alone (``seed/n``), whatever the count asked for, so a printed rerun rebuilds it exactly.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

from harness.generate import expected as ex
from harness.generate import gosource
from harness.generate.gotypes import GoType
from harness.generate.shrink_steps import apply_path
from harness.generate.signature import Sig, Val, generate, parse_key
from harness.manifest import Manifest, load

BLOCK = 20
STEP_TIMEOUT_MS = 3000
IMPORT_MODULE = "gen"
REFS = [
    "https://pkg.go.dev/cmd/compile#hdr-WebAssembly_Directives",
    "https://github.com/golang/go/issues/65199",
    "https://github.com/golang/go/blob/master/src/cmd/compile/internal/ssagen/abi.go",
    "https://github.com/golang/go/blob/master/src/cmd/internal/obj/wasm/wasmobj.go",
]
CRASH_LINK = "https://github.com/golang/go/blob/master/src/cmd/internal/obj/wasm/wasmobj.go"


def signature(key: str) -> Sig:
    """The signature a key names: ``seed/n`` as generated, ``seed/n~i.j`` shrunk by those steps."""
    seed, n, path = parse_key(key)
    return apply_path(generate(seed, n), path)


@cache
def block(seed: int, index: int) -> tuple[tuple[Sig, ...], str, tuple[tuple[str, str], ...]]:
    """The signatures of block `index` that share a module, its Go source and export section."""
    sigs = tuple(s for s in (generate(seed, n) for n in range(index * BLOCK, (index + 1) * BLOCK))
                 if s.outcome == "ok")
    return sigs, gosource.program(list(sigs)), tuple(gosource.export_section(list(sigs)).items())


def module_of(sig: Sig) -> tuple[list[Sig], str, dict[str, str]]:
    """The signatures sharing `sig`'s module (itself included), the source and export section."""
    if sig.path or sig.outcome != "ok":
        return [sig], gosource.program([sig]), gosource.export_section([sig])
    sigs, source, exports = block(sig.seed, sig.n // BLOCK)
    return list(sigs), source, dict(exports)


def _v(t: str, bits: ex.Bits) -> dict[str, Any]:
    """A manifest value: signed decimal integers, floats as raw bits, ``*`` for a guest pointer."""
    if bits == ex.ANY:
        return {t: "*"}
    assert isinstance(bits, int)
    if t in ("f32", "f64"):
        return {t: f"0x{bits:0{8 if t == 'f32' else 16}x}"}
    width = 32 if t == "i32" else 64
    return {t: bits - (1 << width) if bits >> (width - 1) else bits}


def host_function(sig: Sig) -> dict[str, Any]:
    """The host function hNNNNN: reads what each pointer and string points at, re-enters the
    export's ``_sum`` if the signature says so, and returns per `sig.ret`."""
    params = [w for t in sig.params for w in t.wasm]
    do: list[dict[str, Any]] = []
    first = sig.calls[0] if sig.calls else tuple(None for _ in sig.params)
    for k, t in enumerate(sig.params):
        w = ex.wasm_index(sig, k)
        if t.kind == "string":
            do.append({"read": {"ptr": {"param": w - 1}, "len": {"param": w}}})
        elif t.is_pointer and first[k] is not None and t.content_size:
            do.append({"read": {"ptr": {"param": w}, "len": {"i32": t.content_size}}})
    if sig.reenter:
        do.append({"call": f"{sig.name}_sum", "args": []})
    results = list(sig.result.wasm) if sig.result else []
    r = sig.ret
    ret = ([] if r.kind == "none" else [_v(results[0], r.value)] if r.kind == "const"
           else [{"result": 0}] if r.kind == "call" else [{"param": ex.wasm_index(sig, r.value)}])
    return {"params": params, "results": results, "do": do, "return": ret}


def stub(sig: Sig) -> dict[str, Any]:
    """Another signature's host function, there for the module to link: it is never called."""
    results = list(sig.result.wasm) if sig.result else []
    return {"params": [w for t in sig.params for w in t.wasm], "results": results,
            "return": [_v(w, 0) for w in results]}


def _trace(sig: Sig, call: tuple[Val, ...]) -> list[dict[str, Any]]:
    args = [_v(w, a) for w, a in zip([w for t in sig.params for w in t.wasm],
                                     ex.host_args(sig, call), strict=True)]
    out: list[dict[str, Any]] = [{"import": f"{IMPORT_MODULE}.h{sig.name[1:]}", "args": args}]
    for k, t in enumerate(sig.params):
        v = call[k]
        if t.kind == "string" or (t.is_pointer and v is not None and t.content_size):
            assert isinstance(v, bytes)
            out.append({"read_hex": (v if t.kind == "string" else v[:t.content_size]).hex()})
    if sig.reenter:
        out += [{"export": f"{sig.name}_sum", "args": []},
                {"export_return": [_v("i64", ex.checksum(ex.observations(sig, call)))]}]
    value = ex.host_value(sig, call)
    out.append({"import_return": [] if value is None or sig.result is None
                else [_v(sig.result.wasm[0], value)]})
    return out


def _pass(t: GoType, v: Val, name: str, steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The arguments that pass `v`; a string or pointee goes into an alloc'd buffer first."""
    if not (t.is_pointer or t.kind == "string"):
        assert isinstance(v, int)
        return [_v(t.wasm[0], v)]
    if v is None or (t.kind == "string" and not v):
        return [{"i32": 0}] * len(t.wasm)
    assert isinstance(v, bytes)
    steps.append({"call": "alloc", "args": [{"i32": max(1, len(v))}], "as": name,
                  "expect": {"returns": [{"i32": "*"}]}})
    if v:
        steps.append({"write": {"ptr": {"ref": name}, "hex": v.hex()}})
    return [{"ref": name}] + ([{"i32": len(v)}] if t.kind == "string" else [])


def script(sig: Sig) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = [{"call": "_initialize"}]
    for c, call in enumerate(sig.calls):
        args: list[dict[str, Any]] = []
        for k, (t, v) in enumerate(zip(sig.params, call, strict=True)):
            args += _pass(t, v, f"p{c}_{k}", steps)
        main: dict[str, Any] = {"call": sig.name, "args": args, "expect": {"trace": _trace(sig, call)}}
        steps.append(main)
        result = ex.export_result(sig, call)
        if sig.result is not None and result is not None:
            main["expect"]["returns"] = [_v(sig.result.wasm[0], result)]
            if result == ex.ANY:  # a pointer the host handed back: what it points at
                main["as"] = f"r{c}"
                src = call[sig.ret.value]
                t = sig.params[sig.ret.value]
                if isinstance(src, bytes) and t.content_size:
                    steps.append({"read": {"ptr": {"ref": f"r{c}"}, "len": t.content_size},
                                  "expect": {"bytes": {"hex": src[:t.content_size].hex()}}})
        for k, (t, v) in enumerate(zip(sig.params, call, strict=True)):
            w, bits = ex.getter(t, v)
            steps.append({"call": f"{sig.name}_{k}", "expect": {"returns": [_v(w, bits)]}})
        steps.append({"call": f"{sig.name}_sum",
                      "expect": {"returns": [_v("i64", ex.checksum(ex.observations(sig, call)))]}})
    return steps


def _title(sig: Sig) -> str:
    title = f"generated {sig.key}: {sig.go()}"
    if len(title) <= 140:
        return title
    res = sig.result.go if sig.result else "no result"
    return (f"generated {sig.key}: {len(sig.params)} parameters ({sig.wasm_params} Wasm, "
            f"{sig.width} bytes) -> {res}")[:140]


def document(sig: Sig) -> dict[str, Any]:
    """The manifest of one signature, as a YAML-ready document."""
    doc: dict[str, Any] = {
        "title": _title(sig), "refs": REFS,
        "notes": (f"Generated signature {sig.key} (harness/generate): {sig.go()}. ArgWidth "
                  f"{sig.width} bytes, {sig.wasm_params} Wasm parameters. Expected values come "
                  "from the Go and Wasm rules in harness/generate/expected.py, the build outcome "
                  "from the 128-byte rule (cmd/compile ssagen/abi.go)."),
    }
    if sig.outcome == "error":
        source, line = gosource.rejected_program(sig)
        doc["program"] = {"mode": "reactor", "files": {"main.go": source}}
        doc["build"] = {"outcome": "error", "diagnostics": [
            {"file": "main.go", "line": line, "message": gosource.DIAGNOSTIC}]}
        return doc
    sigs, source, exports = module_of(sig)
    doc["requires"] = ["host_imports"] + (["exact_f32"] if ex.needs_exact_f32(sig) else [])
    doc["program"] = {"mode": "reactor", "files": {"main.go": source}}
    doc["module"] = {"exports": exports}
    doc["limits"] = {"timeout_ms": STEP_TIMEOUT_MS}
    doc["imports"] = {f"{IMPORT_MODULE}.h{s.name[1:]}": host_function(s) if s == sig else stub(s)
                      for s in sigs}
    doc["script"] = script(sig)
    if sig.outcome == "crash":
        doc["releases"] = [{
            "go": ">=1.24",
            "finding": (
                f"Compiler crash: the 128-byte check passes ({sig.width} bytes), but "
                "genWasmExportWrapper in cmd/internal/obj/wasm addresses parameters through the "
                f"16 Wasm argument registers (R0-R15), so with {sig.wasm_params} Wasm parameters "
                "the 17th has no register and the assembler panics with `internal compiler "
                "error: panic: bad Get: invalid register`. No module is produced "
                "(boundaries/params-17-int32)."),
            "link": CRASH_LINK,
            "build": {"outcome": "crash", "output": {"contains": [
                "main.go:", "internal compiler error: panic: bad Get: invalid register"]}},
        }]
    return doc


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    def ignore_aliases(self, data: Any) -> bool:  # every value written out, no &anchors
        return True


def _str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _str)


def text(sig: Sig) -> str:
    return str(yaml.dump(document(sig), Dumper=_Dumper, sort_keys=False, width=100,
                         default_flow_style=None,
                         allow_unicode=True))


def path(root: Path, sig: Sig) -> Path:
    """Where the case would be: ``<root>/generated/<seed>/<n>[~path].yaml`` (it is never written)."""
    return root / "generated" / str(sig.seed) / f"{sig.key.split('/', 1)[1]}.yaml"


def load_case(sig: Sig, root: Path) -> Manifest:
    """The signature's manifest through the real loader (schema and checks); ManifestError if not."""
    return load(path(root, sig), root, text=text(sig))
