"""A deliberately misbehaving runner, driven by its first argument, to test the harness.

Modes: ``ok`` answers every plan with a well-formed observation of an empty run; ``crash`` exits
on the first plan; ``hang`` never answers; ``garbage`` prints a non-JSON line; ``wrong-id``
answers for another plan; ``short`` reports fewer steps than planned; ``error`` reports a runner
error; ``no-hello`` never says hello; ``crash-once:FILE`` crashes unless FILE exists (and
creates it), so a restarted runner then works; ``grow`` keeps 64 MiB more after every plan.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

EMPTY = hashlib.sha256(b"").hexdigest()


def main() -> int:
    mode = sys.argv[1]
    if mode == "no-hello":
        time.sleep(60)
        return 0
    print(json.dumps({"type": "hello", "protocol": 3, "engine": "fake", "engine_version": "0",
                      "capabilities": []}), flush=True)
    held: list[bytearray] = []
    for line in sys.stdin:
        plan = json.loads(line)
        if mode.startswith("crash-once:"):
            marker = Path(mode.split(":", 1)[1])
            if not marker.exists():
                marker.write_text("crashed once")
                print("fake runner crashing", file=sys.stderr, flush=True)
                return 3
        elif mode == "crash":
            print("fake runner crashing", file=sys.stderr, flush=True)
            return 3
        elif mode == "hang":
            time.sleep(3600)
        elif mode == "garbage":
            print("this is not json", flush=True)
            continue
        elif mode == "grow":  # holds on to memory, as an engine might after a greedy guest
            held.append(bytearray(64 << 20))
        steps = [{"outcome": "ok", "results": [], "stdout_b64": "", "stderr_b64": "",
                  "stdout_len": 0, "stderr_len": 0, "stdout_sha256": EMPTY, "stderr_sha256": EMPTY,
                  "trace": [], "duration_ms": 0.1} for _ in plan["steps"]]
        obs = {"type": "observation", "protocol": 3, "id": plan["id"], "load": {"ok": True},
               "exports": [], "imports": [], "steps": steps}
        if mode == "wrong-id":
            obs["id"] = "something-else"
        elif mode == "short":
            obs["steps"] = steps[:-1]
        elif mode == "error":
            obs = {"type": "observation", "protocol": 3, "id": plan["id"], "error": "boom"}
        print(json.dumps(obs), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
