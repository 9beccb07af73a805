"""A one-step workflow over a stub provider, for the circuit breaker's tests (fast tier and Ray)."""

from __future__ import annotations

import uuid
from typing import Any

from tests.helpers.client import ApiClient
from tests.helpers.polling import eventually
from tests.helpers.stub_provider import StubProvider

SCORE = "/score"


def scoring_workflow(executor_id: str) -> dict[str, Any]:
    """trigger → executor (POST /score) → set_output."""
    return {
        "name": f"score-{uuid.uuid4().hex[:8]}",
        "nodes": [
            {"id": "start", "type": "trigger"},
            {"id": "score", "type": "executor",
             "data": {"executorConfigId": executor_id, "endpointName": "score"}},
            {"id": "done", "type": "action",
             "data": {"actionType": "set_output", "output": {"scored": True}}},
        ],
        "edges": [
            {"id": "e1", "source": "start", "target": "score"},
            {"id": "e2", "source": "score", "target": "done"},
        ],
    }  # fmt: skip


def scoring_executor(provider: StubProvider, breaker: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": f"score-{uuid.uuid4().hex[:8]}",
        "baseUrl": provider.url,
        "endpoints": [{"name": "score", "path": SCORE, "method": "POST", "timeout": 5}],
        "authentication": {"type": "none"},
    }
    if breaker is not None:
        body["circuitBreaker"] = breaker
    return body


async def setup(
    api: ApiClient, provider: StubProvider, breaker: dict[str, Any] | None = None
) -> tuple[str, str]:
    """(workflow id, executor configuration id) of an active scoring workflow."""
    executor = await api.post("/v1/executors", scoring_executor(provider, breaker))
    assert executor.status == 201, executor.text
    created = await api.post("/v1/workflows", scoring_workflow(executor.body["id"]))
    assert created.status == 201, created.text
    assert (await api.post(f"/v1/workflows/{created.body['workflowId']}/activate")).status == 200
    return created.body["workflowId"], executor.body["id"]


async def start(api: ApiClient, workflow_id: str) -> str:
    started = await api.post(
        f"/v1/workflows/{workflow_id}/executions",
        {"inputData": {"txn": "T"}},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert started.status == 201, started.text
    execution_id: str = started.body["executionId"]
    return execution_id


async def finished(api: ApiClient, execution_id: str, within: float = 60.0) -> dict[str, Any]:
    reply = await eventually(
        lambda: api.get(f"/v1/executions/{execution_id}"),
        lambda r: r.body["status"] in ("completed", "failed", "cancelled"),
        within=within,
    )
    body: dict[str, Any] = reply.body
    return body


async def run(api: ApiClient, workflow_id: str) -> dict[str, Any]:
    """Start an execution and return its status once it ended."""
    return await finished(api, await start(api, workflow_id))


async def breaker(api: ApiClient, executor_id: str) -> dict[str, Any]:
    """The ``breaker`` block of ``GET /v1/executors/{id}``."""
    reply = await api.get(f"/v1/executors/{executor_id}")
    assert reply.status == 200, reply.text
    block: dict[str, Any] = reply.body["breaker"]
    return block
