"""``GET /v1/executions/{id}/timeline``: the console's step timeline, over the in-process runtime (the real
runner and caller) and stub providers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from flowker.codes import EXECUTION_NOT_FOUND, INVALID_UUID
from tests.helpers.client import ApiClient
from tests.helpers.fixtures import aml_executor, compliance_workflow, kyc_executor
from tests.helpers.polling import eventually
from tests.helpers.stub_provider import StubProvider

KYC = "/v1/kyc/validate"
AML = "/v1/aml/check"
APPROVE = {"customer": {"cpf": "123.456.789-00", "name": "John Doe"}, "transaction": {"amount": 1500.5}}


def kyc_answer(body: Any, _request: Any) -> tuple[int, Any]:
    if str(body.get("document", "")).startswith("1"):
        return 200, {"customerId": "CUST-001", "riskScore": 25, "status": "approved"}
    return 200, {"customerId": "CUST-999", "riskScore": 85, "status": "review"}


@pytest.fixture
async def providers() -> AsyncIterator[StubProvider]:
    async with StubProvider() as stub:
        stub.route("POST", KYC, kyc_answer)
        stub.route("POST", AML, (200, {"amlStatus": "cleared", "referenceId": "AML-REF-9876"}))
        yield stub


async def activate(api: ApiClient, definition: dict[str, Any]) -> str:
    created = await api.post("/v1/workflows", definition)
    assert created.status == 201, created.text
    workflow = created.body["workflowId"]
    assert (await api.post(f"/v1/workflows/{workflow}/activate")).status == 200
    return workflow


@pytest.fixture
async def compliance(api: ApiClient, providers: StubProvider) -> str:
    kyc = await api.post("/v1/executors", kyc_executor(providers.url + "/v1/kyc"))
    aml = await api.post("/v1/executors", aml_executor(providers.url + "/v1/aml"))
    return await activate(api, compliance_workflow(kyc.body["id"], aml.body["id"]))


async def run(api: ApiClient, workflow: str, input_data: Any) -> str:
    started = await api.post(
        f"/v1/workflows/{workflow}/executions",
        {"inputData": input_data},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert started.status == 201, started.text
    return started.body["executionId"]


async def ended(api: ApiClient, execution_id: str) -> dict[str, Any]:
    reply = await eventually(
        lambda: api.get(f"/v1/executions/{execution_id}/timeline"),
        lambda r: r.body["status"] in ("completed", "failed", "cancelled"),
    )
    assert reply.status == 200, reply.text
    return reply.body


async def test_a_completed_run_shows_each_steps_input_output_and_attempts(
    api: ApiClient, compliance: str, providers: StubProvider
) -> None:
    execution = await run(api, compliance, APPROVE)
    timeline = await ended(api, execution)
    assert timeline["status"] == "completed"
    assert timeline["workflowName"] == "complex compliance workflow"
    assert timeline["inFlight"] == []
    assert [(s["stepNumber"], s["nodeId"], s["nodeType"], s["status"]) for s in timeline["steps"]] == [
        (1, "kyc-executor", "executor", "completed"),
        (2, "risk-check", "conditional", "completed"),
        (3, "aml-executor", "executor", "completed"),
        (4, "approve-action", "action", "completed"),
    ]
    kyc, risk, aml, _ = timeline["steps"]
    # What each executor step sent is what the provider received.
    assert kyc["input"] == providers.calls(KYC)[0].json == {"document": "12345678900", "fullName": "JOHN DOE"}
    assert aml["input"] == providers.calls(AML)[0].json
    assert kyc["attempts"] == 1 and aml["attempts"] == 1 and kyc["repeat"] is False
    assert kyc["output"] == {"result": {"customerId": "CUST-001", "riskScore": 25}}
    assert "input" not in risk and "attempts" not in risk
    assert risk["output"]["branchTaken"] == "true"
    # The results endpoint keeps the original's step shape.
    results = await api.get(f"/v1/executions/{execution}/results")
    assert all("input" not in step and "nodeType" not in step for step in results.body["stepResults"])


async def test_attempts_count_the_retries_of_a_call(
    api: ApiClient, compliance: str, providers: StubProvider
) -> None:
    providers.route("POST", AML, [(503, {}), (503, {}), (200, {"amlStatus": "cleared", "referenceId": "R"})])
    timeline = await ended(api, await run(api, compliance, APPROVE))
    assert timeline["status"] == "completed"
    assert [s.get("attempts") for s in timeline["steps"]] == [1, None, 3, None]
    assert len(providers.calls(AML)) == 3


async def test_values_under_credential_like_keys_are_masked_in_inputs_and_outputs(
    api: ApiClient, providers: StubProvider
) -> None:
    providers.route("POST", "/v1/kyc/validate", (200, {"accessToken": "tok-from-provider", "ok": True}))
    kyc = await api.post("/v1/executors", kyc_executor(providers.url + "/v1/kyc"))
    definition = {
        "name": "masking",
        "nodes": [
            {"id": "start", "type": "trigger", "position": {"x": 0, "y": 0}},
            {
                "id": "kyc",
                "type": "executor",
                "position": {"x": 0, "y": 100},
                "data": {
                    "executorConfigId": kyc.body["id"],
                    "endpointName": "validate",
                    "inputMapping": [
                        {"source": "workflow.user", "target": "user"},
                        {"source": "workflow.password", "target": "credentials.password"},
                    ],
                },
            },
        ],
        "edges": [{"id": "e1", "source": "start", "target": "kyc"}],
    }
    workflow = await activate(api, definition)
    timeline = await ended(api, await run(api, workflow, {"user": "ana", "password": "hunter2-secret"}))
    step = timeline["steps"][0]
    assert providers.calls("/v1/kyc/validate")[0].json["credentials"]["password"] == "hunter2-secret"
    assert step["input"] == {"user": "ana", "credentials": {"password": "********"}}
    assert step["output"]["body"] == {"accessToken": "********", "ok": True}
    assert "hunter2" not in str(timeline) and "tok-from-provider" not in str(timeline)


async def test_a_running_execution_shows_the_call_in_flight(
    api: ApiClient, compliance: str, providers: StubProvider
) -> None:
    release = asyncio.Event()

    async def held(body: Any, request: Any) -> tuple[int, Any]:
        await release.wait()
        return 200, {"amlStatus": "cleared", "referenceId": "R"}

    providers.route("POST", AML, held)
    execution = await run(api, compliance, APPROVE)
    try:
        reply = await eventually(
            lambda: api.get(f"/v1/executions/{execution}/timeline"),
            lambda r: r.body.get("inFlight") == ["aml-executor"],
        )
        assert reply.body["status"] == "running"
        assert [s["nodeId"] for s in reply.body["steps"]] == ["kyc-executor", "risk-check"]
    finally:
        release.set()
    timeline = await ended(api, execution)
    assert timeline["inFlight"] == [] and len(timeline["steps"]) == 4


async def test_an_unknown_or_malformed_id(api: ApiClient) -> None:
    (await api.get(f"/v1/executions/{uuid.uuid4()}/timeline")).error(404, EXECUTION_NOT_FOUND)
    (await api.get("/v1/executions/not-a-uuid/timeline")).error(400, INVALID_UUID)


async def test_the_key_is_required(anon: ApiClient) -> None:
    assert (await anon.get(f"/v1/executions/{uuid.uuid4()}/timeline")).status == 401
