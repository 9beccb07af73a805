"""Direct calls on the real local Ray cluster: first attempts with static credentials leave the calling
process under a lease from the executor actor, which still owns the breaker for every caller."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from flowker.actors.caller import CallRequest, CallResult
from flowker.actors.executor_handle import ExecutorHandles
from flowker.actors.runtime import RayRuntime
from flowker.settings import Settings
from flowker.telemetry import catalog
from flowker.telemetry.recorder import RECORDER
from flowker.tunables import DIRECT_LEASE_SECONDS
from tests.conftest import API_KEY
from tests.helpers.client import ApiClient
from tests.helpers.metrics import scrape
from tests.helpers.oidc_provider import OidcProvider
from tests.helpers.polling import eventually
from tests.helpers.stub_provider import StubProvider

EXECUTIONS = 10


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    fields: dict[str, Any] = {
        "supervisors": 1,
        "retry_backoff_seconds": 0.01,
        "retry_jitter": False,
        **getattr(request, "param", {}),
    }
    return Settings(data_dir=tmp_path / "data", port=0, api_keys=(API_KEY,), **fields)


@pytest.fixture
async def provider() -> AsyncIterator[StubProvider]:
    async with StubProvider() as stub:
        stub.route("POST", "/v1/score", lambda body, request: (200, {"score": 12, "txn": body}))
        stub.route("POST", "/v1/decide", (200, {"approved": True}))
        yield stub


async def create(api: ApiClient, provider: StubProvider) -> str:
    created = await api.post(
        "/v1/executors",
        {
            "name": f"score-{uuid.uuid4().hex[:8]}",
            "baseUrl": provider.url + "/v1",
            "endpoints": [
                {"name": "score", "path": "/score", "method": "POST", "timeout": 5},
                {"name": "decide", "path": "/decide", "method": "POST", "timeout": 5},
            ],
            "authentication": {"type": "bearer", "config": {"token": "score-token-0123456789"}},
        },
    )
    assert created.status == 201, created.text
    return str(created.body["id"])


def two_step_workflow(executor_id: str) -> dict[str, Any]:
    """W3's shape: two provider calls in a row."""
    return {
        "name": f"w3-{uuid.uuid4().hex[:6]}",
        "nodes": [
            {"id": "start", "type": "trigger"},
            {"id": "score", "type": "executor", "data": {
                "executorConfigId": executor_id, "endpointName": "score",
                "inputMapping": [{"source": "workflow.txn", "target": "transactionId", "required": True}],
            }},
            {"id": "decide", "type": "executor", "data": {
                "executorConfigId": executor_id, "endpointName": "decide",
                "inputMapping": [{"source": "workflow.txn", "target": "transactionId", "required": True}],
            }},
        ],
        "edges": [
            {"id": "e1", "source": "start", "target": "score"},
            {"id": "e2", "source": "score", "target": "decide"},
        ],
    }  # fmt: skip


async def execute(api: ApiClient, workflow_id: str, txn: str) -> dict[str, Any]:
    started = await api.post(
        f"/v1/workflows/{workflow_id}/executions",
        {"inputData": {"txn": txn}},
        headers={"Idempotency-Key": str(uuid.uuid4()), "Prefer": "wait=10"},
    )
    assert started.status in (200, 201), started.text
    reply = await eventually(
        lambda: api.get(f"/v1/executions/{started.body['executionId']}"),
        lambda r: r.body["status"] in ("completed", "failed", "cancelled"),
        within=15,
    )
    return dict(reply.body)


