"""Observations: what a runner saw, decoded from the protocol and checked for well-formedness.

A runner that sends something malformed gets a `ProtocolError`; the suite reports that case as
an error of the runner, never as a verdict on the engine.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from harness import trace, values
from harness.manifest import ExportType
from harness.values import ValType, Value


class ProtocolError(Exception):
    """The runner's output does not follow runners/PROTOCOL.md."""


@dataclass(frozen=True)
class StepObservation:
    outcome: Literal["ok", "trap", "exit", "error"]
    results: tuple[Value, ...] = ()
    trap: str | None = None
    code: int | None = None
    message: str = ""
    stdout: bytes = b""  # the first limits.output_bytes of the stream
    stderr: bytes = b""
    trace: tuple[str, ...] = ()
    duration_ms: float = 0.0
    stdout_len: int = 0  # every byte the guest wrote, kept or not
    stderr_len: int = 0
    stdout_sha256: str = ""  # of every byte the guest wrote
    stderr_sha256: str = ""
    data: bytes | None = None  # what a read step read

    def __post_init__(self) -> None:
        """Streams given without length and hash were kept whole: derive both."""
        for name in ("stdout", "stderr"):
            data = getattr(self, name)
            if not getattr(self, f"{name}_sha256"):
                object.__setattr__(self, f"{name}_len", len(data))
                object.__setattr__(self, f"{name}_sha256", hashlib.sha256(data).hexdigest())

    def stream(self, name: str) -> tuple[bytes, int, str]:
        """(kept bytes, total length, SHA-256 of all) of ``stdout`` or ``stderr``."""
        if name == "stdout":
            return self.stdout, self.stdout_len, self.stdout_sha256
        return self.stderr, self.stderr_len, self.stderr_sha256

    def truncated(self, name: str) -> bool:
        kept, total, _ = self.stream(name)
        return total > len(kept)

    def summary(self) -> str:
        if self.outcome == "ok":
            return "returned (" + ", ".join(map(str, self.results)) + ")"
        if self.outcome == "trap":
            return f"trapped: {self.trap}"
        if self.outcome == "exit":
            return f"exited with code {self.code}"
        return f"could not run: {self.message}"


@dataclass(frozen=True)
class ImportEntry:
    """One import as the engine reflects it; params/results are None where it gives no types."""

    module: str
    name: str
    kind: str
    params: tuple[ValType, ...] | None = None
    results: tuple[ValType, ...] | None = None

    def __str__(self) -> str:
        if self.kind != "func" or self.params is None or self.results is None:
            return f"{self.module}.{self.name}: {self.kind}"
        return f"{self.module}.{self.name}: {ExportType('func', self.params, self.results)}"


@dataclass(frozen=True)
class Observation:
    id: str
    load_ok: bool
    load_message: str
    exports: dict[str, ExportType] | None  # in module order
    steps: tuple[StepObservation, ...]
    imports: tuple[ImportEntry, ...] | None = None  # in module order
    memories: dict[str, tuple[int, int | None]] = field(default_factory=dict)  # min, max pages


TRAP_KINDS = frozenset({
    "unreachable", "memory_out_of_bounds", "integer_divide_by_zero", "integer_overflow",
    "invalid_conversion", "stack_overflow", "indirect_call", "timeout", "out_of_fuel",
    "host_error", "other",
})


def _b64(doc: dict[str, Any], key: str) -> bytes:
    try:
        return base64.b64decode(doc.get(key, ""), validate=True)
    except (binascii.Error, TypeError) as e:
        raise ProtocolError(f"{key} is not base64") from e


def _length(doc: dict[str, Any], name: str, kept: bytes) -> int:
    total = doc.get(f"{name}_len")
    if not isinstance(total, int) or total < len(kept):
        raise ProtocolError(f"{name}_len {total!r} is not a count of at least the {len(kept)} "
                            "bytes sent")
    return total


def _digest(doc: dict[str, Any], name: str, kept: bytes) -> str:
    digest = doc.get(f"{name}_sha256")
    if not isinstance(digest, str) or len(digest) != 64:
        raise ProtocolError(f"{name}_sha256 {digest!r} is not a hex SHA-256")
    if doc.get(f"{name}_len") == len(kept) and digest != hashlib.sha256(kept).hexdigest():
        raise ProtocolError(f"{name}_sha256 does not match the {len(kept)} bytes sent whole")
    return digest


