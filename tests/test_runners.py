"""Every engine's real runner on hand-written WAT modules: no Go toolchain needed.

The `runner` fixture is parametrised over every engine with an adapter (tests/conftest.py), so a
new runner gets these checks for free. Checks that need a capability run only where the runner's
hello declares it; the rest apply to every runner.
"""

from __future__ import annotations

import pytest

from harness import values
from harness.observation import Observation
from harness.runner import RunnerProcess
from harness.values import Value

IDENTITY = """
(module
  (func (export "id_i32") (param i32) (result i32) local.get 0)
  (func (export "id_i64") (param i64) (result i64) local.get 0)
  (func (export "id_f32") (param f32) (result f32) local.get 0)
  (func (export "id_f64") (param f64) (result f64) local.get 0)
  (func (export "pair") (param i32 f64) (result f64 i32) local.get 1 local.get 0)
  (memory (export "memory") 1))
"""

EDGES = {
    "i32": [0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF],
    "i64": [0, 0x7FFFFFFFFFFFFFFF, 0x8000000000000000, 0xFFFFFFFFFFFFFFFF],
    # -0.0, +inf, -inf, canonical NaN, signalling NaN with payload, max finite
    "f32": [0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000, 0x7FA00001, 0x7F7FFFFF],
    "f64": [0x8000000000000000, 0x7FF0000000000000, 0x7FF8000000000000,
            0x7FF0000000000001, 0xFFF4000000000001, 0x0000000000000001],
}


def run(runner: RunnerProcess, plan: dict) -> Observation:
    return runner.run(plan)


def needs(runner: RunnerProcess, capability: str) -> None:
    """Skip a check whose capability the runner does not declare (its hello is the declaration)."""
    if capability not in runner.info().capabilities:
        pytest.skip(f"{runner.info().name} does not declare {capability}")


EXACT_ONLY = {0x7FA00001}  # an f32 signalling NaN: only runners declaring exact_f32 keep it


@pytest.mark.parametrize("t", sorted(EDGES))
def test_every_value_type_round_trips_exactly(runner, wat, plan_for, t):
    mod = wat(IDENTITY)
    exact = "exact_f32" in runner.info().capabilities or t != "f32"
    vals = [Value(t, b) for b in EDGES[t] if exact or b not in EXACT_ONLY]
    plan = plan_for(mod, [{"call": f"id_{t}", "args": [v.to_protocol()]} for v in vals])
    obs = run(runner, plan)
    assert obs.load_ok
    assert [s.outcome for s in obs.steps] == ["ok"] * len(vals)
    assert [s.results for s in obs.steps] == [(v,) for v in vals]


def test_multi_value_results_keep_order_and_types(runner, wat, plan_for):
    args = [Value("i32", 7).to_protocol(), values.from_manifest({"f64": -0.0}).to_protocol()]
    obs = run(runner, plan_for(wat(IDENTITY), [{"call": "pair", "args": args}]))
    assert obs.steps[0].results == (values.from_manifest({"f64": -0.0}), Value("i32", 7))


def test_export_section_is_reflected(runner, wat, plan_for):
    needs(runner, "export_types")
    obs = run(runner, plan_for(wat(IDENTITY), []))
    assert str(obs.exports["pair"]) == "(i32, f64) -> (f64, i32)"
    assert obs.exports["memory"].kind == "memory"
    assert list(obs.exports) == ["id_i32", "id_i64", "id_f32", "id_f64", "pair", "memory"]


TRAPS = """
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "out\\n")
  (data (i32.const 32) "err\\n")
  (func (export "unreachable") unreachable)
  (func (export "div") (param i32) (result i32) i32.const 1 local.get 0 i32.div_s)
  (func (export "oob") (result i32) i32.const 70000 i32.load)
  (func (export "spin") (loop $l br $l))
  (func (export "recurse") call 6)
  (func (export "exit3") i32.const 3 call $exit)
  (func (export "print") (param i32)
    ;; iovec at 0: ptr, len
    i32.const 0 i32.const 16 i32.store
    i32.const 4 i32.const 4 i32.store
    i32.const 1 i32.const 0 i32.const 1 i32.const 8 call $write drop
    i32.const 0 i32.const 32 i32.store
    i32.const 2 i32.const 0 i32.const 1 i32.const 8 call $write drop))
"""


