"""Go release names and version ranges (``go1.24.3``, ``>=1.24,<1.26``)."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

# go1.24.3 (a release), go1.25 (a minor release: Go names no release so), go1.27rc1 / go1.24beta1
# (pre-releases, which exist only for a minor release: there is no go1.27.1rc1)
_RELEASE = re.compile(r"^go(\d+)\.(\d+)(?:\.(\d+)|(rc|beta)(\d+))?$")
_CLAUSE = re.compile(r"^\s*(>=|<=|>|<|==)\s*(\d+)\.(\d+)(?:\.(\d+))?\s*$")
_OPS: dict[str, Callable[[tuple[int, ...], tuple[int, ...]], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
}


def parse_release(name: str) -> tuple[int, int, int]:
    """``go1.24.3`` -> (1, 24, 3); ``go1.25`` -> (1, 25, 0). Pre-releases sort as their base."""
    m = _RELEASE.match(name.strip())
    if not m:
        raise ValueError(f"{name!r} is not a Go release name such as go1.24.3")
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)


def is_prerelease(name: str) -> bool:
    """``go1.27rc1``, ``go1.24beta1``: a release of its own, never a stand-in for another."""
    m = _RELEASE.match(name.strip())
    return bool(m and m.group(4))


def is_minor(name: str) -> bool:
    """``go1.25``: no release has that name; it stands for the newest ``go1.25.N``."""
    m = _RELEASE.match(name.strip())
    return bool(m and m.group(3) is None and m.group(4) is None)


@dataclass(frozen=True)
class VersionRange:
    """A conjunction of comparisons on (major, minor, patch); a missing patch compares as 0."""

    text: str
    clauses: tuple[tuple[str, tuple[int, int, int]], ...]

    @classmethod
    def parse(cls, text: str) -> VersionRange:
        clauses = []
        for part in text.split(","):
            m = _CLAUSE.match(part)
            if not m:
                raise ValueError(f"bad version clause {part.strip()!r} in {text!r}")
            op, major, minor, patch = m.groups()
            clauses.append((op, (int(major), int(minor), int(patch or 0))))
        return cls(text.strip(), tuple(clauses))

    def contains(self, version: tuple[int, int, int]) -> bool:
        return all(_OPS[op](version, bound) for op, bound in self.clauses)

    def __str__(self) -> str:
        return self.text


ALL_RELEASES = VersionRange.parse(">=1.24")
WASMEXPORT = (1, 24, 0)  # the first release with //go:wasmexport
