"""Results are never stale or spliced: one writer per file, a run that cannot start leaves no old
file behind, a torn last line is skipped with a warning, a run without footer is partial."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from harness import results
from reports import summary
from tests.suite_copy import REPO, env, pytest_run


def test_a_second_run_on_a_live_results_file_is_refused(tmp_path):
    path = tmp_path / "r.jsonl"
    live = results.ResultsWriter(path, {"engines": ["wasmtime"]})
    live.record({"case": "a/b", "engine": "wasmtime", "toolchain": "go1.27.3", "verdict": "pass"})
    res = pytest_run(["manifests/types/int32-add.yaml", "--results", str(path)], REPO, env())
    assert res.returncode == 4
    assert "is being written by another run" in res.stderr
    live.close()
    _, records, footer = results.read(path)  # the live run's file is intact
    assert [r["case"] for r in records] == ["a/b"] and footer is not None


def test_a_run_that_cannot_start_removes_the_previous_results(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps({"type": "header"}) + "\n")
    res = pytest_run(["manifests", "--engine", "nosuch", "--results", str(path)], REPO, env())
    assert res.returncode == 4
    assert not path.exists(), "a stale file would pass for this run's results"


def test_a_torn_last_line_is_skipped_with_a_warning(tmp_path):
    path = tmp_path / "r.jsonl"
    w = results.ResultsWriter(path, {})
    w.record({"case": "a/b", "engine": "e", "toolchain": "t", "verdict": "pass"})
    w.close()
    path.write_text(path.read_text().rsplit("\n", 2)[0] + '\n{"type": "result", "case": "a/')
    warned: list[str] = []
    _, records, footer = results.read(path, warn=warned.append)
    assert len(records) == 1 and footer is None
    assert "torn last line" in warned[0]
    assert "the run did not finish" in summary.problems_for_strict(records, footer)


def test_damage_in_the_middle_and_spliced_runs_are_errors(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"type": "header"}\nnot json\n{"type": "footer"}\n')
    with pytest.raises(ValueError, match=":2: not a JSON line"):
        results.read(path)
    path.write_text('{"type": "header"}\n{"type": "result"}\n{"type": "header"}\n')
    with pytest.raises(ValueError, match="two runs wrote this file"):
        results.read(path)


def test_a_killed_run_keeps_its_verdicts_and_reads_as_partial(tmp_path):
    path = tmp_path / "r.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "manifests/types", "manifests/lifecycle",
                             "--results", str(path), "-p", "no:cacheprovider"], cwd=REPO, env=env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().count('"type": "result"') >= 3:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    _, records, footer = results.read(path)
    assert len(records) >= 3 and footer is None
    out = subprocess.run([sys.executable, "-m", "reports.summary", str(path), "--strict"], cwd=REPO,
                         capture_output=True, text=True, check=False)
    assert out.returncode == 1 and "the run did not finish" in out.stderr
