"""Slowing down repeated failed authentication from one address: a pure, bounded, clock-injected core.

Each address gets ``free_failures`` failed attempts per window at full speed; every further failure
in the window waits ``base_delay`` seconds, doubling each time up to ``max_delay``, before its 401. A
guesser is thereby held to a trickle while a client with a stale key is barely slowed. A success does
not clear the count: a holder of one valid key must not reset the throttle between guesses at another. At most
``max_addresses`` are remembered (least recently failed forgotten first), so a flood of addresses
costs bounded memory. The first failure of each window is reported so that the caller audits an
address once per window, not once per attempt.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass


@dataclass
class _Window:
    started: float
    failures: int


@dataclass(frozen=True)
class Verdict:
    """What to do with one failed attempt.

    Attributes:
        delay: Seconds to wait before answering.
        first_in_window: The address's first failure of this window: audit it.
        failures: Failures from the address in this window, this one included.
    """

    delay: float
    first_in_window: bool
    failures: int


class AuthThrottle:
    """Failed-authentication counts per address over fixed windows."""

    def __init__(
        self,
        *,
        window_seconds: float = 60.0,
        free_failures: int = 5,
        base_delay: float = 0.25,
        max_delay: float = 4.0,
        max_addresses: int = 10_000,
    ) -> None:
        self._window = window_seconds
        self._free = free_failures
        self._base = base_delay
        self._max = max_delay
        self._capacity = max_addresses
        self._windows: OrderedDict[str, _Window] = OrderedDict()

    def __len__(self) -> int:
        return len(self._windows)

    def failed(self, address: str, now: float) -> Verdict:
        """Count a failed attempt from ``address`` at ``now`` (monotonic seconds)."""
        window = self._windows.pop(address, None)
        first = window is None or now - window.started >= self._window
        if first:
            window = _Window(started=now, failures=0)
        assert window is not None
        window.failures += 1
        self._windows[address] = window
        while len(self._windows) > self._capacity:
            self._windows.popitem(last=False)
        excess = window.failures - self._free
        delay = 0.0 if excess <= 0 else min(self._max, self._base * 2.0 ** min(excess - 1, 64))
        return Verdict(delay=delay, first_in_window=first, failures=window.failures)
