"""A manifest cannot reach the host at build time: every refused form is refused with file:line,
before anything runs; a real build ignores the user's Go settings."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from harness import isolation
from harness.build import build
from harness.manifest import ManifestError, load
from harness.toolchains import DEFAULT, resolve
from tests.suite_copy import REPO, env, pytest_run

BASE = """
title: a case probing the build's isolation
refs: [https://go.dev/blog/wasmexport]
program:
  mode: command
  flags: {flags}
  files: {{main.go: "package main\\nfunc main() {{}}\\n"{files}}}
module:
  exports: {{_start: () -> (), memory: memory}}
script:
  - call: _start
    expect: {{exit: 0}}
"""


def write(tmp_path: Path, flags: str = "[]", files: str = "") -> Path:
    path = tmp_path / "manifests" / "area" / "probe.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "manifests" / "schema.json", path.parent.parent)
    path.write_text(BASE.format(flags=flags, files=files))
    return path


# probe -> (flags, extra files, what the error says)
HOSTILE = {
    "toolexec": ('["-toolexec=sh -c \\"id > $HOME/pwned; exec $0 $@\\""]', "", "not allowed"),
    "output": ('["-o", "/tmp/elsewhere.wasm"]', "", "not allowed"),
    "overlay": ('["-overlay=/etc/overlay.json"]', "", "not allowed"),
    "modfile": ('["-modfile=/etc/go.mod"]', "", "not allowed"),
    "pgo": ('["-pgo=/etc/profile.pprof"]', "", "not allowed"),
    "extld": ('["-ldflags=-linkmode=external -extld=sh"]', "", "not allowed"),
    "gc-include": ('["-gcflags=-I /usr/lib/go"]', "", "not allowed"),
    "parent-name": ("[]", ', "../../x.txt": "escape"', "is not valid here"),
    "dot-dot": ("[]", ', "..": "escape"', "is not valid here"),
    "hidden": ("[]", ', ".git/config": "x"', "is not valid here"),
    "absolute-path": ("[]", ', "a.txt": {path: "/etc/hostname"}', "relative path"),
    "parent-path": ("[]", ', "a.txt": {path: "../../../../etc/hostname"}', "not starting with"),
    "replace-dir": ("[]", ', "go.mod": "module wasmcase\\n\\ngo 1.24\\n\\nreplace m => /home/me/src\\n"',
                    "go.mod line 5: replace to a directory"),
    "replace-block": ("[]", ', "go.mod": "module wasmcase\\ngo 1.24\\nreplace (\\n  m v1 => ../up\\n)\\n"',
                      "go.mod line 4: replace to a directory"),
    "toolchain": ("[]", ', "go.mod": "module wasmcase\\ngo 1.24\\ntoolchain go1.99.0\\n"',
                  "go.mod line 3: a toolchain directive"),
}


@pytest.mark.parametrize("probe", sorted(HOSTILE))
def test_a_hostile_manifest_is_refused_with_file_and_line(tmp_path, probe):
    flags, files, message = HOSTILE[probe]
    path = write(tmp_path, flags, files)
    load(write(tmp_path / "control"), root=tmp_path / "control" / "manifests")  # the base is fine
    with pytest.raises(ManifestError) as err:
        load(path, root=tmp_path / "manifests")
    assert message in str(err.value)
    assert f"{path}:{6 if flags != '[]' else 7}:" in str(err.value)


def test_a_symlink_leading_out_of_the_manifests_directory_is_refused(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("host data")
    area = tmp_path / "manifests" / "area"
    area.mkdir(parents=True)
    (area / "leak.txt").symlink_to(secret)
    with pytest.raises(ValueError, match="outside the manifest's directory"):
        isolation.read_beside(area / "probe.yaml", "leak.txt")
    (area / "inside.txt").write_text("fine")
    (area / "alias.txt").symlink_to(area / "inside.txt")
    assert isolation.read_beside(area / "probe.yaml", "alias.txt") == "fine"


@pytest.mark.parametrize("flag", ["-a", "-v", "-buildvcs=false", "-tags=foo,bar",
                                  "-gcflags=all=-N -l", "-ldflags=-s -w -X main.v=1"])
def test_safe_flags_are_allowed(flag):
    assert isolation.flag_problem(flag) is None


def test_the_toolexec_probe_runs_nothing_on_the_host(tmp_path):
    """The reported probe, end to end through pytest: an error naming the line, no file written."""
    home = tmp_path / "home"
    home.mkdir()
    case = write(tmp_path, HOSTILE["toolexec"][0])
    (tmp_path / "conftest.py").write_text(
        f"import sys\nsys.path.insert(0, {str(REPO)!r})\npytest_plugins = ['suites.plugin']\n")
    res = pytest_run([str(case), "--results", str(tmp_path / "r.jsonl"), "-p", "no:cacheprovider",
                      "--rootdir", str(tmp_path)], tmp_path, env(HOME=str(home)))
    assert res.returncode == 1
    (rec,) = [json.loads(x) for x in (tmp_path / "r.jsonl").read_text().splitlines()
              if '"result"' in x]
    assert rec["verdict"] == "error" and "program.flags[0]" in rec["reason"]
    assert not (home / "pwned").exists() and not (tmp_path / "pwned").exists()


def test_the_build_ignores_the_users_go_settings(tmp_path, monkeypatch):
    """GOFLAGS, GOPROXY and GOTOOLCHAIN of the user never reach a build."""
    marker = tmp_path / "ran"
    monkeypatch.setenv("GOFLAGS", f"-toolexec=sh -c 'touch {marker}; exec $0 $@'")
    monkeypatch.setenv("GOTOOLCHAIN", "go1.99.0")
    monkeypatch.setenv("GOPROXY", "http://127.0.0.1:9/")
    monkeypatch.setenv("CGO_ENABLED", "1")
    path = write(tmp_path)
    text = path.read_text().replace("func main() {}", f"func main() {{}} // {time.time_ns()}")
    path.write_text(text)  # a source no earlier build had: the build really runs
    result = build(load(path, root=tmp_path / "manifests"), resolve(DEFAULT))
    assert result.outcome == "ok", result.output
    assert not result.cached and not marker.exists()


def test_no_case_of_the_suite_uses_a_refused_form():
    """The suite's own cases load under the rules (a regression guard for the allow-list)."""
    bad = []
    for path in sorted((REPO / "manifests").rglob("*.yaml")):
        if path.parent == REPO / "manifests":
            continue
        try:
            load(path)
        except ManifestError as e:
            bad.append(str(e))
    assert not bad, bad


def test_a_case_that_asks_more_than_the_maximum_is_refused(tmp_path):
    many = write(tmp_path)
    many.write_text(many.read_text().replace(
        "  - call: _start\n", "  - call: _start\n    timeout_ms: 600000\n  - call: _start\n"))
    with pytest.raises(ManifestError, match="timeouts add up to 610000 ms"):
        load(many, root=tmp_path / "manifests")
    huge = write(tmp_path / "h")
    huge.write_text(huge.read_text().replace("expect: {exit: 0}",
                                             "expect: {exit: 0, stdout: " + "x" * (1 << 20) + "x}"))
    with pytest.raises(ManifestError, match="expectation longer than"):
        load(huge, root=tmp_path / "h" / "manifests")
