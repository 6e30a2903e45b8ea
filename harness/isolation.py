"""What a manifest may ask of a build: the rules that keep a case inside its own directory.

A manifest is untrusted input. Its build must be a pure function of the files it names: no host
programs (``-toolexec``, ``-extld``), no host files (absolute paths, ``..``, symlinks leaving the
manifest's directory, ``replace`` to a directory), no network and no other toolchain (``toolchain``
directives; the build also runs with ``GOPROXY=off`` and ``GOTOOLCHAIN=local``). Each check
returns the problem in words a case author can act on, or None.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

MAX_FILE_BYTES = 4 << 20  # every file of a case together: far above a real case
_NAME_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")

# go build flags a case may use: each maps to what its value may hold (None: no value).
_SAFE_GC = {"-N", "-l", "-B", "-m", "-S", "-live"}
_SAFE_LD = re.compile(r"^(-s|-w|-X=?[A-Za-z0-9_./-]+=[^\s'\"]*)$")
_TAGS = re.compile(r"^[A-Za-z0-9_.,]*$")
ALLOWED_FLAGS = ("-a", "-v", "-buildvcs=false", "-tags=T,...", "-gcflags=[all=]-N -l -B -m -S",
                 "-ldflags=-s -w -X name=value")


def file_name_problem(name: str) -> str | None:
    """A file of the case: relative, normalised, no parent or hidden parts, no backslashes."""
    path = PurePosixPath(name)
    if "\\" in name or path.is_absolute() or not name:
        return f"{name!r}: a file name must be a relative path with '/' separators"
    bad = [p for p in name.split("/") if not _NAME_PART.match(p)]
    if bad:
        return (f"{name!r}: each part of a file name is letters, digits, '_', '.' and '-', not "
                f"starting with '.' or '-' ({bad[0]!r} is not)")
    return None


def read_beside(manifest: Path, ref: str) -> str:
    """The text of a ``{path: ref}`` file: inside the manifest's own directory, also after every
    symlink is followed; raises ValueError saying why not."""
    problem = file_name_problem(ref)
    if problem:
        raise ValueError(problem)
    home = manifest.parent.resolve()
    target = (manifest.parent / ref).resolve()
    if not target.is_relative_to(home):
        raise ValueError(f"{ref!r} leads outside the manifest's directory {home}")
    if not target.is_file():
        raise ValueError(f"{ref!r} is not a file beside the manifest")
    if target.stat().st_size > MAX_FILE_BYTES:
        raise ValueError(f"{ref!r} is larger than {MAX_FILE_BYTES} bytes")
    return target.read_text(encoding="utf-8")


def flag_problem(flag: str) -> str | None:
    """One go build flag against the allow-list."""
    name, eq, value = flag.partition("=")
    name = "-" + name.lstrip("-")
    if flag in ("-a", "-v", "--a", "--v", "-buildvcs=false"):
        return None
    if name == "-tags" and eq and _TAGS.match(value):
        return None
    if name == "-gcflags" and eq:
        words = value.removeprefix("all=").split()
        if words and all(w in _SAFE_GC for w in words):
            return None
    if name == "-ldflags" and eq:
        words = value.removeprefix("all=").split()
        if words and all(_SAFE_LD.match(w) for w in _join_x(words)):
            return None
    return (f"build flag {flag!r} is not allowed (a case may not run host programs, read host "
            f"files or write elsewhere); allowed: {', '.join(ALLOWED_FLAGS)}")


def _join_x(words: list[str]) -> list[str]:
    """``-X name=value`` as one word, as the linker reads it."""
    out: list[str] = []
    for w in words:
        if out and out[-1] == "-X":
            out[-1] = f"-X={w}"
        else:
            out.append(w)
    return out


_DIRECTIVE = re.compile(r"^\s*(\w+)\b(.*)$")


def go_mod_problem(text: str) -> tuple[int, str] | None:
    """(line in go.mod, problem) for a directive that reaches outside the case."""
    block = ""
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split("//")[0].strip()
        if not line:
            continue
        if block and line == ")":
            block = ""
            continue
        m = _DIRECTIVE.match(line)
        directive, rest = (block, line) if block else ((m[1], m[2].strip()) if m else ("", line))
        if not block and rest == "(":
            block = directive
            continue
        if directive == "toolchain":
            return n, "a toolchain directive would fetch or run another Go; the suite chooses it"
        if directive == "replace" and "=>" in rest:
            target = rest.split("=>", 1)[1].split()
            if target and (target[0].startswith((".", "/")) or len(target) == 1):
                return n, (f"replace to a directory ({target[0]}) would compile host sources; "
                           "put the code in the case's files")
        if directive == "godebug" and "=" not in rest and not rest:
            continue
    return None
