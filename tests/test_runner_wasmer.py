"""The wasmer runner's configurations: Cranelift (`wasmer`) and Singlepass (`wasmer-singlepass`)
share one binary, each with its own name, version and module cache; LLVM (`wasmer-llvm`) has a
binary of its own, built only for it, that needs LLVM 22's development packages."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from harness import engines
from harness.runner import EngineUnavailable, RunnerProcess
from runners.wasmer import adapter, llvm

CONFIGS = {"wasmer": "7.4.2", "wasmer-singlepass": "7.4.2 (Singlepass)"}
ADD = """
(module
  (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))
"""


def command(name: str) -> list[str]:
    """The runner's command line for `name` (built on first use), or a skip."""
    try:
        runner = engines.adapter(name).make_runner(name)
    except EngineUnavailable as e:
        if os.environ.get("WASMEXPORT_REQUIRE_ENGINES") == "1":
            pytest.fail(f"{name} is required here but unavailable: {e}")
        pytest.skip(f"{name} unavailable: {e}")
    assert isinstance(runner, RunnerProcess)
    return list(runner.command)


def test_the_registry_lists_every_configuration() -> None:
    assert engines.family("wasmer-singlepass") == engines.family("wasmer-llvm") == "wasmer"
    assert engines.configuration("wasmer") == "Cranelift (the default)"
    assert "Singlepass" in engines.configuration("wasmer-singlepass")
    assert "LLVM" in engines.configuration("wasmer-llvm")


def test_the_no_argument_call_is_cranelift() -> None:
    assert command("wasmer")[-2:] == ["--compiler", "cranelift"]
    assert engines.adapter("wasmer").make_runner().command == command("wasmer")


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_hello_names_the_configuration(name: str) -> None:
    done = subprocess.run(command(name), input="", capture_output=True, text=True, timeout=60,
                          check=True)
    hello = json.loads(done.stdout.splitlines()[0])
    assert (hello["engine"], hello["engine_version"]) == (name, CONFIGS[name])


def test_each_compiler_has_its_own_disk_cache(wat, plan_for, tmp_path: Path):
    plan = plan_for(wat(ADD), [{"call": "add", "args": [{"t": "i32", "v": "2"},
                                                        {"t": "i32", "v": "3"}]}])
    cache = tmp_path / "cache"
    for name in sorted(CONFIGS):
        cmd = command(name)
        cmd[cmd.index("--cache") + 1] = str(cache)
        runner = RunnerProcess(name, cmd)
        try:
            obs = runner.run(plan)
        finally:
            runner.close()
        assert obs.load_ok and obs.steps[0].results[0].bits == 5
    dirs = sorted(p.name for p in cache.iterdir())
    assert [d.rsplit("-", 1)[1] for d in dirs] == ["cranelift", "singlepass"], dirs
    assert all(len(list((cache / d).glob("*.bin"))) == 1 for d in dirs)


def test_llvm_has_a_binary_and_cache_entry_of_its_own() -> None:
    cmd = command("wasmer-llvm")
    assert cmd[-2:] == ["--compiler", "llvm"]
    assert Path(cmd[0]).name == llvm.BINARY
    assert Path(cmd[0]).parent.name.startswith("wasmer-llvm-")
    assert Path(cmd[0]).parent != Path(command("wasmer")[0]).parent


def test_llvm_hello_names_wasmer_and_llvm() -> None:
    done = subprocess.run(command("wasmer-llvm"), input="", capture_output=True, text=True,
                          timeout=60, check=True)
    hello = json.loads(done.stdout.splitlines()[0])
    assert hello["engine"] == "wasmer-llvm"
    assert hello["engine_version"] == f"7.4.2 (LLVM {llvm.llvm()[1]})"


def test_llvm_compiles_into_its_own_disk_cache(wat, plan_for, tmp_path: Path) -> None:
    plan = plan_for(wat(ADD), [{"call": "add", "args": [{"t": "i32", "v": "2"},
                                                        {"t": "i32", "v": "3"}]}])
    cache = tmp_path / "cache"
    cmd = command("wasmer-llvm")
    cmd[cmd.index("--cache") + 1] = str(cache)
    for _ in range(2):  # the second process loads the module from the disk cache
        runner = RunnerProcess("wasmer-llvm", cmd)
        try:
            obs = runner.run(plan)
        finally:
            runner.close()
        assert obs.load_ok and obs.steps[0].results[0].bits == 5
    assert [d.name.rsplit("-", 1)[1] for d in cache.iterdir()] == ["llvm"]
    assert len(list(next(cache.iterdir()).glob("*.bin"))) == 1


def test_the_default_binary_refuses_llvm() -> None:
    done = subprocess.run([*command("wasmer")[:-1], "llvm"], input="", capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 2 and "built without the llvm feature" in done.stderr


def test_without_llvm_config_llvm_is_unavailable_and_names_apt_get(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no llvm-config-22 (and no cargo) on PATH
    with pytest.raises(EngineUnavailable, match="llvm-config-22") as e:
        adapter.make_runner("wasmer-llvm")
    assert f"apt-get install -y {llvm.PACKAGES}" in str(e.value)


def test_missing_llvm_libraries_name_apt_get(monkeypatch, tmp_path) -> None:
    script = tmp_path / "llvm-config"
    script.write_text("#!/bin/sh\necho -lz /nonexistent/libz3.so -lno-such-library-here\n")
    script.chmod(0o755)
    with pytest.raises(EngineUnavailable, match="libno-such-library-here") as e:
        llvm._check_libraries(str(script), tmp_path)
    assert "libPolly.a" in str(e.value) and "/nonexistent/libz3.so" in str(e.value)
    assert "-lz" not in str(e.value) and llvm.INSTALL in str(e.value)


def test_cranelift_and_singlepass_do_not_need_llvm(monkeypatch) -> None:
    def no_llvm() -> None:
        raise EngineUnavailable("no LLVM here")

    monkeypatch.setattr(llvm, "llvm", no_llvm)
    for name in ("wasmer", "wasmer-singlepass"):
        assert Path(command(name)[0]).name == adapter.BINARY
