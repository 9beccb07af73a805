"""The original's end-to-end scenarios (reference section 9) over real HTTP against the sandbox's simulated
providers, on the real Ray runtime: a front door on 127.0.0.1 with sandbox mode on (its ``/sandbox``
routes served beside the API), the executor configurations ``flowker serve --sandbox`` creates, the real
embedded store and this test's own actors.

Where the reference binds an executor node to a ``tracer`` provider configuration whose ``base_url``
points at a mock KYC or AML service (its E2E suite's way of reaching an arbitrary HTTP provider), the
nodes here are bound to the sandbox's executor configurations ``sandbox-kyc`` and ``sandbox-aml``: that is
how our executor configurations express a provider with its own endpoints (``endpointName`` ``validate``,
``check``). What a provider received is read from the step timeline (``GET /v1/executions/{id}/timeline``,
each executor step's ``input``) and checked against the sandbox, whose answers are functions of the
request: the same body sent to it directly gets the answer the step recorded.

9.1 is the ``tracer-midaz-validation`` template over ``sandbox-tracer`` and ``sandbox-midaz`` (its nodes in
catalog form, run through each provider configuration's executor actor; Midaz with the sandbox's OIDC
issuer).
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from flowker import codes
from flowker.domain.sandbox_answers import SANDBOX_API_KEY
from flowker.http.keys import Services
from flowker.settings import Settings
from flowker.usecases.sandbox import ensure_sandbox_configs, ensure_sandbox_provider_configs
from tests.conftest import API_KEY
from tests.helpers.client import ApiClient, Reply
from tests.helpers.fixtures import compliance_workflow
from tests.helpers.polling import eventually
from tests.helpers.webhooks import webhook_kyc_workflow

APPROVE_INPUT = {
    "customer": {"cpf": "123.456.789-00", "name": "John Doe"},
    "transaction": {"amount": 1500.50},
}
REJECT_INPUT = {
    "customer": {"cpf": "999.999.999-99", "name": "Risky Person"},
    "transaction": {"amount": 50000},
}
TERMINAL = ("completed", "failed", "cancelled")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The conftest's settings (fast retries, a short breaker open time) with sandbox mode on."""
    return Settings(
        data_dir=tmp_path / "data",
        port=0,
        api_keys=(API_KEY,),
        retry_backoff_seconds=0.01,
        breaker_open_seconds=1.0,
        sandbox=True,
    )


@pytest.fixture
async def sandbox_ids(server: str, services: Services) -> dict[str, str]:
    """The sandbox's configurations, created as ``flowker serve --sandbox`` creates them: name -> id."""
    made = await ensure_sandbox_configs(services.executor_configs, f"{server}/sandbox")
    made += await ensure_sandbox_provider_configs(services.provider_configs, f"{server}/sandbox")
    assert [c.state for c in made] == ["created"] * 5
    return {c.name: c.id for c in made}


@pytest.fixture
async def provider(server: str) -> AsyncIterator[ApiClient]:
    """The sandbox called directly, with its own key, as Flowker's executor actors call it."""
    async with aiohttp.ClientSession(server, headers={"X-API-Key": SANDBOX_API_KEY}) as session:
        yield ApiClient(session)


# --- helpers ----------------------------------------------------------------------------------------


async def activate(api: ApiClient, definition: dict[str, Any]) -> str:
    created = await api.post("/v1/workflows", definition)
    assert created.status == 201, created.text
    workflow_id = str(created.body["workflowId"])
    activated = await api.post(f"/v1/workflows/{workflow_id}/activate")
    assert activated.status == 200, activated.text
    return workflow_id


async def start(api: ApiClient, workflow_id: str, input_data: Any, key: str | None = None) -> Reply:
    return await api.post(
        f"/v1/workflows/{workflow_id}/executions",
        {"inputData": input_data},
        headers={"Idempotency-Key": key or str(uuid.uuid4())},
    )


async def ended(api: ApiClient, execution_id: str) -> dict[str, Any]:
    """The execution's status once it has ended."""
    reply = await eventually(
        lambda: api.get(f"/v1/executions/{execution_id}"), lambda r: r.body["status"] in TERMINAL, within=60
    )
    return dict(reply.body)


