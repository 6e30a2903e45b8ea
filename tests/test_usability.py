"""The suite as its users run it: printed rerun commands executed, pytest habits (-n, --lf, -m,
JUnit), tox's selection, reports written when cases fail. Real Go builds, real wasmtime; a broken
engine is the real runner with one deliberate defect (tests/broken_runner.py)."""

from __future__ import annotations

import configparser
import shlex
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.suite_copy import REPO, broken, env, fresh_copy, pytest_run, records, shell

CASE = "manifests/types/int32-min-max.yaml"  # flip-result breaks it
PANIC = "manifests/failures/panic-reactor.yaml"  # stderr-note makes engines disagree on it


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fresh_copy(tmp_path_factory.mktemp("clone"))


def test_an_engine_items_rerun_command_runs_that_item_again(clone, tmp_path):
    e = env(WASMEXPORT_RUNNER_WASMTIME=broken("flip-result"))
    res = pytest_run([CASE, "--results", str(tmp_path / "r.jsonl")], REPO, e)
    assert res.returncode == 1, res.stdout
    (rec,) = records(tmp_path / "r.jsonl")
    assert rec["verdict"] == "fail"
    assert f"rerun: {rec['rerun']}" in res.stdout  # the terminal prints the same command
    again = shell(rec["rerun"], clone, e)
    assert again.returncode == 1, again.stdout + again.stderr
    (rerun,) = records(clone / "reports" / "out" / "rerun.jsonl")
    assert (rerun["case"], rerun["engine"], rerun["toolchain"], rerun["verdict"]) == (
        rec["case"], rec["engine"], rec["toolchain"], "fail")
    assert "1 failed" in again.stdout


def test_an_agreement_items_rerun_command_runs_the_engines_and_the_agreement(clone, tmp_path):
    e = env(WASMEXPORT_RUNNER_NODE=broken("stderr-note"))  # "node" is wasmtime plus a note
    res = pytest_run([PANIC, "--engine", "wasmtime,node", "--results", str(tmp_path / "r.jsonl")],
                     REPO, e)
    assert res.returncode == 1, res.stdout
    agree = next(r for r in records(tmp_path / "r.jsonl") if r["engine"] == "agreement")
    assert agree["verdict"] == "disagree"
    assert str(REPO) not in agree["rerun"] and str(tmp_path) not in agree["rerun"]
    again = shell(agree["rerun"], clone, e)
    got = {r["engine"]: r["verdict"] for r in records(clone / "reports" / "out" / "rerun.jsonl")}
    assert got == {"wasmtime": "pass", "node": "pass", "agreement": "disagree"}, again.stdout


def test_a_goroot_runs_as_a_toolchain(tmp_path):
    goroot = shell("go env GOROOT", REPO, env()).stdout.strip()
    if not goroot:
        pytest.skip("no go on PATH to take a GOROOT from")
    res = pytest_run(["manifests/types/int32-add.yaml", "--go", goroot,
                      "--results", str(tmp_path / "r.jsonl")], REPO, env())
    (rec,) = records(tmp_path / "r.jsonl")
    assert rec["verdict"] == "pass", res.stdout
    assert rec["toolchain"].startswith("go1.")
    words = shlex.split(rec["rerun"])
    assert words[words.index("--go") + 1] == goroot


def test_a_devel_toolchain_gets_a_stable_label_and_its_version_is_recorded(tmp_path):
    real = shell("command -v go", REPO, env()).stdout.strip()
    if not real:
        pytest.skip("no go on PATH to wrap")
    goroot = tmp_path / "devel-go"
    (goroot / "bin").mkdir(parents=True)
    text = "devel go1.28-abcdef12 Tue Nov 3 10:00:00 2026 +0000"
    go = goroot / "bin" / "go"
    go.write_text(f'#!/bin/sh\ncase "$1" in\n  version) echo "go version {text} linux/amd64";;\n'
                  f'  env) if [ "$2" = GOVERSION ]; then echo "{text}"; else exec {real} "$@"; fi;;\n'
                  f'  *) exec {real} "$@";;\nesac\n')
    go.chmod(0o755)
    res = pytest_run(["manifests/types/int32-add.yaml", "--go", str(goroot), "-v",
                      "--results", str(tmp_path / "r.jsonl")], REPO, env())
    (rec,) = records(tmp_path / "r.jsonl")
    assert rec["toolchain"] == "devel-go1.28-abcdef12", res.stdout
    assert rec["verdict"] == "pass", res.stdout
    assert "int32-add.yaml::wasmtime[devel-go1.28-abcdef12] PASSED" in res.stdout


def test_xdist_workers_leave_one_valid_results_file_with_one_record_per_item(tmp_path):
    cases = ["manifests/types/int32-add.yaml", "manifests/types/int64-min-max.yaml",
             PANIC, "manifests/goroutines/spawn-then-yield.yaml"]
    e = env(WASMEXPORT_RUNNER_NODE=broken("none"))  # a second engine for agreement, no Node needed
    res = pytest_run([*cases, "-n", "2", "--engine", "wasmtime,node",
                      "--results", str(tmp_path / "r.jsonl")], REPO, e)
    assert res.returncode == 0, res.stdout + res.stderr
    lines = (tmp_path / "r.jsonl").read_text().splitlines()
    kinds = [__import__("json").loads(x)["type"] for x in lines]
    assert kinds[0] == "header" and kinds[-1] == "footer" and kinds.count("header") == 1
    recs = records(tmp_path / "r.jsonl")
    keys = [(r["case"], r["engine"], r["toolchain"]) for r in recs]
    assert len(keys) == len(set(keys)) == 3 * len(cases)
    assert {r["verdict"] for r in recs} == {"pass"}
    assert "2 workers" in res.stdout


