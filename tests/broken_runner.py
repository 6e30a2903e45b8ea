"""The real wasmtime runner with one deliberate defect, to prove the suite catches broken engines.

``python tests/broken_runner.py MODE``; modes: ``flip-result`` (every i32 result + 1),
``extra-stdout`` (a stray line on stdout in every step), ``no-trap`` (traps reported as returns),
``exit-code`` (every exit code + 1), ``drop-export`` (the last export is not reported),
``quiet-nan`` (f32 results quieted, as a host holding floats as doubles would),
``stderr-note`` (a line appended to non-empty stderr: invisible to a ``contains`` expectation,
visible to cross-engine agreement), ``none`` (no defect: the real runner under another name).
"""

from __future__ import annotations

import base64
import hashlib
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import cachedir
from runners.wasmtime import host

MODES = ("flip-result", "extra-stdout", "no-trap", "exit-code", "drop-export", "quiet-nan",
         "stderr-note", "none")


def append(step: dict[str, Any], stream: str, extra: bytes) -> None:
    """Add `extra` to a step's stream as if the guest had written it: bytes, length and hash."""
    kept = base64.b64decode(step[f"{stream}_b64"])
    if step[f"{stream}_len"] != len(kept):
        return  # a truncated stream's full hash cannot be recomputed here: leave it whole
    step[f"{stream}_b64"] = base64.b64encode(kept + extra).decode()
    step[f"{stream}_len"] = len(kept + extra)
    step[f"{stream}_sha256"] = hashlib.sha256(kept + extra).hexdigest()


def mutate(mode: str, obs: dict[str, Any]) -> None:
    if mode == "drop-export" and obs.get("exports"):
        obs["exports"] = obs["exports"][:-1]
    for step in obs.get("steps", []):
        if mode == "flip-result":
            for v in step.get("results", []):
                if v["t"] == "i32":
                    v["v"] = str((int(v["v"]) + 1 + (1 << 31)) % (1 << 32) - (1 << 31))
        elif mode == "extra-stdout":
            append(step, "stdout", b"stray\n")
        elif mode == "no-trap" and step["outcome"] == "trap":
            step.update(outcome="ok", results=[])
        elif mode == "exit-code" and step["outcome"] == "exit":
            step["code"] += 1
        elif mode == "stderr-note" and step["stderr_b64"]:
            append(step, "stderr", b"engine note\n")
        elif mode == "quiet-nan":
            for v in step.get("results", []):
                if v["t"] == "f32":
                    v["v"] = f"0x{int(v['v'], 16) | 0x00400000:08x}"


def main() -> int:
    mode = sys.argv[1]
    if mode not in MODES:
        sys.exit(f"unknown mode {mode!r}; modes: {', '.join(MODES)}")
    execute = host.Run.execute

    def broken(self: host.Run) -> dict[str, Any]:
        obs = execute(self)
        mutate(mode, obs)
        return obs

    host.Run.execute = broken  # type: ignore[method-assign]
    return host.serve(cachedir.sub("compiled"))


if __name__ == "__main__":
    sys.exit(main())
