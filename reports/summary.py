"""A plain-text summary of a results file: verdicts by engine × toolchain and by area, findings,
and every failure with its rerun command.

``python -m reports.summary reports/out/wasmtime.jsonl [--strict]``. With ``--strict`` the exit
status is 1 when any verdict is fail, disagree, error or xpass, when nothing passed, when an engine or
toolchain was unavailable, or when the run did not finish (no footer).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from harness.results import FAILING, VERDICTS, engine_versions, read

ORDER = VERDICTS
BAD = FAILING


def table(rows: dict[str, Counter[str]], title: str) -> list[str]:
    width = max([len(title), *map(len, rows)])
    out = [f"{title:<{width}}  " + " ".join(f"{v:>5}" for v in ORDER) + "  total"]
    for key in sorted(rows):
        c = rows[key]
        out.append(f"{key:<{width}}  " + " ".join(f"{c[v]:>5}" for v in ORDER)
                   + f"  {sum(c.values()):>5}")
    return out


def render(header: dict[str, Any], records: list[dict[str, Any]], footer: dict[str, Any] | None) -> str:
    by_run: dict[str, Counter[str]] = defaultdict(Counter)
    by_area: dict[str, Counter[str]] = defaultdict(Counter)
    versions = engine_versions(records)
    for r in records:
        by_run[f"{r['engine']} × {r['toolchain']}"][r["verdict"]] += 1
        by_area[r.get("area", "?")][r["verdict"]] += 1
    lines = [f"results of suite commit {header.get('suite_commit', '?')[:12]}"
             + ("" if footer else "  (run did not finish: partial results)"), ""]
    lines += [f"{e} {', '.join(sorted(v))}" for e, v in sorted(versions.items())] + [""]
    lines += [*table(by_run, "engine × toolchain"), "", *table(by_area, "area"), ""]
    findings = [r for r in records if r["verdict"] == "xfail"]
    if findings:
        lines.append("known divergences (findings):")
        lines += [f"  {r['case']} [{r['engine']}, {r['toolchain']}]: {r['reason']}" for r in findings]
        lines.append("")
    for verdict in BAD:
        bad = [r for r in records if r["verdict"] == verdict]
        if bad:
            lines.append(f"{verdict.upper()} ({len(bad)}):")
            for r in bad:
                first = r["problems"][0]["where"] if r.get("problems") else r.get("reason", "")
                lines.append(f"  {r['case']} [{r['engine']}, {r['toolchain']}]: "
                             f"{first.splitlines()[0] if first else ''}")
                lines.append(f"    rerun: {r['rerun']}")
            lines.append("")
    skips = Counter(r["reason"] for r in records if r["verdict"] == "skip")
    if skips:
        lines.append("skipped, by reason:")
        lines += [f"  {n} × {reason}" for reason, n in skips.most_common()]
    return "\n".join(lines).rstrip() + "\n"


def problems_for_strict(records: list[dict[str, Any]], footer: dict[str, Any] | None) -> list[str]:
    out = []
    counts = Counter(r["verdict"] for r in records)
    for v in BAD:
        if counts[v]:
            out.append(f"{counts[v]} {v}")
    if not counts["pass"]:
        out.append("nothing passed")
    unavailable = [r for r in records if r["verdict"] == "skip" and "unavailable" in r["reason"]]
    if unavailable:
        out.append(f"{len(unavailable)} skipped because an engine or toolchain was unavailable")
    if footer is None:
        out.append("the run did not finish")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", type=Path, nargs="+", help="results files (JSON lines)")
    ap.add_argument("--strict", action="store_true", help="exit 1 unless the run is clean")
    args = ap.parse_args(argv)
    status = 0
    for path in args.results:
        try:
            header, records, footer = read(path)
        except (OSError, ValueError) as e:
            print(f"{path}: {e}", file=sys.stderr)
            return 2
        print(render(header, records, footer))
        if args.strict:
            issues = problems_for_strict(records, footer)
            if issues:
                print(f"{path}: not clean: {'; '.join(issues)}", file=sys.stderr)
                status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
