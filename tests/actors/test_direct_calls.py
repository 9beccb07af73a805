"""The direct lane and its lease, without Ray: the actor's end (a real breaker and budget behind a
:class:`LeaseDesk`) is called in-process, the provider is a stub on 127.0.0.1, the clock is the test's."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from flowker.actors import delivery
from flowker.actors.breaker import BreakerConfig, BreakerState, CircuitBreaker, Outcome
from flowker.actors.call_lease import Lease, LeasedBreaker, LeaseDesk, LeaseHolder, Report
from flowker.actors.caller import CallRequest, CallResult, Handover, ProviderCaller
from flowker.actors.caller_source import CallerSource
from flowker.actors.config import RuntimeConfig
from flowker.actors.direct_calls import DirectLane, static_only
from flowker.actors.executor_handle import _after_handover
from flowker.actors.provider_auth import STATIC_TYPES, Authenticator, NoAuth
from flowker.actors.retry_budget import BudgetConfig, RetryBudget
from flowker.actors.retry_policy import RetryPolicy
from flowker.actors.transport import ProviderRequest
from flowker.domain.authentication import seal_authentication
from flowker.domain.executor_config import ExecutorConfig, ExecutorStatus
from flowker.errors import CallRefused
from flowker.secretbox import SecretBox
from flowker.settings import Settings
from tests.fakes.clock import FakeClock
from tests.helpers.stub_provider import StubProvider

BOX = SecretBox(os.urandom(32))
CONFIG_ID = "6f1c2a8e-0000-4000-8000-0000000000dd"
KEY = "exec-1:pay"
NOW = datetime(2026, 12, 2, 12, 0, 0, tzinfo=UTC)
SECRET = "pay-secret-key-0123456789"


class Waits:
    """An injected sleep: records each wait and returns at once."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


class Configs:
    """The lane's store, as far as CallerSource reads it."""

    def __init__(self, config: ExecutorConfig) -> None:
        self.config = config
        self.reads = 0

    async def get(self, config_id: str, /) -> ExecutorConfig | None:
        self.reads += 1
        return self.config if config_id == self.config.id else None


class Actor:
    """The executor actor's end of the lease, in-process: its breaker, budget and configuration."""

    def __init__(self, breaker: CircuitBreaker, configs: Configs) -> None:
        self.breaker = breaker
        self.budget = RetryBudget(BudgetConfig(ratio=0.0, min_retries=10))
        self.desk = LeaseDesk(self.breaker, self.budget)
        self.configs = configs
        self.asked: list[list[Report]] = []

    async def lease(self, reports: list[Report]) -> Lease:
        """What ExecutorActor.lease does, minus Ray."""
        self.asked.append(reports)
        self.desk.apply(reports)
        config = self.configs.config
        if config.status != ExecutorStatus.ACTIVE:
            return self.desk.grant(revision=None, direct=False, retiring=False)
        static = config.authentication.get("type") in STATIC_TYPES
        return self.desk.grant(revision=config.revision, direct=static, retiring=False)


def executor_config(base_url: str, authentication: dict[str, Any] | None = None) -> ExecutorConfig:
    return ExecutorConfig(
        id=CONFIG_ID,
        name="payments",
        baseUrl=base_url,
        endpoints=[{"name": "pay", "path": "/pay", "method": "POST", "timeout": 0.5}],
        authentication=seal_authentication(
            authentication or {"type": "api_key", "config": {"key": SECRET}}, BOX
        ),
        createdAt="2026-12-01T00:00:00Z",
        updatedAt="2026-12-01T00:00:00Z",
        revision=3,
    )


def pay(key: str = KEY) -> CallRequest:
    return CallRequest(CONFIG_ID, "pay", {"amount": 10}, idempotency_key=key, request_id="exec-1")


#: One attempt a call (the direct side's policy: the hand-over tests give their own).
ONE_ATTEMPT = RetryPolicy(attempts=1, jitter=False)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(trace_configs=[delivery.tracing()]) as traced:
        yield traced


