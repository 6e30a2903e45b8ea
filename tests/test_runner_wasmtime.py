"""The wasmtime runner's configurations (Cranelift, Winch, Pulley): each is its own engine, with
its own hello, its own compiled-module cache, and a runner that survives what Winch refuses."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from harness import engines
from harness.runner import EngineUnavailable, RunnerProcess
from tests.bench_modules import MUL

CONFIGS = {"wasmtime": "", "wasmtime-winch": "(Winch)", "wasmtime-pulley": "(Pulley, pulley64)"}

# relaxed SIMD, one of the proposals Winch refuses (an engine config enabling it aborts)
RELAXED_SIMD = """
(module
  (func (export "swz") (param v128 v128) (result v128)
    (i8x16.relaxed_swizzle (local.get 0) (local.get 1))))
"""


def runner_for(name: str) -> RunnerProcess:
    try:
        runner = engines.adapter(name).make_runner(name)
    except EngineUnavailable as e:
        pytest.skip(f"{name} unavailable: {e}")
    assert isinstance(runner, RunnerProcess)
    return runner


def run_host(runner: RunnerProcess, cache: Path, plans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The runner's command with another --cache, fed `plans`: its hello and observations."""
    argv = list(runner.command)
    argv[argv.index("--cache") + 1] = str(cache)
    proc = subprocess.run(argv, cwd=runner.cwd, env={**os.environ, **runner.env},
                          input="".join(json.dumps(p) + "\n" for p in plans),
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def test_every_configuration_is_an_engine_with_its_own_expectations():
    assert set(CONFIGS) <= set(engines.known())
    for name in CONFIGS:
        assert engines.family(name) == "wasmtime"
        assert engines.configuration(name)
    assert engines.expectations_file("wasmtime-winch").name == "expectations-winch.yaml"
    assert engines.expectations_file("wasmtime").name == "expectations.yaml"


def test_the_default_runner_is_cranelift():
    runner = engines.adapter("wasmtime").make_runner()
    assert runner.name == "wasmtime" and "--config" not in runner.command


@pytest.mark.parametrize("name", CONFIGS)
def test_hello_names_the_configuration_and_its_strategy(name, wat, plan_for, tmp_path):
    hello, obs = run_host(runner_for(name), tmp_path, [
        plan_for(wat(MUL), [{"call": "mul", "args": [{"t": "i64", "v": "6"}, {"t": "i64", "v": "7"}]}])])
    assert hello["engine"] == name
    # "50.0.1" for Cranelift, as before the configurations; "50.0.1 (Winch)" for the others
    assert hello["engine_version"].split(" ", 1)[1:] == ([CONFIGS[name]] if CONFIGS[name] else [])
    assert obs["steps"][0]["results"] == [{"t": "i64", "v": "42"}]


def test_each_configuration_has_its_own_compiled_module_cache(wat, plan_for, tmp_path):
    plan = plan_for(wat(MUL), [{"call": "mul", "args": [{"t": "i64", "v": "1"}, {"t": "i64", "v": "1"}]}])
    cache = tmp_path / "cache"
    for name in CONFIGS:
        run_host(runner_for(name), cache, [plan])
    # a module compiled for one cannot be loaded by another: one directory each
    dirs = sorted(p.name for p in cache.iterdir())
    assert len(dirs) == 3, dirs
    assert sum("winch" in d for d in dirs) == 1 and sum("pulley64" in d for d in dirs) == 1
    assert all(len(list((cache / d).glob("*.cwasm"))) == 1 for d in dirs)


def test_a_module_winch_refuses_fails_to_load_and_the_runner_goes_on(wat, plan_for, tmp_path):
    mul = plan_for(wat(MUL), [{"call": "mul", "args": [{"t": "i64", "v": "6"}, {"t": "i64", "v": "7"}]}])
    _, refused, after = run_host(runner_for("wasmtime-winch"), tmp_path,
                                 [plan_for(wat(RELAXED_SIMD), [{"call": "swz"}]), mul])
    assert refused["load"]["ok"] is False and refused["load"]["stage"] == "compile"
    assert "relaxed" in refused["load"]["message"].lower()
    assert after["steps"][0]["results"] == [{"t": "i64", "v": "42"}]


@pytest.mark.parametrize("name", ["wasmtime-winch", "wasmtime-pulley"])
def test_bench_mode_names_the_configuration(name, wat, plan_for, tmp_path):
    runner = runner_for(name)
    plans = tmp_path / "plans.jsonl"
    plans.write_text(json.dumps(plan_for(wat(MUL), [{"call": "mul", "args": [
        {"t": "i64", "v": "6"}, {"t": "i64", "v": "7"}]}])) + "\n", encoding="utf-8")
    proc = subprocess.run([*runner.command, "--bench", str(plans), "--repeat", "1"],
                          cwd=runner.cwd, env={**os.environ, **runner.env}, capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert (out["engine"], out["engine_version"].endswith(CONFIGS[name])) == (name, True)
