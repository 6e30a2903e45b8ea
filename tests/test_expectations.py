"""Expectations files: well-formed, pointing at real cases, and refused when malformed."""

from __future__ import annotations

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
        assert d.case in CASES, f"{path}:{d.line}: no case {d.case!r}"
        assert d.link.startswith("https://"), f"{path}:{d.line}: link must be a URL"


@pytest.mark.parametrize(("text", "words"), [
    ("- case: a/b\n  reason: x\n", "needs case, reason and link"),
    ("- case: a/b\n  reason: x\n  link: https://x\n  colour: red\n", "unknown field"),
    ("- case: a/b\n  reason: ''\n  link: https://x\n", "must not be empty"),
    ("- case: a/b\n  reason: x\n  link: https://x\n  go: 'about 1.24'\n", "bad version clause"),
    ("case: a/b\n", "is a list"),
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
