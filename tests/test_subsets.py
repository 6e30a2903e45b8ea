"""Named subsets (harness/subsets.py): the file itself, and ``--subset`` in a real run."""

from __future__ import annotations

import subprocess
import sys

import pytest

from harness import manifest, subsets
from harness.manifest import MANIFEST_DIR, case_id
from harness.paths import SUITE
from harness.yamlsrc import YamlError

CASES = sorted(case_id(p, MANIFEST_DIR) for p in MANIFEST_DIR.glob("*/*.yaml"))


@pytest.mark.parametrize("name", sorted(subsets.load(MANIFEST_DIR)))
def test_every_subset_matches_cases_and_covers_every_area(name):
    assert subsets.problems(subsets.load(MANIFEST_DIR)[name], CASES) == []


def test_problems_name_dead_patterns_and_missing_areas():
    s = subsets.Subset("s", "d", ("types/*", "gone/case"))
    assert subsets.problems(s, ["types/a", "lifecycle/b"]) == [
        "'gone/case' matches no case", "area 'lifecycle' has no case in it"]


def test_a_malformed_file_names_its_line(tmp_path):
    (tmp_path / subsets.FILE).write_text("ok:\n  description: x\n  cases: [a/b]\nbad:\n  cases: 3\n")
    with pytest.raises(YamlError, match=r"subsets.yaml:4: subset 'bad'"):
        subsets.load(tmp_path)


def test_the_option_refuses_unknown_subsets_and_engines():
    known = {"s": subsets.Subset("s", "d", ("a/*",))}
    assert subsets.parse_option(["x,y=s"], known, ["x", "y", "z"]) == {"x": known["s"], "y": known["s"]}
    refused = [(["x=t"], "no subset 't'"), (["q=s"], "'q' is not among"),
               (["x=s", "x=s"], "limited twice"), (["x"], "expected ENGINE")]
    for bad, why in refused:
        with pytest.raises(ValueError, match=why):
            subsets.parse_option(bad, known, ["x", "y"])


def collect(*args: str) -> subprocess.CompletedProcess[str]:
    """A real collection of every case with these options."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "manifests", "--collect-only", "-q", "-p", "no:cacheprovider",
         *args], check=False, cwd=SUITE, capture_output=True, text=True, timeout=300)


def cases_by_engine(out: subprocess.CompletedProcess[str], *names: str) -> dict[str, set[str]]:
    """{engine: the cases it has an item of} from a collection's output."""
    ids = [line for line in out.stdout.splitlines() if "::" in line]
    return {e: {i.split("::")[0].removeprefix("manifests/").removesuffix(".yaml")
                for i in ids if f"::{e}[" in i} for e in names}


def test_a_limited_engine_runs_only_the_subset_and_the_others_run_everything(tmp_path):
    """A real collection: wazero limited to the cross-section, wasmtime on every case."""
    out = collect("--engine", "wasmtime,wazero", "--subset", "wazero=cross-section")
    assert out.returncode == 0, out.stdout + out.stderr
    ran = cases_by_engine(out, "wasmtime", "wazero")
    section = subsets.load(MANIFEST_DIR)["cross-section"]
    wasip1 = {c for c in CASES if "wasip1" in manifest.load(MANIFEST_DIR / f"{c}.yaml").targets}
    assert ran["wasmtime"] == wasip1  # js-only cases have no item on a wasip1 engine
    assert ran["wazero"] == {c for c in wasip1 if c in section} and len(ran["wazero"]) < len(wasip1)
    bad = collect("--engine", "wasmtime", "--subset", "wazero=cross-section")
    assert bad.returncode == 4 and "'wazero' is not among the engines" in bad.stderr


def test_an_agreement_is_collected_only_where_two_engines_run_the_case():
    """Both engines limited: a case outside the subset has no engine item, so no agreement item
    either (it would only skip); a case inside keeps its agreement."""
    out = collect("--engine", "wasmtime,wazero", "--subset", "wasmtime,wazero=cross-section")
    assert out.returncode == 0, out.stdout + out.stderr
    case = cases_by_engine(out, "wasmtime", "agreement")
    section = subsets.load(MANIFEST_DIR)["cross-section"]
    assert case["wasmtime"] and all(c in section for c in case["wasmtime"])
    # (cases judged on their build alone have no agreement item anywhere)
    assert case["agreement"] and case["agreement"] <= case["wasmtime"]
