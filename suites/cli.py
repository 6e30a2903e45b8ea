"""``wasmexport-conformance``: the conformance suite of an installed package, run from anywhere.

It runs pytest on the suite's manifests/ and passes every argument on, so
``wasmexport-conformance --engine wasmtime -k int32-add`` is the conformance run of
``pytest manifests --engine wasmtime -k int32-add`` in a clone. Only the suite's own pytest
configuration (suites/conformance.ini) applies: a pytest.ini, tox.ini or pyproject.toml around the
working directory, or around the environment the suite is installed in, must not change how
cases are judged. The suite itself may be read-only, so every output goes under the working
directory: results to reports/out/results.jsonl unless ``--results`` says otherwise, and pytest's
cache (for ``--lf`` and ``--ff``) to .pytest_cache.

Item ids are relative to the suite, as in a clone (``manifests/types/int32-add.yaml::…``); such
an id or path, as the ``rerun:`` lines print it, selects those items of the installed suite
instead of the whole of manifests/.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from harness.paths import DEFAULT_RESULTS, MANIFESTS, SUITE

CONFIG = Path(__file__).resolve().with_name("conformance.ini")


def _suite_item(arg: str, cwd: Path) -> str | None:
    """`arg` made absolute when it is a ``manifests/…`` path or item id of the suite and names
    nothing under `cwd`; None for anything else (options, their values, the user's own paths)."""
    path, sep, rest = arg.partition("::")
    if Path(path).parts[:1] != ("manifests",) or (cwd / path).exists():
        return None
    if not (SUITE / path).exists():
        return None
    return f"{SUITE / path}{sep}{rest}"


def pytest_args(argv: Sequence[str], cwd: Path) -> list[str]:
    """The pytest command line for `argv`: the suite's configuration, root and plugin first, then
    the user's arguments, which win where they repeat an option (``--results``, ``-o``)."""
    user: list[str] = []
    selects = False
    for arg in argv:
        item = _suite_item(arg, cwd)
        selects = selects or item is not None
        user.append(item if item is not None else arg)
    return [
        "-c", str(CONFIG),  # this file and no other: also sets confcutdir, so no stray conftest.py
        "--rootdir", str(SUITE),  # item ids read manifests/<area>/<case>.yaml::… as in a clone
        "-p", "suites.plugin",  # also where entry points are not loaded (PYTEST_DISABLE_PLUGIN_AUTOLOAD)
        "-o", f"cache_dir={cwd / '.pytest_cache'}",  # the default is under the rootdir: the suite
        # The console script imported `suites` and `harness` before pytest could mark them for
        # assertion rewriting; their other modules are rewritten as usual.
        "-W", "ignore:Module already imported so cannot be rewritten:pytest.PytestAssertRewriteWarning",
        "--results", str(cwd / DEFAULT_RESULTS),
        *([] if selects else [str(MANIFESTS)]),
        *user,
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the conformance suite; pytest's exit code."""
    args = sys.argv[1:] if argv is None else list(argv)
    # pytest rewrites the asserts of every module of a distribution with a pytest11 entry point,
    # and caches the result beside the module: in the installed suite. No bytecode is written by
    # this process, its xdist workers or its runners (pip compiled the suite when installing it).
    sys.dont_write_bytecode = True
    os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
    return int(pytest.main(pytest_args(args, Path.cwd())))


if __name__ == "__main__":
    sys.exit(main())
