"""Bench mode of the JavaScript runner (runners/js/bench.mjs) on Node, Deno and Bun: the runner's
own command plus ``--bench PLANS.jsonl --repeat N`` prints one JSON line about the plans it timed
in-process. Hand-written WAT plans (tests/conftest.py); no Go toolchain needed. Also the module
cache's eviction order (runners/js/modcache.mjs), on each engine."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness import engines
from harness.runner import EngineUnavailable, RunnerProcess
from runners.js import HOST

ENGINES = ["node", "deno", "bun"]

GUEST = """
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "hi\\n")
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "greet")
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 3))
    (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "spin") (loop $l (br $l))))
"""

OTHER = """
(module
  (func (export "mul") (param i64 i64) (result i64) (i64.mul (local.get 0) (local.get 1))))
"""


def runner_for(name: str) -> RunnerProcess:
    try:
        runner = engines.adapter(name).make_runner()
    except EngineUnavailable as e:
        if os.environ.get("WASMEXPORT_REQUIRE_ENGINES") == "1":
            pytest.fail(f"{name} is required here but unavailable: {e}")
        pytest.skip(f"{name} unavailable: {e}")
    assert isinstance(runner, RunnerProcess)
    return runner


def bench(runner: RunnerProcess, plans: list[dict[str, Any]], tmp_path: Path,
          *extra: str) -> subprocess.CompletedProcess[str]:
    file = tmp_path / "plans.jsonl"
    file.write_text("".join(json.dumps(p) + "\n" for p in plans), encoding="utf-8")
    env = {**os.environ, **runner.env}
    env.pop("WASMEXPORT_MODULE_CACHE_MB", None)
    return subprocess.run([*runner.command, "--bench", str(file), *extra], cwd=runner.cwd,
                          env=env, capture_output=True, text=True, timeout=300, check=False)


def i32(v: int) -> dict[str, str]:
    return {"t": "i32", "v": str(v)}


@pytest.mark.parametrize("engine", ENGINES)
def test_bench_times_the_plans_in_process(engine: str, wat: Callable[[str], tuple[Path, str]],
                                          plan_for: Callable[..., dict[str, Any]],
                                          tmp_path: Path) -> None:
    runner = runner_for(engine)
    guest, other = wat(GUEST), wat(OTHER)
    plans = [
        plan_for(guest, [{"call": "add", "args": [i32(2), i32(3)]}, {"call": "greet"}]),
        plan_for(other, [{"call": "mul", "args": [{"t": "i64", "v": "6"}, {"t": "i64", "v": "7"}]}]),
        # cannot be stopped in one thread: screened out through the executor, and named
        plan_for(guest, [{"call": "spin", "timeout_ms": 200}]),
    ]
    done = bench(runner, plans, tmp_path, "--repeat", "3")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1, done.stdout  # one JSON line, and no observation
    out = json.loads(lines[0])
    assert out["engine"] == engine
    assert (out["plans"], out["repeat"]) == (2, 3)
    assert [e["id"] for e in out["excluded"]] == [plans[2]["id"]]
    ms = out["per_plan_ms"]
    assert set(ms) == {"median", "mean", "p90"}
    assert all(isinstance(v, float | int) and 0 < v < 5000 for v in ms.values()), ms
    assert ms["median"] <= ms["p90"]
    # the warm-up pass, each module compiled (or read back) once: timed too, one time per plan
    first = out["first_pass_ms"]
    assert set(first) == {"median", "mean", "p90"}
    assert 0 < first["median"] <= first["p90"] < 5000
    # 6 timed runs, and no more wall time than they can account for
    assert 0 < out["total_s"] < 6 * 5
    assert out["total_s"] * 1000 >= ms["mean"] * 6 - 0.5
    # every module stays warm: the timed passes compiled nothing
    cache = out["module_cache"]
    assert (cache["hits"], cache["misses"], cache["modules"]) == (6, 0, 2)


@pytest.mark.parametrize("engine", ENGINES)
def test_bench_usage_errors(engine: str, tmp_path: Path) -> None:
    runner = runner_for(engine)
    done = bench(runner, [], tmp_path, "--repeat", "0")
    assert done.returncode == 2
    assert "usage" in done.stderr
    assert done.stdout == ""


LRU = """
import { ModuleCache } from %s;
const cache = new ModuleCache(10);
const entry = (value, nbytes) => () => ({ value, nbytes });
const state = () => ({ keys: [...cache.entries.keys()], bytes: cache.bytes, hits: cache.hits,
  misses: cache.misses });
const seen = [];
cache.get('a', entry('a', 4));
cache.get('b', entry('b', 4));
seen.push(cache.get('a', entry('not compiled again', 4)));
cache.get('c', entry('c', 4)); // 12 bytes: b, the least recently used, goes
const afterC = state();
cache.get('big', entry('big', 100)); // over budget alone: kept, everything else goes
console.log(JSON.stringify({ seen, afterC, afterBig: state() }));
"""


@pytest.mark.parametrize("engine", ENGINES)
def test_module_cache_drops_least_recently_used_past_its_budget(engine: str, tmp_path: Path) -> None:
    runner = runner_for(engine)
    script = tmp_path / "lru.mjs"
    script.write_text(LRU % json.dumps((HOST.parent / "modcache.mjs").as_uri()), encoding="utf-8")
    assert runner.command[-1] == str(HOST)
    done = subprocess.run([*runner.command[:-1], str(script)], cwd=runner.cwd,
                          env={**os.environ, **runner.env}, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["seen"] == ["a"]
    assert out["afterC"] == {"keys": ["a", "c"], "bytes": 8, "hits": 1, "misses": 3}
    assert out["afterBig"] == {"keys": ["big"], "bytes": 100, "hits": 1, "misses": 4}
