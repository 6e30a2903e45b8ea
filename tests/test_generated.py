"""Generated cases (harness/generate, suites/generated.py): deterministic manifests that the real
loader accepts, an expected-value model that agrees with the Go and Wasm rules, real runs on
wasmtime, printed commands that work, and a shrinker that finds the minimal failing signature
on a deliberately broken engine."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.generate import cases, gosource
from harness.generate import expected as ex
from harness.generate import gotypes as gt
from harness.generate.shrink_steps import apply_path, candidates
from harness.generate.signature import HostReturn, Sig, generate
from harness.manifest import MANIFEST_DIR, load
from suites.generated import parse_option
from tests.suite_copy import REPO, env, fresh_copy, pytest_run, records, shell

T = gt.go_type

# The real wasmtime runner, except that every f64 argument of a call arrives with its sign bit
# flipped: a defect only signatures with a float64 parameter can see.
FLIP_F64 = """
import sys
sys.path.insert(0, {repo!r})
from harness import cachedir
from runners.wasmtime import host

init = host.Run.__init__

def broken(self, eng, plan):
    for step in plan.get("steps", []):
        for a in step.get("args", []):
            if a.get("t") == "f64":
                a["v"] = "0x%016x" % (int(a["v"], 16) ^ (1 << 63))
    init(self, eng, plan)

