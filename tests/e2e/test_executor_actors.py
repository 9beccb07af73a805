"""Executor actors are processes, so they are made only for calls: the connectivity test starts none."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import ray

from flowker.actors.runtime import RayRuntime
from tests.helpers.client import ApiClient
from tests.helpers.stub_provider import StubProvider

CONFIGURATIONS = 200


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
