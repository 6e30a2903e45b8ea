"""Adapter for the browser runner: the system's Firefox ESR and Chromium, headless.

One Node.js host (runners/browser/host.mjs, system `node` >= 20) drives either browser with
npm's puppeteer-core (pinned in package-lock.json, installed into the shared cache on first
use: runners/npmci.py) and runs each plan in a page it serves itself on 127.0.0.1; the
instance lives in a Web Worker. Never downloads a browser: a missing one is EngineUnavailable
with the apt command. The runner's hello declares its capabilities.
"""

from __future__ import annotations

import shutil

from harness.runner import EngineUnavailable, RunnerProcess
from runners import npmci
from runners.browser import HOST

CONFIGURATIONS = {
    "firefox": "SpiderMonkey in headless Firefox ESR (Debian firefox-esr), over WebDriver BiDi",
    "chromium": "V8 in headless Chromium (Debian chromium), over the DevTools protocol",
}
TARGETS = ("wasip1", "js")  # js: Go's wasm_exec.js in a worker of its own (page/goworker.mjs)
INSTALL = ("apt-get update && apt-get install -y chromium firefox-esr nodejs npm "
           "(Node.js 20 or newer; the runner installs puppeteer-core from npm itself)")
_BINARIES = {"firefox": ("firefox-esr", "firefox"), "chromium": ("chromium", "chromium-browser")}
MIN_NODE = 20
LOCK = (HOST.parent / "package.json", HOST.parent / "package-lock.json")


def make_runner(name: str) -> RunnerProcess:
    if name not in CONFIGURATIONS:
        raise KeyError(f"unknown browser {name!r}; known: {', '.join(CONFIGURATIONS)}")
    found = [p for b in _BINARIES[name] if (p := shutil.which(b))]
    if not found:
        raise EngineUnavailable(f"no {' or '.join(_BINARIES[name])} on PATH; {INSTALL}")
    node = npmci.system_node(MIN_NODE, INSTALL)
    modules = npmci.node_modules("browser-npm", LOCK, INSTALL)
    return RunnerProcess(name, [node, str(HOST), "--engine", name, "--executable", found[0],
                                "--modules", str(modules)], hello_timeout_s=120.0)
