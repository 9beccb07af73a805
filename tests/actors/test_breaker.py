from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from flowker.actors.breaker import (
    BreakerConfig,
    BreakerState,
    CircuitBreaker,
    Outcome,
    Permit,
    outcome_of_error,
    outcome_of_status,
)
from flowker.actors.breaker_settings import breaker_config
from flowker.actors.transport import ResponseTooLarge
from flowker.domain.breaker_state import BreakerRecord, breaker_view
from flowker.settings import Settings
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
    assert BreakerConfig() == BreakerConfig(
        failure_threshold=5,
        open_seconds=30.0,
        half_open_max_calls=1,
        failure_rate_threshold=50.0,
        sliding_window_size=100,
        minimum_number_of_calls=20,
        slow_call_seconds=10.0,
        slow_call_rate_threshold=100.0,
        count_rate_limited=False,
    )
    assert breaker_config(Settings()) == BreakerConfig()


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


def test_uses_the_wall_clock_by_default() -> None:
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


# --- the resilience4j model: rates, slow calls, K trials, what counts -----------------------------


def rated(clock: FakeClock, **fields: Any) -> CircuitBreaker:
    """A breaker whose consecutive-failure rule is out of the way (threshold 1000)."""
    config: dict[str, Any] = {
        "failure_threshold": 1000,
        "open_seconds": 10.0,
        "sliding_window_size": 10,
        "minimum_number_of_calls": 5,
        "failure_rate_threshold": 50.0,
        "slow_call_seconds": 2.0,
        "slow_call_rate_threshold": 80.0,
    }
    return CircuitBreaker(BreakerConfig(**(config | fields)), clock=clock)


def calls(breaker: CircuitBreaker, pattern: str, seconds: float = 0.0) -> None:
    """``F`` a failure, ``S`` a success, ``R`` a 429 — each as one call taking ``seconds``."""
    kinds = {"F": Outcome.FAILURE, "S": Outcome.SUCCESS, "R": Outcome.RATE_LIMITED}
    for mark in pattern:
        breaker.record_outcome(acquire(breaker), kinds[mark], seconds)


def test_a_failure_rate_trips_only_once_the_window_holds_the_minimum(clock: FakeClock) -> None:
    breaker = rated(clock)
    calls(breaker, "FSFS")  # 50 % of 4 calls: below the minimum of 5
    assert breaker.state is BreakerState.CLOSED
    assert breaker.record().failure_rate == 50.0
    calls(breaker, "F")  # 3 of 5 = 60 %
    assert breaker.state is BreakerState.OPEN


def test_a_failure_rate_below_the_threshold_keeps_it_closed(clock: FakeClock) -> None:
    breaker = rated(clock)
    calls(breaker, "FSSFSSFSSS")  # 30 % over a full window
    assert breaker.state is BreakerState.CLOSED
    record = breaker.record()
    assert (record.failure_rate, record.calls_in_window) == (30.0, 10)


def test_the_window_slides_old_calls_out(clock: FakeClock) -> None:
    breaker = rated(clock, sliding_window_size=4, minimum_number_of_calls=4, failure_rate_threshold=75.0)
    calls(breaker, "FFSS")  # 50 %
    calls(breaker, "S")  # the first F slides out: F S S S = 25 %
    assert breaker.record().failure_rate == 25.0
    calls(breaker, "FF")  # S S F F = 50 %
    assert breaker.state is BreakerState.CLOSED
    calls(breaker, "F")  # S F F F = 75 %
    assert breaker.state is BreakerState.OPEN


def test_a_minimum_larger_than_the_window_is_capped(clock: FakeClock) -> None:
    breaker = rated(clock, sliding_window_size=3, minimum_number_of_calls=50)
    calls(breaker, "FSF")
    assert breaker.state is BreakerState.OPEN


def test_a_slow_call_rate_trips_even_when_every_call_succeeds(clock: FakeClock) -> None:
    breaker = rated(clock)
    calls(breaker, "SSS", seconds=2.0)  # exactly the threshold is slow
    calls(breaker, "S", seconds=1.9)
    assert breaker.state is BreakerState.CLOSED  # 3 of 4, below the minimum
    calls(breaker, "S", seconds=5.0)  # 4 of 5 = 80 %
    assert breaker.state is BreakerState.OPEN


def test_fast_calls_keep_the_slow_rate_down(clock: FakeClock) -> None:
    breaker = rated(clock)
    calls(breaker, "SSS", seconds=0.1)
    calls(breaker, "SSSSSSS", seconds=3.0)  # 70 % slow at most, once past the minimum
    assert breaker.state is BreakerState.CLOSED
    assert breaker.record().slow_call_rate == 70.0


def test_consecutive_failures_trip_before_the_minimum(clock: FakeClock) -> None:
    breaker = rated(clock, failure_threshold=3, minimum_number_of_calls=10)
    calls(breaker, "FF")
    assert breaker.record().consecutive_failures == 2
    calls(breaker, "F")
    assert breaker.state is BreakerState.OPEN


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 200, 201, 302])
def test_an_answer_below_500_other_than_429_is_a_success(status: int) -> None:
    assert outcome_of_status(status) is Outcome.SUCCESS


