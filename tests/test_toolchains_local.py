"""Local toolchains: a GOROOT, a go binary (absolute or relative), `system`, and devel builds with
their short labels. The `go` binaries are small scripts that print a chosen version; one test
wraps the real `go` to build a case as a devel toolchain."""

from __future__ import annotations

import re
import shlex
import shutil
import textwrap
from pathlib import Path

import pytest

from harness import cachedir, toolchains
from harness.build import build
from harness.manifest import load as load_manifest
from harness.toolchains import ToolchainUnavailable, devel_label, label, resolve

DEVEL = "devel go1.28-abcdef12 Tue Nov 3 10:00:00 2026 +0000"
LABEL_CHARS = re.compile(r"[A-Za-z0-9._+-]+")


def fake_goroot(root: Path, goversion: str, *, real: str | None = None,
                calls: Path | None = None) -> Path:
    """``root/bin/go`` printing `goversion` for ``go env GOVERSION`` and ``go version``; any other
    command goes to `real` (a real go binary) when given. `calls` logs what it was asked."""
    go = root / "bin" / "go"
    go.parent.mkdir(parents=True)
    count = f"echo probe >> {shlex.quote(str(calls))}; " if calls else ""
    log = f'echo "run $1" >> {shlex.quote(str(calls))}; ' if calls else ""
    other = f'{log}exec {shlex.quote(real)} "$@"' if real else "exit 2"
    line = shlex.quote(f"go version {goversion} linux/amd64")
    go.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        if [ "$1 $2" = "env GOVERSION" ]; then {count}echo {shlex.quote(goversion)}; exit 0; fi
        if [ "$1" = version ]; then {count}echo {line}; exit 0; fi
        {other}
        """))
    go.chmod(0o755)
    return root


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    monkeypatch.setenv(cachedir.ENV, str(tmp_path / "cache"))

    def no_listing(prerelease: bool = False):
        raise AssertionError("a local toolchain needs no listing")

    monkeypatch.setattr(toolchains, "releases", no_listing)


def test_a_goroot_directory(tmp_path):
    root = fake_goroot(tmp_path / "sdk", "go1.26.8")
    tc = resolve(str(root))
    assert (tc.requested, tc.name, tc.go, tc.devel) == (str(root), "go1.26.8",
                                                        (root / "bin" / "go").resolve(), False)
    assert tc.version_line == "go version go1.26.8 linux/amd64"
    assert tc.rerun_arg == str(root.resolve())
    assert label(str(root)) == "go1.26.8"


def test_a_go_binary(tmp_path):
    root = fake_goroot(tmp_path / "sdk", "go1.25.3")
    tc = resolve(str(root / "bin" / "go"))
    assert (tc.name, tc.version, tc.go) == ("go1.25.3", (1, 25, 3), (root / "bin" / "go").resolve())
    assert tc.rerun_arg == str(root.resolve()), "a go binary reruns as its GOROOT"


@pytest.mark.parametrize("relative", ["sdk", "./sdk/bin/go", "sdk/../sdk"])
def test_relative_paths_are_resolved_against_the_working_directory(tmp_path, monkeypatch,
                                                                     relative):
    root = fake_goroot(tmp_path / "sdk", "go1.26.8")
    monkeypatch.chdir(tmp_path)
    tc = resolve(relative)
    assert tc.requested == relative
    assert tc.go == (root / "bin" / "go").resolve()
    assert Path(tc.rerun_arg).is_absolute()
    assert tc.rerun_arg == str(root.resolve())
    monkeypatch.chdir(tmp_path.parent)
    assert resolve(tc.rerun_arg).go == tc.go, "the rerun argument works from anywhere"


def test_a_wrapper_outside_bin_reruns_as_itself(tmp_path):
    root = fake_goroot(tmp_path / "sdk", "go1.26.8")
    wrapper = tmp_path / "my-go"
    (root / "bin" / "go").rename(wrapper)
    tc = resolve(str(wrapper))
    assert tc.rerun_arg == str(wrapper.resolve())


def test_a_missing_path_is_refused(tmp_path):
    with pytest.raises(ToolchainUnavailable, match=rf"{tmp_path}/nowhere does not exist"):
        resolve(str(tmp_path / "nowhere"))
    with pytest.raises(ToolchainUnavailable, match="does not exist"):
        label(str(tmp_path / "nowhere"))


def test_a_directory_without_bin_go_is_refused(tmp_path):
    (tmp_path / "empty" / "bin").mkdir(parents=True)
    with pytest.raises(ToolchainUnavailable, match=r"without bin/go, not a GOROOT"):
        resolve(str(tmp_path / "empty"))


def test_a_file_that_cannot_run_is_refused(tmp_path):
    root = fake_goroot(tmp_path / "sdk", "go1.26.8")
    (root / "bin" / "go").chmod(0o644)
    with pytest.raises(ToolchainUnavailable, match="not executable"):
        resolve(str(root))


def test_system_is_the_go_on_path_and_reruns_as_its_real_goroot(tmp_path, monkeypatch):
    root = fake_goroot(tmp_path / "sdk", "go1.26.1")
    (tmp_path / "shims").mkdir()
    (tmp_path / "shims" / "go").symlink_to(root / "bin" / "go")  # as /usr/bin/go often is
    monkeypatch.setenv("PATH", str(tmp_path / "shims"))
    tc = resolve("system")
    assert (tc.requested, tc.name) == ("system", "go1.26.1")
    assert tc.rerun_arg == str(root.resolve())
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    with pytest.raises(ToolchainUnavailable, match="no `go` on PATH"):
        resolve("system")


@pytest.mark.parametrize("how", ["goroot", "binary", "system"])
def test_a_devel_toolchain_through_every_way_of_naming_one(tmp_path, monkeypatch, how):
    root = fake_goroot(tmp_path / "src" / "go", DEVEL)
    monkeypatch.setenv("PATH", str(root / "bin"))
    requested = {"goroot": str(root), "binary": str(root / "bin" / "go"), "system": "system"}[how]
    tc = resolve(requested)
    assert tc.devel
    assert tc.name == label(requested) == "devel-go1.28-abcdef12"
    assert tc.version == (1, 28, 0)
    assert tc.version_line == f"go version {DEVEL} linux/amd64", "the full text is kept"
    assert tc.rerun_arg == str(root.resolve())


def test_a_devel_label_comes_from_the_version_not_the_path(tmp_path):
    one = resolve(str(fake_goroot(tmp_path / "a", DEVEL)))
    two = resolve(str(fake_goroot(tmp_path / "elsewhere" / "b", DEVEL)))
    other = resolve(str(fake_goroot(tmp_path / "c", DEVEL.replace("abcdef12", "0123abcd"))))
    assert one.name == two.name == "devel-go1.28-abcdef12"
    assert other.name == "devel-go1.28-0123abcd"


@pytest.mark.parametrize(("goversion", "expected"), [
    (DEVEL, "devel-go1.28-abcdef12"),
    ("devel go1.28-abcdef12 Tue Nov 3 10:00:00 2026 +0000 X:rangefunc", "devel-go1.28-abcdef12"),
    ("devel +abcdef Tue Nov 3 10:00:00 2026 +0000", "devel-abcdef"),
    ("devel go1.28-ab/c:d*e Tue Nov 3", "devel-go1.28-ab-c-d-e"),
])
def test_devel_labels_are_short_and_safe_in_item_ids(goversion, expected):
    assert devel_label(goversion) == expected
    assert devel_label(goversion) == devel_label(goversion)
    assert LABEL_CHARS.fullmatch(devel_label(goversion))


def test_a_devel_version_without_a_word_is_labelled_by_its_hash():
    got = devel_label("devel")
    assert LABEL_CHARS.fullmatch(got)
    assert got.startswith("devel-")
    assert got == devel_label("devel") != devel_label("devel ***")


def test_an_old_style_devel_toolchain_is_newer_than_every_release(tmp_path):
    tc = resolve(str(fake_goroot(tmp_path / "go", "devel +abcdef Tue Nov 3 10:00:00 2026 +0000")))
    assert (tc.name, tc.devel) == ("devel-abcdef", True)
    assert tc.version == toolchains.DEVEL_WITHOUT_BASE
    assert tc.version > (1, 99, 99)


@pytest.mark.parametrize("goversion", ["go1.23.4", "go1.21rc2", "devel go1.23-abcdef12 Tue Nov 3"])
def test_a_local_toolchain_before_1_24_is_refused(tmp_path, goversion):
    root = fake_goroot(tmp_path / "old", goversion)
    with pytest.raises(ToolchainUnavailable, match=r"predates //go:wasmexport \(Go 1\.24\)"):
        resolve(str(root))
    with pytest.raises(ToolchainUnavailable, match="predates //go:wasmexport"):
        label(str(root))


def test_a_go_too_old_to_know_goversion_is_refused_by_its_version_line(tmp_path):
    root = fake_goroot(tmp_path / "old", "go1.15")
    (root / "bin" / "go").write_text('#!/bin/sh\nif [ "$1" = env ]; then echo; exit 0; fi\n'
                                     'echo "go version go1.15 linux/amd64"\n')
    with pytest.raises(ToolchainUnavailable, match=r"go1\.15, which predates"):
        resolve(str(root))


def test_a_version_that_is_neither_release_nor_devel_is_refused(tmp_path):
    root = fake_goroot(tmp_path / "odd", "weird-1.0")
    with pytest.raises(ToolchainUnavailable, match="neither a Go release nor a devel build"):
        resolve(str(root))


def test_a_local_toolchain_is_asked_its_version_once_per_process(tmp_path):
    calls = tmp_path / "calls"
    root = fake_goroot(tmp_path / "sdk", "go1.26.8", calls=calls)
    assert label(str(root)) == label(str(root)) == resolve(str(root)).name == "go1.26.8"
    assert resolve(str(root / "bin" / "go")).name == "go1.26.8"
    assert calls.read_text().count("probe") == 2, "go env GOVERSION and go version, once each"


MANIFEST = """\
title: A devel toolchain builds an export
refs: [https://go.dev/blog/wasmexport]
program:
  mode: reactor
  files:
    main.go: |
      package main

      //go:wasmexport add
      func add(a, b int32) int32 { return a + b }

      func main() {}
module:
  exports:
    _initialize: () -> ()
    add: (i32, i32) -> i32
    memory: memory
script:
  - call: _initialize
"""


def test_a_devel_toolchain_builds_a_case(tmp_path, monkeypatch, manifest_file):
    real = shutil.which("go") or "/usr/local/go/bin/go"
    if not Path(real).exists():
        pytest.skip("no real go to stand behind the devel wrapper")
    calls = tmp_path / "calls"
    root = fake_goroot(tmp_path / "go", DEVEL, real=str(Path(real).resolve()), calls=calls)
    tc = resolve(str(root))
    m = load_manifest(manifest_file(MANIFEST), root=tmp_path / "manifests")
    result = build(m, tc)
    assert result.outcome == "ok", result.output
    assert "run build" in calls.read_text(), "the build went through the devel toolchain"
    assert result.module is not None
    assert result.module.read_bytes()[:4] == b"\0asm"
