"""A runner in front of a real runner: every line the harness sends is logged (its type, id and
module's SHA-256, one JSON line each, to the file named by the first argument) and passed on;
the real runner's output comes back unchanged. Usage: spy_runner.py LOG COMMAND..."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def main() -> int:
    log, command = sys.argv[1], sys.argv[2:]
    real = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=sys.stdout, text=True)
    assert real.stdin is not None
    with Path(log).open("a", encoding="utf-8") as out:
        for line in sys.stdin:
            doc = json.loads(line)
            out.write(json.dumps({"type": doc.get("type"), "id": doc.get("id"),
                                  "sha256": doc.get("module", {}).get("sha256")}) + "\n")
            out.flush()
            real.stdin.write(line)
            real.stdin.flush()
    real.stdin.close()
    return real.wait()


if __name__ == "__main__":
    sys.exit(main())
