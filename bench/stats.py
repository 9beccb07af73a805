"""Percentiles and medians over plain lists of floats."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) with linear interpolation; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float | None]) -> float | None:
    """The median of the values that were measured (``None`` and NaN left out); ``None`` if none were."""
    measured = [v for v in values if v is not None and not math.isnan(v)]
    return percentile(measured, 50) if measured else None


def summary(latencies_ms: Sequence[float]) -> dict[str, float | None]:
    """p50, p95, p99, mean and max of latencies in milliseconds (``None`` each when there are none)."""
    if not latencies_ms:
        return dict.fromkeys(("p50", "p95", "p99", "mean", "max"))
    return {
        "p50": percentile(latencies_ms, 50),
        "p95": percentile(latencies_ms, 95),
        "p99": percentile(latencies_ms, 99),
        "mean": sum(latencies_ms) / len(latencies_ms),
        "max": max(latencies_ms),
    }
