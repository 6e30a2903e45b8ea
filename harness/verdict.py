"""Verdicts: compare what was built and observed with what the manifest expects.

Judging is strict by default: every field of every step is compared, and a field the manifest
leaves out means "nothing" (no stdout, no stderr, no host calls, no results). Each difference
becomes a `Problem` naming the manifest line, so a failure reads as expected-vs-observed.
"""

from __future__ import annotations

import hashlib
import json

from harness import trace, values
from harness.build import BuildResult
from harness.expectations import Divergence
from harness.manifest import Expect, Manifest, Step, TextExpect
from harness.observation import Observation, StepObservation
from harness.problem import Problem
from harness.shape import ALL_REFLECTION, judge_shape

__all__ = ["Problem", "decide", "judge", "judge_build", "judge_run", "judge_step"]

VERDICTS = ("pass", "fail", "error", "skip", "xfail", "xpass")


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="backslashreplace")


def _shown(data: str, limit: int = 4000) -> str:
    return data if len(data) <= limit else data[:limit] + f"\n… ({len(data) - limit} more chars)"


# -- build -------------------------------------------------------------------------------------


def judge_build(m: Manifest, b: BuildResult) -> list[Problem]:
    """Problems with the build itself (outcome, diagnostics, output)."""
    exp = m.build
    line = m.build_line or m.line
    if b.outcome != exp.outcome:
        got = f"{b.outcome}\n{_shown(b.output.strip())}" if b.output.strip() else b.outcome
        return [Problem("build outcome", line, exp.outcome, got)]
    problems: list[Problem] = []
    if exp.outcome == "error":
        observed = list(b.diagnostics)
        unmatched = [str(d) for d in observed]
        for d in exp.diagnostics:
            hit = next((o for o in observed if d.matches(o.file, o.line, o.message)), None)
            if hit is None:
                problems.append(Problem("build diagnostic", line, str(d),
                                        "\n".join(unmatched) or "(no positioned diagnostics)"))
            else:
                observed.remove(hit)
        if not problems and observed:
            problems.append(Problem("build diagnostics", line, "\n".join(map(str, exp.diagnostics)),
                                    "\n".join(map(str, b.diagnostics)) + "\n(extra diagnostics)"))
    if not exp.output.matches(b.output):
        problems.append(Problem("build output", line, str(exp.output), _shown(b.output)))
    return problems


# -- run ---------------------------------------------------------------------------------------


def judge_run(m: Manifest, obs: Observation, caps: frozenset[str] = ALL_REFLECTION
              ) -> list[Problem]:
    """Problems with the module's load, its shape, each script step and the whole script's
    streams; `caps` are the runner's capabilities (what it reflects)."""
    if m.load == "invalid":
        if obs.load_ok:
            return [Problem("module load", m.module_line or m.line, "the engine refuses the module",
                            "the module loaded")]
        return []
    if not obs.load_ok:
        return [Problem("module load", m.module_line or m.line, "the module loads", obs.load_message)]
    problems = judge_shape(m, obs, caps)
    for step, got in zip(m.steps, obs.steps, strict=True):
        problems.extend(judge_step(step, got))
    if m.streams is not None:
        for name, want in zip(("stdout", "stderr"), m.streams, strict=True):
            problems += _stream(f"script {name}", m.line, want, _joined(obs, name), name)
    return problems


def _joined(obs: Observation, name: str) -> StepObservation:
    """Every step's stream, one after the other. Where a runner kept only a prefix of a step's
    stream, the whole cannot be hashed: its hash is left unknown, so only a pattern or a
    fragment can still match (on what was kept)."""
    kept = b"".join(s.stream(name)[0] for s in obs.steps)
    total = sum(s.stream(name)[1] for s in obs.steps)
    unknown = "" if total == len(kept) else "?" * 64
    if name == "stdout":
        return StepObservation("ok", stdout=kept, stdout_len=total, stdout_sha256=unknown)
    return StepObservation("ok", stderr=kept, stderr_len=total, stderr_sha256=unknown)


