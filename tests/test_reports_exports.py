"""The machine-readable and CI views: JSON matrix, Markdown summary, annotations, text summary."""

from __future__ import annotations

import json
import re

from harness.paths import SUITE
from harness.results import suite_commit
from reports import annotate, html, markdown, matrix, sources
from reports.__main__ import main as reports_main
from reports.dataset import load
from reports.summary import render_data
from tests.report_data import ENGINES, header, record, step, write

FINDING = {"go": ">=1.24", "finding": "not normalised", "link": "https://go.dev/x", "line": 50}


def _engines_run(tmp_path, name="engines.jsonl", stdout="5\n"):
    recs = []
    for e in ENGINES:
        recs.append(record("types/add", e, "pass", steps=[step("returned (i32:5)", stdout=stdout)]))
        recs.append(record("types/bool", e, "xfail", release_entry=FINDING,
                           reason="Go >=1.24: not normalised (https://go.dev/x)"))
    recs.append(record("lifecycle/exit", "wazero", "fail",
                       problems=[{"where": "step 1 exit code", "line": 12, "expected": "2",
                                  "observed": "3"}]))
    return write(tmp_path / name, recs, header(engines=ENGINES))


def test_the_json_matrix_is_stable_and_normalised(tmp_path):
    a = _engines_run(tmp_path)
    doc = matrix.export(load([a]))
    assert doc["schema"] == "wasmexport-matrix/1"
    keys = [(r["case"], r["engine"], r["toolchain"]) for r in doc["results"]]
    assert keys == sorted(keys, key=lambda k: (k[0], k[1] == "agreement", k[1], k[2]))
    add = [r for r in doc["results"] if r["case"] == "types/add"]
    assert len({r["observation"]["digest"] for r in add}) == 1, "six engines, one observation"
    assert add[0]["observation"]["summary"] == "build ok; loaded; returned (); returned (i32:5)"
    assert doc["engines"]["wasmtime"] == ["50.0.1"] and doc["toolchains"] == ["go1.27.3"]
    assert doc["cases"]["types/add"]["path"] == "manifests/types/add.yaml"
    # the same results read in another order give the same document
    lines = a.read_text().splitlines()
    b = tmp_path / "shuffled.jsonl"
    b.write_text("\n".join([lines[0], *reversed(lines[1:-1]), lines[-1]]) + "\n")
    assert matrix.export(load([b]))["results"] == doc["results"]
    out = tmp_path / "m.json"
    assert reports_main(["json", str(a), "-o", str(out)]) == 0
    assert json.loads(out.read_text())["results"] == json.loads(json.dumps(doc["results"]))


def test_findings_are_grouped_once_per_case_and_release_range(tmp_path):
    data = load([_engines_run(tmp_path)])
    text = render_data(data)
    assert "findings), each once (1):" in text
    assert ("types/bool [Go >=1.24; go1.27.3; bun, deno, node, wasmer, wasmtime, wazero]: "
            "not normalised") in text
    assert text.count("not normalised") == 1


def test_the_markdown_summary(tmp_path):
    md = markdown.render(load([_engines_run(tmp_path)]))
    assert md.startswith("## //go:wasmexport conformance\n")
    assert "**❌ not clean: 1 fail**" in md
    assert "| wazero | 33 % (1/3), 1 ✗ |" in md  # pass percentage of applicable, then failures
    assert "| wasmtime | 50 % (1/2) |" in md
    assert "✗ **fail** `lifecycle/exit` [wazero, go1.27.3] `manifests/lifecycle/exit.yaml:12`" in md
    assert "Findings (known divergences, each counted once): 1 of Go releases, 0 of engines." in md


def test_markdown_escapes_record_text(tmp_path):
    evil = record("types/x", "wasmtime", "fail", reason="<script>alert(1)</script> [a](javascript:x)",
                  problems=[])
    md = markdown.render(load([write(tmp_path / "e.jsonl", [evil])]))
    outside = md.split("```")[0].split("`")[::2]
    assert not any("<script" in p or re.search(r"(?<!\\)\]\(", p) for p in outside), "no link"
    assert "&lt;script&gt;" in md


def test_annotations_point_at_the_manifest_line_and_cannot_inject_commands(tmp_path):
    recs = [record("lifecycle/exit", "wazero", "fail",
                   problems=[{"where": "step 1 exit code", "line": 12, "expected": "2",
                              "observed": "3\n::add-mask::secret\n%0A"}]),
            record("types/bool", "wasmtime", "xpass", reason="the documented expectation now holds",
                   release_entry={**FINDING, "line": 44})]
    lines = annotate.render(load([write(tmp_path / "a.jsonl", recs)]))
    assert len(lines) == 2
    first = lines[0]
    assert first.startswith("::error file=manifests/lifecycle/exit.yaml,line=12,"
                            "title=fail lifecycle/exit [wazero%2C go1.27.3]::")
    assert "\n" not in first and "%0A::add-mask::secret%0A%250A" in first
    assert lines[1].startswith("::error file=manifests/types/bool.yaml,line=44,")


def test_the_markdown_command_appends_to_a_step_summary(tmp_path):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    a = _engines_run(tmp_path)
    assert reports_main(["markdown", str(a), "-o", str(summary), "--append"]) == 0
    text = summary.read_text()
    assert text.startswith("earlier step\n## //go:wasmexport conformance")


def test_sources_come_from_a_checkout_only_when_asked_or_from_this_very_commit(tmp_path):
    rec = record("types/int32-add", "wasmtime")
    other = load([write(tmp_path / "a.jsonl", [rec], header(commit="0" * 40))])
    assert sources.attach(other, "auto").startswith("sources: none (this suite is at")
    assert other.cases == {}
    ours = load([write(tmp_path / "b.jsonl", [rec], header(commit=suite_commit(SUITE)))])
    assert sources.attach(ours, "auto").startswith("sources: 1 of 1 cases from this suite's manifests")
    assert "//go:wasmexport" in "".join(ours.cases["types/int32-add"]["files"].values())
    given = load([write(tmp_path / "c.jsonl", [rec, record("../../etc/passwd", "wasmtime")])])
    sources.attach(given, str(SUITE))
    assert list(given.cases) == ["types/int32-add"], "only cases inside the manifests directory"


def test_merged_files_carry_their_sources(tmp_path):
    a = write(tmp_path / "a.jsonl", [record("types/int32-add", "wasmtime")], header(commit="0" * 40))
    out = tmp_path / "m.jsonl"
    assert reports_main(["merge", str(a), "-o", str(out), "--sources", str(SUITE)]) == 0
    data = load([out])
    assert "int32" in data.cases["types/int32-add"]["manifest"]


def test_the_older_command_lines_still_work(tmp_path, capsys):
    a = _engines_run(tmp_path)
    assert reports_main([str(a)]) == 0, "python -m reports FILE is the summary"
    assert "engine × toolchain" in capsys.readouterr().out
    out = tmp_path / "r.html"
    assert html.main([str(a), "-o", str(out)]) == 0, "what suites/plugin.py calls"
    assert "types/bool" in out.read_text()
