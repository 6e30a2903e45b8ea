"""The HTML conformance report: one static, self-contained page from any number of results files.

``python -m reports.html FILE… -o OUT.html [--baseline OLD…] [--sources auto|none|DIR]``
(also ``python -m reports html``). The files are merged first (reports.dataset: nothing is
lost; conflicts are shown). The page holds: every version that matters (suite commits, runs,
engines, toolchains, hosts); where each engine stands (pass percentage of applicable records
per engine × toolchain, per area); interop (per case, how many engines show the documented
behaviour); what changed against ``--baseline`` (reports.diff); transitions across releases
(reports.transitions); findings grouped once; and every case with its filters (area, engine,
toolchain, verdict, text; kept in the URL) and its detail at a stable anchor
(``#case=goroutines/spawn-then-yield``): title, notes, refs, Go source, manifest lines, every
record's verdict, full reason, problems, observed steps and rerun command.

It is rendered by Jinja2 with autoescaping from reports/templates/; record text is never
markup, links are only http(s), and the page's script reads the page, never record text as
code. No network: it works from file://.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2

from harness.results import FAILING, VERDICTS
from reports import sources as case_sources
from reports.dataset import AGREEMENT, DataSet, Entry, load
from reports.diff import KINDS, Diff, compare
from reports.observe import digest, fingerprint, items
from reports.standing import Column, Grid, go_finding
from reports.transitions import find, first_changes

SYMBOL = {"pass": "✓", "fail": "✗", "disagree": "≠", "error": "!", "skip": "–", "xfail": "×",
          "xpass": "+"}
TEMPLATES = Path(__file__).resolve().parent / "templates"
MANIFEST_CONTEXT = 3  # manifest lines shown around a problem's line


def safe_url(url: Any) -> str | None:
    """`url` when it is an http(s) URL a report may link to, else None (shown as text)."""
    text = str(url or "")
    ok = text.startswith(("https://", "http://")) and not any(c.isspace() for c in text)
    return text if ok and len(text) < 2000 else None


def when(ts: float | None, missing: str = "?") -> str:
    if ts is None:
        return missing
    if not ts:
        return "?"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=False)
    env.filters["safe_url"] = safe_url
    env.filters["when"] = when
    env.globals.update(SYMBOL=SYMBOL, VERDICTS=VERDICTS, FAILING=FAILING, KINDS=KINDS)
    return env


def _excerpt(manifest: list[str], line: Any) -> list[tuple[int, str, bool]]:
    if not isinstance(line, int) or not manifest or not 0 < line <= len(manifest):
        return []
    lo, hi = max(1, line - MANIFEST_CONTEXT), min(len(manifest), line + MANIFEST_CONTEXT)
    return [(n, manifest[n - 1], n == line) for n in range(lo, hi + 1)]


def _steps(rec: dict[str, Any]) -> list[dict[str, Any]]:
    obs = rec.get("observed")
    steps = obs.get("steps") if isinstance(obs, dict) else None
    out = []
    for n, s in enumerate(steps if isinstance(steps, list) else []):
        if not isinstance(s, dict):
            continue
        out.append({"n": n, "outcome": str(s.get("outcome", "")), "summary": str(s.get("summary", "")),
                    "stdout": str(s.get("stdout") or ""), "stderr": str(s.get("stderr") or ""),
                    "stdout_len": s.get("stdout_len"), "stderr_len": s.get("stderr_len"),
                    "trace": [str(t) for t in (s.get("trace") or [])]})
    return out


def _record_view(col: Column, e: Entry, manifest: list[str], group: int | None) -> dict[str, Any]:
    rec = e.rec
    problems = [{"where": str(p.get("where", "")), "line": p.get("line"),
                 "expected": str(p.get("expected", "")), "observed": str(p.get("observed", "")),
                 "excerpt": _excerpt(manifest, p.get("line"))}
                for p in rec.get("problems") or [] if isinstance(p, dict)]
    notes = []
    for key, text_key in (("release_entry", "finding"), ("divergence", "reason")):
        doc = rec.get(key)
        if isinstance(doc, dict):
            notes.append({"what": "Go release finding" if key == "release_entry" else
                          f"known divergence ({doc.get('source', '?')})",
                          "range": str(doc.get("go", "")), "text": str(doc.get(text_key, "")),
                          "link": doc.get("link"), "line": doc.get("line"),
                          "excerpt": _excerpt(manifest, doc.get("line"))})
    d = rec.get("disagreement")
    split = []
    if isinstance(d, dict):
        split = [{"engines": ", ".join(map(str, g)) if isinstance(g, list) else str(g), "value": str(v)}
                 for g, v in zip(d.get("groups") or [], d.get("values") or [], strict=False)]
    return {"col": col, "entry": e, "verdict": e.verdict, "version": e.version or "",
            "reason": str(rec.get("reason") or ""), "problems": problems, "notes": notes,
            "split": split, "split_field": str(d.get("field", "")) if isinstance(d, dict) else "",
            "engines": ", ".join(e.slot[3]), "rerun": str(rec.get("rerun") or ""), "group": group,
            "runs": e.runs, "toolchain_requested": str(rec.get("toolchain_requested") or "")}


def _same_verdict(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records that say the same thing (verdict, reason, problems, findings, split) as one row
    listing every engine and toolchain: a Go finding seen ten times is read once."""
    rows: dict[str, dict[str, Any]] = {}
    for r in records:
        key = json.dumps([r["verdict"], r["reason"], r["engines"], r["split_field"], r["split"],
                          [[p["where"], p["line"], p["expected"], p["observed"]] for p in r["problems"]],
                          [[n["what"], n["range"], n["text"], n["link"], n["line"]] for n in r["notes"]]],
                         default=str)
        row = rows.setdefault(key, {**r, "members": [], "observations": []})
        row["members"].append(r)
        if r["group"] is not None and r["group"] not in row["observations"]:
            row["observations"].append(r["group"])
    return list(rows.values())


