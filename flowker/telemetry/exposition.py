"""The Prometheus text of merged series, through a prometheus-client collector."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeVar

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.core import (
    Metric as PromMetric,
)
from prometheus_client.registry import Collector

from flowker.telemetry import catalog
from flowker.telemetry.aggregate import Merged
from flowker.telemetry.recorder import Key

T = TypeVar("T")

#: The content type of the text format generate_latest writes.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class MergedCollector(Collector):
    """Yields the families of one :class:`Merged` (a new collector per scrape)."""

    def __init__(self, merged: Merged) -> None:
        self._merged = merged

    def collect(self) -> Iterator[PromMetric]:
        merged = self._merged
        for metric in catalog.ALL:
            if metric.kind == catalog.COUNTER:
                counter = CounterMetricFamily(metric.name, metric.help, labels=metric.labels)
                for labels, value in _of(metric, merged.counters):
                    counter.add_metric(labels, value)
                yield counter
            elif metric.kind == catalog.GAUGE:
                gauge = GaugeMetricFamily(metric.name, metric.help, labels=metric.labels)
                for labels, value in _of(metric, merged.gauges):
                    gauge.add_metric(labels, value)
                yield gauge
            else:
                histogram = HistogramMetricFamily(metric.name, metric.help, labels=metric.labels)
                for labels, cells in _of(metric, merged.histograms):
                    cumulative, buckets = 0, []
                    for bound, count in zip([*metric.buckets, float("inf")], cells.counts, strict=True):
                        cumulative += count
                        buckets.append((_bound(bound), float(cumulative)))
                    histogram.add_metric(labels, buckets, cells.total)
                yield histogram


def render(merged: Merged) -> bytes:
    """The Prometheus text exposition of ``merged``."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(MergedCollector(merged))
    return generate_latest(registry)


def _of(metric: catalog.Metric, series: dict[Key, T]) -> list[tuple[list[str], T]]:
    return sorted(
        ((list(labels), value) for (name, labels), value in series.items() if name == metric.name),
        key=lambda item: item[0],
    )


def _bound(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)
