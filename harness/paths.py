"""Where the suite's own files are, and where a run's outputs go: two places that must not mix.

`SUITE` holds manifests/ and runners/: the directory above the `harness` package, which is the
clone in a checkout and site-packages in an installed suite. An installed suite may be
read-only and is shared by everyone using that environment, so nothing is ever written under
`SUITE`. Outputs belong to whoever runs the suite: results and reports under the working
directory (`OUTPUT`), reusable builds and compiled modules in the cache (harness/cachedir.py).
"""

from __future__ import annotations

from pathlib import Path

SUITE = Path(__file__).resolve().parent.parent
MANIFESTS = SUITE / "manifests"
RUNNERS = SUITE / "runners"

# Relative on purpose: resolved against the directory the suite is run from, never SUITE.
OUTPUT = Path("reports") / "out"
DEFAULT_RESULTS = OUTPUT / "results.jsonl"

