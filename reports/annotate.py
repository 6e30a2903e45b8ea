"""GitHub failure annotations: ``python -m reports annotations FILE…`` prints one workflow
command per failing record (fail, disagree, error, xpass, and each conflict), pointing at the
case's manifest and the line at fault (the first problem's line, or the releases entry's line
for a stale entry). Record text is escaped the way the runner expects, so it can neither end
the command early nor start another one (``::add-mask::`` and the like).
"""

from __future__ import annotations

from reports.dataset import DataSet
from reports.markdown import location
from reports.observe import items

LIMIT = 50  # GitHub shows at most 10 error annotations per step and 50 per job


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def command(level: str, path: str, line: int | None, title: str, message: str) -> str:
    props = [f"file={_property(path)}"] if path else []
    if line is not None:
        props.append(f"line={line}")
    props.append(f"title={_property(title[:200])}")
    return f"::{level} {','.join(props)}::{_data(message[:4000])}"


def render(data: DataSet) -> list[str]:
    out = []
    for e in data.sorted_entries():
        if e.verdict not in ("fail", "disagree", "error", "xpass"):
            continue
        path, line = location(e.rec)
        problems = items(e.rec.get("problems"))
        first = problems[0] if problems and isinstance(problems[0], dict) else {}
        message = "\n".join(x for x in (str(e.rec.get("reason") or ""),
                                        f"{first.get('where', '')}\nexpected: {first.get('expected', '')}"
                                        f"\nobserved: {first.get('observed', '')}" if first else "",
                                        f"rerun: {e.rec.get('rerun', '')}") if x)
        out.append(command("error", path, line,
                           f"{e.verdict} {e.case} [{e.engine}, {e.toolchain}]", message))
    for c in data.conflicts():
        path = str(c.entries[0].rec.get("path") or "")
        out.append(command("error", path, None, f"conflicting records of {c.slot[0]}", c.describe()))
    if len(out) > LIMIT:
        rest = len(out) - LIMIT
        out = [*out[:LIMIT], command("warning", "", None, "more failures",
                                     f"{rest} more failing records: see the report")]
    return out
