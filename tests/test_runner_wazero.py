"""The wazero runner's configurations (its optimizing compiler, its interpreter): each is its own
engine, with its own hello, bench line and compilation cache directory."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from harness import engines
from harness.runner import EngineUnavailable, RunnerProcess
from tests.bench_modules import MUL

CONFIGS = {"wazero": "", "wazero-interpreter": "(interpreter)"}


def runner_for(name: str) -> RunnerProcess:
    try:
        runner = engines.adapter(name).make_runner(name)
    except EngineUnavailable as e:
        pytest.skip(f"{name} unavailable: {e}")
    assert isinstance(runner, RunnerProcess)
    return runner


def test_every_configuration_is_an_engine_with_its_own_expectations():
    assert set(CONFIGS) <= set(engines.known())
    assert {engines.family(n) for n in CONFIGS} == {"wazero"}
    assert engines.expectations_file("wazero-interpreter").name == "expectations-interpreter.yaml"


def test_the_default_runner_is_the_compiler_and_caches_apart_from_the_interpreter():
    default, interpreter = engines.adapter("wazero").make_runner(), runner_for("wazero-interpreter")
    assert "--interpreter" not in default.command and "--interpreter" in interpreter.command
    cache = [r.command[r.command.index("--cache") + 1] for r in (default, interpreter)]
    assert cache[0] != cache[1]


@pytest.mark.parametrize("name", CONFIGS)
def test_hello_and_bench_name_the_configuration(name, wat, plan_for, tmp_path):
    runner = runner_for(name)
    mul = plan_for(wat(MUL), [{"call": "mul", "args": [{"t": "i64", "v": "6"}, {"t": "i64", "v": "7"}]}])
    info = runner.info()
    try:
        assert runner.hello is not None and runner.hello["engine"] == name
        assert info.version.split(" ", 1)[1:] == ([CONFIGS[name]] if CONFIGS[name] else [])
        assert runner.run(mul).steps[0].results[0].bits == 42
    finally:
        runner.close()
    plans = tmp_path / "plans.jsonl"
    plans.write_text(json.dumps(mul) + "\n", encoding="utf-8")
    proc = subprocess.run([*runner.command, "--bench", str(plans), "--repeat", "1"],
                          cwd=runner.cwd, env={**os.environ, **runner.env}, capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert (out["engine"], out["engine_version"]) == (name, info.version)
