"""W3: trigger → executor (POST /score) → conditional → executor (POST /decide) → set_output.

Four steps run per execution: two provider calls, the condition ``score.body.score < 50`` and the
``set_output``; the ``false`` branch (a second ``set_output``) is never taken with the stub's score of 12.
"""

from __future__ import annotations

import uuid
from typing import Any

from bench.service import Api

#: Steps one W3 execution runs: executor, conditional, executor, set_output.
STEPS = 4


def provider(base_url: str, timeout: int) -> dict[str, Any]:
    """The executor configuration of the stub provider.

    Only a call as long as its timeout counts as slow for the breaker: the waiting scenario holds calls
    at the provider on purpose (20 s each), and the default (10 s, every call of the window slow) would
    open the breaker and fail the executions' next calls.
    """
    return {
        "name": f"bench-stub-{uuid.uuid4().hex[:8]}",
        "baseUrl": base_url,
        "endpoints": [
            {"name": "score", "path": "/score", "method": "POST", "timeout": timeout},
            {"name": "decide", "path": "/decide", "method": "POST", "timeout": timeout},
        ],
        "authentication": {"type": "none"},
        "circuitBreaker": {"slowCallDurationMs": timeout * 1000},
    }


def workflow(executor_id: str) -> dict[str, Any]:
    """The W3 definition bound to ``executor_id``."""
    call = {"executorConfigId": executor_id}
    return {
        "name": f"bench-w3-{uuid.uuid4().hex[:8]}",
        "nodes": [
            {"id": "start", "type": "trigger"},
            {"id": "score", "type": "executor", "data": {**call, "endpointName": "score"}},
            {"id": "low-risk", "type": "conditional", "data": {"condition": "score.body.score < 50"}},
            {"id": "decide", "type": "executor", "data": {
                **call, "endpointName": "decide",
                "inputMapping": [{"source": "score.body.score", "target": "score", "required": True}],
            }},
            {"id": "approved", "type": "action",
             "data": {"actionType": "set_output", "output": {"decision": "approve"}}},
            {"id": "rejected", "type": "action",
             "data": {"actionType": "set_output", "output": {"decision": "reject"}}},
        ],
        "edges": [
            {"id": "e1", "source": "start", "target": "score"},
            {"id": "e2", "source": "score", "target": "low-risk"},
            {"id": "e3", "source": "low-risk", "target": "decide", "sourceHandle": "true"},
            {"id": "e4", "source": "low-risk", "target": "rejected", "sourceHandle": "false"},
            {"id": "e5", "source": "decide", "target": "approved"},
        ],
    }  # fmt: skip


async def create(api: Api, provider_url: str, call_seconds: int = 10) -> str:
    """Register the provider (calls time out after ``call_seconds``), create W3, activate it; its id."""
    executor = await api.call("POST", "/v1/executors", provider(provider_url, call_seconds), expect=201)
    created = await api.call("POST", "/v1/workflows", workflow(executor["id"]), expect=201)
    await api.call("POST", f"/v1/workflows/{created['workflowId']}/activate")
    return created["workflowId"]


async def check_once(api: Api, workflow_id: str) -> dict[str, Any]:
    """Run W3 once and check it ran its four steps and chose ``approve``."""
    results = await api.call(
        "POST",
        f"/v1/workflows/{workflow_id}/executions",
        {"inputData": {"txn": "T-check"}},
        headers={"Idempotency-Key": f"check-{uuid.uuid4()}", "Prefer": "wait=60"},
    )
    steps = [step["nodeId"] for step in results.get("stepResults", [])]
    if results.get("status") != "completed" or steps != ["score", "low-risk", "decide", "approved"]:
        raise RuntimeError(f"W3 did not run as designed: {results}")
    if results.get("finalOutput") != {"decision": "approve"}:
        raise RuntimeError(f"W3 chose {results.get('finalOutput')}, not approve")
    return results
