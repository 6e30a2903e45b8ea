"""The wazero runner's bench mode (the bare in-process loop the suite's per-item cost is compared
to) and its in-memory module cache, on hand-written WAT plans (tests/conftest.py), run through the
adapter's own command line."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from harness import engines
from harness.runner import EngineUnavailable
from tests.bench_modules import ADD, MUL


def run_bench(plans: list[dict[str, Any]], tmp_path: Path, *extra: str,
              **env: str) -> subprocess.CompletedProcess[str]:
    try:
        runner = engines.adapter("wazero").make_runner()
    except EngineUnavailable as e:
        pytest.skip(f"wazero unavailable: {e}")
    path = tmp_path / "plans.jsonl"
    # a blank line between plans is skipped, as the protocol loop skips it
    path.write_text("\n".join(json.dumps(p) for p in plans) + "\n\n", encoding="utf-8")
    return subprocess.run([*runner.command, "--bench", str(path), *extra], cwd=runner.cwd,
                          env={**os.environ, **runner.env, **env}, capture_output=True,
                          text=True, timeout=120, check=False)


def bench(plans: list[dict[str, Any]], tmp_path: Path, *extra: str, **env: str) -> dict[str, Any]:
    proc = run_bench(plans, tmp_path, *extra, **env)
    assert proc.returncode == 0, proc.stderr
    assert "runner error" not in proc.stderr  # every plan ran, none hit a bug of the runner's
    lines = proc.stdout.splitlines()
    assert len(lines) == 1, proc.stdout  # one JSON line: no observation, no guest output
    return json.loads(lines[0])


@pytest.fixture
def two_plans(wat, plan_for) -> list[dict[str, Any]]:
    i32 = [{"t": "i32", "v": "2"}, {"t": "i32", "v": "3"}]
    i64 = [{"t": "i64", "v": "6"}, {"t": "i64", "v": "7"}]
    return [plan_for(wat(ADD), [{"call": "add", "args": i32}, {"call": "say"}]),
            plan_for(wat(MUL), [{"call": "mul", "args": i64}])]


def test_bench_prints_one_plausible_line(two_plans, tmp_path):
    out = bench(two_plans, tmp_path, "--repeat", "4")
    assert out["engine"] == "wazero"
    assert out["engine_version"].startswith("v")
    assert (out["plans"], out["repeat"]) == (2, 4)
    ms = out["per_plan_ms"]
    assert set(ms) == {"median", "mean", "p90"}
    assert all(isinstance(v, (int, float)) for v in ms.values())
    # the warm-up pass, each module compiled (or read back) once: timed too, one time per plan
    first = out["first_pass_ms"]
    assert set(first) == {"median", "mean", "p90"}
    assert 0 < first["median"] <= first["p90"] < 5000
    # positive, ordered, far below the steps' 5 s timeouts, adding up to about the total
    assert 0 < ms["median"] <= ms["p90"] < 5000
    assert 0 < ms["mean"] < 5000
    assert ms["mean"] * 2 * 4 / 1000 <= out["total_s"] < 60
    # warm: every timed run found its module compiled in memory
    cache = out["module_cache"]
    assert (cache["hits"], cache["misses"], cache["modules"]) == (8, 0, 2)
    assert cache["budget_mb"] == 256
    assert cache["bytes"] > 0


def test_repeat_defaults_to_five(two_plans, tmp_path):
    out = bench(two_plans[1:], tmp_path)
    assert (out["plans"], out["repeat"]) == (1, 5)
    assert out["module_cache"]["hits"] == 5


def test_a_budget_too_small_for_both_modules_keeps_only_the_one_in_use(two_plans, tmp_path):
    proc = run_bench(two_plans, tmp_path, "--repeat", "3", WASMEXPORT_MODULE_CACHE_MB="0")
    assert proc.returncode == 0, proc.stderr
    cache = json.loads(proc.stdout)["module_cache"]
    assert (cache["hits"], cache["misses"], cache["modules"]) == (0, 6, 1)
    assert cache["budget_mb"] == 0
    assert "6 of 6 timed runs compiled again a module the cache had evicted" in proc.stderr
    # the plans of one case share a module: they reuse it whatever the budget
    same = [two_plans[1], {**two_plans[1], "id": "again"}]
    out = bench(same, tmp_path, "--repeat", "3", WASMEXPORT_MODULE_CACHE_MB="0")
    assert (out["module_cache"]["hits"], out["module_cache"]["misses"]) == (6, 0)


def test_a_plan_answered_with_a_runner_error_is_timed_and_reported(two_plans, tmp_path):
    missing = {**two_plans[1], "module": {"path": str(tmp_path / "gone.wasm"), "sha256": "0" * 64}}
    proc = run_bench([two_plans[0], missing], tmp_path, "--repeat", "2")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["plans"] == 2
    assert "1 of 2 plans answered with a runner error" in proc.stderr
    assert "evicted" not in proc.stderr  # a module that cannot be read is not a cache miss to fix


@pytest.mark.parametrize("extra, env, message", [
    (("--repeat", "0"), {}, "--repeat must be at least 1"),
    ((), {"WASMEXPORT_MODULE_CACHE_MB": "lots"}, "WASMEXPORT_MODULE_CACHE_MB must be a number"),
])
def test_bad_settings_fail_with_a_message(two_plans, tmp_path, extra, env, message):
    proc = run_bench(two_plans, tmp_path, *extra, **env)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert proc.stdout == ""


def test_a_file_without_plans_fails_with_a_message(tmp_path):
    proc = run_bench([], tmp_path)
    assert proc.returncode == 2
    assert "no plans" in proc.stderr


COUNTER = """
(module
  (global $n (mut i32) (i32.const 0))
  (func (export "bump") (result i32)
    (global.set $n (i32.add (global.get $n) (i32.const 1))) (global.get $n)))
"""


@pytest.mark.parametrize("budget_mb", ["0", "256"])
def test_a_kept_or_evicted_module_answers_like_a_fresh_one(wat, plan_for, budget_mb):
    """Over the protocol: modules alternate, so with no budget each plan evicts the other's;
    with one, the second sight of each is a hit. Either way each plan gets a fresh instance."""
    try:
        runner = engines.adapter("wazero").make_runner()
    except EngineUnavailable as e:
        pytest.skip(f"wazero unavailable: {e}")
    runner.env = {**runner.env, "WASMEXPORT_MODULE_CACHE_MB": budget_mb}
    counter, mul = wat(COUNTER), wat(MUL)
    i64 = [{"t": "i64", "v": "6"}, {"t": "i64", "v": "7"}]
    try:
        for _ in range(2):
            obs = runner.run(plan_for(counter, [{"call": "bump"}, {"call": "bump"}]))
            assert [s.results[0].bits for s in obs.steps] == [1, 2]  # not 3, 4: a fresh instance
            obs = runner.run(plan_for(mul, [{"call": "mul", "args": i64}]))
            assert obs.steps[0].results[0].bits == 42
            assert list(obs.exports) == ["mul"]
    finally:
        runner.close()
