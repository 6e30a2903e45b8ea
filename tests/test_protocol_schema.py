"""runners/protocol.schema.json is enforced: every runner's real documents follow it.

The documents checked are the ones each real runner printed (the hello and one observation per
plan, parsed but not decoded by the harness), on hand-written WAT modules that make it report
every kind of observation: typed results, traps, exits, captured streams, host-call traces,
load failures, step errors, a timeout, fuel running out (where declared) and its answer to a plan
it cannot read. The plans the harness makes from the real manifests are checked too, and
deliberately broken documents prove the schema rejects what the protocol forbids. The `runner`
fixture (tests/conftest.py) skips an engine that is not installed, or fails it where
``WASMEXPORT_REQUIRE_ENGINES=1``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from harness import manifest
from harness.build import BuildResult
from harness.plan import make_plan
from harness.runner import PROTOCOL_SCHEMA, Runner, RunnerFailure, RunnerProcess
from tests.test_runners import HOST, IDENTITY, TRAPS, host, needs

SCHEMA: dict[str, Any] = json.loads(PROTOCOL_SCHEMA.read_text(encoding="utf-8"))
Doc = dict[str, Any]


def part_validator(part: str) -> jsonschema.protocols.Validator:
    """A validator for one message of the schema, in the draft the schema declares."""
    cls = jsonschema.validators.validator_for(SCHEMA)
    return cls({"$ref": f"#/$defs/{part}", "$defs": SCHEMA["$defs"]})


def problems(part: str, doc: Any) -> list[str]:
    """Every place `doc` breaks the schema, as a `part` and as a top-level protocol message."""
    out = [f"{e.json_path}: {e.message} (schema {'/'.join(map(str, e.schema_path))})"
           for e in part_validator(part).iter_errors(doc)]
    whole = jsonschema.validators.validator_for(SCHEMA)(SCHEMA)
    if not out and not whole.is_valid(doc):
        out.append(f"valid as a {part} but not as a protocol message: "
                   f"{jsonschema.exceptions.best_match(whole.iter_errors(doc))}")
    return out


def assert_follows(part: str, doc: Any) -> None:
    found = problems(part, doc)
    assert not found, f"this {part} breaks runners/protocol.schema.json:\n  " + "\n  ".join(
        found) + f"\n{json.dumps(doc)[:2000]}"


def test_the_schema_is_a_valid_draft_2020_12_schema():
    assert jsonschema.validators.validator_for(SCHEMA) is jsonschema.Draft202012Validator
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


# -- the real runners ---------------------------------------------------------------------------


@pytest.fixture
def process(runner: Runner) -> RunnerProcess:
    """The runner as a process, whose raw documents the harness keeps."""
    assert isinstance(runner, RunnerProcess), f"{runner!r} keeps no raw documents"
    return runner


def test_the_hello_follows_the_schema(process):
    process.info()
    assert process.hello is not None
    assert_follows("hello", process.hello)


EXIT_IN_NESTED = """
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "host" "reenter" (func $reenter (param i32)))
  (memory (export "memory") 1)
  (func (export "outer") (param i32) local.get 0 call $reenter)
  (func (export "quit") (param i32) local.get 0 call $exit))
