"""Adapter for Deno: the shared JavaScript runner (runners/js/host.mjs) on Deno from npm.

Deno comes from the pinned npm install (runners/js/package-lock.json, see runners/js/npm.py),
made once in the shared cache. The runner links Deno's own `node:wasi`. Permissions are only
what the runner needs: start its executor process (Deno itself, see runners/js/remote.mjs) and
pass it the variables below and the module cache's budget; the executor reads the modules and
opens /dev/null for the guest's stdio (so does bench mode, which runs instances in the runner's
own process). No update check, no prompts, Deno's own cache under the suite's cache.
"""

from __future__ import annotations

from harness.runner import RunnerProcess
from runners.js import HOST, npm

NAME = "deno"
TARGETS = ("wasip1", "js")  # js: Go's wasm_exec.js in a realm of its own (runners/js/gojs.mjs)
INSTALL = npm.INSTALL.format(engine="deno")


def make_runner() -> RunnerProcess:
    deno = npm.binary(NAME)
    env = {"DENO_NO_UPDATE_CHECK": "1", "DENO_NO_PROMPT": "1", "DENO_DIR": str(npm.scratch(NAME)),
           "NO_COLOR": "1"}
    # Deno's node:child_process also reads NODE_V8_COVERAGE, to hand it to every child.
    readable = ",".join([*env, "NODE_V8_COVERAGE", "WASMEXPORT_MODULE_CACHE_MB"])
    return RunnerProcess(NAME, [str(deno), "run", "--quiet", "--no-prompt", "--allow-read",
                                "--allow-write=/dev/null", f"--allow-run={deno}",
                                f"--allow-env={readable}", str(HOST)], env=env)
