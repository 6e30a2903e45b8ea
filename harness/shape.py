"""The module's shape as an engine reflects it, against the manifest: the export section (names,
types, order), the import section (module, name, kind, types, order) and the memory's pages.

Types of imports and memory limits are judged only on runners that declare they reflect them
(``import_types``, ``memory_types``); names, kinds and order always.
"""

from __future__ import annotations

from harness.manifest import Manifest
from harness.observation import Observation
from harness.problem import Problem

ALL_REFLECTION = frozenset({"import_types", "memory_types"})


def judge_shape(m: Manifest, obs: Observation, caps: frozenset[str] = ALL_REFLECTION
                ) -> list[Problem]:
    return [*judge_exports(m, obs), *judge_imports(m, obs, caps), *judge_memory(m, obs, caps)]


def judge_exports(m: Manifest, obs: Observation) -> list[Problem]:
    if m.exports is None:
        return []
    line = m.module_line or m.line
    if obs.exports is None:
        return [Problem("exports", line, "the export section", "the engine reported none")]
    problems = []
    for name in sorted(set(m.exports) | set(obs.exports)):
        want, got = m.exports.get(name), obs.exports.get(name)
        if want != got:
            problems.append(Problem(f"export {name!r}", line,
                                    str(want) if want else "(no such export)",
                                    str(got) if got else "(missing)"))
    if not problems and list(m.exports) != list(obs.exports):
        problems.append(Problem("export order", line, ", ".join(m.exports),
                                ", ".join(obs.exports)))
    return problems


def judge_imports(m: Manifest, obs: Observation, caps: frozenset[str]) -> list[Problem]:
    if m.import_section is None:
        return []
    line = m.module_line or m.line
    typed = "import_types" in caps
    want = [str(i) if typed else f"{i.module}.{i.name}: {i.type.kind}" for i in m.import_section]
    if obs.imports is None:
        return [Problem("imports", line, "\n".join(want), "the engine reported none")]
    got = [str(i) for i in obs.imports]
    if want != got:
        return [Problem("import section", line, "\n".join(want) or "(no imports)",
                        "\n".join(got) or "(no imports)")]
    return []


def judge_memory(m: Manifest, obs: Observation, caps: frozenset[str]) -> list[Problem]:
    if m.memory_pages is None or "memory_types" not in caps:
        return []
    got = obs.memories.get("memory")
    if got != m.memory_pages:
        return [Problem("memory pages", m.module_line or m.line, _pages(m.memory_pages),
                        _pages(got) if got else "(no memory limits reported)")]
    return []


def _pages(p: tuple[int, int | None]) -> str:
    return f"min {p[0]}, max {'none' if p[1] is None else p[1]}"