def case_view(grid: Grid, data: DataSet, case: str) -> dict[str, Any]:
    """Everything the detail of one case shows; observations grouped by what was seen."""
    first = grid.record(case).rec
    src = data.cases.get(case) or {}
    manifest = str(src.get("manifest") or "").split("\n") if src.get("manifest") else []
    groups: dict[str, dict[str, Any]] = {}
    records = []
    for col in grid.columns:
        cell = grid.cells[case].get(col)
        if cell is None:
            continue
        for e in [cell.entry, *cell.others]:
            number = None
            if isinstance(e.rec.get("observed"), dict):
                key = digest(fingerprint(e.rec))
                g = groups.setdefault(key, {"n": len(groups) + 1, "who": [], "rec": e.rec})
                g["who"].append(f"{col.label} {col.toolchain}")
                number = g["n"]
            records.append(_record_view(col, e, manifest, number))
    obs_groups = []
    for g in groups.values():
        obs = g["rec"]["observed"]
        exports: dict[str, Any] = obs["exports"] if isinstance(obs.get("exports"), dict) else {}
        obs_groups.append({"n": g["n"], "who": g["who"], "steps": _steps(g["rec"]),
                           "load_ok": bool(obs.get("load_ok")),
                           "load_message": str(obs.get("load_message") or ""),
                           "exports": [f"{k}: {v}" for k, v in exports.items()]})
    refs = items(first.get("refs"))
    files: dict[str, Any] = src["files"] if isinstance(src.get("files"), dict) else {}
    return {"id": case, "title": str(first.get("title") or ""), "area": grid.area(case),
            "path": str(first.get("path") or ""), "refs": [str(r) for r in refs],
            "notes": str(src.get("notes") or ""), "origin": str(src.get("origin") or ""),
            "files": sorted((str(k), str(v)) for k, v in files.items()),
            "manifest": list(enumerate(manifest, 1)), "records": records, "groups": obs_groups,
            "rows": _same_verdict(records),
            "bad": any(r["verdict"] in FAILING for r in records)}


def page(data: DataSet, *, baseline: DataSet | None = None, baseline_name: str = "",
         sources_note: str = "", title: str = "//go:wasmexport conformance report") -> str:
    """The whole page."""
    grid = Grid(data)
    tcs = grid.toolchains()
    steps = find(data)
    diff: Diff | None = compare(baseline, data, baseline_name, "this report") if baseline else None
    split: dict[str, list[tuple[str, Any]]] = defaultdict(list)  # toolchain -> cases where engines differ
    for case in grid.cases:
        for tc in tcs:
            i = grid.interop(case, tc)
            if i is not None and 0 < i.passed < i.ran:
                split[tc].append((case, i))
    tallies = {"all": grid.tally(), **{a: grid.tally(a) for a in grid.areas()}}
    runs = sorted(data.runs.values(), key=lambda r: (r.started or 0, r.id))
    return environment().get_template("report.html.j2").render(
        title=title, data=data, grid=grid, toolchains=tcs, runs=runs, tallies=tallies,
        versions=data.engine_versions(), conflicts=data.conflicts(), findings=grid.findings(),
        split=split, diff=diff, transitions=steps, firsts=first_changes(steps),
        cases=[case_view(grid, data, c) for c in grid.cases], agreement=AGREEMENT,
        sources_note=sources_note, go_finding=go_finding,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m reports html", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", type=Path, nargs="+", help="results files (JSON lines), merged")
    ap.add_argument("-o", "--output", type=Path, default=Path("reports/out/report.html"))
    ap.add_argument("--baseline", type=Path, nargs="+", default=[],
                    help="older results files: the report gets a 'what changed' section")
    ap.add_argument("--sources", default="auto", metavar="auto|none|DIR",
                    help="where the cases' Go source and manifests come from (default: auto)")
    args = ap.parse_args(argv)
    started = time.monotonic()
    try:
        data = load(args.results)
        base = load(args.baseline) if args.baseline else None
    except (OSError, ValueError) as e:
        print(f"reports html: {e}", file=sys.stderr)
        return 2
    note = case_sources.attach(data, args.sources)
    text = page(data, baseline=base, baseline_name=" ".join(map(str, args.baseline)),
                sources_note=note)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(f"report: {args.output} ({len(data.entries)} records, {len(text.encode()) // 1024} KiB, "
          f"{time.monotonic() - started:.1f} s; {note})")
    for r in data.rejected:
        print(f"reports html: rejected {r}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
