"""The fast tier's one fake clock: seconds that move only when a test moves them."""

from __future__ import annotations


class FakeClock:
    """Seconds (monotonic or since the epoch, as the code under test reads them) that move when told."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
