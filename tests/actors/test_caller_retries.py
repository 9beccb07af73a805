"""The retry loop of :class:`ProviderCaller` against real providers on 127.0.0.1, with the waits, the
jitter's random numbers and the time injected: exact schedules, and no test that sleeps them."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from flowker.actors import delivery
from flowker.actors.breaker import BreakerConfig, CircuitBreaker
from flowker.actors.caller import CallRequest, CallResult, ProviderCaller
from flowker.actors.provider_auth import NoAuth
from flowker.actors.retry_budget import BudgetConfig, RetryBudget
from flowker.actors.retry_policy import RetryPolicy
from flowker.domain.executor_config import ExecutorConfig
from flowker.dsl.retry import NodeRetry
from tests.fakes.clock import FakeClock
from tests.helpers.fault_provider import FaultProvider
from tests.helpers.stub_provider import StubProvider

#: A breaker that never opens: these tests are about retries, not the breaker.
NEVER_OPENS = BreakerConfig(failure_threshold=10**6, sliding_window_size=10**6, minimum_number_of_calls=10**6)

NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)
KEY = "exec-1:pay"
#: Short enough for the tests, long enough for a reply from 127.0.0.1.
TIMEOUT = 0.5


class Waits:
    """An injected sleep: records each wait and returns at once."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


def config(base_url: str) -> ExecutorConfig:
    return ExecutorConfig(
        id="6f1c2a8e-0000-4000-8000-0000000000aa",
        name="payments",
        baseUrl=base_url,
        endpoints=[
            {"name": "pay", "path": "/pay", "method": "POST", "timeout": TIMEOUT},
            {"name": "amend", "path": "/pay", "method": "PATCH", "timeout": TIMEOUT},
            {"name": "status", "path": "/pay", "method": "GET", "timeout": TIMEOUT},
        ],
        authentication={"type": "none", "config": {}},
        createdAt="2026-12-01T00:00:00Z",
        updatedAt="2026-12-01T00:00:00Z",
    )


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(trace_configs=[delivery.tracing()]) as traced:
        yield traced


@pytest.fixture
async def stub() -> AsyncIterator[StubProvider]:
    async with StubProvider() as provider:
        yield provider


@pytest.fixture
async def faults() -> AsyncIterator[FaultProvider]:
    async with FaultProvider() as provider:
        yield provider


def caller(
    base_url: str,
    session: aiohttp.ClientSession,
    waits: Waits,
    *,
    draw: float = 1.0,
    policy: RetryPolicy | None = None,
    budget: RetryBudget | None = None,
) -> ProviderCaller:
    return ProviderCaller(
        config(base_url),
        NoAuth(),
        session,
        policy or RetryPolicy(),
        # Failures must not open the breaker: these tests are about retries.
        CircuitBreaker(NEVER_OPENS),
        sleep=waits,
        budget=budget,
        draw=lambda: draw,
        now=lambda: NOW,
    )


def pay(endpoint: str = "pay", retry: NodeRetry | None = None) -> CallRequest:
    return CallRequest("cfg", endpoint, {"amount": 10}, idempotency_key=KEY, request_id="exec-1", retry=retry)


def outcome(result: CallResult) -> tuple[bool, str | None, int, bool]:
    return result.ok, result.code, result.attempts, result.may_have_reached


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- The schedule -----------------------------------------------------------------------------------


async def test_a_failing_provider_gets_five_attempts_one_two_four_eight_seconds_apart(
    stub: StubProvider, session: aiohttp.ClientSession
) -> None:
    stub.route("POST", "/pay", (503, {"error": "busy"}))
    waits = Waits()
    result = await caller(stub.url, session, waits, policy=RetryPolicy(jitter=False)).call(pay())
    assert outcome(result) == (False, "FLK-0256", 5, True)
    assert waits.seconds == [1.0, 2.0, 4.0, 8.0]
    assert result.error == "executor call failed after 5 attempts: provider answered HTTP 503"
    # Every attempt carries the step's one Idempotency-Key.
    assert [r.headers["Idempotency-Key"] for r in stub.calls("/pay")] == [KEY] * 5


