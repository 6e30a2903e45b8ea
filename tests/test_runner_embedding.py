"""What embedders do, on every runner (protocol 3): bytes into and out of guest memory, results
bound and used again, exact values through host functions, stdin, ordered env, the import
section and memory limits reflected. Hand-written WAT; every engine (tests/conftest.py)."""

from __future__ import annotations

import base64

import pytest

from harness.values import Value

GUEST = """
(module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $env_sizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $env_get (param i32 i32) (result i32)))
  (import "host" "id_i64" (func $h_i64 (param i64) (result i64)))
  (import "host" "id_f32" (func $h_f32 (param f32) (result f32)))
  (import "host" "id_f64" (func $h_f64 (param f64) (result f64)))
  (memory (export "memory") 2 5)
  (global $next (mut i32) (i32.const 4096))
  (func (export "alloc") (param $n i32) (result i32) (local $p i32)
    (local.set $p (global.get $next))
    (global.set $next (i32.add (global.get $next) (local.get $n)))
    (local.get $p))
  (func (export "sum") (param $p i32) (param $n i32) (result i32) (local $s i32)
    (block $done (loop $l
      (br_if $done (i32.eqz (local.get $n)))
      (local.set $s (i32.add (local.get $s) (i32.load8_u (local.get $p))))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $l)))
    (local.get $s))
  ;; reads stdin into 2048.. (at most 64 bytes) and returns how many bytes came
  (func (export "read_stdin") (result i32)
    (i32.store (i32.const 0) (i32.const 2048))
    (i32.store (i32.const 4) (i32.const 64))
    (drop (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
    (i32.load (i32.const 8)))
  ;; the environment strings, back to back at 3072 (pointers at 2560); returns their total size
  (func (export "env") (result i32)
    (drop (call $env_sizes (i32.const 16) (i32.const 20)))
    (drop (call $env_get (i32.const 2560) (i32.const 3072)))
    (i32.load (i32.const 20)))
  (func (export "via_i64") (param i64) (result i64) (call $h_i64 (local.get 0)))
  (func (export "via_f32") (param f32) (result f32) (call $h_f32 (local.get 0)))
  (func (export "via_f64") (param f64) (result f64) (call $h_f64 (local.get 0))))
"""


def host(name: str, t: str) -> dict:
    return {"module": "host", "name": name, "params": [t], "results": [t], "do": [],
            "return": [{"param": 0}]}


HOSTS = [host("id_i64", "i64"), host("id_f32", "f32"), host("id_f64", "f64")]


def run(runner, wat, plan_for, steps, **wasi):
    plan = plan_for(wat(GUEST), steps, HOSTS, **{k: v for k, v in wasi.items() if k != "stdin"})
    plan["wasi"]["stdin_b64"] = base64.b64encode(wasi.get("stdin", b"")).decode()
    return runner.run(plan)


def i32(v: int) -> dict:
    return Value("i32", v & 0xFFFFFFFF).to_protocol()


def test_alloc_write_call_read_with_bound_results(runner, wat, plan_for):
    """The embedder pattern: p = alloc(n); write bytes at p; f(p, n); read them back."""
    obs = run(runner, wat, plan_for, [
        {"call": "alloc", "args": [i32(5)], "bind": ["p"]},
        {"write": {"ptr": {"ref": "p"}, "hex": b"hello".hex()}},
        {"call": "sum", "args": [{"ref": "p"}, i32(5)]},
        {"read": {"ptr": {"ref": "p"}, "len": i32(5)}},
        {"call": "alloc", "args": [i32(1)]},
    ])
    alloc, write, total, read, again = obs.steps
    assert alloc.results == (Value("i32", 4096),)
    assert (write.outcome, write.results) == ("ok", ())
    assert total.results == (Value("i32", sum(b"hello")),)
    assert (read.outcome, read.data) == ("ok", b"hello")
    assert again.results == (Value("i32", 4101),)


