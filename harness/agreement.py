"""Cross-engine agreement: every engine that ran a (case, toolchain) must have seen the same thing.

Observations are normalised into an ordered list of (field, value) pairs: load outcome, exports,
then per step the outcome, results, trap kind, exit code, stdout, stderr and host-call trace.
Wall time and raw engine messages are not compared. The manifest's own declared freedoms are the
only other normalisation: a value the manifest lets vary (``nan:any``, a ``*`` in a trace, a
``match`` or ``any`` stream, an ``any`` trace, a step whose outcome is ``undefined`` by the
contract) is replaced by the pattern when it matches, so two engines differ
only where the manifest pins nothing or pins the same thing. Everything else must be identical,
even where the manifest is silent (an unchecked export, a stream written under ``any``...).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from harness import trace, values
from harness.manifest import Manifest, Step
from harness.observation import Observation, StepObservation

Field = tuple[str, str]  # (where, normalised value)


def _text(data: bytes) -> str:
    return data.decode("utf-8", "backslashreplace")


def _step_fields(step: Step | None, got: StepObservation, index: int) -> list[Field]:
    where = f"step {index}" + (f" ({step.action})" if step else "")
    e = step.expect if step else None
    results = [str(v) for v in got.results]
    if e is not None and e.outcome == "ok" and values.match_all(e.returns, got.results):
        results = [str(p) for p in e.returns]  # nan:any stays nan:any
    streams = []
    for name in ("stdout", "stderr"):
        want = getattr(e, name) if e else None
        kept, total, digest = got.stream(name)
        text = _text(kept)
        if want is not None and want.kind in ("match", "any") and want.matches(text):
            text = f"({want})"
        elif total > len(kept):  # only a prefix was kept: the whole stream is its length and hash
            text += f"\n… ({total} bytes in all, sha256 {digest})"
        streams.append((f"{where} {name}", text))
    events = list(got.trace)
    want = e.trace if e is not None else ()
    if e is not None and want is None:
        events = ["(any trace)"]
    elif want and len(want) == len(events) and all(
            trace.matches(w, g) for w, g in zip(want, events, strict=True)):
        events = list(want)
    if e is not None and e.outcome == "any":  # undefined by the contract: engines may differ
        return [(f"{where} outcome", "(undefined)"), *streams,
                (f"{where} host-call trace", "\n".join(events) or "(no host calls)")]
    data = [] if got.data is None else [(f"{where} bytes", got.data.hex())]
    return [
        (f"{where} outcome", got.outcome),
        (f"{where} results", "(" + ", ".join(results) + ")"),
        *data,
        (f"{where} trap kind", got.trap or "-"),
        (f"{where} exit code", "-" if got.code is None else str(got.code)),
        *streams,
        (f"{where} host-call trace", "\n".join(events) or "(no host calls)"),
    ]


def normalise(m: Manifest, obs: Observation, *, with_exports: bool = True) -> list[Field]:
    """The observation as ordered (field, value) pairs, ready for comparison."""
    out: list[Field] = [("module load", "ok" if obs.load_ok else "refused")]
    # a refused module's reflection depends on the stage that refused it (compile: none,
    # instantiate: the module's), so only a loaded module's is compared
    if obs.load_ok and with_exports and obs.exports is not None:
        out.append(("exports", "\n".join(f"{k}: {v}" for k, v in obs.exports.items())))
    if obs.load_ok and obs.imports is not None:  # names and kinds: every runner reflects those
        out.append(("imports", "\n".join(f"{i.module}.{i.name}: {i.kind}" for i in obs.imports)))
    steps = {s.index: s for s in m.steps}
    for i, got in enumerate(obs.steps):
        out += _step_fields(steps.get(i), got, i)
    out.append(("step count", str(len(obs.steps))))
    return out


@dataclass(frozen=True)
class Disagreement:
    """Engines split into groups with identical observations; `field` is the first that differs."""

    groups: tuple[tuple[str, ...], ...]  # largest group first
    field: str
    values: tuple[str, ...]  # the field's value in each group

    def render(self) -> str:
        lines = [f"engines disagree at {self.field}:"]
        for engines, value in zip(self.groups, self.values, strict=True):
            shown = value if len(value) <= 2000 else value[:2000] + "…"
            lines.append(f"  {', '.join(engines)}:")
            lines += [f"      {ln}" for ln in (shown.splitlines() or [""])]
        return "\n".join(lines)

    @property
    def summary(self) -> str:
        return f"{' | '.join(', '.join(g) for g in self.groups)} differ at {self.field}"


def compare(m: Manifest, observations: Mapping[str, Observation],
            export_engines: frozenset[str] | None = None) -> Disagreement | None:
    """None when every engine's normalised observation is the same, else the disagreement.

    `export_engines` are those whose runners reflect export types; exports are compared only
    among them (None: all)."""
    with_exports = export_engines is None or set(observations) <= export_engines
    normal = {e: normalise(m, o, with_exports=with_exports) for e, o in observations.items()}
    groups: dict[tuple[Field, ...], list[str]] = {}
    for engine in sorted(normal):
        groups.setdefault(tuple(normal[engine]), []).append(engine)
    if len(groups) < 2:
        return None
    ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[1]))
    first = _first_difference([list(k) for k, _ in ordered])
    vals = tuple(next((v for f, v in fields if f == first), "(absent)") for fields, _ in ordered)
    return Disagreement(tuple(tuple(g) for _, g in ordered), first, vals)


def _first_difference(all_fields: list[list[Field]]) -> str:
    for i in range(max(map(len, all_fields))):
        seen = {fields[i] if i < len(fields) else ("(absent)", "") for fields in all_fields}
        if len(seen) > 1:
            names = list(dict.fromkeys(f[i][0] for f in all_fields if i < len(f)))
            if len(names) == 1:
                return names[0]
            return "step count" if "step count" in names else " / ".join(names)
    return "step count"


def explained(groups: tuple[tuple[str, ...], ...], divergences: Mapping[str, str | None]
              ) -> str | None:
    """The listed divergences that explain a disagreement, or None when they do not.

    Explained: the engines with no listed divergence all fall in one group, whatever its size,
    and every engine outside that group has its divergence listed."""
    plain = [g for g in groups if any(not divergences.get(e) for e in g)]
    if len(plain) > 1:
        return None
    return "; ".join(f"{e}: {divergences[e]}" for g in groups if g not in plain for e in g)
