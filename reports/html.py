"""The HTML conformance report: one self-contained page from one or more results files.

``python -m reports.html reports/out/engines.jsonl reports/out/releases.jsonl -o reports/out/report.html``

Sections: the engine × toolchain matrix (verdict counts; `agreement` is the cross-engine row),
every case against every (engine, toolchain) with a cell per verdict, the findings (known
divergences of engines and Go releases, with reasons and links), and every failure with its
problems and rerun command. A filter box and a "problems only" switch narrow the case table.
No external assets: the file can be attached to a CI run and opened anywhere.
"""

from __future__ import annotations

import argparse
import html
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from harness.results import FAILING, VERDICTS, engine_versions, read

ABBREV = {"pass": "✓", "fail": "✗", "disagree": "≠", "error": "!", "skip": "–", "xfail": "×",
          "xpass": "+"}
# the worst verdict decides a cell's colour
SEVERITY = ("error", "fail", "disagree", "xpass", "xfail", "skip", "pass")

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em} h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse} th,td{border:1px solid #ccc;padding:2px 6px;text-align:center}
th{background:#f3f3f3} td.case{text-align:left;white-space:nowrap}
.v-pass{background:#d9f2d9}.v-fail,.v-error{background:#f7c6c6}.v-disagree{background:#f9d7a8}
.v-xfail{background:#e6e0f8}.v-xpass{background:#f7c6c6}.v-skip{background:#eee;color:#777}
td a{color:inherit;text-decoration:none;display:block}
.meta{color:#555} .problem pre{background:#f8f8f8;padding:4px;white-space:pre-wrap;margin:2px 0}
code{background:#f3f3f3;padding:0 3px} details{margin:4px 0} .hidden{display:none}
#controls{margin:.5em 0}
"""

SCRIPT = """
const box = document.getElementById('filter'), only = document.getElementById('problems');
function apply() {
  const q = box.value.toLowerCase();
  let shown = 0;
  for (const row of document.querySelectorAll('#cases tbody tr')) {
    const hit = row.dataset.case.includes(q) && (!only.checked || row.dataset.bad === '1');
    row.classList.toggle('hidden', !hit);
    shown += hit ? 1 : 0;
  }
  document.getElementById('shown').textContent = shown;
}
box.addEventListener('input', apply); only.addEventListener('change', apply);
for (const a of document.querySelectorAll('a[href^="#r-"]')) {
  a.addEventListener('click', () => {
    const d = document.getElementById(a.getAttribute('href').slice(1));
    if (d) d.open = true;
  });
}
apply();
"""


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def merge(files: Iterable[tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any] | None]]
          ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], bool]:
    """Headers, and records with one per (case, engine, toolchain) (a later file wins);
    the flag is False when some run did not finish."""
    headers, by_key, finished = [], {}, True
    for header, records, footer in files:
        headers.append(header)
        finished &= footer is not None
        for r in records:
            by_key[(r["case"], r["engine"], r["toolchain"])] = r
    return headers, list(by_key.values()), finished


def worst(verdicts: Iterable[str]) -> str:
    got = set(verdicts)
    return next((v for v in SEVERITY if v in got), "skip")


def _engine_order(records: list[dict[str, Any]]) -> list[str]:
    names = sorted({r["engine"] for r in records} - {"agreement"})
    return names + (["agreement"] if any(r["engine"] == "agreement" for r in records) else [])


def _release_key(name: str) -> tuple[int, ...]:
    parts = name.removeprefix("go").split(".")
    return tuple(int(p) if p.isdigit() else -1 for p in parts)


def render(headers: list[dict[str, Any]], records: list[dict[str, Any]], finished: bool) -> str:
    """The whole page."""
    engines = _engine_order(records)
    toolchains = sorted({r["toolchain"] for r in records}, key=_release_key)
    ids = {id(r): f"r-{n}" for n, r in enumerate(records)}
    versions = engine_versions(records)
    commits = sorted({h.get("suite_commit", "?")[:12] for h in headers})
    total = Counter(r["verdict"] for r in records)
    out = ["<!doctype html><html lang=en><head><meta charset=utf-8>",
           "<title>//go:wasmexport conformance report</title>", f"<style>{CSS}</style></head><body>",
           "<h1>//go:wasmexport conformance report</h1>",
           f"<p class=meta>suite commit {_e(', '.join(commits))}; "
           f"{len(records)} verdicts: " + ", ".join(f"{total[v]} {v}" for v in VERDICTS if total[v])
           + ("" if finished else " — <strong>a run did not finish: partial results</strong>")
           + "</p>",
           "<p class=meta>engines: " + "; ".join(
               f"{_e(e)} {_e(', '.join(sorted(versions.get(e, ()))) or '?')}"
               for e in engines if e != "agreement") + "</p>"]
    out += _matrix(records, engines, toolchains)
    out += _cases(records, engines, toolchains, ids)
    out += _findings(records, ids)
    out += _failures(records, ids)
    out += [f"<script>{SCRIPT}</script></body></html>"]
    return "\n".join(out)


def _matrix(records: list[dict[str, Any]], engines: list[str], toolchains: list[str]) -> list[str]:
    cells: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for r in records:
        cells[(r["engine"], r["toolchain"])][r["verdict"]] += 1
    out = ["<h2>Engine × toolchain</h2>", "<table id=matrix><thead><tr><th>engine</th>"]
    out += [f"<th>{_e(t)}</th>" for t in toolchains] + ["</tr></thead><tbody>"]
    for e in engines:
        out.append(f"<tr><th>{_e(e)}</th>")
        for t in toolchains:
            c = cells.get((e, t), Counter())
            text = " ".join(f"{c[v]} {v}" for v in VERDICTS if c[v]) or "—"
            out.append(f"<td class='v-{worst(c)}' data-engine='{_e(e)}' data-toolchain='{_e(t)}'>"
                       f"{_e(text)}</td>")
        out.append("</tr>")
    return [*out, "</tbody></table>"]


def _cases(records: list[dict[str, Any]], engines: list[str], toolchains: list[str],
           ids: dict[int, str]) -> list[str]:
    by_case: dict[str, dict[tuple[str, str], dict[str, Any]]] = defaultdict(dict)
    for r in records:
        by_case[r["case"]][(r["engine"], r["toolchain"])] = r
    cols = [(e, t) for t in toolchains for e in engines]
    out = ["<h2>Cases</h2>",
           "<div id=controls><input id=filter placeholder='filter cases' size=30> "
           "<label><input type=checkbox id=problems> problems only</label> "
           f"<span class=meta><span id=shown>{len(by_case)}</span> of {len(by_case)} cases</span></div>",
           "<table id=cases><thead><tr><th>case</th>"]
    out += [f"<th>{_e(e)}<br>{_e(t)}</th>" for e, t in cols] + ["</tr></thead><tbody>"]
    for case in sorted(by_case):
        row = by_case[case]
        bad = any(r["verdict"] in FAILING for r in row.values())
        out.append(f"<tr data-case='{_e(case.lower())}' data-bad='{int(bad)}'>"
                   f"<td class=case title='{_e(next(iter(row.values())).get('title', ''))}'>{_e(case)}</td>")
        for col in cols:
            cell = row.get(col)
            if cell is None:
                out.append("<td></td>")
                continue
            r = cell
            v = r["verdict"]
            label = ABBREV.get(v, v)
            tip = f"{v}: {r.get('reason', '')}".strip(": ")
            inner = f"<a href='#{ids[id(r)]}'>{label}</a>" if v not in ("pass", "skip") else label
            out.append(f"<td class='v-{_e(v)}' data-verdict='{_e(v)}' title='{_e(tip)}'>{inner}</td>")
        out.append("</tr>")
    return [*out, "</tbody></table>",
            "<p class=meta>" + " ".join(f"{ABBREV[v]} {v}" for v in VERDICTS) + "</p>"]


def _detail(r: dict[str, Any], ids: dict[int, str]) -> list[str]:
    out = [f"<details id='{ids[id(r)]}' data-verdict='{_e(r['verdict'])}'><summary>"
           f"<b>{_e(r['verdict'])}</b> {_e(r['case'])} [{_e(r['engine'])}, {_e(r['toolchain'])}]"
           f"{' — ' + _e(r['reason'][:200]) if r.get('reason') else ''}</summary>"]
    if r.get("title"):
        out.append(f"<p>{_e(r['title'])} (<code>{_e(r.get('path', ''))}</code>)</p>")
    for p in r.get("problems", []):
        out.append(f"<div class=problem><b>{_e(p.get('where', ''))}</b>"
                   f"<pre>expected: {_e(p.get('expected', ''))}</pre>"
                   f"<pre>observed: {_e(p.get('observed', ''))}</pre></div>")
    d = r.get("disagreement")
    if d:
        for group, value in zip(d["groups"], d["values"], strict=False):
            out.append(f"<div class=problem><b>{_e(', '.join(group))}</b> at {_e(d['field'])}"
                       f"<pre>{_e(value)}</pre></div>")
    for key in ("divergence", "release_entry"):
        if r.get(key):
            link = r[key].get("link")
            out.append(f"<p>{_e(r[key].get('reason') or r[key].get('finding'))}"
                       + (f" <a href='{_e(link)}'>{_e(link)}</a>" if link else "") + "</p>")
    if r.get("rerun"):
        out.append(f"<p>rerun: <code>{_e(r['rerun'])}</code></p>")
    return [*out, "</details>"]


def _section(title: str, anchor: str, chosen: list[dict[str, Any]], ids: dict[int, str]
             ) -> list[str]:
    out = [f"<h2 id={anchor}>{_e(title)} ({len(chosen)})</h2>"]
    if not chosen:
        return [*out, "<p>none</p>"]
    for r in sorted(chosen, key=lambda r: (r["case"], r["engine"], _release_key(r["toolchain"]))):
        out += _detail(r, ids)
    return out


def _findings(records: list[dict[str, Any]], ids: dict[int, str]) -> list[str]:
    return _section("Findings: known divergences", "findings",
                    [r for r in records if r["verdict"] == "xfail"], ids)


def _failures(records: list[dict[str, Any]], ids: dict[int, str]) -> list[str]:
    return _section("Failures", "failures", [r for r in records if r["verdict"] in FAILING], ids)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", type=Path, nargs="+", help="results files (JSON lines)")
    ap.add_argument("-o", "--output", type=Path, default=Path("reports/out/report.html"))
    args = ap.parse_args(argv)
    try:
        loaded = [read(p) for p in args.results]
    except (OSError, ValueError) as e:
        print(f"reports.html: {e}", file=sys.stderr)
        return 2
    headers, records, finished = merge(loaded)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render(headers, records, finished), encoding="utf-8")
    print(f"report: {args.output} ({len(records)} verdicts)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
