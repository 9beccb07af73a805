"""A circuit breaker for one executor configuration: a pure state machine, time injected, never sleeping.

Each external provider is called by one long-lived executor actor that owns one breaker, so the breaker's
view is per executor configuration. The model is resilience4j's. Transitions::

    CLOSED ──trip──► OPEN ──elapse──► HALF_OPEN
      ▲  ▲            ▲                   │
      │  │            └──trial_failed─────┤
      │  └──────────trials_succeeded──────┘
      └──────reset (from any state)

* trip, while closed, on whichever comes first:
  - the ``failure_threshold``-th consecutive failure (a success resets the count);
  - a failure rate of at least ``failure_rate_threshold`` percent over the last ``sliding_window_size``
    calls, once at least ``minimum_number_of_calls`` calls are in the window;
  - a slow-call rate (calls that took ``slow_call_seconds`` or longer, failed or not) of at least
    ``slow_call_rate_threshold`` percent over the same window, with the same minimum.
* elapse: ``open_seconds`` have passed since the breaker opened. Nothing wakes up for it: the move is made
  lazily by whichever of ``state``, ``try_acquire``, ``retry_after``, ``snapshot`` or ``record`` is called
  first.
* half-open admits ``half_open_max_calls`` trial calls at once. A trial that fails or is slow opens the
  breaker again at once (a fresh open window); once ``half_open_max_calls`` trials have succeeded, fast,
  the breaker closes. A trial with no verdict (released, or rate limited when that does not count) frees
  its slot for another trial.
* reset: an operator forces the breaker closed (``POST /v1/executors/{id}/breaker/reset``).

What an attempt's :class:`Outcome` is (see :func:`outcome_of_status`, :func:`outcome_of_error`): 5xx,
network errors and timeouts are failures; any other answer — a 4xx, a 2xx, an answer out of bounds — is a
success (the provider is up); 429 is :attr:`Outcome.RATE_LIMITED`, a failure only when
``count_rate_limited`` is set and otherwise no verdict at all.

Every transition starts a new *generation* and empties the sliding window. ``try_acquire`` hands out a
:class:`Permit` stamped with the current generation, and a verdict (or release) only counts when its
permit belongs to the current generation. So a call admitted in an older window cannot steer the breaker:
a success that arrives after the breaker re-opened does not close it, and a late failure from before the
trip does not restart the open window.

The clock gives seconds since the epoch (wall-clock), so that the state a restarted actor reloads
(:meth:`CircuitBreaker.restore`) resumes its open window where it was. Every transition is reported to
``on_change`` (the executor actor persists it).

Not thread-safe: it belongs to one asyncio actor and none of its methods awaits.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import aiohttp

from flowker.actors.transport import AnswerOutOfBounds
from flowker.domain.breaker_state import BreakerRecord


class BreakerState(StrEnum):
    """Where the breaker stands."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Outcome(StrEnum):
    """What one attempt tells about the provider's health."""

    SUCCESS = "success"
    FAILURE = "failure"
    RATE_LIMITED = "rate_limited"


class _Event(StrEnum):
    TRIP = "trip"
    ELAPSE = "elapse"
    TRIALS_SUCCEEDED = "trials_succeeded"
    TRIAL_FAILED = "trial_failed"


_TRANSITIONS: dict[tuple[BreakerState, _Event], BreakerState] = {
    (BreakerState.CLOSED, _Event.TRIP): BreakerState.OPEN,
    (BreakerState.OPEN, _Event.ELAPSE): BreakerState.HALF_OPEN,
    (BreakerState.HALF_OPEN, _Event.TRIALS_SUCCEEDED): BreakerState.CLOSED,
    (BreakerState.HALF_OPEN, _Event.TRIAL_FAILED): BreakerState.OPEN,
}

# OSError covers ConnectionError and TimeoutError (asyncio.TimeoutError is TimeoutError).
_PROVIDER_DOWN = (OSError, aiohttp.ClientConnectionError, aiohttp.ClientPayloadError)


def outcome_of_status(status: int) -> Outcome:
    """FAILURE for 5xx, RATE_LIMITED for 429, SUCCESS for any other answer: the provider is up."""
    if 500 <= status <= 599:
        return Outcome.FAILURE
    if status == 429:
        return Outcome.RATE_LIMITED
    return Outcome.SUCCESS