@pytest.mark.parametrize(("draw", "expected"), [(1.0, [1, 2, 4, 8]), (0.5, [0.5, 1, 2, 4]), (0.0, [0] * 4)])
async def test_full_jitter_scales_each_wait_by_the_random_draw(
    draw: float, expected: list[float], stub: StubProvider, session: aiohttp.ClientSession
) -> None:
    stub.route("POST", "/pay", (500, None))
    waits = Waits()
    await caller(stub.url, session, waits, draw=draw).call(pay())
    assert waits.seconds == expected


async def test_jitter_with_the_real_random_stays_within_each_ceiling(
    stub: StubProvider, session: aiohttp.ClientSession
) -> None:
    stub.route("POST", "/pay", (502, None))
    policy = RetryPolicy(attempts=10, max_delay_seconds=5.0)
    waits = Waits()
    jittered = ProviderCaller(
        config(stub.url),
        NoAuth(),
        session,
        policy,
        CircuitBreaker(NEVER_OPENS),
        sleep=waits,
    )
    for _ in range(5):
        await jittered.call(pay())
    ceilings = [1, 2, 4, 5, 5, 5, 5, 5, 5] * 5
    assert len(waits.seconds) == len(ceilings)
    assert all(0 <= wait <= ceiling for wait, ceiling in zip(waits.seconds, ceilings, strict=True))
    assert len(set(waits.seconds)) > 1  # really drawn


async def test_a_success_after_failures_ends_the_retries(
    stub: StubProvider, session: aiohttp.ClientSession
) -> None:
    stub.route("POST", "/pay", [(503, None), (500, None), (200, {"paid": True})])
    waits = Waits()
    result = await caller(stub.url, session, waits).call(pay())
    assert outcome(result) == (True, None, 3, True)
    assert waits.seconds == [1.0, 2.0]
    assert result.response is not None and result.response["body"] == {"paid": True}


# --- Retry-After ------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("7", 7.0),
        ("45", 45.0),
        ("Tue, 01 Dec 2026 12:00:12 GMT", 12.0),
        ("Tue, 01 Dec 2026 11:00:00 GMT", 0.0),
    ],
    ids=["seconds", "over-the-backoff-cap", "http-date", "date-in-the-past"],
)
async def test_retry_after_is_honoured_as_asked_on_429_and_503_alike(
    status: int, header: str, seconds: float, stub: StubProvider, session: aiohttp.ClientSession
) -> None:
    stub.route("POST", "/pay", [(status, None, {"Retry-After": header}), (200, {})])
    waits = Waits()
    # A small draw: a jittered backoff would be far shorter than what the provider asked for.
    result = await caller(stub.url, session, waits, draw=0.01).call(pay())
    assert outcome(result) == (True, None, 2, True)
    assert waits.seconds == [seconds]


@pytest.mark.parametrize(
    ("header", "asked"), [("61", "61"), ("3600", "3600"), ("Tue, 01 Dec 2026 12:02:00 GMT", "120")]
)
async def test_a_retry_after_over_the_bound_fails_the_call_clearly_instead_of_retrying_early(
    header: str, asked: str, stub: StubProvider, session: aiohttp.ClientSession
) -> None:
    stub.route("POST", "/pay", [(429, None, {"Retry-After": header}), (200, {})])
    waits = Waits()
    result = await caller(stub.url, session, waits).call(pay())
    assert outcome(result) == (False, "FLK-0284", 1, True)
    assert result.error == (
        "executor call failed after 1 attempt: provider answered HTTP 429; not retried: the provider asked "
        f"to wait {asked} s (Retry-After), more than the 60 s allowed (FLOWKER_RETRY_AFTER_MAX_SECONDS)"
    )
    assert waits.seconds == [] and len(stub.calls("/pay")) == 1
    assert result.response is not None and result.response["status"] == 429


async def test_retry_after_on_the_last_attempt_changes_nothing(
    stub: StubProvider, session: aiohttp.ClientSession
) -> None:
    stub.route("POST", "/pay", (503, None, {"Retry-After": "9999"}))
    result = await caller(stub.url, session, Waits(), policy=RetryPolicy(attempts=1)).call(pay())
    assert outcome(result) == (False, "FLK-0256", 1, True)


# --- What is retried --------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 301])
async def test_a_client_error_is_never_retried(
    status: int, stub: StubProvider, session: aiohttp.ClientSession
) -> None:
    stub.route("POST", "/pay", (status, {"error": "no"}, {"Retry-After": "1"}))
    waits = Waits()
    result = await caller(stub.url, session, waits).call(pay())
    assert outcome(result) == (False, "FLK-0256", 1, True)
    assert waits.seconds == [] and len(stub.calls("/pay")) == 1


