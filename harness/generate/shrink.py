"""Shrink a failing generated signature to a minimal one that still fails the same way.

``python -m harness.generate.shrink --key SEED/N --engine E --go TC`` judges the signature on the
engine (a real Go build and a real run, as the suite does), then tries the candidates of
harness/generate/shrink_steps.py in order, keeping the first that still fails with a problem of
the same kind (results, host-call trace, build outcome, ...), until none does or the time is up.
It prints the minimal signature, its values, its problems and the command that reruns it.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness import engines
from harness.build import BuildResult, build
from harness.generate import cases
from harness.generate import expected as ex
from harness.generate.shrink_steps import candidates
from harness.generate.signature import Sig
from harness.manifest import MANIFEST_DIR, Manifest
from harness.plan import make_plan
from harness.problem import Problem
from harness.runner import Runner, RunnerFailure
from harness.toolchains import DEFAULT as DEFAULT_GO
from harness.toolchains import Toolchain, resolve
from harness.verdict import judge_build, judge_run

FAILING = ("fail", "error", "xpass")
_STEP = re.compile(r"^step \d+ \([^)]*\) ")


@dataclass
class Judged:
    verdict: str  # pass, fail, error, xfail, xpass, skip
    problems: list[Problem] = field(default_factory=list)

    @property
    def kinds(self) -> set[str]:
        """What went wrong, without where: ``results``, ``host-call trace``, ``build outcome``."""
        return {_STEP.sub("", p.where) for p in self.problems}


class Judge:
    """Builds and runs signatures on one engine and toolchain, judging them as the suite does."""

    def __init__(self, engine: str, toolchain: str, root: Path = MANIFEST_DIR) -> None:
        self.engine, self.root = engine, root
        self.tc: Toolchain = resolve(toolchain)
        self.runner: Runner = engines.make_runner(engine)
        self.runs = 0

    def close(self) -> None:
        self.runner.close()

    def _problems(self, m: Manifest, b: BuildResult) -> list[Problem]:
        problems = judge_build(m, b)
        if problems or not m.runs:
            return problems
        self.runs += 1
        obs = self.runner.run(make_plan(f"shrink-{m.id}-{self.runs}", m, b))
        return judge_run(m, obs, self.runner.info().capabilities)

    def __call__(self, sig: Sig) -> Judged:
        m = cases.load_case(sig, self.root)
        if m.requires - self.runner.info().capabilities:
            return Judged("skip")
        b = build(m, self.tc)
        try:
            documented = self._problems(m, b)
            release = m.release(self.tc.version)
            if release is None:
                return Judged("fail" if documented else "pass", documented)
            if not documented:
                return Judged("xpass", [Problem("releases entry", release.line,
                                                "the finding of the releases entry",
                                                "the documented expectation held")])
            actual = self._problems(release.actual, b)
            return Judged("fail" if actual else "xfail", actual)
        except RunnerFailure as e:
            return Judged("error", [Problem("runner", None, "an observation", str(e))])


@dataclass
class Shrunk:
    original: Sig
    first: Judged
    minimal: Sig
    last: Judged
    tried: int
    complete: bool  # no candidate of `minimal` fails (False: the time ran out)
    seconds: float


def shrink(sig: Sig, judge: Judge, budget_s: float) -> Shrunk:
    """Greedy shrinking: take the first candidate that fails with a problem of a kind the
    original had, until no candidate does or `budget_s` has passed."""
    started = time.monotonic()
    first = judge(sig)
    cur, last, tried = sig, first, 0
    if first.verdict not in FAILING:
        return Shrunk(sig, first, sig, first, 0, True, time.monotonic() - started)
    complete = False
    while time.monotonic() - started < budget_s:
        for cand in candidates(cur):
            if time.monotonic() - started >= budget_s:
                break
            tried += 1
            got = judge(cand)
            if got.verdict in FAILING and got.kinds & first.kinds:
                cur, last = cand, got
                break
        else:
            complete = True
            break
    return Shrunk(sig, first, cur, last, tried, complete, time.monotonic() - started)


def shrink_failure(key: str, engine: str, toolchain: str, budget_s: float) -> Shrunk:
    judge = Judge(engine, toolchain)
    try:
        return shrink(cases.signature(key), judge, budget_s)
    finally:
        judge.close()


def _values(sig: Sig) -> list[str]:
    out = []
    for c, call in enumerate(sig.calls):
        vals = ", ".join(f"a{k}={v.hex() if isinstance(v, bytes) else 'nil' if v is None else hex(v)}"
                         for k, v in enumerate(call))
        out.append(f"    call {c}: {vals or '(no arguments)'}; host returns "
                   f"{sig.ret.kind} {sig.ret.value if sig.ret.kind != 'none' else ''}".rstrip()
                   + ("; re-enters _sum" if sig.reenter else "")
                   + f"; expected result {_shown(ex.export_result(sig, call))}")
    return out


def _shown(bits: ex.Bits | None) -> str:
    return "none" if bits is None else str(bits) if isinstance(bits, str) else hex(bits)


def describe(r: Shrunk, engine: str, toolchain: str, program: str = "python -m pytest") -> str:
    """The report: original, minimal signature with values and problems, its rerun command."""
    if r.first.verdict not in FAILING:
        return f"  {r.original.key} does not fail on {engine} ({r.first.verdict}): nothing to shrink"
    rerun = (f"{program} manifests/schema.json --generated {r.minimal.key} --engine {engine} "
             f"--go {toolchain} --results reports/out/rerun.jsonl")
    lines = [f"  original {r.original.key}: {r.original.go()} ({r.first.verdict})",
             f"  minimal failing signature {r.minimal.key} ({r.tried} candidates in "
             f"{r.seconds:.0f} s{'' if r.complete else ', time ran out: not minimal yet'}):",
             f"    {r.minimal.go()}", *_values(r.minimal)]
    lines += ["  " + line for p in r.last.problems[:4] for line in p.render().splitlines()]
    lines.append(f"  rerun the minimal signature: {rerun}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m harness.generate.shrink", description=__doc__)
    ap.add_argument("--key", help="SEED/N (or SEED/N~I.J), as --generated takes it")
    ap.add_argument("--seed", type=int)
    ap.add_argument("--n", type=int)
    ap.add_argument("--engine", default=engines.DEFAULT)
    ap.add_argument("--go", default=DEFAULT_GO, help=f"the toolchain (default: {DEFAULT_GO})")
    ap.add_argument("--budget", type=float, default=900, help="seconds at most (default 900)")
    args = ap.parse_args(argv)
    key = args.key or (f"{args.seed}/{args.n}" if args.seed is not None and args.n is not None
                       else None)
    if key is None:
        ap.error("give --key SEED/N, or --seed and --n")
    result = shrink_failure(key, args.engine, args.go, args.budget)
    print(describe(result, args.engine, args.go))
    return 0 if result.first.verdict in FAILING else 1


if __name__ == "__main__":
    sys.exit(main())