def outcome_of_error(error: BaseException) -> Outcome:
    """FAILURE for network errors and timeouts; SUCCESS for an answer out of bounds (an answer came)."""
    if isinstance(error, AnswerOutOfBounds):
        return Outcome.SUCCESS
    return Outcome.FAILURE if isinstance(error, _PROVIDER_DOWN) else Outcome.SUCCESS


@dataclass(frozen=True)
class BreakerConfig:
    """How eagerly the breaker opens and how cautiously it closes again.

    Attributes:
        failure_threshold: Consecutive failures, while closed, that open the breaker.
        open_seconds: How long the breaker stays open before admitting trial calls.
        half_open_max_calls: Trial calls admitted at once while half-open; that many successes close it.
        failure_rate_threshold: Percent of failed calls in the window that opens the breaker.
        sliding_window_size: Calls the rates are computed over (the last ones since the last transition).
        minimum_number_of_calls: Calls the window must hold before a rate can open the breaker (at most
            ``sliding_window_size``: a larger value is capped).
        slow_call_seconds: A call that takes this long or longer is slow.
        slow_call_rate_threshold: Percent of slow calls in the window that opens the breaker.
        count_rate_limited: Whether a 429 counts as a failure (otherwise it gives no verdict).
    """

    failure_threshold: int = 5
    open_seconds: float = 30.0
    half_open_max_calls: int = 1
    failure_rate_threshold: float = 50.0
    sliding_window_size: int = 100
    minimum_number_of_calls: int = 20
    slow_call_seconds: float = 10.0
    slow_call_rate_threshold: float = 100.0
    count_rate_limited: bool = False

    def __post_init__(self) -> None:
        if self.failure_threshold < 1:
            raise ValueError(f"failure_threshold must be at least 1, got {self.failure_threshold}")
        if not self.open_seconds > 0:
            raise ValueError(f"open_seconds must be positive, got {self.open_seconds}")
        if self.half_open_max_calls < 1:
            raise ValueError(f"half_open_max_calls must be at least 1, got {self.half_open_max_calls}")
        for name in ("failure_rate_threshold", "slow_call_rate_threshold"):
            if not 0 < getattr(self, name) <= 100:
                raise ValueError(f"{name} must be in (0, 100], got {getattr(self, name)}")
        if self.sliding_window_size < 1 or self.minimum_number_of_calls < 1:
            raise ValueError("sliding_window_size and minimum_number_of_calls must be at least 1")
        if not self.slow_call_seconds > 0:
            raise ValueError(f"slow_call_seconds must be positive, got {self.slow_call_seconds}")

    @property
    def minimum_calls(self) -> int:
        """The effective minimum: never more than the window holds."""
        return min(self.minimum_number_of_calls, self.sliding_window_size)


DEFAULT_CONFIG = BreakerConfig()


@dataclass(frozen=True)
class Permit:
    """Leave to make one call, to be handed back with its verdict.

    Attributes:
        generation: The breaker's generation when the call was admitted.
        serial: Tells permits of the same generation apart, so that each trial slot is freed once.
    """

    generation: int
    serial: int


class BreakerView(Protocol):
    """What :class:`~flowker.actors.caller.ProviderCaller` uses of a breaker: the executor actor's own
    :class:`CircuitBreaker`, or the view of it a caller holds under a lease
    (:class:`~flowker.actors.call_lease.LeasedBreaker`)."""

    @property
    def state(self) -> BreakerState: ...

    def try_acquire(self) -> Permit | None: ...

    def record_outcome(self, permit: Permit, outcome: Outcome, seconds: float = 0.0) -> None: ...

    def release(self, permit: Permit) -> None: ...

    def retry_after(self) -> float: ...


