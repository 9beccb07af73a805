"""The circuit breaker over real HTTP on the in-process runtime: the ``breaker`` block of GET, what
counts as a failure, the per-configuration override (FLK-0279) and ``POST .../breaker/reset``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from flowker.store.embedded import EmbeddedStore
from tests.helpers.audit import all_events
from tests.helpers.breaker_flow import SCORE, breaker, run, scoring_executor, setup
from tests.helpers.client import ApiClient
from tests.helpers.stub_provider import StubProvider

CLOSED = {
    "state": "closed",
    "failureRate": None,
    "slowCallRate": None,
    "callsInWindow": 0,
    "consecutiveFailures": 0,
    "openedAt": None,
    "nextTrialAt": None,
}
#: Opens on the second consecutive failure; the open wait is long enough never to elapse in a test.
TRIPS_AT_TWO = {"failureThreshold": 2, "waitDurationInOpenStateMs": 600_000}


@pytest.fixture
async def provider() -> AsyncIterator[StubProvider]:
    async with StubProvider() as stub:
        stub.route("POST", SCORE, (200, {"score": 12}))
        yield stub


async def test_a_new_configuration_shows_a_closed_breaker(api: ApiClient, provider: StubProvider) -> None:
    _, executor_id = await setup(api, provider)
    assert await breaker(api, executor_id) == CLOSED


async def test_the_block_counts_calls_while_closed(api: ApiClient, provider: StubProvider) -> None:
    workflow_id, executor_id = await setup(api, provider)
    assert (await run(api, workflow_id))["status"] == "completed"
    assert await breaker(api, executor_id) == {
        **CLOSED,
        "failureRate": 0.0,
        "slowCallRate": 0.0,
        "callsInWindow": 1,
    }


async def test_503s_open_it_later_calls_fail_fast_and_reset_closes_it(
    api: ApiClient, provider: StubProvider, store: EmbeddedStore
) -> None:
    provider.route("POST", SCORE, (503, {"error": "overloaded"}))
    workflow_id, executor_id = await setup(api, provider, TRIPS_AT_TWO)

    first = await run(api, workflow_id)
    assert first["status"] == "failed" and "circuit open" in first["errorMessage"], first
    assert len(provider.calls(SCORE)) == 2  # the third attempt failed fast
    block = await breaker(api, executor_id)
    assert block["state"] == "open"
    assert block["openedAt"] is not None and block["nextTrialAt"] > block["openedAt"]
    assert (await store.breakers.get(executor_id)).state == "open"  # type: ignore[union-attr]

    second = await run(api, workflow_id)
    assert second["status"] == "failed" and "circuit open" in second["errorMessage"]
    assert len(provider.calls(SCORE)) == 2  # not called at all

    reply = await api.post(f"/v1/executors/{executor_id}/breaker/reset")
    assert reply.status == 200, reply.text
    assert reply.body["id"] == executor_id and reply.body["circuitBreaker"] == TRIPS_AT_TWO
    assert reply.body["breaker"] == CLOSED
    assert await breaker(api, executor_id) == CLOSED
    assert (await store.breakers.get(executor_id)).state == "closed"  # type: ignore[union-attr]

    provider.route("POST", SCORE, (200, {"score": 1}))
    assert (await run(api, workflow_id))["status"] == "completed"
    assert len(provider.calls(SCORE)) == 3

    resets = [e for e in await all_events(api) if e["eventType"] == "EXECUTOR_BREAKER_RESET"]
    assert len(resets) == 1
    assert resets[0]["action"] == "RESET" and resets[0]["resourceId"] == executor_id
    assert resets[0]["metadata"]["breaker.previousState"] == "open"


async def test_reset_of_a_breaker_no_call_has_used_yet(api: ApiClient, provider: StubProvider) -> None:
    _, executor_id = await setup(api, provider)
    reply = await api.post(f"/v1/executors/{executor_id}/breaker/reset")
    assert reply.status == 200, reply.text
    assert reply.body["breaker"] == CLOSED


async def test_reset_of_an_unknown_configuration_is_404(api: ApiClient) -> None:
    reply = await api.post("/v1/executors/0b6f3c1e-4a5d-4e8f-9c2a-7d1b3e5f6a90/breaker/reset")
    reply.error(404, "FLK-0250")
    assert (await api.post("/v1/executors/not-a-uuid/breaker/reset")).status == 400


async def test_4xx_answers_never_open_it(api: ApiClient, provider: StubProvider) -> None:
    provider.route("POST", SCORE, (400, {"error": "bad document"}))
    workflow_id, executor_id = await setup(api, provider, {"failureThreshold": 1, "minimumNumberOfCalls": 1})
    for _ in range(3):
        assert (await run(api, workflow_id))["status"] == "failed"
    assert len(provider.calls(SCORE)) == 3  # each reached the provider, none was retried
    block = await breaker(api, executor_id)
    assert (block["state"], block["failureRate"], block["callsInWindow"]) == ("closed", 0.0, 3)


@pytest.mark.parametrize(("count", "state", "calls"), [(False, "closed", 5), (True, "open", 2)])
async def test_429_counts_only_when_configured_to(
    api: ApiClient, provider: StubProvider, count: bool, state: str, calls: int
) -> None:
    provider.route("POST", SCORE, (429, {"error": "slow down"}, {"Retry-After": "0"}))
    override = {**TRIPS_AT_TWO, "countRateLimited": count}
    workflow_id, executor_id = await setup(api, provider, override)
    assert (await run(api, workflow_id))["status"] == "failed"
    assert len(provider.calls(SCORE)) == calls  # five attempts, or two and then the breaker
    assert (await breaker(api, executor_id))["state"] == state


async def test_slow_answers_open_it(api: ApiClient, provider: StubProvider) -> None:
    provider.route("POST", SCORE, (200, {"score": 1}), delay=0.3)
    override = {
        "slowCallDurationMs": 100,
        "slowCallRateThreshold": 100,
        "slidingWindowSize": 2,
        "minimumNumberOfCalls": 2,
        "waitDurationInOpenStateMs": 600_000,
    }
    workflow_id, executor_id = await setup(api, provider, override)
    for _ in range(2):
        assert (await run(api, workflow_id))["status"] == "completed"  # slow, but answered
    block = await breaker(api, executor_id)
    assert block["state"] == "open"
    third = await run(api, workflow_id)
    assert third["status"] == "failed" and "circuit open" in third["errorMessage"]
    assert len(provider.calls(SCORE)) == 2


# --- the override ---------------------------------------------------------------------------------


async def test_the_override_is_stored_shown_patched_and_dropped(
    api: ApiClient, provider: StubProvider
) -> None:
    body = scoring_executor(provider, {"failureThreshold": 3, "countRateLimited": True})
    created = await api.post("/v1/executors", body)
    assert created.status == 201, created.text
    assert created.body["circuitBreaker"] == {"failureThreshold": 3, "countRateLimited": True}
    assert "breaker" not in created.body
    executor_id = created.body["id"]

    patched = await api.patch(f"/v1/executors/{executor_id}", {"circuitBreaker": {"halfOpenCalls": 2}})
    assert patched.status == 200, patched.text
    assert patched.body["circuitBreaker"] == {"halfOpenCalls": 2}

    kept = await api.patch(f"/v1/executors/{executor_id}", {"description": "kept"})
    assert kept.body["circuitBreaker"] == {"halfOpenCalls": 2}

    dropped = await api.patch(f"/v1/executors/{executor_id}", {"circuitBreaker": None})
    assert dropped.status == 200, dropped.text
    assert "circuitBreaker" not in dropped.body


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ({"failureTreshold": 3}, "circuitBreaker.failureTreshold is not a field"),
        ({"failureThreshold": 0}, "circuitBreaker.failureThreshold must be a whole number in 1..1000"),
        ({"failureThreshold": 2.5}, "circuitBreaker.failureThreshold must be a whole number"),
        ({"failureThreshold": True}, "circuitBreaker.failureThreshold must be a whole number"),
        ({"failureRateThreshold": 101}, "circuitBreaker.failureRateThreshold must be a number in 1..100"),
        ({"slowCallRateThreshold": "50"}, "circuitBreaker.slowCallRateThreshold must be a number"),
        ({"slidingWindowSize": 1001}, "circuitBreaker.slidingWindowSize must be a whole number in 1..1000"),
        ({"waitDurationInOpenStateMs": 5}, "circuitBreaker.waitDurationInOpenStateMs must be a whole number"),
        ({"slowCallDurationMs": -1}, "circuitBreaker.slowCallDurationMs must be a whole number"),
        ({"halfOpenCalls": 101}, "circuitBreaker.halfOpenCalls must be a whole number in 1..100"),
        ({"countRateLimited": "yes"}, "circuitBreaker.countRateLimited must be true or false"),
        ([1, 2], "circuitBreaker must be an object"),
        ("fast", "circuitBreaker must be an object"),
    ],
)
async def test_a_bad_override_is_refused_naming_the_field(
    api: ApiClient, provider: StubProvider, override: Any, named: str
) -> None:
    refused = (await api.post("/v1/executors", scoring_executor(provider, override))).error(400, "FLK-0279")
    assert named in refused.body["message"]
    _, executor_id = await setup(api, provider)
    patched = await api.patch(f"/v1/executors/{executor_id}", {"circuitBreaker": override})
    assert named in patched.error(400, "FLK-0279").body["message"]
    assert "circuitBreaker" not in (await api.get(f"/v1/executors/{executor_id}")).body
