"""Executor nodes in catalog form (``executorId`` + ``providerConfigId``) run through the executor machinery
of their provider configuration: the reference's 9.1 template against stub Tracer and Midaz stubs on
127.0.0.1, over the in-process runtime (the real runner, caller, token source and breaker)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from flowker import codes
from tests.helpers.client import ApiClient
from tests.helpers.polling import eventually
from tests.helpers.stub_provider import StubProvider

TEMPLATE = "tracer-midaz-validation"
ORG, LEDGER = str(uuid.uuid4()), str(uuid.uuid4())
TRANSACTIONS = f"/transaction/v1/organizations/{ORG}/ledgers/{LEDGER}/transactions/json"
SAMPLE = {
    "requestId": str(uuid.uuid4()),
    "transactionType": "PIX",
    "amount": "1000.00",
    "currency": "BRL",
    "transactionTimestamp": "2026-12-01T10:00:00Z",
    "account": {"accountId": str(uuid.uuid4()), "type": "checking", "status": "active"},
    "transaction": {
        "asset": "BRL",
        "value": "1000.00",
        "source": {"from": [{"accountAlias": "@payer"}]},
        "distribute": {"to": [{"accountAlias": "@payee"}]},
    },
    "transactionDescription": "rent",
}


def decide(body: Any, _request: Any) -> tuple[int, Any]:
    return 200, {"decision": "ALLOW" if body.get("amount") == "1000.00" else "DENY", "validationId": "v-1"}


@pytest.fixture
async def stubs() -> AsyncIterator[StubProvider]:
    async with StubProvider() as stub:
        stub.route("POST", "/tracer/v1/validations", decide)
        stub.route("POST", TRANSACTIONS, (201, {"id": "tx-1", "status": {"code": "APPROVED"}}))
        stub.route(
            "GET",
            f"/onboarding/v1/organizations/{ORG}/ledgers/{LEDGER}/accounts/acc-7",
            (200, {"id": "acc-7"}),
        )
        yield stub


async def configure(api: ApiClient, stub: StubProvider) -> tuple[str, str]:
    tracer = await api.post(
        "/v1/provider-configurations",
        {
            "name": "tracer",
            "providerId": "tracer",
            "config": {"base_url": stub.url + "/tracer", "api_key": "tracer-key-1234"},
        },
    )
    midaz = await api.post(
        "/v1/provider-configurations",
        {
            "name": "midaz",
            "providerId": "midaz",
            "config": {
                "onboarding_base_url": stub.url + "/onboarding",
                "transaction_base_url": stub.url + "/transaction",
                "organization_id": ORG,
                "ledger_id": LEDGER,
            },
        },
    )
    assert tracer.status == midaz.status == 201, (tracer.text, midaz.text)
    return tracer.body["id"], midaz.body["id"]


async def run(api: ApiClient, workflow: str, input_data: Any) -> dict[str, Any]:
    started = await api.post(
        f"/v1/workflows/{workflow}/executions",
        {"inputData": input_data},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert started.status == 201, started.text
    execution = started.body["executionId"]
    await eventually(
        lambda: api.get(f"/v1/executions/{execution}"),
        lambda r: r.body["status"] in ("completed", "failed", "cancelled"),
    )
    return (await api.get(f"/v1/executions/{execution}/results")).body


async def from_template(api: ApiClient, tracer: str, midaz: str) -> str:
    params = {
        "workflowName": "validate and transact",
        "tracerProviderConfigId": tracer,
        "midazProviderConfigId": midaz,
    }
    created = await api.post("/v1/workflows/from-template", {"templateId": TEMPLATE, "params": params})
    assert created.status == 201, created.text
    workflow = created.body["workflowId"]
    activated = await api.post(f"/v1/workflows/{workflow}/activate")
    assert activated.status == 200, activated.text
    return workflow


async def test_the_template_runs_tracer_then_midaz(api: ApiClient, stubs: StubProvider) -> None:
    tracer, midaz = await configure(api, stubs)
    workflow = await from_template(api, tracer, midaz)
    results = await run(api, workflow, SAMPLE)
    assert results["status"] == "completed", results
    assert [s["nodeId"] for s in results["stepResults"]] == [
        "tracer-validate",
        "decision-check",
        "midaz-create-tx",
    ]
    [validation] = stubs.calls("/tracer/v1/validations")
    assert validation.headers["X-API-Key"] == "tracer-key-1234"
    assert validation.json == {
        k: SAMPLE[k]
        for k in ("requestId", "transactionType", "amount", "currency", "transactionTimestamp", "account")
    }
    assert validation.headers["Idempotency-Key"].endswith(":tracer-validate")
    [transaction] = stubs.calls(TRANSACTIONS)
    assert transaction.method == "POST"
    assert transaction.json == {"send": SAMPLE["transaction"], "description": "rent"}
    assert "Authorization" not in transaction.headers  # the Midaz configuration has no auth block


async def test_a_denied_validation_ends_completed_without_calling_midaz(
    api: ApiClient, stubs: StubProvider
) -> None:
    tracer, midaz = await configure(api, stubs)
    workflow = await from_template(api, tracer, midaz)
    results = await run(api, workflow, {**SAMPLE, "amount": "99999.00"})
    assert results["status"] == "completed"
    assert [s["nodeId"] for s in results["stepResults"]] == ["tracer-validate", "decision-check"]
    assert stubs.calls(TRANSACTIONS) == []


def node_workflow(provider_config: str, executor: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": f"catalog {uuid.uuid4()}",
        "nodes": [
            {"id": "start", "type": "trigger", "position": {"x": 0, "y": 0}},
            {
                "id": "call",
                "type": "executor",
                "position": {"x": 0, "y": 100},
                "data": {"executorId": executor, "providerConfigId": provider_config, **data},
            },
        ],
        "edges": [{"id": "e1", "source": "start", "target": "call"}],
    }


async def activate(api: ApiClient, definition: dict[str, Any]) -> str:
    created = await api.post("/v1/workflows", definition)
    assert created.status == 201, created.text
    workflow = created.body["workflowId"]
    assert (await api.post(f"/v1/workflows/{workflow}/activate")).status == 200
    return workflow


async def test_a_path_parameter_comes_from_the_body_and_a_get_sends_no_body(
    api: ApiClient, stubs: StubProvider
) -> None:
    _, midaz = await configure(api, stubs)
    mapping = [{"source": "workflow.account", "target": "accountId"}]
    workflow = await activate(api, node_workflow(midaz, "midaz.get-account", {"inputMapping": mapping}))
    results = await run(api, workflow, {"account": "acc-7"})
    assert results["status"] == "completed", results
    [call] = stubs.calls(f"/onboarding/v1/organizations/{ORG}/ledgers/{LEDGER}/accounts/acc-7")
    assert call.method == "GET" and call.raw == b""


async def test_a_path_parameter_is_one_segment_and_a_missing_one_refuses_the_call(
    api: ApiClient, stubs: StubProvider
) -> None:
    _, midaz = await configure(api, stubs)
    mapping = [{"source": "workflow.account", "target": "accountId"}]
    workflow = await activate(api, node_workflow(midaz, "midaz.get-account", {"inputMapping": mapping}))
    escaped = await run(api, workflow, {"account": "../../../admin"})
    assert escaped["status"] == "failed"  # sent as one encoded segment: the stub has no such route (404)
    [sent] = [r for r in stubs.requests if r.path.endswith("/admin")]
    assert sent.raw_path.endswith("/accounts/..%2F..%2F..%2Fadmin")  # one segment: no dot segment reached
    missing = await run(api, workflow, {})
    assert missing["status"] == "failed"
    assert "{accountId}" in missing["stepResults"][0]["errorMessage"]


async def test_node_paths_that_would_leave_the_base_url_are_refused_when_saved(
    api: ApiClient, stubs: StubProvider
) -> None:
    tracer, _ = await configure(api, stubs)
    for path in ("../admin", "/v1/../../admin", "//evil.example/x", "/a?b=1", "http://evil.example/"):
        reply = await api.post(
            "/v1/workflows", node_workflow(tracer, "tracer.validate-transaction", {"path": path})
        )
        reply.error(400, codes.INVALID_EXECUTOR_INPUT)
    reply = await api.post(
        "/v1/workflows", node_workflow(tracer, "tracer.validate-transaction", {"method": "TRACE"})
    )
    reply.error(400, codes.INVALID_EXECUTOR_INPUT)


async def test_a_disabled_provider_configuration_refuses_calls_and_a_patched_key_is_sent_next(
    api: ApiClient, stubs: StubProvider
) -> None:
    tracer, _ = await configure(api, stubs)
    workflow = await activate(
        api, node_workflow(tracer, "tracer.validate-transaction", {"path": "/v1/validations"})
    )
    assert (await run(api, workflow, {}))["status"] == "completed"
    patched = await api.patch(
        f"/v1/provider-configurations/{tracer}",
        {"config": {"base_url": stubs.url + "/tracer", "api_key": "rotated-key-5678"}},
    )
    assert patched.status == 200, patched.text
    assert (await run(api, workflow, {}))["status"] == "completed"
    assert [r.headers["X-API-Key"] for r in stubs.calls("/tracer/v1/validations")] == [
        "tracer-key-1234",
        "rotated-key-5678",
    ]
    assert (await api.post(f"/v1/provider-configurations/{tracer}/disable")).status == 200
    refused = await run(api, workflow, {})
    assert refused["status"] == "failed" and "disabled" in refused["stepResults"][0]["errorMessage"]
    assert len(stubs.calls("/tracer/v1/validations")) == 2


async def test_the_http_provider_sends_its_headers_and_api_key(api: ApiClient, stubs: StubProvider) -> None:
    stubs.route("POST", "/generic/check", (200, {"ok": True}))
    created = await api.post(
        "/v1/provider-configurations",
        {
            "name": "generic",
            "providerId": "http",
            "config": {
                "base_url": stubs.url + "/generic",
                "headers": {"X-Tenant": "tenant-42", "X-Signature": "sig-secret-9988"},
                "auth_type": "api_key",
                "api_key": "generic-key-7766",
                "api_key_header": "X-Generic-Key",
            },
        },
    )
    assert created.status == 201, created.text
    assert created.body["name"] == "generic"
    shown = (await api.get(f"/v1/provider-configurations/{created.body['id']}")).body["config"]
    assert shown["headers"] == {"X-Tenant": "********", "X-Signature": "********"}
    mapping = [{"source": "workflow.n", "target": "n"}]
    workflow = await activate(
        api, node_workflow(created.body["id"], "http", {"path": "/check", "inputMapping": mapping})
    )
    results = await run(api, workflow, {"n": 1})
    assert results["status"] == "completed", results
    [call] = stubs.calls("/generic/check")
    assert (call.headers["X-Tenant"], call.headers["X-Signature"]) == ("tenant-42", "sig-secret-9988")
    assert call.headers["X-Generic-Key"] == "generic-key-7766" and call.json == {"n": 1}


@pytest.mark.parametrize(
    "config",
    [
        {"headers": {"Host": "evil.example"}},
        {"headers": {"Content-Length": "0"}},
        {"headers": {"X-Split": "a\r\nInjected: yes"}},
        {"headers": {"Bad Name": "x"}},
        {"auth_type": "api_key", "api_key": "k-123456", "api_key_header": "Host"},
        {"auth_type": "api_key", "api_key": "k-123456", "api_key_header": "Idempotency-Key"},
    ],
)
async def test_headers_a_configuration_may_not_set_are_refused_when_saved(
    api: ApiClient, config: dict[str, Any]
) -> None:
    body = {
        "name": f"bad {uuid.uuid4()}",
        "providerId": "http",
        "config": {"base_url": "https://api.example.com", **config},
    }
    refused = (await api.post("/v1/provider-configurations", body)).error(422, codes.INVALID_PROVIDER_CONFIG)
    assert "evil" not in refused.text and "Injected" not in refused.text