@pytest.fixture
async def stub() -> AsyncIterator[StubProvider]:
    async with StubProvider() as provider:
        provider.route("POST", "/pay", lambda body, request: (200, {"paid": body}))
        yield provider


class Rig:
    """A lane, the actor's end, and the clock."""

    def __init__(
        self,
        stub: StubProvider,
        session: aiohttp.ClientSession,
        *,
        authentication: dict[str, Any] | None = None,
        policy: RetryPolicy = ONE_ATTEMPT,
        breaker: BreakerConfig | None = None,
    ) -> None:
        self.clock = FakeClock()
        self.configs = Configs(executor_config(stub.url, authentication))
        self.actor = Actor(CircuitBreaker(breaker or BreakerConfig(), clock=self.clock), self.configs)
        self.sources = 0

        async def make_source() -> CallerSource:
            self.sources += 1

            def make(clear: ExecutorConfig, auth: Authenticator) -> ProviderCaller:
                return ProviderCaller(
                    clear, auth, session, policy, LeasedBreaker.admitting_none(), now=lambda: NOW
                )

            return CallerSource(
                CONFIG_ID, self.configs, BOX, make, make_authenticator=static_only, now=self.clock
            )

        self.lane = DirectLane(
            CONFIG_ID,
            self.actor.lease,
            make_source,
            holder=LeaseHolder(self.clock),
            clock=self.clock,
            background=False,
        )


# --- The lease -------------------------------------------------------------------------------------


def lease(state: BreakerState = BreakerState.CLOSED, **changes: Any) -> Lease:
    return dataclasses.replace(Lease("epoch-1", state, 4, 0.0, 3, direct=True), **changes)


@pytest.mark.parametrize(
    "changes",
    [
        {"state": BreakerState.OPEN},
        {"state": BreakerState.HALF_OPEN},
        {"direct": False},
        {"revision": None},
        {"retiring": True},
    ],
    ids=["open", "half-open", "token-credentials", "configuration-gone", "actor-retiring"],
)
def test_only_a_closed_lease_for_static_credentials_is_used(changes: dict[str, Any]) -> None:
    holder = LeaseHolder(FakeClock())
    asked_at, _ = holder.asking()
    holder.granted(lease(**changes), asked_at)
    assert holder.fresh() is None
    holder.granted(lease(), asked_at)
    assert holder.fresh() == lease()


def test_a_lease_is_fresh_for_a_tenth_of_a_second_from_when_it_was_asked_for() -> None:
    clock = FakeClock()
    holder = LeaseHolder(clock)
    assert holder.fresh() is None  # none asked for yet
    asked_at, _ = holder.asking()
    clock.advance(0.06)  # the answer took 60 ms: the lease has 40 ms left, not 100
    holder.granted(lease(), asked_at)
    clock.advance(0.04)
    assert holder.fresh() == lease()
    clock.advance(0.001)
    assert holder.fresh() is None


def test_an_answer_older_than_the_lease_held_is_ignored() -> None:
    clock = FakeClock()
    holder = LeaseHolder(clock)
    first, _ = holder.asking()
    clock.advance(0.05)
    second, _ = holder.asking()
    holder.granted(lease(generation=5), second)
    holder.granted(lease(generation=4), first)
    assert holder.fresh() == lease(generation=5)


def test_a_revoked_lease_is_not_used_nor_restored_by_an_answer_asked_for_before() -> None:
    clock = FakeClock()
    holder = LeaseHolder(clock)
    asked, _ = holder.asking()
    holder.granted(lease(), asked)
    in_flight, _ = holder.asking()  # a refresh under way while a call through the actor fails
    clock.advance(0.01)
    holder.revoke()
    assert holder.fresh() is None
    holder.granted(lease(generation=4), in_flight)  # it may say CLOSED from before the breaker opened
    assert holder.fresh() is None
    clock.advance(0.01)
    later, _ = holder.asking()
    holder.granted(lease(generation=5), later)
    assert holder.fresh() == lease(generation=5)


