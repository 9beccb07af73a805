"""A circuit breaker's state as it is persisted and shown, and a configuration's breaker override.

Pure: the state machine itself is :mod:`flowker.actors.breaker`; this module holds what the store keeps
(:class:`BreakerRecord`), how ``GET /v1/executors/{id}`` shows it (:func:`breaker_view`), and the checks
of an executor configuration's ``circuitBreaker`` override (400 FLK-0279 naming the field).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flowker.clock import iso
from flowker.codes import INVALID_BREAKER_OVERRIDE
from flowker.errors import BadRequest

STATES = ("closed", "open", "half_open")


@dataclass(frozen=True)
class BreakerRecord:
    """One breaker's state; times are seconds since the epoch.

    Attributes:
        state: ``closed``, ``open`` or ``half_open``.
        consecutive_failures: Failures in a row while closed.
        failure_rate: Percent of failed calls among the calls in the window, None when it holds none.
        slow_call_rate: Percent of slow calls among the calls in the window, None when it holds none.
        calls_in_window: Calls the rates are computed over (since the last transition).
        opened_at: When it last opened, while open or half-open.
        next_trial_at: When an open breaker admits its first trial call, while open.
        updated_at: When this record was taken.
    """

    state: str
    consecutive_failures: int = 0
    failure_rate: float | None = None
    slow_call_rate: float | None = None
    calls_in_window: int = 0
    opened_at: float | None = None
    next_trial_at: float | None = None
    updated_at: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The stored JSON document."""
        return {
            "state": self.state,
            "consecutiveFailures": self.consecutive_failures,
            "failureRate": self.failure_rate,
            "slowCallRate": self.slow_call_rate,
            "callsInWindow": self.calls_in_window,
            "openedAt": self.opened_at,
            "nextTrialAt": self.next_trial_at,
            "updatedAt": self.updated_at,
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> BreakerRecord:
        """The record :meth:`to_dict` wrote."""
        return cls(
            state=doc["state"],
            consecutive_failures=doc.get("consecutiveFailures", 0),
            failure_rate=doc.get("failureRate"),
            slow_call_rate=doc.get("slowCallRate"),
            calls_in_window=doc.get("callsInWindow", 0),
            opened_at=doc.get("openedAt"),
            next_trial_at=doc.get("nextTrialAt"),
            updated_at=doc.get("updatedAt", 0.0),
        )


CLOSED = BreakerRecord(state="closed")


def breaker_view(record: BreakerRecord | None, now: float) -> dict[str, Any]:
    """The ``breaker`` block of ``GET /v1/executors/{id}``.

    A stored open record whose ``nextTrialAt`` has passed reads ``half_open``, as the breaker itself
    would. ``openedAt`` is null while closed, ``nextTrialAt`` null unless open, ``failureRate`` and
    ``slowCallRate`` null while the window holds no call.
    """
    record = record or CLOSED
    state = record.state
    if state == "open" and record.next_trial_at is not None and now >= record.next_trial_at:
        state = "half_open"
    return {
        "state": state,
        "failureRate": record.failure_rate,
        "slowCallRate": record.slow_call_rate,
        "callsInWindow": record.calls_in_window if state == record.state else 0,
        "consecutiveFailures": record.consecutive_failures,
        "openedAt": _time(record.opened_at) if state != "closed" else None,
        "nextTrialAt": _time(record.next_trial_at) if state == "open" else None,
    }


def _time(seconds: float | None) -> str | None:
    return None if seconds is None else iso(datetime.fromtimestamp(seconds, UTC))


# --- the per-configuration override ---------------------------------------------------------------


@dataclass(frozen=True)
class OverrideField:
    """One field of ``circuitBreaker``: its kind and bounds."""

    kind: str  # "int", "number" or "bool"
    low: float = 0
    high: float = 0
    description: str = ""


#: The fields of ``circuitBreaker``, by their API name. Defaults are the FLOWKER_BREAKER_* settings.
OVERRIDE_FIELDS: dict[str, OverrideField] = {
    "failureThreshold": OverrideField("int", 1, 1000, "Consecutive failures that open the breaker."),
    "failureRateThreshold": OverrideField(
        "number", 1, 100, "Percent of failed calls in the window that opens the breaker."
    ),
    "slidingWindowSize": OverrideField("int", 1, 1000, "Calls the rates are computed over."),
    "minimumNumberOfCalls": OverrideField(
        "int", 1, 1000, "Calls the window must hold before a rate can open the breaker."
    ),
    "slowCallDurationMs": OverrideField("int", 1, 3_600_000, "A call this long or longer is slow."),
    "slowCallRateThreshold": OverrideField(
        "number", 1, 100, "Percent of slow calls in the window that opens the breaker."
    ),
    "waitDurationInOpenStateMs": OverrideField(
        "int", 10, 3_600_000, "How long the breaker stays open before admitting trial calls."
    ),
    "halfOpenCalls": OverrideField(
        "int", 1, 100, "Trial calls while half-open; that many successes close the breaker."
    ),
    "countRateLimited": OverrideField("bool", description="Whether a 429 answer counts as a failure."),
}


def check_breaker_override(raw: Any) -> dict[str, Any] | None:
    """The canonical ``circuitBreaker`` override, or None when there is none.

    Raises:
        BadRequest: FLK-0279 naming the first field that is unknown or out of bounds.
    """
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise BadRequest("circuitBreaker must be an object", code=INVALID_BREAKER_OVERRIDE)
    checked: dict[str, Any] = {}
    for name, value in raw.items():
        spec = OVERRIDE_FIELDS.get(name)
        where = f"circuitBreaker.{name}"
        if spec is None:
            known = ", ".join(OVERRIDE_FIELDS)
            raise BadRequest(f"{where} is not a field (known: {known})", code=INVALID_BREAKER_OVERRIDE)
        if value is None:
            continue
        if spec.kind == "bool":
            if not isinstance(value, bool):
                raise BadRequest(f"{where} must be true or false", code=INVALID_BREAKER_OVERRIDE)
            checked[name] = value
            continue
        whole = isinstance(value, int) and not isinstance(value, bool)
        number = whole or isinstance(value, float)
        if not (whole if spec.kind == "int" else number) or not spec.low <= value <= spec.high:
            kind = "a whole number" if spec.kind == "int" else "a number"
            raise BadRequest(
                f"{where} must be {kind} in {spec.low:g}..{spec.high:g}", code=INVALID_BREAKER_OVERRIDE
            )
        checked[name] = value
    return checked or None
