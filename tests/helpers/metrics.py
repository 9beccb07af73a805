"""Reading ``GET /metrics`` in tests: parse the Prometheus text and look samples up by labels, and run one
execution of a one-step workflow against a stub provider."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.helpers.client import ApiClient
from tests.helpers.polling import eventually


class Scrape:
    """The samples of one scrape."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.samples = [s for family in text_string_to_metric_families(text) for s in family.samples]

    def value(self, name: str, **labels: str) -> float:
        """The sum of the samples named ``name`` whose labels include ``labels`` (0 when there is none)."""
        return sum(s.value for s in self.samples if s.name == name and labels.items() <= s.labels.items())

    def has(self, name: str, **labels: str) -> bool:
        """Whether a sample named ``name`` with ``labels`` exists."""
        return any(s.name == name and labels.items() <= s.labels.items() for s in self.samples)


async def scrape(client: ApiClient, **headers: str) -> Scrape:
    """Scrape ``/metrics`` (200 expected)."""
    reply = await client.get("/metrics", headers=headers)
    assert reply.status == 200, reply.text
    return Scrape(reply.text)


@dataclass(frozen=True)
class Run:
    """What :func:`run_one` made."""

    workflow_id: str
    executor_id: str
    execution_id: str
    status: str


async def run_one(
    api: ApiClient, base_url: str, *, authentication: dict[str, Any] | None = None, wait: bool = True
) -> Run:
    """Create an executor configuration and a one-step workflow calling ``POST /go``, start it, and (with
    ``wait``) wait for its end."""
    executor: dict[str, Any] = {
        "name": f"metrics-{uuid.uuid4().hex[:8]}",
        "baseUrl": base_url,
        "endpoints": [{"name": "go", "path": "/go", "method": "POST", "timeout": 5}],
        "authentication": authentication or {"type": "none"},
    }
    made = await api.post("/v1/executors", executor)
    assert made.status == 201, made.text
    executor_id = made.body["id"]
    workflow = await api.post(
        "/v1/workflows",
        {
            "name": f"metrics-{uuid.uuid4().hex[:8]}",
            "nodes": [
                {"id": "start", "type": "trigger"},
                {"id": "call", "type": "executor",
                 "data": {"executorConfigId": executor_id, "endpointName": "go"}},
            ],
            "edges": [{"id": "e1", "source": "start", "target": "call"}],
        },
    )  # fmt: skip
    assert workflow.status == 201, workflow.text
    workflow_id = workflow.body["workflowId"]
    assert (await api.post(f"/v1/workflows/{workflow_id}/activate")).status == 200
    started = await api.post(
        f"/v1/workflows/{workflow_id}/executions",
        {"inputData": {}},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert started.status == 201, started.text
    execution_id = started.body["executionId"]
    status = started.body.get("status", "pending")
    if wait:
        ended = await eventually(
            lambda: api.get(f"/v1/executions/{execution_id}"),
            lambda r: r.body["status"] in ("completed", "failed", "cancelled"),
            within=60,
        )
        status = ended.body["status"]
    return Run(workflow_id, executor_id, execution_id, status)