def test_reports_are_sent_in_one_batch_and_kept_when_the_request_fails() -> None:
    holder = LeaseHolder(FakeClock(), max_pending=3)
    for seconds in (1.0, 2.0):
        holder.report(Report("e", 1, Outcome.SUCCESS, seconds))
    _, batch = holder.asking()
    assert [r.seconds for r in batch] == [1.0, 2.0]
    holder.report(Report("e", 1, Outcome.SUCCESS, 3.0))
    holder.failed(batch)
    holder.report(Report("e", 1, Outcome.SUCCESS, 4.0))
    # Kept for the next request, oldest dropped beyond the bound.
    assert [r.seconds for r in holder.asking()[1]] == [2.0, 3.0, 4.0]
    assert holder.pending == 0


def test_reported_failures_open_the_actors_breaker_and_count_in_its_budget() -> None:
    breaker = CircuitBreaker(BreakerConfig(failure_threshold=3), clock=FakeClock())
    budget = RetryBudget(BudgetConfig(), clock=FakeClock())
    desk = LeaseDesk(breaker, budget)
    granted = desk.grant(revision=3, direct=True, retiring=False)
    assert granted.state is BreakerState.CLOSED
    desk.apply([Report(granted.epoch, granted.generation, Outcome.FAILURE, 0.01)] * 2)
    assert breaker.state is BreakerState.CLOSED
    desk.apply([Report(granted.epoch, granted.generation, Outcome.FAILURE, 0.01)])
    assert breaker.state is BreakerState.OPEN
    after = desk.grant(revision=3, direct=True, retiring=False)
    assert (after.state, after.usable, after.retry_after > 0) == (BreakerState.OPEN, False, True)
    assert budget.snapshot()["calls"] == 3


def test_reports_of_an_older_generation_or_another_actor_are_no_verdict() -> None:
    breaker = CircuitBreaker(BreakerConfig(failure_threshold=1), clock=FakeClock())
    budget = RetryBudget(BudgetConfig(), clock=FakeClock())
    desk = LeaseDesk(breaker, budget)
    granted = desk.grant(revision=3, direct=True, retiring=False)
    breaker.reset()  # an operator's reset: a new generation
    desk.apply(
        [
            Report(granted.epoch, granted.generation, Outcome.FAILURE, 0.01),
            Report("a-predecessor", breaker.generation, Outcome.FAILURE, 0.01),
        ]
    )
    assert breaker.state is BreakerState.CLOSED
    assert desk.stats() == {"leases": 1, "reports": 2, "staleReports": 2}
    # Still calls made: the budget counts them.
    assert budget.snapshot()["calls"] == 2
    desk.apply([Report(desk.epoch, breaker.generation, Outcome.FAILURE, 0.01)])
    assert breaker.state is BreakerState.OPEN


def test_a_slow_reported_call_counts_as_slow() -> None:
    config = BreakerConfig(slow_call_seconds=1.0, minimum_number_of_calls=2, slow_call_rate_threshold=100.0)
    breaker = CircuitBreaker(config, clock=FakeClock())
    desk = LeaseDesk(breaker, None)
    granted = desk.grant(revision=3, direct=True, retiring=False)
    desk.apply([Report(granted.epoch, granted.generation, Outcome.SUCCESS, 2.0)] * 2)
    assert breaker.state is BreakerState.OPEN


# --- The lane --------------------------------------------------------------------------------------


async def test_no_direct_call_without_a_lease_and_the_next_one_goes_direct(
    stub: StubProvider, session: aiohttp.ClientSession
) -> None:
    rig = Rig(stub, session)
    assert await rig.lane.call(pay("exec-0:pay")) is None
    assert stub.calls("/pay") == [] and rig.sources == 0
    await rig.lane.refresh()
    result = await rig.lane.call(pay())
    assert isinstance(result, CallResult) and result.ok, result
    assert (result.attempts, result.response and result.response["body"]) == (1, {"paid": {"amount": 10}})
    [request] = stub.calls("/pay")
    assert (request.headers["Idempotency-Key"], request.headers["X-API-Key"]) == (KEY, SECRET)
    # Its outcome waits for the next lease request, which carries it to the actor's breaker and budget.
    assert rig.lane.holder.pending == 1
    await rig.lane.refresh()
    assert [[r.outcome for r in batch] for batch in rig.actor.asked] == [[], [Outcome.SUCCESS]]
    assert rig.actor.budget.snapshot()["calls"] == 1