@pytest.mark.parametrize("status", [500, 502, 503, 504, 599])
def test_5xx_is_a_failure(status: int) -> None:
    assert outcome_of_status(status) is Outcome.FAILURE


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (TimeoutError(), Outcome.FAILURE),
        (ConnectionResetError(), Outcome.FAILURE),
        (aiohttp.ServerDisconnectedError(), Outcome.FAILURE),
        (ResponseTooLarge("too large", 100), Outcome.SUCCESS),
    ],
)
def test_network_errors_and_timeouts_fail_an_answer_out_of_bounds_does_not(
    error: BaseException, outcome: Outcome
) -> None:
    assert outcome_of_error(error) is outcome


def test_4xx_answers_do_not_count_and_reset_the_consecutive_failures(clock: FakeClock) -> None:
    breaker = rated(clock, failure_threshold=3, minimum_number_of_calls=10)
    calls(breaker, "FF")
    breaker.record_outcome(acquire(breaker), outcome_of_status(400))
    assert breaker.record().consecutive_failures == 0
    calls(breaker, "FF")
    assert breaker.state is BreakerState.CLOSED


def test_429_does_not_count_by_default(clock: FakeClock) -> None:
    breaker = rated(clock, failure_threshold=3)
    assert outcome_of_status(429) is Outcome.RATE_LIMITED
    calls(breaker, "FFRRRRRRRRRR")
    record = breaker.record()
    assert (record.state, record.consecutive_failures, record.calls_in_window) == ("closed", 2, 2)


def test_429_counts_when_configured_to(clock: FakeClock) -> None:
    breaker = rated(clock, failure_threshold=3, count_rate_limited=True)
    calls(breaker, "FFR")
    assert breaker.state is BreakerState.OPEN


def test_a_429_trial_that_does_not_count_frees_its_slot(clock: FakeClock) -> None:
    breaker = opened(clock, threshold=3, open_seconds=10.0)
    clock.advance(10.0)
    calls(breaker, "R")
    assert breaker.state is BreakerState.HALF_OPEN
    calls(breaker, "S")
    assert breaker.state is BreakerState.CLOSED


def test_half_open_closes_after_k_successful_trials(clock: FakeClock) -> None:
    breaker = opened(clock, threshold=3, open_seconds=10.0, trials=3)
    clock.advance(10.0)
    trials = [acquire(breaker) for _ in range(3)]
    assert breaker.try_acquire() is None
    breaker.record_success(trials[0])
    assert breaker.try_acquire() is None  # a passed trial keeps its slot: at most K trials in all
    breaker.record_success(trials[1])
    assert breaker.state is BreakerState.HALF_OPEN
    breaker.record_success(trials[2])
    assert breaker.state is BreakerState.CLOSED


def test_any_failed_trial_of_k_reopens(clock: FakeClock) -> None:
    breaker = opened(clock, threshold=3, open_seconds=10.0, trials=3)
    clock.advance(10.0)
    first, second, third = (acquire(breaker) for _ in range(3))
    breaker.record_success(first)
    breaker.record_failure(second)
    assert breaker.state is BreakerState.OPEN
    assert breaker.retry_after() == 10.0
    breaker.record_success(third)  # stale now: it cannot close the re-opened breaker
    assert breaker.state is BreakerState.OPEN


def test_a_slow_trial_reopens(clock: FakeClock) -> None:
    breaker = CircuitBreaker(BreakerConfig(failure_threshold=1, slow_call_seconds=2.0), clock=clock)
    fail(breaker, 1)
    clock.advance(30.0)
    breaker.record_success(acquire(breaker), seconds=2.5)
    assert breaker.state is BreakerState.OPEN


def test_a_transition_empties_the_window(clock: FakeClock) -> None:
    breaker = rated(clock)
    calls(breaker, "SSFFF")
    assert breaker.state is BreakerState.OPEN
    clock.advance(10.0)
    calls(breaker, "S")
    assert breaker.state is BreakerState.CLOSED
    calls(breaker, "FFFF")  # 4 failures, but the window restarted: below the minimum
    assert breaker.state is BreakerState.CLOSED
    assert breaker.record().failure_rate == 100.0


# --- reset, records, restore -------------------------------------------------------------------


def test_reset_closes_from_any_state_and_makes_permits_stale(clock: FakeClock) -> None:
    breaker = make(clock, threshold=2)
    old = acquire(breaker)
    fail(breaker, 2)
    breaker.reset()
    assert breaker.snapshot() == {"state": "closed", "generation": 2, "consecutiveFailures": 0}
    breaker.record_failure(old)
    assert breaker.record().consecutive_failures == 0
    fail(breaker, 2)
    clock.advance(10.0)
    assert breaker.state is BreakerState.HALF_OPEN
    breaker.reset()
    assert breaker.state is BreakerState.CLOSED


