"""Parsing of ``Prefer: wait=N`` (RFC 7240)."""

from __future__ import annotations

import pytest

from flowker.http.routes.executions import prefer_wait


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, 0.0),
        ("", 0.0),
        ("wait=5", 5.0),
        ("respond-async, wait=2.5", 2.5),
        ('wait="3"', 3.0),
        ("WAIT=4", 4.0),
        ("wait=600", 60.0),
        ("wait=-1", 0.0),
        ("wait=soon", 0.0),
        ("handling=lenient", 0.0),
    ],
)
def test_prefer_wait(header: str | None, seconds: float) -> None:
    assert prefer_wait(header) == seconds
