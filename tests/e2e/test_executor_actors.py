"""Executor actors are processes, so they are made only for calls and end when not needed: the
connectivity test starts none, deleting or disabling a configuration stops its actor, and an idle
actor exits and is made again by the next call."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import ray

from flowker.actors import factory
from flowker.actors.caller import CallRequest
from flowker.actors.executor_handle import ExecutorHandles
from flowker.actors.runtime import RayRuntime
from flowker.settings import Settings
from tests.conftest import API_KEY
from tests.helpers.client import ApiClient
from tests.helpers.polling import eventually
from tests.helpers.stub_provider import StubProvider

IDLE_SECONDS = 1.0
CONFIGURATIONS = 200


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """A short idle timeout; a test changes fields through ``indirect`` parametrisation."""
    fields: dict[str, Any] = {"executor_idle_seconds": IDLE_SECONDS, **getattr(request, "param", {})}
    return Settings(
        data_dir=tmp_path / "data",
        port=0,
        api_keys=(API_KEY,),
        retry_backoff_seconds=0.01,
        breaker_open_seconds=1.0,
        **fields,
    )


@pytest.fixture
async def provider() -> AsyncIterator[StubProvider]:
    async with StubProvider() as stub:
        stub.route("GET", "/v1", (200, {"up": True}))
        stub.route("GET", "/v1/status", (200, {"ok": True}))
        stub.route("POST", "/v1/score", (200, {"score": 12}))
        yield stub


def configuration(base_url: str) -> dict[str, Any]:
    return {
        "name": f"score-{uuid.uuid4().hex[:8]}",
        "baseUrl": base_url,
        "endpoints": [
            {"name": "score", "path": "/score", "method": "POST", "timeout": 5},
            {"name": "status", "path": "/status", "method": "GET", "timeout": 5},
        ],
        "authentication": {"type": "bearer", "config": {"token": "score-token-0123456789"}},
    }


def live_executors(runtime: RayRuntime) -> list[str]:
    prefix = runtime.config.name("executor:")
    return [
        a["name"] for a in ray.util.list_named_actors(all_namespaces=True) if a["name"].startswith(prefix)
    ]


async def create(api: ApiClient, provider: StubProvider) -> str:
    created = await api.post("/v1/executors", configuration(provider.url + "/v1"))
    assert created.status == 201, created.text
    return str(created.body["id"])


async def test_testing_hundreds_of_configurations_starts_no_executor_actor(
    api: ApiClient, provider: StubProvider, runtime: RayRuntime
) -> None:
    async def lifecycle(_: int) -> None:
        config_id = await create(api, provider)
        tested = await api.post(f"/v1/executors/{config_id}/test")
        assert (tested.status, tested.body["overallStatus"]) == (200, "passed"), tested.text
        deleted = await api.call("DELETE", f"/v1/executors/{config_id}")
        assert deleted.status == 204, deleted.text

    most = 0
    for batch in range(0, CONFIGURATIONS, 20):
        await asyncio.gather(*(lifecycle(i) for i in range(batch, batch + 20)))
        most = max(most, len(live_executors(runtime)))
    assert most == 0
    assert len(provider.calls("/v1/status")) == CONFIGURATIONS
    assert provider.calls("/v1/score") == []


# An idle timeout no test reaches: the actor can only be gone because it was stopped.
@pytest.mark.parametrize("settings", [{"executor_idle_seconds": 3600.0}], indirect=True)
@pytest.mark.parametrize("action", ["disable", "delete"])
async def test_disabling_or_deleting_a_configuration_stops_its_executor_actor(
    action: str, api: ApiClient, provider: StubProvider, runtime: RayRuntime
) -> None:
    config_id = await create(api, provider)
    handles = ExecutorHandles(runtime.config)
    called = await handles.call(CallRequest(config_id, "score", {"txn": "T-1"}, "exec-1:score", "exec-1"))
    assert called.ok, called
    name = factory.executor_name(runtime.config, config_id)
    assert live_executors(runtime) == [name]

    if action == "disable":
        assert (await api.post(f"/v1/executors/{config_id}/disable")).status == 200
    else:
        assert (await api.call("DELETE", f"/v1/executors/{config_id}")).status == 204
    await eventually(lambda: asyncio.sleep(0, live_executors(runtime)), lambda live: live == [])

    refused = await handles.call(CallRequest(config_id, "score", {"txn": "T-2"}, "exec-2:score", "exec-2"))
    code = {"disable": "FLK-0154", "delete": "FLK-0250"}[action]
    assert (refused.ok, refused.code, refused.may_have_reached) == (False, code, False), refused
    assert len(provider.calls("/v1/score")) == 1


def scoring_workflow(executor_id: str) -> dict[str, Any]:
    return {
        "name": f"score-{uuid.uuid4().hex[:6]}",
        "nodes": [
            {"id": "start", "type": "trigger"},
            {"id": "score", "type": "executor", "data": {
                "executorConfigId": executor_id, "endpointName": "score",
                "inputMapping": [{"source": "workflow.txn", "target": "transactionId", "required": True}],
            }},
        ],
        "edges": [{"id": "e1", "source": "start", "target": "score"}],
    }  # fmt: skip


async def execute(api: ApiClient, workflow_id: str, txn: str) -> dict[str, Any]:
    started = await api.post(
        f"/v1/workflows/{workflow_id}/executions",
        {"inputData": {"txn": txn}},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert started.status == 201, started.text
    reply = await eventually(
        lambda: api.get(f"/v1/executions/{started.body['executionId']}"),
        lambda r: r.body["status"] in ("completed", "failed", "cancelled"),
        within=15,
    )
    return dict(reply.body)


# One supervisor, so that the second execution meets the handle the first one left behind.
@pytest.mark.parametrize("settings", [{"supervisors": 1}], indirect=True)
async def test_an_execution_after_its_executor_actor_exited_when_idle_completes(
    api: ApiClient, provider: StubProvider, runtime: RayRuntime
) -> None:
    config_id = await create(api, provider)
    created = await api.post("/v1/workflows", scoring_workflow(config_id))
    workflow_id = created.body["workflowId"]
    assert (await api.post(f"/v1/workflows/{workflow_id}/activate")).status == 200

    assert (await execute(api, workflow_id, "T-1"))["status"] == "completed"
    assert live_executors(runtime) == [factory.executor_name(runtime.config, config_id)]
    await eventually(lambda: asyncio.sleep(0, live_executors(runtime)), lambda live: live == [])
    assert (await execute(api, workflow_id, "T-2"))["status"] == "completed"
    assert [r.json["transactionId"] for r in provider.calls("/v1/score")] == ["T-1", "T-2"]
