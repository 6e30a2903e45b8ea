"""Expectations files: well-formed, pointing at real cases, and refused when malformed."""

from __future__ import annotations

from fnmatch import fnmatchcase
from pathlib import Path

import pytest

from harness import engines, expectations
from harness.manifest import MANIFEST_DIR, case_id
from harness.yamlsrc import YamlError

FILES = [(engines.expectations_file(e), e) for e in engines.known()] + [
    (MANIFEST_DIR / "toolchain-expectations.yaml", "go")]
CASES = {case_id(p) for p in MANIFEST_DIR.glob("*/*.yaml")}


@pytest.mark.parametrize(("path", "source"), FILES, ids=[s for _, s in FILES])
def test_every_entry_names_a_real_case_with_a_reason_and_link(path: Path, source: str):
    assert path.exists(), f"{path} is missing: every engine has an expectations file"
    for d in expectations.load(path, source):
        if d.allowance:
            assert d.case == "*" and d.compiler is not None, f"{path}:{d.line}: an allowance"
        else:
            assert any(fnmatchcase(c, d.case) for c in CASES), f"{path}:{d.line}: no case {d.case!r}"
        assert d.link.startswith("https://"), f"{path}:{d.line}: link must be a URL"
        for e in d.engines:  # only a family's own file may limit an entry to configurations
            assert source != "go" and e in engines.known() and engines.family(e) == source, \
                f"{path}:{d.line}: {e!r} is not a configuration of {source}"


@pytest.mark.parametrize(("text", "words"), [
    ("- case: a/b\n  reason: x\n", "reason and link"),
    ("- case: a/b\n  reason: x\n  link: https://x\n  colour: red\n", "unknown field"),
    ("- case: a/b\n  reason: ''\n  link: https://x\n", "must not be empty"),
    ("- case: a/b\n  reason: x\n  link: https://x\n  go: 'about 1.24'\n", "bad version clause"),
    ("case: a/b\n", "is a list"),
    ("- case: a/b\n  reason: x\n  link: https://x\n  engines: 3\n", "engines is a list"),
])
def test_malformed_entries_are_refused_with_a_line(tmp_path, text, words):
    path = tmp_path / "expectations.yaml"
    path.write_text(text)
    with pytest.raises(YamlError) as info:
        expectations.load(path, "x")
    assert words in str(info.value) and str(path) in str(info.value)


def test_find_respects_the_release_range(tmp_path):
    path = tmp_path / "e.yaml"
    path.write_text("- case: a/b\n  go: '>=1.24,<1.25'\n  reason: old bug\n  link: https://x\n")
    entries = expectations.load(path, "go")
    assert expectations.find(entries, "a/b", (1, 24, 3)) is not None
    assert expectations.find(entries, "a/b", (1, 25, 0)) is None
    assert expectations.find(entries, "a/c", (1, 24, 3)) is None


def test_a_configuration_has_its_familys_entries_and_its_own(tmp_path):
    files = {"eng": tmp_path / "expectations.yaml", "eng-fast": tmp_path / "expectations-fast.yaml"}
    files["eng"].write_text(
        "- {case: a/all, reason: every configuration, link: 'https://x'}\n"
        "- {case: a/base, reason: the default only, link: 'https://x', engines: [eng]}\n")
    files["eng-fast"].write_text("- {case: a/jit, reason: its compiler, link: 'https://x'}\n")
    base = expectations.for_engine("eng", "eng", files.__getitem__)
    fast = expectations.for_engine("eng-fast", "eng", files.__getitem__)
    assert [d.case for d in base] == ["a/all", "a/base"]
    assert [(d.case, d.source) for d in fast] == [("a/all", "eng"), ("a/jit", "eng-fast")]


def test_tinygo_entries_cases_schedulers_and_allowances(tmp_path: Path):
    f = tmp_path / "e.yaml"
    f.write_text(
        "- cases: [a/one, b/*]\n  tinygo: '>=0.40'\n  scheduler: none\n  reason: r\n  link: https://x\n"
        "- case: c/engine-wide\n  reason: r\n  link: https://x\n"
        "- tinygo: '>=0.34'\n  extra_exports: [malloc, 'asyncify_*']\n  reason: r\n  link: https://x\n"
        "- tinygo: '>=0.34'\n  export_order: any\n  reason: r\n  link: https://x\n")
    entries = expectations.load(f, "wasmtime")
    tg = (0, 40, 1)
    assert expectations.find(entries, "b/two", tg, "tinygo", "none") is not None
    assert expectations.find(entries, "b/two", tg, "tinygo", "asyncify") is None
    assert expectations.find(entries, "b/two", (1, 27, 3), "gc") is None
    assert expectations.find(entries, "a/one", (0, 39, 0), "tinygo", "none") is None
    # an engine's entry naming no releases covers every compiler's modules
    assert expectations.find(entries, "c/engine-wide", tg, "tinygo", "none") is not None
    assert expectations.find(entries, "c/engine-wide", (1, 24, 0), "gc") is not None
    allowed = expectations.allowances(entries, "any/case", tg, "tinygo", "asyncify")
    assert [a.extra_exports for a in allowed] == [("malloc", "asyncify_*"), ()]
    assert [a.export_order for a in allowed] == [False, True]
    assert expectations.allowances(entries, "any/case", (1, 27, 3), "gc") == ()
    assert expectations.find(entries, "any/case", tg, "tinygo") is None  # never a divergence
