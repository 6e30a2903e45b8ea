"""Merging results files loses nothing: reports.dataset and ``python -m reports merge``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.results import read
from reports import matrix
from reports.__main__ import main as reports_main
from reports.dataset import load
from reports.standing import Grid
from tests.report_data import (
    ENGINES,
    agreement,
    deep_recursion_bun_diverges,
    header,
    record,
    variant,
    write,
)

REPO = Path(__file__).resolve().parent.parent
CASE = "lifecycle/deep-recursion"


def _ci_files(tmp_path: Path) -> tuple[Path, Path]:
    """What CI merges: an engine shard (six engines + their agreement) and the releases run
    (wasmtime and wazero over two releases, with their own two-engine agreements)."""
    shard = [record(CASE, e, "pass") for e in ENGINES] + [deep_recursion_bun_diverges()]
    releases = [record(CASE, e, "pass", tc) for tc in ("go1.24.3", "go1.27.3")
                for e in ("wasmtime", "wazero")]
    releases += [agreement(CASE, ["wasmtime", "wazero"], "pass", tc) for tc in ("go1.24.3", "go1.27.3")]
    a = write(tmp_path / "engines-1.jsonl", shard, header(engines=ENGINES, host="shard-1"))
    b = write(tmp_path / "releases.jsonl", releases,
              header(engines=["wasmtime", "wazero"], toolchains=["go1.24.3", "go1.27.3"],
                     host="releases", started=1.8e9 + 5))
    return a, b


@pytest.mark.parametrize("order", ["shards then releases", "releases then shards"])
def test_the_six_engine_agreement_record_survives_the_merge(tmp_path, order):
    a, b = _ci_files(tmp_path)
    files = [a, b] if order == "shards then releases" else [b, a]
    out = tmp_path / "merged.jsonl"
    assert reports_main(["merge", *map(str, files), "-o", str(out), "--strict", "--sources", "none"]) == 0
    _, records, footer = read(out)
    assert footer is not None
    agreements = {tuple(r["engines"]): r for r in records
                  if r["engine"] == "agreement" and r["toolchain"] == "go1.27.3"}
    assert set(agreements) == {tuple(ENGINES), ("wasmtime", "wazero")}, "both agreements are kept"
    six = agreements[tuple(ENGINES)]
    assert six["verdict"] == "xfail" and six["disagreement"]["groups"][1] == ["bun"]
    assert agreements[("wasmtime", "wazero")]["verdict"] == "pass"
    # every view shows the agreement over the most engines, whatever the merge order
    data = load([out])
    cell = Grid(data).cells[CASE]
    shown = next(c for col, c in cell.items() if col.engine == "agreement" and col.toolchain == "go1.27.3")
    assert shown.entry.verdict == "xfail" and len(shown.entry.slot[3]) == 6
    assert [o.slot[3] for o in shown.others] == [("wasmtime", "wazero")], "the narrower one is kept beside it"
    exported = [r for r in matrix.export(data)["results"] if r["engine"] == "agreement"
                and r["toolchain"] == "go1.27.3"]
    assert sorted(len(r["engines"]) for r in exported) == [2, 6]


def test_identical_records_are_one_record_that_names_every_run(tmp_path):
    rec = record("types/add", "wasmtime")
    a = write(tmp_path / "a.jsonl", [rec], header(host="a"))
    # the same verdict seen again: other timings, another cache state, another rerun path
    again = variant(rec, duration_s=9.9, build={**rec["build"], "cached": False, "duration_s": 3.0},
                    rerun="wasmexport-conformance 'manifests/types/add.yaml::wasmtime[go1.27.3]'")
    again["observed"]["steps"][0]["duration_ms"] = 77.0
    b = write(tmp_path / "b.jsonl", [again], header(host="b"))
    data = load([a, b])
    assert len(data.entries) == 1 and len(data.entries[0].runs) == 2
    assert data.conflicts() == []


def test_conflicting_records_are_all_kept_reported_and_fail_strict(tmp_path, capsys):
    a = write(tmp_path / "a.jsonl", [record("types/add", "wasmtime", "pass")], header(host="a"))
    bad = record("types/add", "wasmtime", "fail", steps=[],
                 problems=[{"where": "step 0", "line": 3, "expected": "()", "observed": "(i32:1)"}])
    b = write(tmp_path / "b.jsonl", [bad], header(host="b"))
    out = tmp_path / "m.jsonl"
    assert reports_main(["merge", str(a), str(b), "-o", str(out), "--sources", "none"]) == 0
    assert reports_main(["merge", str(a), str(b), "-o", str(out), "--strict", "--sources", "none"]) == 1
    err = capsys.readouterr().err
    assert "conflict: types/add [wasmtime, go1.27.3]: pass" in err
    assert "they differ in problems, verdict" in err
    header_, records, _ = read(out)
    assert sorted(r["verdict"] for r in records) == ["fail", "pass"]
    assert len(header_["conflicts"]) == 1
    # a view never hides the conflict behind a pass
    cell = next(iter(Grid(load([out])).cells["types/add"].values()))
    assert cell.entry.verdict == "fail" and cell.conflict
    done = subprocess.run([sys.executable, "-m", "reports.summary", str(out), "--strict"], cwd=REPO,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 1 and "conflicting records" in done.stderr


def test_two_engine_versions_are_two_records_not_a_conflict(tmp_path):
    a = write(tmp_path / "a.jsonl", [record("types/add", "wasmtime", "pass", version="50.0.1")])
    b = write(tmp_path / "b.jsonl", [record("types/add", "wasmtime", "fail", version="51.0.0")],
              header(host="other"))
    data = load([a, b])
    assert len(data.entries) == 2 and data.conflicts() == []
    labels = sorted(c.label for c in Grid(data).columns)
    assert labels == ["wasmtime 50.0.1", "wasmtime 51.0.0"]


def test_a_skip_beside_a_verdict_of_the_same_item_is_a_conflict(tmp_path):
    """One shard could not run the engine, another ran it: the data set must say so."""
    a = write(tmp_path / "a.jsonl", [record("types/add", "wasmer", "pass")])
    skip = record("types/add", "wasmer", "skip", version=None, reason="engine wasmer unavailable")
    skip["engine_version"] = None
    del skip["observed"]
    b = write(tmp_path / "b.jsonl", [skip], header(host="other"))
    assert len(load([a, b]).conflicts()) == 1


def test_the_merged_file_says_which_runs_it_came_from_and_merges_again_to_itself(tmp_path):
    a, b = _ci_files(tmp_path)
    m1, m2 = tmp_path / "m1.jsonl", tmp_path / "m2.jsonl"
    assert reports_main(["merge", str(a), str(b), "-o", str(m1), "--sources", "none"]) == 0
    head, records, _ = read(m1)
    assert head["merged"] is True
    hosts = sorted(r["host"] for r in head["runs"])
    assert hosts == ["releases", "shard-1"]
    run = head["runs"][0]
    assert {"id", "suite_commit", "engines", "toolchains", "host", "started", "finished"} <= set(run)
    ids = {r["id"] for r in head["runs"]}
    assert all(set(r["runs"]) <= ids and r["runs"] for r in records)
    # a merged file merged again, with one of its inputs, is unchanged
    assert reports_main(["merge", str(m1), str(a), "-o", str(m2), "--sources", "none"]) == 0
    assert m1.read_text() == m2.read_text()


def test_a_partial_run_makes_the_merged_set_partial(tmp_path):
    a = write(tmp_path / "a.jsonl", [record("types/add", "wasmtime")])
    b = write(tmp_path / "b.jsonl", [record("types/sub", "wasmtime")], header(host="b"), finished=False)
    with b.open("a") as fh:
        fh.write('{"type": "result", "case": "types/mu')  # torn last line: the run was killed
    out = tmp_path / "m.jsonl"
    assert reports_main(["merge", str(a), str(b), "-o", str(out), "--sources", "none"]) == 0
    _, records, footer = read(out)
    assert footer is None and len(records) == 2
    done = subprocess.run([sys.executable, "-m", "reports", "summary", str(out), "--strict"], cwd=REPO,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 1 and "the run did not finish" in done.stderr


def test_malformed_records_are_rejected_by_name_and_fail_strict(tmp_path, capsys):
    good = record("types/add", "wasmtime")
    path = write(tmp_path / "a.jsonl", [good, {"case": "../../etc", "engine": "x", "verdict": "pass",
                                               "toolchain": "go1.27.3"},
                                        {**good, "case": "types/other", "verdict": "great"}])
    out = tmp_path / "m.jsonl"
    assert reports_main(["merge", str(path), "-o", str(out), "--strict", "--sources", "none"]) == 1
    err = capsys.readouterr().err
    assert "record 2: case '../../etc' is not a valid case" in err
    assert "record 3: verdict 'great'" in err
    assert [r["case"] for r in read(out)[1]] == ["types/add"]


def test_huge_fields_are_bounded(tmp_path):
    rec = record("types/add", "wasmtime", reason="x" * 1_000_000)
    data = load([write(tmp_path / "a.jsonl", [rec])])
    reason = data.entries[0].rec["reason"]
    assert len(reason) < 70_000 and reason.endswith("more characters not kept)")


def test_merge_output_is_a_results_file_every_command_reads(tmp_path):
    a, b = _ci_files(tmp_path)
    out = tmp_path / "m.jsonl"
    assert reports_main(["merge", str(a), str(b), "-o", str(out), "--sources", "none"]) == 0
    doc = json.loads((tmp_path / "m.jsonl").read_text().splitlines()[0])
    assert doc["type"] == "header"
    assert reports_main(["summary", str(out), "--strict"]) == 0
    assert reports_main(["html", str(out), "-o", str(tmp_path / "r.html"), "--sources", "none"]) == 0
