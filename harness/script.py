"""A manifest's script: the host's actions, as an embedder of Go modules performs them.

A step calls an export, writes bytes into the guest's memory, or reads bytes from it. A call's
results can be named (``as: p``) and used by later steps and host functions (``{ref: p}``), so
the everyday pattern ``p = alloc(n)``, write at ``p``, ``f(p, n)``, read at ``p`` is data. Names
are checked where the manifest is loaded: each is bound before use, with the type the export's
signature gives it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from harness import values
from harness.patterns import PatternError, compile_pattern, full_match
from harness.values import ValType, Value

MAX_BYTES = 1 << 20  # one write or read step, like one stream expectation
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

Fail = Callable[[list[str | int], str], Exception]


@dataclass(frozen=True)
class Operand:
    """A step's operand: a value, or ``{ref: name}``, a value an earlier call bound."""

    t: ValType
    value: Value | None = None
    ref: str | None = None

    def to_protocol(self) -> dict[str, Any]:
        return {"ref": self.ref} if self.ref is not None else self._value.to_protocol()

    @property
    def _value(self) -> Value:
        assert self.value is not None
        return self.value

    def __str__(self) -> str:
        return f"{self.t}:{self.ref}" if self.ref is not None else str(self.value)


@dataclass(frozen=True)
class BytesExpect:
    """What a read step must find: exact bytes, or a regex over them as text (UTF-8)."""

    kind: Literal["exact", "match"]
    data: bytes = b""
    pattern: str = ""

    def matches(self, got: bytes) -> bool:
        if self.kind == "exact":
            return got == self.data
        return full_match(self.pattern, got.decode("utf-8", "backslashreplace"))

    def __str__(self) -> str:
        if self.kind == "match":
            return f"match /{self.pattern}/"
        text = self.data.decode("utf-8", "replace")
        return repr(text) if text.encode() == self.data else f"hex {self.data.hex()}"


def name_ok(name: Any) -> bool:
    return isinstance(name, str) and bool(_NAME.match(name))


class Bindings:
    """The names bound so far while loading a script, with their types."""

    def __init__(self, fail: Fail) -> None:
        self.types: dict[str, ValType] = {}
        self.fail = fail

    def operand(self, at: list[str | int], doc: Any, want: ValType | None = None) -> Operand:
        """A value or a reference, of type `want` when given."""
        if isinstance(doc, dict) and set(doc) == {"ref"}:
            name = doc["ref"]
            if name not in self.types:
                bound = ", ".join(sorted(self.types)) or "none yet"
                raise self.fail(at, f"{name!r} is not bound by an earlier step (bound: {bound}); "
                                    "name a call's result with `as:`")
            op = Operand(self.types[name], ref=name)
        elif isinstance(doc, int) and not isinstance(doc, bool) and want == "i32":
            op = Operand("i32", value=self._value(at, {"i32": doc}))
        else:
            v = self._value(at, doc)
            op = Operand(v.t, value=v)
        if want is not None and op.t != want:
            raise self.fail(at, f"expected an {want}, got {op}")
        return op

    def _value(self, at: list[str | int], doc: Any) -> Value:
        try:
            return values.from_manifest(doc)
        except values.ValueError_ as e:
            raise self.fail(at, str(e)) from e

    def bind(self, at: list[str | int], doc: Any, results: tuple[ValType, ...] | None
             ) -> tuple[str | None, ...]:
        """``as: p`` or ``as: [p, null]``: names for a call's results."""
        names = [doc] if isinstance(doc, str) or doc is None else list(doc)
        if results is not None and len(names) != len(results):
            raise self.fail(at, f"names {len(names)} result(s); the export returns {len(results)}")
        for i, name in enumerate(names):
            if name is None:
                continue
            if not name_ok(name):
                raise self.fail(at, f"{name!r} is not a name (letters, digits, _)")
            self.types[name] = results[i] if results is not None else "i32"
        return tuple(names)


def data_of(at: list[str | int], doc: dict[str, Any], fail: Fail) -> bytes:
    """``{text: ...}`` (UTF-8) or ``{hex: ...}`` as bytes."""
    if "text" in doc:
        data = str(doc["text"]).encode()
    else:
        try:
            data = bytes.fromhex(str(doc.get("hex", "")))
        except ValueError as e:
            raise fail([*at, "hex"], f"not hex: {e}") from e
    if len(data) > MAX_BYTES:
        raise fail(at, f"more than {MAX_BYTES} bytes")
    return data


def bytes_expect(at: list[str | int], doc: Any, fail: Fail) -> BytesExpect:
    if isinstance(doc, dict) and "match" in doc:
        try:
            compile_pattern(doc["match"])
        except PatternError as e:
            raise fail([*at, "match"], str(e)) from e
        return BytesExpect("match", pattern=doc["match"])
    if isinstance(doc, str):
        return BytesExpect("exact", doc.encode())
    return BytesExpect("exact", data_of(at, doc, fail))
