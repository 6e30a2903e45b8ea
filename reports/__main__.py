"""``python -m reports COMMAND …``: every view of results files. Each command merges its inputs
first (reports.dataset), so a CI run's shards, engines and releases can be given as they are.

  merge FILE… -o OUT.jsonl [--strict] [--sources auto|none|DIR]   one lossless results file
  diff OLD NEW [--old FILE]… [--new FILE]… [--old-toolchain TC] [--new-toolchain TC]
       [--engine E]… [--format text|markdown]                     exit 1 if anything regressed
  transitions FILE… [--format text|json]                           changes across releases
  html FILE… -o OUT.html [--baseline FILE…] [--sources …]           the report page
  summary FILE… [--strict]                                         the plain-text summary
  json FILE… [-o OUT.json]                                         the matrix, for other tools
  markdown FILE… [--baseline FILE…] [-o OUT.md [--append]] [--title T]   for a step summary or PR
  annotations FILE…                                                GitHub ::error commands

``python -m reports FILE…`` (no command) is ``summary``. Exit status 2: an input is unreadable.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from reports import annotate, diff, html, markdown, matrix, merge, sources, summary, transitions
from reports.dataset import DataSet, load


def _load(paths: list[Path]) -> DataSet:
    data = load(paths)
    for r in data.rejected:
        print(f"reports: rejected {r}", file=sys.stderr)
    return data


def _write(text: str, output: Path | None, append: bool = False) -> None:
    if output is None:
        sys.stdout.write(text)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("a" if append else "w", encoding="utf-8") as fh:
        fh.write(text)


def cmd_merge(a: argparse.Namespace) -> int:
    data = _load(a.results)
    sources.attach(data, a.sources)
    return merge.run(data, a.output, a.strict)


def cmd_diff(a: argparse.Namespace) -> int:
    old, new = [a.old_file, *a.old], [a.new_file, *a.new]
    before = _load(old).only(a.old_toolchain, a.engine)
    after = _load(new).only(a.new_toolchain, a.engine)

    def name(files: list[Path], tcs: list[str]) -> str:
        return " ".join(map(str, files)) + (f" ({', '.join(tcs)})" if tcs else "")

    d = diff.compare(before, after, name(old, a.old_toolchain), name(new, a.new_toolchain))
    _write("\n".join(markdown.diff_section(d)) + "\n" if a.format == "markdown"
           else diff.render_text(d), a.output)
    return 1 if d.regressed else 0


def cmd_transitions(a: argparse.Namespace) -> int:
    data = _load(a.results)
    steps = transitions.find(data)
    if a.format == "json":
        _write(json.dumps([dataclasses.asdict(s) for s in steps], indent=1, ensure_ascii=False) + "\n",
               a.output)
    else:
        _write(transitions.render_text(data, steps), a.output)
    return 0


def cmd_json(a: argparse.Namespace) -> int:
    _write(matrix.dumps(_load(a.results)), a.output)
    return 0


def cmd_markdown(a: argparse.Namespace) -> int:
    data = _load(a.results)
    d = diff.compare(_load(a.baseline), data, " ".join(map(str, a.baseline)),
                     " ".join(map(str, a.results))) if a.baseline else None
    _write(markdown.render(data, d, title=f"//go:wasmexport conformance: {a.title}" if a.title
                           else "//go:wasmexport conformance"), a.output, append=a.append)
    return 0


def cmd_annotations(a: argparse.Namespace) -> int:
    for line in annotate.render(_load(a.results)):
        print(line)
    return 0


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m reports", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)

    def command(name: str, run: Callable[[argparse.Namespace], int], text: str,
                files: bool = True) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=text, description=text)
        if files:
            p.add_argument("results", type=Path, nargs="+", help="results files (JSON lines)")
        p.set_defaults(run=run)
        return p

    p = command("merge", cmd_merge, "merge results files into one, losing nothing")
    p.add_argument("-o", "--output", type=Path, required=True)
    p.add_argument("--strict", action="store_true", help="exit 1 on conflicting or malformed records")
    p.add_argument("--sources", default="auto", metavar="auto|none|DIR",
                   help="carry the cases' manifests and Go source (default: auto)")
    p = command("diff", cmd_diff, "what changed between two result sets", files=False)
    p.add_argument("old_file", type=Path, metavar="OLD")
    p.add_argument("new_file", type=Path, metavar="NEW")
    p.add_argument("--old", type=Path, action="append", default=[], help="one more old file")
    p.add_argument("--new", type=Path, action="append", default=[], help="one more new file")
    p.add_argument("--old-toolchain", action="append", default=[], metavar="TC",
                   help="only OLD's records of this toolchain (go1.24.3 of a release matrix)")
    p.add_argument("--new-toolchain", action="append", default=[], metavar="TC",
                   help="only NEW's records of this toolchain")
    p.add_argument("--engine", action="append", default=[], help="only this engine's records")
    p.add_argument("--format", choices=("text", "markdown"), default="text")
    p.add_argument("-o", "--output", type=Path)
    p = command("transitions", cmd_transitions, "cases that change across releases")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("-o", "--output", type=Path)
    p = command("json", cmd_json, "the matrix as JSON")
    p.add_argument("-o", "--output", type=Path)
    p = command("markdown", cmd_markdown, "a Markdown summary")
    p.add_argument("--baseline", type=Path, nargs="+", default=[])
    p.add_argument("-o", "--output", type=Path)
    p.add_argument("--append", action="store_true", help="append to OUT (a step summary file)")
    p.add_argument("--title", default="", help="what these results are, for the heading")
    command("annotations", cmd_annotations, "GitHub annotations for failing records")
    sub.add_parser("html", help="the HTML report (see python -m reports html -h)", add_help=False)
    sub.add_parser("summary", help="the plain-text summary (see python -m reports summary -h)",
                   add_help=False)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        return _main(args)
    except BrokenPipeError:  # `python -m reports … | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _main(args: list[str]) -> int:
    if args and args[0] == "html":
        return html.main(args[1:])
    if args and args[0] == "summary":
        return summary.main(args[1:])
    if args and not args[0].startswith("-") and Path(args[0]).is_file():
        return summary.main(args)  # the older `python -m reports FILE`
    ns = parser().parse_args(args)
    try:
        return int(ns.run(ns))
    except (OSError, ValueError) as e:
        print(f"reports {ns.command}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
