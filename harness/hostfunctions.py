"""Host functions as data: a manifest's ``imports`` read into the definitions every runner
interprets (runners/PROTOCOL.md, "Host functions"), checked against the module's exports and
their own signatures."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.model import ExportType, HostFunction
from harness.values import Value
from harness.yamlsrc import YamlError

Where = list[str | int]


def read(doc: dict[str, Any], exports: dict[str, ExportType] | None,
         fail: Callable[[Where, str], YamlError],
         value: Callable[[Where, Any], Value]) -> tuple[HostFunction, ...]:
    """The manifest's `imports` -> host functions with their protocol-ready definitions."""
    reader = _Reader(exports, fail, value)
    return tuple(reader.function(key, spec) for key, spec in doc.items())


@dataclass(frozen=True)
class _Reader:
    exports: dict[str, ExportType] | None  # None: the module does not build, nothing to check
    fail: Callable[[Where, str], YamlError]
    value: Callable[[Where, Any], Value]

    def function(self, key: str, spec: dict[str, Any]) -> HostFunction:
        at: Where = ["imports", key]
        module, name = key.split(".", 1)
        params, results = tuple(spec["params"]), tuple(spec["results"])
        ops = [self.op([*at, "do", j], op, params) for j, op in enumerate(spec.get("do", ()))]
        ret = [self.expr([*at, "return", j], x, params)
               for j, x in enumerate(spec.get("return", ()))]
        if len(ret) != len(results):
            raise self.fail([*at, "return"],
                            f"declares {len(results)} result(s), returns {len(ret)}")
        for j, (x, t) in enumerate(zip(ret, results, strict=True)):
            if "value" in x and x["value"]["t"] != t:
                raise self.fail([*at, "return", j], f"result {j} is {t}, not {x['value']['t']}")
            if "param" in x and params[x["param"]] != t:
                raise self.fail([*at, "return", j], f"param {x['param']} is not {t}")
        proto = {"module": module, "name": name, "params": list(params),
                 "results": list(results), "do": ops, "return": ret}
        return HostFunction(module, name, params, results, proto)

    def op(self, at: Where, op: dict[str, Any], params: tuple[str, ...]) -> dict[str, Any]:
        if "call" in op:
            sig = self.exports.get(op["call"]) if self.exports is not None else None
            if self.exports is not None and (sig is None or sig.kind != "func"):
                raise self.fail([*at, "call"],
                                f"{op['call']!r} is not a function in module.exports")
            args = [self.expr([*at, "args", j], x, params)
                    for j, x in enumerate(op.get("args", ()))]
            if sig is not None and len(args) != len(sig.params):
                raise self.fail([*at, "args"], f"{op['call']} takes {len(sig.params)} argument(s)")
            return {"call": op["call"], "args": args}
        if "read" in op:
            r = op["read"]
            return {"read": {"ptr": self.expr([*at, "read", "ptr"], r["ptr"], params),
                             "len": self.expr([*at, "read", "len"], r["len"], params)}}
        if "write" in op:
            w = op["write"]
            return {"write": {"ptr": self.expr([*at, "write", "ptr"], w["ptr"], params),
                              "hex": w["hex"].lower()}}
        return {"trap": op["trap"]}

    def expr(self, at: Where, x: dict[str, Any], params: tuple[str, ...]) -> dict[str, Any]:
        if "param" in x:
            if x["param"] >= len(params):
                raise self.fail(at, f"param {x['param']} does not exist ({len(params)} params)")
            return {"param": x["param"]}
        if "result" in x:
            return {"result": x["result"]}
        if "ref" in x:
            return {"ref": x["ref"]}
        return {"value": self.value(at, x).to_protocol()}


def refs(doc: Any) -> list[str]:
    """Every ``{ref: name}`` inside a host function's ops and results."""
    if isinstance(doc, dict):
        own = [doc["ref"]] if set(doc) == {"ref"} and isinstance(doc["ref"], str) else []
        return own + [n for v in doc.values() for n in refs(v)]
    if isinstance(doc, list):
        return [n for v in doc for n in refs(v)]
    return []
