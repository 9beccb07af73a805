from __future__ import annotations

import pytest

from flowker.actors.breaker import BreakerConfig, BreakerState, CircuitBreaker, Permit
from tests.fakes.clock import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make(clock: FakeClock, threshold: int = 3, open_seconds: float = 10.0, trials: int = 1) -> CircuitBreaker:
    return CircuitBreaker(BreakerConfig(threshold, open_seconds, trials), clock=clock)


def acquire(breaker: CircuitBreaker) -> Permit:
    permit = breaker.try_acquire()
    assert permit is not None
    return permit


def fail(breaker: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        breaker.record_failure(acquire(breaker))


def opened(
    clock: FakeClock, threshold: int = 3, open_seconds: float = 10.0, trials: int = 1
) -> CircuitBreaker:
    """A breaker just tripped at ``clock`` time 1000.0 (generation 1), permits 1..threshold spent."""
    breaker = make(clock, threshold, open_seconds, trials)
    fail(breaker, threshold)
    assert breaker.state is BreakerState.OPEN
    return breaker


def test_defaults_match_the_reference_product() -> None:
    assert BreakerConfig() == BreakerConfig(failure_threshold=5, open_seconds=30.0, half_open_max_calls=1)


def test_starts_closed_and_admits_calls(clock: FakeClock) -> None:
    breaker = make(clock)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.try_acquire() == Permit(generation=0, serial=1)
    assert breaker.try_acquire() == Permit(generation=0, serial=2)
    assert breaker.retry_after() == 0.0
    assert breaker.snapshot() == {"state": "closed", "generation": 0, "consecutiveFailures": 0}


def test_opens_exactly_at_the_threshold(clock: FakeClock) -> None:
    breaker = make(clock, threshold=3)
    fail(breaker, 2)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.snapshot()["consecutiveFailures"] == 2
    fail(breaker, 1)
    assert breaker.state is BreakerState.OPEN
    assert breaker.generation == 1


def test_a_success_in_between_resets_the_count(clock: FakeClock) -> None:
    breaker = make(clock, threshold=3)
    fail(breaker, 2)
    breaker.record_success(acquire(breaker))
    assert breaker.snapshot()["consecutiveFailures"] == 0
    fail(breaker, 2)
    assert breaker.state is BreakerState.CLOSED
    fail(breaker, 1)
    assert breaker.state is BreakerState.OPEN


def test_fails_fast_while_open(clock: FakeClock) -> None:
    breaker = opened(clock, threshold=3, open_seconds=10.0)
    assert breaker.try_acquire() is None
    clock.advance(9.999)
    assert breaker.try_acquire() is None
    assert breaker.state is BreakerState.OPEN
    assert breaker.snapshot() == {
        "state": "open",
        "generation": 1,
        "consecutiveFailures": 0,
        "openedAt": 1000.0,
        "retryAfterSeconds": pytest.approx(0.001),
    }


def test_retry_after_counts_down_to_zero(clock: FakeClock) -> None:
    breaker = opened(clock, threshold=3, open_seconds=10.0)
    assert breaker.retry_after() == 10.0
    clock.advance(4.0)
    assert breaker.retry_after() == 6.0
    clock.advance(6.0)
    assert breaker.retry_after() == 0.0
    assert breaker.state is BreakerState.HALF_OPEN


def test_half_open_after_the_window_admits_exactly_the_trial_calls(clock: FakeClock) -> None:
    breaker = opened(clock, threshold=3, open_seconds=10.0, trials=2)
    clock.advance(10.0)
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.try_acquire() == Permit(generation=2, serial=4)
    assert breaker.try_acquire() == Permit(generation=2, serial=5)
    assert breaker.try_acquire() is None
    assert breaker.snapshot() == {
        "state": "half_open",
        "generation": 2,
        "consecutiveFailures": 0,
        "openedAt": 1000.0,
        "trialsInFlight": 2,
    }


def test_the_window_elapses_lazily_on_try_acquire(clock: FakeClock) -> None:
    breaker = opened(clock, threshold=1, open_seconds=5.0)
    clock.advance(5.0)
    assert breaker.try_acquire() == Permit(generation=2, serial=2)
    assert breaker.try_acquire() is None


def test_a_successful_trial_closes(clock: FakeClock) -> None:
    breaker = opened(clock, threshold=3, open_seconds=10.0)
    clock.advance(10.0)
    breaker.record_success(acquire(breaker))
    assert breaker.state is BreakerState.CLOSED
    assert breaker.generation == 3
    assert breaker.snapshot() == {"state": "closed", "generation": 3, "consecutiveFailures": 0}
    fail(breaker, 2)
    assert breaker.state is BreakerState.CLOSED


def test_a_failed_trial_reopens_with_a_fresh_window(clock: FakeClock) -> None:
    breaker = opened(clock, threshold=3, open_seconds=10.0)
    clock.advance(12.0)
    breaker.record_failure(acquire(breaker))
    assert breaker.state is BreakerState.OPEN
    assert breaker.snapshot()["openedAt"] == 1012.0
    assert breaker.retry_after() == 10.0
    clock.advance(9.0)
    assert breaker.try_acquire() is None
    clock.advance(1.0)
    assert breaker.state is BreakerState.HALF_OPEN


def test_release_frees_a_trial_slot(clock: FakeClock) -> None:
    breaker = opened(clock, threshold=3, open_seconds=10.0)
    clock.advance(10.0)
    first = acquire(breaker)
    assert breaker.try_acquire() is None
    breaker.release(first)
    second = acquire(breaker)
    assert second == Permit(generation=2, serial=5)
    breaker.release(first)  # a second release of the same permit frees nothing more
    assert breaker.try_acquire() is None
    assert breaker.snapshot()["trialsInFlight"] == 1


def test_a_released_trial_has_no_say_in_the_verdict(clock: FakeClock) -> None:
    breaker = opened(clock, threshold=3, open_seconds=10.0)
    clock.advance(10.0)
    permit = acquire(breaker)
    breaker.release(permit)
    breaker.record_success(permit)
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.generation == 2


def test_release_while_closed_changes_nothing(clock: FakeClock) -> None:
    breaker = make(clock, threshold=3)
    fail(breaker, 2)
    breaker.release(acquire(breaker))
    assert breaker.snapshot() == {"state": "closed", "generation": 0, "consecutiveFailures": 2}


def test_a_stale_success_does_not_close_a_reopened_breaker(clock: FakeClock) -> None:
    breaker = make(clock, threshold=3, open_seconds=10.0)
    slow = acquire(breaker)
    fail(breaker, 3)
    clock.advance(10.0)
    breaker.record_failure(acquire(breaker))
    assert breaker.state is BreakerState.OPEN
    breaker.record_success(slow)
    assert breaker.state is BreakerState.OPEN
    assert breaker.generation == 3


def test_a_stale_success_does_not_close_a_half_open_breaker(clock: FakeClock) -> None:
    breaker = make(clock, threshold=3, open_seconds=10.0)
    slow = acquire(breaker)
    fail(breaker, 3)
    clock.advance(10.0)
    assert breaker.state is BreakerState.HALF_OPEN
    breaker.record_success(slow)
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.snapshot()["trialsInFlight"] == 0


def test_a_stale_failure_does_not_restart_the_open_window(clock: FakeClock) -> None:
    breaker = make(clock, threshold=3, open_seconds=10.0)
    slow = acquire(breaker)
    fail(breaker, 3)
    clock.advance(5.0)
    breaker.record_failure(slow)
    assert breaker.retry_after() == 5.0
    assert breaker.generation == 1


def test_stale_verdicts_do_not_count_after_closing_again(clock: FakeClock) -> None:
    breaker = make(clock, threshold=2, open_seconds=10.0)
    slow = [acquire(breaker) for _ in range(2)]
    fail(breaker, 2)
    clock.advance(10.0)
    breaker.record_success(acquire(breaker))
    for permit in slow:
        breaker.record_failure(permit)
    assert breaker.snapshot() == {"state": "closed", "generation": 3, "consecutiveFailures": 0}


def test_stale_release_does_not_free_a_new_trial_slot(clock: FakeClock) -> None:
    breaker = make(clock, threshold=1, open_seconds=10.0)
    old = acquire(breaker)
    fail(breaker, 1)
    clock.advance(10.0)
    acquire(breaker)
    breaker.release(old)
    assert breaker.try_acquire() is None


def test_uses_the_monotonic_clock_by_default() -> None:
    breaker = CircuitBreaker(BreakerConfig(failure_threshold=1, open_seconds=3600.0))
    fail(breaker, 1)
    assert 3599.0 < breaker.retry_after() <= 3600.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"failure_threshold": 0}, "failure_threshold must be at least 1, got 0"),
        ({"open_seconds": 0.0}, "open_seconds must be positive, got 0.0"),
        ({"open_seconds": -1.0}, "open_seconds must be positive, got -1.0"),
        ({"open_seconds": float("nan")}, "open_seconds must be positive, got nan"),
        ({"half_open_max_calls": 0}, "half_open_max_calls must be at least 1, got 0"),
    ],
)
def test_config_validation(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError) as info:
        BreakerConfig(**kwargs)  # type: ignore[arg-type]
    assert str(info.value) == message
