"""Manifests: bad input is refused with file, line and field; every shipped manifest loads."""

from __future__ import annotations

import pytest

from harness import manifest
from harness.manifest import MANIFEST_DIR, ManifestError

GOOD = """\
title: A valid reactor case for the loader tests
refs: [https://example.invalid/spec]
program:
  mode: reactor
  files: {main.go: "package main\\nfunc main() {}\\n"}
module:
  exports:
    _initialize: () -> ()
    add: (i32, i32) -> i32
    memory: memory
script:
  - call: _initialize
  - call: add
    args: [{i32: 1}, {i32: 2}]
    expect: {returns: [{i32: 3}]}
"""


def error_of(manifest_file, text: str) -> ManifestError:
    path = manifest_file(text)
    with pytest.raises(ManifestError) as info:
        manifest.load(path)
    assert str(path) in str(info.value)
    return info.value


def test_the_good_manifest_loads(manifest_file):
    m = manifest.load(manifest_file(GOOD), root=manifest_file(GOOD).parent.parent)
    assert m.id == "area/case" and m.area == "area"
    assert [s.call for s in m.steps] == ["_initialize", "add"]


@pytest.mark.parametrize(("text", "line", "words"), [
    (GOOD.replace("mode: reactor", "mode: reactr"), 4, "program.mode"),
    (GOOD.replace("    expect: {returns: [{i32: 3}]}",
                  "    expect: {returns: [{i32: 3}], trap: unreachable}"), 15, "script[1].expect"),
    (GOOD.replace("args: [{i32: 1}, {i32: 2}]", "args: [{i32: 1}, {i64: 2}]"), 14, "takes (i32, i32)"),
    (GOOD.replace("  - call: add", "  - call: sub"), 13, "'sub' is not a function"),
    (GOOD.replace("{i32: 3}", "{i32: 4294967296}"), 15, "does not fit"),
    (GOOD.replace("{i32: 3}", "{i64: 3}"), 15, "returns (i32)"),
    (GOOD.replace("add: (i32, i32) -> i32", "add: (i32, int) -> i32"), 9, "module.exports.add"),
    (GOOD.replace("refs: [https://example.invalid/spec]\n", ""), 1, "'refs' is a required"),
    (GOOD + "colour: blue\n", 1, "colour"),
    (GOOD.replace("    memory: memory\n", "    memory: memory\n    add: () -> ()\n"), 11,
     "duplicate key 'add'"),
    (GOOD.replace("  mode: reactor", "  mode: [reactor"), 5, "expected ','"),
    (GOOD.replace("module:\n  exports:\n    _initialize: () -> ()\n    add: (i32, i32) -> i32\n"
                  "    memory: memory\n", ""), 1, "module.exports"),
])
def test_bad_manifests_name_the_line_and_field(manifest_file, text, line, words):
    err = error_of(manifest_file, text)
    if line is not None:
        assert err.line == line, str(err)
    assert words in str(err)


def test_an_f32_that_is_not_exact_must_be_given_as_bits(manifest_file):
    err = error_of(manifest_file, GOOD.replace("add: (i32, i32) -> i32", "add: (f32) -> f32")
                   .replace("[{i32: 1}, {i32: 2}]", "[{f32: 0.1}]").replace("{i32: 3}", "{f32: 1}"))
    assert "0x bits" in str(err)


def test_unreadable_yaml_is_a_manifest_error_with_a_line(manifest_file):
    err = error_of(manifest_file, "title: [unclosed\n")
    assert err.line is not None


# -- the repository's own manifests -----------------------------------------------------------

SHIPPED = sorted(p for p in MANIFEST_DIR.glob("*/*.yaml"))


def test_there_are_cases():
    assert len(SHIPPED) >= 30


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.relative_to(MANIFEST_DIR).as_posix())
def test_shipped_manifest_is_valid(path):
    case = manifest.load(path)
    assert case.refs and all(r.startswith(("http://", "https://")) for r in case.refs)
    for m in (case, *case.variants):
        if m.exports is None or m.load == "invalid":
            continue
        if m.target == "js":  # no library mode: Go's run, resume, getsp and mem instead
            assert m.mode == "command" and {"run", "resume", "getsp", "mem"} <= set(m.exports)
            assert "_start" not in m.exports and "_initialize" not in m.exports
        elif m.mode == "reactor":
            assert "_initialize" in m.exports and "_start" not in m.exports
        else:
            assert "_start" in m.exports


def test_case_ids_are_unique_and_stable():
    ids = [manifest.case_id(p) for p in SHIPPED]
    assert len(ids) == len(set(ids))
    assert all(i == i.lower() and " " not in i for i in ids)


RELEASE_ENTRY = """\
releases:
  - go: ">=1.24, <1.26"
    finding: these releases add differently
    script:
      - call: _initialize
      - call: add
        args: [{i32: 1}, {i32: 2}]
        expect: {returns: [{i32: 4}]}
"""


def test_a_releases_entry_is_the_whole_case_with_its_parts_replaced(manifest_file):
    path = manifest_file(GOOD + RELEASE_ENTRY)
    m = manifest.load(path, root=path.parent.parent)
    (r,) = m.releases
    assert m.release((1, 25, 9)) is r and m.release((1, 26, 0)) is None
    assert r.actual.steps[1].expect.returns[0].bits == 4
    assert r.actual.exports == m.exports, "what the entry does not replace is the case's own"
    assert r.line == 17


@pytest.mark.parametrize(("extra", "line", "words"), [
    (RELEASE_ENTRY + RELEASE_ENTRY.removeprefix("releases:\n"), 24, "overlaps"),
    (RELEASE_ENTRY.replace("<1.26", "<1.x"), 17, "comparisons joined by commas"),
    (RELEASE_ENTRY.replace("{i32: 4}", "{i64: 4}"), 23, "releases[0]: script[1].expect.returns"),
    ("releases:\n  - go: '>=1.24'\n    finding: nothing is replaced here\n", 17, "releases[0]"),
])
def test_a_bad_releases_entry_names_its_line(manifest_file, extra, line, words):
    err = error_of(manifest_file, GOOD + extra)
    assert err.line == line, err
    assert words in str(err)
