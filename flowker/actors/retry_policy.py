"""When a call to an external provider is worth repeating, and how long to wait before repeating it.

Unlike Flowker v1.0.2, which retried every non-success status, only transient failures are retried:
429, 5xx, network errors and timeouts. A client error (4xx other than 429) will fail the same way again.
A ``Retry-After`` header (RFC 9110 §10.2.3) replaces the exponential backoff when it parses.

An answer out of bounds (too large, nested too deep) is never retried: the request reached the provider,
and asking again could make a payment twice only to get the same answer.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum

import aiohttp

from flowker.actors.transport import AnswerOutOfBounds

# OSError covers ConnectionError and TimeoutError (asyncio.TimeoutError is TimeoutError);
# ClientConnectionError covers ServerDisconnectedError and ServerTimeoutError.
_TRANSIENT_ERRORS = (OSError, aiohttp.ClientConnectionError, aiohttp.ClientPayloadError)
_DELTA_SECONDS = re.compile(r"[0-9]+")


class Verdict(StrEnum):
    """What one attempt's outcome means for the call."""

    SUCCESS = "success"
    RETRY = "retry"
    FAIL = "fail"


def parse_retry_after(value: str, now: datetime) -> float | None:
    """Seconds to wait according to a ``Retry-After`` header value.

    Args:
        value: Either delta-seconds (``"120"``) or an HTTP-date (``"Wed, 21 Oct 2015 07:28:00 GMT"``; the
            obsolete RFC 850 and asctime forms are accepted too).
        now: The current time, timezone-aware; an HTTP-date is measured from it.

    Returns:
        The seconds to wait, 0.0 for an HTTP-date in the past, or None when the value is neither form
        (including negative numbers, which delta-seconds cannot be).
    """
    text = value.strip()
    if _DELTA_SECONDS.fullmatch(text):
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (ValueError, OverflowError):
        return None
    if moment.tzinfo is None:
        # HTTP-dates are always GMT; the asctime form just does not say so.
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - now).total_seconds())


@dataclass(frozen=True)
class RetryPolicy:
    """How many attempts a call gets and how the waits between them grow.

    Attributes:
        attempts: Attempts in all, the first included.
        backoff_seconds: The wait after the first failed attempt; it doubles after each further one.
        max_delay_seconds: No wait is longer, whether from backoff or from ``Retry-After``.
    """

    attempts: int = 5
    backoff_seconds: float = 1.0
    max_delay_seconds: float = 30.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {self.attempts}")
        if not (math.isfinite(self.backoff_seconds) and self.backoff_seconds >= 0):
            raise ValueError(f"backoff_seconds must be finite and not negative, got {self.backoff_seconds}")
        if not (math.isfinite(self.max_delay_seconds) and self.max_delay_seconds >= 0):
            raise ValueError(
                f"max_delay_seconds must be finite and not negative, got {self.max_delay_seconds}"
            )

    def classify_status(self, status: int) -> Verdict:
        """SUCCESS for 2xx; RETRY for 429 and 5xx; FAIL for anything else (1xx, 3xx, other 4xx)."""
        if 200 <= status <= 299:
            return Verdict.SUCCESS
        if status == 429 or 500 <= status <= 599:
            return Verdict.RETRY
        return Verdict.FAIL

    def classify_error(self, error: BaseException) -> Verdict:
        """RETRY for network errors and timeouts; FAIL for anything else, an answer out of bounds included."""
        if isinstance(error, AnswerOutOfBounds):
            return Verdict.FAIL
        return Verdict.RETRY if isinstance(error, _TRANSIENT_ERRORS) else Verdict.FAIL

    def delay(self, attempt: int, retry_after: str | None = None, now: datetime | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` before the next one.

        Args:
            attempt: The failed attempt, counted from 1.
            retry_after: The response's ``Retry-After`` header, if any; used instead of the backoff when it
                parses.
            now: The current time for an HTTP-date ``Retry-After``; defaults to the system clock.

        Returns:
            ``backoff_seconds * 2 ** (attempt - 1)`` (or the ``Retry-After`` wait), at most
            ``max_delay_seconds``.

        Raises:
            ValueError: When ``attempt`` is below 1.
        """
        if attempt < 1:
            raise ValueError(f"attempt counts from 1, got {attempt}")
        # 2.0 ** 1024 raises OverflowError; a product past float range becomes inf, which the cap absorbs.
        wait = self.backoff_seconds * 2.0 ** min(attempt - 1, 1023)
        if retry_after is not None:
            asked = parse_retry_after(retry_after, now or datetime.now(UTC))
            if asked is not None:
                wait = asked
        return min(wait, self.max_delay_seconds)

    def should_retry(self, attempt: int, verdict: Verdict) -> bool:
        """Whether failed attempt number ``attempt`` (from 1) with ``verdict`` earns another attempt."""
        return verdict is Verdict.RETRY and attempt < self.attempts
