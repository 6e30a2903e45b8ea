"""The parts of WASI preview1 the runner supplies itself, around wasmtime's own implementation.

- `Watchdog`: a step's wall-clock deadline. One thread raises the engine's epoch when it passes,
  which traps running wasm at its next epoch check; WASI waits ask it how long they may wait.
- `Capture`: stdout/stderr through wasmtime's custom-output callbacks, in memory: the first
  `limit` bytes of a step are kept, every byte is counted and hashed, nothing else is held.
- `poll_oneoff`: shadows wasmtime's, which sleeps natively where no epoch can stop it (Go's
  time.Sleep is a one-subscription poll). Same results as wasmtime's, but the wait is cut at
  the step's deadline and ends the step as a `timeout` trap.
"""

from __future__ import annotations

import base64
import ctypes
import hashlib
import math
import struct
import sys
import threading
import time
from typing import Any

import wasmtime
from wasmtime import _ffi as ffi  # stdin bytes: only the C API has them

WASI = "wasi_snapshot_preview1"
SLICE_S = 0.05  # a waiting guest re-reads the clocks at least this often

# wasi_snapshot_preview1 ABI: subscription (48 bytes, align 8), event (32 bytes, align 8).
SUBSCRIPTION, EVENT = 48, 32
TAG_CLOCK, TAG_FD_READ, TAG_FD_WRITE = 0, 1, 2
CLOCK_REALTIME, CLOCK_MONOTONIC = 0, 1
ABSTIME = 1
ERRNO_SUCCESS, ERRNO_BADF, ERRNO_INVAL = 0, 8, 28


class StepTimeout(Exception):
    """The step's deadline passed while the guest waited in the host (trap kind `timeout`)."""


class WasiTrap(Exception):
    """A WASI call trapped, as wasmtime's do on a bad guest pointer (trap kind `other`)."""


class Watchdog:
    """The current step's deadline, on the wall clock (time.monotonic), for one engine.

    Counting ticks instead would stretch the limit whenever the ticking thread is starved,
    which is exactly when a loaded machine needs it to hold. Arming wakes the thread only when
    it would otherwise look too late; disarming never does (it finds nothing due and sleeps
    on): a wake-up per step would cost the GIL handover a plan's steps pay for.
    """

    def __init__(self, engine: wasmtime.Engine) -> None:
        self._engine = engine
        self._cond = threading.Condition()
        self._deadline: float | None = None
        self._step = 0  # which arming `_deadline` belongs to
        self._wake_at = math.inf  # when the thread looks again by itself
        threading.Thread(target=self._run, daemon=True, name="watchdog").start()

    def arm(self, store: wasmtime.Store, seconds: float) -> None:
        with self._cond:
            store.set_epoch_deadline(1)  # the next epoch increment traps this store's wasm
            self._step += 1
            self._deadline = time.monotonic() + seconds
            if self._deadline < self._wake_at:
                self._cond.notify()

    def disarm(self) -> None:
        with self._cond:
            self._deadline = None

    def left(self) -> float | None:
        """Seconds until the deadline (negative once past), None when no step is running."""
        deadline = self._deadline
        return None if deadline is None else deadline - time.monotonic()

    def _run(self) -> None:
        with self._cond:
            while True:
                if self._deadline is None:
                    self._sleep(None)
                    continue
                step, deadline = self._step, self._deadline
                if deadline > time.monotonic():
                    self._sleep(deadline)
                    continue
                self._engine.increment_epoch()
                # once per arming: wait for the next arming (the step may end first)
                while self._step == step:
                    self._sleep(None)

    def _sleep(self, until: float | None) -> None:
        """Wait (holding the condition) until `until`, or until arm() wakes us."""
        self._wake_at = math.inf if until is None else until
        self._cond.wait(None if until is None else max(0.0, until - time.monotonic()))
        self._wake_at = math.inf


class Capture:
    """One output stream of the current step: the first `limit` bytes, the count, the hash."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.reset()

    def reset(self) -> None:
        self.kept = bytearray()
        self.total = 0
        self.sha = hashlib.sha256()

    def write(self, data: bytes) -> None:
        """wasmtime's callback, per chunk of an fd_write (its result: all bytes written)."""
        try:
            self.total += len(data)
            self.sha.update(data)
            room = self.limit - len(self.kept)
            if room > 0:
                self.kept += data[:room]
        except Exception as e:  # wasmtime-py would print it on our stdout, the protocol's
            print(f"output capture failed: {type(e).__name__}: {e}", file=sys.stderr)

    def report(self, name: str) -> dict[str, Any]:
        return {f"{name}_b64": base64.b64encode(bytes(self.kept)).decode(),
                f"{name}_len": self.total, f"{name}_sha256": self.sha.hexdigest()}