def test_traps_are_normalised(runner, wat, plan_for):
    steps = [{"call": "unreachable"}, {"call": "div", "args": [{"t": "i32", "v": "0"}]},
             {"call": "oob"}, {"call": "recurse"}]
    obs = run(runner, plan_for(wat(TRAPS), steps))
    kinds = [s.trap for s in obs.steps]
    assert kinds == ["unreachable", "integer_divide_by_zero", "memory_out_of_bounds",
                     "stack_overflow"]
    assert all(s.message for s in obs.steps), "the raw engine message is kept"


def test_f32_signalling_nan_keeps_its_payload(runner, wat, plan_for):
    needs(runner, "exact_f32")
    snan = {"t": "f32", "v": "0x7fa00001"}
    obs = run(runner, plan_for(wat(IDENTITY), [{"call": "id_f32", "args": [snan]}]))
    assert obs.steps[0].results == (Value("f32", 0x7FA00001),)


def test_a_hanging_guest_times_out_inside_the_engine(runner, wat, plan_for):
    needs(runner, "timeout")
    plan = plan_for(wat(TRAPS), [{"call": "spin", "timeout_ms": 200}, {"call": "div",
                                 "args": [{"t": "i32", "v": "1"}]}])
    obs = run(runner, plan)
    assert obs.steps[0].outcome == "trap" and obs.steps[0].trap == "timeout"
    assert 150 <= obs.steps[0].duration_ms < 5000
    after = obs.steps[1]
    # An engine that can only stop a hanging guest by dropping its instance reports the later
    # steps as errors; it must never report them as results of a dead instance.
    assert (after.outcome, after.results) in (("ok", (Value("i32", 1),)), ("error", ()))
    again = run(runner, plan_for(wat(TRAPS), [{"call": "div", "args": [{"t": "i32", "v": "1"}]}]))
    assert again.steps[0].results == (Value("i32", 1),), "the runner takes the next plan"


GROW = """
(module
  (memory (export "memory") 1)
  (func (export "grow") (param i32) (result i32) local.get 0 memory.grow))
"""


def test_linear_memory_is_capped_at_the_plan_limit(runner, wat, plan_for):
    needs(runner, "memory_limit")
    plan = plan_for(wat(GROW), [{"call": "grow", "args": [{"t": "i32", "v": "2000"}]},
                                {"call": "grow", "args": [{"t": "i32", "v": "10"}]}])
    assert plan["limits"]["memory_bytes"] == 64 << 20  # 1024 pages
    obs = run(runner, plan)
    assert [s.results for s in obs.steps] == [(Value("i32", 0xFFFFFFFF),), (Value("i32", 1),)]


def test_hello_names_the_engine_and_its_version(runner):
    info = runner.info()
    assert info.name == runner.name and info.version.strip()
    assert info.capabilities <= {"host_imports", "command_mode", "exact_f32", "export_types",
                                 "memory_limit", "fuel", "timeout", "import_types", "memory_types",
                                 "go_js", "preload"}


def test_proc_exit_is_an_exit_code_not_a_trap(runner, wat, plan_for):
    obs = run(runner, plan_for(wat(TRAPS), [{"call": "exit3"}]))
    assert (obs.steps[0].outcome, obs.steps[0].code) == ("exit", 3)


def test_stdout_and_stderr_are_captured_per_step(runner, wat, plan_for):
    p = {"call": "print", "args": [{"t": "i32", "v": "0"}]}
    obs = run(runner, plan_for(wat(TRAPS), [p, {"call": "unreachable"}, p]))
    assert [(s.stdout, s.stderr) for s in obs.steps] == [
        (b"out\n", b"err\n"), (b"", b""), (b"out\n", b"err\n")]


HOST = """
(module
  (import "host" "cb" (func $cb (param i32 i32) (result i32)))
  (import "host" "fail" (func $fail))
  (memory (export "memory") 1)
  (data (i32.const 100) "hello")
  (func (export "outer") (param i32) (result i32) i32.const 100 local.get 0 call $cb)
  (func (export "inner") (param i32) (result i32) local.get 0 i32.const 2 i32.mul)
  (func (export "peek") (result i32) i32.const 200 i32.load8_u)
  (func (export "boom") unreachable)
  (func (export "fails") call $fail))
"""


