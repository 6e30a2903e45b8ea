"""Preloads (runners/PROTOCOL.md "Preloads") on every runner that declares them: a preloaded
module is the one its plan runs, even once the file is gone, and no preload, good or bad,
changes what a plan observes or puts the protocol out of step."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from harness import engines
from harness.runner import EngineUnavailable, RunnerFailure, RunnerProcess
from harness.values import Value
from tests.bench_modules import ADD, MUL
from tests.conftest import started_runner

PRELOADING = ["wazero", "wazero-interpreter", "node", "deno", "bun"]


@pytest.fixture(params=PRELOADING)
def preloader(request: pytest.FixtureRequest) -> Iterator[RunnerProcess]:
    """A fresh runner per test: its module cache starts empty."""
    r = started_runner(request.param)
    assert isinstance(r, RunnerProcess)
    assert "preload" in r.info().capabilities
    yield r
    r.close()


def add_steps() -> list[dict[str, Any]]:
    return [{"call": "add", "args": [{"t": "i32", "v": "2"}, {"t": "i32", "v": "40"}]}]


def mul_steps() -> list[dict[str, Any]]:
    return [{"call": "mul", "args": [{"t": "i64", "v": "6"}, {"t": "i64", "v": "7"}]}]


SUM = (Value("i32", 42),)  # add(2, 40)
PRODUCT = (Value("i64", 42),)  # mul(6, 7)


def limits(plan: dict[str, Any]) -> dict[str, Any]:
    return {"memory_bytes": plan["limits"]["memory_bytes"]}


@pytest.mark.parametrize("preload", [True, False], ids=["preloaded", "control"])
def test_a_preloaded_module_runs_without_its_file(preloader, wat, plan_for, preload):
    """The file is deleted after the preload was taken: only a runner that really compiled it
    then can run the plan. The control (no preload) shows the deletion is felt."""
    add, mul = wat(ADD), wat(MUL)
    plan = plan_for(add, add_steps())
    if preload:
        assert preloader.preload(plan["module"], limits(plan))
    # another plan in between: by its answer the preload line has been taken
    assert preloader.run(plan_for(mul, mul_steps())).steps[0].results == PRODUCT
    add[0].unlink()
    if preload:
        obs = preloader.run(plan)
        assert obs.load_ok, obs.load_message
        assert obs.steps[0].results == SUM
    else:  # the module is gone: a load failure, or the runner's own error observation
        with contextlib.suppress(RunnerFailure):
            assert not preloader.run(plan).load_ok


def test_bad_preloads_change_nothing(preloader, wat, plan_for, tmp_path):
    """Preloads naming no file, a file that is not Wasm, or a file whose bytes are not the
    SHA-256 they claim are dropped: every later plan is answered, in order, as if they had
    never been sent."""
    add, mul = wat(ADD), wat(MUL)
    junk = tmp_path / "junk.wasm"
    junk.write_bytes(b"\0asm not really")
    mem = {"memory_bytes": 64 << 20}
    assert preloader.preload({"path": str(tmp_path / "missing.wasm"), "sha256": add[1]}, mem)
    assert preloader.preload({"path": str(junk), "sha256": "0" * 64}, mem)
    # the bytes of MUL under ADD's name: a runner that believed it would run mul for add
    assert preloader.preload({"path": str(mul[0]), "sha256": add[1]}, mem)
    obs = preloader.run(plan_for(add, add_steps()))
    assert obs.load_ok and obs.steps[0].results == SUM
    assert "add" in (obs.exports or {}) and "mul" not in (obs.exports or {})
    bad = plan_for((junk, "0" * 64), add_steps())
    refused = preloader.run(bad)
    assert not refused.load_ok and refused.exports is None
    assert preloader.run(plan_for(mul, mul_steps())).steps[0].results == PRODUCT


def test_a_preload_of_a_running_module_is_harmless(preloader, wat, plan_for):
    """Preloading what is cached already, or the same module twice, leaves one working copy."""
    add = wat(ADD)
    plan = plan_for(add, add_steps())
    assert preloader.run(plan).steps[0].results == SUM
    for _ in range(3):
        preloader.preload(plan["module"], limits(plan))
    for _ in range(2):
        assert preloader.run(plan_for(add, add_steps())).steps[0].results == SUM


def test_preloads_go_only_to_runners_that_declare_them(wat, plan_for):
    """The harness never sends a preload line to a runner without the capability: it would be
    read as a plan."""
    try:
        r = engines.make_runner("wasmtime")
        info = r.info()
    except EngineUnavailable as e:
        pytest.skip(f"wasmtime unavailable: {e}")
    try:
        assert "preload" not in info.capabilities
        add = wat(ADD)
        plan = plan_for(add, add_steps())
        assert not isinstance(r, RunnerProcess) or not r.preload(plan["module"], limits(plan))
        assert r.run(plan).steps[0].results == SUM
    finally:
        r.close()