"""


def i32(n: int) -> Doc:
    return {"t": "i32", "v": str(n)}


def outcomes(obs: Doc) -> list[str]:
    return [s["outcome"] for s in obs["steps"]]


def trace_events(step: Doc) -> list[str]:
    return [ev["ev"] for ev in step["trace"]]


def typed_results(obs: Doc) -> None:
    assert outcomes(obs) == ["ok"] * 5
    assert {v["t"] for s in obs["steps"] for v in s["results"]} == {"i32", "i64", "f32", "f64"}


def traps(obs: Doc) -> None:
    assert [s.get("trap") for s in obs["steps"]] == [
        "unreachable", "integer_divide_by_zero", "memory_out_of_bounds"]


def an_exit(obs: Doc) -> None:
    # after proc_exit a runner may run the next step or report it as an error (wazero)
    assert (outcomes(obs)[0], obs["steps"][0].get("code")) == ("exit", 3)


def streams(obs: Doc) -> None:
    assert obs["steps"][0]["stdout_b64"] and obs["steps"][0]["stderr_b64"]


def host_trace(obs: Doc) -> None:
    assert (outcomes(obs), obs["steps"][1].get("trap")) == (["ok", "trap"], "host_error")
    assert trace_events(obs["steps"][0]) == ["import", "read", "write", "export", "export_return",
                                             "import_return"]


def nested_trap(obs: Doc) -> None:
    assert trace_events(obs["steps"][0]) == ["import", "export", "export_trap"]


def nested_exit(obs: Doc) -> None:
    assert outcomes(obs) == ["exit"]
    assert trace_events(obs["steps"][0]) == ["import", "export", "export_exit"]


def compile_failure(obs: Doc) -> None:
    assert (obs["load"]["ok"], obs["load"].get("stage"), obs["exports"]) == (False, "compile", None)


def instantiate_failure(obs: Doc) -> None:
    assert (obs["load"]["ok"], obs["load"].get("stage")) == (False, "instantiate")


def step_errors(obs: Doc) -> None:
    assert outcomes(obs) == ["error", "error"]


def a_timeout(obs: Doc) -> None:
    assert obs["steps"][0].get("trap") == "timeout"


def out_of_fuel(obs: Doc) -> None:
    assert obs["steps"][0].get("trap") == "out_of_fuel"


GARBAGE = "garbage"  # not a module: the bytes below are written instead of compiled WAT


@dataclass(frozen=True)
class Scenario:
    """A plan on a WAT module, and what its observation must show to be the case it covers."""

    module: str
    steps: list[Doc]
    shows: Callable[[Doc], None]
    imports: list[Doc] = field(default_factory=list)
    needs: str = ""  # a capability the runner must declare
    limits: Doc = field(default_factory=dict)


SCENARIOS = {
    "typed-results": Scenario(IDENTITY, [
        {"call": "id_i32", "args": [i32(-1)]},
        {"call": "id_i64", "args": [{"t": "i64", "v": "-9223372036854775808"}]},
        {"call": "id_f32", "args": [{"t": "f32", "v": "0x7fa00001"}]},
        {"call": "id_f64", "args": [{"t": "f64", "v": "0x8000000000000000"}]},
        {"call": "pair", "args": [i32(7), {"t": "f64", "v": "0x7ff8000000000001"}]},
    ], typed_results),
    "traps": Scenario(TRAPS, [{"call": "unreachable"}, {"call": "div", "args": [i32(0)]},
                              {"call": "oob"}], traps),
    "exit": Scenario(TRAPS, [{"call": "exit3"}, {"call": "div", "args": [i32(1)]}], an_exit),
    "stdout-stderr": Scenario(TRAPS, [{"call": "print", "args": [i32(0)]}], streams),
    "host-call-trace": Scenario(HOST, [{"call": "outer", "args": [i32(5)]}, {"call": "fails"}],
                                host_trace, needs="host_imports", imports=[
        host("cb", ["i32", "i32"], ["i32"], [
            {"read": {"ptr": {"param": 0}, "len": {"param": 1}}},
            {"write": {"ptr": {"value": i32(200)}, "hex": "2a"}},
            {"call": "inner", "args": [{"param": 1}]},
        ], [{"result": 0}]),
        host("fail", [], [], [{"trap": "host says no"}], [])]),
    "nested-trap": Scenario(HOST, [{"call": "outer", "args": [i32(1)]}], nested_trap,
                            needs="host_imports", imports=[
        host("cb", ["i32", "i32"], ["i32"], [{"call": "boom"}], [{"value": i32(0)}]),
        host("fail", [], [], [], [])]),
    "nested-exit": Scenario(EXIT_IN_NESTED, [{"call": "outer", "args": [i32(7)]}], nested_exit,
                            needs="host_imports", imports=[
        host("reenter", ["i32"], [], [{"call": "quit", "args": [{"param": 0}]}], [])]),
    "invalid-module": Scenario(GARBAGE, [{"call": "x"}], compile_failure),
    "missing-import": Scenario(HOST, [{"call": "peek"}], instantiate_failure),
    "step-errors": Scenario(IDENTITY, [{"call": "nope"},
                                       {"call": "id_i32", "args": [{"t": "i64", "v": "1"}]}],
                            step_errors),
    "timeout": Scenario(TRAPS, [{"call": "spin", "timeout_ms": 200},
                                {"call": "div", "args": [i32(1)]}], a_timeout, needs="timeout"),
    "fuel": Scenario(TRAPS, [{"call": "spin"}, {"call": "unreachable"}], out_of_fuel,
                     needs="fuel", limits={"fuel": 100_000}),
}


@pytest.fixture
def module_for(wat, tmp_path) -> Callable[[str], tuple[Path, str]]:
    def make(text: str) -> tuple[Path, str]:
        if text != GARBAGE:
            return wat(text)
        bad = tmp_path / "bad.wasm"
        bad.write_bytes(b"\0asm\x01\0\0\0\x99garbage")
        return bad, "f" * 64

    return make


def observe(process: RunnerProcess, plan: Doc) -> tuple[Doc | None, RunnerFailure | None]:
    """The observation the runner printed for `plan`, raw, and the harness's failure if any."""
    process.last_observation = None
    try:
        process.run(plan)
    except RunnerFailure as e:
        return process.last_observation, e
    return process.last_observation, None


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_observations_follow_the_schema(process, module_for, plan_for, name):
    scenario = SCENARIOS[name]
    if scenario.needs:
        needs(process, scenario.needs)
    plan = plan_for(module_for(scenario.module), scenario.steps, scenario.imports)
    plan["limits"].update(scenario.limits)
    assert_follows("plan", plan)
    obs, failure = observe(process, plan)
    assert obs is not None, f"{process.name} sent no observation: {failure}"
    assert_follows("observation", obs)
    assert failure is None, f"{process.name} failed on the plan: {failure}"
    assert obs["id"] == plan["id"]
    scenario.shows(obs)  # the document really is the observation this scenario is about