def test_every_transition_is_reported_with_wall_clock_times(clock: FakeClock) -> None:
    seen: list[BreakerRecord] = []
    breaker = CircuitBreaker(BreakerConfig(3, 10.0, 1), clock=clock, on_change=seen.append)
    fail(breaker, 3)
    clock.advance(10.0)
    breaker.record_success(acquire(breaker))
    breaker.reset()
    assert [r.state for r in seen] == ["open", "half_open", "closed", "closed"]
    assert (seen[0].opened_at, seen[0].next_trial_at) == (1000.0, 1010.0)
    assert (seen[1].opened_at, seen[1].next_trial_at) == (1000.0, None)
    assert seen[2].opened_at is None


def test_restore_resumes_an_open_window(clock: FakeClock) -> None:
    stored = BreakerRecord(state="open", opened_at=995.0, next_trial_at=1005.0, updated_at=995.0)
    breaker = make(clock, open_seconds=10.0)
    breaker.restore(stored)
    assert breaker.state is BreakerState.OPEN
    assert breaker.try_acquire() is None
    assert breaker.retry_after() == 5.0
    clock.advance(5.0)
    assert breaker.state is BreakerState.HALF_OPEN


def test_restore_of_an_expired_open_window_is_half_open(clock: FakeClock) -> None:
    seen: list[BreakerRecord] = []
    breaker = CircuitBreaker(BreakerConfig(3, 10.0, 1), clock=clock, on_change=seen.append)
    breaker.restore(BreakerRecord(state="open", opened_at=900.0, next_trial_at=910.0))
    assert breaker.state is BreakerState.HALF_OPEN
    assert [r.state for r in seen] == ["half_open"]
    breaker.record_success(acquire(breaker))
    assert breaker.state is BreakerState.CLOSED


def test_restore_of_half_open_and_closed(clock: FakeClock) -> None:
    breaker = make(clock, threshold=3)
    breaker.restore(BreakerRecord(state="half_open", opened_at=990.0))
    assert breaker.state is BreakerState.HALF_OPEN
    breaker.record_failure(acquire(breaker))
    assert breaker.retry_after() == 10.0
    breaker.restore(BreakerRecord(state="closed", consecutive_failures=2))
    assert breaker.state is BreakerState.CLOSED
    fail(breaker, 1)
    assert breaker.state is BreakerState.OPEN


def test_reconfigure_keeps_the_state_and_applies_new_thresholds(clock: FakeClock) -> None:
    breaker = make(clock, threshold=5)
    fail(breaker, 2)
    breaker.reconfigure(BreakerConfig(failure_threshold=3, open_seconds=10.0))
    assert breaker.record().consecutive_failures == 2
    fail(breaker, 1)
    assert breaker.state is BreakerState.OPEN


def test_the_view_of_a_stored_record(clock: FakeClock) -> None:
    stored = BreakerRecord(
        state="open", failure_rate=60.0, calls_in_window=20, opened_at=0.0, next_trial_at=30.0
    )
    assert breaker_view(stored, now=10.0) == {
        "state": "open",
        "failureRate": 60.0,
        "slowCallRate": None,
        "callsInWindow": 20,
        "consecutiveFailures": 0,
        "openedAt": "1970-01-01T00:00:00.000000Z",
        "nextTrialAt": "1970-01-01T00:00:30.000000Z",
    }
    later = breaker_view(stored, now=30.0)
    assert (later["state"], later["openedAt"], later["nextTrialAt"]) == (
        "half_open",
        "1970-01-01T00:00:00.000000Z",
        None,
    )
    assert breaker_view(None, now=0.0)["state"] == "closed"


def test_the_breaker_override_replaces_the_settings() -> None:
    settings = Settings(breaker_failure_threshold=7, breaker_count_rate_limited=True)
    config = breaker_config(
        settings,
        {
            "failureThreshold": 2,
            "waitDurationInOpenStateMs": 1500,
            "slowCallDurationMs": 250,
            "countRateLimited": False,
            "halfOpenCalls": 3,
        },
    )
    assert config == BreakerConfig(
        failure_threshold=2,
        open_seconds=1.5,
        half_open_max_calls=3,
        slow_call_seconds=0.25,
        count_rate_limited=False,
    )
    assert breaker_config(settings).failure_threshold == 7


async def test_the_persister_writes_the_last_state_and_survives_a_failed_write() -> None:
    from flowker.actors.breaker_persistence import BreakerPersister

    class Repository:
        def __init__(self) -> None:
            self.written: list[str] = []
            self.fail_next = False

        async def get(self, config_id: str) -> BreakerRecord | None:
            return None

        async def put(self, config_id: str, record: BreakerRecord, events: Any = ()) -> None:
            await asyncio.sleep(0)
            if self.fail_next:
                self.fail_next = False
                raise OSError("disk full")
            self.written.append(record.state)

    repository = Repository()
    persister = BreakerPersister("c", None)
    persister.save(BreakerRecord(state="open"))  # before the store is open: kept
    persister.attach(repository)
    persister.save(BreakerRecord(state="half_open"))  # replaces the pending one
    await persister.flush()
    assert repository.written == ["half_open"]
    repository.fail_next = True
    persister.save(BreakerRecord(state="closed"))
    await persister.flush()
    persister.save(BreakerRecord(state="open"))
    await persister.flush()
    assert repository.written == ["half_open", "open"]
