"""Verdicts fail on every kind of wrong observation (no engine, no Go: fakes in, FAIL out)."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from pathlib import Path

import pytest

from harness import manifest
from harness.build import BuildResult, Diagnostic
from harness.expectations import Divergence
from harness.observation import Observation, StepObservation
from harness.values import Value
from harness.verdict import Problem, decide, judge
from harness.versions import ALL_RELEASES

CASE = """
title: A case used to prove the verdicts can fail
refs: [https://example.invalid/spec]
program:
  mode: reactor
  files: {main.go: "package main\\nfunc main() {}\\n"}
module:
  exports:
    _initialize: () -> ()
    add: (i32, i32) -> i32
    half: (f64) -> f64
    memory: memory
imports:
  host.log:
    params: [i32]
    results: []
    return: []
script:
  - call: _initialize
  - call: add
    args: [{i32: 2}, {i32: 3}]
    expect:
      returns: [{i32: 5}]
      stdout: "added\\n"
      trace: [{import: host.log, args: [{i32: 5}]}, {import_return: []}]
  - call: half
    args: [{f64: nan}]
    expect: {returns: [{f64: "nan:any"}]}
  - call: add
    args: [{i32: 0}, {i32: 0}]
    expect: {trap: unreachable, stderr: {contains: ["panic: boom"]}}
  - call: add
    args: [{i32: 1}, {i32: 1}]
    expect: {exit: 2}
"""

OK_BUILD = BuildResult("k", "ok", Path("/x.wasm"), "ab" * 32, (), "", 0.1, True)


def good_observation(m: manifest.Manifest) -> Observation:
    assert m.exports is not None
    steps = (
        StepObservation("ok"),
        StepObservation("ok", (Value("i32", 5),), stdout=b"added\n",
                        trace=("import host.log(i32:5)", "import_return ()")),
        StepObservation("ok", (Value("f64", 0x7FF8000000000123),)),
        StepObservation("trap", trap="unreachable", stderr=b"panic: boom\n\ngoroutine 1\n"),
        StepObservation("exit", code=2),
    )
    return Observation("id", True, "", dict(m.exports), steps)


@pytest.fixture
def case(manifest_file) -> manifest.Manifest:
    return manifest.load(manifest_file(CASE), root=manifest_file(CASE).parent.parent)


def with_step(obs: Observation, i: int, **changes) -> Observation:
    """Step i changed; a changed stream is kept whole (its length and hash follow it)."""
    for name in ("stdout", "stderr"):
        if name in changes:
            changes.setdefault(f"{name}_sha256", "")
    steps = list(obs.steps)
    steps[i] = dataclasses.replace(steps[i], **changes)
    return dataclasses.replace(obs, steps=tuple(steps))


def test_a_stream_cut_by_the_runner_is_judged_by_length_and_hash(case):
    """Past the runner's limit only a prefix arrives: an exact expectation compares the whole
    stream's length and SHA-256, so neither the prefix alone nor a wrong tail passes."""
    good = good_observation(case)
    whole = good.steps[1].stdout
    cut = with_step(good, 1, stdout=whole[:3], stdout_len=len(whole),
                    stdout_sha256=hashlib.sha256(whole).hexdigest())
    assert judge(case, OK_BUILD, cut) == []
    wrong = with_step(cut, 1, stdout=whole[:3], stdout_len=len(whole),
                      stdout_sha256=hashlib.sha256(whole[:-1] + b"?").hexdigest())
    (problem,) = judge(case, OK_BUILD, wrong)
    assert "stdout" in problem.where and f"the first 3 of {len(whole)} bytes" in problem.observed


def test_the_right_observation_passes(case):
    assert judge(case, OK_BUILD, good_observation(case)) == []


@pytest.mark.parametrize(("name", "mutate", "where"), [
    ("wrong result", lambda o: with_step(o, 1, results=(Value("i32", 6),)), "step 1 (call add) results"),
    ("wrong result type", lambda o: with_step(o, 1, results=(Value("i64", 5),)), "results"),
    ("a number where NaN was due", lambda o: with_step(o, 2, results=(Value("f64", 0),)), "step 2"),
    ("missing trap", lambda o: with_step(o, 3, outcome="ok", trap=None), "step 3 (call add) outcome"),
    ("other trap kind", lambda o: with_step(o, 3, trap="memory_out_of_bounds"), "step 3"),
    ("missing stderr fragment", lambda o: with_step(o, 3, stderr=b"fatal error\n"), "stderr"),
    ("extra stdout", lambda o: with_step(o, 0, stdout=b"hello\n"), "step 0 (call _initialize) stdout"),
    ("extra stderr", lambda o: with_step(o, 0, stderr=b"warning\n"), "step 0 (call _initialize) stderr"),
    ("missing stdout", lambda o: with_step(o, 1, stdout=b""), "stdout"),
    ("wrong exit code", lambda o: with_step(o, 4, code=3), "step 4 (call add) outcome"),
    ("exit instead of trap", lambda o: with_step(o, 3, outcome="exit", code=2, trap=None), "step 3"),
    ("extra host call", lambda o: with_step(o, 0, trace=("import host.log(i32:1)",)), "trace"),
    ("host call with other args", lambda o: with_step(
        o, 1, trace=("import host.log(i32:6)", "import_return ()")), "trace"),
    ("step could not run", lambda o: with_step(o, 1, outcome="error", message="no export"), "step 1"),
    ("wrong export signature", lambda o: dataclasses.replace(o, exports={
        **o.exports, "add": manifest.ExportType("func", ("i32", "i64"), ("i32",))}), "export 'add'"),
    ("missing export", lambda o: dataclasses.replace(o, exports={
        k: v for k, v in o.exports.items() if k != "half"}), "export 'half'"),
    ("extra export", lambda o: dataclasses.replace(o, exports={
        **o.exports, "_start": manifest.ExportType("func")}), "export '_start'"),
    ("no exports reported", lambda o: dataclasses.replace(o, exports=None), "exports"),
    ("module refused", lambda o: dataclasses.replace(o, load_ok=False, load_message="bad"), "module load"),
])
def test_each_wrong_observation_fails(case, name, mutate, where):
    problems = judge(case, OK_BUILD, mutate(good_observation(case)))
    assert problems, f"{name}: judged as a pass"
    assert any(where in p.where for p in problems), [p.where for p in problems]
    assert decide(problems, None)[0] == "fail"


def test_problems_name_the_manifest_line(case):
    obs = with_step(good_observation(case), 1, results=(Value("i32", 6),))
    (problem,) = judge(case, OK_BUILD, obs)
    text = problem.render()
    assert "expected: (i32:5)" in text and "observed: (i32:6)" in text
    assert problem.line == case.steps[1].line == 20


def test_a_module_that_should_be_invalid_fails_when_it_loads(manifest_file):
    text = CASE.replace("module:\n", "module:\n  load: invalid\n")
    m = manifest.load(manifest_file(text))
    assert judge(m, OK_BUILD, good_observation(m))[0].where == "module load"


BUILD_ERROR_CASE = """
title: An int parameter is rejected at the function
refs: [https://example.invalid/spec]
program:
  mode: reactor
  files: {main.go: "package main\\n"}
build:
  outcome: error
  diagnostics:
    - {file: main.go, line: 4, message: "go:wasmexport: unsupported parameter type int"}
"""


def build_error(*diags: Diagnostic, outcome="error", output="") -> BuildResult:
    return BuildResult("k", outcome, None, None, diags, output or "\n".join(map(str, diags)),
                       0.1, True)


def test_build_errors_are_judged_by_position_and_message(manifest_file):
    m = manifest.load(manifest_file(BUILD_ERROR_CASE))
    right = Diagnostic("main.go", 4, 6, "go:wasmexport: unsupported parameter type int")
    assert judge(m, build_error(right), None) == []
    assert judge(m, build_error(dataclasses.replace(right, line=5)), None)
    assert judge(m, build_error(dataclasses.replace(right, message="other")), None)
    assert judge(m, build_error(right, Diagnostic("main.go", 9, 1, "extra")), None)
    assert judge(m, build_error(right, outcome="crash"), None)[0].where == "build outcome"
    assert judge(m, OK_BUILD, None)[0].where == "build outcome"


def test_a_failed_build_fails_a_case_that_expects_a_module(case):
    problems = judge(case, build_error(Diagnostic("main.go", 1, 1, "oops")), None)
    assert problems[0].where == "build outcome" and "oops" in problems[0].observed


def test_listed_divergences_make_xfail_and_stale_entries_xpass():
    known = Divergence("wasmtime", "a/b", ALL_RELEASES, "engine bug", "https://x.invalid/1", 3)
    problems = judge_dummy()
    assert decide(problems, known) == ("xfail", "engine bug (https://x.invalid/1)")
    verdict, reason = decide([], known)
    assert verdict == "xpass" and "remove the entry" in reason
    assert decide([], None) == ("pass", "")


def test_an_intermittent_divergence_is_xfail_when_it_shows_and_a_pass_when_not():
    known = Divergence("bun", "a/b", ALL_RELEASES, "JIT tier-up", "https://x.invalid/2", 5,
                       intermittent=True)
    assert decide(judge_dummy(), known)[0] == "xfail"
    verdict, reason = decide([], known)
    assert verdict == "pass" and "line 5 did not show" in reason


def judge_dummy():
    return [Problem("step 0", 1, "a", "b")]


def test_stdout_is_compared_as_bytes_decoded_strictly(case):
    obs = with_step(good_observation(case), 1, stdout=base64.b64decode("YWRkZWQK") + b"\xff")
    assert judge(case, OK_BUILD, obs)


def test_wildcard_trace_values_match_any_value_of_their_type_only(manifest_file):
    text = CASE.replace("trace: [{import: host.log, args: [{i32: 5}]}, {import_return: []}]",
                        "trace: [{import: host.log, args: [{i32: '*'}]}, {import_return: []}]")
    m = manifest.load(manifest_file(text))
    obs = good_observation(m)
    assert judge(m, OK_BUILD, obs) == []
    assert judge(m, OK_BUILD, with_step(obs, 1, trace=("import host.log(i32:-7)", "import_return ()"))) == []
    for wrong in (("import host.log(i64:5)", "import_return ()"),
                  ("import host.other(i32:5)", "import_return ()"),
                  ("import host.log(i32:5, i32:6)", "import_return ()"),
                  ("import host.log(i32:5)",)):
        assert judge(m, OK_BUILD, with_step(obs, 1, trace=wrong)), wrong


UNDEFINED = CASE.replace("    expect: {exit: 2}",
                         '    expect: {undefined: "the contract does not say what happens here"}')


@pytest.mark.parametrize("got", [
    StepObservation("ok", (Value("i32", 9),)), StepObservation("trap", trap="unreachable"),
    StepObservation("exit", code=0), StepObservation("error", message="module closed"),
])
def test_an_undefined_outcome_accepts_every_outcome_but_still_judges_streams(manifest_file, got):
    path = manifest_file(UNDEFINED)
    m = manifest.load(path, root=path.parent.parent)
    obs = with_step(good_observation(m), 4, **{f.name: getattr(got, f.name)
                                                 for f in dataclasses.fields(got)})
    assert judge(m, OK_BUILD, obs) == []
    noisy = with_step(obs, 4, stdout=b"surprise\n")
    assert [p.where for p in judge(m, OK_BUILD, noisy)] == ["step 4 (call add) stdout"]
