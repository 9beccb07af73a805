"""A retry budget for one executor configuration: a pure counter over a sliding window, clock injected.

Retries multiply load on a provider that is already failing: 100 executions with 5 attempts each send
500 requests where 100 would tell the same story. The budget (Envoy's ``retry_budget``, the Google SRE
book's per-client retry budget) allows, over the last ``window_seconds``::

    retries <= ratio * calls + min_retries

where ``calls`` are the calls started (first attempts) and ``retries`` the retries granted in the window.
``min_retries`` lets a quiet provider still be retried: one failing call alone can use that many. A retry
the budget refuses is not made; the call fails with the failure it had (FLK-0285 says why).

The executor actor of the configuration holds its budget next to its circuit breaker, so the budget is
one for the whole cluster. Not thread-safe: it belongs to one asyncio actor and never awaits.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class BudgetConfig:
    """How many retries a configuration may make.

    Attributes:
        ratio: Retries allowed per call started in the window.
        window_seconds: The sliding window's length.
        min_retries: Retries allowed in any window whatever the number of calls.
    """

    ratio: float = 0.2
    window_seconds: float = 10.0
    min_retries: int = 10

    def __post_init__(self) -> None:
        if not (math.isfinite(self.ratio) and self.ratio >= 0):
            raise ValueError(f"ratio must be finite and not negative, got {self.ratio}")
        if not (math.isfinite(self.window_seconds) and self.window_seconds > 0):
            raise ValueError(f"window_seconds must be positive, got {self.window_seconds}")
        if self.min_retries < 0:
            raise ValueError(f"min_retries must not be negative, got {self.min_retries}")


class RetryBudget:
    """The retry budget of one executor configuration.

    Args:
        config: The ratio, window and minimum.
        clock: Monotonic seconds; injected so that tests need not sleep.
    """

    def __init__(self, config: BudgetConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self._clock = clock
        self._calls: deque[float] = deque()
        self._retries: deque[float] = deque()

    def record_call(self) -> None:
        """A call starts (its first attempt): it adds ``ratio`` retries to the budget for a window."""
        now = self._clock()
        self._forget(now)
        self._calls.append(now)

    def try_retry(self) -> bool:
        """Ask to retry a call: True (and the retry is counted) while the window's budget allows one."""
        now = self._clock()
        self._forget(now)
        if len(self._retries) + 1 > self.allowed():
            return False
        self._retries.append(now)
        return True

    def allowed(self) -> float:
        """Retries the current window allows in all: ``ratio * calls + min_retries``."""
        self._forget(self._clock())
        return self.config.ratio * len(self._calls) + self.config.min_retries

    def snapshot(self) -> dict[str, float]:
        """``calls`` and ``retries`` in the current window, and the ``allowed`` retries."""
        allowed = self.allowed()
        return {"calls": len(self._calls), "retries": len(self._retries), "allowed": allowed}

    def _forget(self, now: float) -> None:
        horizon = now - self.config.window_seconds
        for stamps in (self._calls, self._retries):
            while stamps and stamps[0] <= horizon:
                stamps.popleft()
