"""A restart of the whole service: ``flowker serve`` killed with SIGKILL mid-execution, then started again.

Executions left ``pending`` or ``running`` resume on start from their last persisted step.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.helpers.client import ApiClient
from tests.helpers.crash import two_step_workflow
from tests.helpers.polling import eventually
from tests.helpers.serve import Serve, serve_env
from tests.helpers.stub_provider import StubProvider

#: Each test starts `flowker serve`, which starts a Ray cluster of its own.
pytestmark = pytest.mark.ray


@pytest.fixture
def ray_tmp() -> Iterator[str]:
    path = tempfile.mkdtemp(prefix="fk-ray-", dir="/tmp")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
async def provider() -> AsyncIterator[StubProvider]:
    async with StubProvider() as stub:
        stub.route("POST", "/a", (200, {"a": 1}), delay=3.0)
        stub.route("POST", "/b", (200, {"b": 2}))
        yield stub


async def test_executions_resume_after_the_whole_service_is_killed(
    tmp_path: Path, ray_tmp: str, provider: StubProvider
) -> None:
    env = serve_env(tmp_path / "data", ray_tmp, FLOWKER_LEASE_SECONDS="2")
    first = Serve(env, tmp_path / "first.log")
    try:
        banner = await first.abanner()
        key = banner["API key"].split()[0]
        async with aiohttp.ClientSession(banner["url"], headers={"X-API-Key": key}) as session:
            api = ApiClient(session)
            executor = await api.post(
                "/v1/executors",
                {
                    "name": "restart-provider",
                    "baseUrl": provider.url,
                    "endpoints": [{"name": "a", "path": "/a", "method": "POST"},
                                  {"name": "b", "path": "/b", "method": "POST"}],
                    "authentication": {"type": "none"},
                },
            )  # fmt: skip
            workflow = await api.post("/v1/workflows", two_step_workflow(executor.body["id"]))
            workflow_id = workflow.body["workflowId"]
            assert (await api.post(f"/v1/workflows/{workflow_id}/activate")).status == 200
            ids = []
            for _ in range(3):
                started = await api.post(
                    f"/v1/workflows/{workflow_id}/executions",
                    {"inputData": {}},
                    headers={"Idempotency-Key": str(uuid.uuid4())},
                )
                assert started.status == 201
                ids.append(started.body["executionId"])
            await eventually(lambda: asyncio.sleep(0, len(provider.calls("/a"))), lambda n: n == 3)
    finally:
        assert first.stop(signal.SIGKILL) == -signal.SIGKILL

    second = Serve(env, tmp_path / "second.log")
    try:
        banner = await second.abanner()
        async with aiohttp.ClientSession(banner["url"], headers={"X-API-Key": key}) as session:
            api = ApiClient(session)
            for execution_id in ids:
                final = await eventually(
                    lambda execution_id=execution_id: api.get(f"/v1/executions/{execution_id}"),
                    lambda r: r.body["status"] in ("completed", "failed", "cancelled"),
                    within=60,
                )
                assert final.body["status"] == "completed", final.body
                results = await api.get(f"/v1/executions/{execution_id}/results")
                assert [s["nodeId"] for s in results.body["stepResults"]] == ["a", "b", "done"]
                keys = {
                    c.headers["Idempotency-Key"]
                    for c in provider.calls("/a")
                    if execution_id in c.headers["Idempotency-Key"]
                }
                assert keys == {f"{execution_id}:a"}
            assert len(provider.calls("/b")) == 3
            events = await api.get("/v1/audit-events", params={"limit": "1"})
            verified = await api.get(f"/v1/audit-events/{events.body['items'][0]['eventId']}/verify")
            assert verified.body["isValid"] is True, verified.body
    finally:
        assert second.stop(signal.SIGTERM) == 0