def host(name, params, results, do, ret):
    return {"module": "host", "name": name, "params": params, "results": results, "do": do,
            "return": ret}


def test_host_functions_read_write_and_reenter(runner, wat, plan_for):
    needs(runner, "host_imports")
    cb = host("cb", ["i32", "i32"], ["i32"], [
        {"read": {"ptr": {"param": 0}, "len": {"param": 1}}},
        {"write": {"ptr": {"value": {"t": "i32", "v": "200"}}, "hex": "2a"}},
        {"call": "inner", "args": [{"param": 1}]},
    ], [{"result": 0}])
    fail = host("fail", [], [], [{"trap": "host says no"}], [])
    plan = plan_for(wat(HOST), [{"call": "outer", "args": [{"t": "i32", "v": "5"}]},
                                {"call": "peek"}, {"call": "fails"}], [cb, fail])
    obs = run(runner, plan)
    assert obs.steps[0].results == (Value("i32", 10),)
    assert obs.steps[0].trace == ('import host.cb(i32:100, i32:5)', 'read "hello"', "write 1",
                                  "export inner(i32:5)", "export_return (i32:10)",
                                  "import_return (i32:10)")
    assert obs.steps[1].results == (Value("i32", 42),)
    assert (obs.steps[2].outcome, obs.steps[2].trap) == ("trap", "host_error")


def test_a_trap_in_a_nested_export_keeps_its_kind(runner, wat, plan_for):
    needs(runner, "host_imports")
    cb = host("cb", ["i32", "i32"], ["i32"], [{"call": "boom"}], [{"value": {"t": "i32", "v": "0"}}])
    fail = host("fail", [], [], [], [])
    obs = run(runner, plan_for(wat(HOST), [{"call": "outer", "args": [{"t": "i32", "v": "1"}]}],
                               [cb, fail]))
    assert obs.steps[0].trap == "unreachable"
    assert obs.steps[0].trace[-1] == "export_trap unreachable"


def test_a_module_that_does_not_compile_is_a_load_failure(runner, tmp_path, plan_for):
    bad = tmp_path / "bad.wasm"
    bad.write_bytes(b"\0asm\x01\0\0\0\x99garbage")
    obs = run(runner, plan_for((bad, "f" * 64), [{"call": "x"}]))
    assert not obs.load_ok and obs.exports is None


def test_a_missing_import_is_a_load_failure(runner, wat, plan_for):
    obs = run(runner, plan_for(wat(HOST), [{"call": "peek"}]))  # host.cb not defined
    assert not obs.load_ok and "cb" in obs.load_message
    assert "outer" in obs.exports


def test_calling_a_missing_export_or_with_wrong_types_is_a_step_error(runner, wat, plan_for):
    steps = [{"call": "nope"}, {"call": "id_i32", "args": [{"t": "i64", "v": "1"}]}]
    obs = run(runner, plan_for(wat(IDENTITY), steps))
    assert [s.outcome for s in obs.steps] == ["error", "error"]


def test_the_guest_sees_only_the_plan_args_and_env(runner, wat, plan_for):
    mod = wat("""
    (module
      (import "wasi_snapshot_preview1" "environ_sizes_get" (func $es (param i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "args_sizes_get" (func $as (param i32 i32) (result i32)))
      (memory (export "memory") 1)
      (func (export "envc") (result i32) i32.const 0 i32.const 4 call $es drop i32.const 0 i32.load)
      (func (export "argc") (result i32) i32.const 0 i32.const 4 call $as drop i32.const 0 i32.load))
    """)
    obs = run(runner, plan_for(mod, [{"call": "envc"}, {"call": "argc"}], args=["a", "b"]))
    assert [s.results for s in obs.steps] == [(Value("i32", 0),), (Value("i32", 2),)]
    obs = run(runner, plan_for(mod, [{"call": "envc"}], env=[["K", "V"]]))
    assert obs.steps[0].results == (Value("i32", 1),)


def test_fuel_runs_out_inside_the_engine(runner, wat, plan_for):
    needs(runner, "fuel")
    plan = plan_for(wat(TRAPS), [{"call": "spin"}, {"call": "unreachable"}])
    plan["limits"]["fuel"] = 100_000  # one budget for the whole plan (one store)
    obs = run(runner, plan)
    assert (obs.steps[0].outcome, obs.steps[0].trap) == ("trap", "out_of_fuel")
