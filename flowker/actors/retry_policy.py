"""When a call to an external provider is worth repeating, and how long to wait before repeating it.

Unlike Flowker v1.0.2, which retried every non-success status, only transient failures are retried:
429, 5xx, network errors and timeouts. A client error (4xx other than 429) will fail the same way again;
a node may opt in to 408 and 425, transient by definition, through its ``retryOn``.

* The wait before attempt ``n + 1`` is drawn with full jitter from ``[0, min(cap, base * coef ** (n-1)))``
  (Brooker, "Exponential Backoff and Jitter"); without jitter it is that ceiling: 1, 2, 4, 8 s.
* A ``Retry-After`` header (RFC 9110 §10.2.3, delta-seconds or HTTP-date) on any retried answer, 429 and
  503 alike, replaces the backoff and is honoured as asked, never jittered below it, up to
  ``retry_after_max_seconds``; a longer one fails the call rather than retrying early.
* POST and PATCH are not idempotent: after a failure that may have reached the provider (a timeout or
  a reset once the request was sent) they are repeated only when ``retry_non_idempotent`` says so. A
  failure where nothing was sent (connection refused, DNS, connect timeout) is always retryable.

An answer out of bounds (too large, nested too deep) is never retried: the request reached the provider,
and asking again could make a payment twice only to get the same answer.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Protocol

import aiohttp

from flowker.actors.transport import AnswerOutOfBounds
from flowker.dsl import retry as node_limits
from flowker.dsl.retry import NodeRetry

# OSError covers ConnectionError and TimeoutError (asyncio.TimeoutError is TimeoutError);
# ClientConnectionError covers ServerDisconnectedError and ServerTimeoutError.
_TRANSIENT_ERRORS = (OSError, aiohttp.ClientConnectionError, aiohttp.ClientPayloadError)
_DELTA_SECONDS = re.compile(r"[0-9]+")
#: RFC 9110 §9.2.2: repeating one of these has the effect of sending it once. POST and PATCH are not.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})


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
class RetryAfterTooLong:
    """The provider asked to wait longer than the policy allows: the call fails instead of retrying early.

    Attributes:
        asked: The seconds ``Retry-After`` asked for.
        bound: The policy's ``retry_after_max_seconds``.
    """

    asked: float
    bound: float


@dataclass(frozen=True)
class RetryPolicy:
    """How many attempts a call gets, which failures earn another, and how long to wait before it.

    Attributes:
        attempts: Attempts in all, the first included.
        backoff_seconds: The backoff ceiling after the first failed attempt.
        backoff_coefficient: What the ceiling is multiplied by after each further failed attempt.
        max_delay_seconds: No backoff ceiling is higher (``Retry-After`` has its own bound).
        retry_after_max_seconds: The longest ``Retry-After`` honoured; a longer one fails the call.
        jitter: Whether waits are drawn from ``[0, ceiling)`` (full jitter) or are the ceiling itself.
        retry_on: The answered statuses that are retried; ``None`` means 429 and every 5xx.
        retry_non_idempotent: Whether a POST or PATCH is repeated after a failure that may have
            reached the provider.
    """

    attempts: int = 5
    backoff_seconds: float = 1.0
    backoff_coefficient: float = 2.0
    max_delay_seconds: float = 30.0
    retry_after_max_seconds: float = 60.0
    jitter: bool = True
    retry_on: frozenset[int] | None = None
    retry_non_idempotent: bool = False

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {self.attempts}")
        for name in ("backoff_seconds", "max_delay_seconds", "retry_after_max_seconds"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be finite and not negative, got {value}")
        if not (math.isfinite(self.backoff_coefficient) and self.backoff_coefficient >= 1):
            raise ValueError(
                f"backoff_coefficient must be finite and at least 1, got {self.backoff_coefficient}"
            )

    @classmethod
    def of_server(cls, config: ServerRetrySettings) -> RetryPolicy:
        """The server's policy from the ``FLOWKER_RETRY_*`` settings (a Settings or a RuntimeConfig)."""
        return cls(
            attempts=config.retry_attempts,
            backoff_seconds=config.retry_backoff_seconds,
            max_delay_seconds=config.retry_max_delay_seconds,
            retry_after_max_seconds=config.retry_after_max_seconds,
            jitter=config.retry_jitter,
        )

    def merged(self, node: NodeRetry | None) -> RetryPolicy:
        """This policy with an executor node's own fields (``data.retry``) in place of its own.

        Values are held to the limits of :mod:`flowker.dsl.retry` again: a workflow saved before a limit
        was lowered cannot exceed it. ``Retry-After``'s bound and jitter stay the server's.
        """
        if node is None:
            return self
        fields: dict[str, object] = {}
        if node.max_attempts is not None:
            fields["attempts"] = max(1, min(node.max_attempts, node_limits.MAX_ATTEMPTS))
        if node.initial_interval_ms is not None:
            fields["backoff_seconds"] = _bounded_ms(
                node.initial_interval_ms, node_limits.MAX_INITIAL_INTERVAL_MS
            )
        if node.backoff_coefficient is not None:
            fields["backoff_coefficient"] = max(
                1.0, min(node.backoff_coefficient, node_limits.MAX_BACKOFF_COEFFICIENT)
            )
        if node.max_interval_ms is not None:
            fields["max_delay_seconds"] = _bounded_ms(node.max_interval_ms, node_limits.MAX_INTERVAL_MS)
        if node.retry_on is not None:
            fields["retry_on"] = frozenset(node.retry_on) & node_limits.RETRYABLE_STATUSES
        if node.retry_non_idempotent is not None:
            fields["retry_non_idempotent"] = node.retry_non_idempotent
        return replace(self, **fields)  # type: ignore[arg-type]

    def classify_status(self, status: int) -> Verdict:
        """Whether an answer is a transient failure of the provider, whatever the policy retries:
        SUCCESS for 2xx; RETRY for 429 and 5xx; FAIL for anything else (1xx, 3xx, other 4xx)."""
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

    def retries_status(self, status: int) -> bool:
        """Whether an answer with ``status`` earns another attempt: listed in ``retry_on``, or, with no
        list, 429 or 5xx. A 2xx never does, nor a 4xx the server does not count as transient."""
        if self.retry_on is None:
            return self.classify_status(status) is Verdict.RETRY
        return status in self.retry_on

    def retries_error(self, error: BaseException, method: str, may_have_reached: bool) -> bool:
        """Whether a failed attempt that got no answer earns another.

        Args:
            error: Why the attempt failed.
            method: The request's HTTP method.
            may_have_reached: Whether the request may have reached the provider before it failed.
        """
        if self.classify_error(error) is not Verdict.RETRY:
            return False
        return not may_have_reached or method.upper() in IDEMPOTENT_METHODS or self.retry_non_idempotent

    def backoff_ceiling(self, attempt: int) -> float:
        """``min(max_delay_seconds, backoff_seconds * backoff_coefficient ** (attempt - 1))``.

        Raises:
            ValueError: When ``attempt`` (the failed attempt, from 1) is below 1.
        """
        if attempt < 1:
            raise ValueError(f"attempt counts from 1, got {attempt}")
        try:
            wait = self.backoff_seconds * self.backoff_coefficient ** (attempt - 1)
        except OverflowError:
            wait = math.inf if self.backoff_seconds > 0 else 0.0
        return min(wait, self.max_delay_seconds)

    def wait(
        self, attempt: int, draw: float, retry_after: str | None = None, now: datetime | None = None
    ) -> float | RetryAfterTooLong:
        """Seconds to wait after failed attempt number ``attempt`` before the next one.

        Args:
            attempt: The failed attempt, counted from 1.
            draw: A random number in ``[0, 1)``, injected so that tests are exact; the jittered wait is
                ``draw * ceiling``.
            retry_after: The answer's ``Retry-After`` header, if any; used as asked when it parses.
            now: The current time for an HTTP-date ``Retry-After``; defaults to the system clock.

        Returns:
            The wait, or :class:`RetryAfterTooLong` when ``Retry-After`` asks for more than
            ``retry_after_max_seconds``.
        """
        ceiling = self.backoff_ceiling(attempt)
        if retry_after is not None:
            asked = parse_retry_after(retry_after, now or datetime.now(UTC))
            if asked is not None:
                if asked > self.retry_after_max_seconds:
                    return RetryAfterTooLong(asked, self.retry_after_max_seconds)
                return asked
        return ceiling * min(max(draw, 0.0), 1.0) if self.jitter else ceiling

    def has_attempts_left(self, attempt: int) -> bool:
        """Whether another attempt may follow failed attempt number ``attempt`` (from 1)."""
        return attempt < self.attempts

    def should_retry(self, attempt: int, verdict: Verdict) -> bool:
        """Whether failed attempt number ``attempt`` (from 1) with ``verdict`` earns another attempt."""
        return verdict is Verdict.RETRY and self.has_attempts_left(attempt)


class ServerRetrySettings(Protocol):
    """The ``FLOWKER_RETRY_*`` fields that :class:`~flowker.settings.Settings` and
    :class:`~flowker.actors.config.RuntimeConfig` share."""

    @property
    def retry_attempts(self) -> int: ...
    @property
    def retry_backoff_seconds(self) -> float: ...
    @property
    def retry_max_delay_seconds(self) -> float: ...
    @property
    def retry_after_max_seconds(self) -> float: ...
    @property
    def retry_jitter(self) -> bool: ...


def _bounded_ms(milliseconds: float, high_ms: int) -> float:
    return max(0.0, min(milliseconds, high_ms)) / 1000.0
