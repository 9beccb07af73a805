"""An executor node's own retry policy (``data.retry``): its fields, their limits, and their check.

Every field is optional; one left out takes the server's value (``FLOWKER_RETRY_*``). The limits here
are the server's limits on what a workflow may ask, checked when the workflow is saved (FLK-0155) and
again when a call is made, so that a definition stored before a limit changed cannot exceed it.

Pure: the standard library, the error tree and the codes only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flowker.codes import INVALID_RETRY_POLICY
from flowker.errors import BadRequest

#: Attempts a node may ask for, the first included.
MAX_ATTEMPTS = 10
#: The longest first backoff a node may ask for, in milliseconds (the server's own bound: 60 s).
MAX_INITIAL_INTERVAL_MS = 60_000
#: The longest cap on a backoff a node may ask for, in milliseconds (the server's own bound: 1 h).
MAX_INTERVAL_MS = 3_600_000
#: How fast backoffs may grow at most between two attempts (1.0 keeps them constant).
MAX_BACKOFF_COEFFICIENT = 10.0
#: The statuses a node may list in ``retryOn``: the transient ones. Other 4xx will fail the same way
#: again, and 1xx, 2xx and 3xx are not failures.
RETRYABLE_STATUSES = frozenset({408, 425, 429, *range(500, 600)})
FIELDS = (
    "maxAttempts",
    "initialIntervalMs",
    "backoffCoefficient",
    "maxIntervalMs",
    "retryOn",
    "retryNonIdempotent",
)


@dataclass(frozen=True)
class NodeRetry:
    """What an executor node changes in the server's retry policy; ``None`` keeps the server's value.

    Attributes:
        max_attempts: Attempts in all, the first included (1 means no retry).
        initial_interval_ms: The backoff ceiling after the first failed attempt.
        backoff_coefficient: What the ceiling is multiplied by after each further failed attempt.
        max_interval_ms: No backoff ceiling is higher.
        retry_on: The answered statuses that are retried; every other status fails at once.
        retry_non_idempotent: Whether a POST or PATCH is repeated after a failure that may have
            reached the provider (a timeout or a reset after the request was sent).
    """

    max_attempts: int | None = None
    initial_interval_ms: float | None = None
    backoff_coefficient: float | None = None
    max_interval_ms: float | None = None
    retry_on: tuple[int, ...] | None = None
    retry_non_idempotent: bool | None = None


def parse_node_retry(value: object, where: str) -> NodeRetry | None:
    """``data.retry`` as a :class:`NodeRetry`; ``None`` when absent (or ``null``).

    Args:
        value: The node's ``data.retry``.
        where: The field's path for messages, e.g. ``nodes[pay].data.retry``.

    Raises:
        BadRequest: FLK-0155, naming the field at fault: not an object, an unknown field, a value of the
            wrong type or outside its limits.
    """
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise _invalid(f"{where} must be an object with fields {', '.join(FIELDS)}")
    unknown = sorted(str(key) for key in value if key not in FIELDS)
    if unknown:
        raise _invalid(f"{where}.{unknown[0]} is not a retry field (known: {', '.join(FIELDS)})")
    retry = NodeRetry(
        max_attempts=_whole(value, "maxAttempts", where, 1, MAX_ATTEMPTS),
        initial_interval_ms=_number(value, "initialIntervalMs", where, 0, MAX_INITIAL_INTERVAL_MS),
        backoff_coefficient=_number(value, "backoffCoefficient", where, 1, MAX_BACKOFF_COEFFICIENT),
        max_interval_ms=_number(value, "maxIntervalMs", where, 0, MAX_INTERVAL_MS),
        retry_on=_statuses(value, where),
        retry_non_idempotent=_flag(value, "retryNonIdempotent", where),
    )
    if (
        retry.initial_interval_ms is not None
        and retry.max_interval_ms is not None
        and retry.max_interval_ms < retry.initial_interval_ms
    ):
        raise _invalid(
            f"{where}.maxIntervalMs ({_shown(retry.max_interval_ms)}) is below initialIntervalMs "
            f"({_shown(retry.initial_interval_ms)})"
        )
    return retry


def _invalid(message: str) -> BadRequest:
    return BadRequest(message, code=INVALID_RETRY_POLICY)


def _shown(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


def _is_number(value: Any) -> bool:
    # bool is an int in Python, never in JSON: true is no number of attempts.
    return isinstance(value, int | float) and not isinstance(value, bool)


def _whole(data: Mapping[str, Any], key: str, where: str, low: int, high: int) -> int | None:
    if key not in data or data[key] is None:
        return None
    value = data[key]
    if not _is_number(value) or not float(value).is_integer():
        raise _invalid(f"{where}.{key} must be a whole number from {low} to {high}")
    if not low <= value <= high:
        raise _invalid(f"{where}.{key} must be from {low} to {high}, got {_shown(value)}")
    return int(value)


def _number(data: Mapping[str, Any], key: str, where: str, low: float, high: float) -> float | None:
    if key not in data or data[key] is None:
        return None
    value = data[key]
    if not _is_number(value) or not math.isfinite(value):
        raise _invalid(f"{where}.{key} must be a number from {_shown(low)} to {_shown(high)}")
    if not low <= value <= high:
        raise _invalid(f"{where}.{key} must be from {_shown(low)} to {_shown(high)}, got {_shown(value)}")
    return float(value)


def _flag(data: Mapping[str, Any], key: str, where: str) -> bool | None:
    if key not in data or data[key] is None:
        return None
    if not isinstance(data[key], bool):
        raise _invalid(f"{where}.{key} must be true or false")
    return bool(data[key])


def _statuses(data: Mapping[str, Any], where: str) -> tuple[int, ...] | None:
    if "retryOn" not in data or data["retryOn"] is None:
        return None
    value = data["retryOn"]
    rule = "a list of HTTP statuses among 408, 425, 429 and 500-599"
    if not isinstance(value, list):
        raise _invalid(f"{where}.retryOn must be {rule}")
    for index, status in enumerate(value):
        if not _is_number(status) or not float(status).is_integer() or int(status) not in RETRYABLE_STATUSES:
            raise _invalid(f"{where}.retryOn[{index}] ({status!r}) is not retryable: retryOn must be {rule}")
    return tuple(sorted({int(status) for status in value}))
