"""The wasmer runner with the LLVM compiler: a second binary of runners/wasmer/host, built only
for ``wasmer-llvm``.

wasmer's LLVM compiler links LLVM 22 through the ``llvm-sys`` crate, which finds it with
``llvm-config`` at ``$LLVM_SYS_221_PREFIX``. Debian's ``llvm-22-dev`` provides it with static
libraries; LLVM's link line also names Polly (``libpolly-22-dev``) and the system libraries zstd,
zlib, libffi and libxml2 (their ``-dev`` packages). The binary is built with ``cargo
build --release --locked --features llvm --bin wasmexport-wasmer-llvm-runner`` into the target
directory the Rust runners share, under its own cache entry (``runners/wasmer-llvm-<hash>``, the
hash also covering LLVM's version), so the ``wasmer`` binary neither waits for nor depends on it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from harness import cachedir, hostbuild
from harness.runner import EngineUnavailable
from runners import cargo

NAME = "wasmer-llvm"
BINARY = "wasmexport-wasmer-llvm-runner"
LLVM_CONFIG = "llvm-config-22"
PACKAGES = "llvm-22-dev libpolly-22-dev libzstd-dev zlib1g-dev libffi-dev libxml2-dev"
INSTALL = f"apt-get update && apt-get install -y {PACKAGES}"
PREFIX_VARIABLE = "LLVM_SYS_221_PREFIX"  # llvm-sys 221.x: LLVM 22.1


def _run(program: str, *args: str) -> str:
    """The output of `program` with `args`; EngineUnavailable naming the apt-get command if it
    fails."""
    try:
        return subprocess.run([program, *args], capture_output=True, text=True, timeout=60,
                              check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError) as e:
        raise EngineUnavailable(f"`{program} {' '.join(args)}` failed: {e}; {INSTALL}") from e


def llvm() -> tuple[str, str, Path]:
    """LLVM 22's prefix, version and library directory; EngineUnavailable naming the apt-get
    command when there is no ``llvm-config-22``."""
    program = shutil.which(LLVM_CONFIG)
    if program is None:
        raise EngineUnavailable(f"no `{LLVM_CONFIG}` on PATH to build the {NAME} runner; {INSTALL}")
    prefix, version, libdir = _run(program, "--prefix", "--version", "--libdir").splitlines()
    return prefix, version, Path(libdir)


def _check_libraries(program: str, libdir: Path) -> None:
    """EngineUnavailable naming the apt-get command when the C linker cannot find a library of
    LLVM's static link line: Polly in LLVM's libdir, or a library of ``--system-libs``."""
    missing = [] if (libdir / "libPolly.a").exists() else ["libPolly.a"]
    cc = shutil.which("cc")
    for flag in _run(program, "--link-static", "--system-libs").split():
        if flag.startswith("/"):  # a library named by its path (Debian's libz3.so)
            if not Path(flag).exists():
                missing.append(flag)
            continue
        if not flag.startswith("-l") or cc is None:
            continue
        names = (f"lib{flag[2:]}.so", f"lib{flag[2:]}.a")
        # cc prints the bare name when it finds no such file
        if not any(Path(_run(cc, f"-print-file-name={n}")).is_absolute() for n in names):
            missing.append(f"lib{flag[2:]}")
    if missing:
        raise EngineUnavailable(f"the {NAME} runner cannot link LLVM: {', '.join(missing)} not "
                                f"found; {INSTALL}")


def built_binary(host: Path) -> Path:
    """The LLVM runner binary of the Cargo project `host`, building it first if this source hash
    (and LLVM version) has none yet."""
    prefix, version, libdir = llvm()
    cargo_bin, cargo_version = cargo._cargo(NAME)
    sources = [host / "Cargo.toml", host / "Cargo.lock", *sorted((host / "src").rglob("*.rs")),
               cargo.SHARED / "Cargo.toml", *sorted((cargo.SHARED / "src").rglob("*.rs"))]
    key = hostbuild.source_hash(sources, extra=f"{cargo_version}\0llvm {version}")

    def build(dest: Path) -> None:
        _check_libraries(str(Path(prefix) / "bin" / "llvm-config"), libdir)
        target = cachedir.sub("cargo-target")
        env = {**os.environ, "CARGO_TARGET_DIR": str(target), PREFIX_VARIABLE: prefix}
        hostbuild.run_build_step(NAME, [cargo_bin, "build", "--release", "--locked", "--features",
                                        "llvm", "--bin", BINARY], host, env=env, install=INSTALL)
        shutil.copy2(target / "release" / BINARY, dest / BINARY)

    return hostbuild.cached(NAME, key, build) / BINARY
