"""Values: every spelling decodes to the right bits and every protocol value round-trips."""

from __future__ import annotations

import pytest

from harness import values
from harness.values import Value, ValueError_


@pytest.mark.parametrize(("doc", "bits"), [
    ({"i32": -1}, 0xFFFFFFFF),
    ({"i32": 4294967295}, 0xFFFFFFFF),
    ({"i32": "0x80000000"}, 0x80000000),
    ({"i64": "-9223372036854775808"}, 1 << 63),
    ({"i64": 18446744073709551615}, (1 << 64) - 1),
    ({"f64": -0.0}, 1 << 63),
    ({"f64": "-0.0"}, 1 << 63),
    ({"f64": "inf"}, 0x7FF0000000000000),
    ({"f64": "-inf"}, 0xFFF0000000000000),
    ({"f64": "nan"}, 0x7FF8000000000000),
    ({"f32": "nan"}, 0x7FC00000),
    ({"f32": "0x7fa00001"}, 0x7FA00001),
    ({"f32": 1.5}, 0x3FC00000),
    ({"f64": 1}, 0x3FF0000000000000),
])
def test_manifest_spellings(doc, bits):
    assert values.from_manifest(doc).bits == bits


@pytest.mark.parametrize("doc", [
    {"i32": 1 << 32}, {"i32": -(1 << 31) - 1}, {"i32": 1.5}, {"i32": True}, {"f32": 0.1},
    {"f32": 1e39}, {"f64": "pi"}, {"i16": 1}, {"i32": 1, "i64": 2}, {"f32": "0x1ffffffff"},
    {"i32": "nan:any"},
])
def test_bad_spellings_are_refused(doc):
    with pytest.raises(ValueError_):
        values.pattern_from_manifest(doc)


@pytest.mark.parametrize("v", [
    Value("i32", 0), Value("i32", 0xFFFFFFFF), Value("i32", 0x80000000),
    Value("i64", 0), Value("i64", (1 << 64) - 1), Value("i64", 1 << 63),
    Value("f32", 0x7FA00001), Value("f32", 0x80000000), Value("f32", 0xFF800000),
    Value("f64", 0x7FF0000000000001), Value("f64", 1 << 63), Value("f64", 0xFFF8000000000000),
])
def test_protocol_round_trip(v):
    assert values.from_protocol(v.to_protocol()) == v


@pytest.mark.parametrize("doc", [
    {"t": "i32", "v": "2147483648"}, {"t": "i32", "v": "0x1"}, {"t": "f32", "v": "1.5"},
    {"t": "i8", "v": "1"}, {"t": "i32", "v": 1}, {"t": "i32"}, [1],
])
def test_protocol_garbage_is_refused(doc):
    with pytest.raises(ValueError_):
        values.from_protocol(doc)


def test_nan_any_matches_every_nan_and_nothing_else():
    p = values.pattern_from_manifest({"f64": "nan:any"})
    assert p.matches(Value("f64", 0x7FF8000000000000))
    assert p.matches(Value("f64", 0xFFF0000000000001))
    assert not p.matches(Value("f64", 0x7FF0000000000000))  # inf
    assert not p.matches(Value("f32", 0x7FC00000))  # wrong type


def test_exact_nan_patterns_compare_payloads():
    p = values.pattern_from_manifest({"f32": "0x7fa00001"})
    assert p.matches(Value("f32", 0x7FA00001))
    assert not p.matches(Value("f32", 0x7FE00001)), "a quieted NaN is a different value"


def test_display_shows_signed_integers_and_float_bits():
    assert str(Value("i32", 0xFFFFFFFF)) == "i32:-1"
    assert str(Value("f64", 1 << 63)) == "f64:-0 (0x8000000000000000)"
    assert str(Value("f32", 0x7FA00001)) == "f32:nan (0x7fa00001)"
