"""The browser runner (runners/browser) on what only it does: its own WASI preview1 in the page
gives wasmtime's results, a blocking WASI call ends at the step's deadline, and a crashed page
costs one plan. Skipped where the browser is not installed (unless WASMEXPORT_REQUIRE_ENGINES=1).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness import engines
from harness.runner import EngineUnavailable, Runner, RunnerFailure, RunnerProcess
from harness.values import Value

BROWSERS = ["chromium", "firefox"]

# WASI preview1 imports the probe module calls, with their parameter types.
WASI = {
    "fd_fdstat_get": "i32 i32", "fd_fdstat_set_flags": "i32 i32", "fd_prestat_get": "i32 i32",
    "fd_prestat_dir_name": "i32 i32 i32", "fd_close": "i32", "fd_filestat_get": "i32 i32",
    "fd_seek": "i32 i64 i32 i32", "fd_tell": "i32 i32", "fd_sync": "i32", "fd_renumber": "i32 i32",
    "fd_read": "i32 i32 i32 i32", "fd_write": "i32 i32 i32 i32", "fd_pread": "i32 i32 i32 i64 i32",
    "fd_pwrite": "i32 i32 i32 i64 i32", "fd_readdir": "i32 i32 i32 i64 i32",
    "path_open": "i32 i32 i32 i32 i32 i64 i64 i32 i32", "sock_accept": "i32 i32 i32",
    "sock_send": "i32 i32 i32 i32 i32", "sock_shutdown": "i32 i32", "clock_res_get": "i32 i32",
    "clock_time_get": "i32 i64 i32", "proc_raise": "i32", "sched_yield": "",
    "args_sizes_get": "i32 i32", "poll_oneoff": "i32 i32 i32 i32", "random_get": "i32 i32",
}
# (call, args): every outcome and the 32 bytes at 1024 afterwards must be wasmtime's. Clock
# readings and random bytes are left out; their errno and pointer checks are not.
CALLS: list[tuple[str, list[int]]] = [
    ("fd_fdstat_get", [0, 1024]), ("fd_fdstat_get", [1, 1024]), ("fd_fdstat_get", [3, 1024]),
    ("fd_fdstat_set_flags", [1, 4]), ("fd_prestat_get", [3, 1024]),
    ("fd_prestat_dir_name", [3, 1024, 4]), ("fd_filestat_get", [2, 1024]),
    ("fd_seek", [1, 0, 1, 1024]), ("fd_seek", [9, 0, 0, 1024]), ("fd_seek", [1, 0, 7, 1024]),
    ("fd_tell", [0, 1024]), ("fd_sync", [1]), ("fd_pread", [0, 0, 0, 0, 1024]),
    ("fd_pread", [1, 0, 0, 0, 1024]), ("fd_pwrite", [0, 0, 0, 0, 1024]),
    ("fd_pwrite", [2, 0, 0, 0, 1024]), ("fd_readdir", [0, 1024, 32, 0, 1040]),
    ("fd_read", [1, 1024, 0, 1040]), ("fd_write", [0, 1024, 0, 1040]),
    ("fd_write", [1, 70000, 1, 1024]), ("path_open", [3, 0, 0, 0, 0, 0, 0, 0, 1024]),
    ("sock_accept", [0, 0, 1024]), ("sock_accept", [7, 0, 1024]), ("sock_send", [2, 0, 0, 0, 1024]),
    ("sock_shutdown", [9, 0]), ("clock_res_get", [1, 1024]), ("clock_res_get", [2, 1024]),
    ("clock_res_get", [9, 1024]), ("clock_time_get", [3, 0, 1024]),
    ("clock_time_get", [1, 0, 1028]), ("proc_raise", [9]), ("sched_yield", []),
    ("args_sizes_get", [1024, 1028]), ("args_sizes_get", [1025, 1032]),
    ("poll_oneoff", [1024, 2048, 0, 1040]), ("random_get", [70000, 1]),
    ("fd_renumber", [1, 9]), ("fd_renumber", [1, 2]), ("fd_close", [2]), ("fd_close", [2]),
    ("fd_fdstat_get", [1, 1024]),
]


def probe_module() -> str:
    """A module exporting, per WASI function, a function of the same name that calls it."""
    imports, funcs = [], []
    for name, params in WASI.items():
        sig = " ".join(f"(param {p})" for p in params.split())
        imports.append(f'(import "wasi_snapshot_preview1" "{name}" (func ${name} {sig} (result i32)))')
        body = " ".join(f"local.get {i}" for i in range(len(params.split())))
        funcs.append(f'(func (export "{name}") {sig} (result i32) {body} call ${name})')
    return "(module\n" + "\n".join(imports) + '\n(memory (export "memory") 1)\n' + "\n".join(funcs) + ")"


def _runner(name: str) -> Runner:
    try:
        r = engines.make_runner(name)
        r.info()
    except EngineUnavailable as e:
        if os.environ.get("WASMEXPORT_REQUIRE_ENGINES") == "1":
            pytest.fail(f"{name} is required here but unavailable: {e}")
        pytest.skip(f"{name} unavailable: {e}")
    return r


@pytest.fixture(scope="module", params=BROWSERS)
def browser(request: pytest.FixtureRequest) -> Iterator[Runner]:
    r = _runner(request.param)
    yield r
    r.close()


def _probe_steps() -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = []
    for name, args in CALLS:
        types = WASI[name].split()
        operands = [{"t": t, "v": str(a)} for a, t in zip(args, types, strict=True)]
        steps.append({"call": name, "args": operands})
        steps.append({"read": {"ptr": {"t": "i32", "v": "1024"}, "len": {"t": "i32", "v": "32"}}})
    return steps


def test_wasi_gives_wasmtimes_results(browser, wat, plan_for):
    plan = plan_for(wat(probe_module()), _probe_steps(), args=["probe", "x"])
    reference = _runner("wasmtime")
    try:
        want = reference.run(plan)
    finally:
        reference.close()
    got = browser.run(plan)
    assert got.load_ok and want.load_ok
    for i, (name, args) in enumerate(CALLS):
        w, g = want.steps[2 * i], got.steps[2 * i]
        assert (g.outcome, g.results, g.trap) == (w.outcome, w.results, w.trap), f"{name}{args}"
        assert got.steps[2 * i + 1].data == want.steps[2 * i + 1].data, f"memory after {name}{args}"


SLEEPER = """
(module
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; one relative monotonic clock subscription of an hour at 0; events at 64
  (func (export "nap") (result i32)
    (i64.store (i32.const 0) (i64.const 7))
    (i32.store8 (i32.const 8) (i32.const 0))
    (i32.store (i32.const 16) (i32.const 1))
    (i64.store (i32.const 24) (i64.const 3600000000000))
    (call $poll (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 128))))