async def test_a_stale_lease_is_not_used(stub: StubProvider, session: aiohttp.ClientSession) -> None:
    rig = Rig(stub, session)
    await rig.lane.refresh()
    rig.clock.advance(0.101)
    assert await rig.lane.call(pay()) is None
    assert stub.calls("/pay") == []


async def test_token_credentials_never_go_direct(stub: StubProvider, session: aiohttp.ClientSession) -> None:
    oidc = {
        "type": "oidc_client_credentials",
        "config": {"token_url": stub.url + "/token", "client_id": "c", "client_secret": "s"},
    }
    rig = Rig(stub, session, authentication=oidc)
    await rig.lane.refresh()
    assert rig.lane.holder.last is not None and rig.lane.holder.last.direct is False
    assert await rig.lane.call(pay()) is None
    # Even under a lease that allowed it, the lane itself refuses token credentials.
    rig.lane.holder.granted(dataclasses.replace(rig.lane.holder.last, direct=True), rig.clock())
    assert await rig.lane.call(pay()) is None
    assert stub.requests == []


async def test_a_disabled_configuration_goes_to_the_actor(
    stub: StubProvider, session: aiohttp.ClientSession
) -> None:
    rig = Rig(stub, session)
    await rig.lane.refresh()
    rig.configs.config = rig.configs.config.model_copy(update={"status": ExecutorStatus.DISABLED})
    await rig.lane.refresh()
    assert await rig.lane.call(pay()) is None
    assert stub.calls("/pay") == []


async def test_a_new_revision_is_read_at_once(stub: StubProvider, session: aiohttp.ClientSession) -> None:
    rig = Rig(stub, session)
    await rig.lane.refresh()
    assert isinstance(await rig.lane.call(pay("exec-1:pay")), CallResult)
    # A PATCH: the actor's lease names revision 4 well before the lane's configuration TTL is over.
    rig.configs.config = executor_config(stub.url + "/v2").model_copy(update={"revision": 4})
    stub.route("POST", "/v2/pay", (200, {"v": 2}))
    await rig.lane.refresh()
    second = await rig.lane.call(pay("exec-2:pay"))
    assert isinstance(second, CallResult) and second.response is not None, second
    assert second.response["body"] == {"v": 2}


async def test_failures_sent_direct_open_the_breaker_and_then_calls_go_to_the_actor(
    stub: StubProvider, session: aiohttp.ClientSession
) -> None:
    stub.route("POST", "/pay", (500, {"error": "down"}))
    rig = Rig(stub, session, breaker=BreakerConfig(failure_threshold=3))
    await rig.lane.refresh()
    results = [await rig.lane.call(pay(f"exec-{i}:pay")) for i in range(3)]
    # One attempt each (the policy allows no retry): each failure is final, and only reported.
    assert [(r.ok, r.code, r.attempts) for r in results if isinstance(r, CallResult)] == [
        (False, "FLK-0256", 1)
    ] * 3
    assert rig.actor.breaker.state is BreakerState.CLOSED  # not reported yet
    await rig.lane.refresh()
    assert rig.actor.breaker.state is BreakerState.OPEN
    assert await rig.lane.call(pay("exec-4:pay")) is None
    assert len(stub.calls("/pay")) == 3


