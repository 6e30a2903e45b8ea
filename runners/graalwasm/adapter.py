"""Adapter for GraalWasm (Oracle's WebAssembly engine on Truffle): two engines run by one Java
host program (runners/graalwasm/host), as an embedder gets them from Maven Central.

- ``graalwasm``: the jars on a plain classpath, where Truffle runs its fallback interpreter
  (no runtime compilation: it is what a stock JDK gives without further setup).
- ``graalwasm-jit``: the same host with the Graal compiler (``org.graalvm.compiler:compiler``)
  as JVMCI compiler: ``-XX:+EnableJVMCI --upgrade-module-path=<compiler jar>``, the other jars
  on the module path (the compiler module requires ``org.graalvm.word`` and friends there).
  The host refuses to start if Truffle still reports its fallback runtime.

Dependencies are pinned in host/pom.xml, fetched from Maven Central and compiled with the
JDK's ``javac`` by runners/jvm.py, into the cache, so warm runs build nothing.

GraalWasm needs Java 21 or newer (Java 17 fails in ``List.removeLast``); runners/jvm.py finds
the JDK and builds the host.

Where GraalWasm 25 lacks what the protocol needs, the host (host/src/wasmexport/graalwasm/)
fills in, and says so: its WASI ``poll_oneoff`` returns ENOSYS, so the host supplies that one
function (PollOneoff.java; ``WASMEXPORT_GRAALWASM_NATIVE_POLL=1`` keeps GraalWasm's, and Go
timers then die with "fatal error: poll_oneoff failed"); it has no memory-limit option, so the
host writes the plan's cap into the module's memory maximum (WasmBinary.java); its Engine keeps
every module it parsed, so ``WASMEXPORT_MODULE_CACHE_MB`` is kept by Engine generations
(ModuleCache.java). ``command(name)`` followed by ``--bench PLANS.jsonl [--repeat N]`` is the
host's bench mode (Bench.java).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from harness.runner import EngineUnavailable, RunnerProcess
from runners import jvm

NAME = "graalwasm"
CONFIGURATIONS = {
    "graalwasm": "GraalWasm on a plain classpath: Truffle's fallback interpreter",
    "graalwasm-jit": "GraalWasm with the Graal JIT compiler (JVMCI, Truffle's optimizing runtime)",
}
MIN_JAVA = 21
INSTALL = (f"install a JDK {MIN_JAVA} or newer and Maven (apt-get install openjdk-{MIN_JAVA}-jdk-headless "
           "maven, or any JDK >= 21), or point WASMEXPORT_JAVA at a JDK's java")
HOST = Path(__file__).resolve().parent / "host"
MAIN = "wasmexport.graalwasm.Main"
COMPILER_JAR = re.compile(r"^compiler-[0-9.]+\.jar$")
# A guest's linear memory is one byte[] on the Java heap (GraalWasm's ByteArrayWasmMemory);
# plans cap it at 1 GiB by default, and growing it copies it once. The serial collector gives
# the heap back after the runner's collection following a big guest (MaxHeapFreeRatio).
JVM_FLAGS = ["-Xmx3g", "-XX:+UseSerialGC", "-XX:MinHeapFreeRatio=10", "-XX:MaxHeapFreeRatio=30",
             "-XX:-ShrinkHeapInSteps",
             "-Xshare:auto"]


def build_host() -> tuple[Path, Path, int]:
    """The java binary, the built host directory (classes/, lib/) and the JDK's feature version."""
    java, built = jvm.built_host(NAME, HOST, MIN_JAVA, INSTALL)
    return java, built, jvm.version(java)[0]


def command(name: str) -> list[str]:
    """The runner's command line for configuration `name`."""
    java, built, feature = build_host()
    lib = built / "lib"
    jars = sorted(lib.glob("*.jar"))
    compiler = [j for j in jars if COMPILER_JAR.match(j.name)]
    others = [str(j) for j in jars if j not in compiler]
    # Truffle loads a native library and uses sun.misc.Unsafe; without these JDK 23+ warns on stderr
    flags = [*JVM_FLAGS] + (["--sun-misc-unsafe-memory-access=allow"] if feature >= 23 else [])
    tail = [MAIN, "--engine", name, "--lib", str(lib)]
    if name == "graalwasm":
        classpath = os.pathsep.join([str(built / "classes"), *others])
        return [str(java), *flags, "--enable-native-access=ALL-UNNAMED", "-cp", classpath, *tail]
    if not compiler:
        raise EngineUnavailable(f"the Graal compiler jar is missing from {lib}; {INSTALL}")
    return [str(java), *flags, "--enable-native-access=org.graalvm.truffle",
            "-XX:+UnlockExperimentalVMOptions", "-XX:+EnableJVMCI",
            f"--upgrade-module-path={compiler[0]}", "--module-path", os.pathsep.join(others),
            "--add-modules", "org.graalvm.polyglot", "-cp", str(built / "classes"), *tail, "--jit"]


def make_runner(name: str) -> RunnerProcess:
    """A runner process for `name` (a key of CONFIGURATIONS), building the host first if needed."""
    if name not in CONFIGURATIONS:
        raise EngineUnavailable(f"unknown GraalWasm configuration {name!r}; known: "
                                f"{', '.join(CONFIGURATIONS)}")
    return RunnerProcess(name, command(name))
