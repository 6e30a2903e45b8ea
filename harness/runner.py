"""Runners: the seam between the harness and an engine.

`Runner` is the one protocol every engine implements: ``run(plan) -> Observation``. The usual
implementation is `RunnerProcess`, a long-lived host program speaking runners/PROTOCOL.md over
stdin/stdout. A runner that crashes, hangs past the plan's deadline or prints garbage raises
`RunnerFailure` for that plan only; the process is restarted for the next one.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import jsonschema

from harness.observation import Observation, ProtocolError, decode
from harness.paths import SUITE
from harness.plan import PROTOCOL, deadline_s

REPO = SUITE  # the suite's own files (read-only when installed); see harness/paths.py
PROTOCOL_SCHEMA = REPO / "runners" / "protocol.schema.json"
CAPTURE_PLANS = "WASMEXPORT_CAPTURE_PLANS"  # a file every plan sent to a runner is appended to


class RunnerFailure(Exception):
    """The runner, not the engine, failed on this plan: crash, hang or garbage."""

    def __init__(self, kind: str, detail: str, stderr: str = "") -> None:
        self.kind, self.detail, self.stderr = kind, detail, stderr
        super().__init__(f"runner {kind}: {detail}" + (f"\n--- runner stderr ---\n{stderr}"
                                                        if stderr else ""))


class EngineUnavailable(Exception):
    """The engine is not installed here; the message says how to install it."""


@cache
def protocol_validator(part: str) -> jsonschema.protocols.Validator:
    """A validator for one message of runners/protocol.schema.json (`hello`, `plan`,
    `observation`), so an error names the path inside that message, not the top-level oneOf."""
    schema = json.loads(PROTOCOL_SCHEMA.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls({"$ref": f"#/$defs/{part}", "$defs": schema["$defs"]})


def schema_problem(part: str, doc: Any) -> str | None:
    """Where `doc` breaks the schema of `part`, with both paths, or None when it follows it."""
    error = jsonschema.exceptions.best_match(protocol_validator(part).iter_errors(doc))
    if error is None:
        return None
    schema_path = "/".join(map(str, error.schema_path))
    return f"{error.json_path}: {error.message} (runners/protocol.schema.json {schema_path})"


def rss_bytes(pid: int) -> int:
    """Resident memory of a process and its children (Linux /proc; 0 where it cannot be read)."""
    total = 0
    try:
        children = [int(c) for t in Path(f"/proc/{pid}/task").iterdir()
                    for c in (t / "children").read_text().split()]
    except OSError:
        children = []
    for p in (pid, *children):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) << 10
        except (OSError, ValueError):
            continue
    return total


@dataclass(frozen=True)
class EngineInfo:
    name: str
    version: str
    capabilities: frozenset[str]


class Runner(Protocol):
    """What the suite needs from an engine."""

    def info(self) -> EngineInfo: ...

    def run(self, plan: dict[str, Any]) -> Observation: ...

    def close(self) -> None: ...


@dataclass
class RunnerProcess:
    """A runner host program driven over JSON lines; restarted after any failure."""

    name: str
    command: Sequence[str]
    cwd: Path = SUITE
    env: dict[str, str] = field(default_factory=dict)
    hello_timeout_s: float = 60.0
    # How long compiling one module may take, beyond the steps' timeouts (plan.deadline_s).
    compile_allowance_s: float = 60.0
    # A runner whose process tree holds more than this after a plan is restarted before the next.
    max_rss_bytes: int = field(default_factory=lambda: int(
        os.environ.get("WASMEXPORT_RUNNER_MAX_RSS_MB", "1536")) << 20)
    restarts: int = 0
    _proc: subprocess.Popen[str] | None = None
    _lines: queue.Queue[str | None] | None = None
    _stderr: deque[str] = field(default_factory=lambda: deque(maxlen=200))
    _info: EngineInfo | None = None
    # The documents as the runner printed them (parsed, not decoded), for schema checks.
    hello: dict[str, Any] | None = field(default=None, init=False, repr=False)
    last_observation: dict[str, Any] | None = field(default=None, init=False, repr=False)
    _send: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def _start(self) -> None:
        env = {**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}
        try:
            self._proc = subprocess.Popen(
                list(self.command), cwd=self.cwd, env=env, stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1,
            )
        except OSError as e:
            raise RunnerFailure("crash", f"cannot start {self.command[0]}: {e}") from e
        self._lines = queue.Queue()
        self._stderr.clear()
        threading.Thread(target=self._pump, args=(self._proc, self._lines), daemon=True).start()
        threading.Thread(target=self._drain_err, args=(self._proc,), daemon=True).start()
        hello = self._read(self.hello_timeout_s, "hello")
        if hello.get("type") != "hello" or hello.get("protocol") != PROTOCOL:
            self._kill()
            raise RunnerFailure("garbage", f"expected a protocol {PROTOCOL} hello, got {hello}")
        problem = schema_problem("hello", hello)
        if problem is not None:  # checked once per process: cheap, and names the broken field
            self._kill()
            raise RunnerFailure("garbage", f"the hello breaks the protocol schema at {problem}",
                                self._stderr_tail())
        self.hello = hello
        self._info = EngineInfo(self.name, str(hello.get("engine_version", "?")),
                                frozenset(hello.get("capabilities", ())))

    @staticmethod
    def _pump(proc: subprocess.Popen[str], lines: queue.Queue[str | None]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    def _drain_err(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            self._stderr.append(line.rstrip("\n"))

    def _read(self, timeout: float, what: str) -> dict[str, Any]:
        assert self._lines is not None
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            self._kill()
            raise RunnerFailure("hang", f"no {what} within {timeout:.0f} s",
                                self._stderr_tail()) from None
        if line is None:
            code = self._proc.wait() if self._proc else None
            self._proc = None
            raise RunnerFailure("crash", f"exited with code {code} before sending the {what}",
                                self._stderr_tail())
        try:
            doc = json.loads(line)
        except json.JSONDecodeError:
            self._kill()
            raise RunnerFailure("garbage", f"not JSON where the {what} was due: {line[:200]!r}",
                                self._stderr_tail()) from None
        if not isinstance(doc, dict):
            self._kill()
            raise RunnerFailure("garbage", f"{what} is not a JSON object: {line[:200]!r}")
        return doc

    def _stderr_tail(self) -> str:
        return "\n".join(list(self._stderr)[-40:])

    def _kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None

    def info(self) -> EngineInfo:
        if self._info is None:
            self._start()
        assert self._info is not None
        return self._info

    def run(self, plan: dict[str, Any]) -> Observation:
        capture = os.environ.get(CAPTURE_PLANS)
        if capture:  # the plans of a run, for benchmarks (scripts/bench.py) and bug reports
            with Path(capture).open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(plan) + "\n")
        if self._proc is None or self._proc.poll() is not None:
            self._start()
        assert self._proc is not None and self._proc.stdin is not None
        try:
            with self._send:
                self._proc.stdin.write(json.dumps(plan) + "\n")
                self._proc.stdin.flush()
        except OSError as e:
            self._kill()
            raise RunnerFailure("crash", f"cannot send the plan: {e}", self._stderr_tail()) from e
        doc = self.last_observation = self._read(deadline_s(plan, self.compile_allowance_s),
                                                    "observation")
        try:
            obs = decode(doc, plan)
        except ProtocolError as e:
            self._kill()
            raise RunnerFailure("garbage", str(e), self._stderr_tail()) from e
        if self._proc is not None and rss_bytes(self._proc.pid) > self.max_rss_bytes:
            self.close()  # a guest grew it: give the memory back; the next plan starts it afresh
            self.restarts += 1
        return obs

    def preload(self, module: dict[str, Any], limits: dict[str, Any]) -> bool:
        """Tell a live runner that declares `preload` to start compiling `module` for a later
        plan (PROTOCOL.md "Preloads"); True if the line was sent. Never starts a runner."""
        proc, info = self._proc, self._info
        if proc is None or proc.stdin is None or info is None or "preload" not in info.capabilities:
            return False
        line = json.dumps({"type": "preload", "protocol": PROTOCOL, "module": module,
                           "limits": {"memory_bytes": limits["memory_bytes"]}})
        try:
            with self._send:
                proc.stdin.write(line + "\n")
                proc.stdin.flush()
        except (OSError, ValueError):  # gone, or closed meanwhile: its next plan restarts it
            return False
        return True

    def close(self) -> None:
        if self._proc is not None:
            if self._proc.stdin:
                self._proc.stdin.close()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
            self._proc = None
