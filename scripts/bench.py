#!/usr/bin/env python3
"""Cold and warm wall time of the conformance run: the figures for "a warm re-run builds nothing".

Runs ``pytest manifests`` three times with an empty cache directory of its own: cold (Go fetched
from PyPI, every case built, every module compiled), warm (everything reused), and warm again.
Prints the wall times and how many builds each run really did (from the results files). Run it
inside the tox environment or any environment with requirements.txt installed:

    python scripts/bench.py [--go go1.27.3] [--keep CACHE_DIR] [-- extra pytest args]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run(cache: Path, results: Path, go: str, extra: list[str]) -> tuple[float, int, int, dict[str, int]]:
    env = {**os.environ, "WASMEXPORT_CACHE": str(cache)}
    cmd = [sys.executable, "-m", "pytest", "manifests", "-q", "-p", "no:cacheprovider",
           "--go", go, "--results", str(results), *extra]
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    if proc.returncode not in (0, 1):
        sys.exit(f"pytest exited {proc.returncode}:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    built = cached = 0
    verdicts: dict[str, int] = {}
    for line in results.read_text().splitlines():
        doc = json.loads(line)
        if doc.get("type") != "result":
            continue
        verdicts[doc["verdict"]] = verdicts.get(doc["verdict"], 0) + 1
        if "build" in doc:
            built += not doc["build"]["cached"]
            cached += doc["build"]["cached"]
    return wall, built, cached, verdicts


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--go", default="go1.27.3")
    ap.add_argument("--keep", type=Path, help="use (and keep) this cache directory")
    ap.add_argument("extra", nargs="*", help="more pytest arguments (after --)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="wasmexport-bench-") as tmp:
        cache = args.keep or Path(tmp) / "cache"
        for label in ("cold", "warm", "warm again"):
            wall, built, cached, verdicts = run(cache, Path(tmp) / f"{label}.jsonl", args.go,
                                                args.extra)
            shown = ", ".join(f"{n} {v}" for v, n in sorted(verdicts.items()))
            print(f"{label:>10}: {wall:7.1f} s wall, {built:3d} built, {cached:3d} from cache ({shown})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