def _step(doc: Any) -> StepObservation:
    if not isinstance(doc, dict):
        raise ProtocolError(f"a step observation must be an object, got {doc!r}")
    outcome = doc.get("outcome")
    try:
        out, err = _b64(doc, "stdout_b64"), _b64(doc, "stderr_b64")
        base = StepObservation(
            "ok",
            stdout=out,
            stderr=err,
            stdout_len=_length(doc, "stdout", out),
            stderr_len=_length(doc, "stderr", err),
            stdout_sha256=_digest(doc, "stdout", out),
            stderr_sha256=_digest(doc, "stderr", err),
            trace=tuple(trace.from_protocol(ev) for ev in doc.get("trace", [])),
            duration_ms=float(doc.get("duration_ms", 0.0)),
            message=str(doc.get("message", "")),
        )
        if outcome == "ok":
            data = _b64(doc, "data_b64") if "data_b64" in doc else None
            return replace(base, results=tuple(values.from_protocol(v) for v in doc["results"]),
                           data=data)
        if outcome == "trap":
            kind = doc["trap"]
            if kind not in TRAP_KINDS:
                raise ProtocolError(f"unknown trap kind {kind!r}")
            return replace(base, outcome="trap", trap=kind)
        if outcome == "exit":
            return replace(base, outcome="exit", code=int(doc["code"]))
        if outcome == "error":
            return replace(base, outcome="error")
    except (KeyError, TypeError, ValueError) as e:
        raise ProtocolError(f"malformed step observation {doc!r}: {e}") from e
    raise ProtocolError(f"unknown step outcome {outcome!r}")


def _exports(doc: Any) -> tuple[dict[str, ExportType] | None, dict[str, tuple[int, int | None]]]:
    if doc is None:
        return None, {}
    out: dict[str, ExportType] = {}
    memories: dict[str, tuple[int, int | None]] = {}
    try:
        for e in doc:
            if e["kind"] == "func":
                out[e["name"]] = ExportType("func", tuple(e["params"]), tuple(e["results"]))
            else:
                out[e["name"]] = ExportType(e["kind"])
            if e["kind"] == "memory" and "min" in e:
                memories[e["name"]] = (int(e["min"]), None if e.get("max") is None else int(e["max"]))
    except (KeyError, TypeError, ValueError) as err:
        raise ProtocolError(f"malformed exports {doc!r}") from err
    return out, memories


def _imports(doc: Any) -> tuple[ImportEntry, ...] | None:
    if doc is None:
        return None
    try:
        return tuple(ImportEntry(
            str(e["module"]), str(e["name"]), str(e["kind"]),
            tuple(e["params"]) if "params" in e else None,
            tuple(e["results"]) if "results" in e else None) for e in doc)
    except (KeyError, TypeError) as err:
        raise ProtocolError(f"malformed imports {doc!r}") from err


def decode(doc: Any, plan: dict[str, Any]) -> Observation:
    """Decode an observation for `plan`; raises ProtocolError when it is not one."""
    if not isinstance(doc, dict) or doc.get("type") != "observation":
        raise ProtocolError(f"expected an observation, got {str(doc)[:200]}")
    if doc.get("id") != plan["id"]:
        raise ProtocolError(f"observation for {doc.get('id')!r} while running {plan['id']!r}")
    if doc.get("error"):
        raise ProtocolError(f"the runner failed: {doc['error']}")
    load = doc.get("load")
    if not isinstance(load, dict) or not isinstance(load.get("ok"), bool):
        raise ProtocolError("observation without load.ok")
    steps = tuple(_step(s) for s in doc.get("steps", []))
    if load["ok"] and len(steps) != len(plan["steps"]):
        raise ProtocolError(f"{len(steps)} step observations for {len(plan['steps'])} steps")
    exports, memories = _exports(doc.get("exports"))
    return Observation(plan["id"], load["ok"], str(load.get("message", "")), exports, steps,
                       _imports(doc.get("imports")), memories)
