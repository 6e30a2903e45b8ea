"""Host functions defined by data (runners/PROTOCOL.md, "Host functions"), and trap kinds.

Values stay raw bit patterns from the guest's arguments to its results (values.define_exact),
so i64 stays whole and f32/f64 keep their bits, NaN payloads included.
"""

from __future__ import annotations

from typing import Any, Protocol

import wasmtime

from runners.wasmtime.values import Raw, call_exact, decode, define_exact, encode
from runners.wasmtime.wasi import StepTimeout, WasiTrap

_TRAPS = {
    "STACK_OVERFLOW": "stack_overflow", "MEMORY_OUT_OF_BOUNDS": "memory_out_of_bounds",
    "INTEGER_OVERFLOW": "integer_overflow", "INTEGER_DIVISION_BY_ZERO": "integer_divide_by_zero",
    "BAD_CONVERSION_TO_INTEGER": "invalid_conversion", "UNREACHABLE": "unreachable",
    "INTERRUPT": "timeout", "OUT_OF_FUEL": "out_of_fuel", "INDIRECT_CALL_TO_NULL": "indirect_call",
    "BAD_SIGNATURE": "indirect_call",
}


class HostTrap(Exception):
    """A host function failing on purpose (the `trap` op) or by a bad memory access."""


class MemoryTrap(Exception):
    """A step's own memory access out of bounds (trap kind `memory_out_of_bounds`)."""


GUEST_TRAPS = (wasmtime.Trap, StepTimeout, WasiTrap, HostTrap, MemoryTrap)  # reported as traps


def trap_kind(err: BaseException) -> str:
    if isinstance(err, HostTrap):
        return "host_error"
    if isinstance(err, MemoryTrap):
        return "memory_out_of_bounds"
    if isinstance(err, StepTimeout):
        return "timeout"
    if isinstance(err, WasiTrap):
        return "other"
    if isinstance(err, wasmtime.Trap):
        code = err.trap_code
        return _TRAPS.get(code.name, "other") if code is not None else "other"
    return "host_error"


class PlanState(Protocol):
    """What host functions share with the plan: the current step's trace, the bound values."""

    trace: list[dict[str, Any]]
    bindings: dict[str, Raw]


def define(linker: wasmtime.Linker, spec: dict[str, Any], state: PlanState) -> None:
    """Define one plan host function in `linker`, recording into `state.trace`."""
    name = f"{spec['module']}.{spec['name']}"

    def host(caller: wasmtime.Caller, params: list[Raw]) -> list[Raw]:
        state.trace.append({"ev": "import", "name": name, "args": [encode(p) for p in params]})
        last: list[Raw] = []

        def value(x: dict[str, Any]) -> Raw:
            if "param" in x:
                return params[int(x["param"])]
            if "result" in x:
                if x["result"] >= len(last):
                    raise HostTrap(f"{name}: result {x['result']} of the last call is missing")
                return last[int(x["result"])]
            if "ref" in x:
                if x["ref"] not in state.bindings:
                    raise HostTrap(f"{name}: nothing is bound to the name {x['ref']!r}")
                return state.bindings[x["ref"]]
            return decode(x["value"])

        for op in spec["do"]:
            if "call" in op:
                last = _nested(state, caller, op["call"], [value(a) for a in op.get("args", [])])
            elif "read" in op:
                ptr, n = value(op["read"]["ptr"])[1], value(op["read"]["len"])[1]
                mem = guest_memory(caller, caller, ptr, n, trap=HostTrap, missing=HostTrap)
                state.trace.append({"ev": "read", "hex": bytes(mem.read(caller, ptr, ptr + n)).hex()})
            elif "write" in op:
                data = bytes.fromhex(op["write"]["hex"])
                ptr = value(op["write"]["ptr"])[1]
                mem = guest_memory(caller, caller, ptr, len(data), trap=HostTrap, missing=HostTrap)
                mem.write(caller, data, ptr)
                state.trace.append({"ev": "write", "len": len(data)})
            else:
                raise HostTrap(op["trap"])
        results = [value(x) for x in spec["return"]]
        if [t for t, _ in results] != spec["results"]:
            raise HostTrap(f"{name} returns ({', '.join(t for t, _ in results)}), declared "
                           f"({', '.join(spec['results'])})")
        state.trace.append({"ev": "import_return", "values": [encode(r) for r in results]})
        return results

    define_exact(linker, spec["module"], spec["name"], params=spec["params"],
                 results=spec["results"], fn=host)


def _nested(state: PlanState, caller: wasmtime.Caller, export: str, args: list[Raw]) -> list[Raw]:
    state.trace.append({"ev": "export", "name": export, "args": [encode(a) for a in args]})
    func = caller.get(export)
    if not isinstance(func, wasmtime.Func):
        raise HostTrap(f"the guest has no function export {export!r}")
    try:
        out = call_exact(caller, func, args)
    except wasmtime.ExitTrap as e:
        state.trace.append({"ev": "export_exit", "code": e.code})
        raise
    except GUEST_TRAPS as e:
        state.trace.append({"ev": "export_trap", "kind": trap_kind(e)})
        raise
    except TypeError as e:  # arguments that do not fit the export: the host function fails
        raise HostTrap(str(e)) from e
    state.trace.append({"ev": "export_return", "values": [encode(r) for r in out]})
    return out


def guest_memory(exports: Any, store: Any, ptr: int, n: int, *, trap: type[Exception],
                 missing: type[Exception]) -> wasmtime.Memory:
    """The exported `memory`, once [ptr, ptr + n) is checked to lie inside it (else `trap`;
    `missing` when there is no such memory). `exports`: a Caller or an instance's exports;
    ptr and n are unsigned.
    """
    mem = exports.get("memory")
    if not isinstance(mem, wasmtime.Memory):
        raise missing("the guest exports no memory named 'memory'")
    size = mem.data_len(store)
    if ptr + n > size:
        raise trap(f"memory access [{ptr}, {ptr + n}) is outside the {size}-byte memory")
    return mem
