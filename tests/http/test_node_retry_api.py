"""An executor node's ``data.retry`` over real HTTP: a valid one is kept as sent, an invalid one is a 400
FLK-0155 naming its field on create and on replace, never a 500."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.helpers.client import ApiClient


def paying(retry: Any) -> dict[str, Any]:
    return {
        "name": f"pay-{uuid.uuid4().hex[:6]}",
        "nodes": [
            {"id": "start", "type": "trigger", "position": {"x": 0, "y": 0}},
            {
                "id": "pay",
                "type": "executor",
                "position": {"x": 0, "y": 1},
                "data": {"executorConfigId": str(uuid.uuid4()), "endpointName": "pay", "retry": retry},
            },
        ],
        "edges": [{"id": "e1", "source": "start", "target": "pay"}],
    }


RETRY = {
    "maxAttempts": 3,
    "initialIntervalMs": 200,
    "backoffCoefficient": 2,
    "maxIntervalMs": 2000,
    "retryOn": [429, 503],
    "retryNonIdempotent": True,
}


async def test_a_valid_retry_policy_is_kept_as_sent(api: ApiClient) -> None:
    created = await api.post("/v1/workflows", paying(RETRY))
    assert created.status == 201, created.text
    got = await api.get(f"/v1/workflows/{created.body['workflowId']}")
    assert got.body["nodes"][1]["data"]["retry"] == RETRY


@pytest.mark.parametrize(
    ("retry", "message"),
    [
        ({"maxAttempts": 50}, "nodes[pay].data.retry.maxAttempts must be from 1 to 10, got 50"),
        ({"retries": 3}, "nodes[pay].data.retry.retries is not a retry field"),
        ({"retryOn": [404]}, "nodes[pay].data.retry.retryOn[0] (404) is not retryable"),
        (
            {"backoffCoefficient": "2"},
            "nodes[pay].data.retry.backoffCoefficient must be a number from 1 to 10",
        ),
        ("fast", "nodes[pay].data.retry must be an object"),
    ],
)
async def test_an_invalid_retry_policy_is_refused_on_create_and_replace(
    api: ApiClient, retry: Any, message: str
) -> None:
    refused = (await api.post("/v1/workflows", paying(retry))).error(400, "FLK-0155")
    assert refused.body["message"].startswith(message), refused.body["message"]
    assert (await api.get("/v1/workflows")).body["items"] == []

    draft = await api.post("/v1/workflows", paying(None))
    assert draft.status == 201, draft.text
    workflow_id = draft.body["workflowId"]
    (await api.put(f"/v1/workflows/{workflow_id}", paying(retry))).error(400, "FLK-0155")
    kept = await api.get(f"/v1/workflows/{workflow_id}")
    assert kept.body["nodes"][1]["data"]["retry"] is None
