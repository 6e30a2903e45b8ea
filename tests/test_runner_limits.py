"""Every runner bounds what a guest can take: a step's time, also when the guest waits in a WASI
call, under load; and the output it keeps. Hand-written WAT, every engine (tests/conftest.py)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

PATTERN = b"0123456789abcdef"
CHUNK, CHUNKS = 65536, 48  # 3 MiB of the pattern, then "END"

GUEST = f"""
(module
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 4)
  (data (i32.const 1024) "{PATTERN.decode()}")
  (data (i32.const 512) "END")
  ;; one clock subscription (relative, monotonic) of an hour at 0; its event at 64
  (func (export "sleep_hour") (result i32)
    (i32.store8 (i32.const 8) (i32.const 0))
    (i32.store (i32.const 16) (i32.const 1))
    (i64.store (i32.const 24) (i64.const 3600000000000))
    (i64.store (i32.const 32) (i64.const 0))
    (i32.store16 (i32.const 40) (i32.const 0))
    (call $poll (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 128)))
  (func (export "spin") (loop $l (br $l)))
  ;; {CHUNKS} writes of {CHUNK} bytes of the pattern, then "END"
  (func (export "flood") (local $i i32)
    (local.set $i (i32.const 1))
    (loop $fill
      (memory.copy (i32.add (i32.const 1024) (i32.mul (local.get $i) (i32.const 16)))
                   (i32.const 1024) (i32.const 16))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $fill (i32.lt_u (local.get $i) (i32.const {CHUNK // 16}))))
    (i32.store (i32.const 256) (i32.const 1024))
    (i32.store (i32.const 260) (i32.const {CHUNK}))
    (local.set $i (i32.const 0))
    (loop $out
      (drop (call $write (i32.const 1) (i32.const 256) (i32.const 1) (i32.const 300)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $out (i32.lt_u (local.get $i) (i32.const {CHUNKS}))))
    (i32.store (i32.const 256) (i32.const 512))
    (i32.store (i32.const 260) (i32.const 3))
    (drop (call $write (i32.const 1) (i32.const 256) (i32.const 1) (i32.const 300))))
  (func (export "hello")
    (i32.store (i32.const 256) (i32.const 512))
    (i32.store (i32.const 260) (i32.const 3))
    (drop (call $write (i32.const 2) (i32.const 256) (i32.const 1) (i32.const 300)))))
"""


@pytest.fixture
def load() -> Iterator[None]:
    """The machine busy on every core, as in a parallel CI run."""
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
               for _ in range(os.cpu_count() or 2)]
    try:
        yield
    finally:
        for p in burners:
            p.kill()
            p.wait()


@pytest.mark.parametrize("export", ["sleep_hour", "spin"])
def test_a_step_ends_within_one_and_a_half_times_its_timeout_under_load(runner, wat, plan_for,
                                                                        load, export):
    """`sleep_hour` waits in poll_oneoff, where no wasm runs to interrupt; `spin` never leaves
    wasm. Both must end as a `timeout` trap, in time, and the runner must answer the next plan."""
    mod = wat(GUEST)
    started = time.monotonic()
    obs = runner.run(plan_for(mod, [{"call": export, "timeout_ms": 1000}]))
    wall = time.monotonic() - started
    (step,) = obs.steps
    assert (step.outcome, step.trap) == ("trap", "timeout"), step
    assert step.duration_ms <= 1500, step.duration_ms
    assert wall <= 1.5 + 1.0, f"the plan took {wall:.2f} s"  # + module load and round trip
    after = runner.run(plan_for(mod, [{"call": "hello"}]))
    assert after.steps[0].outcome == "ok" and after.steps[0].stderr == b"END"


def test_output_beyond_the_limit_is_counted_and_hashed_not_kept(runner, wat, plan_for):
    mod = wat(GUEST)
    plan = plan_for(mod, [{"call": "flood", "timeout_ms": 30000}, {"call": "hello"}])
    plan["limits"]["output_bytes"] = 1000
    obs = runner.run(plan)
    flood, hello = obs.steps
    full = PATTERN * (CHUNK * CHUNKS // len(PATTERN)) + b"END"
    assert flood.outcome == "ok"
    assert flood.stdout == full[:1000]
    assert flood.stdout_len == len(full)
    assert flood.stdout_sha256 == hashlib.sha256(full).hexdigest()
    assert (flood.stderr, flood.stderr_len) == (b"", 0)
    assert flood.stderr_sha256 == hashlib.sha256(b"").hexdigest()
    # the next step's streams start empty: nothing of the flood is carried over
    assert (hello.stdout, hello.stdout_len, hello.stderr, hello.stderr_len) == (b"", 0, b"END", 3)


def test_output_within_the_limit_is_kept_whole(runner, wat, plan_for):
    mod = wat(GUEST)
    obs = runner.run(plan_for(mod, [{"call": "hello"}]))
    (step,) = obs.steps
    assert (step.stderr, step.stderr_len) == (b"END", 3)
    assert step.stderr_sha256 == hashlib.sha256(b"END").hexdigest()