async def test_a_retryable_direct_failure_is_handed_over_and_the_actor_goes_on_at_attempt_two(
    stub: StubProvider, session: aiohttp.ClientSession
) -> None:
    stub.route("POST", "/pay", [(503, {"error": "busy"}), (200, {"paid": True})])
    policy = RetryPolicy(attempts=3, backoff_seconds=1.0, jitter=False)
    rig = Rig(stub, session, policy=policy)
    await rig.lane.refresh()
    handed = await rig.lane.call(pay())
    assert isinstance(handed, Handover), handed
    assert (handed.attempts, handed.may_have_reached, handed.wait_seconds, handed.refused) == (
        1,
        True,
        1.0,
        False,
    )
    assert handed.last_error == "provider answered HTTP 503"
    assert handed.report is not None and handed.report.outcome is Outcome.FAILURE
    # It carries its own outcome: nothing waits for the next lease request.
    assert rig.lane.holder.pending == 0

    # The actor's side: the report applied with the call, then its own caller goes on.
    waits = Waits()
    actor_caller = ProviderCaller(
        rig.configs.config.model_copy(update={"authentication": {"type": "none", "config": {}}}),
        NoAuth(),
        session,
        policy,
        rig.actor.breaker,
        sleep=waits,
        budget=rig.actor.budget,
        now=lambda: NOW,
    )
    rig.actor.desk.apply([handed.report])
    result = await actor_caller.call(dataclasses.replace(pay(), handover=handed))
    assert (result.ok, result.attempts) == (True, 2), result
    assert waits.seconds == [1.0]  # the policy's backoff after attempt 1, never at once
    assert [r.headers["Idempotency-Key"] for r in stub.calls("/pay")] == [KEY, KEY]
    # One call in the budget (recorded with the report), one retry counted against it.
    assert rig.actor.budget.snapshot() == {"calls": 1, "retries": 1, "allowed": 10}


async def test_a_handed_over_call_fails_with_the_budget_spent_without_another_request(
    stub: StubProvider, session: aiohttp.ClientSession
) -> None:
    stub.route("POST", "/pay", (503, {"error": "busy"}))
    policy = RetryPolicy(attempts=3, jitter=False)
    rig = Rig(stub, session, policy=policy)
    await rig.lane.refresh()
    handed = await rig.lane.call(pay())
    assert isinstance(handed, Handover)
    spent = RetryBudget(BudgetConfig(ratio=0.0, min_retries=0))
    waits = Waits()
    actor_caller = ProviderCaller(
        rig.configs.config, NoAuth(), session, policy, rig.actor.breaker, sleep=waits, budget=spent
    )
    result = await actor_caller.call(dataclasses.replace(pay(), handover=handed))
    assert (result.ok, result.code, result.attempts, result.may_have_reached) == (False, "FLK-0285", 1, True)
    assert result.error is not None and result.error.startswith(
        "executor call failed after 1 attempt: provider answered HTTP 503; not retried: the retry budget"
    )
    assert result.response is not None and result.response["status"] == 503
    assert waits.seconds == [] and len(stub.calls("/pay")) == 1


class RefusedOn401(NoAuth):
    """Credentials the provider may refuse once (as a token would be); no header needed for the stub."""

    def refused(self, request: ProviderRequest, status: int) -> bool:
        return status == 401


async def test_a_refused_direct_attempt_is_handed_over_and_sent_once_more_at_once(
    stub: StubProvider, session: aiohttp.ClientSession
) -> None:
    stub.route("POST", "/pay", [(401, {"error": "expired"}), (200, {"paid": True})])
    config = executor_config(stub.url).model_copy(update={"authentication": {"type": "none", "config": {}}})
    lease_view = LeasedBreaker(lease(epoch="e"))
    direct = ProviderCaller(config, RefusedOn401(), session, RetryPolicy(attempts=3), lease_view)
    handed = await direct.first_attempt(pay(), lease_view)
    assert isinstance(handed, Handover), handed
    assert (handed.attempts, handed.refused) == (1, True)
    # The 401 is no verdict against the provider's health: it answered.
    assert lease_view.report == Report("e", 4, Outcome.SUCCESS, lease_view.report.seconds)

    waits = Waits()
    breaker = CircuitBreaker()
    actor_caller = ProviderCaller(
        config, RefusedOn401(), session, RetryPolicy(attempts=3), breaker, sleep=waits
    )
    result = await actor_caller.call(dataclasses.replace(pay(), handover=handed))
    assert (result.ok, result.attempts) == (True, 2), result
    assert waits.seconds == []
    assert [r.headers["Idempotency-Key"] for r in stub.calls("/pay")] == [KEY, KEY]


