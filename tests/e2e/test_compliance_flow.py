"""Reference section 9.2 end to end: real Ray, real HTTP, stub KYC and AML providers on 127.0.0.1."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.helpers.client import ApiClient, Reply
from tests.helpers.fixtures import aml_executor, compliance_workflow, kyc_executor
from tests.helpers.polling import eventually
from tests.helpers.stub_provider import StubProvider

KYC = "/v1/kyc/validate"
AML = "/v1/aml/check"
APPROVE_INPUT = {
    "customer": {"cpf": "123.456.789-00", "name": "John Doe"},
    "transaction": {"amount": 1500.50},
}
REJECT_INPUT = {
    "customer": {"cpf": "999.999.999-99", "name": "Risky Person"},
    "transaction": {"amount": 50000},
}


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


@pytest.fixture
async def workflow_id(api: ApiClient, providers: StubProvider) -> str:
    kyc = await api.post("/v1/executors", kyc_executor(providers.url + "/v1/kyc"))
    aml = await api.post("/v1/executors", aml_executor(providers.url + "/v1/aml"))
    created = await api.post("/v1/workflows", compliance_workflow(kyc.body["id"], aml.body["id"]))
    assert created.status == 201, created.text
    workflow = created.body["workflowId"]
    assert (await api.post(f"/v1/workflows/{workflow}/activate")).status == 200
    return workflow


async def start(api: ApiClient, workflow: str, input_data: Any, key: str | None = None) -> Reply:
    headers = {"Idempotency-Key": key or str(uuid.uuid4())}
    return await api.post(f"/v1/workflows/{workflow}/executions", {"inputData": input_data}, headers=headers)


async def finished(api: ApiClient, execution_id: str) -> dict[str, Any]:
    reply = await eventually(
        lambda: api.get(f"/v1/executions/{execution_id}"),
        lambda r: r.body["status"] in ("completed", "failed", "cancelled"),
    )
    return reply.body


async def test_approve_path(api: ApiClient, providers: StubProvider, workflow_id: str) -> None:
    started = await start(api, workflow_id, APPROVE_INPUT)
    assert started.status == 201, started.text
    assert set(started.body) == {"executionId", "workflowId", "status", "startedAt"}
    execution = await finished(api, started.body["executionId"])
    assert execution["status"] == "completed", execution
    assert execution["currentStepNumber"] == 4 and execution["totalSteps"] == 5

    assert [r.json for r in providers.calls(KYC)] == [{"document": "12345678900", "fullName": "JOHN DOE"}]
    assert [r.json for r in providers.calls(AML)] == [{"customerId": "CUST-001", "transactionAmount": 1500.5}]
    kyc_request = providers.calls(KYC)[0]
    assert kyc_request.headers["X-API-Key"] == "kyc-secret-key-123456"
    assert kyc_request.headers["Idempotency-Key"] == f"{started.body['executionId']}:kyc-executor"
    assert providers.calls(AML)[0].headers["Authorization"] == "Bearer aml-bearer-token-abcdef"

    results = await api.get(f"/v1/executions/{started.body['executionId']}/results")
    assert results.status == 200
    assert results.body["finalOutput"] == {"decision": "approved"}
    steps = results.body["stepResults"]
    assert [(s["stepNumber"], s["nodeId"], s["status"]) for s in steps] == [
        (1, "kyc-executor", "completed"),
        (2, "risk-check", "completed"),
        (3, "aml-executor", "completed"),
        (4, "approve-action", "completed"),
    ]
    assert steps[0]["output"] == {"result": {"customerId": "CUST-001", "riskScore": 25}}
    assert steps[1]["output"]["result"] is True and steps[1]["output"]["branchTaken"] == "true"


async def test_reject_path_never_calls_aml(api: ApiClient, providers: StubProvider, workflow_id: str) -> None:
    started = await start(api, workflow_id, REJECT_INPUT)
    execution = await finished(api, started.body["executionId"])
    assert execution["status"] == "completed"
    results = await api.get(f"/v1/executions/{started.body['executionId']}/results")
    assert [s["nodeId"] for s in results.body["stepResults"]] == [
        "kyc-executor",
        "risk-check",
        "reject-action",
    ]
    assert results.body["stepResults"][1]["output"]["branchTaken"] == "false"
    assert results.body["finalOutput"] == {"decision": "rejected", "reason": "high risk score"}
    assert providers.calls(AML) == []


async def test_aml_failing_is_retried_then_fails_the_execution(
    api: ApiClient, providers: StubProvider, workflow_id: str
) -> None:
    providers.route("POST", AML, (500, {"error": "aml down"}))
    started = await start(api, workflow_id, APPROVE_INPUT)
    execution = await finished(api, started.body["executionId"])
    assert execution["status"] == "failed"
    assert "aml-executor" in execution["errorMessage"] and "executor call failed" in execution["errorMessage"]
    assert len(providers.calls(AML)) == 5
    keys = {r.headers["Idempotency-Key"] for r in providers.calls(AML)}
    assert keys == {f"{started.body['executionId']}:aml-executor"}
    results = await api.get(f"/v1/executions/{started.body['executionId']}/results")
    assert [(s["nodeId"], s["status"]) for s in results.body["stepResults"]] == [
        ("kyc-executor", "completed"),
        ("risk-check", "completed"),
        ("aml-executor", "failed"),
    ]
    assert "finalOutput" not in results.body
    assert "executor call failed after 5 attempts" in results.body["stepResults"][2]["errorMessage"]


async def test_a_4xx_is_not_retried(api: ApiClient, providers: StubProvider, workflow_id: str) -> None:
    providers.route("POST", AML, (422, {"error": "bad customer"}))
    started = await start(api, workflow_id, APPROVE_INPUT)
    execution = await finished(api, started.body["executionId"])
    assert execution["status"] == "failed"
    assert len(providers.calls(AML)) == 1


async def test_idempotent_replay(api: ApiClient, providers: StubProvider, workflow_id: str) -> None:
    key = f"replay-{uuid.uuid4()}"
    first = await start(api, workflow_id, APPROVE_INPUT, key)
    assert first.status == 201
    await finished(api, first.body["executionId"])
    again = await start(api, workflow_id, APPROVE_INPUT, key)
    assert again.status == 200
    assert again.body["executionId"] == first.body["executionId"]
    assert again.body["status"] == "completed"
    assert len(providers.calls(KYC)) == 1
    other = await start(api, workflow_id, REJECT_INPUT, key)
    other.error(409, "FLK-0505")


async def test_missing_idempotency_key_and_other_start_errors(api: ApiClient, workflow_id: str) -> None:
    missing = await api.post(f"/v1/workflows/{workflow_id}/executions", {"inputData": APPROVE_INPUT})
    missing.error(400, "FLK-0509")
    blank = await api.post(
        f"/v1/workflows/{workflow_id}/executions", {"inputData": {}}, headers={"Idempotency-Key": "  "}
    )
    blank.error(400, "FLK-0509")
    (await start(api, str(uuid.uuid4()), {})).error(404, "FLK-0100")
    (await start(api, "not-a-uuid", {})).error(400, "FLK-0002")
    assert (await api.post(f"/v1/workflows/{workflow_id}/deactivate")).status == 200
    (await start(api, workflow_id, APPROVE_INPUT)).error(422, "FLK-0501")
    listed = await api.get("/v1/executions", params={"workflowId": workflow_id})
    assert listed.body["items"] == []


async def test_results_wait_for_the_end(api: ApiClient, providers: StubProvider, workflow_id: str) -> None:
    providers.route("POST", AML, (200, {"amlStatus": "cleared", "referenceId": "R"}), delay=1.5)
    started = await start(api, workflow_id, APPROVE_INPUT)
    execution_id = started.body["executionId"]
    await eventually(
        lambda: api.get(f"/v1/executions/{execution_id}"), lambda r: r.body["status"] == "running"
    )
    (await api.get(f"/v1/executions/{execution_id}/results")).error(422, "FLK-0502")
    assert (await finished(api, execution_id))["status"] == "completed"
    (await api.get(f"/v1/executions/{uuid.uuid4()}")).error(404, "FLK-0500")
    (await api.get(f"/v1/executions/{uuid.uuid4()}/results")).error(404, "FLK-0500")


async def test_prefer_wait_answers_with_the_results_when_the_run_ends_in_time(
    api: ApiClient, providers: StubProvider, workflow_id: str
) -> None:
    headers = {"Idempotency-Key": str(uuid.uuid4()), "Prefer": "wait=10"}
    reply = await api.post(
        f"/v1/workflows/{workflow_id}/executions", {"inputData": APPROVE_INPUT}, headers=headers
    )
    assert reply.status == 200, reply.text
    assert reply.headers["Preference-Applied"] == "wait=10"
    assert reply.body["status"] == "completed"
    assert reply.body["finalOutput"] == {"decision": "approved"}
    assert len(reply.body["stepResults"]) == 4


async def test_prefer_wait_falls_back_to_201_when_the_run_outlasts_it(
    api: ApiClient, providers: StubProvider, workflow_id: str
) -> None:
    providers.route("POST", AML, (200, {"amlStatus": "cleared", "referenceId": "R"}), delay=2)
    headers = {"Idempotency-Key": str(uuid.uuid4()), "Prefer": "respond-async, wait=0.3"}
    reply = await api.post(
        f"/v1/workflows/{workflow_id}/executions", {"inputData": APPROVE_INPUT}, headers=headers
    )
    assert reply.status == 201
    assert "Preference-Applied" not in reply.headers
    assert set(reply.body) == {"executionId", "workflowId", "status", "startedAt"}
    assert (await finished(api, reply.body["executionId"]))["status"] == "completed"