def judge_step(step: Step, got: StepObservation) -> list[Problem]:
    e = step.expect
    where = f"step {step.index} ({step.action})"
    problems = []
    want_outcome = _outcome_text(e)
    if e.outcome == "any":
        pass  # undefined by the contract: every outcome is acceptable, the results file keeps it
    elif got.outcome != e.outcome or (e.outcome == "trap" and got.trap != e.trap) or (
        e.outcome == "exit" and got.code != e.exit
    ):
        observed = got.summary() + (f"\n{_shown(got.message)}" if got.message else "")
        problems.append(Problem(f"{where} outcome", step.line, want_outcome, observed))
    elif step.kind == "read" and e.outcome == "ok" and e.bytes is not None and (
            got.data is None or not e.bytes.matches(got.data)):
        problems.append(Problem(f"{where} bytes", step.line, str(e.bytes),
                                "(nothing read)" if got.data is None else _bytes(got.data)))
    elif e.outcome == "ok" and not values.match_all(e.returns, got.results):
        problems.append(Problem(f"{where} results", step.line,
                                "(" + ", ".join(map(str, e.returns)) + ")",
                                "(" + ", ".join(map(str, got.results)) + ")"))
    problems += _stream(f"{where} stdout", step.line, e.stdout, got, "stdout")
    problems += _stream(f"{where} stderr", step.line, e.stderr, got, "stderr")
    if e.trace is not None and not (len(e.trace) == len(got.trace) and all(
            trace.matches(w, g) for w, g in zip(e.trace, got.trace, strict=True))):
        problems.append(Problem(f"{where} host-call trace", step.line,
                                "\n".join(e.trace) or "(no host calls)",
                                "\n".join(got.trace) or "(no host calls)"))
    if e.duration_min_ms is not None and got.duration_ms < e.duration_min_ms:
        problems.append(Problem(f"{where} duration", step.line, f">= {e.duration_min_ms} ms",
                                f"{got.duration_ms:.1f} ms"))
    if e.duration_max_ms is not None and got.duration_ms > e.duration_max_ms:
        problems.append(Problem(f"{where} duration", step.line, f"<= {e.duration_max_ms} ms",
                                f"{got.duration_ms:.1f} ms"))
    return problems


def _outcome_text(e: Expect) -> str:
    if e.outcome == "trap":
        return f"trapped: {e.trap}"
    if e.outcome == "exit":
        return f"exited with code {e.exit}"
    return "returned (" + ", ".join(map(str, e.returns)) + ")"


def _bytes(data: bytes) -> str:
    text = data.decode("utf-8", "replace")
    return _shown(repr(text)) if text.encode() == data else _shown(f"hex {data.hex()}")


def _quoted(text: str) -> str:
    """One line as JSON (invisible characters shown), several as they are."""
    return json.dumps(text) if "\n" not in text.rstrip("\n") else text


def _stream(where: str, line: int | None, want: TextExpect, got: StepObservation, name: str
            ) -> list[Problem]:
    """A stream against its expectation. Past the runner's limit only a prefix was kept: an exact
    expectation is then judged by length and SHA-256 of the whole stream, the others on the
    prefix, and the report says so."""
    kept, total, digest = got.stream(name)
    text = _text(kept)
    cut = "" if total == len(kept) else f"\n… (the first {len(kept)} of {total} bytes)"
    if want.kind == "exact" and cut:
        raw = want.text.encode()
        if len(raw) == total and hashlib.sha256(raw).hexdigest() == digest:
            return []
    elif want.matches(text):
        return []
    if want.kind == "exact":
        return [Problem(where, line, _shown(_quoted(want.text)), _shown(_quoted(text)) + cut)]
    return [Problem(where, line, str(want), (_shown(text) or "(empty)") + cut)]


def judge(m: Manifest, b: BuildResult, obs: Observation | None,
          caps: frozenset[str] = ALL_REFLECTION) -> list[Problem]:
    """All problems for one (case, engine, toolchain): build first, then the run."""
    problems = judge_build(m, b)
    if problems or not m.runs:
        return problems
    if obs is None:
        raise ValueError("a case whose build succeeds needs an observation")
    return judge_run(m, obs, caps)


def decide(problems: list[Problem], known: Divergence | None) -> tuple[str, str]:
    """The verdict and its reason, given the problems and any listed divergence.

    A listed divergence turns a failure into ``xfail``; a listed case that passes is ``xpass``,
    which fails the run so the list cannot go stale.
    """
    if problems:
        return ("xfail", known.describe()) if known else ("fail", "")
    if known and known.intermittent:
        return "pass", f"the intermittent divergence listed at line {known.line} did not show"
    if known:
        return "xpass", (f"listed in the {known.source} expectations (line {known.line}) as "
                         f"{known.describe()}, but it passed: remove the entry")
    return "pass", ""
