"""The pytest plugin end to end, in a scratch project (pytester): ids, bad manifests, results."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest

from harness import cachedir
from suites.plugin import in_shard

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parent.parent

VALID = """
title: A case that cannot build here because of its toolchain range
refs: [https://example.invalid/spec]
go: ">=9.0"
program:
  mode: reactor
  files: {main.go: "package main\\nfunc main() {}\\n"}
module:
  exports: {_initialize: () -> (), memory: memory}
script:
  - call: _initialize
"""

BROKEN = """
title: A manifest with a typo in its trap kind
refs: [https://example.invalid/spec]
program:
  mode: reactor
  files: {main.go: "package main\\nfunc main() {}\\n"}
module:
  exports: {_initialize: () -> (), memory: memory}
script:
  - call: _initialize
    expect: {trap: unreachble}
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(f"import sys\nsys.path.insert(0, {str(REPO)!r})\n"
                          "pytest_plugins = ['suites.plugin']\n")
    for name, text in {"area/valid.yaml": VALID, "area/broken.yaml": BROKEN}.items():
        path = pytester.path / "manifests" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    (pytester.path / "manifests" / "not-a-case.yaml").write_text("- just: data\n")
    shutil.copy(REPO / "manifests" / "schema.json", pytester.path / "manifests")  # marks a case root
    return pytester


def fake_go(project: pytest.Pytester) -> str:
    """A `go` on PATH that reports a release, so `--go system` resolves without a toolchain."""
    bin_dir = project.path / "bin"
    bin_dir.mkdir()
    go = bin_dir / "go"
    go.write_text('#!/bin/sh\nif [ "$1" = env ]; then echo go1.26.1; else echo "go version go1.26.1 '
                  'linux/amd64"; fi\n')
    go.chmod(0o755)
    return str(bin_dir)


def test_a_broken_manifest_fails_alone_and_results_keep_every_verdict(project, monkeypatch):
    monkeypatch.setenv("PATH", fake_go(project) + ":" + __import__("os").environ["PATH"])
    results = project.path / "out.jsonl"
    res = project.runpytest("manifests", "--go", "system", "--results", str(results), "-v")
    res.stdout.fnmatch_lines([
        "*manifests/area/broken.yaml::wasmtime[[]go1.26.1] FAILED*",
        "*manifests/area/valid.yaml::wasmtime[[]go1.26.1] SKIPPED*",
    ])
    res.stdout.fnmatch_lines(["*broken.yaml:11: script[[]0].expect.trap: 'unreachble' is not one of*"])
    res.assert_outcomes(failed=1, skipped=1)
    lines = [json.loads(x) for x in results.read_text().splitlines()]
    assert [x["type"] for x in lines] == ["header", "result", "result", "footer"]
    by_case = {x["case"]: x for x in lines if x["type"] == "result"}
    assert by_case["area/broken"]["verdict"] == "error"
    assert by_case["area/valid"]["verdict"] == "skip"
    assert "outside the case's range" in by_case["area/valid"]["reason"]
    for rec in by_case.values():
        assert {"case", "engine", "toolchain", "verdict", "duration_s", "rerun"} <= set(rec)
        assert rec["rerun"].startswith("python -m pytest 'manifests/area/")


def test_system_without_a_go_on_path_is_a_usage_error(project, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    res = project.runpytest_subprocess("manifests/area/valid.yaml", "--go", "system",
                                       "--results", str(project.path / "r.jsonl"))
    assert res.ret == 4
    res.stderr.fnmatch_lines(["*--go system: no `go` on PATH*"])


def test_a_release_that_cannot_be_fetched_skips_with_the_reason(project, monkeypatch):
    monkeypatch.setenv("WASMEXPORT_CACHE", str(cachedir.root()))
    res = project.runpytest_subprocess("manifests/area/valid.yaml", "--go", "go1.24.99", "-rs",
                                       "--results", str(project.path / "r.jsonl"))
    res.assert_outcomes(skipped=1)
    res.stdout.fnmatch_lines(["*toolchain go1.24.99 unavailable:*"])


def test_an_unknown_engine_is_a_usage_error(project):
    res = project.runpytest("manifests", "--engine", "nosuch", "--results",
                            str(project.path / "r.jsonl"))
    assert res.ret != 0
    res.stdout.fnmatch_lines(["*unknown engine 'nosuch'; known: *wasmtime*"]) if res.stdout.lines \
        else res.stderr.fnmatch_lines(["*unknown engine 'nosuch'*"])


def test_items_multiply_by_engine_and_toolchain(project):
    res = project.runpytest("manifests", "--collect-only", "-q", "--go", "go1.24.3,go1.25.5")
    res.stdout.fnmatch_lines(["manifests/area/broken.yaml::wasmtime[[]go1.24.3]",
                              "manifests/area/broken.yaml::wasmtime[[]go1.25.5]",
                              "manifests/area/valid.yaml::wasmtime[[]go1.24.3]",
                              "manifests/area/valid.yaml::wasmtime[[]go1.25.5]"])


RELEASE_CASE = """
title: A case whose releases differ from its documented expectation
refs: [https://example.invalid/spec]
program:
  mode: reactor
  files:
    main.go: |
      package main

      //go:wasmexport seven
      func seven() int32 {{ return 7 }}

      func main() {{}}
module:
  exports: {{_initialize: () -> (), seven: () -> i32, memory: memory}}
script:
  - call: _initialize
  - call: seven
    expect: {{returns: [{{i32: {documented}}}]}}
releases:
  - go: ">=1.24"
    finding: every release returns something else than documented
    script:
      - call: _initialize
      - call: seven
        expect: {{returns: [{{i32: {actual}}}]}}
"""


@pytest.mark.parametrize(("documented", "actual", "verdict"), [
    (5, 7, "xfail"),  # the releases entry pins reality: a finding
    (5, 8, "fail"),   # reality matches neither: the finding changed
    (7, 8, "xpass"),  # the documented behaviour now holds: the entry is stale
])
def test_a_releases_entry_pins_what_a_release_really_does(pytester, monkeypatch, tmp_path,
                                                          documented, actual, verdict):
    monkeypatch.setenv(cachedir.ENV, str(cachedir.root()))  # pytester moves HOME
    pytester.makeconftest(f"import sys\nsys.path.insert(0, {str(REPO)!r})\n"
                          "pytest_plugins = ['suites.plugin']\n")
    case = pytester.path / "manifests" / "area" / "seven.yaml"
    case.parent.mkdir(parents=True)
    shutil.copy(REPO / "manifests" / "schema.json", case.parent.parent)
    case.write_text(textwrap.dedent(RELEASE_CASE.format(documented=documented, actual=actual)))
    results = tmp_path / "r.jsonl"
    res = pytester.runpytest_subprocess("manifests", "--results", str(results), "-p",
                                        "no:cacheprovider")
    (rec,) = [json.loads(x) for x in results.read_text().splitlines() if '"result"' in x]
    assert rec["verdict"] == verdict, res.stdout.str()
    assert rec["release_entry"]["go"] == ">=1.24"
    assert res.ret == (0 if verdict == "xfail" else 1)


def test_yaml_under_a_manifests_directory_without_the_schema_is_not_collected(pytester):
    """Installed, the plugin is active in every project: another project's manifests/ is not ours."""
    pytester.makeconftest(f"import sys\nsys.path.insert(0, {str(REPO)!r})\n"
                          "pytest_plugins = ['suites.plugin']\n")
    k8s = pytester.path / "manifests" / "app" / "service.yaml"
    k8s.parent.mkdir(parents=True)
    k8s.write_text("apiVersion: v1\nkind: Service\n")
    res = pytester.runpytest_subprocess("manifests", "-p", "no:cacheprovider")
    assert res.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    assert not (pytester.path / "reports").exists()


def test_shards_are_disjoint_stable_and_cover_every_case():
    cases = [f"area/case-{i}" for i in range(200)]
    slices = [[c for c in cases if in_shard(c, k, 4)] for k in range(1, 5)]
    assert sorted(c for s in slices for c in s) == sorted(cases), "every case in exactly one slice"
    assert all(20 < len(s) < 80 for s in slices), "roughly even"
    assert slices == [[c for c in cases if in_shard(c, k, 4)] for k in range(1, 5)]


def test_a_bad_shard_is_a_usage_error(project):
    res = project.runpytest_subprocess("manifests", "--shard", "5/4", "-p", "no:cacheprovider")
    assert res.ret == 4
    assert "K must be between 1 and N" in res.stderr.str()