def test_the_answer_to_a_plan_the_runner_cannot_read_follows_the_schema(process, wat, plan_for):
    """A runner's own failure is an observation too (`error`, or whatever it made of the plan)."""
    plan = plan_for(wat(IDENTITY), [])
    plan["imports"] = "not a list"
    assert problems("plan", plan)
    obs, _ = observe(process, plan)  # an `error` observation is a RunnerFailure in the harness
    assert obs is not None, f"{process.name} answered a plan with nothing"
    assert_follows("observation", obs)


# -- the harness's plans ------------------------------------------------------------------------

MANIFESTS = sorted(manifest.MANIFEST_DIR.glob("*/*.yaml"))  # the cases, not the files beside them
BUILT = BuildResult("k", "ok", Path("/cache/builds/k/main.wasm"), "ab" * 32, (), "", 0.1, True)


def test_there_are_manifests_to_make_plans_from():
    assert len(MANIFESTS) > 50


@pytest.mark.parametrize("path", MANIFESTS, ids=manifest.case_id)
def test_every_plan_the_harness_makes_follows_the_schema(path, tmp_path):
    case = manifest.load(path)
    wasm_exec = tmp_path / "wasm_exec.js"  # a js plan names its toolchain's glue and its hash
    wasm_exec.write_text("// the toolchain's wasm_exec.js\n")
    for m in (case, *case.variants):
        plan = make_plan(f"manifests/{m.id}.yaml::wasmtime[go1.27.3]", m, BUILT, wasm_exec)
        assert_follows("plan", plan)
        assert ("go_js" in plan) == (m.target == "js")


# -- the schema rejects what the protocol forbids -----------------------------------------------

def whole_streams(out: bytes, err: bytes) -> Doc:
    """Lengths and hashes of whole streams (of which a step may have kept only a prefix)."""
    return {"stdout_len": len(out), "stderr_len": len(err),
            "stdout_sha256": hashlib.sha256(out).hexdigest(),
            "stderr_sha256": hashlib.sha256(err).hexdigest()}


