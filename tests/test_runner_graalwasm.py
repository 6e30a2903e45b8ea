"""The GraalWasm runner's own parts: its JDK choice, the poll_oneoff it supplies (GraalWasm's
returns ENOSYS) and the memory cap it writes into the module. WAT fixtures, both configurations."""

from __future__ import annotations

import base64
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import engines
from harness.runner import EngineUnavailable, RunnerProcess
from harness.values import Value
from runners import jvm
from runners.graalwasm import adapter

POLL = """
(module
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; subscription n at 48*n: userdata n+1, tag at +8, clock id at +16, timeout at +24, flags at +40
  (func $clock (param $n i32) (param $ns i64) (param $flags i32)
    (i64.store (i32.mul (local.get $n) (i32.const 48))
               (i64.extend_i32_u (i32.add (local.get $n) (i32.const 1))))
    (i32.store8 (i32.add (i32.mul (local.get $n) (i32.const 48)) (i32.const 8)) (i32.const 0))
    (i32.store (i32.add (i32.mul (local.get $n) (i32.const 48)) (i32.const 16)) (i32.const 1))
    (i64.store (i32.add (i32.mul (local.get $n) (i32.const 48)) (i32.const 24)) (local.get $ns))
    (i32.store16 (i32.add (i32.mul (local.get $n) (i32.const 48)) (i32.const 40)) (local.get $flags)))
  (func $fd (param $n i32) (param $tag i32) (param $fd i32)
    (i64.store (i32.mul (local.get $n) (i32.const 48))
               (i64.extend_i32_u (i32.add (local.get $n) (i32.const 1))))
    (i32.store8 (i32.add (i32.mul (local.get $n) (i32.const 48)) (i32.const 8)) (local.get $tag))
    (i32.store (i32.add (i32.mul (local.get $n) (i32.const 48)) (i32.const 16)) (local.get $fd)))
  ;; events at 1024, the event count at 2048
  (func (export "sleep_ms") (param $ms i64) (result i32)
    (call $clock (i32.const 0) (i64.mul (local.get $ms) (i64.const 1000000)) (i32.const 0))
    (call $poll (i32.const 0) (i32.const 1024) (i32.const 1) (i32.const 2048)))
  (func (export "stdout_or_hour") (result i32)
    (call $clock (i32.const 0) (i64.const 3600000000000) (i32.const 0))
    (call $fd (i32.const 1) (i32.const 2) (i32.const 1))
    (call $poll (i32.const 0) (i32.const 1024) (i32.const 2) (i32.const 2048)))
  (func (export "bad_fd") (result i32)
    (call $fd (i32.const 0) (i32.const 1) (i32.const 9))
    (call $poll (i32.const 0) (i32.const 1024) (i32.const 1) (i32.const 2048)))
  (func (export "none") (result i32)
    (call $poll (i32.const 0) (i32.const 1024) (i32.const 0) (i32.const 2048))))
"""

CAPPED = """
(module
  (memory (export "memory") 1 5)
  (func (export "grow") (param i32) (result i32) local.get 0 memory.grow))
"""


@pytest.fixture(scope="module", params=sorted(adapter.CONFIGURATIONS))
def graal(request: pytest.FixtureRequest) -> Iterator[RunnerProcess]:
    try:
        r = engines.make_runner(request.param)
        r.info()
    except EngineUnavailable as e:
        pytest.skip(f"{request.param} unavailable: {e}")
    assert isinstance(r, RunnerProcess)
    yield r
    r.close()


def i32(v: int) -> dict[str, str]:
    return {"t": "i32", "v": str(v)}


def events(obs_step_data: bytes) -> list[tuple[int, int, int]]:
    """(userdata, error, type) of each event in a read of [1024, 1024+64)."""
    return [struct.unpack_from("<QHB", obs_step_data, off) for off in (0, 32)]


