"""Engine-only bundles: every built module, its plan and its manifest, for judging an engine on a
machine with no Go toolchain.

``python -m harness.bundle export OUT.tar.zst --go go1.27.3`` builds every case (or the cases
named) and writes one archive (``.tar.zst`` or ``.tar.gz``). ``pytest manifests --bundle OUT.tar.zst
--engine E`` then judges E from the archive alone: toolchains and builds come from it, the
manifests are the suite's own and must be the very ones the bundle was made from. A bundle made by
another version of the suite is refused: its plans and expectations may no longer match.

Bundles are untrusted input: the archive is extracted with tarfile's ``data`` filter (no absolute
paths, no links out, no devices) into the cache, and its index is checked before use.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import shutil
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from harness import cachedir, results
from harness.build import BuildResult, parse_diagnostics
from harness.build import build as run_build
from harness.manifest import MANIFEST_DIR, Manifest, case_id
from harness.manifest import load as load_manifest
from harness.paths import SUITE as REPO
from harness.plan import make_plan
from harness.toolchains import Toolchain, ToolchainUnavailable, resolve
from harness.yamlsrc import YamlError

FORMAT = 1
INDEX = "bundle.json"
MAX_INDEX_BYTES = 64 << 20


class BundleError(Exception):
    """The bundle cannot be used; the message says why and what to do."""


def suite_fingerprint(manifests: Path = MANIFEST_DIR) -> str:
    """What a bundle must have been made by: the harness code and the manifests."""
    h = hashlib.sha256()
    named = [(f"harness/{p.name}", p) for p in sorted((REPO / "harness").glob("*.py"))]
    named += [(f"manifests/{p.relative_to(manifests).as_posix()}", p)
              for p in sorted(manifests.rglob("*"))
              if p.is_file() and p.suffix in (".yaml", ".yml", ".json")]
    for name, p in named:
        h.update(name.encode() + b"\0" + hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


def manifest_digest(m: Manifest) -> str:
    """The manifest as judged: its YAML text and every file it brings."""
    h = hashlib.sha256(m.path.read_bytes())
    h.update(json.dumps(sorted(m.files)).encode())
    return h.hexdigest()


@dataclass(frozen=True)
class Entry:
    """One (case, toolchain) of a bundle."""

    case: str
    toolchain: str
    manifest_sha256: str
    build: dict[str, Any]
    module: str | None  # the module's path inside the bundle


class Bundle:
    """An extracted, checked bundle."""

    def __init__(self, path: Path, root: Path, index: dict[str, Any]) -> None:
        self.path, self.root, self.index = path, root, index
        self.toolchains = {t["name"]: Toolchain(
            requested=t["name"], name=t["name"], go=None, version_line=t["version_line"],
            devel=bool(t.get("devel")), version_tuple=_version(t["version"]),
            family=t.get("family", "gc"), scheduler=t.get("scheduler"))
            for t in index["toolchains"]}
        self.entries = {(e["case"], e["toolchain"]): Entry(
            e["case"], e["toolchain"], e["manifest_sha256"], e["build"], e.get("module"))
            for e in index["entries"]}

    @classmethod
    def open(cls, path: Path, manifests: Path = MANIFEST_DIR) -> Bundle:
        """Extract (once, into the cache) and check; raises BundleError."""
        if not path.is_file():
            raise BundleError(f"{path}: no such bundle; make one with "
                              "`python -m harness.bundle export OUT.tar.zst --go go1.27.3`")
        digest = _file_sha256(path)
        root = cachedir.sub("bundles") / digest
        if not (root / INDEX).exists():
            staged = Path(tempfile.mkdtemp(dir=root.parent, prefix=f".{digest[:8]}-"))
            try:
                with _open_archive(path, "r") as tar:
                    tar.extractall(staged, filter="data")
                staged.rename(root)
            except (tarfile.TarError, OSError, EOFError, ValueError) as e:
                shutil.rmtree(staged, ignore_errors=True)
                if not (root / INDEX).exists():
                    raise BundleError(f"{path}: not a readable bundle: {e}") from e
        index = _read_index(root / INDEX, path)
        mine = suite_fingerprint(manifests)
        if index["suite_fingerprint"] != mine:
            raise BundleError(
                f"{path} was made by another version of the suite (commit "
                f"{index.get('suite_commit', '?')[:12]}; this is "
                f"{results.suite_commit(REPO)[:12]}): its plans and expectations may differ. "
                f"Check out that commit, or make the bundle again here with "
                f"`python -m harness.bundle export {path.name} --go "
                f"{','.join(t['name'] for t in index['toolchains'])}`")
        return cls(path, root, index)

    def build(self, m: Manifest, toolchain: str) -> BuildResult:
        """The bundled build of `m`; raises BundleError when it is missing or `m` changed."""
        entry = self.entries.get((m.id, toolchain))
        if entry is None:
            raise BundleError(f"{self.path} holds no build of {m.id} with {toolchain}")
        if entry.manifest_sha256 != manifest_digest(m):
            raise BundleError(f"{m.path} differs from the manifest {self.path} was made from")
        b = entry.build
        module = None
        if entry.module is not None:
            module = (self.root / entry.module).resolve()
            if not module.is_relative_to(self.root.resolve()) or not module.is_file():
                raise BundleError(f"{self.path}: module {entry.module} is missing")
        return BuildResult(key=b["key"], outcome=b["outcome"], module=module, sha256=b["sha256"],
                           diagnostics=parse_diagnostics(b["output"]), output=b["output"],
                           duration_s=float(b["duration_s"]), cached=True)


def _version(value: list[int]) -> tuple[int, int, int]:
    major, minor, patch = (int(v) for v in value)
    return major, minor, patch


def _read_index(path: Path, bundle: Path) -> dict[str, Any]:
    try:
        if path.stat().st_size > MAX_INDEX_BYTES:
            raise BundleError(f"{bundle}: index larger than {MAX_INDEX_BYTES} bytes")
        index = json.loads(path.read_text(encoding="utf-8"))
        if index.get("format") != FORMAT:
            raise BundleError(f"{bundle}: bundle format {index.get('format')!r}, this suite "
                              f"reads format {FORMAT}")
        for key in ("suite_fingerprint", "toolchains", "entries"):
            if key not in index:
                raise BundleError(f"{bundle}: index has no {key!r}")
        for e in index["entries"]:
            for key in ("case", "toolchain", "manifest_sha256", "build"):
                if key not in e:
                    raise BundleError(f"{bundle}: an entry has no {key!r}")
        return dict(index)
    except (OSError, ValueError, TypeError, AttributeError) as e:
        raise BundleError(f"{bundle}: damaged index: {e}") from e


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


@contextmanager
def _open_archive(path: Path, mode: Literal["r", "w"]) -> Iterator[tarfile.TarFile]:
    """A tar stream, zstd-compressed for ``.zst`` names, gzip otherwise."""
    if not path.name.endswith(".zst"):
        with (tarfile.open(str(path), "r|gz") if mode == "r"
              else tarfile.open(str(path), "w|gz")) as tar:
            yield tar
        return
    import zstandard  # noqa: PLC0415 - only for .zst bundles

    with path.open(f"{mode}b") as raw:
        stream: Any = (zstandard.ZstdDecompressor().stream_reader(raw) if mode == "r"
                       else zstandard.ZstdCompressor(level=10, threads=-1).stream_writer(raw))
        with stream, (tarfile.open(fileobj=stream, mode="r|") if mode == "r"
                      else tarfile.open(fileobj=stream, mode="w|")) as tar:
            yield tar


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o644
    tar.addfile(info, io.BytesIO(data))


def export(out: Path, toolchains: list[str], paths: list[Path] | None = None,
           manifests: Path = MANIFEST_DIR) -> dict[str, Any]:
    """Build every case (or those under `paths`) with every toolchain and write the bundle."""
    files = sorted(p for where in (paths or [manifests]) for p in
                   ([where] if where.is_file() else where.rglob("*.y*ml"))
                   if p.resolve().parent != manifests.resolve())
    loaded: list[Manifest] = []
    for p in files:
        try:
            loaded.append(load_manifest(p, root=manifests))
        except YamlError as e:
            print(f"bundle: skipping {p}: {e}", file=sys.stderr)
    tcs: list[Toolchain] = []
    for name in toolchains:
        try:
            tcs.append(resolve(name))
        except ToolchainUnavailable as e:
            raise BundleError(f"toolchain {name}: {e}") from e
    # wasip1 only: a js module needs its toolchain's wasm_exec.js, host code a bundle must not carry
    wasip1 = [m.for_target("wasip1") for m in loaded if "wasip1" in m.targets]
    jobs = [(m, tc) for tc in tcs for m in wasip1
            if tc.family != "gc" or m.go.contains(tc.version)]
    with ThreadPoolExecutor() as pool:
        built = list(pool.map(lambda job: (job, run_build(*job)), jobs))
    index: dict[str, Any] = {
        "format": FORMAT, "created": time.time(), "suite_commit": results.suite_commit(REPO),
        "suite_fingerprint": suite_fingerprint(manifests),
        "toolchains": [{"name": tc.name, "requested": tc.requested, "version_line": tc.version_line,
                        "version": list(tc.version), "devel": tc.devel, "family": tc.family,
                        "scheduler": tc.scheduler} for tc in tcs],
        "entries": [],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".partial-{out.name}")  # the same suffix: the same compression
    modules: set[str] = set()
    with _open_archive(partial, "w") as tar:
        for (m, tc), b in built:
            entry: dict[str, Any] = {
                "case": m.id, "toolchain": tc.name, "manifest_sha256": manifest_digest(m),
                "manifest": case_id(m.path, manifests) + m.path.suffix,
                "build": {"key": b.key, "outcome": b.outcome, "sha256": b.sha256,
                          "output": b.output, "duration_s": b.duration_s},
                "module": None,
            }
            if b.module is not None and b.sha256 is not None:
                entry["module"] = f"modules/{b.sha256}.wasm"
                entry["plan"] = make_plan(f"{m.id}::{tc.name}", m, b)
                if b.sha256 not in modules:
                    modules.add(b.sha256)
                    _add(tar, entry["module"], b.module.read_bytes())
            _add(tar, f"manifests/{entry['manifest']}", m.path.read_bytes())
            index["entries"].append(entry)
        _add(tar, INDEX, json.dumps(index, indent=1).encode())
    partial.replace(out)
    return index


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m harness.bundle", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["export"], help="export: build the cases, write a bundle")
    ap.add_argument("out", type=Path, help="the bundle to write: NAME.tar.zst or NAME.tar.gz")
    ap.add_argument("paths", nargs="*", type=Path,
                    help="manifest files or directories (default: every case)")
    ap.add_argument("--go", default="go1.27.3", help="toolchains, comma-separated (as pytest --go)")
    args = ap.parse_intermixed_args(argv)
    try:
        index = export(args.out, [t for t in args.go.split(",") if t], args.paths or None)
    except BundleError as e:
        print(f"bundle: {e}", file=sys.stderr)
        return 2
    built = sum(1 for e in index["entries"] if e["module"])
    print(f"bundle: {args.out}: {len(index['entries'])} builds ({built} modules) of "
          f"{len({e['case'] for e in index['entries']})} cases with "
          f"{', '.join(t['name'] for t in index['toolchains'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
