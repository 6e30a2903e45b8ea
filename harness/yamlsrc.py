"""YAML loading that remembers line numbers and refuses duplicate keys.

Every mapping and sequence comes back as `LineDict` / `LineList` carrying the 1-based line where it
starts, so an error deep inside a manifest can name the line the author wrote.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml


class YamlError(Exception):
    """A YAML file that cannot be read: names the file, the line and the problem."""

    def __init__(self, path: Path, line: int | None, message: str) -> None:
        self.path, self.line, self.message = path, line, message
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {message}")


class LineDict(dict[str, Any]):
    line: int = 0
    key_lines: dict[Any, int]


class LineList(list[Any]):
    line: int = 0


# libyaml's parser (the C loader) gives the same documents and line marks, several times faster;
# the pure-Python one is the fallback where PyYAML was built without it.
_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):  # type: ignore[valid-type,misc]
    pass


def _mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first at line {seen[key]})", key_node.start_mark
            )
        seen[key] = key_node.start_mark.line + 1
    out = LineDict(loader.construct_mapping(node, deep=True))
    out.line = node.start_mark.line + 1
    out.key_lines = seen
    return out


def _sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    out = LineList(loader.construct_sequence(node, deep=True))
    out.line = node.start_mark.line + 1
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)


def load(path: Path, text: str | None = None) -> Any:
    """Parse one YAML document (`text`, else the file's); raises YamlError with the line of the
    problem."""
    if text is None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise YamlError(path, None, f"cannot read: {e}") from e
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else None
        raise YamlError(path, line, f"{e.problem or e.context}") from e
    except yaml.YAMLError as e:
        raise YamlError(path, None, str(e)) from e


def line_at(doc: Any, path: Sequence[str | int]) -> int | None:
    """The line of the deepest node on `path` that knows its line."""
    line = getattr(doc, "line", None)
    node = doc
    for key in path:
        try:
            child = node[key]
        except (KeyError, IndexError, TypeError):
            break
        line = getattr(node, "key_lines", {}).get(key) or getattr(child, "line", None) or line
        node = child
    return line


def dotted(path: Sequence[str | int]) -> str:
    """``['script', 2, 'expect']`` -> ``script[2].expect``."""
    out = ""
    for key in path:
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else str(key))
    return out or "(top level)"