GOOD_OBSERVATION: Doc = {
    "type": "observation", "protocol": 3, "id": "p", "load": {"ok": True},
    "exports": [{"name": "f", "kind": "func", "params": ["i32"], "results": ["f32"]},
                {"name": "memory", "kind": "memory", "min": 17, "max": None}],
    "imports": [{"module": "host", "name": "cb", "kind": "func", "params": ["i32"], "results": ["i32"]},
                {"module": "wasi_snapshot_preview1", "name": "fd_write", "kind": "func"}],
    "steps": [
        {"outcome": "ok", "results": [{"t": "f32", "v": "0x7fa00001"}], "stdout_b64": "aGk=",
         "stderr_b64": "", **whole_streams(b"hi", b""), "duration_ms": 1.5, "trace": [
             {"ev": "import", "name": "host.cb", "args": [i32(1)]},
             {"ev": "read", "hex": "68"}, {"ev": "write", "len": 1},
             {"ev": "export", "name": "g", "args": []},
             {"ev": "export_return", "values": [{"t": "f64", "v": "0x8000000000000000"}]},
             {"ev": "import_return", "values": [{"t": "i64", "v": "-1"}]}]},
        {"outcome": "trap", "trap": "unreachable", "message": "wasm trap", "stdout_b64": "",
         "stderr_b64": "", **whole_streams(b"", b""), "duration_ms": 0.1, "trace": [
             {"ev": "export", "name": "g", "args": []},
             {"ev": "export_trap", "kind": "unreachable"}]},
        {"outcome": "exit", "code": 2, "message": "exit status 2", "stdout_b64": "",
         "stderr_b64": "", **whole_streams(b"x" * 10, b""),
         "trace": [{"ev": "export_exit", "code": 2}], "duration_ms": 0.1},
        {"outcome": "error", "message": "no export", "stdout_b64": "", "stderr_b64": "",
         **whole_streams(b"", b""), "trace": [], "duration_ms": 0},
    ],
}
GOOD_HELLO: Doc = {"type": "hello", "protocol": 3, "engine": "e", "engine_version": "1",
                   "capabilities": ["host_imports", "exact_f32"]}
GOOD_PLAN: Doc = {
    "type": "plan", "protocol": 3, "id": "p", "module": {"path": "/m.wasm", "sha256": "ab"},
    "wasi": {"args": ["m.wasm"], "env": [["K", "V"]], "stdin_b64": "aGk="},
    "limits": {"memory_bytes": 1 << 20, "output_bytes": 1 << 20},
    "imports": [host("cb", ["i32"], ["i32"], [
        {"read": {"ptr": {"param": 0}, "len": {"value": i32(4)}}},
        {"write": {"ptr": {"param": 0}, "hex": "2a2b"}},
        {"call": "inner", "args": [{"param": 0}]}, {"trap": "no"}], [{"result": 0}])],
    "steps": [{"call": "f", "args": [{"t": "f64", "v": "0x0000000000000001"}], "timeout_ms": 10}],
}


def _step(i: int) -> Callable[[Doc], Doc]:
    return lambda d: d["steps"][i]


def _drop(key: str, at: Callable[[Doc], Doc] = lambda d: d) -> Callable[[Doc], None]:
    return lambda d: at(d).pop(key)


def _set(key: str, value: Any, at: Callable[[Doc], Doc] = lambda d: d) -> Callable[[Doc], None]:
    return lambda d: at(d).__setitem__(key, value)


def _trace(i: int, step: int = 0) -> Callable[[Doc], Doc]:
    return lambda d: d["steps"][step]["trace"][i]


def _result(d: Doc) -> Doc:
    return d["steps"][0]["results"][0]


def _op(i: int) -> Callable[[Doc], Doc]:
    return lambda d: d["imports"][0]["do"][i]


