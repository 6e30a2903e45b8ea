"""The embedder's script as data: bound results, memory steps, whole-script streams, stdin, an
ordered environment, limits, and the module's import section and memory pages; each judged, each
refused with its line when malformed."""

from __future__ import annotations

import base64
import dataclasses

import pytest

from harness.build import BuildResult
from harness.manifest import ExportType, ManifestError, load
from harness.observation import ImportEntry, Observation, StepObservation
from harness.plan import make_plan
from harness.values import Value
from harness.verdict import judge

CASE = """
title: A string goes in through guest memory and comes back changed
refs: [https://go.dev/blog/wasmexport]
program:
  mode: reactor
  files: {main.go: "package main\\nfunc main() {}\\n"}
limits: {memory_pages: 300, timeout_ms: 2000}
wasi:
  env: [ZETA=1, ALPHA=2]
  stdin: "line\\n"
module:
  exports:
    _initialize: () -> ()
    alloc: (i32) -> i32
    upper: (i32, i32) -> ()
    memory: memory
  imports:
    - wasi_snapshot_preview1.fd_write: (i32, i32, i32, i32) -> i32
    - host.peek: (i32) -> i32
  memory: {min: 20, max: null}
imports:
  host.peek:
    params: [i32]
    results: [i32]
    do: [{read: {ptr: {ref: p}, len: {i32: 2}}}]
    return: [{param: 0}]
streams:
  stdout: {match: "(?s).*upper done.*"}
script:
  - call: _initialize
  - call: alloc
    args: [{i32: 5}]
    as: p
    expect: {returns: [{i32: "*"}]}
  - write: {ptr: {ref: p}, text: hello}
  - call: upper
    args: [{ref: p}, {i32: 5}]
    expect: {stdout: "upper done\\n"}
  - read: {ptr: {ref: p}, len: 5}
    expect: {bytes: HELLO}
"""


@pytest.fixture
def case(manifest_file):
    return load(manifest_file(CASE), root=manifest_file(CASE).parent.parent)


BUILT = BuildResult("k", "ok", None, "ab" * 32, (), "", 0.0, True)


def test_the_script_becomes_a_plan_with_bindings_and_memory_steps(case, tmp_path):
    plan = make_plan("p", case, dataclasses.replace(BUILT, module=tmp_path / "m.wasm"))
    steps = plan["steps"]
    assert steps[1] == {"call": "alloc", "args": [{"t": "i32", "v": "5"}], "bind": ["p"],
                        "timeout_ms": 2000}
    assert steps[2] == {"write": {"ptr": {"ref": "p"}, "hex": b"hello".hex()}, "timeout_ms": 2000}
    assert steps[3]["args"] == [{"ref": "p"}, {"t": "i32", "v": "5"}]
    assert steps[4] == {"read": {"ptr": {"ref": "p"}, "len": {"t": "i32", "v": "5"}},
                        "timeout_ms": 2000}
    assert plan["wasi"]["env"] == [["ZETA", "1"], ["ALPHA", "2"]]
    assert base64.b64decode(plan["wasi"]["stdin_b64"]) == b"line\n"
    assert plan["limits"]["memory_bytes"] == 300 * 65536
    assert plan["imports"][0]["do"][0]["read"]["ptr"] == {"ref": "p"}


def good(case) -> Observation:
    return Observation(
        "p", True, "", {"_initialize": ExportType("func"), "alloc": ExportType("func", ("i32",), ("i32",)),
                        "upper": ExportType("func", ("i32", "i32"), ()), "memory": ExportType("memory")},
        (StepObservation("ok"), StepObservation("ok", (Value("i32", 70000),)), StepObservation("ok"),
         StepObservation("ok", stdout=b"upper done\n"), StepObservation("ok", data=b"HELLO")),
        (ImportEntry("wasi_snapshot_preview1", "fd_write", "func", ("i32",) * 4, ("i32",)),
         ImportEntry("host", "peek", "func", ("i32",), ("i32",))),
        {"memory": (20, None)})


def test_the_right_observation_passes(case):
    assert judge(case, BUILT, good(case)) == []


def _step(obs: Observation, i: int, **changes) -> Observation:
    steps = list(obs.steps)
    steps[i] = dataclasses.replace(steps[i], **changes)
    return dataclasses.replace(obs, steps=tuple(steps))


@pytest.mark.parametrize(("name", "mutate", "where"), [
    ("other bytes read", lambda o: _step(o, 4, data=b"hello"), "step 4 (read i32:5 bytes"),
    ("nothing read", lambda o: _step(o, 4, data=None), "bytes"),
    ("exports reordered", lambda o: dataclasses.replace(o, exports=dict(reversed(o.exports.items()))),
     "export order"),
    ("an import more", lambda o: dataclasses.replace(o, imports=(*o.imports, o.imports[0])),
     "import section"),
    ("imports reordered", lambda o: dataclasses.replace(o, imports=o.imports[::-1]), "import section"),
    ("import typed otherwise", lambda o: dataclasses.replace(o, imports=(
        o.imports[0], ImportEntry("host", "peek", "func", ("i64",), ("i32",)))), "import section"),
    ("memory grown from the start", lambda o: dataclasses.replace(o, memories={"memory": (21, None)}),
     "memory pages"),
    ("memory capped", lambda o: dataclasses.replace(o, memories={"memory": (20, 100)}), "memory pages"),
    ("the line missing from the script", lambda o: _step(o, 3, stdout=b"", stdout_sha256=""),
     "script stdout"),
])
def test_each_wrong_observation_fails(case, name, mutate, where):
    problems = judge(case, BUILT, mutate(good(case)))
    assert any(where in p.where for p in problems), (name, [p.where for p in problems])


def test_types_a_runner_does_not_reflect_are_not_judged(case):
    untyped = dataclasses.replace(good(case), imports=tuple(
        ImportEntry(i.module, i.name, i.kind) for i in good(case).imports), memories={})
    assert judge(case, BUILT, untyped, frozenset()) == []
    assert judge(case, BUILT, untyped)  # a runner claiming to reflect them must


@pytest.mark.parametrize(("old", "new", "message"), [
    ("args: [{ref: p}, {i32: 5}]", "args: [{ref: q}, {i32: 5}]", "'q' is not bound by an earlier step"),
    ("    as: p\n", "", "'p' is not bound"),
    ("write: {ptr: {ref: p}, text: hello}", "write: {ptr: {i64: 1}, text: hello}", "expected an i32"),
    ("    expect: {bytes: HELLO}\n", "", "expect.bytes"),
    ("    as: p\n", "    as: [p, q]\n", "names 2 result(s); the export returns 1"),
    ("env: [ZETA=1, ALPHA=2]", "env: [ZETA]", "wasi.env"),
    ("streams:\n  stdout: {match: \"(?s).*upper done.*\"}",
     "streams:\n  stdout: {match: \"(?=u)\"}", "RE2 syntax"),
])
def test_a_bad_script_is_refused_with_its_line(manifest_file, old, new, message):
    assert old in CASE
    path = manifest_file(CASE.replace(old, new))
    with pytest.raises(ManifestError) as err:
        load(path, root=path.parent.parent)
    assert message in str(err.value) and err.value.line, str(err.value)


def test_a_host_function_may_only_use_names_the_script_binds(manifest_file):
    path = manifest_file(CASE.replace("len: {i32: 2}", "len: {ref: n}"))
    with pytest.raises(ManifestError, match="'n' is bound by no step"):
        load(path, root=path.parent.parent)
