"""The runtime under load and failure: idempotency races, many executions at once, the breaker, cancel."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from ray.util.state import list_tasks

from flowker.actors.runtime import RayRuntime
from tests.helpers.audit import all_events
from tests.helpers.client import ApiClient
from tests.helpers.polling import eventually
from tests.helpers.stub_provider import StubProvider

SCORE = "/score"


def scoring_workflow(executor_id: str, name: str = "fraud score") -> dict[str, Any]:
    """trigger → executor (POST /score) → set_output."""
    return {
        "name": name,
        "nodes": [
            {"id": "start", "type": "trigger"},
            {"id": "score", "type": "executor", "data": {
                "executorConfigId": executor_id, "endpointName": "score",
                "inputMapping": [{"source": "workflow.txn", "target": "transactionId", "required": True}],
            }},
            {"id": "done", "type": "action",
             "data": {"actionType": "set_output", "output": {"scored": True}}},
        ],
        "edges": [
            {"id": "e1", "source": "start", "target": "score"},
            {"id": "e2", "source": "score", "target": "done"},
        ],
    }  # fmt: skip


@pytest.fixture
async def provider() -> AsyncIterator[StubProvider]:
    async with StubProvider() as stub:
        stub.route("POST", SCORE, (200, {"score": 12}))
        yield stub


async def setup_workflow(api: ApiClient, provider: StubProvider) -> tuple[str, str]:
    executor = await api.post(
        "/v1/executors",
        {
            "name": f"fraud-{uuid.uuid4().hex[:6]}",
            "baseUrl": provider.url,
            "endpoints": [{"name": "score", "path": SCORE, "method": "POST", "timeout": 5}],
            "authentication": {"type": "none"},
        },
    )
    assert executor.status == 201, executor.text
    created = await api.post("/v1/workflows", scoring_workflow(executor.body["id"]))
    assert (await api.post(f"/v1/workflows/{created.body['workflowId']}/activate")).status == 200
    return created.body["workflowId"], executor.body["id"]


async def run(api: ApiClient, workflow_id: str, txn: str, key: str | None = None) -> dict[str, Any]:
    started = await api.post(
        f"/v1/workflows/{workflow_id}/executions",
        {"inputData": {"txn": txn}},
        headers={"Idempotency-Key": key or str(uuid.uuid4())},
    )
    assert started.status == 201, started.text
    return await finished(api, started.body["executionId"])


async def finished(api: ApiClient, execution_id: str, within: float = 30.0) -> dict[str, Any]:
    reply = await eventually(
        lambda: api.get(f"/v1/executions/{execution_id}"),
        lambda r: r.body["status"] in ("completed", "failed", "cancelled"),
        within=within,
    )
    return reply.body


async def test_fifty_concurrent_starts_with_one_key_create_one_execution(
    api: ApiClient, provider: StubProvider
) -> None:
    workflow_id, _ = await setup_workflow(api, provider)
    key = f"race-{uuid.uuid4()}"
    replies = await asyncio.gather(
        *(
            api.post(
                f"/v1/workflows/{workflow_id}/executions",
                {"inputData": {"txn": "T-1"}},
                headers={"Idempotency-Key": key},
            )
            for _ in range(50)
        )
    )
    assert {r.status for r in replies} <= {200, 201}, [r.text for r in replies if r.status not in (200, 201)]
    ids = {r.body["executionId"] for r in replies}
    assert len(ids) == 1
    await finished(api, ids.pop())
    listed = await api.get("/v1/executions", params={"workflowId": workflow_id, "limit": "100"})
    assert len(listed.body["items"]) == 1
    assert len(provider.calls(SCORE)) == 1


async def test_two_hundred_concurrent_executions_complete_with_a_verifiable_audit_chain(
    api: ApiClient, provider: StubProvider
) -> None:
    workflow_id, _ = await setup_workflow(api, provider)
    outcomes = await asyncio.gather(*(run(api, workflow_id, f"T-{i}") for i in range(200)))
    assert [o["status"] for o in outcomes] == ["completed"] * 200
    assert sorted(r.json["transactionId"] for r in provider.calls(SCORE)) == sorted(
        f"T-{i}" for i in range(200)
    )

    events = await all_events(api)
    assert [e["sequence"] for e in events] == list(range(1, len(events) + 1))
    per_execution = [e for e in events if e["resourceType"] == "execution"]
    # started, call started, call completed, completed: four events for each of the 200 executions
    assert len(per_execution) == 800
    verified = await api.get(f"/v1/audit-events/{events[-1]['eventId']}/verify")
    assert (verified.body["isValid"], verified.body["totalChecked"], verified.body["message"]) == (
        True,
        len(events),
        "hash chain is valid",
    )


async def test_breaker_opens_fails_fast_and_closes_after_a_successful_trial(
    api: ApiClient, provider: StubProvider, runtime: RayRuntime
) -> None:
    provider.route("POST", SCORE, (503, {"error": "overloaded"}))
    workflow_id, executor_id = await setup_workflow(api, provider)

    first = await run(api, workflow_id, "T-1")
    assert first["status"] == "failed" and "after 5 attempts" in first["errorMessage"]
    assert len(provider.calls(SCORE)) == 5
    assert (await runtime.breaker(executor_id))["state"] == "open"

    second = await run(api, workflow_id, "T-2")
    assert second["status"] == "failed" and "circuit open" in second["errorMessage"]
    assert len(provider.calls(SCORE)) == 5  # failed fast: the provider was not called

    provider.route("POST", SCORE, (200, {"score": 3}))
    await eventually(lambda: runtime.breaker(executor_id), lambda b: b["state"] == "half_open", within=5)
    third = await run(api, workflow_id, "T-3")
    assert third["status"] == "completed"
    assert len(provider.calls(SCORE)) == 6
    assert (await runtime.breaker(executor_id))["state"] == "closed"


async def test_cancel_stops_before_the_next_step(api: ApiClient, provider: StubProvider) -> None:
    provider.route("POST", SCORE, (200, {"score": 1}), delay=1.5)
    workflow_id, _ = await setup_workflow(api, provider)
    started = await api.post(
        f"/v1/workflows/{workflow_id}/executions",
        {"inputData": {"txn": "T-9"}},
        headers={"Idempotency-Key": "c-1"},
    )
    execution_id = started.body["executionId"]
    await eventually(
        lambda: api.get(f"/v1/executions/{execution_id}"), lambda r: r.body["status"] == "running"
    )
    cancelled = await api.post(f"/v1/executions/{execution_id}/cancel")
    assert cancelled.status == 202
    final = await finished(api, execution_id)
    assert final["status"] == "cancelled"
    results = await api.get(f"/v1/executions/{execution_id}/results")
    # The call in flight finished and was recorded; the set_output step after it never ran.
    assert [s["nodeId"] for s in results.body["stepResults"]] == ["score"]
    assert "finalOutput" not in results.body
    (await api.post(f"/v1/executions/{execution_id}/cancel")).error(422, "FLK-0510")
    (await api.post(f"/v1/executions/{uuid.uuid4()}/cancel")).error(404, "FLK-0500")
    audit = await api.get(
        "/v1/audit-events", params={"resourceId": execution_id, "eventType": "EXECUTION_CANCELLED"}
    )
    assert len(audit.body["items"]) == 1


async def test_a_running_execution_is_a_named_task_in_the_dashboard(
    api: ApiClient, provider: StubProvider, ray_cluster: str
) -> None:
    provider.route("POST", SCORE, (200, {"score": 1}), delay=3)
    workflow_id, _ = await setup_workflow(api, provider)
    started = await api.post(
        f"/v1/workflows/{workflow_id}/executions",
        {"inputData": {"txn": "T-5"}},
        headers={"Idempotency-Key": "d-1"},
    )
    name = f"execution:{started.body['executionId']}"

    def running_task() -> list[Any]:
        return list_tasks(address=ray_cluster, filters=[("name", "=", name), ("state", "=", "RUNNING")])

    tasks = await eventually(
        lambda: asyncio.to_thread(running_task), lambda found: len(found) == 1, within=10
    )
    assert tasks[0].name == name
    await finished(api, started.body["executionId"])
