"""The front door over the MongoDB store (on the fake client) while the server is lost and back: the
affected requests answer 503 FLK-0012 and /readyz is down, never a hang or a 500; once the server
answers again, both recover with no restart."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from flowker.store.mongo import MongoStore
from tests.fakes.mongo import FakeMongoClient
from tests.helpers.client import ApiClient

WORKFLOW = {
    "name": "over mongo",
    "nodes": [
        {"id": "start", "type": "trigger", "data": {"triggerType": "api"}},
        {"id": "done", "type": "action", "data": {"actionType": "set_output", "output": {"ok": True}}},
    ],
    "edges": [{"id": "e1", "source": "start", "target": "done"}],
}


@pytest.fixture
def mongo() -> FakeMongoClient:
    return FakeMongoClient()


@pytest.fixture
async def store(mongo: FakeMongoClient) -> AsyncIterator[MongoStore]:
    """This module's front door, runtime and audit writer all use the MongoDB store."""
    opened = await MongoStore("mongodb://fake.invalid", "flowker", client=mongo).open()
    yield opened
    await opened.close()


async def test_a_lost_server_gives_503_and_readyz_down_and_its_return_needs_no_restart(
    api: ApiClient, anon: ApiClient, mongo: FakeMongoClient
) -> None:
    created = await api.post("/v1/workflows", WORKFLOW)
    assert created.status == 201, created.text
    workflow_id = created.body["workflowId"]
    assert (await api.post(f"/v1/workflows/{workflow_id}/activate")).status == 200
    assert (await anon.get("/readyz")).status == 200

    mongo.faults.down = True
    (await api.get("/v1/workflows")).error(503, "FLK-0012")
    (await api.get(f"/v1/workflows/{workflow_id}")).error(503, "FLK-0012")
    (await api.post("/v1/workflows", {**WORKFLOW, "name": "during the outage"})).error(503, "FLK-0012")
    started = await api.post(
        f"/v1/workflows/{workflow_id}/executions", {"inputData": {}}, headers={"Idempotency-Key": "k-1"}
    )
    started.error(503, "FLK-0012")
    assert "fake.invalid" not in started.text
    ready = await anon.get("/readyz")
    assert (ready.status, ready.body["status"], ready.body["checks"]["store"]["status"]) == (
        503,
        "unhealthy",
        "down",
    )

    mongo.faults.down = False
    ready = await anon.get("/readyz")
    assert (ready.status, ready.body["checks"]["store"]["status"]) == (200, "up")
    listed = await api.get("/v1/workflows")
    assert [item["name"] for item in listed.body["items"]] == ["over mongo"]
    again = await api.post(
        f"/v1/workflows/{workflow_id}/executions", {"inputData": {}}, headers={"Idempotency-Key": "k-1"}
    )
    assert again.status in (201, 202), again.text