class _Window:
    """The last ``size`` calls' (failed, slow) flags, with running counts."""

    def __init__(self, size: int) -> None:
        self._calls: deque[tuple[bool, bool]] = deque(maxlen=size)
        self.failures = 0
        self.slow = 0

    def __len__(self) -> int:
        return len(self._calls)

    def add(self, failed: bool, slow: bool) -> None:
        if len(self._calls) == self._calls.maxlen:
            old_failed, old_slow = self._calls[0]
            self.failures -= old_failed
            self.slow -= old_slow
        self._calls.append((failed, slow))
        self.failures += failed
        self.slow += slow

    def rate(self, count: int) -> float | None:
        return 100.0 * count / len(self._calls) if self._calls else None

    def resized(self, size: int) -> _Window:
        window = _Window(size)
        for failed, slow in self._calls:
            window.add(failed, slow)
        return window


class CircuitBreaker:
    """The breaker of one executor configuration.

    Args:
        config: Thresholds and windows.
        clock: Seconds since the epoch; injected so that tests need not sleep.
        on_change: Called with :meth:`record` after every transition (and reset).
    """

    def __init__(
        self,
        config: BreakerConfig = DEFAULT_CONFIG,
        clock: Callable[[], float] = time.time,
        on_change: Callable[[BreakerRecord], None] | None = None,
    ) -> None:
        self._config = config
        self._clock = clock
        self._on_change = on_change
        self._serials = itertools.count(1)
        self._state = BreakerState.CLOSED
        self._generation = 0
        self._failures = 0
        self._window = _Window(config.sliding_window_size)
        self._opened_at = 0.0  # meaningful only while open or half-open
        self._trials: set[int] = set()
        self._trials_passed = 0

    @property
    def config(self) -> BreakerConfig:
        """The thresholds in force."""
        return self._config

    def reconfigure(self, config: BreakerConfig) -> None:
        """Use new thresholds from now on, keeping the state (the configuration's override changed)."""
        if config != self._config:
            self._config = config
            self._window = self._window.resized(config.sliding_window_size)

    @property
    def state(self) -> BreakerState:
        """The current state; HALF_OPEN as soon as the open window has elapsed."""
        self._elapse_if_due()
        return self._state

    @property
    def generation(self) -> int:
        """The current generation; it grows by one with every transition."""
        self._elapse_if_due()
        return self._generation

    def try_acquire(self) -> Permit | None:
        """Ask to make a call.

        Returns:
            A permit (truthy) to pass to ``record_outcome`` (or ``record_success``, ``record_failure``)
            or ``release`` when the call ends; ``None`` when the call must fail fast: while open, or while
            half-open with all ``half_open_max_calls`` trial slots taken.
        """
        self._elapse_if_due()
        if self._state is BreakerState.OPEN:
            return None
        trial = self._state is BreakerState.HALF_OPEN
        if trial and len(self._trials) + self._trials_passed >= self._config.half_open_max_calls:
            return None
        permit = Permit(self._generation, next(self._serials))
        if trial:
            self._trials.add(permit.serial)
        return permit

    def record_outcome(self, permit: Permit, outcome: Outcome, seconds: float = 0.0) -> None:
        """The call behind ``permit`` ended with ``outcome`` after ``seconds``.

        Ignored when the permit is stale (admitted in an older generation). A rate-limited outcome that
        does not count is a release.
        """
        if outcome is Outcome.RATE_LIMITED and not self._config.count_rate_limited:
            self.release(permit)
            return
        if not self._is_current(permit):
            return
        failed = outcome is not Outcome.SUCCESS
        slow = seconds >= self._config.slow_call_seconds
        if self._state is BreakerState.HALF_OPEN:
            self._trials.discard(permit.serial)
            if failed or slow:
                self._fire(_Event.TRIAL_FAILED)
                return
            self._trials_passed += 1
            if self._trials_passed >= self._config.half_open_max_calls:
                self._fire(_Event.TRIALS_SUCCEEDED)
            return
        self._failures = self._failures + 1 if failed else 0
        self._window.add(failed, slow)
        if self._tripped():
            self._fire(_Event.TRIP)

    def record_success(self, permit: Permit, seconds: float = 0.0) -> None:
        """The call behind ``permit`` succeeded (see :meth:`record_outcome`)."""
        self.record_outcome(permit, Outcome.SUCCESS, seconds)

    def record_failure(self, permit: Permit, seconds: float = 0.0) -> None:
        """The call behind ``permit`` failed (see :meth:`record_outcome`)."""
        self.record_outcome(permit, Outcome.FAILURE, seconds)

    def release(self, permit: Permit) -> None:
        """The call behind ``permit`` ended without a verdict (e.g. cancelled): free its trial slot."""
        if permit.generation == self._generation:
            self._trials.discard(permit.serial)

    def reset(self) -> None:
        """Force the breaker closed, whatever its state: a new generation, counts and window emptied."""
        self._set_state(BreakerState.CLOSED)

    def restore(self, record: BreakerRecord) -> None:
        """Take up the state a previous actor persisted: an open window resumes where it was (and is
        half-open at once when it has elapsed meanwhile); a half-open breaker admits fresh trials; a
        closed one keeps its consecutive failures, with an empty window."""
        state = BreakerState(record.state)
        self._generation += 1
        self._state = state
        self._failures = record.consecutive_failures if state is BreakerState.CLOSED else 0
        self._window = _Window(self._config.sliding_window_size)
        self._trials.clear()
        self._trials_passed = 0
        self._opened_at = record.opened_at if record.opened_at is not None else self._clock()
        self._elapse_if_due()

    def retry_after(self) -> float:
        """Seconds until an open breaker admits a trial call; 0 when it is not open."""
        self._elapse_if_due()
        if self._state is not BreakerState.OPEN:
            return 0.0
        return max(0.0, self._opened_at + self._config.open_seconds - self._clock())

    def record(self) -> BreakerRecord:
        """The state to persist and to show (``GET /v1/executors/{id}``)."""
        self._elapse_if_due()
        stays_closed = self._state is BreakerState.CLOSED
        return BreakerRecord(
            state=str(self._state),
            consecutive_failures=self._failures,
            failure_rate=self._window.rate(self._window.failures),
            slow_call_rate=self._window.rate(self._window.slow),
            calls_in_window=len(self._window),
            opened_at=None if stays_closed else self._opened_at,
            next_trial_at=(
                self._opened_at + self._config.open_seconds if self._state is BreakerState.OPEN else None
            ),
            updated_at=self._clock(),
        )

    def snapshot(self) -> dict[str, object]:
        """The breaker's state for diagnostics.

        Returns:
            ``state``, ``generation`` and ``consecutiveFailures``; ``openedAt`` (a reading of the injected
            clock) while open or half-open; ``retryAfterSeconds`` while open; ``trialsInFlight`` while
            half-open.
        """
        self._elapse_if_due()
        view: dict[str, object] = {
            "state": str(self._state),
            "generation": self._generation,
            "consecutiveFailures": self._failures,
        }
        if self._state is not BreakerState.CLOSED:
            view["openedAt"] = self._opened_at
        if self._state is BreakerState.OPEN:
            view["retryAfterSeconds"] = self.retry_after()
        elif self._state is BreakerState.HALF_OPEN:
            view["trialsInFlight"] = len(self._trials)
        return view

    def _tripped(self) -> bool:
        config, window = self._config, self._window
        if self._failures >= config.failure_threshold:
            return True
        if len(window) < config.minimum_calls:
            return False
        failure_rate = window.rate(window.failures) or 0.0
        slow_rate = window.rate(window.slow) or 0.0
        return failure_rate >= config.failure_rate_threshold or slow_rate >= config.slow_call_rate_threshold

    def _is_current(self, permit: Permit) -> bool:
        self._elapse_if_due()
        if permit.generation != self._generation:
            return False
        # A released trial has given up its say in the verdict along with its slot.
        return self._state is not BreakerState.HALF_OPEN or permit.serial in self._trials

    def _elapse_if_due(self) -> None:
        if self._state is BreakerState.OPEN and self._clock() >= self._opened_at + self._config.open_seconds:
            self._fire(_Event.ELAPSE)

    def _fire(self, event: _Event) -> None:
        self._set_state(_TRANSITIONS[(self._state, event)])

    def _set_state(self, state: BreakerState) -> None:
        self._state = state
        self._generation += 1
        self._failures = 0
        self._window = _Window(self._config.sliding_window_size)
        self._trials.clear()
        self._trials_passed = 0
        if state is BreakerState.OPEN:
            self._opened_at = self._clock()
        if self._on_change is not None:
            self._on_change(self.record())
