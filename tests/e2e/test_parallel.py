"""Parallel branches: both run at once, and a node where they join runs once, after both."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any

from tests.helpers.client import ApiClient
from tests.helpers.polling import eventually
from tests.helpers.stub_provider import StubProvider


def diamond(executor_id: str) -> dict[str, Any]:
    """trigger → (kyc ∥ sanctions) → merge (executor) → done."""

    def call(node_id: str, endpoint: str, **data: Any) -> dict[str, Any]:
        return {"id": node_id, "type": "executor",
                "data": {"executorConfigId": executor_id, "endpointName": endpoint, **data}}  # fmt: skip

    return {
        "name": f"parallel checks {uuid.uuid4().hex[:6]}",
        "nodes": [
            {"id": "start", "type": "trigger"},
            call("kyc", "kyc"),
            call("sanctions", "sanctions"),
            call(
                "merge",
                "merge",
                inputMapping=[
                    {"source": "kyc.body.ok", "target": "kycOk", "required": True},
                    {"source": "sanctions.body.ok", "target": "sanctionsOk", "required": True},
                ],
            ),
            {
                "id": "done",
                "type": "action",
                "data": {"actionType": "set_output", "output": {"cleared": True}},
            },
        ],
        "edges": [
            {"id": "e1", "source": "start", "target": "kyc"},
            {"id": "e2", "source": "start", "target": "sanctions"},
            {"id": "e3", "source": "kyc", "target": "merge"},
            {"id": "e4", "source": "sanctions", "target": "merge"},
            {"id": "e5", "source": "merge", "target": "done"},
        ],
    }


async def test_two_branches_run_concurrently_and_join_once(api: ApiClient) -> None:
    arrived: set[str] = set()
    both = asyncio.Event()

    async def barrier(body: Any, request: Any) -> tuple[int, Any]:
        # Neither branch is answered until both have called: run one after the other, they would time out.
        arrived.add(request.path)
        if len(arrived) == 2:
            both.set()
        await asyncio.wait_for(both.wait(), timeout=5)
        return 200, {"ok": True}

    async with StubProvider() as provider:
        provider.route("POST", "/kyc", barrier)
        provider.route("POST", "/sanctions", barrier)
        provider.route("POST", "/merge", (200, {"merged": True}))
        executor = await api.post(
            "/v1/executors",
            {
                "name": "compliance-checks",
                "baseUrl": provider.url,
                "endpoints": [
                    {"name": n, "path": f"/{n}", "method": "POST"} for n in ("kyc", "sanctions", "merge")
                ],
                "authentication": {"type": "none"},
            },
        )
        workflow = await api.post("/v1/workflows", diamond(executor.body["id"]))
        workflow_id = workflow.body["workflowId"]
        assert (await api.post(f"/v1/workflows/{workflow_id}/activate")).status == 200, workflow.text
        started = await api.post(
            f"/v1/workflows/{workflow_id}/executions", {"inputData": {}}, headers={"Idempotency-Key": "p-1"}
        )
        execution_id = started.body["executionId"]
        final = await eventually(
            lambda: api.get(f"/v1/executions/{execution_id}"),
            lambda r: r.body["status"] in ("completed", "failed"),
        )
        assert final.body["status"] == "completed", final.body
        assert [r.json for r in provider.calls("/merge")] == [{"kycOk": True, "sanctionsOk": True}]
        results = await api.get(f"/v1/executions/{execution_id}/results")
    steps = results.body["stepResults"]
    assert sorted(s["nodeId"] for s in steps[:2]) == ["kyc", "sanctions"]
    assert [s["nodeId"] for s in steps[2:]] == ["merge", "done"]
    assert results.body["finalOutput"] == {"cleared": True}
    # The two calls overlapped: each started before the other had finished.
    first, second = sorted(steps[:2], key=lambda s: s["executedAt"])
    first_end = datetime.fromisoformat(first["executedAt"]) + timedelta(milliseconds=first["durationMs"])
    assert datetime.fromisoformat(second["executedAt"]) < first_end
