"""The wasmer runner's bench mode (`--bench PLANS.jsonl [--repeat N]`) and its module budget.

The bench mode is the bare in-process loop the suite's per-plan cost is compared against: it
reads a file of plans, warms up, times N passes and prints one JSON line.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from harness import engines
from harness.runner import EngineUnavailable, RunnerProcess

ADD = """
(module
  (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
  (memory (export "memory") 1))
"""

MEMORY = """
(module
  (memory (export "memory") 1)
  (func (export "load") (param i32) (result i32) local.get 0 i32.load))
"""


@pytest.fixture(scope="module")
def command() -> list[str]:
    """The wasmer runner's command line (built on first use), or a skip saying how to get it."""
    try:
        runner = engines.adapter("wasmer").make_runner()
    except EngineUnavailable as e:
        if os.environ.get("WASMEXPORT_REQUIRE_ENGINES") == "1":
            pytest.fail(f"wasmer is required here but unavailable: {e}")
        pytest.skip(f"wasmer unavailable: {e}")
    assert isinstance(runner, RunnerProcess)
    return list(runner.command)


def i32(v: int) -> dict[str, str]:
    return {"t": "i32", "v": str(v)}


@pytest.fixture
def plans(wat, plan_for) -> list[dict]:
    add = plan_for(wat(ADD), [{"call": "add", "args": [i32(2), i32(3)]}])
    mem = plan_for(wat(MEMORY), [
        {"write": {"ptr": i32(16), "hex": "2a000000"}},
        {"call": "load", "args": [i32(16)]},
        {"read": {"ptr": i32(16), "len": i32(4)}},
    ])
    return [add, mem]


def bench(command: list[str], file: Path, *extra: str) -> dict:
    done = subprocess.run([*command, "--bench", str(file), *extra], capture_output=True,
                          text=True, timeout=120, check=True)
    lines = done.stdout.splitlines()
    assert len(lines) == 1, f"bench mode printed {lines!r}; stderr: {done.stderr}"
    doc: dict = json.loads(lines[0])
    return doc


def test_bench_mode_prints_one_line_of_per_plan_times(command, plans, tmp_path):
    file = tmp_path / "plans.jsonl"
    file.write_text("".join(json.dumps(p) + "\n" for p in plans), encoding="utf-8")
    doc = bench(command, file, "--repeat", "7")
    assert set(doc) == {"engine", "plans", "repeat", "per_plan_ms", "total_s"}
    assert (doc["engine"], doc["plans"], doc["repeat"]) == ("wasmer", 2, 7)
    ms = doc["per_plan_ms"]
    assert set(ms) == {"median", "mean", "p90"}
    assert all(isinstance(v, float) and 0 < v < 5_000 for v in ms.values()), ms
    assert ms["median"] <= ms["p90"]
    # the timed passes are 14 plans: their sum is the loop's wall time, less the loop itself
    assert 14 * ms["mean"] / 1000 <= doc["total_s"] * 1.001
    assert doc["total_s"] < 60


def test_bench_mode_repeats_five_times_by_default(command, plans, tmp_path):
    file = tmp_path / "plans.jsonl"
    file.write_text(json.dumps(plans[0]) + "\n\n", encoding="utf-8")  # blank lines are skipped
    doc = bench(command, file)
    assert (doc["plans"], doc["repeat"]) == (1, 5)


def test_bench_mode_refuses_a_file_that_is_not_plans(command, tmp_path):
    file = tmp_path / "plans.jsonl"
    file.write_text("not json\n", encoding="utf-8")
    done = subprocess.run([*command, "--bench", str(file)], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode != 0 and done.stdout == ""
    assert "plans.jsonl:1" in done.stderr


def test_a_zero_module_budget_reloads_and_still_answers(command, plans):
    """With no room in memory every plan reloads its module (from the disk cache): the
    observations are the same as with the module kept."""
    runner = RunnerProcess("wasmer", command, env={"WASMEXPORT_MODULE_CACHE_MB": "0"})
    try:
        for _ in range(3):
            add, mem = (runner.run(p) for p in plans)
            assert add.load_ok and [s.outcome for s in add.steps] == ["ok"]
            assert add.steps[0].results[0].bits == 5
            assert [s.outcome for s in mem.steps] == ["ok", "ok", "ok"]
            assert mem.steps[1].results[0].bits == 42
    finally:
        runner.close()
