"""A process's metrics as plain numbers: no Ray, no prometheus-client, no lock (one event loop).

Each process (the front door, every actor) records into its own :data:`RECORDER`; the front door
gathers the actors' :class:`Snapshot` at scrape time (:mod:`flowker.telemetry.aggregate`). Recording
is a dictionary update: cheap enough for every step and every request.
"""

from __future__ import annotations

import bisect
import os
import uuid
from dataclasses import dataclass

from flowker.telemetry.catalog import Metric

Key = tuple[str, tuple[str, ...]]


@dataclass(frozen=True)
class Histogram:
    """Counts per bucket (not cumulative; one more for ``+Inf``) and the sum of the observations."""

    counts: tuple[int, ...]
    total: float

    @property
    def count(self) -> int:
        """Observations."""
        return sum(self.counts)


@dataclass(frozen=True)
class Snapshot:
    """What one process recorded since it started; ``source`` names that process's lifetime."""

    source: str
    kind: str
    counters: dict[Key, float]
    gauges: dict[Key, float]
    histograms: dict[Key, Histogram]


class Recorder:
    """Counters, gauges and histograms of one process, keyed by metric name and label values."""

    def __init__(self, source: str | None = None) -> None:
        #: Unique per process lifetime: a restarted actor is a new source (its counters start again).
        self.source = source or f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self._counters: dict[Key, float] = {}
        self._gauges: dict[Key, float] = {}
        self._histograms: dict[Key, list[float]] = {}

    def inc(self, metric: Metric, *labels: str, by: float = 1.0) -> None:
        """Add ``by`` to a counter."""
        key = _key(metric, labels)
        self._counters[key] = self._counters.get(key, 0.0) + by

    def set(self, metric: Metric, *labels: str, value: float) -> None:
        """Set a gauge."""
        self._gauges[_key(metric, labels)] = value

    def clear(self, metric: Metric) -> None:
        """Drop every series of a gauge (before setting the current ones)."""
        for key in [k for k in self._gauges if k[0] == metric.name]:
            del self._gauges[key]

    def observe(self, metric: Metric, *labels: str, value: float) -> None:
        """Add an observation to a histogram."""
        key = _key(metric, labels)
        cells = self._histograms.get(key)
        if cells is None:
            cells = self._histograms[key] = [0.0] * (len(metric.buckets) + 2)
        cells[bisect.bisect_left(metric.buckets, value)] += 1
        cells[-1] += value

    def snapshot(self, kind: str = "process") -> Snapshot:
        """A copy of everything recorded, safe to send to another process."""
        return Snapshot(
            source=self.source,
            kind=kind,
            counters=dict(self._counters),
            gauges=dict(self._gauges),
            histograms={
                key: Histogram(tuple(int(c) for c in cells[:-1]), cells[-1])
                for key, cells in self._histograms.items()
            },
        )


def _key(metric: Metric, labels: tuple[str, ...]) -> Key:
    if len(labels) != len(metric.labels):
        raise ValueError(f"{metric.name} takes labels {metric.labels}, got {len(labels)} values")
    return metric.name, labels


#: This process's recorder.
RECORDER = Recorder()