async def test_a_non_retryable_direct_failure_ends_there(
    stub: StubProvider, session: aiohttp.ClientSession
) -> None:
    stub.route("POST", "/pay", (422, {"error": "bad amount"}))
    rig = Rig(stub, session, policy=RetryPolicy(attempts=5))
    await rig.lane.refresh()
    result = await rig.lane.call(pay())
    assert isinstance(result, CallResult)
    assert (result.ok, result.code, result.attempts) == (False, "FLK-0256", 1)
    assert len(stub.calls("/pay")) == 1


def test_a_hand_over_the_actor_refused_unsent_still_counts_the_direct_attempt() -> None:
    handed = Handover(1, True, 1.0, False, "provider answered HTTP 503", "UpstreamFailed", duration_ms=7)
    refused = CallResult.failed(CallRefused("executor configuration 'payments' is disabled", code="FLK-0154"))
    merged = _after_handover(refused, handed)
    assert (merged.ok, merged.code, merged.attempts, merged.may_have_reached) == (False, "FLK-0154", 1, True)
    assert merged.error == (
        "executor configuration 'payments' is disabled; a first attempt sent before failed "
        "(provider answered HTTP 503)"
    )
    went_on = CallResult(ok=True, attempts=2, duration_ms=20)
    assert _after_handover(went_on, handed) is went_on


async def test_the_lane_asks_for_leases_while_it_has_calls_and_lets_them_lapse_when_idle(
    stub: StubProvider, session: aiohttp.ClientSession
) -> None:
    rig = Rig(stub, session)
    clock = rig.clock

    async def sleep(seconds: float) -> None:
        clock.advance(seconds)

    lane = DirectLane(
        CONFIG_ID,
        rig.actor.lease,
        lambda: pytest.fail("no direct call in this test"),
        holder=LeaseHolder(clock),
        clock=clock,
        sleep=sleep,
        refresh_seconds=0.25,  # exact in binary: the count below is exact
        idle_seconds=1.0,
    )
    # No lease yet: the call goes to the actor, and the lane starts asking at once.
    assert await lane.call(pay()) is None
    assert lane._refresher is not None
    await lane._refresher
    # Every refresh period until a second after the last call, then no more.
    assert len(rig.actor.asked) == 5
    await lane.close()


async def test_a_lane_of_token_credentials_asks_for_leases_only_at_the_idle_pace(
    stub: StubProvider, session: aiohttp.ClientSession
) -> None:
    oidc = {
        "type": "oidc_client_credentials",
        "config": {"token_url": stub.url + "/token", "client_id": "c", "client_secret": "s"},
    }
    rig = Rig(stub, session, authentication=oidc)
    clock = rig.clock

    async def sleep(seconds: float) -> None:
        clock.advance(seconds)

    lane = DirectLane(
        CONFIG_ID,
        rig.actor.lease,
        lambda: pytest.fail("no direct call in this test"),
        holder=LeaseHolder(clock),
        clock=clock,
        sleep=sleep,
        refresh_seconds=0.25,
        idle_seconds=1.0,
    )
    assert await lane.call(pay()) is None
    assert lane._refresher is not None
    await lane._refresher
    assert len(rig.actor.asked) == 2  # at once, then a second later (and no more: idle)


@pytest.mark.parametrize(("raw", "expected"), [("", True), ("false", False), ("0", False), ("on", True)])
def test_flowker_direct_calls_switches_the_lane_for_every_actor(raw: str, expected: bool) -> None:
    settings = Settings.from_env({"FLOWKER_DIRECT_CALLS": raw} if raw else {})
    assert settings.direct_calls is expected
    assert RuntimeConfig.from_settings(settings).direct_calls is expected
