"""A difference between expectation and observation, and how a failure report shows it."""

from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One difference between expectation and observation."""

    where: str
    line: int | None
    expected: str
    observed: str

    def render(self) -> str:
        at = f" (manifest line {self.line})" if self.line else ""
        exp, obs = self.expected, self.observed
        if "\n" in exp or "\n" in obs:
            diff = "\n".join(difflib.unified_diff(exp.splitlines(), obs.splitlines(),
                                                  "expected", "observed", lineterm="", n=2))
            return f"{self.where}{at}:\n{_indent(diff)}"
        return f"{self.where}{at}:\n    expected: {exp}\n    observed: {obs}"

    def as_dict(self) -> dict[str, object]:
        return {"where": self.where, "line": self.line, "expected": self.expected,
                "observed": self.observed}


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())
