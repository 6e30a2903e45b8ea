"""``python -m reports diff``: what changed between two result sets, counted per case and engine."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from reports.__main__ import main as reports_main
from reports.dataset import load
from reports.diff import compare, render_text
from reports.markdown import diff_section
from tests.report_data import agreement, header, record, step, write

REPO = Path(__file__).resolve().parent.parent


def _releases(tmp_path: Path) -> tuple[Path, Path]:
    """A go1.24.3 run and a go1.27.3 run on wasmtime and wazero."""
    old, new = [], []
    for e in ("wasmtime", "wazero"):
        old += [record("types/add", e, "pass", "go1.24.3", steps=[step("returned (i32:5)")]),
                record("types/bool", e, "xfail", "go1.24.3", steps=[step("returned (i32:2)")],
                       release_entry={"go": "<1.27", "finding": "not normalised", "link": "", "line": 40}),
                record("lifecycle/exit", e, "pass", "go1.24.3", steps=[step("exited with code 2", "exit")]),
                record("failures/panic", e, "pass", "go1.24.3",
                       steps=[step("trapped: unreachable", "trap",
                                   stderr="panic: boom\n\ngoroutine 1 [running]:\nmain.f()\n\t"
                                          "wasmcase/main.go:4 +0x2\n"
                                          "0000000000255700: 00000000 00010fa0  .........A\n",
                                   trace=["import host.fill(i32:2154552, i32:8)"])])]
        new += [record("types/add", e, "pass", "go1.27.3", steps=[step("returned (i32:5)", duration_ms=9)]),
                record("types/bool", e, "pass", "go1.27.3", steps=[step("returned (i32:1)")]),
                record("lifecycle/exit", e, "pass" if e == "wasmtime" else "fail", "go1.27.3",
                       steps=[step("exited with code 3", "exit")],
                       problems=[] if e == "wasmtime" else
                       [{"where": "step 1 exit code", "line": 12, "expected": "2", "observed": "3"}]),
                record("failures/panic", e, "pass", "go1.27.3",
                       steps=[step("trapped: unreachable", "trap",
                                   stderr="panic: boom\n\ngoroutine 1 [running]:\nmain.f()\n\t"
                                          "wasmcase/main.go:4 +0x7\n"  # another pc offset
                                          "0000000000255700: 00000000 00113cc0  .<......\n",
                                   trace=["import host.fill(i32:2416672, i32:8)"])])]  # another address
    a = write(tmp_path / "go1.24.3.jsonl", old, header(toolchains=["go1.24.3"]))
    b = write(tmp_path / "go1.27.3.jsonl", new, header(toolchains=["go1.27.3"], started=1.9e9))
    return a, b


def test_two_releases_pair_by_case_and_engine_and_count_each_change(tmp_path):
    a, b = _releases(tmp_path)
    d = compare(load([a]), load([b]))
    assert d.paired_by == "case and engine (go1.24.3 → go1.27.3)"
    assert [(c.case, c.engine) for c in d.of("newly failing")] == [("lifecycle/exit", "wazero")]
    assert [(c.case, c.engine) for c in d.of("newly passing")] == [("types/bool", "wasmtime"),
                                                                   ("types/bool", "wazero")]
    changed = d.of("observation changed")
    assert [(c.case, c.engine, c.field) for c in changed] == [
        ("lifecycle/exit", "wasmtime", "step 1 outcome")]
    assert changed[0].before == "exited with code 2" and changed[0].after == "exited with code 3"
    assert d.unchanged == 4, "wall times, pc offsets and addresses are not changes"
    assert d.regressed
    assert d.per_engine()["wazero"]["newly failing"] == 1
    assert d.per_case()["newly passing"] == 1, "two engines, one case"


def test_the_command_exits_1_on_a_regression_and_0_without(tmp_path):
    a, b = _releases(tmp_path)
    done = subprocess.run([sys.executable, "-m", "reports", "diff", str(a), str(b)], cwd=REPO,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 1, done.stderr
    assert "NEWLY FAILING (1)\n  lifecycle/exit [wazero, go1.24.3 → go1.27.3]: pass → fail" in done.stdout
    back = subprocess.run([sys.executable, "-m", "reports", "diff", str(a), str(a)], cwd=REPO,
                          capture_output=True, text=True, check=False)
    assert back.returncode == 0 and "0 changed; regressed: no" in back.stdout


def test_newly_diverging_is_a_regression_too(tmp_path):
    a = write(tmp_path / "a.jsonl", [record("types/add", "wasmtime", "pass")])
    b = write(tmp_path / "b.jsonl", [record("types/add", "wasmtime", "xfail", version="51.0.0",
                                            divergence={"source": "wasmtime", "reason": "r", "link": ""})],
              header(host="b"))
    d = compare(load([a]), load([b]))
    assert [c.kind for c in d.changes] == ["newly diverging"] and d.regressed
    assert d.versions == ["wasmtime 50.0.1 → 51.0.0"]


def test_two_engine_sets(tmp_path):
    """Adding engines: their records are new (counted per engine), the agreement compared
    other engines (not a regression), and the old engines' records are paired as before."""
    cases = ("types/add", "types/bool")
    old = [record(c, e) for c in cases for e in ("wasmtime", "wazero")]
    old += [agreement(c, ["wasmtime", "wazero"]) for c in cases]
    engines = ["node", "wasmtime", "wazero"]
    new = [record(c, e) for c in cases for e in ("wasmtime", "wazero")]
    new += [record("types/add", "node"), record("types/bool", "node", "fail")]
    new += [agreement("types/add", engines),
            agreement("types/bool", engines, "disagree",
                      disagreement={"field": "step 0 results", "groups": [["wasmtime", "wazero"], ["node"]],
                                    "values": ["()", "(i32:0)"]})]
    d = compare(load([write(tmp_path / "a.jsonl", old)]),
                load([write(tmp_path / "b.jsonl", new, header(engines=engines))]))
    assert d.paired_by == "case, engine and toolchain"
    assert sorted(c.kind for c in d.changes) == ["engines compared changed", "only in new", "only in new"]
    assert not d.regressed
    text = render_text(d)
    assert "by engine: node: 1 fail, 1 pass" in text
    assert ("types/bool [agreement, go1.27.3]: pass → disagree "
            "(engines wasmtime, wazero → node, wasmtime, wazero)") in text
    assert "types/bool [node, go1.27.3]: fail" in text, "a failing new record is listed by name"


