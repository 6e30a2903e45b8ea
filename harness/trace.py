"""Host-call trace events in one canonical, comparable, readable form.

Runners report events as protocol objects; manifests spell them in YAML. Both are turned into
one-line strings such as ``import host.log(i32:5)`` or ``read "hello"`` so that comparison is
plain equality and a diff is readable.
"""

from __future__ import annotations

import json
import re
from typing import Any

from harness import values

PROTOCOL_EVENTS = (
    "import", "import_return", "export", "export_return", "export_trap", "export_exit", "read",
    "write",
)


def _vals(vs: list[values.Value]) -> str:
    return "(" + ", ".join(str(v) for v in vs) + ")"


def _bytes(data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return f"read hex:{data.hex()}"
    if all(c.isprintable() or c in "\n\t" for c in text):
        return f"read {json.dumps(text, ensure_ascii=False)}"
    return f"read hex:{data.hex()}"


def from_protocol(ev: Any) -> str:
    """Canonical form of a runner's trace event; raises ValueError on a malformed one."""
    if not isinstance(ev, dict) or ev.get("ev") not in PROTOCOL_EVENTS:
        raise ValueError(f"unknown trace event {ev!r}")
    kind = ev["ev"]
    if kind in ("import", "export"):
        args = [values.from_protocol(a) for a in ev["args"]]
        return f"{kind} {ev['name']}{_vals(args)}"
    if kind in ("import_return", "export_return"):
        return f"{kind} {_vals([values.from_protocol(a) for a in ev['values']])}"
    if kind == "export_trap":
        return f"export_trap {ev['kind']}"
    if kind == "export_exit":
        return f"export_exit {int(ev['code'])}"
    if kind == "read":
        return _bytes(bytes.fromhex(ev["hex"]))
    return f"write {int(ev['len'])}"


def _manifest_vals(docs: list[Any]) -> str:
    """Values as in `_vals`, where ``{i32: "*"}`` stands for any i32 (e.g. a guest pointer)."""
    parts = []
    for doc in docs:
        if isinstance(doc, dict) and len(doc) == 1 and list(doc.values()) == ["*"]:
            t = next(iter(doc))
            if t not in values.VAL_TYPES:
                raise ValueError(f"unknown value type {t!r}")
            parts.append(f"{t}:*")
        else:
            parts.append(str(values.from_manifest(doc)))
    return "(" + ", ".join(parts) + ")"


def matches(expected: str, observed: str) -> bool:
    """Whether an observed event is the expected one; ``t:*`` in `expected` matches any t value."""
    if "*" not in expected:
        return expected == observed
    pattern = re.escape(expected)
    for t in values.VAL_TYPES:
        pattern = pattern.replace(re.escape(f"{t}:*"), rf"{t}:[^,()]+(?: \(0x[0-9a-f]+\))?")
    return re.fullmatch(pattern, observed) is not None


def from_manifest(ev: dict[str, Any]) -> str:
    """Canonical form of a manifest trace event such as ``{import: host.f, args: [{i32: 1}]}``."""
    keys = set(ev)
    if keys <= {"import", "args"} and "import" in keys:
        return f"import {ev['import']}{_manifest_vals(ev.get('args', []))}"
    if keys <= {"export", "args"} and "export" in keys:
        return f"export {ev['export']}{_manifest_vals(ev.get('args', []))}"
    if len(keys) != 1:
        raise ValueError(f"a trace event has one kind, got {sorted(keys)}")
    ((kind, body),) = ev.items()
    if kind in ("import_return", "export_return"):
        return f"{kind} {_manifest_vals(body)}"
    if kind == "export_trap":
        return f"export_trap {body}"
    if kind == "export_exit":
        return f"export_exit {int(body)}"
    if kind == "read":
        return _bytes(str(body).encode("utf-8"))
    if kind == "read_hex":
        return _bytes(bytes.fromhex(body))
    if kind == "write":
        return f"write {int(body)}"
    raise ValueError(f"unknown trace event kind {kind!r}")
