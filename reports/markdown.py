"""A Markdown summary for a GitHub step summary or a PR comment:
``python -m reports markdown FILE… [--baseline OLD…] [-o OUT.md]``.

Whether the results are clean, the versions, the pass percentage of every engine × toolchain,
the failures (capped, each with its manifest file and line and its rerun command), findings
counted once, conflicts, and with ``--baseline`` what changed (reports.diff). Record text is
escaped: it cannot add markup, links, images or HTML, and the whole summary stays far below
GitHub's 1 MiB limit.
"""

from __future__ import annotations

from harness.results import FAILING
from reports.dataset import DataSet
from reports.diff import KINDS, Diff, clip, counted, headline, listed, table
from reports.standing import Grid
from reports.summary import strict_issues

SYMBOL = {"pass": "✓", "fail": "✗", "disagree": "≠", "error": "!", "skip": "–", "xfail": "×",
          "xpass": "+"}
LIMIT = 60  # records listed one by one in a section


def escape(text: str) -> str:
    """Record text as inert Markdown on one line: no markup, no links, no raw HTML."""
    out = text.replace("\\", "\\\\").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    for ch in "`*_[]#!|~":
        out = out.replace(ch, "\\" + ch)
    return " ".join(out.split())


def code(text: str) -> str:
    """Record text as an inline code span (shown literally; backticks cannot close it)."""
    body = " ".join(text.replace("`", "'").split())
    return f"`{body}`" if body else ""


def location(rec: dict[str, object]) -> tuple[str, int | None]:
    """The manifest and the line at fault: the first problem's, else the releases entry's."""
    path = str(rec.get("path") or "")
    line = None
    problems = rec.get("problems")
    if isinstance(problems, list) and problems and isinstance(problems[0], dict):
        line = problems[0].get("line")
    entry = rec.get("release_entry")
    if line is None and isinstance(entry, dict):
        line = entry.get("line")
    return path, line if isinstance(line, int) and not isinstance(line, bool) else None


def where(rec: dict[str, object]) -> str:
    path, line = location(rec)
    return f"{path}:{line}" if path and line is not None else path


def render(data: DataSet, diff: Diff | None = None, title: str = "//go:wasmexport conformance") -> str:
    grid = Grid(data)
    issues = strict_issues(data)
    lines = [f"## {escape(title)}", ""]
    lines.append(f"**{'✅ clean' if not issues else '❌ not clean: ' + escape('; '.join(issues))}** — "
                 f"{len(grid.cases)} cases, {len(data.entries)} records, {len(data.runs)} run(s), "
                 f"suite {code(', '.join(c[:12] for c in data.commits()))}")
    lines.append("")
    versions = "; ".join(f"{escape(e)} {code(', '.join(v))}" for e, v in data.engine_versions().items())
    lines += [f"Engines: {versions or 'none'}  ", f"Toolchains: {code(', '.join(data.toolchains()))}", ""]
    lines += _standing(grid) + _failures(data)
    findings = grid.findings()
    if findings:
        go = sum(f.kind == "go" for f in findings)
        lines += [f"Findings (known divergences, each counted once): {go} of Go releases, "
                  f"{len(findings) - go} of engines.", ""]
    conflicts = data.conflicts()
    if conflicts:
        lines += [f"### Conflicting records ({len(conflicts)})", ""]
        lines += [f"- {escape(c.describe())}" for c in conflicts[:LIMIT]] + [""]
    if diff is not None:
        lines += diff_section(diff)
    return "\n".join(lines) + "\n"


def _standing(grid: Grid) -> list[str]:
    """Pass percentage per engine (rows) × toolchain (columns), with the failing count."""
    tcs = grid.toolchains()
    tally = grid.tally()
    lines = ["| engine | " + " | ".join(code(t) for t in tcs) + " |", "|---|" + "---|" * len(tcs)]
    for label in dict.fromkeys(c.label for c in grid.columns):
        cells = []
        for tc in tcs:
            col = next((c for c in grid.columns if c.label == label and c.toolchain == tc), None)
            t = tally.get(col) if col else None
            if t is None or t.percent is None:
                cells.append("n/a")
                continue
            failing = sum(t.counts[v] for v in FAILING)
            cells.append(f"{t.percent} % ({t.counts['pass']}/{t.applicable})"
                         + (f", {failing} {SYMBOL['fail']}" if failing else ""))
        lines.append(f"| {escape(label)} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _failures(data: DataSet) -> list[str]:
    bad = [e for e in data.sorted_entries() if e.verdict in FAILING]
    if not bad:
        return []
    lines = [f"### Failures ({len(bad)})", ""]
    for e in bad[:LIMIT]:
        reason = str(e.rec.get("reason") or "")
        problems = e.rec.get("problems")
        if isinstance(problems, list) and problems and isinstance(problems[0], dict):
            reason = str(problems[0].get("where") or reason)
        lines.append(f"- {SYMBOL[e.verdict]} **{e.verdict}** {code(e.case)} [{escape(e.engine)}, "
                     f"{escape(e.toolchain)}] {code(where(e.rec))}: {escape(clip(reason, 200))}")
    if len(bad) > LIMIT:
        lines.append(f"- … and {len(bad) - LIMIT} more (see the HTML report)")
    fence = "`" * 3
    lines += ["", "<details><summary>rerun commands</summary>", "", fence + "sh"]
    lines += [str(e.rec.get("rerun", "")).replace(fence, "'" * 3) for e in bad[:LIMIT]]
    return [*lines, fence, "", "</details>", ""]


def diff_section(d: Diff) -> list[str]:
    heads, rows = table(d)
    lines = ["### What changed", ""]
    lines += [f"- {escape(x)}" for x in headline(d)] + [""]
    lines += ["| " + " | ".join(map(escape, heads)) + " |", "|" + "---|" * len(heads)]
    lines += ["| " + " | ".join(map(escape, r)) + " |" for r in rows]
    for kind in KINDS:
        changes = d.of(kind)
        if not changes:
            continue
        shown = listed(d, kind)
        lines += ["", f"**{kind}** ({len(changes)})", ""]
        if kind in ("only in old", "only in new"):
            lines.append(f"- by engine: {escape(counted(changes))}")
        for c in shown[:LIMIT]:
            extra = (f" — at {escape(c.field)}: {code(clip(c.before, 120))} → {code(clip(c.after, 120))}"
                     if c.field else "")
            lines.append(f"- {code(c.where())}: {escape(c.verdicts())}{extra}")
        if len(shown) > LIMIT:
            lines.append(f"- … and {len(shown) - LIMIT} more")
    return [*lines, ""]
