#!/usr/bin/env python3
"""Validate the GitHub workflows with actionlint, built from the Go module proxy on first use.

    python scripts/actionlint.py [WORKFLOW.yml ...]     (default: .github/workflows/*.yml)

actionlint is a Go program; it is installed with the suite's pinned Go (``go install``, the
module proxy, checksums from sum.golang.org) into ``<cache>/tools/actionlint-<version>/``, where
``<cache>`` is the suite's cache (``$WASMEXPORT_CACHE``, else ~/.cache/wasmexport-conformance),
so later runs cost nothing. Exit status: actionlint's (0 clean, 1 problems), 2 when it cannot
be installed. Run it inside the tox environment or any environment with requirements.txt.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from harness import cachedir  # noqa: E402 - after the path set-up above
from harness.toolchains import ToolchainUnavailable, resolve  # noqa: E402

VERSION = "v1.7.12"
MODULE = "github.com/rhysd/actionlint/cmd/actionlint"
GO = "go1.27.3"  # the suite's pinned release


def install() -> Path:
    """The actionlint binary, ``go install``-ed into the cache unless it is there already."""
    bindir = cachedir.sub("tools", f"actionlint-{VERSION}")
    exe = bindir / "actionlint"
    if exe.is_file():
        return exe
    go = resolve(GO).binary
    env = {"PATH": f"{Path(go).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "HOME": str(Path.home()), "GOTOOLCHAIN": "local", "GOWORK": "off", "CGO_ENABLED": "0",
           "GOBIN": str(bindir), "GOFLAGS": "-mod=mod",
           "GOPROXY": os.environ.get("GOPROXY") or "https://proxy.golang.org",
           "GOMODCACHE": str(cachedir.sub("gomod")), "GOCACHE": str(cachedir.sub("gocache-tools"))}
    with cachedir.locked(bindir / ".lock"):
        if not exe.is_file():
            subprocess.run([str(go), "install", f"{MODULE}@{VERSION}"], env=env, check=True,
                           timeout=900)
    return exe


def main(argv: list[str]) -> int:
    files = argv or sorted(str(p) for p in (REPO / ".github" / "workflows").glob("*.y*ml"))
    try:
        exe = install()
    except (ToolchainUnavailable, OSError, subprocess.SubprocessError) as e:
        print(f"actionlint: cannot install {MODULE}@{VERSION}: {e}", file=sys.stderr)
        return 2
    done = subprocess.run([str(exe), "-no-color", *files], cwd=REPO, check=False)
    if done.returncode == 0:
        print(f"actionlint {VERSION}: {len(files)} workflow(s) clean: {' '.join(files)}")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
