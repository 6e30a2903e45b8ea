"""A broken runner costs one case an error, never the run: crash, hang, garbage, restart."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from harness.plan import PROTOCOL, deadline_s
from harness.runner import RunnerFailure, RunnerProcess, rss_bytes

FAKE = Path(__file__).with_name("fake_runner.py")


def fake(mode: str, **kw) -> RunnerProcess:
    return RunnerProcess("fake", [sys.executable, str(FAKE), mode], **kw)


def plan(steps: int = 1, timeout_ms: int = 100, pid: str = "p1") -> dict:
    return {"type": "plan", "protocol": PROTOCOL, "id": pid, "module": {"path": "/x", "sha256": "0"},
            "wasi": {"args": [], "env": []},
            "limits": {"memory_bytes": 1 << 20, "output_bytes": 1 << 20}, "imports": [],
            "steps": [{"call": "f", "args": [], "timeout_ms": timeout_ms}] * steps}


def test_a_well_behaved_runner_answers(monkeypatch):
    r = fake("ok")
    assert r.info().version == "0"
    assert len(r.run(plan(3)).steps) == 3
    r.close()


@pytest.mark.parametrize(("mode", "kind", "words"), [
    ("crash", "crash", "exited with code 3"),
    ("garbage", "garbage", "not JSON"),
    ("wrong-id", "garbage", "observation for 'something-else'"),
    ("short", "garbage", "2 step observations for 3 steps"),
    ("error", "garbage", "the runner failed: boom"),
])
def test_misbehaviour_is_a_runner_failure(mode, kind, words):
    r = fake(mode)
    with pytest.raises(RunnerFailure) as info:
        r.run(plan(3))
    assert info.value.kind == kind
    assert words in str(info.value)
    r.close()


def test_a_crash_keeps_the_runner_stderr():
    with pytest.raises(RunnerFailure) as info:
        fake("crash").run(plan())
    assert "fake runner crashing" in info.value.stderr


def test_a_hung_runner_is_killed_at_the_plan_deadline(monkeypatch):
    monkeypatch.setattr("harness.runner.deadline_s", lambda p, allowance: 1.0)
    r = fake("hang")
    with pytest.raises(RunnerFailure) as info:
        r.run(plan())
    assert info.value.kind == "hang"
    assert r._proc is None, "the hung process is gone"


def test_the_plan_deadline_counts_the_runners_compile_allowance():
    """A runner whose engine compiles slowly (wasmer-llvm) gets more time before a plan counts
    as hung; the steps' own timeouts are unchanged."""
    p = plan()
    assert deadline_s(p, 180.0) - deadline_s(p, 60.0) == 120.0
    assert fake("hang", compile_allowance_s=180.0).compile_allowance_s == 180.0


def test_a_runner_that_never_says_hello_is_a_hang():
    r = fake("no-hello", hello_timeout_s=1.0)
    with pytest.raises(RunnerFailure) as info:
        r.run(plan())
    assert info.value.kind == "hang"


def test_the_next_plan_gets_a_fresh_runner(tmp_path):
    r = fake(f"crash-once:{tmp_path / 'marker'}")
    with pytest.raises(RunnerFailure):
        r.run(plan(pid="first"))
    assert r.run(plan(pid="second")).id == "second"
    r.close()


def test_a_missing_runner_binary_is_a_failure_not_an_exception():
    r = RunnerProcess("nope", ["/nonexistent/runner"])
    with pytest.raises(RunnerFailure) as info:
        r.run(plan())
    assert info.value.kind == "crash"


def test_a_runner_that_grew_past_the_limit_is_restarted_and_gives_its_memory_back():
    r = fake("grow", max_rss_bytes=200 << 20)
    for _ in range(5):  # 64 MiB more per plan: past 200 MiB after the third
        assert len(r.run(plan()).steps) == 1
    assert r.restarts >= 1
    assert r._proc is None or rss_bytes(r._proc.pid) < 200 << 20
    r.close()


def test_a_runner_below_the_limit_is_kept_warm():
    r = fake("ok", max_rss_bytes=1 << 30)
    for _ in range(3):
        r.run(plan())
    assert r.restarts == 0
    r.close()
