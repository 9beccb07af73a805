"""The circuit breaker end to end on a real Ray cluster: one breaker per executor configuration for the
whole cluster, under 100 concurrent executions; its state outlives its executor actor (kill, release);
the reset endpoint reaches the store and the live actor. Stub providers on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import ray

from flowker.actors import factory
from flowker.actors.runtime import RayRuntime
from flowker.store.embedded import EmbeddedStore
from tests.helpers.audit import all_events
from tests.helpers.breaker_flow import SCORE, breaker, run, setup
from tests.helpers.client import ApiClient
from tests.helpers.crash import kill
from tests.helpers.polling import eventually
from tests.helpers.stub_provider import StubProvider

#: An open wait that no test reaches: the breaker closes only when it is reset.
FOREVER = {"failureThreshold": 2, "waitDurationInOpenStateMs": 3_600_000}


@pytest.fixture
async def provider() -> AsyncIterator[StubProvider]:
    async with StubProvider() as stub:
        stub.route("POST", SCORE, (503, {"error": "overloaded"}))
        yield stub


def executor_actor(runtime: RayRuntime, executor_id: str) -> Any:
    return ray.get_actor(factory.executor_name(runtime.config, executor_id), factory.NAMESPACE)


def live(runtime: RayRuntime, executor_id: str) -> bool:
    try:
        executor_actor(runtime, executor_id)
    except ValueError:
        return False
    return True


async def test_one_breaker_for_100_concurrent_executions_opens_once_fails_fast_and_closes_after_a_trial(
    api: ApiClient, provider: StubProvider
) -> None:
    wait_ms = 5000
    workflow_id, executor_id = await setup(
        api, provider, {"failureThreshold": 5, "waitDurationInOpenStateMs": wait_ms}
    )

    outcomes = await asyncio.gather(*(run(api, workflow_id) for _ in range(100)))
    assert {o["status"] for o in outcomes} == {"failed"}
    fast = [o for o in outcomes if "circuit open" in o["errorMessage"]]
    spent = [o for o in outcomes if "retry budget" in o["errorMessage"]]
    # Five failures open it. Only an execution four of whose attempts were among them can have made
    # all five attempts; every other one met the open breaker, or was stopped by the retry budget
    # (retries ≤ 0.2 · calls + 10) before it tried again.
    # How they split between the two depends on timing; that nearly all of them stopped does not.
    assert len(fast) + len(spent) >= 99, [o["errorMessage"] for o in outcomes]
    assert fast, [o["errorMessage"] for o in outcomes]
    reached = len(provider.calls(SCORE))
    # Without the breaker: 500 requests. With it: the calls admitted before it opened — each execution's
    # first attempt at most, plus one retry after each of the five failures that opened it.
    assert reached <= 105, reached
    opened = await breaker(api, executor_id)
    assert opened["state"] == "open"

    # While open, calls fail fast with FLK-0507 and never reach the provider.
    more = await asyncio.gather(*(run(api, workflow_id) for _ in range(20)))
    assert all("circuit open" in o["errorMessage"] for o in more)
    assert len(provider.calls(SCORE)) == reached
    still = await breaker(api, executor_id)
    assert (still["state"], still["openedAt"]) == ("open", opened["openedAt"])  # opened once
    failed_fast = [
        e
        for e in await all_events(api)
        if e["eventType"] == "PROVIDER_CALL_FAILED" and e["metadata"].get("code") == "FLK-0507"
    ]
    assert len(failed_fast) >= len(fast) + 20

    # The provider recovers; after the open wait one trial call closes the breaker.
    provider.route("POST", SCORE, (200, {"score": 1}))
    await eventually(lambda: breaker(api, executor_id), lambda b: b["state"] == "half_open", within=30)
    assert (await run(api, workflow_id))["status"] == "completed"
    assert len(provider.calls(SCORE)) == reached + 1
    closed = await breaker(api, executor_id)
    assert (closed["state"], closed["openedAt"], closed["nextTrialAt"]) == ("closed", None, None)
    again = await asyncio.gather(*(run(api, workflow_id) for _ in range(100)))
    assert {o["status"] for o in again} == {"completed"}
    assert len(provider.calls(SCORE)) == reached + 101


async def test_a_failed_trial_opens_it_again_with_a_fresh_wait(
    api: ApiClient, provider: StubProvider
) -> None:
    workflow_id, executor_id = await setup(
        api, provider, {"failureThreshold": 2, "waitDurationInOpenStateMs": 500}
    )
    assert "circuit open" in (await run(api, workflow_id))["errorMessage"]
    first = await breaker(api, executor_id)
    reached = len(provider.calls(SCORE))
    await eventually(lambda: breaker(api, executor_id), lambda b: b["state"] == "half_open", within=30)
    failed = await run(api, workflow_id)  # its first attempt is the trial; the provider still answers 503
    assert failed["status"] == "failed"
    assert len(provider.calls(SCORE)) == reached + 1
    second = await breaker(api, executor_id)
    # Open again (or half-open, should the fresh wait have elapsed already), from a later moment.
    assert second["state"] in ("open", "half_open")
    assert second["openedAt"] > first["openedAt"]


async def test_the_state_survives_a_killed_executor_actor(
    api: ApiClient, provider: StubProvider, runtime: RayRuntime
) -> None:
    workflow_id, executor_id = await setup(api, provider, FOREVER)
    assert "circuit open" in (await run(api, workflow_id))["errorMessage"]
    opened = await breaker(api, executor_id)
    assert opened["state"] == "open"
    reached = len(provider.calls(SCORE))

    pid = await executor_actor(runtime, executor_id).pid.remote()
    kill(pid)
    # Ray restarts the actor; it reloads the open breaker from the store and keeps failing fast.
    provider.route("POST", SCORE, (200, {"score": 1}))
    after = await run(api, workflow_id)
    assert after["status"] == "failed" and "circuit open" in after["errorMessage"], after
    assert len(provider.calls(SCORE)) == reached
    assert await executor_actor(runtime, executor_id).pid.remote() != pid
    resumed = await breaker(api, executor_id)
    assert (resumed["state"], resumed["openedAt"], resumed["nextTrialAt"]) == (
        "open",
        opened["openedAt"],
        opened["nextTrialAt"],
    )

    # The reset reaches the live actor: the next call goes to the provider.
    reply = await api.post(f"/v1/executors/{executor_id}/breaker/reset")
    assert reply.status == 200, reply.text
    assert reply.body["breaker"]["state"] == "closed"
    assert (await executor_actor(runtime, executor_id).breaker.remote())["state"] == "closed"
    assert (await run(api, workflow_id))["status"] == "completed"
    assert len(provider.calls(SCORE)) == reached + 1


async def test_with_no_live_actor_the_stored_state_is_shown_and_reset(
    api: ApiClient, provider: StubProvider, runtime: RayRuntime, store: EmbeddedStore
) -> None:
    workflow_id, executor_id = await setup(api, provider, FOREVER)
    assert "circuit open" in (await run(api, workflow_id))["errorMessage"]
    opened = await breaker(api, executor_id)

    # Disabling the configuration ends its actor; the open state stays in the store.
    assert (await api.post(f"/v1/executors/{executor_id}/disable")).status == 200
    await eventually(lambda: asyncio.sleep(0, live(runtime, executor_id)), lambda alive: not alive, within=30)
    assert await breaker(api, executor_id) == opened
    assert not live(runtime, executor_id)  # reading the state started no actor

    reply = await api.post(f"/v1/executors/{executor_id}/breaker/reset")
    assert reply.status == 200, reply.text
    assert reply.body["breaker"]["state"] == "closed"
    assert (await store.breakers.get(executor_id)).state == "closed"  # type: ignore[union-attr]
    assert not live(runtime, executor_id)

    # A new actor starts from the stored, closed state.
    assert (await api.post(f"/v1/executors/{executor_id}/enable")).status == 200
    provider.route("POST", SCORE, (200, {"score": 1}))
    assert (await run(api, workflow_id))["status"] == "completed"
