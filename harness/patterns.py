"""Regular expressions from manifests, matched in linear time.

A manifest is untrusted: Python's backtracking ``re`` lets a pattern such as ``(a+)+b`` hang the
whole run on a long stream. Patterns are compiled with RE2 (google-re2), whose matching time is
linear in the input, with a bound on the memory a pattern may use. RE2 has no backreferences or
lookaround; a pattern using them is refused where the manifest is loaded, with its line.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import re2

MAX_PATTERN_MEMORY = 64 << 20


class PatternError(ValueError):
    """The pattern is not one RE2 accepts; the message says why."""


@lru_cache(maxsize=1024)
def compile_pattern(text: str) -> Any:
    """`text` as a full-match pattern in which ``.`` also matches a newline."""
    options = re2.Options()
    options.dot_nl = True
    options.max_mem = MAX_PATTERN_MEMORY
    options.log_errors = False
    try:
        return re2.compile(text, options)
    except re2.error as e:
        raise PatternError(f"{text!r} is not a supported regular expression (RE2 syntax: no "
                           f"backreferences or lookaround): {e}") from None


def full_match(text: str, subject: str) -> bool:
    return compile_pattern(text).fullmatch(subject) is not None