# (part, what is wrong, how to break the good document)
BROKEN: list[tuple[str, str, Callable[[Doc], None]]] = [
    ("observation", "a result value as a number", _set("v", 5, _result)),
    ("observation", "an f32 result in decimal", _set("v", "1", _result)),
    ("observation", "an f32 result with 16 hex digits", _set("v", "0x000000007fa00001", _result)),
    ("observation", "a value of no Wasm type", _set("t", "v128", _result)),
    ("observation", "an unknown trap kind", _set("trap", "segfault", _step(1))),
    ("observation", "a trap without its kind", _drop("trap", _step(1))),
    ("observation", "a trap without the raw message", _drop("message", _step(1))),
    ("observation", "an ok step without results", _drop("results", _step(0))),
    ("observation", "an exit without its code", _drop("code", _step(2))),
    ("observation", "an unknown outcome", _set("outcome", "crash", _step(3))),
    ("observation", "a step without stdout_b64", _drop("stdout_b64", _step(0))),
    ("observation", "stdout that is not base64", _set("stdout_b64", "hi\n", _step(0))),
    ("observation", "a step without its trace", _drop("trace", _step(3))),
    ("observation", "a duration as a string", _set("duration_ms", "1.5", _step(0))),
    ("observation", "neither load nor error", _drop("load")),
    ("observation", "a failed load without its stage",
     _set("load", {"ok": False, "message": "bad magic"})),
    ("observation", "a load without exports", _drop("exports")),
    ("observation", "a successful load without steps", _drop("steps")),
    ("observation", "exports of a module that did not compile",
     _set("load", {"ok": False, "stage": "compile", "message": "bad magic"})),
    ("observation", "a function export without its signature",
     lambda d: d["exports"][0].pop("params")),
    ("observation", "an export of an unknown kind", lambda d: d["exports"][1].update(kind="tag")),
    ("observation", "an unknown trace event", _set("ev", "log", _trace(0))),
    ("observation", "an import event without its args", _drop("args", _trace(0))),
    ("observation", "a read event without hex", _drop("hex", _trace(1))),
    ("observation", "an export_trap of an unknown kind", _set("kind", "oops", _trace(1, step=1))),
    ("observation", "a trace value as a number", _set("values", [{"t": "i64", "v": -1}], _trace(5))),
    ("observation", "another protocol version", _set("protocol", 1)),
    ("observation", "the type of another message", _set("type", "result")),
    ("hello", "an unknown capability", _set("capabilities", ["host_imports", "threads"])),
    ("hello", "no engine version", _drop("engine_version")),
    ("hello", "another protocol version", _set("protocol", 1)),
    ("observation", "a step without its stream's length", _drop("stdout_len", _step(0))),
    ("observation", "a stream hash that is not hex", _set("stderr_sha256", "xyz", _step(1))),
    ("plan", "limits without output_bytes", _drop("output_bytes", lambda d: d["limits"])),
    ("plan", "wasi without stdin", _drop("stdin_b64", lambda d: d["wasi"])),
    ("plan", "a step both call and read", _set("read", {"ptr": {"ref": "p"}, "len": {"ref": "n"}},
                                              lambda d: d["steps"][0])),
    ("plan", "a ref to a bad name", _set("args", [{"ref": "1x"}], lambda d: d["steps"][0])),
    ("observation", "an observation without imports", _drop("imports")),
    ("observation", "an import without its module", _drop("module", lambda d: d["imports"][0])),
    ("plan", "an op with two forms", lambda d: _op(3)(d).update(call="inner")),
    ("plan", "an operand naming nothing", lambda d: _op(0)(d)["read"].update(len={})),
    ("plan", "write bytes that are not hex", lambda d: _op(1)(d)["write"].update(hex="xyz")),
    ("plan", "an argument value as a number",
     lambda d: d["steps"][0]["args"][0].update(v=1.0)),
    ("plan", "a step without its timeout", lambda d: d["steps"][0].pop("timeout_ms")),
    ("plan", "an import of an unknown value type", lambda d: d["imports"][0].update(params=["u8"])),
]
GOOD = {"observation": GOOD_OBSERVATION, "hello": GOOD_HELLO, "plan": GOOD_PLAN}


@pytest.mark.parametrize("part", sorted(GOOD))
def test_the_good_documents_follow_the_schema(part):
    assert_follows(part, GOOD[part])


@pytest.mark.parametrize(("part", "wrong", "breaks"), BROKEN, ids=[w for _, w, _ in BROKEN])
def test_the_schema_rejects_a_wrong_document(part, wrong, breaks):
    doc = copy.deepcopy(GOOD[part])
    breaks(doc)
    assert problems(part, doc), f"the schema accepts a {part} with {wrong}"


# -- the harness checks each runner's hello when it starts ---------------------------------------

BAD_HELLO = """import json, sys
print(json.dumps({"type": "hello", "protocol": 3, "engine": "bad", "engine_version": "0",
                  "capabilities": ["host_imports", "telepathy"]}), flush=True)
sys.stdin.read()
"""


@pytest.fixture
def bad_hello_runner() -> Iterator[RunnerProcess]:
    r = RunnerProcess("bad", [sys.executable, "-c", BAD_HELLO])
    yield r
    r.close()


def test_a_hello_that_breaks_the_schema_is_a_runner_failure(bad_hello_runner):
    with pytest.raises(RunnerFailure) as info:
        bad_hello_runner.info()
    assert info.value.kind == "garbage"
    message = str(info.value)
    assert "$.capabilities[1]" in message and "'telepathy'" in message
    assert "runners/protocol.schema.json" in message and "capabilities/items" in message
    assert bad_hello_runner.hello is None
