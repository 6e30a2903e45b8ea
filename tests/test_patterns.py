"""Manifest regexes cannot hang the run: linear-time matching, unsupported forms refused."""

from __future__ import annotations

import time

import pytest

from harness.manifest import ManifestError, TextExpect, load
from harness.patterns import PatternError, full_match


def test_catastrophic_backtracking_patterns_match_in_linear_time():
    started = time.monotonic()
    assert not TextExpect.parse({"match": "(a+)+b"}).matches("a" * 40)
    assert not full_match("(x+x+)+y", "x" * 5000)
    assert time.monotonic() - started < 1.0


def test_dot_matches_newline_and_the_match_is_full():
    assert full_match("a.b", "a\nb")
    assert not full_match("a", "ab")


@pytest.mark.parametrize("pattern", [r"(a)\1", r"(?=a)a", r"(?<!b)a"])
def test_backtracking_only_forms_are_refused(pattern):
    with pytest.raises(PatternError, match="RE2 syntax"):
        TextExpect.parse({"match": pattern})


def test_a_bad_pattern_in_a_manifest_names_file_and_line(manifest_file):
    path = manifest_file("""
        title: A build error whose message pattern uses lookahead
        refs: [https://go.dev/blog/wasmexport]
        program:
          mode: command
          files: {main.go: "package main\\nfunc main() {}\\n"}
        build:
          outcome: error
          diagnostics:
            - {file: main.go, line: 1, message: '(?=x)x', match: true}
        """)
    with pytest.raises(ManifestError) as err:
        load(path, root=path.parent.parent)
    assert err.value.line == 10 and "RE2 syntax" in str(err.value)
