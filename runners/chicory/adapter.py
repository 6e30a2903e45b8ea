"""Adapter for Chicory (a JVM WebAssembly runtime): two engines, its interpreter and its bytecode
compiler, run by one Java host program (runners/chicory/host).

The host's dependencies (Chicory's runtime, wasi and compiler artifacts and theirs, all at exact
versions in host/pom.xml) and its build come from runners/jvm.py (Maven Central, the JDK's
javac, the suite cache); a class-data-sharing archive of the classes a plan loads is recorded by
one warm-up run. The JDK is found by runners/jvm.py, version 17 or newer. One JVM serves a whole
run; the compiler's generated classes are kept on disk in the cache (``compiled-chicory``).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from harness import cachedir
from harness.runner import EngineUnavailable, RunnerProcess
from runners import jvm

NAME = "chicory"
CONFIGURATIONS = {
    "chicory": "Chicory's interpreter",
    "chicory-compiler": "Chicory's bytecode compiler (wasm to JVM classes when a module is loaded)",
}
INSTALL = ("install a JDK 17 or newer and Maven (apt-get install openjdk-17-jdk-headless maven), "
           "or point WASMEXPORT_JAVA at a JDK's java")
HOST = Path(__file__).resolve().parent / "host"
MAIN = "wasmexport.chicory.Main"
MIN_JAVA = 17
# A guest's linear memory lives on the Java heap (64 KiB arrays, one per page); Chicory caps a
# memory at 32767 pages, and plans at 1 GiB by default. The serial collector with tight free
# ratios keeps the heap smallest: after 8 Go plans the runner held 0.6 GiB, and 0.9-1.35 GiB
# after the suite's biggest guest (lifecycle/call-after-stack-overflow), against 1.1-1.2 GiB
# with the default ratios and 1.5 GiB or more with G1. It keeps a grown heap; the harness
# restarts a runner whose memory passes its limit. The JVM's own warnings go to stderr
# (unified logging writes them to stdout, the protocol's channel, by default).
JVM_FLAGS = ["-Xmx3g", "-XX:+UseSerialGC", "-XX:MinHeapFreeRatio=10", "-XX:MaxHeapFreeRatio=30",
             "-Xlog:disable", "-Xlog:all=warning:stderr"]
ARCHIVE = "classes.jsa"  # the CDS archive of the classes a plan loads, made by the build


def _classpath(built: Path) -> str:
    """The host's classes and the dependencies, in a fixed order (a CDS archive records it)."""
    return os.pathsep.join([str(built / "classes"), *map(str, sorted((built / "lib").glob("*.jar")))])


def _archive(java: Path, built: Path) -> None:
    """Class data sharing: the classes the warm-up loads, parsed and verified once here and
    mapped by every runner, which then spares its first plan that work (0.05-0.15 s for a small
    module, measured). Recorded after the build is in place, since the archive names the class
    path it was made with. Without it the runner works as well; the JVM checks the archive
    against itself and ignores a stale one."""
    archive, failed = built / ARCHIVE, built / f"{ARCHIVE}.failed"
    if archive.exists() or failed.exists():
        return
    with cachedir.locked(built / f".{ARCHIVE}.lock"):
        if archive.exists() or failed.exists():
            return
        tmp = built / f".{ARCHIVE}.tmp"
        try:
            subprocess.run([str(java), *JVM_FLAGS, f"-XX:ArchiveClassesAtExit={tmp}", "-cp",
                            _classpath(built), MAIN, "--train"], cwd=built, capture_output=True,
                           timeout=600, check=True)
            tmp.replace(archive)
        except (OSError, subprocess.SubprocessError) as e:
            failed.write_text(f"{e}\n")
            tmp.unlink(missing_ok=True)


def build_host() -> tuple[Path, Path]:
    """The java binary and the built host directory (classes/, lib/), built on first use."""
    java, built = jvm.built_host(NAME, HOST, MIN_JAVA, INSTALL, extra=str(JVM_FLAGS))
    _archive(java, built)
    return java, built


def command(name: str) -> list[str]:
    java, built = build_host()
    archive = [f"-XX:SharedArchiveFile={built / ARCHIVE}"] if (built / ARCHIVE).exists() else []
    return [str(java), *JVM_FLAGS, *archive, "-cp", _classpath(built), MAIN, "--engine", name,
            "--cache", str(cachedir.sub("compiled-chicory"))]


def make_runner(name: str) -> RunnerProcess:
    """A runner process for `name` (a key of CONFIGURATIONS), building the host first if needed."""
    if name not in CONFIGURATIONS:
        raise EngineUnavailable(f"unknown Chicory configuration {name!r}; known: "
                                f"{', '.join(CONFIGURATIONS)}")
    return RunnerProcess(name, command(name))
