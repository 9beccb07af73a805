"""``limit`` of every list: clamped above the maximum, refused below 1 or when not a whole number."""

from __future__ import annotations

import pytest

from flowker.errors import BadRequest
from flowker.usecases.pagination import DEFAULT_LIMIT, MAX_LIMIT, parse_limit


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, DEFAULT_LIMIT),
        ("", DEFAULT_LIMIT),
        ("1", 1),
        ("007", 7),
        ("100", 100),
        ("101", 100),
        ("0101", 100),
        ("1000", 100),
        ("9" * 5000, 100),  # no int() of thousands of digits
    ],
)
def test_a_whole_number_of_at_least_one_is_read_and_clamped(raw: str | None, expected: int) -> None:
    params = {} if raw is None else {"limit": raw}
    assert parse_limit(params) == expected


def test_default_and_maximum_are_the_callers() -> None:
    assert parse_limit({}, default=20, maximum=50) == 20
    assert parse_limit({"limit": "51"}, default=20, maximum=50) == 50
    assert MAX_LIMIT == 100


@pytest.mark.parametrize(
    "raw", ["0", "000", "-1", "+5", "2.5", "1e3", "ten", " 5", "5 ", "\u00b2", "\u0665", "5\n"]
)
def test_anything_else_is_400_flk_0309(raw: str) -> None:
    with pytest.raises(BadRequest) as raised:
        parse_limit({"limit": raw})
    assert raised.value.code == "FLK-0309"