@pytest.mark.parametrize("step", [
    {"write": {"ptr": i32(5 * 65536 - 2), "hex": "00112233"}},
    {"read": {"ptr": i32(2 * 65536 - 2), "len": i32(4)}},
    {"read": {"ptr": i32(-1), "len": i32(1)}},
])
def test_memory_access_out_of_bounds_is_a_trap(runner, wat, plan_for, step):
    (got,) = run(runner, wat, plan_for, [step]).steps
    assert (got.outcome, got.trap) == ("trap", "memory_out_of_bounds"), got


def test_a_reference_nothing_bound_is_an_error_step(runner, wat, plan_for):
    bad, after = run(runner, wat, plan_for, [
        {"call": "sum", "args": [{"ref": "nowhere"}, i32(1)]},
        {"call": "alloc", "args": [i32(1)]}]).steps
    assert bad.outcome == "error" and "nowhere" in bad.message
    assert after.outcome == "ok"


def test_stdin_is_delivered_exactly_then_end_of_file(runner, wat, plan_for):
    data = b"line one\n\x00\xffend"
    first, second, read = run(runner, wat, plan_for, [
        {"call": "read_stdin", "args": []}, {"call": "read_stdin", "args": []},
        {"read": {"ptr": i32(2048), "len": i32(len(data))}}], stdin=data).steps
    assert first.results == (Value("i32", len(data)),)
    assert second.results == (Value("i32", 0),)
    assert read.data == data
    (empty,) = run(runner, wat, plan_for, [{"call": "read_stdin", "args": []}]).steps
    assert empty.results == (Value("i32", 0),)


def test_the_environment_keeps_its_order(runner, wat, plan_for):
    env = [["ZETA", "1"], ["ALPHA", "two"], ["MID", ""]]
    blob = b"".join(f"{k}={v}\0".encode() for k, v in env)
    size, read = run(runner, wat, plan_for, [
        {"call": "env", "args": []}, {"read": {"ptr": i32(3072), "len": i32(len(blob))}}],
        env=env).steps
    assert size.results == (Value("i32", len(blob)),)
    assert read.data == blob


EXACT = [("i64", 0x8000000000000000), ("i64", 0xFFFFFFFFFFFFFFFF), ("i64", 0x0020000000000001),
         ("f64", 0x7FF0000000000001), ("f64", 0xFFF4000000000001), ("f64", 0x8000000000000000),
         ("f64", 0x7FF0000000000000), ("f32", 0x80000000), ("f32", 0xFF800000),
         ("f32", 0x7FA00001)]


@pytest.mark.parametrize(("t", "bits"), EXACT, ids=[f"{t}-{b:x}" for t, b in EXACT])
def test_values_cross_a_host_function_exactly(runner, wat, plan_for, t, bits):
    if t == "f32" and "exact_f32" not in runner.info().capabilities:
        pytest.skip(f"{runner.info().name} does not declare exact_f32")
    v = Value(t, bits)
    (step,) = run(runner, wat, plan_for, [{"call": f"via_{t}", "args": [v.to_protocol()]}]).steps
    assert step.results == (v,), "the guest got back other bits than it passed"
    assert step.trace == (f"import host.id_{t}({v})", f"import_return ({v})"), step.trace


def test_the_import_section_is_reflected_in_module_order(runner, wat, plan_for):
    obs = run(runner, wat, plan_for, [])
    assert obs.imports is not None
    assert [(i.module, i.name, i.kind) for i in obs.imports] == [
        ("wasi_snapshot_preview1", "fd_read", "func"),
        ("wasi_snapshot_preview1", "environ_sizes_get", "func"),
        ("wasi_snapshot_preview1", "environ_get", "func"),
        ("host", "id_i64", "func"), ("host", "id_f32", "func"), ("host", "id_f64", "func")]
    if "import_types" in runner.info().capabilities:
        assert [(i.params, i.results) for i in obs.imports][2:] == [
            (("i32", "i32"), ("i32",)), (("i64",), ("i64",)), (("f32",), ("f32",)),
            (("f64",), ("f64",))]


def test_memory_limits_are_reflected(runner, wat, plan_for):
    if "memory_types" not in runner.info().capabilities:
        pytest.skip(f"{runner.info().name} does not declare memory_types")
    obs = run(runner, wat, plan_for, [])
    assert obs.memories == {"memory": (2, 5)}
