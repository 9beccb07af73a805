"""The retry budget of one configuration: retries <= ratio * calls + minimum over a sliding window."""

from __future__ import annotations

import pytest

from flowker.actors.retry_budget import BudgetConfig, RetryBudget
from tests.fakes.clock import FakeClock


def budget(clock: FakeClock, ratio: float = 0.2, window: float = 10.0, minimum: int = 3) -> RetryBudget:
    return RetryBudget(BudgetConfig(ratio=ratio, window_seconds=window, min_retries=minimum), clock)


def granted(spent: RetryBudget, asked: int) -> int:
    return sum(spent.try_retry() for _ in range(asked))


def test_the_defaults_are_a_fifth_of_the_calls_over_ten_seconds_plus_ten() -> None:
    assert BudgetConfig() == BudgetConfig(ratio=0.2, window_seconds=10.0, min_retries=10)


def test_a_quiet_provider_still_gets_the_minimum() -> None:
    clock = FakeClock()
    quiet = budget(clock)
    quiet.record_call()
    assert granted(quiet, 10) == 3  # 0.2 * 1 + 3 = 3.2: three whole retries
    assert quiet.snapshot() == {"calls": 1, "retries": 3, "allowed": pytest.approx(3.2)}


def test_retries_never_exceed_the_ratio_of_calls_plus_the_minimum() -> None:
    clock = FakeClock()
    busy = budget(clock)
    for _ in range(100):
        busy.record_call()
    assert granted(busy, 400) == 23  # 0.2 * 100 + 3
    busy.record_call()
    busy.record_call()
    busy.record_call()
    busy.record_call()
    busy.record_call()
    assert granted(busy, 10) == 1  # five more calls earn one more retry


def test_calls_and_retries_leave_the_window_as_it_slides() -> None:
    clock = FakeClock()
    sliding = budget(clock, ratio=0.5, window=10.0, minimum=0)
    for _ in range(4):
        sliding.record_call()
    assert granted(sliding, 5) == 2
    clock.advance(5.0)
    for _ in range(2):
        sliding.record_call()
    assert granted(sliding, 5) == 1  # 0.5 * 6 calls = 3, two of them taken
    clock.advance(5.0)  # the first four calls and the first two retries are 10 s old: gone
    assert sliding.snapshot() == {"calls": 2, "retries": 1, "allowed": 1.0}
    assert granted(sliding, 5) == 0
    clock.advance(5.0)
    assert sliding.snapshot() == {"calls": 0, "retries": 0, "allowed": 0.0}


def test_a_ratio_of_zero_allows_only_the_minimum() -> None:
    clock = FakeClock()
    strict = budget(clock, ratio=0.0, minimum=2)
    for _ in range(1000):
        strict.record_call()
    assert granted(strict, 10) == 2
    clock.advance(10.0)
    assert granted(strict, 10) == 2


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"ratio": -0.1}, "ratio must be finite and not negative, got -0.1"),
        ({"ratio": float("nan")}, "ratio must be finite and not negative, got nan"),
        ({"window_seconds": 0.0}, "window_seconds must be positive, got 0.0"),
        ({"min_retries": -1}, "min_retries must not be negative, got -1"),
    ],
)
def test_budget_config_validation(fields: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError) as info:
        BudgetConfig(**fields)  # type: ignore[arg-type]
    assert str(info.value) == message
