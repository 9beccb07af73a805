"""What one benchmark run does: counts, concurrency, repeats and scenarios; and its progress lines."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

SCENARIOS = ("baseline", "w3", "start", "overhead", "audit", "waiting")
_STARTED = time.monotonic()


@dataclass(frozen=True)
class BenchConfig:
    """Sizes of every scenario; ``quick`` shrinks them all so that a run takes a minute or two."""

    quick: bool
    repeat: int
    scenarios: tuple[str, ...]
    concurrency: int
    #: Measured requests per load run at ``concurrency`` (baseline, W3, start).
    count: int
    #: Requests per load run sent before the measured ones.
    warmup: int
    #: Measured requests at concurrency 1 (per-step overhead).
    serial_count: int
    audit_events: int
    audit_sizes: tuple[int, ...]
    audit_callers: int
    #: Executions held at once by the slow provider, and how long it holds each call.
    waiting: int
    waiting_delay: float
    #: Wait for a load run this long at most before it is cut short.
    load_seconds: float
    #: Seconds without traffic over which Flowker's idle CPU is measured, after the last load.
    idle_seconds: float

    @classmethod
    def make(
        cls,
        *,
        quick: bool,
        repeat: int | None = None,
        only: tuple[str, ...] = (),
        concurrency: int = 64,
        count: int | None = None,
    ) -> BenchConfig:
        """The full run's sizes, or the quick run's; ``repeat`` and ``count`` override the defaults."""
        count = count or (300 if quick else 3000)
        return cls(
            quick=quick,
            repeat=repeat or (1 if quick else 3),
            scenarios=tuple(s for s in SCENARIOS if not only or s in only),
            concurrency=concurrency,
            count=count,
            warmup=max(concurrency, count // 10),
            serial_count=60 if quick else 300,
            audit_events=5_000 if quick else 100_000,
            audit_sizes=(1, 50),
            audit_callers=64,
            waiting=300 if quick else 5_000,
            waiting_delay=5.0 if quick else 20.0,
            load_seconds=120.0 if quick else 900.0,
            idle_seconds=5.0 if quick else 10.0,
        )

    def wants(self, *scenarios: str) -> bool:
        """Whether any of ``scenarios`` is to run."""
        return any(s in self.scenarios for s in scenarios)


def note(message: str) -> None:
    """A progress line on stderr, stamped with the time since the run began."""
    elapsed = time.monotonic() - _STARTED
    print(f"[bench {elapsed // 60:02.0f}:{elapsed % 60:04.1f}] {message}", file=sys.stderr, flush=True)
