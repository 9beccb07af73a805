"""The fast canonical JSON is RFC 8785: byte for byte what ``rfc8785`` gives, or the same refusal."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from flowker.domain.canonical_json import (
    MAX_SAFE_INTEGER,
    CanonicalizationError,
    canonical,
    canonical_parsed,
    representable,
)

_text = st.text(st.characters(codec="utf-8")) | st.text()  # the second may hold lone surrogates
_keys = st.text(max_size=8) | st.sampled_from(["a", "b", "A", "\ue000", "\U0001f600", "é", "", "aa"])
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.floats()
    | _text
)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(_keys, inner, max_size=6),
    max_leaves=30,
)


def _reference(value: Any) -> bytes | type[Exception]:
    try:
        return rfc8785.dumps(value)
    except (CanonicalizationError, ValueError):
        return CanonicalizationError


def _ours(value: Any, function: Any = canonical) -> bytes | type[Exception]:
    try:
        return function(value)
    except CanonicalizationError:
        return CanonicalizationError


@settings(max_examples=800, deadline=None)
@given(_json)
def test_canonical_is_rfc8785_for_any_json_value(value: Any) -> None:
    assert _ours(value) == _reference(value)


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(_keys, _scalars, max_size=12))
def test_canonical_is_rfc8785_for_flat_objects(value: dict[str, Any]) -> None:
    assert _ours(value) == _reference(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # RFC 8785 §3.2.2.3 numbers and §3.2.3 ordering, as in its examples.
        ({"b": 1, "a": 2}, b'{"a":2,"b":1}'),
        (1.0, b"1"),
        (1e21, b"1e+21"),
        (1e-7, b"1e-7"),
        (0.000001, b"0.000001"),
        ({"\U0001f600": 1, "\ue000": 2}, '{"\U0001f600":1,"\ue000":2}'.encode()),
        ("\u2028\x7f\x1f\n", b'"\xe2\x80\xa8\x7f\\u001f\\n"'),
    ],
)
def test_known_answers(value: Any, expected: bytes) -> None:
    assert canonical(value) == expected == rfc8785.dumps(value)


@pytest.mark.parametrize("value", [2**53, -(2**53), float("nan"), float("inf"), "\ud800", {"k": "\udfff"}])
def test_values_without_a_canonical_form_are_refused(value: Any) -> None:
    with pytest.raises(CanonicalizationError):
        canonical(value)


@settings(max_examples=300, deadline=None)
@given(_json)
def test_representable_values_always_have_canonical_bytes(value: Any) -> None:
    canonical(representable(value))


_tricky = st.sampled_from(
    ['":1.5', '":1e5', '":-2E3', '":1234567890123456', '\\":0.5', "12:00:00.000000Z", "[", "é"]
)
_parsed_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(codec="utf-8"))
    | _tricky
)
_parsed_keys = _keys.filter(lambda k: not any(0xD800 <= ord(c) <= 0xDFFF for c in k)) | _tricky
_parsed_objects = st.dictionaries(
    _parsed_keys,
    st.recursive(
        _parsed_scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_parsed_keys, inner, max_size=5),
        max_leaves=20,
    ),
    max_size=8,
)


@settings(max_examples=600, deadline=None)
@given(_parsed_objects)
def test_canonical_parsed_is_rfc8785_for_any_object_read_from_json(value: dict[str, Any]) -> None:
    parsed = orjson.loads(orjson.dumps(value))
    assert _ours(parsed, canonical_parsed) == _reference(parsed)


@settings(max_examples=300, deadline=None)
@given(_parsed_scalars | st.lists(_parsed_scalars, max_size=4))
def test_canonical_parsed_is_rfc8785_for_other_values_read_from_json(value: Any) -> None:
    parsed = orjson.loads(orjson.dumps(value))
    assert _ours(parsed, canonical_parsed) == _reference(parsed)


def test_a_typical_event_read_from_json_takes_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    from flowker.domain import canonical_json
    from tests.helpers.audit_log import build_log

    record = orjson.loads(orjson.dumps(build_log(1)[0]))
    expected = rfc8785.dumps(record)
    monkeypatch.setattr(canonical_json, "canonical", None)  # the slower path would fail now
    assert canonical_parsed(record) == expected
