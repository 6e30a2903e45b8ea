"""Cross-engine agreement: identical observations agree; any difference is found and named,
including differences the manifest does not pin; the manifest's declared freedoms do not count."""

from __future__ import annotations

import dataclasses

import pytest

from harness import agreement, manifest
from harness.manifest import ExportType
from harness.values import Value
from tests.test_verdict import UNDEFINED, case, good_observation, with_step  # noqa: F401  (fixture)


def test_identical_observations_agree(case):  # noqa: F811
    obs = good_observation(case)
    assert agreement.compare(case, {"a": obs, "b": obs, "c": obs}) is None


@pytest.mark.parametrize(("name", "mutate", "field"), [
    ("result", lambda o: with_step(o, 1, results=(Value("i32", 6),)), "step 1 (call add) results"),
    ("trap kind", lambda o: with_step(o, 3, trap="other"), "step 3 (call add) trap kind"),
    ("outcome", lambda o: with_step(o, 3, outcome="exit", code=2, trap=None), "step 3 (call add) outcome"),
    ("exit code", lambda o: with_step(o, 4, code=3), "step 4 (call add) exit code"),
    # stderr is pinned only by `contains`: the extra text passes the manifest, not agreement
    ("unpinned stderr", lambda o: with_step(o, 3, stderr=o.steps[3].stderr + b"note\n"),
     "step 3 (call add) stderr"),
    ("stdout", lambda o: with_step(o, 0, stdout=b"x"), "step 0 (call _initialize) stdout"),
    ("trace", lambda o: with_step(o, 1, trace=()), "step 1 (call add) host-call trace"),
    # the same kept prefix, a different whole: only the length and hash tell them apart
    ("stream past the limit", lambda o: with_step(o, 0, stdout=b"", stdout_len=9,
                                                  stdout_sha256="0" * 64),
     "step 0 (call _initialize) stdout"),
    ("load", lambda o: dataclasses.replace(o, load_ok=False), "module load"),
    ("exports", lambda o: dataclasses.replace(o, exports={"memory": ExportType("memory")}), "exports"),
    ("step count", lambda o: dataclasses.replace(o, steps=o.steps[:-1]), "step count"),
])
def test_a_difference_is_found_and_named(case, name, mutate, field):  # noqa: F811
    good = good_observation(case)
    d = agreement.compare(case, {"wasmtime": good, "wazero": good, "odd": mutate(good)})
    assert d is not None, name
    assert d.field == field
    assert d.groups == (("wasmtime", "wazero"), ("odd",)), "the majority first, then the outlier"
    assert len(d.values) == 2 and d.values[0] != d.values[1]
    assert "odd" in d.summary and field in d.render()


def test_a_nan_the_manifest_lets_vary_does_not_count(case):  # noqa: F811
    good = good_observation(case)
    other = with_step(good, 2, results=(Value("f64", 0x7FF8000000000000),))
    assert agreement.compare(case, {"a": good, "b": other}) is None


def test_durations_and_engine_messages_do_not_count(case):  # noqa: F811
    good = good_observation(case)
    other = with_step(with_step(good, 1, duration_ms=99.0), 3, message="RuntimeError: unreachable")
    assert agreement.compare(case, {"a": good, "b": other}) is None


def test_exports_are_compared_only_among_engines_that_reflect_them(case):  # noqa: F811
    good = good_observation(case)
    blind = dataclasses.replace(good, exports=None)
    assert agreement.compare(case, {"a": good, "b": blind}, frozenset({"a"})) is None
    assert agreement.compare(case, {"a": good, "b": blind}, frozenset({"a", "b"})) is not None


def test_an_undefined_outcome_may_differ_but_its_streams_may_not(manifest_file):
    path = manifest_file(UNDEFINED)
    m = manifest.load(path, root=path.parent.parent)
    good = good_observation(m)
    closed = with_step(good, 4, outcome="error", code=None, message="module closed")
    assert agreement.compare(m, {"a": good, "b": closed}) is None
    loud = with_step(closed, 4, stderr=b"x")
    d = agreement.compare(m, {"a": good, "b": loud})
    assert d is not None and d.field == "step 4 (call add) stderr"


@pytest.mark.parametrize(("groups", "listed", "explained"), [
    # three engines, three behaviours: the one without a listed divergence is the reference
    ((("bun",), ("deno",), ("node",)), {"bun": "no sock_accept", "node": "crashes"}, True),
    # the documented behaviour is in the minority: still explained
    ((("a", "b"), ("c",)), {"a": "x", "b": "y"}, True),
    # two engines without a listed divergence disagree: a real disagreement
    ((("a",), ("b",), ("c",)), {"c": "z"}, False),
    ((("a", "b"), ("c",)), {}, False),
])
def test_listed_divergences_explain_a_disagreement_only_if_the_rest_agree(groups, listed, explained):
    got = agreement.explained(groups, listed)
    assert (got is not None) == explained
    if explained:
        assert all(f"{e}: {r}" in got for e, r in listed.items())