def test_last_failed_reruns_only_the_failure(tmp_path):
    cache = tmp_path / "pytest-cache"
    e = env(WASMEXPORT_RUNNER_WASMTIME=broken("flip-result"))
    common = ["-o", f"cache_dir={cache}", "--results", str(tmp_path / "r.jsonl")]
    first = pytest_run([CASE, "manifests/build-errors/param-int.yaml", *common], REPO, e)
    assert "1 failed, 1 passed" in first.stdout, first.stdout
    again = pytest_run(["manifests", "--lf", *common], REPO, e)
    assert "1 failed" in again.stdout and "passed" not in again.stdout.splitlines()[-1]
    assert [r["case"] for r in records(tmp_path / "r.jsonl")] == ["types/int32-min-max"]


def test_markers_select_by_area_engine_and_toolchain():
    res = pytest_run(["manifests", "--collect-only", "-q", "--engine", "wasmtime,node",
                      "-m", "goroutines and node and go1.27.3", "-p", "no:cacheprovider"],
                     REPO, env())
    ids = [x for x in res.stdout.splitlines() if "::" in x]
    assert ids and all("/goroutines/" in x and x.endswith("::node[go1.27.3]") for x in ids), ids
    assert "spawn-then-yield.yaml::node[go1.27.3]" in res.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["--engine", "wasmtim"], "--engine 'wasmtim': unknown engine 'wasmtim'"),
    (["--go", "go1.23"], "predates //go:wasmexport"),
    (["--go", "/no/such/goroot"], "--go /no/such/goroot"),
    (["--shard", "5/4"], "K must be between 1 and N"),
])
def test_a_bad_option_is_one_usage_error(args, message):
    res = pytest_run(["manifests", *args, "-p", "no:cacheprovider"], REPO, env())
    assert res.returncode == 4
    assert message in res.stderr
    assert "Traceback" not in res.stdout + res.stderr and res.stderr.count("ERROR") == 1


def _tox_pytest(env_name: str) -> list[str]:
    """The pytest command line of a tox conformance env, as tox.ini says it."""
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(REPO / "tox.ini")
    section = next(s for s in ini.sections() if s.startswith("testenv:{") and env_name in s)
    line = ini[section]["commands"].replace("\\\n", " ").strip().splitlines()[0]
    return shlex.split(line.replace("{envname}", env_name))


def test_paths_after_tox_double_dash_replace_the_default_selection(tmp_path):
    cmd = _tox_pytest("wasmtime")
    assert cmd[0] == "pytest" and cmd[-1] == "{posargs}"
    args = [a.replace("reports/out", str(tmp_path)) for a in cmd[1:-1]]
    chosen = pytest_run([*args, "manifests/types/int32-add.yaml", "--collect-only", "-q"], REPO,
                        env())
    assert [x for x in chosen.stdout.splitlines() if "::" in x] == [
        "manifests/types/int32-add.yaml::wasmtime[go1.27.3]"]
    everything = pytest_run([*args, "--collect-only", "-q", "-k", "types"], REPO, env())
    assert sum("::" in x for x in everything.stdout.splitlines()) > 10


def test_a_failing_run_still_writes_results_report_and_summary_and_fails(tmp_path):
    e = env(WASMEXPORT_RUNNER_WASMTIME=broken("flip-result"))
    html = tmp_path / "report.html"
    res = pytest_run([CASE, "--results", str(tmp_path / "r.jsonl"), "--report-html", str(html),
                      "--require-clean", "--junitxml", str(tmp_path / "j.xml")], REPO, e)
    assert res.returncode == 1
    assert "types/int32-min-max" in html.read_text()
    assert "FAIL (1):" in res.stdout and "rerun: python -m pytest" in res.stdout
    (case,) = ET.parse(tmp_path / "j.xml").getroot().iter("testcase")
    assert case.get("name") == "types/int32-min-max::wasmtime::go1.27.3"
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert props == {"engine": "wasmtime", "toolchain": "go1.27.3", "area": "types",
                     "verdict": "fail"}


@pytest.mark.parametrize(("flag", "status"), [([], 0), (["--require-clean"], 1)])
def test_require_clean_fails_a_run_where_nothing_passed(tmp_path, flag, status):
    """bool-result-normalized is a pinned finding (xfail) on every release: pytest is content,
    a clean conformance run is not."""
    res = pytest_run(["manifests/types/bool-result-normalized.yaml", *flag,
                      "--results", str(tmp_path / "r.jsonl")], REPO, env())
    assert [r["verdict"] for r in records(tmp_path / "r.jsonl")] == ["xfail"]
    assert res.returncode == status, res.stdout
    assert ("not clean: nothing passed" in res.stdout) == bool(flag)
