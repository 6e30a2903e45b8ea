"""The wasmtime runner's bench mode: the bare in-process loop the suite's per-item cost is compared
to. Hand-written WAT plans (tests/conftest.py), run through the adapter's own command line."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from harness import engines
from harness.runner import EngineUnavailable
from tests.bench_modules import ADD as MODULE_A
from tests.bench_modules import MUL as MODULE_B


def bench(plans: list[dict[str, Any]], tmp_path: Path, repeat: int | None = 3,
          **env: str) -> tuple[dict[str, Any], subprocess.CompletedProcess[str]]:
    try:
        runner = engines.adapter("wasmtime").make_runner()
    except EngineUnavailable as e:
        pytest.skip(f"wasmtime unavailable: {e}")
    path = tmp_path / "plans.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in plans), encoding="utf-8")
    argv = [*runner.command, "--bench", str(path)]
    argv += ["--repeat", str(repeat)] if repeat is not None else []
    proc = subprocess.run(argv, cwd=runner.cwd, env={**os.environ, **runner.env, **env},
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 1, proc.stdout  # one JSON line: no observation, no guest output
    return json.loads(lines[0]), proc


@pytest.fixture
def two_plans(wat, plan_for) -> list[dict[str, Any]]:
    a = plan_for(wat(MODULE_A), [{"call": "add", "args": [{"t": "i32", "v": "2"},
                                                          {"t": "i32", "v": "3"}]},
                                 {"call": "say"}])
    b = plan_for(wat(MODULE_B), [{"call": "mul", "args": [{"t": "i64", "v": "6"},
                                                          {"t": "i64", "v": "7"}]}])
    return [a, b]


def test_bench_prints_one_line_of_per_plan_times(two_plans, tmp_path):
    out, _ = bench(two_plans, tmp_path, repeat=3)
    assert out["engine"] == "wasmtime"
    assert (out["plans"], out["repeat"]) == (2, 3)
    ms = out["per_plan_ms"]
    assert set(ms) >= {"median", "mean", "p90"}
    assert all(isinstance(v, float) for v in ms.values())
    # the warm-up pass, each module compiled (or read back) once: timed too, one time per plan
    first = out["first_pass_ms"]
    assert set(first) == {"median", "mean", "p90"}
    assert 0 < first["median"] <= first["p90"] < 5000
    # plausible: positive, ordered, far below the steps' timeouts, and adding up to the total
    assert 0 < ms["median"] <= ms["p90"] < 5000
    assert 0 < ms["mean"] < 5000
    assert ms["mean"] * 2 * 3 / 1000 <= out["total_s"] < 60
    assert 0 < out["cpu_ms_per_plan"] < 5000
    # warm: the timed runs found both modules compiled in memory
    assert out["module_cache"]["hits"] == 6
    assert out["module_cache"]["misses"] == 0


def test_repeat_defaults_to_five(two_plans, tmp_path):
    out, _ = bench(two_plans[1:], tmp_path, repeat=None)
    assert (out["plans"], out["repeat"]) == (1, 5)


def test_a_budget_too_small_for_both_modules_evicts_but_keeps_the_one_in_use(two_plans,
                                                                             tmp_path):
    out, _ = bench(two_plans, tmp_path, WASMEXPORT_MODULE_CACHE_MB="0")
    assert out["module_cache"]["misses"] == 6  # each plan evicts the other's module
    assert out["module_cache"]["modules"] == 1
    same = [two_plans[1], {**two_plans[1], "id": "again"}]
    out, _ = bench(same, tmp_path, WASMEXPORT_MODULE_CACHE_MB="0")
    assert (out["module_cache"]["hits"], out["module_cache"]["misses"]) == (6, 0)
