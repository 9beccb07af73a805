"""A circuit breaker for one executor configuration: a pure state machine, time injected, never sleeping.

Each external provider is called by one long-lived executor actor that owns one breaker, so the breaker's
view is per executor configuration. Transitions::

    CLOSED ──trip──► OPEN ──elapse──► HALF_OPEN
      ▲               ▲                   │
      │               └──trial_failed─────┤
      └──────────trial_succeeded──────────┘

* trip: the ``failure_threshold``-th consecutive failure while closed (a success resets the count).
* elapse: ``open_seconds`` have passed since the breaker opened. Nothing wakes up for it: the move is made
  lazily by whichever of ``state``, ``try_acquire``, ``retry_after`` or ``snapshot`` is called first.
* trial_succeeded / trial_failed: the verdict of a trial call admitted while half-open.

Every transition starts a new *generation*. ``try_acquire`` hands out a :class:`Permit` stamped with the
current generation, and a verdict (or release) only counts when its permit belongs to the current
generation. So a call admitted in an older window cannot steer the breaker: a success that arrives after
the breaker re-opened does not close it, and a late failure from before the trip does not restart the
open window.

Not thread-safe: it belongs to one asyncio actor and none of its methods awaits.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class BreakerState(StrEnum):
    """Where the breaker stands."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class _Event(StrEnum):
    TRIP = "trip"
    ELAPSE = "elapse"
    TRIAL_SUCCEEDED = "trial_succeeded"
    TRIAL_FAILED = "trial_failed"


_TRANSITIONS: dict[tuple[BreakerState, _Event], BreakerState] = {
    (BreakerState.CLOSED, _Event.TRIP): BreakerState.OPEN,
    (BreakerState.OPEN, _Event.ELAPSE): BreakerState.HALF_OPEN,
    (BreakerState.HALF_OPEN, _Event.TRIAL_SUCCEEDED): BreakerState.CLOSED,
    (BreakerState.HALF_OPEN, _Event.TRIAL_FAILED): BreakerState.OPEN,
}


@dataclass(frozen=True)
class BreakerConfig:
    """How eagerly the breaker opens and how cautiously it closes again.

    Attributes:
        failure_threshold: Consecutive failures, while closed, that open the breaker.
        open_seconds: How long the breaker stays open before admitting trial calls.
        half_open_max_calls: Trial calls admitted at once while half-open.
    """

    failure_threshold: int = 5
    open_seconds: float = 30.0
    half_open_max_calls: int = 1

    def __post_init__(self) -> None:
        if self.failure_threshold < 1:
            raise ValueError(f"failure_threshold must be at least 1, got {self.failure_threshold}")
        if not self.open_seconds > 0:
            raise ValueError(f"open_seconds must be positive, got {self.open_seconds}")
        if self.half_open_max_calls < 1:
            raise ValueError(f"half_open_max_calls must be at least 1, got {self.half_open_max_calls}")


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


class CircuitBreaker:
    """The breaker of one executor configuration.

    Args:
        config: Thresholds and windows.
        clock: Monotonic seconds; injected so that tests need not sleep.
    """

    def __init__(
        self, config: BreakerConfig = DEFAULT_CONFIG, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._config = config
        self._clock = clock
        self._serials = itertools.count(1)
        self._state = BreakerState.CLOSED
        self._generation = 0
        self._failures = 0
        self._opened_at = 0.0  # meaningful only while open or half-open
        self._trials: set[int] = set()

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
            A permit (truthy) to pass to ``record_success``, ``record_failure`` or ``release`` when the call
            ends; ``None`` when the call must fail fast: while open, or while half-open with all
            ``half_open_max_calls`` trial slots taken.
        """
        self._elapse_if_due()
        if self._state is BreakerState.OPEN:
            return None
        trial = self._state is BreakerState.HALF_OPEN
        if trial and len(self._trials) >= self._config.half_open_max_calls:
            return None
        permit = Permit(self._generation, next(self._serials))
        if trial:
            self._trials.add(permit.serial)
        return permit

    def record_success(self, permit: Permit) -> None:
        """The call behind ``permit`` succeeded: reset the failure count, or close after a trial.

        Ignored when the permit is stale (admitted in an older generation).
        """
        if not self._is_current(permit):
            return
        if self._state is BreakerState.HALF_OPEN:
            self._fire(_Event.TRIAL_SUCCEEDED)
        else:
            self._failures = 0

    def record_failure(self, permit: Permit) -> None:
        """The call behind ``permit`` failed: count it (opening at the threshold), or re-open after a trial.

        Ignored when the permit is stale (admitted in an older generation).
        """
        if not self._is_current(permit):
            return
        if self._state is BreakerState.HALF_OPEN:
            self._fire(_Event.TRIAL_FAILED)
            return
        self._failures += 1
        if self._failures >= self._config.failure_threshold:
            self._fire(_Event.TRIP)

    def release(self, permit: Permit) -> None:
        """The call behind ``permit`` ended without a verdict (e.g. cancelled): free its trial slot."""
        if permit.generation == self._generation:
            self._trials.discard(permit.serial)

    def retry_after(self) -> float:
        """Seconds until an open breaker admits a trial call; 0 when it is not open."""
        self._elapse_if_due()
        if self._state is not BreakerState.OPEN:
            return 0.0
        return max(0.0, self._opened_at + self._config.open_seconds - self._clock())

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
        self._trials.clear()
        if state is BreakerState.OPEN:
            self._opened_at = self._clock()
