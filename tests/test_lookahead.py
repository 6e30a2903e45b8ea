"""End to end, real Go builds on the real wazero runner behind a spy (tests/spy_runner.py):
what the harness sends ahead of its items (suites/lookahead.py). Preloads name only modules a
later plan runs, each once; started plans are run once and judged like any other."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from harness import cachedir, engines
from harness.runner import EngineUnavailable, RunnerProcess

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parent.parent
CACHE = str(cachedir.root())  # pytester moves HOME: keep the shared cache (toolchains, builds)
SPY = Path(__file__).with_name("spy_runner.py")
CASES = ["types/int32-min-max", "goroutines/spawn-then-yield", "lifecycle/before-initialize",
         "module-shape/reactor-export-section", "failures/os-exit-command", "types/float32-nan-payload"]


def spied(pytester, monkeypatch, tmp_path, *args: str, **env: str) -> tuple[list[dict], list[dict]]:
    """Run CASES with the wazero runner behind the spy: (lines the runner got, result records)."""
    try:
        real = engines.make_runner("wazero")
        assert isinstance(real, RunnerProcess)
        real.info()
        real.close()
    except EngineUnavailable as e:
        pytest.skip(f"wazero unavailable: {e}")
    log = tmp_path / "spy.jsonl"
    monkeypatch.chdir(REPO)
    monkeypatch.setenv(cachedir.ENV, CACHE)
    monkeypatch.setenv(engines.override_variable("wazero"),
                       " ".join([sys.executable, str(SPY), str(log), *real.command]))
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    results = tmp_path / "r.jsonl"
    res = pytester.runpytest_subprocess(*(f"manifests/{c}.yaml" for c in CASES), *args,
                                        "--results", str(results), "-p", "no:cacheprovider",
                                        "--rootdir", str(REPO))
    assert res.ret == 0, res.stdout.str()
    sent = [json.loads(x) for x in log.read_text().splitlines()]
    recs = [json.loads(x) for x in results.read_text().splitlines() if '"result"' in x]
    return sent, recs


def test_preloads_name_later_plans_once(pytester, monkeypatch, tmp_path):
    sent, recs = spied(pytester, monkeypatch, tmp_path, "--engine", "wazero")
    assert {r["verdict"] for r in recs} <= {"pass", "xfail"}
    preloads = [s["sha256"] for s in sent if s["type"] == "preload"]
    plans = [s for s in sent if s["type"] == "plan"]
    assert preloads, "no preload was sent"
    assert len(preloads) == len(set(preloads)), "a module was preloaded twice"
    for n, sha in enumerate(s["sha256"] for s in sent):
        if sent[n]["type"] == "preload":  # always for a plan still to come
            assert sha in [s["sha256"] for s in sent[n + 1:] if s["type"] == "plan"]
    assert [p["id"] for p in plans] == [f"manifests/{c}.yaml::wazero[{recs[0]['toolchain']}]"
                                        for c in CASES if f"manifests/{c}.yaml" in
                                        {r["path"] for r in recs if r["engine"] == "wazero"
                                         and r.get("observed")}]


def test_no_preloads_when_turned_off(pytester, monkeypatch, tmp_path):
    sent, recs = spied(pytester, monkeypatch, tmp_path, "--engine", "wazero",
                       WASMEXPORT_PRELOAD_AHEAD="0")
    assert [s["type"] for s in sent] == ["plan"] * len(sent)
    assert {r["verdict"] for r in recs} <= {"pass", "xfail"}


def test_plans_started_ahead_run_once(pytester, monkeypatch, tmp_path):
    """With two engines the next cases' plans start early: each still runs exactly once, and
    every item is judged on it."""
    sent, recs = spied(pytester, monkeypatch, tmp_path, "--engine", "wasmtime,wazero")
    ids = [s["id"] for s in sent if s["type"] == "plan"]
    assert len(ids) == len(set(ids)), "a plan ran twice"
    wazero = [r for r in recs if r["engine"] == "wazero" and r.get("observed")]
    assert sorted(r["path"] for r in wazero) == sorted(i.split("::")[0] for i in ids)
    assert {r["verdict"] for r in recs} <= {"pass", "xfail"}, [
        (r["case"], r["engine"], r["verdict"]) for r in recs]
