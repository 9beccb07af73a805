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
        ("wait=nan", 0.0),  # float() reads it; no cap holds it
        ("wait=NaN", 0.0),
        ("wait=inf", 60.0),
        ("wait=\u0663", 0.0),  # ARABIC-INDIC DIGIT THREE: float() reads it as 3
        ("wait=\udcff", 0.0),  # the byte 0xff, as aiohttp decodes a header that is not UTF-8
        ("wait=5\udc80", 0.0),
    ],
)
def test_prefer_wait(header: str | None, seconds: float) -> None:
    assert prefer_wait(header) == seconds
