"""The sandbox's failure and latency modes, chosen by the caller, and the attempt counter behind them.

A request asks for a mode with a ``sandbox`` object in its JSON body (removed before the answer is
computed), or, when it has no body (GET), with query parameters::

    {"sandbox": {"fail": "500", "times": 2, "delayMs": 300}}
    ?sandboxFail=500&sandboxTimes=2&sandboxDelayMs=300

* ``fail``: ``"500"``, ``"502"``, ``"503"`` (that status), ``"429"`` (with ``Retry-After: 1``) or
  ``"timeout"`` (the answer is held :data:`~flowker.tunables.SANDBOX_TIMEOUT_HOLD_SECONDS`, longer than
  any sandbox configuration waits, then 504);
* ``times``: fail only the first N attempts of the call, then answer normally (retries recover); without
  it every attempt fails (the circuit breaker opens). Attempts of one call are the requests with the same
  ``Idempotency-Key`` (Flowker sends one per execution and node), else with the same content;
* ``delayMs``: wait this long (0..:data:`MAX_DELAY_MS`) before answering, failure or not.

Pure: no clock, no randomness; the route module does the waiting.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: ``fail`` values and the status each answers with.
FAILURES = {"500": 500, "502": 502, "503": 503, "429": 429, "timeout": 504}
MAX_DELAY_MS = 10_000
MAX_TIMES = 1000
#: Calls whose attempts are remembered at most (least recently seen forgotten first).
MAX_REMEMBERED_CALLS = 1000
QUERY_NAMES = {"fail": "sandboxFail", "times": "sandboxTimes", "delayMs": "sandboxDelayMs"}


class ModeError(ValueError):
    """The requested mode is not one the sandbox knows; the message says which part."""


@dataclass(frozen=True)
class Mode:
    """What the caller asked for: ``fail`` (a key of :data:`FAILURES`) or None, ``times`` (None: every
    attempt), ``delay_ms``."""

    fail: str | None = None
    times: int | None = None
    delay_ms: int = 0


NORMAL = Mode()


def split_mode(body: Any, query: Mapping[str, str]) -> tuple[Mode, Any]:
    """The mode a request asks for and its body without the ``sandbox`` object.

    Raises:
        ModeError: A mode field of the wrong type or out of range, or ``times`` without ``fail``.
    """
    if isinstance(body, dict) and "sandbox" in body:
        raw = body["sandbox"]
        body = {k: v for k, v in body.items() if k != "sandbox"}
        if not isinstance(raw, dict):
            raise ModeError("sandbox must be an object {fail, times, delayMs}")
        fields = {name: raw.get(name) for name in QUERY_NAMES}
    else:
        fields = {name: query.get(param) for name, param in QUERY_NAMES.items()}
    return _mode(fields), body


def _mode(fields: Mapping[str, Any]) -> Mode:
    fail = fields.get("fail")
    if fail is not None:
        fail = str(fail).lower()
        if fail not in FAILURES:
            raise ModeError(f"sandbox fail must be one of {', '.join(FAILURES)}")
    times = _whole(fields.get("times"), "times", 1, MAX_TIMES)
    if times is not None and fail is None:
        raise ModeError("sandbox times needs fail")
    delay = _whole(fields.get("delayMs"), "delayMs", 0, MAX_DELAY_MS)
    return Mode(fail=fail, times=times, delay_ms=delay or 0)


def _whole(value: Any, name: str, low: int, high: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise ModeError(f"sandbox {name} must be a whole number in {low}..{high}")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ModeError(f"sandbox {name} must be a whole number in {low}..{high}") from None
    if not low <= number <= high or (isinstance(value, float) and value != number):
        raise ModeError(f"sandbox {name} must be a whole number in {low}..{high}")
    return number


class Attempts:
    """How many times each call was attempted, for the last :data:`MAX_REMEMBERED_CALLS` calls."""

    def __init__(self, capacity: int = MAX_REMEMBERED_CALLS) -> None:
        self._capacity = capacity
        self._seen: OrderedDict[str, int] = OrderedDict()

    def next(self, call: str) -> int:
        """Count one more attempt of ``call`` and return its number (1 for the first)."""
        number = self._seen.pop(call, 0) + 1
        self._seen[call] = number
        while len(self._seen) > self._capacity:
            self._seen.popitem(last=False)
        return number

    def __len__(self) -> int:
        return len(self._seen)
