"""Named subsets of the cases (`manifests/subsets.yaml`), for engines too slow to run every case.

``--subset ENGINE[,ENGINE...]=NAME`` runs those engines on the subset's cases only; every other
engine still runs every selected case, and a case's agreement compares the engines that ran it.
A subset lists case ids or fnmatch patterns of them (``types/*``); each must match a case, and
each area of the manifests must be covered, so a subset stays a cross-section as cases come and
go. `tests/test_subsets.py` holds the file to both rules.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path

from harness.yamlsrc import YamlError, line_at
from harness.yamlsrc import load as load_yaml

FILE = "subsets.yaml"


@dataclass(frozen=True)
class Subset:
    name: str
    description: str
    patterns: tuple[str, ...]

    def __contains__(self, case: str) -> bool:
        return any(fnmatch.fnmatchcase(case, p) for p in self.patterns)


def load(root: Path) -> dict[str, Subset]:
    """The subsets of the manifests under `root`; none when the file is absent. Raises
    YamlError naming the line of a malformed entry."""
    path = root / FILE
    if not path.exists():
        return {}
    doc = load_yaml(path)
    if not isinstance(doc, dict):
        raise YamlError(path, 1, "expected a mapping of subset names to {description, cases}")
    out: dict[str, Subset] = {}
    for name, body in doc.items():
        line = line_at(doc, [name])
        if not isinstance(body, dict) or set(body) != {"description", "cases"}:
            raise YamlError(path, line, f"subset {name!r}: expected exactly `description` and `cases`")
        cases = body["cases"]
        if not isinstance(body["description"], str) or not isinstance(cases, list) or not cases \
                or not all(isinstance(c, str) and c for c in cases):
            raise YamlError(path, line, f"subset {name!r}: `description` is text and `cases` a "
                                        "non-empty list of case ids or patterns")
        out[str(name)] = Subset(str(name), body["description"], tuple(cases))
    return out


def problems(subset: Subset, cases: list[str]) -> list[str]:
    """What is wrong with `subset` against the case ids that exist: patterns matching nothing,
    areas not covered."""
    out = [f"{p!r} matches no case" for p in subset.patterns if not fnmatch.filter(cases, p)]
    areas = sorted({c.split("/")[0] for c in cases})
    out += [f"area {a!r} has no case in it" for a in areas
            if not any(c in subset for c in cases if c.startswith(a + "/"))]
    return out


def parse_option(values: list[str], known: dict[str, Subset], engines: list[str]) -> dict[str, Subset]:
    """``["graalwasm,chicory=smoke"]`` -> {engine: subset}; raises ValueError saying what is
    wrong (an unknown subset or engine, an engine limited twice)."""
    out: dict[str, Subset] = {}
    for value in values:
        names, sep, subset = value.partition("=")
        if not sep or not names.strip() or not subset.strip():
            raise ValueError(f"--subset {value!r}: expected ENGINE[,ENGINE...]=SUBSET")
        if subset.strip() not in known:
            raise ValueError(f"--subset {value!r}: no subset {subset.strip()!r}; known: "
                             f"{', '.join(sorted(known)) or '(none: no manifests/subsets.yaml)'}")
        for name in (n.strip() for n in names.split(",") if n.strip()):
            if name not in engines:
                raise ValueError(f"--subset {value!r}: {name!r} is not among the engines of this run "
                                 f"({', '.join(engines)})")
            if name in out:
                raise ValueError(f"--subset: {name!r} is limited twice")
            out[name] = known[subset.strip()]
    return out