"""


def test_a_guest_sleeping_in_poll_oneoff_is_stopped_at_the_deadline(browser, wat, plan_for):
    plan = plan_for(wat(SLEEPER), [{"call": "nap", "timeout_ms": 500}, {"call": "nap"}])
    started = time.monotonic()
    obs = browser.run(plan)
    assert (obs.steps[0].outcome, obs.steps[0].trap) == ("trap", "timeout")
    assert 450 <= obs.steps[0].duration_ms < 750
    assert obs.steps[1].outcome == "error"  # the worker that held the instance is gone
    assert time.monotonic() - started < 5


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                kids = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            out += kids
            todo += kids
    return out


def _content_processes(pid: int) -> list[int]:
    """The runner's renderer (Chromium) or content (Firefox) processes."""
    found = []
    for p in _descendants(pid):
        try:
            cmd = Path(f"/proc/{p}/cmdline").read_bytes()  # both rewrite their argv as one string
        except OSError:
            continue
        if b"--type=renderer" in cmd or b"-isForBrowser" in cmd:
            found.append(p)
    return found


def test_a_crashed_page_costs_one_plan(browser, wat, plan_for):
    assert isinstance(browser, RunnerProcess) and browser._proc is not None
    spin = plan_for(wat("(module (func (export \"spin\") (loop $l br $l)))"),
                    [{"call": "spin", "timeout_ms": 20000}])
    pid = browser._proc.pid

    def kill() -> None:
        for p in _content_processes(pid):
            os.kill(p, signal.SIGKILL)

    timer = threading.Timer(2.0, kill)
    timer.start()
    started = time.monotonic()
    with pytest.raises(RunnerFailure, match="browser failed"):
        browser.run(spin)
    timer.join()
    assert time.monotonic() - started < 15, "the crash is noticed, not waited out"
    ok = browser.run(plan_for(wat("(module (func (export \"one\") (result i32) i32.const 1))"),
                              [{"call": "one"}]))
    assert ok.steps[0].results == (Value("i32", 1),)
