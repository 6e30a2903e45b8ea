"""The wasmi runner's own mechanisms: timeouts and fuel enforced in fuel slices (also inside
host functions that re-enter the guest), WASI waits ended at the deadline, bounded re-entry,
bench mode and the module budget. Hand-written WAT (tests/conftest.py)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness import engines
from harness.runner import EngineUnavailable, RunnerProcess
from tests.bench_modules import ADD, MUL

GUEST = """
(module
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "host" "cb" (func $cb (param i32) (result i32)))
  (memory (export "memory") 1)
  (global $n (mut i32) (i32.const 0))
  (func (export "spin") (loop $l (br $l)))
  ;; one relative clock subscription of an hour (wasi-common's sleep fast path)
  (func (export "sleep_hour") (result i32)
    (i32.store (i32.const 16) (i32.const 1))
    (i64.store (i32.const 24) (i64.const 3600000000000))
    (call $poll (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 128)))
  (func (export "via_cb") (param i32) (result i32) (call $cb (local.get 0)))
  ;; about 10 000 loop iterations, then the number of calls so far
  (func (export "burn") (result i32) (local $i i32)
    (loop $l
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 10000))))
    (global.set $n (i32.add (global.get $n) (i32.const 1)))
    (global.get $n)))
"""


def i32(v: int) -> dict[str, str]:
    return {"t": "i32", "v": str(v)}


def callback(do: list[dict[str, Any]]) -> dict[str, Any]:
    return {"module": "host", "name": "cb", "params": ["i32"], "results": ["i32"], "do": do,
            "return": [{"value": i32(0)}]}


@pytest.fixture(scope="module")
def wasmi() -> Iterator[RunnerProcess]:
    """The wasmi runner (built on first use), or a skip saying how to get it."""
    try:
        runner = engines.adapter("wasmi").make_runner()
    except EngineUnavailable as e:
        if os.environ.get("WASMEXPORT_REQUIRE_ENGINES") == "1":
            pytest.fail(f"wasmi is required here but unavailable: {e}")
        pytest.skip(f"wasmi unavailable: {e}")
    assert isinstance(runner, RunnerProcess)
    yield runner
    runner.close()


@pytest.mark.parametrize("inner", ["spin", "sleep_hour"])
def test_a_nested_call_times_out_and_the_trap_reaches_the_step(wasmi, wat, plan_for, inner):
    """Spinning wasm is stopped between fuel slices, a WASI wait at the deadline; both inside
    an export a host function re-entered."""
    plan = plan_for(wat(GUEST), [{"call": "via_cb", "args": [i32(1)], "timeout_ms": 300},
                                 {"call": "burn"}], [callback([{"call": inner}])])
    timed_out, after = wasmi.run(plan).steps
    assert (timed_out.outcome, timed_out.trap) == ("trap", "timeout"), timed_out
    assert 250 <= timed_out.duration_ms < 450
    assert timed_out.trace == ("import host.cb(i32:1)", f"export {inner}()", "export_trap timeout")
    assert after.results[0].bits == 1  # the instance goes on


def test_endless_reentry_is_a_stack_overflow_not_a_crash(wasmi, wat, plan_for):
    plan = plan_for(wat(GUEST), [{"call": "via_cb", "args": [i32(1)]}],
                    [callback([{"call": "via_cb", "args": [{"param": 0}]}])])
    (step,) = wasmi.run(plan).steps
    assert (step.outcome, step.trap) == ("trap", "stack_overflow")
    assert "1000 levels" in step.message
    assert wasmi.run(plan_for(wat(GUEST), [{"call": "burn"}], [callback([])])).steps[0].outcome == "ok"


def burns_until_out_of_fuel(wasmi: RunnerProcess, plan: dict[str, Any]) -> int:
    steps = wasmi.run(plan).steps
    assert steps[-1].trap == "out_of_fuel", steps[-1]
    return sum(s.outcome == "ok" for s in steps)


def test_fuel_is_one_budget_for_the_plan_and_the_same_on_every_run(wasmi, wat, plan_for):
    """Steps and nested calls draw from one budget; translating a function costs none, so a
    plan burns the same on a module met for the first time and on one already translated."""
    mod = wat(GUEST)
    plan = plan_for(mod, [{"call": "burn"}] * 30, [callback([])])
    plan["limits"]["fuel"] = 500_000
    first, again = burns_until_out_of_fuel(wasmi, plan), burns_until_out_of_fuel(wasmi, plan)
    assert 1 <= first == again < 30
    nested = plan_for(mod, [{"call": "via_cb", "args": [i32(0)]}] * 30,
                      [callback([{"call": "burn"}])])
    nested["limits"]["fuel"] = 500_000
    # the same burns, less the little fuel via_cb itself takes
    assert first - 1 <= burns_until_out_of_fuel(wasmi, nested) <= first


def bench(command: list[str], plans: list[dict[str, Any]], tmp_path: Path, *extra: str) -> dict:
    path = tmp_path / "plans.jsonl"
    path.write_text("".join(json.dumps(p) + "\n\n" for p in plans), encoding="utf-8")
    done = subprocess.run([*command, "--bench", str(path), *extra], capture_output=True, text=True,
                          timeout=120, check=True)
    lines = done.stdout.splitlines()
    assert len(lines) == 1, f"bench mode printed {lines!r}; stderr: {done.stderr}"
    doc: dict = json.loads(lines[0])
    return doc


def test_bench_mode_prints_one_line_of_per_plan_times(wasmi, wat, plan_for, tmp_path):
    plans = [plan_for(wat(ADD), [{"call": "add", "args": [i32(2), i32(3)]}, {"call": "say"}]),
             plan_for(wat(MUL), [{"call": "mul", "args": [{"t": "i64", "v": "6"}] * 2}])]
    doc = bench(list(wasmi.command), plans, tmp_path, "--repeat", "3")
    assert (doc["engine"], doc["plans"], doc["repeat"]) == ("wasmi", 2, 3)
    ms = doc["per_plan_ms"]
    assert 0 < ms["median"] <= ms["p90"] < 5000
    assert 6 * ms["mean"] / 1000 <= doc["total_s"] * 1.001 < 60
    assert bench(list(wasmi.command), plans[1:], tmp_path)["repeat"] == 5


def test_a_zero_module_budget_recompiles_and_still_answers(wasmi, wat, plan_for):
    runner = RunnerProcess("wasmi", wasmi.command, env={"WASMEXPORT_MODULE_CACHE_MB": "0"})
    add = plan_for(wat(ADD), [{"call": "add", "args": [i32(2), i32(3)]}])
    burn = plan_for(wat(GUEST), [{"call": "burn"}, {"call": "burn"}], [callback([])])
    try:
        for _ in range(3):  # the modules alternate, so each plan compiles its module again
            assert runner.run(add).steps[0].results[0].bits == 5
            assert [s.results[0].bits for s in runner.run(burn).steps] == [1, 2]  # a fresh instance
    finally:
        runner.close()
