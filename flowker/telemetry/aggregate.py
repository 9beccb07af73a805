"""The cluster's metrics from the snapshots of its processes, kept monotonic across actor exits.

Counters and histograms are cumulative per process. An executor actor that exits when idle, or an
actor that restarts, would take its counts with it and make the cluster's sums drop. So the last
snapshot of every source is kept: a source that does not answer (or is gone) still counts with what
it last reported, and after ``fold_after_seconds`` unseen it is folded into a retired total and
forgotten (bounded memory). Gauges are the current state: only sources that answered this round.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from flowker.telemetry.recorder import Histogram, Key, Snapshot


@dataclass(frozen=True)
class Merged:
    """The cluster's series, ready to render."""

    counters: dict[Key, float]
    gauges: dict[Key, float]
    histograms: dict[Key, Histogram]
    sources: int


class Aggregator:
    """Merges snapshots round after round (one per scrape)."""

    def __init__(self, clock: Callable[[], float], fold_after_seconds: float) -> None:
        self._clock = clock
        self._fold_after = fold_after_seconds
        self._last: dict[str, tuple[float, Snapshot]] = {}
        self._retired_counters: dict[Key, float] = {}
        self._retired_histograms: dict[Key, Histogram] = {}

    def merge(self, snapshots: Iterable[Snapshot]) -> Merged:
        """Take this round's snapshots; return the cluster's series."""
        now = self._clock()
        fresh = list(snapshots)
        for snapshot in fresh:
            self._last[snapshot.source] = (now, snapshot)
        for source, (seen, snapshot) in list(self._last.items()):
            if now - seen >= self._fold_after:
                _add_counters(self._retired_counters, snapshot.counters)
                _add_histograms(self._retired_histograms, snapshot.histograms)
                del self._last[source]
        counters = dict(self._retired_counters)
        histograms = dict(self._retired_histograms)
        for _seen, snapshot in self._last.values():
            _add_counters(counters, snapshot.counters)
            _add_histograms(histograms, snapshot.histograms)
        gauges: dict[Key, float] = {}
        for snapshot in fresh:
            for key, value in snapshot.gauges.items():
                gauges[key] = gauges.get(key, 0.0) + value
        return Merged(counters, gauges, histograms, len(fresh))


def _add_counters(into: dict[Key, float], counters: dict[Key, float]) -> None:
    for key, value in counters.items():
        into[key] = into.get(key, 0.0) + value


def _add_histograms(into: dict[Key, Histogram], histograms: dict[Key, Histogram]) -> None:
    for key, histogram in histograms.items():
        had = into.get(key)
        if had is None:
            into[key] = histogram
        else:
            counts = tuple(a + b for a, b in zip(had.counts, histogram.counts, strict=True))
            into[key] = Histogram(counts, had.total + histogram.total)
