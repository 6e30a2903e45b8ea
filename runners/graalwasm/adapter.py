"""Adapter for GraalWasm (Oracle's WebAssembly engine on Truffle): two engines run by one Java
host program (runners/graalwasm/host), as an embedder gets them from Maven Central.

- ``graalwasm``: the jars on a plain classpath, where Truffle runs its fallback interpreter
  (no runtime compilation: it is what a stock JDK gives without further setup).
- ``graalwasm-jit``: the same host with the Graal compiler (``org.graalvm.compiler:compiler``)
  as JVMCI compiler: ``-XX:+EnableJVMCI --upgrade-module-path=<compiler jar>``, the other jars
  on the module path (the compiler module requires ``org.graalvm.word`` and friends there).
  The host refuses to start if Truffle still reports its fallback runtime.

Dependencies are pinned in host/pom.xml and fetched with ``mvn dependency:copy-dependencies``
(the plugin's version pinned on the command line) into the Maven repository shared in the suite
cache; the sources are compiled with the JDK's ``javac``; jars and classes land in the cache
under a key made of the sources and the JDK, so warm runs build nothing.

GraalWasm needs Java 21 or newer (Java 17 fails in ``List.removeLast``). The JDK is
``$WASMEXPORT_JAVA`` (a ``java`` binary or a JDK directory), else the newest JDK of 21 or more
among ``$JAVA_HOME``, ``java`` on PATH, ``update-alternatives --list java`` and
``/usr/lib/jvm/*``, with ``javac`` beside its ``java``.

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

import functools
import os
import re
import shutil
import subprocess
from pathlib import Path

from harness import cachedir, hostbuild
from harness.runner import EngineUnavailable, RunnerProcess

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
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
COMPILER_JAR = re.compile(r"^compiler-[0-9.]+\.jar$")
# A guest's linear memory is one byte[] on the Java heap (GraalWasm's ByteArrayWasmMemory);
# plans cap it at 1 GiB by default, and growing it copies it once. The serial collector gives
# the heap back after the runner's collection following a big guest (MaxHeapFreeRatio).
JVM_FLAGS = ["-Xmx3g", "-XX:+UseSerialGC", "-XX:MinHeapFreeRatio=10", "-XX:MaxHeapFreeRatio=30",
             "-XX:-ShrinkHeapInSteps",
             "-Xshare:auto"]


def _sources() -> list[Path]:
    return [HOST / "pom.xml", *sorted((HOST / "src").rglob("*.java"))]


def _version(java: Path) -> tuple[int, str]:
    """The JDK's feature version and version line (from its `release` file, else `java -version`)."""
    release = java.parent.parent / "release"
    try:
        m = re.search(r'^JAVA_VERSION="([^"]+)"', release.read_text(encoding="utf-8"), re.M)
        if m:
            return int(m.group(1).split(".")[0]), f"{java.parent.parent.name} {m.group(1)}"
    except (OSError, ValueError):
        pass
    try:
        proc = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=60,
                              check=True)
    except (OSError, subprocess.SubprocessError):
        return 0, "unusable"
    text = (proc.stderr or proc.stdout).strip()
    m = re.search(r'version "(\d+)', text)
    return (int(m.group(1)) if m else 0), text.splitlines()[0] if text else "?"


def _candidates() -> list[Path]:
    found: list[Path] = []
    home = os.environ.get("JAVA_HOME")
    if home:
        found.append(Path(home) / "bin" / "java")
    on_path = shutil.which("java")
    if on_path:
        found.append(Path(on_path))
    try:
        listed = subprocess.run(["update-alternatives", "--list", "java"], capture_output=True,
                                text=True, timeout=30, check=False).stdout.split()
        found += [Path(p) for p in listed]
    except (OSError, subprocess.SubprocessError):
        pass
    found += sorted(Path("/usr/lib/jvm").glob("*/bin/java"))
    return found


@functools.cache
def find_java() -> tuple[Path, str]:
    """The java binary of a JDK >= 21 with javac beside it, and its version line."""
    override = os.environ.get("WASMEXPORT_JAVA")
    if override:
        path = Path(override)
        java = path / "bin" / "java" if path.is_dir() else Path(shutil.which(override) or override)
        if not java.exists():
            raise EngineUnavailable(f"WASMEXPORT_JAVA={override} is not a java binary or JDK; {INSTALL}")
        java = java.resolve()
        feature, line = _version(java)
        if feature < MIN_JAVA or not (java.parent / "javac").exists():
            raise EngineUnavailable(f"WASMEXPORT_JAVA={override} is not a JDK {MIN_JAVA}+ with javac "
                                    f"({line}); GraalWasm needs Java {MIN_JAVA}. {INSTALL}")
        return java, line
    best: tuple[int, Path, str] | None = None
    seen: set[Path] = set()
    for cand in _candidates():
        try:
            java = cand.resolve()
        except OSError:
            continue
        if java in seen or not java.exists() or not (java.parent / "javac").exists():
            continue
        seen.add(java)
        feature, line = _version(java)
        if feature >= MIN_JAVA and (best is None or feature > best[0]):
            best = (feature, java, line)
    if best is None:
        raise EngineUnavailable(f"no JDK {MIN_JAVA} or newer found (GraalWasm fails on Java 17); "
                                f"{INSTALL}")
    return best[1], best[2]


def _build(java: Path, dest: Path) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise EngineUnavailable(f"no `mvn` on PATH to fetch GraalWasm from Maven Central; {INSTALL}")
    env = {**os.environ, "JAVA_HOME": str(java.parent.parent)}
    hostbuild.run_build_step(NAME, [
        mvn, "-q", "-B", "-C", "-Dstyle.color=never", f"{DEPENDENCY_PLUGIN}:copy-dependencies",
        "-DincludeTypes=jar", f"-DoutputDirectory={dest / 'lib'}",
        f"-Dmaven.repo.local={cachedir.sub('maven')}",
    ], HOST, env=env, timeout=1800, install=INSTALL)
    hostbuild.run_build_step(NAME, [
        str(java.parent / "javac"), "--release", str(MIN_JAVA), "-encoding", "UTF-8", "-nowarn",
        "-d", str(dest / "classes"), "-cp", str(dest / "lib" / "*"),
        *map(str, sorted((HOST / "src").rglob("*.java"))),
    ], HOST, env=env, timeout=600, install=INSTALL)


def build_host() -> tuple[Path, Path, int]:
    """The java binary, the built host directory (classes/, lib/) and the JDK's feature version."""
    java, line = find_java()
    key = hostbuild.source_hash(_sources(), extra=f"{java}\n{line}")
    built = hostbuild.cached(NAME, key, lambda dest: _build(java, dest))
    return java, built, _version(java)[0]


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
