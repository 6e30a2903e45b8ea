"""The Chicory runner's own behaviour, on hand-written WAT (tests/conftest.py): its two
configurations, bench mode, the in-memory module cache and the compiler's on-disk class cache,
run through the adapter's own command line."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from harness import cachedir, engines
from harness.runner import EngineUnavailable, RunnerProcess
from tests.bench_modules import ADD, MUL

CONFIGS = ["chicory", "chicory-compiler"]


def runner_for(name: str, **env: str) -> RunnerProcess:
    try:
        runner = engines.adapter(name).make_runner(name)
    except EngineUnavailable as e:
        pytest.skip(f"{name} unavailable: {e}")
    runner.env = {**runner.env, **env}
    return runner


def run_bench(name: str, plans: list[dict[str, Any]], tmp_path: Path, *extra: str,
              **env: str) -> subprocess.CompletedProcess[str]:
    runner = runner_for(name)
    path = tmp_path / "plans.jsonl"
    path.write_text("\n".join(json.dumps(p) for p in plans) + "\n\n", encoding="utf-8")
    return subprocess.run([*runner.command, "--bench", str(path), *extra], cwd=runner.cwd,
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=300,
                          check=False)


@pytest.fixture
def two_plans(wat, plan_for) -> list[dict[str, Any]]:
    i32 = [{"t": "i32", "v": "2"}, {"t": "i32", "v": "3"}]
    i64 = [{"t": "i64", "v": "6"}, {"t": "i64", "v": "7"}]
    return [plan_for(wat(ADD), [{"call": "add", "args": i32}, {"call": "say"}]),
            plan_for(wat(MUL), [{"call": "mul", "args": i64}])]


def test_both_configurations_are_engines_with_their_own_expectations():
    assert set(CONFIGS) <= set(engines.known())
    assert {engines.family(n) for n in CONFIGS} == {"chicory"}
    assert engines.expectations_file("chicory-compiler").name == "expectations-compiler.yaml"
    assert engines.expectations_file("chicory").exists()


@pytest.mark.parametrize("name", CONFIGS)
def test_bench_prints_one_line_and_keeps_modules_warm(name, two_plans, tmp_path):
    proc = run_bench(name, two_plans, tmp_path, "--repeat", "3")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 1, proc.stdout  # no observation, no guest output, no JVM warning
    out = json.loads(lines[0])
    assert (out["engine"], out["plans"], out["repeat"]) == (name, 2, 3)
    assert 0 < out["per_plan_ms"]["median"] <= out["per_plan_ms"]["p90"] < 5000
    assert (out["module_cache"]["hits"], out["module_cache"]["misses"]) == (6, 0)
    assert "runner error" not in proc.stderr


def test_a_budget_of_nothing_keeps_only_the_module_in_use(two_plans, tmp_path):
    proc = run_bench("chicory", two_plans, tmp_path, "--repeat", "2", WASMEXPORT_MODULE_CACHE_MB="0")
    assert proc.returncode == 0, proc.stderr
    cache = json.loads(proc.stdout)["module_cache"]
    assert (cache["hits"], cache["misses"], cache["modules"]) == (0, 4, 1)
    assert "4 of 4 timed runs parsed again" in proc.stderr


@pytest.mark.parametrize(("extra", "env", "message"), [
    (("--repeat", "0"), {}, "--repeat must be at least 1"),
    ((), {"WASMEXPORT_MODULE_CACHE_MB": "lots"}, "WASMEXPORT_MODULE_CACHE_MB must be a number"),
])
def test_bad_settings_fail_with_a_message(two_plans, tmp_path, extra, env, message):
    proc = run_bench("chicory", two_plans, tmp_path, *extra, **env)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert message in proc.stderr


COUNTER = """
(module
  (global $n (mut i32) (i32.const 0))
  (func (export "bump") (result i32)
    (global.set $n (i32.add (global.get $n) (i32.const 1))) (global.get $n)))
"""


@pytest.mark.parametrize("name", CONFIGS)
@pytest.mark.parametrize("budget_mb", ["0", "256"])
def test_a_kept_or_evicted_module_answers_like_a_fresh_one(name, budget_mb, wat, plan_for):
    runner = runner_for(name, WASMEXPORT_MODULE_CACHE_MB=budget_mb)
    counter, mul = wat(COUNTER), wat(MUL)
    try:
        for _ in range(2):
            obs = runner.run(plan_for(counter, [{"call": "bump"}, {"call": "bump"}]))
            assert [s.results[0].bits for s in obs.steps] == [1, 2]  # a fresh instance per plan
            obs = runner.run(plan_for(mul, [{"call": "mul", "args": [
                {"t": "i64", "v": "6"}, {"t": "i64", "v": "7"}]}]))
            assert obs.steps[0].results[0].bits == 42
    finally:
        runner.close()


def test_the_compiler_keeps_generated_classes_on_disk(wat, plan_for):
    _, sha = mod = wat(MUL.replace('(export "mul")', '(export "mul_on_disk")'))
    runner = runner_for("chicory-compiler")
    try:
        obs = runner.run(plan_for(mod, [{"call": "mul_on_disk", "args": [
            {"t": "i64", "v": "-3"}, {"t": "i64", "v": "7"}]}]))
        assert obs.steps[0].results[0].bits == (-21) & (2**64 - 1)
    finally:
        runner.close()
    # Chicory keys a module "sha-256:<base64 of its digest>"; the file name is URL-safe
    digest = base64.b64encode(bytes.fromhex(sha)).decode()
    name = "sha-256-" + digest.replace("/", "_").replace("+", "-") + ".jar"
    assert list(cachedir.sub("compiled-chicory").glob(f"*/{name}")), "no classes kept on disk"


def test_a_start_section_that_never_ends_is_an_instantiation_failure(wat, plan_for):
    mod = wat('(module (func $spin (loop $l br $l)) (start $spin) (func (export "f")))')
    runner = runner_for("chicory")
    try:
        obs = runner.run(plan_for(mod, [{"call": "f"}]))
        assert not obs.load_ok and "did not end" in obs.load_message
        again = runner.run(plan_for(wat(MUL), [{"call": "mul", "args": [
            {"t": "i64", "v": "2"}, {"t": "i64", "v": "3"}]}]))
        assert again.steps[0].results[0].bits == 6
    finally:
        runner.close()
