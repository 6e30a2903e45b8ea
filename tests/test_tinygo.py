"""TinyGo as a toolchain family, and the js target: names, the missing-package message, and real
builds run on wasmtime (and Node for js). Tests that build with TinyGo skip, with the reason,
only when the Debian packages it needs are absent (`tinygo.apt_command` names them); the install
itself goes to the shared cache, so only the first run pays for it."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import wasmtime

from harness import tinygo, toolchains
from harness.build import build, build_key, parse_diagnostics, tinygo_flags
from harness.manifest import load as load_manifest
from harness.toolchains import Toolchain, ToolchainUnavailable, check, label, resolve

RECIPE = tinygo.RECIPES[(0, 40, 1)]
REACTOR = """\
title: A TinyGo reactor adds
refs: [https://go.dev/blog/wasmexport]
program:
  mode: reactor
  files:
    main.go: |
      package main

      //go:wasmexport add
      func add(a, b int32) int32 { return a + b }

      func main() {}
module:
  exports:
    add: (i32, i32) -> i32
script:
  - call: add
    args: [{i32: 2}, {i32: 3}]
    expect: {returns: [{i32: 5}]}
"""


@pytest.fixture(scope="module")
def debian_packages() -> None:
    try:
        tinygo.debian(RECIPE)
    except ToolchainUnavailable as e:
        pytest.skip(str(e))


@pytest.fixture(scope="module", params=["tinygo0.40.1", "tinygo0.40.1-none"])
def tc(request, debian_packages) -> Toolchain:
    return resolve(request.param)


@pytest.fixture
def reactor(manifest_file, tmp_path):
    def make(text: str = REACTOR):
        return load_manifest(manifest_file(text), root=tmp_path / "manifests")

    return make


def exports(module: Path) -> dict[str, str]:
    mod = wasmtime.Module.from_file(wasmtime.Engine(), str(module))
    return {e.name: type(e.type).__name__ for e in mod.exports}


def instantiate(module: Path) -> tuple[wasmtime.Store, wasmtime.Instance]:
    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    store.set_wasi(wasmtime.WasiConfig())
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    return store, linker.instantiate(store, wasmtime.Module.from_file(engine, str(module)))


def test_names_are_labels_without_installing_anything(monkeypatch):
    monkeypatch.setattr(tinygo, "install", lambda *_: pytest.fail("installed"))
    assert label("tinygo0.40.1") == "tinygo0.40.1"
    assert label(" tinygo0.40.1-none ") == "tinygo0.40.1-none"
    assert label("tinygo0.40.1-asyncify") == "tinygo0.40.1", "asyncify is the default"
    check("tinygo0.40.1-none")


@pytest.mark.parametrize(("name", "says"), [
    ("tinygo0.40", "name the TinyGo release in full"),
    ("tinygo0.39.0", "no build recipe"),
    ("tinygo0.40.1-tasks", "not a TinyGo toolchain name"),
])
def test_names_that_cannot_work_are_usage_errors(name, says):
    with pytest.raises(ValueError, match=says):
        check(name)
    with pytest.raises(ToolchainUnavailable, match=says):
        label(name)


@pytest.mark.parametrize("lookup", ["LLVM_CONFIG", "DPKG_QUERY", "WASM_OPT"])
def test_a_missing_debian_package_names_the_apt_command(monkeypatch, lookup):
    monkeypatch.setattr(tinygo, lookup, "no-such-program-{llvm}")
    monkeypatch.setattr(toolchains, "resolve", lambda *_: pytest.fail("fetched a Go"))
    with pytest.raises(ToolchainUnavailable) as e:
        toolchains._tinygo("tinygo0.40.1", "tinygo0.40.1")
    assert tinygo.apt_command(RECIPE) in str(e.value)
    assert "llvm-19-dev" in tinygo.apt_command(RECIPE)


def test_flags_tinygo_reads_alike_pass_and_others_refuse_the_build():
    assert tinygo_flags(("-a", "-buildvcs=false", "-tags=x,y", "-ldflags=-w -X main.v=1")) == (
        ["-tags=x,y", "-ldflags=-X main.v=1"], None)
    for flag in ("-v", "-gcflags=-N -l", "-ldflags=-s"):
        assert tinygo_flags((flag,))[1] is not None, flag


def test_tinygo_diagnostics_parse_like_gc():
    out = ("# wasmcase\nmain.go:12:14: cannot use \"s\" (untyped string constant) as int value\n"
           "./sub/s.go:4:10: //go:wasmexport bad: unsupported parameter type []int\n")
    assert [(d.file, d.line, d.column) for d in parse_diagnostics(out)] == [
        ("main.go", 12, 14), ("sub/s.go", 4, 10)]


def test_a_reactor_runs_under_each_scheduler(tc, reactor):
    assert (tc.family, tc.version, tc.go_release[:2]) == ("tinygo", (0, 40, 1), (1, 25))
    assert tc.rerun_arg == tc.name and label(tc.rerun_arg) == tc.name
    assert f"-scheduler={tc.scheduler}" in tc.version_line and "wasi-libc" in tc.version_line
    m = reactor()
    result = build(m, tc)
    assert result.outcome == "ok", result.output
    assert result.module is not None
    found = exports(result.module)
    assert found["add"] == "FuncType" and found["memory"] == "MemoryType"
    assert any(n.startswith("asyncify_") for n in found) == (tc.scheduler == "asyncify")
    store, inst = instantiate(result.module)
    inst.exports(store)["_initialize"](store)
    assert inst.exports(store)["add"](store, 2, 3) == 5
    assert b"/tmp/" not in result.module.read_bytes(), "no build directory recorded (no DWARF)"


def test_the_key_tells_schedulers_targets_and_families_apart(tc, reactor):
    m = reactor()
    gc = resolve(toolchains.DEFAULT)
    other = resolve("tinygo0.40.1-none" if tc.scheduler == "asyncify" else "tinygo0.40.1")
    keys = {build_key(m, tc), build_key(m, other), build_key(dataclasses.replace(m, target="js"), tc),
            build_key(m, gc), build_key(dataclasses.replace(m, target="js"), gc)}
    assert len(keys) == 5


def test_type_errors_and_bad_exports_are_positioned_diagnostics(tc, reactor):
    text = REACTOR.replace("func main() {}", 'func main() { var x int = "s"; _ = x }')
    result = build(reactor(text), tc)
    assert result.outcome == "error"
    assert [(d.file, d.line) for d in result.diagnostics] == [("main.go", 6)], result.output
    text = REACTOR.replace("(a, b int32) int32 { return a + b }",
                           "(a, b int) int32 { return int32(a + b) }")
    result = build(reactor(text), tc)
    assert [(d.file, d.line, d.column, d.message) for d in result.diagnostics] == [
        ("main.go", 4, col, "//go:wasmexport add: unsupported parameter type int")
        for col in (10, 13)], result.output


def test_tags_and_ldflags_x_reach_tinygo(tc, reactor, tmp_path):
    text = REACTOR.replace("  mode: reactor\n", "  mode: reactor\n"
                           "  flags: [-tags=extra, '-ldflags=-w -X main.word=hello']\n")
    text = text.replace("func add(a, b int32) int32 { return a + b }",
                        "var word string\n\n      //go:wasmexport add\n"
                        "      func add(a, b int32) int32 { return a + b + int32(len(word)) + bonus }")
    text = text.replace("//go:wasmexport add\n      var word", "var word")
    text = text.replace("      func main() {}\n", "      func main() {}\n    extra.go: |\n"
                        "      //go:build extra\n\n      package main\n\n      const bonus = 100\n")
    result = build(reactor(text), tc)
    assert result.outcome == "ok", result.output
    assert result.module is not None
    store, inst = instantiate(result.module)
    inst.exports(store)["_initialize"](store)
    assert inst.exports(store)["add"](store, 2, 3) == 110


def test_a_flag_without_a_tinygo_meaning_is_a_build_error_saying_so(tc, reactor):
    text = REACTOR.replace("  mode: reactor\n", "  mode: reactor\n  flags: [-v]\n")
    result = build(reactor(text), tc)
    assert result.outcome == "error" and "-v: TinyGo has no equivalent" in result.output


def test_gc_js_modules_have_the_wasm_exec_exports(reactor):
    gc = resolve(toolchains.DEFAULT)
    assert gc.wasm_exec is not None and gc.wasm_exec.is_file() and gc.targets == {"wasip1", "js"}
    m = dataclasses.replace(reactor(), target="js", mode="command")
    result = build(m, gc)
    assert result.outcome == "ok", result.output
    assert result.module is not None
    assert {"run", "resume", "getsp", "mem", "add"} <= set(exports(result.module))
    refused = build(dataclasses.replace(m, mode="reactor"), gc)
    assert refused.outcome == "error" and "c-shared not supported on js/wasm" in refused.output


def test_a_tinygo_js_reactor_runs_with_its_own_wasm_exec(tc, reactor, tmp_path):
    node = shutil.which("node")
    if node is None:
        pytest.skip("no node on PATH")
    assert tc.wasm_exec is not None and tc.wasm_exec.parent.name == "targets"
    result = build(dataclasses.replace(reactor(), target="js"), tc)
    assert result.outcome == "ok", result.output
    script = tmp_path / "run.js"
    script.write_text(f"""require({json.dumps(str(tc.wasm_exec))});
const go = new Go();
WebAssembly.instantiate(require("fs").readFileSync({json.dumps(str(result.module))}),
                        go.importObject).then(({{instance}}) => {{
  go.run(instance);
  console.log(instance.exports.add(40, 2));
}});
""")
    out = subprocess.run([node, str(script)], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "42"