async def test_retry_on_lists_the_statuses_that_are_retried(
    stub: StubProvider, session: aiohttp.ClientSession
) -> None:
    waits = Waits()
    only_429 = NodeRetry(retry_on=(429,))
    stub.route("POST", "/pay", (503, None))
    assert outcome(await caller(stub.url, session, waits).call(pay(retry=only_429))) == (
        False,
        "FLK-0256",
        1,
        True,
    )
    stub.route("POST", "/pay", [(429, None), (200, {})])
    assert outcome(await caller(stub.url, session, waits).call(pay(retry=only_429))) == (True, None, 2, True)
    stub.route("POST", "/pay", [(408, None), (200, {})])
    timeouts = NodeRetry(retry_on=(408,))
    assert outcome(await caller(stub.url, session, waits).call(pay(retry=timeouts))) == (True, None, 2, True)
    stub.route("POST", "/pay", (500, None))
    none = NodeRetry(retry_on=())
    assert outcome(await caller(stub.url, session, waits).call(pay(retry=none))) == (
        False,
        "FLK-0256",
        1,
        True,
    )


async def test_a_node_overrides_attempts_and_intervals(
    stub: StubProvider, session: aiohttp.ClientSession
) -> None:
    stub.route("POST", "/pay", (503, None))
    waits = Waits()
    node = NodeRetry(max_attempts=4, initial_interval_ms=100, backoff_coefficient=3.0, max_interval_ms=500)
    result = await caller(stub.url, session, waits).call(pay(retry=node))
    assert outcome(result) == (False, "FLK-0256", 4, True)
    assert waits.seconds == pytest.approx([0.1, 0.3, 0.5])
    stub.requests.clear()
    single = await caller(stub.url, session, waits).call(pay(retry=NodeRetry(max_attempts=1)))
    assert outcome(single) == (False, "FLK-0256", 1, True) and len(stub.calls("/pay")) == 1


# --- Idempotency ------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["hang", "reset"])
@pytest.mark.parametrize("endpoint", ["pay", "amend"])
async def test_a_post_or_patch_that_may_have_reached_the_provider_is_not_repeated_by_default(
    mode: str, endpoint: str, faults: FaultProvider, session: aiohttp.ClientSession
) -> None:
    faults.mode = mode
    waits = Waits()
    result = await caller(faults.url, session, waits).call(pay(endpoint))
    code, attempts, reached = result.code, result.attempts, result.may_have_reached
    assert (result.ok, code, attempts, reached) == (False, "FLK-0256", 1, True)
    method = {"pay": "POST", "amend": "PATCH"}[endpoint]
    assert result.error is not None and result.error.endswith(
        f"; not retried: the {method} may have reached the provider, and the policy does not repeat a POST "
        "or PATCH then (retryNonIdempotent is off)"
    )
    assert len(faults.arrivals) == 1 and waits.seconds == []


@pytest.mark.parametrize("mode", ["hang", "reset"])
async def test_retry_non_idempotent_repeats_it_with_the_same_idempotency_key(
    mode: str, faults: FaultProvider, session: aiohttp.ClientSession
) -> None:
    faults.mode = mode
    waits = Waits()
    node = NodeRetry(max_attempts=3, retry_non_idempotent=True)
    result = await caller(faults.url, session, waits).call(pay(retry=node))
    code = {"hang": "FLK-0256", "reset": "FLK-0256"}[mode]
    assert outcome(result) == (False, code, 3, True)
    assert [a.idempotency_key for a in faults.arrivals] == [KEY] * 3
    assert waits.seconds == [1.0, 2.0]


# aiohttp itself sends an idempotent request once more when the connection is reset under it (RFC 9112
# §9.3.1): two requests for the first attempt.
@pytest.mark.parametrize(("mode", "attempts"), [("hang", 3), ("reset", 2)])
async def test_a_get_is_always_retried(
    mode: str, attempts: int, faults: FaultProvider, session: aiohttp.ClientSession
) -> None:
    faults.script = [mode, mode, "answer"]
    result = await caller(faults.url, session, Waits()).call(pay("status"))
    assert outcome(result) == (True, None, attempts, True)
    assert [a.method for a in faults.arrivals] == ["GET"] * 3


