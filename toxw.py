#!/usr/bin/env python3
"""tox wrapper: runs a pinned tox from a private virtualenv, creating it on first use.

A fresh machine needs only Python 3.11+: ``python3 toxw.py -e wasmtime``. Every argument is passed
to tox. The virtualenv lives in ``.bootstrap/`` (delete it to start over).
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

TOX = "tox==4.67.15"
HERE = Path(__file__).resolve().parent
ENV = HERE / ".bootstrap" / "tox"
STAMP = ENV / "installed.txt"


def main() -> int:
    if sys.version_info < (3, 11):
        sys.exit(f"Python 3.11 or newer is needed, this is {sys.version.split()[0]}")
    python = ENV / "bin" / "python"
    if not STAMP.exists() or STAMP.read_text() != TOX:
        print(f"toxw: installing {TOX} into {ENV.relative_to(HERE)}", file=sys.stderr)
        venv.EnvBuilder(with_pip=True, clear=True).create(ENV)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet",
                        "--disable-pip-version-check", TOX], check=True)
        STAMP.write_text(TOX)
    os.chdir(HERE)
    return subprocess.run([str(python), "-m", "tox", *sys.argv[1:]], check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