async def test_two_step_executions_call_the_provider_from_the_supervisor_once_per_step(
    api: ApiClient, provider: StubProvider, runtime: RayRuntime
) -> None:
    config_id = await create(api, provider)
    created = await api.post("/v1/workflows", two_step_workflow(config_id))
    workflow_id = created.body["workflowId"]
    assert (await api.post(f"/v1/workflows/{workflow_id}/activate")).status == 200

    for i in range(EXECUTIONS):
        assert (await execute(api, workflow_id, f"T-{i}"))["status"] == "completed"

    steps = 2 * EXECUTIONS
    requests = provider.calls("/v1/score") + provider.calls("/v1/decide")
    # Exactly one request per step, each with its step's own Idempotency-Key, and the credentials.
    keys = [r.headers["Idempotency-Key"] for r in requests]
    assert len(keys) == steps and len(set(keys)) == steps
    assert {r.headers["Authorization"] for r in requests} == {"Bearer score-token-0123456789"}
    scraped = await scrape(api)
    lanes = {
        lane: scraped.value("flowker_executor_calls_by_lane_total", executor_config_id=config_id, lane=lane)
        for lane in ("direct", "handed_over", "actor")
    }
    assert sum(lanes.values()) == steps, lanes
    # The first call has no lease and goes through the actor; with the lease that it asked for, the next
    # ones go direct (how many exactly depends on the box's load: leases live 100 ms).
    assert lanes["actor"] >= 1 and lanes["direct"] >= 1, lanes
    assert lanes["handed_over"] == 0, lanes
    # What went through the actor is all the actor took.
    taken = scraped.value("flowker_executor_channel_calls_total", executor_config_id=config_id)
    assert taken == lanes["actor"], (taken, lanes)


def lane_count(config_id: str, lane: str) -> float:
    return RECORDER.snapshot().counters.get((catalog.CALLS_BY_LANE.name, (config_id, lane)), 0.0)


def score(config_id: str, key: str) -> CallRequest:
    return CallRequest(config_id, "score", {"txn": key}, idempotency_key=key, request_id=key.split(":")[0])


async def warm(handles: ExecutorHandles, config_id: str, name: str) -> None:
    """Call until this caller has made a direct call (it then holds a lease)."""
    before = lane_count(config_id, "direct")
    for i in range(200):
        result = await handles.call(score(config_id, f"{name}-warm-{i}:score"))
        assert result.ok, result
        if lane_count(config_id, "direct") > before:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{name} never went direct")


# One attempt a call: the direct failures are final, and reach the breaker by the lease reports.
@pytest.mark.parametrize(
    "settings",
    [{"retry_attempts": 1, "breaker_failure_threshold": 3, "breaker_open_seconds": 60.0}],
    indirect=True,
)
async def test_a_failing_provider_opens_the_breaker_for_every_caller_within_the_lease_bound(
    api: ApiClient, provider: StubProvider, runtime: RayRuntime
) -> None:
    config_id = await create(api, provider)
    callers = {"a": ExecutorHandles(runtime.config), "b": ExecutorHandles(runtime.config)}
    try:
        for name, handles in callers.items():
            await warm(handles, config_id, name)
        provider.route("POST", "/v1/score", (500, {"error": "down"}))

        async def until_circuit_open(name: str, handles: ExecutorHandles) -> None:
            for i in range(500):
                result = await handles.call(score(config_id, f"{name}-fail-{i}:score"))
                assert not result.ok
                if result.code == "FLK-0507":
                    return
            raise AssertionError(f"{name} never met the open breaker")

        await asyncio.gather(*(until_circuit_open(name, h) for name, h in callers.items()))
        breaker = await callers["a"].breaker(config_id)
        assert breaker["state"] == "open", breaker
        # Past the bound, no caller sends anything: every call fails fast at the actor.
        await asyncio.sleep(3 * DIRECT_LEASE_SECONDS)
        sent = len(provider.calls("/v1/score"))
        results: list[CallResult] = await asyncio.gather(
            *(
                handles.call(score(config_id, f"{name}-after-{i}:score"))
                for name, handles in callers.items()
                for i in range(20)
            )
        )
        assert {(r.ok, r.code, r.attempts) for r in results} == {(False, "FLK-0507", 0)}
        assert len(provider.calls("/v1/score")) == sent
    finally:
        for handles in callers.values():
            await handles.close()