def test_a_clock_subscription_sleeps_for_real(graal, wat, plan_for):
    steps = [{"call": "sleep_ms", "args": [{"t": "i64", "v": "150"}]},
             {"read": {"ptr": i32(2048), "len": i32(4)}},
             {"read": {"ptr": i32(1024), "len": i32(64)}}]
    obs = graal.run(plan_for(wat(POLL), steps))
    assert obs.steps[0].results == (Value("i32", 0),)
    assert obs.steps[0].duration_ms >= 140
    assert struct.unpack("<I", obs.steps[1].data) == (1,)
    assert events(obs.steps[2].data)[0] == (1, 0, 0)


def test_a_ready_descriptor_answers_at_once(graal, wat, plan_for):
    steps = [{"call": "stdout_or_hour", "timeout_ms": 3000},
             {"read": {"ptr": i32(2048), "len": i32(4)}},
             {"read": {"ptr": i32(1024), "len": i32(64)}},
             {"call": "bad_fd"}, {"read": {"ptr": i32(1024), "len": i32(64)}},
             {"call": "none"}]
    obs = graal.run(plan_for(wat(POLL), steps))
    assert obs.steps[0].outcome == "ok" and obs.steps[0].duration_ms < 2000
    assert struct.unpack("<I", obs.steps[1].data) == (1,)
    assert events(obs.steps[2].data)[0] == (2, 0, 2)  # the fd_write subscription, no error
    assert events(obs.steps[4].data)[0] == (1, 8, 1)  # fd 9: EBADF
    assert obs.steps[5].results == (Value("i32", 28),)  # no subscriptions: EINVAL


def test_the_memory_cap_clamps_the_declared_maximum_only_in_the_engine(graal, wat, plan_for):
    plan = plan_for(wat(CAPPED), [{"call": "grow", "args": [i32(2)]},
                                  {"call": "grow", "args": [i32(3)]}])
    plan["limits"]["memory_bytes"] = 4 * 65536
    obs = graal.run(plan)
    assert graal.last_observation is not None
    memory = next(e for e in graal.last_observation["exports"] if e["name"] == "memory")
    assert (memory["min"], memory["max"]) == (1, 5)  # as the module declares it
    assert [s.results for s in obs.steps] == [(Value("i32", 1),), (Value("i32", 0xFFFFFFFF),)]
    plan["limits"]["memory_bytes"] = 0
    obs = graal.run(plan)
    assert not obs.load_ok and "exceeds the plan's limit" in obs.load_message


def test_stdin_is_the_plan_bytes(graal, wat, plan_for):
    mod = wat("""
    (module
      (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
      (memory (export "memory") 1)
      (func (export "read") (result i32)
        (i32.store (i32.const 0) (i32.const 64)) (i32.store (i32.const 4) (i32.const 16))
        (drop (call $read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
        (i32.load (i32.const 8))))
    """)
    plan = plan_for(mod, [{"call": "read"}, {"read": {"ptr": i32(64), "len": i32(3)}},
                          {"call": "read"}])
    plan["wasi"]["stdin_b64"] = base64.b64encode(b"abc").decode()
    obs = graal.run(plan)
    assert [s.results for s in obs.steps] == [(Value("i32", 3),), (), (Value("i32", 0),)]
    assert obs.steps[1].data == b"abc"


def test_a_jdk_older_than_21_is_refused_with_the_install_hint(monkeypatch):
    old = next((p for p in Path("/usr/lib/jvm").glob("*17*/bin/java") if p.exists()), None)
    if old is None:
        pytest.skip("no Java 17 here to point at")
    monkeypatch.setenv("WASMEXPORT_JAVA", str(old))
    jvm.find_jdk.cache_clear()
    try:
        with pytest.raises(EngineUnavailable, match=r"not a JDK 21\+ .*install a JDK 21"):
            jvm.find_jdk(adapter.MIN_JAVA, adapter.INSTALL)
    finally:
        jvm.find_jdk.cache_clear()