class GuestWasi:
    """One plan's WASI: configured into its store, defined (with our poll_oneoff) in its linker."""

    def __init__(self, store: wasmtime.Store, plan: dict[str, Any], watchdog: Watchdog,
                 output_bytes: int) -> None:
        self.watchdog = watchdog
        self.stdout, self.stderr = Capture(output_bytes), Capture(output_bytes)
        cfg = wasmtime.WasiConfig()
        cfg.argv = plan["wasi"]["args"]
        cfg.env = [tuple(kv) for kv in plan["wasi"]["env"]]
        _set_stdin(cfg, base64.b64decode(plan["wasi"].get("stdin_b64", ""), validate=True))
        cfg.stdout_custom = self.stdout.write
        cfg.stderr_custom = self.stderr.write
        store.set_wasi(cfg)
        # wasmtime's WASI monotonic clock counts from when the context was built, in set_wasi.
        # Read after it, so an absolute deadline computed from it is never early (by ~0.1 ms
        # late at most).
        self.mono_origin_ns = time.monotonic_ns()

    def define(self, linker: wasmtime.Linker) -> None:
        linker.define_wasi()
        linker.allow_shadowing = True
        i32 = wasmtime.ValType.i32()
        linker.define_func(WASI, "poll_oneoff", wasmtime.FuncType([i32] * 4, [i32]),
                           self.poll_oneoff, access_caller=True)
        linker.allow_shadowing = False

    def reset(self) -> None:
        self.stdout.reset()
        self.stderr.reset()

    def report(self) -> dict[str, Any]:
        return {**self.stdout.report("stdout"), **self.stderr.report("stderr")}

    # -- poll_oneoff ---------------------------------------------------------------------------

    def poll_oneoff(self, caller: wasmtime.Caller, subs: int, events: int, n: int,
                    nevents: int) -> int:
        """wasmtime's poll_oneoff results: stdin and stdout/stderr are always ready (stdin is
        in memory), so with any of them only they are reported, as wasmtime does even for a clock
        already due; with clocks alone, wait for the first, then report every one due."""
        subs, events, n, nevents = (x & 0xFFFFFFFF for x in (subs, events, n, nevents))
        if n == 0:
            return ERRNO_INVAL  # an indefinite sleep
        mem = _memory(caller)
        _aligned(subs, 8)
        _aligned(events, 8)
        _aligned(nevents, 4)
        raw = _read(mem, caller, subs, n * SUBSCRIPTION)
        start = time.monotonic_ns()
        due: dict[int, int] = {}  # subscription index -> host monotonic ns when ready
        kinds: list[int] = []
        for i in range(n):
            at = i * SUBSCRIPTION
            (tag,) = struct.unpack_from("<B", raw, at + 8)
            if tag == TAG_CLOCK:
                clock, timeout, _precision, flags = struct.unpack_from("<I4xQQH", raw, at + 16)
                if flags & ~ABSTIME:
                    return ERRNO_INVAL
                if clock == CLOCK_MONOTONIC:
                    due[i] = self.mono_origin_ns + timeout if flags & ABSTIME else start + timeout
                elif clock == CLOCK_REALTIME:
                    wait = timeout - time.time_ns() if flags & ABSTIME else timeout
                    due[i] = start + max(0, wait)
                else:
                    return ERRNO_INVAL  # cputime clocks, as wasmtime
            elif tag in (TAG_FD_READ, TAG_FD_WRITE):
                (fd,) = struct.unpack_from("<I", raw, at + 16)
                if fd not in ((0,) if tag == TAG_FD_READ else (1, 2)):
                    return ERRNO_BADF  # no files or sockets are ever open
            else:
                return ERRNO_INVAL
            kinds.append(tag)
        clocks_only = len(due) == n
        if clocks_only:
            self._wait_until(min(due.values()))
        now = time.monotonic_ns()
        out = bytearray()
        for i, tag in enumerate(kinds):
            if tag == TAG_CLOCK and (not clocks_only or due[i] > now):
                continue
            (userdata,) = struct.unpack_from("<Q", raw, i * SUBSCRIPTION)
            nbytes = 0 if tag == TAG_CLOCK else 1
            out += struct.pack("<QHB5xQH6x", userdata, ERRNO_SUCCESS, tag, nbytes, 0)
        _write(mem, caller, events, bytes(out))
        _write(mem, caller, nevents, struct.pack("<I", len(out) // EVENT))
        return ERRNO_SUCCESS

    def _wait_until(self, due_ns: int) -> None:
        while (wait := (due_ns - time.monotonic_ns()) / 1e9) > 0:
            left = self.watchdog.left()
            if left is not None and left <= 0:
                raise StepTimeout("the step's timeout passed while the guest waited in "
                                  "poll_oneoff")
            time.sleep(min(wait, SLICE_S, left if left is not None else SLICE_S))


def _set_stdin(cfg: wasmtime.WasiConfig, data: bytes) -> None:
    """fd 0 reads exactly `data`, then end of file: an in-memory pipe, no file to clean up.

    wasmtime-py wraps only stdin files; the C API's wasi_config_set_stdin_bytes takes the
    bytes (it takes over the vector's buffer, so the vector is not deleted here).
    """
    vec = ffi.wasm_byte_vec_t()
    buf = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
    ffi.wasm_byte_vec_new(ctypes.byref(vec), len(data), buf)
    ffi.wasi_config_set_stdin_bytes(cfg.ptr(), ctypes.byref(vec))


def _memory(caller: wasmtime.Caller) -> wasmtime.Memory:
    mem = caller.get("memory")
    if not isinstance(mem, wasmtime.Memory):
        raise WasiTrap("missing required memory export")
    return mem


def _aligned(ptr: int, align: int) -> None:
    if ptr % align:
        raise WasiTrap(f"pointer {ptr:#x} not aligned to {align}")


def _read(mem: wasmtime.Memory, caller: wasmtime.Caller, ptr: int, n: int) -> bytes:
    if ptr + n > mem.data_len(caller):
        raise WasiTrap(f"pointer out of bounds: [{ptr:#x}, {ptr + n:#x})")
    return bytes(mem.read(caller, ptr, ptr + n))


def _write(mem: wasmtime.Memory, caller: wasmtime.Caller, ptr: int, data: bytes) -> None:
    if ptr + len(data) > mem.data_len(caller):
        raise WasiTrap(f"pointer out of bounds: [{ptr:#x}, {ptr + len(data):#x})")
    mem.write(caller, data, ptr)