def test_markdown_diff_is_inert(tmp_path):
    evil = "<img src=x onerror=alert(1)> [click](javascript:alert(1)) | `tick`"
    a = write(tmp_path / "a.jsonl", [record("types/add", "wasmtime", steps=[step("returned ()")])])
    b = write(tmp_path / "b.jsonl",
              [record("types/add", "wasmtime", steps=[step("returned ()", stdout=evil)])], header(host="b"))
    md = "\n".join(diff_section(compare(load([a]), load([b]))))
    assert "observation changed" in md and "<img" in md
    outside_code = md.split("`")[::2]  # a code span shows its text literally: no HTML, no links
    assert not any("<img" in part or "](javascript" in part for part in outside_code)


def test_two_toolchains_of_one_release_matrix(tmp_path, capsys):
    a, b = _releases(tmp_path)
    both = write(tmp_path / "matrix.jsonl", [*(json.loads(x) for x in a.read_text().splitlines()[1:-1]),
                                             *(json.loads(x) for x in b.read_text().splitlines()[1:-1])],
                 header(toolchains=["go1.24.3", "go1.27.3"]))
    code = reports_main(["diff", str(both), str(both), "--old-toolchain", "go1.24.3",
                         "--new-toolchain", "go1.27.3", "--engine", "wazero"])
    out = capsys.readouterr().out
    assert code == 1 and "paired by case and engine (go1.24.3 → go1.27.3)" in out
    assert "wasmtime" not in out.split("regressed")[1]
