"""The normalised observation of a record: what merges, diffs, transitions and the JSON export
compare.

It is what a run shows about the module and the engine: the build outcome, whether the module
loaded, its exports, and per step the outcome with its values, trap kind or exit code, stdout,
stderr and host-call trace; for an agreement record, where the engines split and how. Never wall
times, cache hits or raw engine messages, and never addresses: hexadecimal numbers in a stream
(Go's stack traces print pc offsets and pointers as ``0x…``), the lines of the runtime's dump of
stack memory, and i32 values of 65536 and more in a host-call trace (linear-memory addresses,
which move between Go releases) are masked. A stream the record kept only in part is compared by
its kept part, its length and its hash, unless masking changed the kept part (then the rest
cannot be compared).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

Field = tuple[str, str]  # (where, normalised value)

_HEX = re.compile(r"0x[0-9a-fA-F]+")
_DUMP = re.compile(r"(?m)^[0-9a-f]{8,16}:.*$")  # a line of the Go runtime's dump of stack memory
_ADDRESS = re.compile(r"\bi32:(\d{5,})")
_PAGE = 65536
_OUTCOMES_WITH_VALUES = ("ok", "trap", "exit")


def items(value: Any) -> list[Any]:
    """`value` when it is a list, else empty (results files are untrusted input)."""
    return value if isinstance(value, list) else []


def mask_stream(text: str) -> str:
    return _HEX.sub("0x…", _DUMP.sub("<memory dump line>", text))


def mask_trace(event: str) -> str:
    return _ADDRESS.sub(lambda m: "i32:<addr>" if int(m.group(1)) >= _PAGE else m.group(0), event)


def _stream(step: dict[str, Any], name: str) -> str:
    text = str(step.get(name) or "")
    masked = mask_stream(text)
    total = step.get(f"{name}_len")
    if isinstance(total, int) and total > len(text.encode("utf-8", "replace")):
        if masked != text:
            return masked + f"\n… ({total} bytes in all; the rest holds addresses: not compared)"
        return masked + f"\n… ({total} bytes in all, sha256 {step.get(f'{name}_sha256', '?')})"
    return masked


def _outcome(step: dict[str, Any]) -> str:
    outcome = str(step.get("outcome", "?"))
    if outcome in _OUTCOMES_WITH_VALUES:
        return str(step.get("summary") or outcome)
    return outcome  # "could not run: <engine message>": the message is the engine's own words


def fingerprint(rec: dict[str, Any]) -> list[Field]:
    """The record's normalised observation as ordered (field, value) pairs."""
    out: list[Field] = []
    build = rec.get("build")
    if isinstance(build, dict) and build.get("outcome"):
        out.append(("build", str(build["outcome"])))
    obs = rec.get("observed")
    if isinstance(obs, dict):
        out.append(("module load", "ok" if obs.get("load_ok") else "refused"))
        exports = obs.get("exports")
        if isinstance(exports, dict):
            out.append(("exports", "\n".join(f"{k}: {v}" for k, v in exports.items())))
        steps = items(obs.get("steps"))
        for i, step in enumerate(steps):
            if not isinstance(step, dict):
                continue
            where = f"step {i}"
            trace = items(step.get("trace"))
            out += [(f"{where} outcome", _outcome(step)),
                    (f"{where} stdout", _stream(step, "stdout")),
                    (f"{where} stderr", _stream(step, "stderr")),
                    (f"{where} host-call trace",
                     "\n".join(mask_trace(str(t)) for t in trace) or "(no host calls)")]
        out.append(("step count", str(len(steps))))
    d = rec.get("disagreement")
    if isinstance(d, dict):
        groups, values = items(d.get("groups")), items(d.get("values"))
        out.append(("disagreement", str(d.get("field", "?"))))
        for group, value in zip(groups, values, strict=False):
            names = ", ".join(map(str, group)) if isinstance(group, list) else str(group)
            out.append((f"disagreement: {names}", mask_stream(str(value))))
    return out


def digest(fields: list[Field]) -> str:
    """A short stable hash of a normalised observation (equal observations, equal digests)."""
    return hashlib.sha256(json.dumps(fields).encode()).hexdigest()[:16]


def summary(rec: dict[str, Any]) -> str:
    """One line: the build, the load and every step's outcome."""
    parts = []
    build = rec.get("build")
    if isinstance(build, dict) and build.get("outcome"):
        parts.append(f"build {build['outcome']}")
    obs = rec.get("observed")
    if isinstance(obs, dict):
        parts.append("loaded" if obs.get("load_ok") else "load refused")
        parts += [_outcome(s) for s in items(obs.get("steps")) if isinstance(s, dict)]
    d = rec.get("disagreement")
    if isinstance(d, dict):
        parts.append(f"engines differ at {d.get('field', '?')}")
    return "; ".join(parts)


def first_difference(old: list[Field], new: list[Field]) -> tuple[str, str, str] | None:
    """The first field whose value differs, with both values ("(absent)" when missing)."""
    a, b = dict(old), dict(new)
    for name in [*(k for k, _ in old), *(k for k, _ in new if k not in a)]:
        if a.get(name) != b.get(name):
            return name, a.get(name, "(absent)"), b.get(name, "(absent)")
    return None


def focus(before: str, after: str, context: int = 2) -> tuple[str, str]:
    """Both values from a few lines before the first place they differ: a long stream that
    differs near its end shows where, not its shared beginning."""
    a, b = before.split("\n"), after.split("\n")
    same = 0
    while same < min(len(a), len(b)) and a[same] == b[same]:
        same += 1
    start = max(0, same - context)
    if start == 0:
        return before, after
    note = f"… ({start} identical lines)\n"
    return note + "\n".join(a[start:]), note + "\n".join(b[start:])