host.Run.__init__ = broken
sys.exit(host.serve(cachedir.sub("compiled")))
"""


NONE = HostReturn("none")


def sig(params: list[str], result: str | None, calls: list[list[object]],
        ret: HostReturn = NONE) -> Sig:
    return Sig(0, 0, tuple(T(p) for p in params), T(result) if result else None,
               tuple(tuple(c) for c in calls), ret, False)  # type: ignore[arg-type]


# -- determinism and loading -----------------------------------------------------------------


def test_the_same_seed_gives_the_same_yaml_in_another_process():
    keys = ["4/0", "4/7", "4/19", "4/33"]
    here = [cases.text(cases.signature(k)) for k in keys]
    code = ("import sys; from harness.generate import cases; "
            f"sys.stdout.write('\\0'.join(cases.text(cases.signature(k)) for k in {keys!r}))")
    other = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                           check=True, env={**os.environ, "PYTHONHASHSEED": "12345"}).stdout
    assert other.split("\0") == here
    assert cases.text(cases.signature("4/7")) != cases.text(cases.signature("5/7"))


def test_every_generated_manifest_loads_through_the_real_loader():
    seen = set()
    for n in range(80):
        s = cases.signature(f"3/{n}")
        m = cases.load_case(s, MANIFEST_DIR)
        assert m.id == f"generated/3/{n}" and m.area == "generated"
        seen.add(s.outcome)
        if s.outcome == "error":
            assert m.build.outcome == "error" and not m.steps
            assert [d.message for d in m.build.diagnostics] == [gosource.DIAGNOSTIC]
        else:
            assert m.build.outcome == "ok" and m.steps and m.exports is not None
            assert next(iter(m.exports)) == "_initialize" and list(m.exports)[-1] == "memory"
            assert (s.outcome == "crash") == bool(m.releases)
            if m.releases:
                assert m.releases[0].actual.build.outcome == "crash"
    assert seen == {"ok", "error", "crash"}


def test_a_batch_shares_one_program_and_lists_every_export():
    ok = [s for s in (cases.signature(f"3/{n}") for n in range(cases.BLOCK)) if s.outcome == "ok"]
    manifests = [cases.load_case(s, MANIFEST_DIR) for s in ok]
    assert len({m.files for m in manifests}) == 1
    exports = manifests[0].exports
    assert exports is not None
    for s in ok:
        assert s.name in exports and f"{s.name}_sum" in exports


def test_the_error_position_is_the_export_function():
    s = next(s for s in (generate(3, n) for n in range(200)) if s.outcome == "error")
    source, line = gosource.rejected_program(s)
    assert source.splitlines()[line - 1].startswith(f"func {s.name}(")


def test_option_and_keys():
    assert parse_option("7:3") == ["7/0", "7/1", "7/2"]
    assert parse_option("7/42,7/42~0.3") == ["7/42", "7/42~0.3"]
    assert len(parse_option("7")) == 100
    for bad in ("x", "7:0", "7/a", "7/1~"):
        with pytest.raises(pytest.UsageError):
            parse_option(bad)


def test_a_shrink_path_names_a_signature_without_running_anything():
    s = generate(3, 11)
    first = candidates(s)[0]
    second = candidates(first)[0]
    assert second.key == "3/11~0.0"
    assert apply_path(s, (0, 0)) == second == cases.signature("3/11~0.0")


# -- the expected-value model ----------------------------------------------------------------


def test_arg_width_and_outcomes_match_the_hand_written_boundary_cases():
    i32, i64, s = T("int32"), T("int64"), T("string")
    assert gt.arg_width((i64,) * 16, None) == 128
    assert gt.arg_width((i64,) * 16, i32) == 136  # build-errors/args-16-int64-result-int32
    assert gt.arg_width((i32,) * 17, None) == 72  # boundaries/params-17-int32: 68, rounded
    assert gt.arg_width((s,) * 8 + (i32,), None) == 136  # build-errors/strings-8-int32-1
    assert gt.arg_width((s,) * 7 + (i32,) * 3, None) == 128  # boundaries/strings-7-int32-3
    assert gt.arg_width((T("bool"),) * 3, T("bool")) == 16
    for case, params, outcome in (("boundaries/params-17-int32", ["int32"] * 17, "crash"),
                                  ("boundaries/args-16-int64-ok", ["int64"] * 16, "ok"),
                                  ("build-errors/args-17-int64", ["int64"] * 17, "error")):
        assert sig(params, None, []).outcome == outcome
        m = load(MANIFEST_DIR / f"{case}.yaml")  # the hand-written case: documented, then gc
        assert m.build.outcome == ("ok" if outcome == "crash" else outcome)
        assert [r.actual.build.outcome for r in m.releases] == (["crash"] if outcome == "crash"
                                                                 else [])


def test_hostlayout_offsets():
    h1 = gt.pointee("H1")
    assert [lf.offset for lf in h1.leaves] == [0, 4, 8, 16] and h1.size == 24
    assert gt.pointee("H3").size == 12 and gt.pointee("[2]H4").size == 16


def test_bool_is_the_low_byte_on_the_way_in():
    b = T("bool")
    assert [ex.observation(b, v) for v in (256, 257, 2, 0xFFFFFF00, 0xFFFFFFFF)] == [0, 1, 2, 0, 255]
    s = sig(["bool"], None, [[257]])
    assert ex.host_args(s, s.calls[0]) == [1]  # passed on with i32.load8_u
    assert ex.getter(b, 256) == ("i32", 0)
    r = sig(["int32"], "bool", [[5]], HostReturn("const", 257))
    assert ex.export_result(r, r.calls[0]) in (0, 1)


def test_int32_wraps_as_twos_complement():
    s = sig(["int32"], "int32", [[0x80000000]], HostReturn("const", 0xFFFFFFFF))
    c = ex.checksum(ex.observations(s, s.calls[0]))
    got = ex.export_result(s, s.calls[0])
    assert got == (ex.mix(c) & 0xFFFFFFFF) ^ 0xFFFFFFFF and 0 <= got <= 0xFFFFFFFF
    assert cases._v("i32", 0x80000000) == {"i32": -(1 << 31)}
    assert cases._v("i64", (1 << 64) - 1) == {"i64": -1}
    assert ex.getter(T("int32"), 0x80000000) == ("i32", 0x80000000)


def test_signalling_nan_bits_are_kept_and_need_exact_f32():
    f32 = T("float32")
    s = sig(["float32"], "float32", [[0x7FA00001]], HostReturn("param", 0))
    assert ex.host_args(s, s.calls[0]) == [0x7FA00001]
    assert ex.export_result(s, s.calls[0]) == 0x7FA00001
    assert ex.getter(f32, 0x7FA00001) == ("f32", 0x7FA00001)
    assert ex.needs_exact_f32(s)
    assert not ex.needs_exact_f32(sig(["float64"], None, [[0x7FF0000000000001]]))


def test_checksums_are_fnv1a():
    assert ex.fnv32(b"") == 0x811C9DC5 and ex.fnv32(b"a") == 0xE40C292C
    assert ex.observation(T("string"), b"a") == (1 << 32) | 0xE40C292C
    assert ex.checksum([]) == 0xCBF29CE484222325
    assert ex.observation(T("*int32"), None) == ex.NIL


# -- end to end ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fresh_copy(tmp_path_factory.mktemp("clone"))


def test_a_generated_run_on_wasmtime_passes(tmp_path):
    res = pytest_run(["manifests/schema.json", "--generated", "21:30", "--results",
                      str(tmp_path / "r.jsonl"), "-p", "no:cacheprovider"], REPO, env())
    recs = records(tmp_path / "r.jsonl")
    assert len(recs) == 30 and all(r["case"].startswith("generated/21/") for r in recs)
    verdicts = {r["verdict"] for r in recs}
    assert verdicts <= {"pass", "xfail"} and "pass" in verdicts, res.stdout[-3000:]
    assert re.search(r"wasmtime: 30 signatures judged .* signatures/s", res.stdout), res.stdout


def _broken_env(tmp_path: Path) -> dict[str, str]:
    script = tmp_path / "flip_f64.py"
    script.write_text(FLIP_F64.format(repo=str(REPO)))
    return env(WASMEXPORT_RUNNER_WASMTIME=f"{sys.executable} {script}", WASMEXPORT_SHRINK_S="0")


def _with_f64(seed: int) -> list[str]:
    """Signatures of `seed` among its first 20 that pass an f64 to the export."""
    return [f"{seed}/{n}" for n in range(20)
            if generate(seed, n).outcome == "ok" and any(t.wasm == ("f64",) for t in generate(
                seed, n).params)]


def test_a_broken_engine_fails_exactly_the_signatures_it_breaks_and_reruns_work(tmp_path, clone):
    e = _broken_env(tmp_path)
    res = pytest_run(["manifests/schema.json", "--generated", "21:20", "--results",
                      str(tmp_path / "r.jsonl"), "-p", "no:cacheprovider"], REPO, e)
    verdicts = {r["case"].removeprefix("generated/"): r["verdict"] for r in records(tmp_path / "r.jsonl")}
    broken = _with_f64(21)
    assert broken and {k for k, v in verdicts.items() if v == "fail"} == set(broken), res.stdout
    key = broken[0]
    printed = re.search(rf"rerun this signature: (.*--generated {key} .*)", res.stdout)
    assert printed and f"generated signature {key} (seed 21): func " in res.stdout
    for command in (printed[1], next(r for r in records(tmp_path / "r.jsonl")
                                     if r["case"] == f"generated/{key}")["rerun"]):
        again = shell(command, clone, e)
        assert again.returncode == 1, again.stdout + again.stderr
        (rec,) = records(clone / "reports" / "out" / "rerun.jsonl")
        assert (rec["case"], rec["verdict"]) == (f"generated/{key}", "fail")


def test_the_shrinker_reduces_a_failing_signature_to_one_float64(tmp_path, clone):
    e = _broken_env(tmp_path)
    key = min(_with_f64(21), key=lambda k: len(cases.signature(k).params))
    out = shell(f"python -m harness.generate.shrink --key {key} --engine wasmtime", REPO, e)
    assert out.returncode == 0, out.stdout + out.stderr
    m = re.search(r"minimal failing signature (\S+) .*\n\s+(func .*)\n", out.stdout)
    assert m, out.stdout
    name = cases.signature(key).name
    assert m[2] == f"func {name}(a0 float64)", out.stdout
    minimal = cases.signature(m[1])
    assert minimal.calls == ((0,),) and minimal.result is None  # values towards 0
    rerun = re.search(r"rerun the minimal signature: (.*)", out.stdout)
    assert rerun
    again = shell(rerun[1], clone, e)
    assert again.returncode == 1, again.stdout
    assert again.stdout.count("FAIL") >= 1 and f"generated/{m[1]}" in again.stdout