async def run(api: ApiClient, workflow_id: str, input_data: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Start, wait for the end; the execution's results and its timeline."""
    started = await start(api, workflow_id, input_data)
    assert started.status == 201, started.text
    execution_id = started.body["executionId"]
    await ended(api, execution_id)
    results = await api.get(f"/v1/executions/{execution_id}/results")
    assert results.status == 200, results.text
    timeline = await api.get(f"/v1/executions/{execution_id}/timeline")
    assert timeline.status == 200, timeline.text
    return results.body, timeline.body


def step(timeline: dict[str, Any], node_id: str) -> dict[str, Any]:
    found = [s for s in timeline["steps"] if s["nodeId"] == node_id]
    assert len(found) == 1, (node_id, timeline["steps"])
    return dict(found[0])


def executor_node(
    node_id: str, name: str, config_id: str, endpoint: str, inputs: list[dict[str, Any]], **data: Any
) -> dict[str, Any]:
    return {
        "id": node_id,
        "type": "executor",
        "name": name,
        "position": {"x": 250, "y": 150},
        "data": {"executorConfigId": config_id, "endpointName": endpoint, "inputMapping": inputs, **data},
    }


def linear(name: str, node: dict[str, Any]) -> dict[str, Any]:
    """Trigger -> ``node``."""
    return {
        "name": f"{name} {uuid.uuid4().hex[:6]}",
        "nodes": [
            {
                "id": "trigger",
                "type": "trigger",
                "position": {"x": 250, "y": 0},
                "data": {"triggerId": "webhook"},
            },
            node,
        ],
        "edges": [{"id": "e1", "source": "trigger", "target": node["id"]}],
    }


def tracer_midaz_workflow(name: str, tracer_config_id: str, midaz_config_id: str) -> dict[str, Any]:
    """The body of ``POST /v1/workflows/from-template`` for reference 9.1, over the given provider
    configurations (the sandbox's ``sandbox-tracer`` and ``sandbox-midaz``)."""
    return {
        "templateId": "tracer-midaz-validation",
        "params": {
            "workflowName": name,
            "tracerProviderConfigId": tracer_config_id,
            "midazProviderConfigId": midaz_config_id,
        },
    }


def tracer_midaz_input(amount: str = "1000.00", account_status: str = "active") -> dict[str, Any]:
    """Reference 9.1's sample input: the sandbox's Tracer allows it (``ALLOW`` up to 10000.00 on an active
    account), so Midaz's transaction follows; an amount above 10000.00 or a suspended account ends it
    after two steps."""
    return {
        "requestId": str(uuid.uuid4()),
        "transactionType": "PIX",
        "amount": amount,
        "currency": "BRL",
        "transactionTimestamp": "2026-01-02T03:04:05Z",
        "account": {"accountId": str(uuid.uuid4()), "type": "checking", "status": account_status},
        "transaction": {
            "asset": "BRL",
            "value": amount,
            "source": {"from": [{"accountAlias": "@payer"}]},
            "distribute": {"to": [{"accountAlias": "@payee"}]},
        },
        "transactionDescription": "reference 9.1",
    }


def compliance_with_modes(kyc_id: str, aml_id: str) -> dict[str, Any]:
    """Reference 9.2, its AML node also passing the input's ``sandbox`` failure mode on (docs/sandbox.md)."""
    definition = compliance_workflow(
        kyc_id, aml_id, name=f"complex compliance workflow {uuid.uuid4().hex[:6]}"
    )
    aml = next(n for n in definition["nodes"] if n["id"] == "aml-executor")
    aml["data"]["inputMapping"].append({"source": "workflow.sandbox", "target": "sandbox"})
    return definition


# --- 9.2: KYC -> risk branch -> AML / reject -------------------------------------------------------


async def from_template(api: ApiClient, sandbox_ids: dict[str, str], name: str) -> str:
    body = tracer_midaz_workflow(name, sandbox_ids["sandbox-tracer"], sandbox_ids["sandbox-midaz"])
    created = await api.post("/v1/workflows/from-template", body)
    assert created.status == 201, created.text
    workflow_id = str(created.body["workflowId"])
    activated = await api.post(f"/v1/workflows/{workflow_id}/activate")
    assert activated.status == 200, activated.text
    return workflow_id


async def test_9_1_the_template_validates_with_tracer_then_books_with_midaz(
    api: ApiClient, sandbox_ids: dict[str, str]
) -> None:
    workflow_id = await from_template(api, sandbox_ids, "tracer midaz 9.1")
    sample = tracer_midaz_input()
    results, timeline = await run(api, workflow_id, sample)
    assert results["status"] == "completed", results
    assert [(s["nodeId"], s["status"]) for s in results["stepResults"]] == [
        ("tracer-validate", "completed"),
        ("decision-check", "completed"),
        ("midaz-create-tx", "completed"),
    ]
    validate, decision, transact = results["stepResults"]
    assert validate["output"]["body"]["decision"] == "ALLOW"
    assert decision["output"]["branchTaken"] == "true"
    assert transact["output"]["status"] in (200, 201), transact
    # What each provider was sent, as the template maps it.
    assert step(timeline, "tracer-validate")["input"] == {
        key: sample[key]
        for key in ("requestId", "transactionType", "amount", "currency", "transactionTimestamp", "account")
    }
    assert step(timeline, "midaz-create-tx")["input"] == {
        "send": sample["transaction"],
        "description": sample["transactionDescription"],
    }


async def test_9_1_a_transaction_tracer_does_not_allow_ends_after_two_steps(
    api: ApiClient, sandbox_ids: dict[str, str]
) -> None:
    workflow_id = await from_template(api, sandbox_ids, "tracer midaz 9.1 review")
    results, _ = await run(api, workflow_id, tracer_midaz_input(amount="25000.00"))
    assert results["status"] == "completed", results
    assert [s["nodeId"] for s in results["stepResults"]] == ["tracer-validate", "decision-check"]
    assert results["stepResults"][0]["output"]["body"]["decision"] == "REVIEW"
    assert results["stepResults"][1]["output"]["branchTaken"] == "false"


async def test_9_2_the_low_risk_customer_is_approved_after_aml(
    api: ApiClient, provider: ApiClient, sandbox_ids: dict[str, str]
) -> None:
    workflow_id = await activate(
        api, compliance_with_modes(sandbox_ids["sandbox-kyc"], sandbox_ids["sandbox-aml"])
    )
    results, timeline = await run(api, workflow_id, APPROVE_INPUT)
    assert results["status"] == "completed", results
    assert results["finalOutput"] == {"decision": "approved"}
    assert [(s["stepNumber"], s["nodeId"], s["status"]) for s in results["stepResults"]] == [
        (1, "kyc-executor", "completed"),
        (2, "risk-check", "completed"),
        (3, "aml-executor", "completed"),
        (4, "approve-action", "completed"),
    ]
    kyc, risk, aml = (step(timeline, n) for n in ("kyc-executor", "risk-check", "aml-executor"))
    assert kyc["input"] == {"document": "12345678900", "fullName": "JOHN DOE"}
    assert kyc["output"] == {"result": {"customerId": "CUST-001", "riskScore": 25}}
    assert (risk["output"]["result"], risk["output"]["branchTaken"]) == (True, "true")
    assert aml["input"] == {"customerId": "CUST-001", "transactionAmount": 1500.5}
    # The sandbox answers a body by its content: sent that body, it gives the reference the step kept.
    direct = await provider.post("/sandbox/aml/check", aml["input"])
    assert direct.status == 200
    assert aml["output"] == {"result": {"amlStatus": "cleared", "referenceId": direct.body["referenceId"]}}
    execution = (await api.get(f"/v1/executions/{results['executionId']}")).body
    assert (execution["currentStepNumber"], execution["totalSteps"]) == (4, 5)


async def test_9_2_the_high_risk_customer_is_rejected_without_aml(
    api: ApiClient, sandbox_ids: dict[str, str]
) -> None:
    workflow_id = await activate(
        api, compliance_with_modes(sandbox_ids["sandbox-kyc"], sandbox_ids["sandbox-aml"])
    )
    results, timeline = await run(api, workflow_id, REJECT_INPUT)
    assert results["status"] == "completed", results  # a rejection is not a failure
    assert results["finalOutput"] == {"decision": "rejected", "reason": "high risk score"}
    assert [s["nodeId"] for s in results["stepResults"]] == ["kyc-executor", "risk-check", "reject-action"]
    assert step(timeline, "kyc-executor")["input"] == {"document": "99999999999", "fullName": "RISKY PERSON"}
    assert step(timeline, "kyc-executor")["output"] == {"result": {"customerId": "CUST-999", "riskScore": 85}}
    assert step(timeline, "risk-check")["output"]["branchTaken"] == "false"
    assert all(s["nodeId"] != "aml-executor" for s in timeline["steps"])  # AML never called


async def test_9_2_aml_answering_500_is_retried_then_fails_the_execution(
    api: ApiClient, sandbox_ids: dict[str, str]
) -> None:
    workflow_id = await activate(
        api, compliance_with_modes(sandbox_ids["sandbox-kyc"], sandbox_ids["sandbox-aml"])
    )
    failing = {**APPROVE_INPUT, "sandbox": {"fail": "500"}}
    results, timeline = await run(api, workflow_id, failing)
    assert results["status"] == "failed", results
    assert [(s["nodeId"], s["status"]) for s in results["stepResults"]] == [
        ("kyc-executor", "completed"),
        ("risk-check", "completed"),
        ("aml-executor", "failed"),
    ]
    assert "finalOutput" not in results
    assert "executor call failed after 5 attempts" in results["stepResults"][2]["errorMessage"]
    execution = (await api.get(f"/v1/executions/{results['executionId']}")).body
    assert "aml-executor" in execution["errorMessage"] and "executor call failed" in execution["errorMessage"]
    aml = step(timeline, "aml-executor")
    assert aml["attempts"] == 5  # the sandbox failed each of the call's attempts
    assert aml["input"] == {"customerId": "CUST-001", "transactionAmount": 1500.5, "sandbox": {"fail": "500"}}


async def test_9_2_a_replayed_idempotency_key_is_the_same_execution_and_a_missing_one_is_400(
    api: ApiClient, sandbox_ids: dict[str, str]
) -> None:
    workflow_id = await activate(
        api, compliance_with_modes(sandbox_ids["sandbox-kyc"], sandbox_ids["sandbox-aml"])
    )
    key = f"replay-{uuid.uuid4()}"
    first = await start(api, workflow_id, APPROVE_INPUT, key)
    assert first.status == 201, first.text
    await ended(api, first.body["executionId"])
    again = await start(api, workflow_id, APPROVE_INPUT, key)
    assert (again.status, again.body["executionId"], again.body["status"]) == (
        200,
        first.body["executionId"],
        "completed",
    )
    listed = await api.get("/v1/executions", params={"workflowId": workflow_id})
    assert [e["executionId"] for e in listed.body["items"]] == [first.body["executionId"]]
    missing = await api.post(f"/v1/workflows/{workflow_id}/executions", {"inputData": APPROVE_INPUT})
    missing.error(400, codes.INVALID_IDEMPOTENCY_KEY)


# --- 9.3, 9.4, 9.5: one executor ----------------------------------------------------------------------


async def test_9_3_a_linear_kyc_validation(api: ApiClient, sandbox_ids: dict[str, str]) -> None:
    node = executor_node(
        "exec-1",
        "Simple Validation",
        sandbox_ids["sandbox-kyc"],
        "validate",
        [{"source": "workflow.cpf", "target": "document"}],
    )
    workflow_id = await activate(api, linear("simple linear KYC", node))
    results, timeline = await run(api, workflow_id, {"cpf": "00011122233"})
    assert results["status"] == "completed", results
    assert [(s["nodeId"], s["status"]) for s in results["stepResults"]] == [("exec-1", "completed")]
    assert step(timeline, "exec-1")["input"] == {"document": "00011122233"}
    # Not starting with 1: the sandbox's KYC reviews it; without an output mapping the step keeps the answer.
    assert results["stepResults"][0]["output"]["body"] == {
        "customerId": "CUST-999",
        "riskScore": 85,
        "status": "review",
    }
    execution = (await api.get(f"/v1/executions/{results['executionId']}")).body
    assert (execution["currentStepNumber"], execution["totalSteps"]) == (1, 1)


async def test_9_4_the_output_mapping_shapes_the_step_output(
    api: ApiClient, sandbox_ids: dict[str, str]
) -> None:
    node = executor_node(
        "kyc-node",
        "KYC",
        sandbox_ids["sandbox-kyc"],
        "validate",
        [{"source": "workflow.cpf", "target": "document"}],
        outputMapping=[
            {"source": "body.customerId", "target": "result.id"},
            {"source": "body.riskScore", "target": "result.score"},
        ],
    )
    workflow_id = await activate(api, linear("output mapping", node))
    results, timeline = await run(api, workflow_id, {"cpf": "12345678900"})
    assert results["status"] == "completed", results
    assert results["stepResults"][0]["output"] == {"result": {"id": "CUST-001", "score": 25}}
    assert step(timeline, "kyc-node")["input"] == {"document": "12345678900"}


async def test_9_5_three_transformations_reach_the_provider(
    api: ApiClient, provider: ApiClient, sandbox_ids: dict[str, str]
) -> None:
    node = executor_node(
        "exec-multi",
        "Multiple transformations",
        sandbox_ids["sandbox-kyc"],
        "validate",
        [
            {
                "source": "workflow.cpf",
                "target": "document",
                "transformation": {"type": "remove_characters", "config": {"characters": ".-"}},
            },
            {
                "source": "workflow.email",
                "target": "emailAddress",
                "transformation": {"type": "to_lowercase"},
            },
            {"source": "workflow.name", "target": "fullName", "transformation": {"type": "to_uppercase"}},
        ],
    )
    workflow_id = await activate(api, linear("multiple transformations", node))
    given = {"cpf": "123.456.789-00", "email": "Test@Example.COM", "name": "Maria Silva"}
    results, timeline = await run(api, workflow_id, given)
    assert results["status"] == "completed", results
    sent = step(timeline, "exec-multi")["input"]
    assert sent == {"document": "12345678900", "emailAddress": "test@example.com", "fullName": "MARIA SILVA"}
    direct = await provider.post("/sandbox/kyc/validate", sent)
    assert results["stepResults"][0]["output"]["body"] == direct.body


# --- 9.6: webhook-triggered KYC ---------------------------------------------------------------------


async def test_9_6_a_webhook_starts_the_kyc_against_the_sandbox(
    api: ApiClient, sandbox_ids: dict[str, str]
) -> None:
    kyc = sandbox_ids["sandbox-kyc"]
    workflow_id = await activate(api, webhook_kyc_workflow(kyc, name=f"Webhook KYC {uuid.uuid4().hex[:6]}"))
    reply = await api.post("/v1/webhooks/e2e/webhook-test", {"document": "12345"})
    assert reply.status == 201, reply.text
    execution_id = reply.headers["X-Webhook-Execution-ID"]
    assert reply.body["executionId"] == execution_id
    assert (await ended(api, execution_id))["status"] == "completed"
    results = (await api.get(f"/v1/executions/{execution_id}/results")).body
    assert results["finalOutput"]["kyc"]["result"] == {"customerId": "CUST-001"}
    webhook = results["finalOutput"]["workflow"]["_webhook"]
    assert (webhook["method"], webhook["path"]) == ("POST", "/e2e/webhook-test")
    timeline = (await api.get(f"/v1/executions/{execution_id}/timeline")).body
    assert step(timeline, "kyc")["input"] == {"document": "12345", "via": "POST"}

    (await api.post("/v1/webhooks/e2e/unknown", {"document": "12345"})).error(
        404, codes.WEBHOOK_ROUTE_NOT_FOUND
    )
    assert (await api.post(f"/v1/workflows/{workflow_id}/deactivate")).status == 200
    (await api.post("/v1/webhooks/e2e/webhook-test", {"document": "12345"})).error(
        404, codes.WEBHOOK_ROUTE_NOT_FOUND
    )

    secured = webhook_kyc_workflow(kyc, "/test/token-hook", token="my-secret-token", name="Token hook")
    await activate(api, secured)
    hook = "/v1/webhooks/test/token-hook"
    (await api.post(hook, {"document": "12345"})).error(401, codes.WEBHOOK_TOKEN_INVALID)
    wrong = await api.post(hook, {"document": "12345"}, headers={"X-Webhook-Token": "my-secret-tokem"})
    wrong.error(401, codes.WEBHOOK_TOKEN_INVALID)
    good = await api.post(hook, {"document": "12345"}, headers={"X-Webhook-Token": "my-secret-token"})
    assert good.status == 201, good.text
    assert (await ended(api, good.headers["X-Webhook-Execution-ID"]))["status"] == "completed"


# --- 9.7: the docs' payment notification flow --------------------------------------------------------


async def test_9_7_the_payment_notification_flow(api: ApiClient) -> None:
    definition = {
        "name": f"Payment Notification Flow {uuid.uuid4().hex[:6]}",
        "nodes": [
            {
                "id": "trigger-1",
                "type": "trigger",
                "name": "Webhook Trigger",
                "position": {"x": 0, "y": 0},
                "data": {"triggerId": "webhook"},
            },
            {
                "id": "log-event",
                "type": "action",
                "name": "Log Payment Event",
                "position": {"x": 0, "y": 150},
                "data": {"action": "log"},
            },
        ],
        "edges": [{"id": "e1", "source": "trigger-1", "target": "log-event"}],
        "metadata": {"team": "payments", "environment": "sandbox"},
    }
    workflow_id = await activate(api, definition)
    given = {
        "transactionId": "txn-98765",
        "amount": 1500,
        "currency": "BRL",
        "customerId": "cust-12345",
        "message": "Payment received",
    }
    results, _ = await run(api, workflow_id, given)
    assert results["status"] == "completed", results
    assert [(s["nodeId"], s["status"], s["output"]) for s in results["stepResults"]] == [
        ("log-event", "completed", {"action": "log"})
    ]
    # Without set_output the final output is the whole context: the input and each step's output.
    assert results["finalOutput"] == {"workflow": given, "log-event": {"action": "log"}}
    shown = (await api.get(f"/v1/workflows/{workflow_id}")).body
    assert shown["metadata"] == {"team": "payments", "environment": "sandbox"}


# --- the negative fixtures of section 9 ---------------------------------------------------------------


async def test_the_negative_fixtures(api: ApiClient, sandbox_ids: dict[str, str]) -> None:
    definition = compliance_workflow(sandbox_ids["sandbox-kyc"], sandbox_ids["sandbox-aml"], name="negatives")
    created = await api.post("/v1/workflows", definition)
    assert created.status == 201, created.text
    workflow_id = created.body["workflowId"]
    (await api.post("/v1/workflows", copy.deepcopy(definition))).error(409, codes.WORKFLOW_NAME_TAKEN)
    assert (await api.post(f"/v1/workflows/{workflow_id}/activate")).status == 200
    (await api.post(f"/v1/workflows/{workflow_id}/activate")).error(
        422, codes.WORKFLOW_TRANSITION_NOT_ALLOWED
    )
    (await api.delete(f"/v1/workflows/{workflow_id}")).error(422, codes.WORKFLOW_NOT_EDITABLE)
    unknown_executor = {
        "name": "unknown executor",
        "nodes": [
            {"id": "trigger", "type": "trigger", "data": {"triggerId": "webhook"}},
            {
                "id": "x",
                "type": "executor",
                "data": {"executorId": "unknown", "providerConfigId": sandbox_ids["sandbox-tracer"]},
            },
        ],
        "edges": [{"id": "e1", "source": "trigger", "target": "x"}],
    }
    (await api.post("/v1/workflows", unknown_executor)).error(404, codes.UNKNOWN_EXECUTOR_REFERENCE)
    (await api.get("/v1/workflows/not-a-uuid")).error(400, codes.INVALID_UUID)
    (await api.get("/v1/catalog/executors/unknown")).error(404, codes.CATALOG_EXECUTOR_NOT_FOUND)
    validate = "/v1/catalog/executors/tracer.validate-transaction/validate"
    bad_json = await api.call(
        "POST", validate, data=b"{not json", headers={"Content-Type": "application/json"}
    )
    bad_json.error(400, codes.BAD_BODY)
    unknown_field = await api.post(validate, {"config": {"unknown_field": True}})
    unknown_field.error(400, codes.INVALID_EXECUTOR_INPUT)
    assert "unknown_field" in unknown_field.body["message"]
    (await api.get("/v1/catalog/triggers/unknown")).error(404, codes.CATALOG_TRIGGER_NOT_FOUND)
    # The workflow the refusals left alone still runs against the sandbox.
    results, _ = await run(api, workflow_id, APPROVE_INPUT)
    assert (results["status"], results["finalOutput"]) == ("completed", {"decision": "approved"})


async def test_the_generic_http_provider_calls_the_sandbox_kyc(
    api: ApiClient, sandbox_ids: dict[str, str]
) -> None:
    node = {
        "id": "kyc-http",
        "type": "executor",
        "name": "KYC over the generic HTTP provider",
        "position": {"x": 0, "y": 100},
        "data": {
            "executorId": "http",
            "providerConfigId": sandbox_ids["sandbox-http"],
            "method": "POST",
            "path": "/validate",
            "inputMapping": [{"source": "workflow.cpf", "target": "document"}],
        },
    }
    workflow_id = await activate(api, linear("generic http KYC", node))
    results, timeline = await run(api, workflow_id, {"cpf": "12345678900"})
    assert results["status"] == "completed", results
    assert results["stepResults"][0]["output"]["body"]["customerId"] == "CUST-001"
    assert step(timeline, "kyc-http")["input"] == {"document": "12345678900"}
