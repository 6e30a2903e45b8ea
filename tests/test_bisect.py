"""Bisect: finds the first differing release with a fake probe; refuses reversed ends."""

from __future__ import annotations

import pytest

from harness.bisect import bisect, candidates

RELEASES = ["go1.24.3", "go1.24.4", "go1.25.0", "go1.25.1", "go1.26.0", "go1.27.0"]


def probe_changing_at(first: str, field: str = "step 1 (call f) results"):
    calls: list[str] = []

    def probe(release: str):
        calls.append(release)
        changed = RELEASES.index(release) >= RELEASES.index(first)
        return [("build outcome", "ok"), (field, "(i32:2)" if changed else "(i32:1)")]

    return probe, calls


@pytest.mark.parametrize("first", RELEASES[1:])
def test_finds_the_first_release_that_differs(first):
    probe, calls = probe_changing_at(first)
    change = bisect(RELEASES, probe, log=lambda _: None)
    assert change is not None
    assert change.first == first
    assert change.last_same == RELEASES[RELEASES.index(first) - 1]
    assert (change.field, change.before, change.after) == ("step 1 (call f) results", "(i32:1)",
                                                           "(i32:2)")
    assert len(calls) <= 2 + 3, "a binary search, not a scan"


def test_no_difference_is_none():
    assert bisect(RELEASES, lambda r: [("x", "1")], log=lambda _: None) is None


def test_candidates_are_the_releases_between_the_ends_oldest_first():
    known = ["go1.26.0", "go1.24.4", "go1.23.1", "go1.28.0", "go1.25.1"]
    assert candidates("go1.24.3", "go1.27.0", known) == ["go1.24.3", "go1.24.4", "go1.25.1",
                                                         "go1.26.0", "go1.27.0"]
    with pytest.raises(ValueError, match="older"):
        candidates("go1.27.0", "go1.24.3", known)
