"""Adapter for Bun: the shared JavaScript runner (runners/js/host.mjs) on Bun from npm.

Bun comes from the pinned npm install (runners/js/package-lock.json, see runners/js/npm.py),
made once in the shared cache. The runner links Bun's own `node:wasi` and runs each instance in
an executor process on its main thread (Bun cannot stop a Wasm loop in a worker; see
runners/js/platform.mjs).
No auto-install of packages, no crash-report upload.
"""

from __future__ import annotations

from harness.runner import RunnerProcess
from runners.js import HOST, npm

NAME = "bun"
TARGETS = ("wasip1", "js")  # js: Go's wasm_exec.js in a realm of its own (runners/js/gojs.mjs)
INSTALL = npm.INSTALL.format(engine="bun")


def make_runner() -> RunnerProcess:
    bun = npm.binary(NAME)
    env = {"DO_NOT_TRACK": "1", "NO_COLOR": "1"}
    return RunnerProcess(NAME, [str(bun), "--no-install", str(HOST)], env=env)
