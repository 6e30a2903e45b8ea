"""JVM runners (Chicory, GraalWasm): finding a JDK, and building a Java host from Maven Central.

A host is a directory ``runners/<engine>/host`` with a ``pom.xml`` pinning every dependency at an
exact version and its sources under ``src/``; ``runners/jvm_shared/src`` (the protocol's JSON)
is compiled into every host. Its jars come through ``mvn
dependency:copy-dependencies`` into the Maven repository shared in the suite cache, and the
sources are compiled with the JDK's own ``javac`` (Maven's default compiler plugin refuses
``--release 17``); everything lands in the cache under a key made of the sources and the JDK.

The JDK: ``$WASMEXPORT_JAVA`` (a ``java`` binary or a JDK directory), else the newest JDK at or
above the engine's minimum among ``$JAVA_HOME``, ``java`` on PATH, ``update-alternatives --list
java`` and ``/usr/lib/jvm/*`` (a JDK installed beside the default one is often not registered
with update-alternatives), with ``javac`` beside its ``java``.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from pathlib import Path

from harness import cachedir, hostbuild
from harness.runner import EngineUnavailable

DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
SHARED = Path(__file__).resolve().parent / "jvm_shared" / "src"  # compiled into every host


def version(java: Path) -> tuple[int, str]:
    """The JDK's feature version and version line (its `release` file, else `java -version`)."""
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
    return found + sorted(Path("/usr/lib/jvm").glob("*/bin/java"))


@functools.cache
def find_jdk(minimum: int, install: str) -> tuple[Path, str]:
    """The java binary of a JDK >= `minimum` with javac beside it, and its version line;
    EngineUnavailable with `install` when there is none."""
    override = os.environ.get("WASMEXPORT_JAVA")
    if override:
        path = Path(override)
        java = path / "bin" / "java" if path.is_dir() else Path(shutil.which(override) or override)
        if not java.exists():
            raise EngineUnavailable(f"WASMEXPORT_JAVA={override} is not a java binary or JDK; {install}")
        java = java.resolve()
        feature, line = version(java)
        if feature < minimum or not (java.parent / "javac").exists():
            raise EngineUnavailable(f"WASMEXPORT_JAVA={override} is not a JDK {minimum}+ with "
                                    f"javac ({line}); {install}")
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
        feature, line = version(java)
        if feature >= minimum and (best is None or feature > best[0]):
            best = (feature, java, line)
    if best is None:
        raise EngineUnavailable(f"no JDK {minimum} or newer with javac found; {install}")
    return best[1], best[2]


def _sources(host: Path) -> list[Path]:
    """The host's pom.xml, then its Java sources and those every JVM runner shares."""
    return [host / "pom.xml", *sorted((host / "src").rglob("*.java")), *sorted(SHARED.rglob("*.java"))]


def build(engine: str, host: Path, java: Path, dest: Path, *, install: str, release: int) -> None:
    """Fetch the host's jars into ``dest/lib`` and compile its sources into ``dest/classes``."""
    mvn = shutil.which("mvn")
    if mvn is None:
        raise EngineUnavailable(f"no `mvn` on PATH to fetch {engine} from Maven Central; {install}")
    env = {**os.environ, "JAVA_HOME": str(java.parent.parent)}
    hostbuild.run_build_step(engine, [
        mvn, "-q", "-B", "-C", "-Dstyle.color=never", f"{DEPENDENCY_PLUGIN}:copy-dependencies",
        "-DincludeTypes=jar", f"-DoutputDirectory={dest / 'lib'}",
        f"-Dmaven.repo.local={cachedir.sub('maven')}",
    ], host, env=env, timeout=1800, install=install)
    hostbuild.run_build_step(engine, [
        str(java.parent / "javac"), "--release", str(release), "-encoding", "UTF-8", "-nowarn",
        "-d", str(dest / "classes"), "-cp", str(dest / "lib" / "*"),
        *map(str, _sources(host)[1:]),
    ], host, env=env, timeout=600, install=install)


def built_host(engine: str, host: Path, minimum: int, install: str, extra: str = "") -> tuple[Path, Path]:
    """The java binary and the built host directory (classes/, lib/), built on first use."""
    java, line = find_jdk(minimum, install)
    key = hostbuild.source_hash(_sources(host), extra=f"{java}\n{line}\n{extra}")

    def make(dest: Path) -> None:
        build(engine, host, java, dest, install=install, release=minimum)

    return java, hostbuild.cached(engine, key, make)
