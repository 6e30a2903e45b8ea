"""Adapter for Node.js: the system `node` runs the shared JavaScript runner (runners/js/host.mjs).

Node's own WASI (`node:wasi`, preview1) links the guest; node >= 20 is needed for its
``version: 'preview1'`` option. The instance runs in an executor process that the runner starts
with the same node and flags (runners/js/remote.mjs), so a crash inside node's WASI costs one
plan, not the runner. The runner's hello declares its capabilities.
"""

from __future__ import annotations

from harness.runner import RunnerProcess
from runners import npmci
from runners.js import HOST

NAME = "node"
TARGETS = ("wasip1", "js")  # js: Go's wasm_exec.js in a realm of its own (runners/js/gojs.mjs)
INSTALL = "install Node.js 20 or newer (https://nodejs.org, or e.g. `apt-get install nodejs`)"
MIN_MAJOR = 20


def make_runner() -> RunnerProcess:
    node = npmci.system_node(MIN_MAJOR, INSTALL)
    # --no-warnings: node:wasi's ExperimentalWarning would go to stderr on every instance.
    # --no-turbo-fast-api-calls: Wasm reaches node:wasi's functions through V8 fast API calls by
    # default, where uvwasi's allocations can start a GC that a fast call must not run
    # (nodejs/node#46777); here that crashed node with SIGSEGV in about one run of the suite in
    # ten. The flag keeps the same WASI functions behind V8's regular call path. The executor
    # process inherits both flags.
    return RunnerProcess(NAME, [node, "--no-warnings", "--no-turbo-fast-api-calls", str(HOST)])
