"""``GET /metrics``: this process's series and every actor's, merged and rendered for Prometheus.

The actors keep their own numbers (:mod:`flowker.telemetry.recorder`); at scrape time the front door asks
each for a snapshot with a bounded wait. An actor that does not answer is a ``flowker_scrape_errors_total``
count, not a failed scrape: its counters keep the values it last reported
(:mod:`flowker.telemetry.aggregate`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from flowker.telemetry import catalog
from flowker.telemetry.aggregate import Aggregator
from flowker.telemetry.exposition import render
from flowker.telemetry.recorder import RECORDER, Recorder
from flowker.tunables import METRICS_FOLD_AFTER_SECONDS
from flowker.usecases.ports import Runtime

log = logging.getLogger("flowker.metrics")


class Metrics:
    """Scrapes: one at a time, so that concurrent scrapes do not merge one round twice."""

    def __init__(
        self,
        runtime: Runtime,
        recorder: Recorder = RECORDER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._runtime = runtime
        self._recorder = recorder
        self._aggregator = Aggregator(clock, METRICS_FOLD_AFTER_SECONDS)
        self._lock = asyncio.Lock()

    async def scrape(self) -> bytes:
        """The Prometheus text of the cluster's series."""
        async with self._lock:
            try:
                remote, errors = await self._runtime.snapshots()
            except Exception as exc:
                # The cluster cannot be asked at all (Ray down): the front door's own series still serve.
                log.warning("metrics: the actors could not be asked (%s)", type(exc).__name__)
                remote, errors = [], {"runtime": 1}
            for kind, count in errors.items():
                self._recorder.inc(catalog.SCRAPE_ERRORS, kind, by=count)
            self._recorder.set(catalog.SCRAPE_SOURCES, value=len(remote) + 1)
            merged = self._aggregator.merge([self._recorder.snapshot("front-door"), *remote])
        return render(merged)
