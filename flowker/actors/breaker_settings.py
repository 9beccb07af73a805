"""The thresholds a configuration's breaker uses: the global FLOWKER_BREAKER_* settings, with the fields
of the configuration's ``circuitBreaker`` override in their place where it sets them."""

from __future__ import annotations

from typing import Any, Protocol

from flowker.actors.breaker import BreakerConfig


class BreakerDefaults(Protocol):
    """What :class:`~flowker.settings.Settings` and :class:`~flowker.actors.config.RuntimeConfig` share."""

    breaker_failure_threshold: int
    breaker_open_seconds: float
    breaker_half_open_calls: int
    breaker_failure_rate_threshold: float
    breaker_sliding_window_size: int
    breaker_minimum_calls: int
    breaker_slow_call_seconds: float
    breaker_slow_call_rate_threshold: float
    breaker_count_rate_limited: bool


def breaker_config(defaults: BreakerDefaults, override: dict[str, Any] | None = None) -> BreakerConfig:
    """The effective thresholds; ``override`` is a checked ``circuitBreaker`` block (camelCase, ms)."""
    o = override or {}

    def ms(name: str, seconds: float) -> float:
        return o[name] / 1000.0 if o.get(name) is not None else seconds

    return BreakerConfig(
        failure_threshold=o.get("failureThreshold") or defaults.breaker_failure_threshold,
        open_seconds=ms("waitDurationInOpenStateMs", defaults.breaker_open_seconds),
        half_open_max_calls=o.get("halfOpenCalls") or defaults.breaker_half_open_calls,
        failure_rate_threshold=o.get("failureRateThreshold") or defaults.breaker_failure_rate_threshold,
        sliding_window_size=o.get("slidingWindowSize") or defaults.breaker_sliding_window_size,
        minimum_number_of_calls=o.get("minimumNumberOfCalls") or defaults.breaker_minimum_calls,
        slow_call_seconds=ms("slowCallDurationMs", defaults.breaker_slow_call_seconds),
        slow_call_rate_threshold=o.get("slowCallRateThreshold") or defaults.breaker_slow_call_rate_threshold,
        count_rate_limited=bool(o.get("countRateLimited", defaults.breaker_count_rate_limited)),
    )
