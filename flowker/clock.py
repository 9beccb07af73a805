"""Time as Flowker writes it: RFC 3339, UTC, microsecond precision."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """``2026-11-29T01:02:03.456789Z``: fixed width, so that text order is time order (keyset cursors
    rely on it), and fine enough that items created one after another keep their order."""
    utc = moment.astimezone(UTC)
    # Not strftime: its %Y does not pad years before 1000, which would break the text order.
    return f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S.%f}Z"