async def test_a_post_that_was_never_sent_is_retried_and_says_so(session: aiohttp.ClientSession) -> None:
    waits = Waits()
    result = await caller(f"http://127.0.0.1:{closed_port()}", session, waits).call(pay())
    assert outcome(result) == (False, "FLK-0256", 5, False)
    assert result.error == "executor call failed after 5 attempts: network error (ClientConnectorError)"
    assert waits.seconds == [1.0, 2.0, 4.0, 8.0]


class HangingResolver(aiohttp.abc.AbstractResolver):
    """A name that never resolves: the call's whole timeout runs out while connecting."""

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[Any]:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def close(self) -> None:
        pass


@pytest.mark.parametrize(("traced", "attempts", "reached"), [(True, 3, False), (False, 1, True)])
async def test_a_timeout_while_connecting_sent_nothing_when_the_session_traces_it(
    traced: bool, attempts: int, reached: bool
) -> None:
    # A plain total timeout that expires while connecting raises the same TimeoutError as one after the
    # request was sent; only aiohttp's trace tells them apart. Without it, the answer errs on the safe side.
    connector = aiohttp.TCPConnector(resolver=HangingResolver())
    traces = [delivery.tracing()] if traced else []
    async with aiohttp.ClientSession(connector=connector, trace_configs=traces) as session:
        result = await caller(
            "http://provider.invalid", session, Waits(), policy=RetryPolicy(attempts=3)
        ).call(pay())
    assert outcome(result) == (False, "FLK-0256", attempts, reached)
    assert result.error is not None and result.error.startswith(
        f"executor call failed after {attempts} attempt{'s' * (attempts > 1)}: timed out"
    )


async def test_one_attempt_that_may_have_reached_makes_the_whole_call_one_that_may_have(
    faults: FaultProvider, session: aiohttp.ClientSession
) -> None:
    # The first POST arrives and is reset; the provider is gone before the second, which is refused.
    faults.mode = "reset"

    class ProviderGoesAway(Waits):
        async def __call__(self, seconds: float) -> None:
            await super().__call__(seconds)
            await faults.__aexit__(None, None, None)

    node = NodeRetry(max_attempts=3, retry_non_idempotent=True)
    result = await caller(faults.url, session, ProviderGoesAway()).call(pay(retry=node))
    assert outcome(result) == (False, "FLK-0256", 3, True)
    assert result.error == "executor call failed after 3 attempts: network error (ClientConnectorError)"
    assert len(faults.arrivals) == 1


# --- The budget -------------------------------------------------------------------------------------


async def test_a_spent_budget_stops_the_retries_and_says_whose(
    stub: StubProvider, session: aiohttp.ClientSession
) -> None:
    stub.route("POST", "/pay", (503, None))
    clock = FakeClock()
    budget = RetryBudget(BudgetConfig(ratio=0.5, window_seconds=10.0, min_retries=1), clock)
    waits = Waits()
    shared = caller(stub.url, session, waits, budget=budget)
    first = await shared.call(pay())  # 1 call: 0.5 + 1 allowed, one retry granted
    assert outcome(first) == (False, "FLK-0285", 2, True)
    assert first.error == (
        "executor call failed after 2 attempts: provider answered HTTP 503; not retried: the retry budget "
        "of executor configuration 'payments' is spent (1 retries for 1 calls in the last 10 s)"
    )
    second = await shared.call(pay())  # 2 calls: 1 + 1 allowed, one left
    assert outcome(second) == (False, "FLK-0285", 2, True)
    third = await shared.call(pay())  # 3 calls: 2.5 allowed, 2 used
    assert outcome(third) == (False, "FLK-0285", 1, True)
    clock.advance(10.0)
    fresh = await shared.call(pay())
    assert outcome(fresh) == (False, "FLK-0285", 2, True)
    assert len(stub.calls("/pay")) == 7


async def test_a_budget_is_not_spent_by_failures_that_are_not_retried(
    stub: StubProvider, session: aiohttp.ClientSession
) -> None:
    stub.route("POST", "/pay", (400, None))
    budget = RetryBudget(BudgetConfig(ratio=0.0, window_seconds=10.0, min_retries=1), FakeClock())
    shared = caller(stub.url, session, Waits(), budget=budget)
    for _ in range(5):
        assert outcome(await shared.call(pay())) == (False, "FLK-0256", 1, True)
    assert budget.snapshot() == {"calls": 5, "retries": 0, "allowed": 1.0}
