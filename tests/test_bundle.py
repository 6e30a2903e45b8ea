"""Engine-only bundles: judged without Go, with the verdicts of a normal run; refused when made by
another suite version or when hostile."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from harness.bundle import Bundle, BundleError
from tests.suite_copy import REPO, env, pytest_run, records

CASES = [
    "manifests/types/int32-add.yaml",  # pass
    "manifests/types/bool-result-normalized.yaml",  # a releases entry: xfail
    "manifests/build-errors/param-int.yaml",  # judged on the build alone
    "manifests/goroutines/spawn-then-yield.yaml",  # streams
    "manifests/failures/panic-command.yaml",  # an exit
]
VOLATILE = ("duration_s", "rerun", "duration_ms", "cached")


def _stable(doc: Any) -> Any:
    """A record without what may differ between two honest runs: times and cache hits."""
    if isinstance(doc, dict):
        return {k: _stable(v) for k, v in doc.items() if k not in VOLATILE}
    if isinstance(doc, list):
        return [_stable(v) for v in doc]
    return doc


def _without_go(path: str) -> str:
    return os.pathsep.join(p for p in path.split(os.pathsep)
                           if p and not (Path(p) / "go").exists())


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "cases.tar.zst"
    res = subprocess.run([sys.executable, "-m", "harness.bundle", "export", str(out), "--go",
                          "go1.27.3", *CASES], cwd=REPO, env=env(), capture_output=True,
                         text=True, check=False, timeout=900)
    assert res.returncode == 0, res.stderr
    assert f"{len(CASES)} builds" in res.stdout
    return out


def test_a_bundle_is_judged_without_go_exactly_like_a_normal_run(bundle, tmp_path):
    normal = pytest_run([*CASES, "--results", str(tmp_path / "normal.jsonl")], REPO, env())
    cold = tmp_path / "empty-cache"  # no toolchain, no build: only what the bundle holds
    e = env(PATH=_without_go(os.environ["PATH"]), WASMEXPORT_CACHE=str(cold))
    judged = pytest_run([*CASES, "--bundle", str(bundle), "--results",
                         str(tmp_path / "bundle.jsonl")], REPO, e)
    assert judged.returncode == normal.returncode, judged.stdout
    a, b = records(tmp_path / "normal.jsonl"), records(tmp_path / "bundle.jsonl")
    assert len(a) == len(b) == len(CASES)
    for x, y in zip(a, b, strict=True):
        assert _stable(x) == _stable(y), x["case"]
    assert {r["verdict"] for r in b} >= {"pass", "xfail"}
    assert not (cold / "toolchains").exists(), "no Go toolchain may be fetched for a bundle"
    assert all("--bundle" in r["rerun"] for r in b)


def test_a_bundle_of_another_suite_version_is_refused(bundle, tmp_path):
    other = tmp_path / "manifests"
    shutil.copytree(REPO / "manifests", other)
    case = other / "types" / "int32-add.yaml"
    case.write_text(case.read_text() + "\n# changed\n")
    Bundle.open(bundle)  # this suite made it: accepted
    with pytest.raises(BundleError, match="another version of the suite"):
        Bundle.open(bundle, manifests=other)


def test_pytest_refuses_a_foreign_bundle_as_a_usage_error(tmp_path):
    fake = tmp_path / "b.tar.gz"
    with tarfile.open(fake, "w:gz") as tar:
        data = json.dumps({"format": 1, "suite_fingerprint": "0" * 64, "toolchains": [],
                           "entries": [], "suite_commit": "deadbeef"}).encode()
        info = tarfile.TarInfo("bundle.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    res = pytest_run(["manifests", "--bundle", str(fake), "-p", "no:cacheprovider"], REPO, env())
    assert res.returncode == 4
    assert "another version of the suite (commit deadbeef" in res.stderr


def test_a_hostile_bundle_cannot_write_outside_its_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("WASMEXPORT_CACHE", str(tmp_path / "cache"))
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as tar:
        info = tarfile.TarInfo("../../escaped.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"bad"))
    with pytest.raises(BundleError, match="not a readable bundle"):
        Bundle.open(evil)
    assert not list(tmp_path.rglob("escaped.txt"))
