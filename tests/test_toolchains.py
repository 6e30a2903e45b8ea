"""Toolchain names: minor releases expand to their newest patch; bad names say what to write."""

from __future__ import annotations

import pytest

from harness import toolchains
from harness.toolchains import ToolchainUnavailable, expand

LISTED = {"go1.24.3": "pypi", "go1.24.11": "pypi", "go1.24.13": "proxy", "go1.25.5": "pypi",
          "go1.25.14": "proxy", "go1.27.3": "pypi"}


@pytest.fixture(autouse=True)
def listed(monkeypatch):
    monkeypatch.setattr(toolchains, "releases", lambda: dict(LISTED))


@pytest.mark.parametrize(("name", "full"), [
    ("go1.24", "go1.24.13"),   # the proxy has a newer patch than PyPI: newest wins
    ("go1.25", "go1.25.14"),
    ("go1.27", "go1.27.3"),
    ("go1.24.3", "go1.24.3"),  # full names are kept as written
    ("go1.24.12", "go1.24.12"),  # even when unlisted: the fetch decides, and says why
    ("go1.27rc1", "go1.27rc1"),  # a pre-release is itself, never the newest go1.27.N
])
def test_expand(name, full):
    assert expand(name) == full


def test_a_minor_release_nobody_has_is_unavailable_with_the_reason():
    with pytest.raises(ToolchainUnavailable, match=r"no go1\.26\.N release is listed"):
        expand("go1.26")


def test_a_bad_name_says_what_a_name_looks_like():
    with pytest.raises(ToolchainUnavailable, match=r"go1\.24\.3"):
        expand("1.24")


def test_stable_releases_only():
    assert toolchains._stable("go1.25.3")
    assert not toolchains._stable("go1.26rc1")
    assert not toolchains._stable("go1.26")
