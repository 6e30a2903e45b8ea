"""A plain-text summary of results: verdicts and pass percentages by engine × toolchain and by
area, findings grouped once, and every failure with its rerun command.

``python -m reports.summary FILE… [--strict]`` (also ``python -m reports summary``); several
files are merged first (reports.dataset). With ``--strict`` the exit status is 1 when any verdict
is fail, disagree, error or xpass, when nothing passed, when an engine or toolchain was
unavailable, when a run did not finish (no footer), or when merged records conflict.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from harness.results import FAILING, VERDICTS
from reports.dataset import DataSet, load
from reports.standing import Grid

ORDER = VERDICTS
BAD = FAILING


def table(rows: dict[str, Counter[str]], title: str) -> list[str]:
    width = max([len(title), *map(len, rows)])
    out = [f"{title:<{width}}  " + " ".join(f"{v:>5}" for v in ORDER) + "  total   pass%"]
    for key in sorted(rows):
        c = rows[key]
        applicable = sum(c.values()) - c["skip"]
        pct = f"{c['pass'] * 100 // applicable:>5} %" if applicable else "    n/a"
        out.append(f"{key:<{width}}  " + " ".join(f"{c[v]:>5}" for v in ORDER)
                   + f"  {sum(c.values()):>5}  {pct}")
    return out


def _data(header: dict[str, Any], records: list[dict[str, Any]], footer: dict[str, Any] | None
          ) -> DataSet:
    data = DataSet()
    data.add_file(header, records, footer, "results")
    return data


def render(header: dict[str, Any], records: list[dict[str, Any]], footer: dict[str, Any] | None) -> str:
    return render_data(_data(header, records, footer), partial=footer is None)


def render_data(data: DataSet, partial: bool = False) -> str:
    grid = Grid(data)
    by_run: dict[str, Counter[str]] = defaultdict(Counter)
    by_area: dict[str, Counter[str]] = defaultdict(Counter)
    records = [e.rec for e in data.sorted_entries()]
    for case in grid.cases:
        for col, cell in grid.cells[case].items():
            by_run[f"{col.label} × {col.toolchain}"][cell.entry.verdict] += 1
            by_area[grid.area(case)][cell.entry.verdict] += 1
    commits = ", ".join(c[:12] for c in data.commits()) or "?"
    lines = [f"results of suite commit {commits}"
             + ("  (run did not finish: partial results)" if partial or not data.finished else ""), ""]
    lines += [f"{e} {', '.join(v)}" for e, v in data.engine_versions().items()] + [""]
    lines += [*table(by_run, "engine × toolchain"), "", *table(by_area, "area"), ""]
    findings = grid.findings()
    if findings:
        lines.append(f"known divergences (findings), each once ({len(findings)}):")
        for f in findings:
            scope = (f"Go {f.what}" if f.kind == "go" else f.what)
            lines.append(f"  {f.case} [{scope}; {', '.join(sorted(f.toolchains))}; "
                         f"{', '.join(sorted(f.engines))}]: {f.text.splitlines()[0] if f.text else ''}")
        lines.append("")
    for verdict in BAD:
        bad = [r for r in records if r["verdict"] == verdict]
        if bad:
            lines.append(f"{verdict.upper()} ({len(bad)}):")
            for r in bad:
                first = r["problems"][0].get("where", "") if r.get("problems") else r.get("reason", "")
                lines.append(f"  {r['case']} [{r['engine']}, {r['toolchain']}]: "
                             f"{str(first).splitlines()[0] if first else ''}")
                lines.append(f"    rerun: {r.get('rerun', '?')}")
            lines.append("")
    conflicts = data.conflicts()
    if conflicts:
        lines.append(f"CONFLICTING RECORDS ({len(conflicts)}):")
        lines += [f"  {c.describe()}" for c in conflicts] + [""]
    skips = Counter(str(r.get("reason", "")) for r in records if r["verdict"] == "skip")
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
    unavailable = [r for r in records if r["verdict"] == "skip" and "unavailable" in str(r.get("reason"))]
    if unavailable:
        out.append(f"{len(unavailable)} skipped because an engine or toolchain was unavailable")
    if footer is None:
        out.append("the run did not finish")
    return out


def strict_issues(data: DataSet) -> list[str]:
    """problems_for_strict for a merged data set, plus its conflicts and rejected records."""
    out = problems_for_strict([e.rec for e in data.entries], {} if data.finished else None)
    if data.conflicts():
        out.append(f"{len(data.conflicts())} conflicting records")
    if data.rejected:
        out.append(f"{len(data.rejected)} malformed records")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m reports summary", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", type=Path, nargs="+", help="results files (JSON lines), merged")
    ap.add_argument("--strict", action="store_true", help="exit 1 unless the results are clean")
    args = ap.parse_args(argv)
    try:
        data = load(args.results)
    except (OSError, ValueError) as e:
        print(f"reports summary: {e}", file=sys.stderr)
        return 2
    print(render_data(data))
    for r in data.rejected:
        print(f"rejected: {r}", file=sys.stderr)
    if args.strict:
        issues = strict_issues(data)
        if issues:
            names = ", ".join(map(str, args.results))
            print(f"{names}: not clean: {'; '.join(issues)}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
