"""The C YAML loader gives every manifest exactly the documents and line marks of the pure-Python
one (so speed costs nothing in file:line errors)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from harness import yamlsrc

REPO = Path(__file__).resolve().parent.parent


class _Pure(yaml.SafeLoader):
    pass


_Pure.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, yamlsrc._mapping)  # type: ignore[arg-type]
_Pure.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, yamlsrc._sequence)  # type: ignore[arg-type]


def _marks(doc: Any) -> Any:
    if isinstance(doc, dict):
        return [doc.line, doc.key_lines, *(_marks(v) for v in doc.values())]
    if isinstance(doc, list):
        return [doc.line, *(_marks(v) for v in doc)]
    return doc


def test_the_c_loader_is_in_use():
    if not yaml.__with_libyaml__:
        pytest.skip("PyYAML was built without libyaml here")
    assert issubclass(yamlsrc._Loader, yaml.CSafeLoader)


@pytest.mark.parametrize("path", sorted((REPO / "manifests").rglob("*.yaml")),
                         ids=lambda p: str(p.relative_to(REPO)))
def test_documents_and_lines_are_those_of_the_pure_loader(path):
    fast = yamlsrc.load(path)
    pure = yaml.load(path.read_text(encoding="utf-8"), Loader=_Pure)
    assert fast == pure
    assert _marks(fast) == _marks(pure)
