"""``python -m reports transitions``: only the cases that change between adjacent releases."""

from __future__ import annotations

from reports.__main__ import main as reports_main
from reports.dataset import load, release_key
from reports.transitions import find, first_changes, render_text
from tests.report_data import header, record, step, write

RELEASES = ["go1.24.3", "go1.24.13", "go1.25.8", "go1.26.2", "go1.27.3"]


def test_release_order_is_numeric_with_prereleases_and_devel_builds():
    names = ["devel-go1.28-abcdef12", "go1.27.3", "go1.27rc1", "go1.24.13", "go1.24.3", "go1.25"]
    assert sorted(names, key=release_key) == ["go1.24.3", "go1.24.13", "go1.25", "go1.27rc1",
                                              "go1.27.3", "devel-go1.28-abcdef12"]


def _run(tmp_path):
    recs = []
    for n, tc in enumerate(RELEASES):
        for e in ("wasmtime", "wazero"):
            recs.append(record("types/add", e, "pass", tc, steps=[step("returned (i32:5)")]))
            # fixed in go1.26: the release entry stops matching
            fixed = n >= RELEASES.index("go1.26.2")
            recs.append(record("types/bool", e, "pass" if fixed else "xfail", tc,
                               steps=[step("returned (i32:1)" if fixed else "returned (i32:2)")]))
            # the re-entry count changes in go1.25 on every engine, the verdict does not
            count = 124 if n < 2 else 131
            recs.append(record("failures/reenter", e, "xfail", tc,
                               steps=[step("trapped: unreachable", "trap", stdout=f"rounds {count}\n")]))
        # a case that starts applying at go1.25: skipped before
        recs.append(record("module-shape/new", "wasmtime", "skip" if n < 2 else "pass", tc,
                           reason="outside the case's range" if n < 2 else ""))
    return write(tmp_path / "releases.jsonl", recs, header(engines=["wasmtime", "wazero"],
                                                           toolchains=RELEASES))


def test_only_changing_cases_are_listed_with_the_first_release_that_differs(tmp_path):
    data = load([_run(tmp_path)])
    steps = find(data)
    firsts = first_changes(steps)
    assert sorted(firsts) == ["failures/reenter", "module-shape/new", "types/bool"]
    assert (firsts["types/bool"].before, firsts["types/bool"].after) == ("go1.25.8", "go1.26.2")
    assert firsts["types/bool"].what == "verdict xfail → pass"
    assert firsts["types/bool"].engines == ("wasmtime", "wazero"), "one line for both engines"
    reenter = firsts["failures/reenter"]
    assert (reenter.after, reenter.what) == ("go1.25.8", "observation: step 1 stdout")
    assert (reenter.old_value, reenter.new_value) == ("rounds 124\n", "rounds 131\n")
    assert firsts["module-shape/new"].after == "go1.25.8"
    text = render_text(data, steps)
    assert "types/bool: first differs at go1.26.2 (after go1.25.8, Go release)" in text
    assert "types/add" not in text


def test_engine_versions_are_a_second_axis(tmp_path):
    a = write(tmp_path / "a.jsonl", [record("types/add", "wasmtime", "pass", version="50.0.1")])
    b = write(tmp_path / "b.jsonl", [record("types/add", "wasmtime", "fail", version="51.0.0")],
              header(host="b"))
    steps = find(load([a, b]))
    assert [(s.axis, s.before, s.after, s.what) for s in steps] == [
        ("wasmtime version", "50.0.1", "51.0.0", "verdict pass → fail")]


def test_the_command(tmp_path, capsys):
    assert reports_main(["transitions", str(_run(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert out.startswith("transitions over 5 toolchains (go1.24.3, go1.24.13, go1.25.8, go1.26.2, go1.27.3)")
    assert "3 cases change:" in out
