"""The wasmer runner's two configurations: Cranelift (`wasmer`) and Singlepass
(`wasmer-singlepass`) share one binary, each with its own name, version and module cache."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from harness import engines
from harness.runner import EngineUnavailable, RunnerProcess

CONFIGS = {"wasmer": "7.4.2", "wasmer-singlepass": "7.4.2 (Singlepass)"}
ADD = """
(module
  (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))
"""


def command(name: str) -> list[str]:
    """The runner's command line for `name` (built on first use), or a skip."""
    try:
        runner = engines.adapter(name).make_runner(name)
    except EngineUnavailable as e:
        if os.environ.get("WASMEXPORT_REQUIRE_ENGINES") == "1":
            pytest.fail(f"{name} is required here but unavailable: {e}")
        pytest.skip(f"{name} unavailable: {e}")
    assert isinstance(runner, RunnerProcess)
    return list(runner.command)


def test_the_registry_lists_both_configurations() -> None:
    assert engines.family("wasmer-singlepass") == "wasmer"
    assert engines.configuration("wasmer") == "Cranelift (the default)"
    assert "Singlepass" in engines.configuration("wasmer-singlepass")


def test_the_no_argument_call_is_cranelift() -> None:
    assert command("wasmer")[-2:] == ["--compiler", "cranelift"]
    assert engines.adapter("wasmer").make_runner().command == command("wasmer")


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_hello_names_the_configuration(name: str) -> None:
    done = subprocess.run(command(name), input="", capture_output=True, text=True, timeout=60,
                          check=True)
    hello = json.loads(done.stdout.splitlines()[0])
    assert (hello["engine"], hello["engine_version"]) == (name, CONFIGS[name])


def test_each_compiler_has_its_own_disk_cache(wat, plan_for, tmp_path: Path):
    plan = plan_for(wat(ADD), [{"call": "add", "args": [{"t": "i32", "v": "2"},
                                                        {"t": "i32", "v": "3"}]}])
    cache = tmp_path / "cache"
    for name in sorted(CONFIGS):
        cmd = command(name)
        cmd[cmd.index("--cache") + 1] = str(cache)
        runner = RunnerProcess(name, cmd)
        try:
            obs = runner.run(plan)
        finally:
            runner.close()
        assert obs.load_ok and obs.steps[0].results[0].bits == 5
    dirs = sorted(p.name for p in cache.iterdir())
    assert [d.rsplit("-", 1)[1] for d in dirs] == ["cranelift", "singlepass"], dirs
    assert all(len(list((cache / d).glob("*.bin"))) == 1 for d in dirs)