@pytest.mark.parametrize("settings", [{"retry_attempts": 3}], indirect=True)
async def test_a_retryable_direct_failure_is_retried_by_the_actor_with_the_same_key(
    api: ApiClient, provider: StubProvider, runtime: RayRuntime
) -> None:
    config_id = await create(api, provider)
    handles = ExecutorHandles(runtime.config)
    try:
        await warm(handles, config_id, "a")
        provider.requests.clear()
        handed_before = lane_count(config_id, "handed_over")
        for i in range(20):
            key = f"retry-{i}:score"
            provider.route("POST", "/v1/score", [(503, {"error": "busy"}), (200, {"score": 1})])
            result = await handles.call(score(config_id, key))
            assert result.ok, result
            if lane_count(config_id, "handed_over") > handed_before:
                break
            provider.requests.clear()  # that one went through the actor (its lease had lapsed): again
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("no call was handed over")
        # The direct attempt, then the actor's retry after the backoff: two requests, one key.
        assert result.attempts == 2, result
        assert [r.headers["Idempotency-Key"] for r in provider.calls("/v1/score")] == [key, key]
        stats = await handles.handle(config_id).channel_stats.remote()
        assert stats["leases"] >= 1 and stats["reports"] >= 1, stats
    finally:
        await handles.close()


@pytest.mark.parametrize("settings", [{"direct_calls": False}], indirect=True)
async def test_with_direct_calls_off_every_call_goes_through_the_actor(
    api: ApiClient, provider: StubProvider, runtime: RayRuntime
) -> None:
    config_id = await create(api, provider)
    handles = ExecutorHandles(runtime.config)
    for i in range(5):
        assert (await handles.call(score(config_id, f"off-{i}:score"))).ok
        await asyncio.sleep(0.02)
    assert (lane_count(config_id, "direct"), lane_count(config_id, "actor")) == (0, 5)
    stats = await handles.handle(config_id).channel_stats.remote()
    assert stats["leases"] == 0, stats


async def test_token_credentials_always_go_through_the_actor_with_one_token_for_all_callers(
    api: ApiClient, runtime: RayRuntime
) -> None:
    async with OidcProvider(expires_in=300) as issuer, StubProvider() as provider:
        issuer.add_client("flowker", "oidc-secret-0123456789", method="client_secret_basic")
        provider.route("POST", "/v1/score", issuer.protected((200, {"score": 1})))
        created = await api.post(
            "/v1/executors",
            {
                "name": f"oidc-{uuid.uuid4().hex[:6]}",
                "baseUrl": provider.url + "/v1",
                "endpoints": [{"name": "score", "path": "/score", "method": "POST", "timeout": 5}],
                "authentication": {
                    "type": "oidc_client_credentials",
                    "config": {
                        "token_url": issuer.token_endpoint,
                        "client_id": "flowker",
                        "client_secret": "oidc-secret-0123456789",
                    },
                },
            },
        )
        assert created.status == 201, created.text
        config_id = str(created.body["id"])
        callers = [ExecutorHandles(runtime.config), ExecutorHandles(runtime.config)]
        try:
            # Sequential calls from two callers, each with its lease requests under way.
            for i in range(10):
                for n, handles in enumerate(callers):
                    result = await handles.call(score(config_id, f"oidc-{n}-{i}:score"))
                    assert result.ok, result
                await asyncio.sleep(0.01)
            stats = await callers[0].handle(config_id).channel_stats.remote()
        finally:
            for handles in callers:
                await handles.close()
        assert stats["leases"] >= 1, stats  # the lanes asked, and were told no call may go direct
        assert (lane_count(config_id, "direct"), lane_count(config_id, "handed_over")) == (0, 0)
        assert lane_count(config_id, "actor") == 20
        assert issuer.issued() == 1
        assert len(provider.calls("/v1/score")) == 20
