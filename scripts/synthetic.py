#!/usr/bin/env python3
"""A synthetic matrix: COUNT cases made of copies of the real ones, to measure memory at scale.

``python scripts/synthetic.py --count 1000 --engine wasmtime,wazero,node`` writes COUNT case files
(the real cases, cycled, each copy under a new name) into a temporary manifests root, runs the
suite on them under `scripts/treerss.py`, and prints the peak resident memory of the whole process
tree (pytest and every runner) with the run's wall time. Copies share their builds (the build
cache is content-addressed), so this measures what grows with the number of cases: observations,
records, the runners' module caches, pytest's own items.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from scripts.treerss import peak_tree_rss  # noqa: E402


def make_root(dest: Path, count: int) -> Path:
    """`dest/manifests` with `count` cases copied from the real ones (by area, cycled)."""
    root = dest / "manifests"
    real = sorted(p for p in (REPO / "manifests").glob("*/*.yaml"))
    root.mkdir(parents=True)
    shutil.copy(REPO / "manifests" / "schema.json", root / "schema.json")
    for i in range(count):
        src = real[i % len(real)]
        area = root / src.parent.name
        area.mkdir(exist_ok=True)
        shutil.copy(src, area / f"{src.stem}-{i // len(real)}.yaml")
    return root


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--engine", default="wasmtime")
    ap.add_argument("--go", default=None, help="toolchains, as --go takes them")
    ap.add_argument("--out", type=Path, default=REPO / "reports" / "out" / "synthetic.json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="synthetic-") as tmp:
        root = make_root(Path(tmp), args.count)
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c",
               str(REPO / "suites" / "conformance.ini"), "--rootdir", str(root.parent), "-p",
               "suites.plugin", str(root),
               "--engine", args.engine, f"--results={Path(tmp) / 'results.jsonl'}"]
        if args.go:
            cmd += ["--go", args.go]
        started = time.monotonic()
        status, peak = peak_tree_rss(cmd, cwd=REPO)
        wall = time.monotonic() - started
        lines = (Path(tmp) / "results.jsonl").read_text().splitlines()
    recs = [doc for doc in map(json.loads, lines) if doc.get("type") == "result"]
    verdicts = Counter(r["verdict"] for r in recs)
    doc = {"cases": args.count, "engines": args.engine, "toolchains": args.go or "default",
           "items": len(recs), "verdicts": dict(verdicts), "exit": status, "wall_s": round(wall, 1),
           "peak_tree_mib": round(peak / 2**20, 1),
           "not_clean": [f"{r['case']} {r['engine']} [{r['toolchain']}]: {r['verdict']}: "
                         f"{r['reason'][:300]}" for r in recs
                         if r["verdict"] in ("fail", "disagree", "error", "xpass")][:20]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1) + "\n")
    print(json.dumps(doc))
    return 0 if status in (0, 1) else status


if __name__ == "__main__":
    sys.exit(main())
