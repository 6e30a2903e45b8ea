#!/usr/bin/env python3
"""The suite's speed, per engine, against the bare engine: one table and one JSON file.

For each engine: a warm run of the suite (its per-item time, from the results, and the peak
memory of the whole process tree), the same plans in the runner's own bench mode (the bare
in-process loop: no harness, no protocol), the process-per-case design (a fresh runner for every
plan, as wasi-testsuite's adapters do), and, with ``--cold``, a run with no compiled modules
(the share of the cold run spent compiling). Then every engine at once. Run it inside the tox
environment (or any environment with requirements.txt installed), with the cases built once:

    python scripts/bench.py [--engines wasmtime,wazero] [--cold] [--out reports/out/bench.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from harness import cachedir, engines  # noqa: E402 - after the path is set
from harness.runner import CAPTURE_PLANS, RunnerProcess  # noqa: E402
from scripts.treerss import peak_tree_rss  # noqa: E402


def suite(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    """One pytest run: wall, CPU of the tree, peak RSS, per-item durations of engine items."""
    results = Path(tempfile.mkstemp(suffix=".jsonl")[1])
    clock = results.with_suffix(".clock.json")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    cmd = [sys.executable, "-m", "pytest", "manifests", "-q", "-p", "no:cacheprovider",
           "-p", "scripts.itemclock", "--results", str(results), *args]
    code, peak = peak_tree_rss(cmd, cwd=REPO, env={**env, "WASMEXPORT_ITEMCLOCK": str(clock)})
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    recs = [json.loads(x) for x in results.read_text().splitlines() if '"type": "result"' in x]
    results.unlink()
    harness = json.loads(clock.read_text()) if clock.exists() else {}
    clock.unlink(missing_ok=True)
    ran = [r["duration_s"] * 1000 for r in recs if r["engine"] != "agreement" and r.get("observed")]
    return {"exit": code, "wall_s": round(wall, 2), "items": len(recs),
            "cpu_s": round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 2),
            "peak_rss_mib": round(peak / 2**20, 1),
            "per_item_ms": round(statistics.median(ran), 2) if ran else None,
            "harness_ms": harness}


def bare(engine: str, plans: Path, repeat: int) -> dict[str, Any] | None:
    """The runner's own bench mode over the captured plans."""
    runner = engines.make_runner(engine)
    if not isinstance(runner, RunnerProcess):
        return None
    # every module kept in memory: the bare loop the issue defines (modules cached, not loaded)
    env = {**os.environ, **runner.env, "WASMEXPORT_MODULE_CACHE_MB": "16384"}
    proc = subprocess.run([*runner.command, "--bench", str(plans), "--repeat", str(repeat)],
                          cwd=runner.cwd, capture_output=True, text=True, timeout=3600, check=False,
                          env=env)
    lines = [x for x in proc.stdout.splitlines() if x.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"error": (proc.stderr or proc.stdout).strip()[-300:]}
    return dict(json.loads(lines[-1]))


def process_per_case(engine: str, plans: Path, sample: int) -> float | None:
    """Median ms per plan when every plan gets a fresh runner process (start, hello, run, exit)."""
    chosen = plans.read_text().splitlines()[:sample]
    times = []
    for line in chosen:
        runner = engines.make_runner(engine)
        started = time.monotonic()
        runner.run(json.loads(line))
        runner.close()
        times.append((time.monotonic() - started) * 1000)
    return round(statistics.median(times), 1) if times else None


def cold_cache(tmp: Path) -> Path:
    """A cache with toolchains, builds and runner builds, but no compiled modules."""
    src, dst = cachedir.root(), tmp / "cache"
    dst.mkdir(parents=True)
    for part in src.iterdir():
        if part.name.startswith("compiled"):
            continue
        (dst / part.name).symlink_to(part, target_is_directory=part.is_dir())
    return dst


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engines", default=",".join(engines.known()))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sample", type=int, default=15, help="plans for the process-per-case figure")
    ap.add_argument("--cold", action="store_true", help="also run each engine without compiled modules")
    ap.add_argument("--out", type=Path, default=REPO / "reports" / "out" / "bench.json")
    args = ap.parse_args()
    names = [e for e in args.engines.split(",") if e]
    out: dict[str, Any] = {"engines": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for engine in names:
            plans = Path(tmp) / f"{engine}.plans.jsonl"
            suite(["--engine", engine], {**os.environ, CAPTURE_PLANS: str(plans)})  # warm-up
            row: dict[str, Any] = {"warm": suite(["--engine", engine], dict(os.environ))}
            row["bare"] = bare(engine, plans, args.repeat)
            row["process_per_case_ms"] = process_per_case(engine, plans, args.sample)
            if args.cold:
                cache = cold_cache(Path(tmp) / engine)
                row["cold"] = suite(["--engine", engine], {**os.environ, cachedir.ENV: str(cache)})
                shutil.rmtree(cache.parent, ignore_errors=True)
            out["engines"][engine] = row
        out["all_engines"] = suite(["--engine", ",".join(names)], dict(os.environ))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1))
    print(table(out))
    print(f"bench: {args.out}")
    return 0


def table(out: dict[str, Any]) -> str:
    """The benchmark as one table. "bare" is the runner's bench mode: "warm" its timed passes
    (every module in memory, its code run before), "first" its warm-up pass (each module compiled
    or read back once and its code run a first time, as in one run of the suite)."""
    nan = float("nan")
    head = (f"{'engine':<9} {'item ms':>8} {'warm ms':>8} {'ratio':>6} {'first ms':>8} {'ratio':>6} "
            f"{'proc/case':>9} {'vs proc':>7} {'peak MiB':>9} {'warm s':>7} {'cold s':>7} "
            f"{'cold cpu':>8} {'compile':>7}")
    rows = [head]
    slowest = 0.0
    for engine, r in out["engines"].items():
        item = r["warm"]["per_item_ms"] or 0.0
        bare = r.get("bare") or {}
        b = bare.get("per_plan_ms", {}).get("median")
        f = (bare.get("first_pass_ms") or {}).get("median")
        proc = r.get("process_per_case_ms")
        cold = r.get("cold") or {}
        share = (1 - r["warm"]["cpu_s"] / cold["cpu_s"]) if cold.get("cpu_s") else None
        slowest = max(slowest, r["warm"]["wall_s"])
        rows.append(
            f"{engine:<9} {item:>8.2f} {b if b is not None else nan:>8.2f} "
            f"{item / b if b else nan:>6.2f} {f if f is not None else nan:>8.2f} "
            f"{item / f if f else nan:>6.2f} {proc if proc else nan:>9.1f} "
            f"{proc / item if proc and item else nan:>7.1f} "
            f"{r['warm']['peak_rss_mib']:>9.1f} {r['warm']['wall_s']:>7.1f} "
            f"{cold.get('wall_s', nan):>7.1f} {cold.get('cpu_s', nan):>8.1f} "
            f"{share * 100 if share is not None else nan:>6.0f}%")
    rows.append("harness ms per item outside the runner (median): " + "; ".join(
        f"{engine} " + ", ".join(f"{k} {v['median_ms']:.2f}" for k, v in
                                  r["warm"].get("harness_ms", {}).items())
        for engine, r in out["engines"].items()))
    a = out["all_engines"]
    rows.append(f"all engines at once: {a['wall_s']} s wall ({a['wall_s'] / slowest:.2f}x the slowest "
                f"engine alone), {a['cpu_s']} CPU-s, peak {a['peak_rss_mib']} MiB, {a['items']} items")
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(main())
