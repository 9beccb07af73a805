"""``POST /v1/workflows/from-template`` and the template detail enriched with active provider
configurations, over real HTTP (reference 1.6 and 9.1)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from flowker import codes
from tests.helpers.client import ApiClient

TEMPLATE = "tracer-midaz-validation"


async def provider_config(api: ApiClient, name: str, provider: str) -> str:
    config: dict[str, Any] = (
        {"base_url": "https://tracer.example.com", "api_key": "tracer-key-1234"}
        if provider == "tracer"
        else {
            "onboarding_base_url": "https://onboarding.example.com",
            "transaction_base_url": "https://transaction.example.com",
            "organization_id": str(uuid.uuid4()),
            "ledger_id": str(uuid.uuid4()),
        }
    )
    created = await api.post(
        "/v1/provider-configurations", {"name": name, "providerId": provider, "config": config}
    )
    assert created.status == 201, created.text
    return str(created.body["id"])


async def test_the_template_builds_the_reference_workflow(api: ApiClient) -> None:
    tracer = await provider_config(api, "tracer", "tracer")
    midaz = await provider_config(api, "midaz", "midaz")
    params = {
        "workflowName": "validate and transact",
        "workflowDescription": "from the template",
        "tracerProviderConfigId": tracer,
        "midazProviderConfigId": midaz,
    }
    created = await api.post("/v1/workflows/from-template", {"templateId": TEMPLATE, "params": params})
    assert created.status == 201, created.text
    assert set(created.body) == {"workflowId", "version", "status", "createdAt"}
    assert (created.body["version"], created.body["status"]) == ("1.0.0", "draft")
    workflow = (await api.get(f"/v1/workflows/{created.body['workflowId']}")).body
    assert (workflow["name"], workflow["description"]) == ("validate and transact", "from the template")
    assert workflow["metadata"] == {"templateId": TEMPLATE, "templateVersion": "v1"}
    nodes = {n["id"]: n for n in workflow["nodes"]}
    assert [(n["id"], n["type"], n["name"]) for n in workflow["nodes"]] == [
        ("webhook-trigger", "trigger", "Webhook Trigger"),
        ("tracer-validate", "executor", "Tracer Validate Transaction"),
        ("decision-check", "conditional", "Decision Check"),
        ("midaz-create-tx", "executor", "Midaz Create Transaction"),
    ]
    assert nodes["webhook-trigger"]["data"] == {
        "triggerType": "webhook",
        "path": "/validate-and-transact",
        "method": "POST",
    }
    validate = nodes["tracer-validate"]["data"]
    assert (validate["executorId"], validate["providerConfigId"], validate["method"], validate["path"]) == (
        "tracer.validate-transaction",
        tracer,
        "POST",
        "/v1/validations",
    )
    assert [m["source"] for m in validate["inputMapping"]] == [
        "workflow.requestId",
        "workflow.transactionType",
        "workflow.amount",
        "workflow.currency",
        "workflow.transactionTimestamp",
        "workflow.account",
    ]
    assert nodes["decision-check"]["data"]["condition"] == 'tracer-validate.body.decision == "ALLOW"'
    transact = nodes["midaz-create-tx"]["data"]
    assert (transact["executorId"], transact["providerConfigId"]) == ("midaz.create-transaction", midaz)
    assert [(m["source"], m["target"]) for m in transact["inputMapping"]] == [
        ("workflow.transaction", "send"),
        ("workflow.transactionDescription", "description"),
    ]
    assert [(e["source"], e["target"], e.get("sourceHandle"), e.get("label")) for e in workflow["edges"]] == [
        ("webhook-trigger", "tracer-validate", None, None),
        ("tracer-validate", "decision-check", None, None),
        ("decision-check", "midaz-create-tx", "true", "Approved"),
    ]
    # A custom webhook path, and the same name again is a conflict.
    custom = await api.post(
        "/v1/workflows/from-template",
        {"templateId": TEMPLATE, "params": {**params, "workflowName": "custom", "webhookPath": "/tx"}},
    )
    custom_workflow = (await api.get(f"/v1/workflows/{custom.body['workflowId']}")).body
    assert custom_workflow["nodes"][0]["data"]["path"] == "/tx"
    again = await api.post("/v1/workflows/from-template", {"templateId": TEMPLATE, "params": params})
    again.error(409, codes.WORKFLOW_NAME_TAKEN)


async def test_from_template_errors(api: ApiClient) -> None:
    tracer = await provider_config(api, "tracer", "tracer")
    midaz = await provider_config(api, "midaz", "midaz")
    params = {"workflowName": "w", "tracerProviderConfigId": tracer, "midazProviderConfigId": midaz}
    path = "/v1/workflows/from-template"
    (await api.post(path, {"templateId": "nope", "params": params})).error(404, codes.TEMPLATE_NOT_FOUND)
    bad = (
        await api.post(path, {"templateId": TEMPLATE, "params": {**params, "midazProviderConfigId": "m"}})
    ).error(400, codes.INVALID_TEMPLATE_PARAMS)
    assert "$.midazProviderConfigId: must be a valid uuid" in bad.body["message"]
    (await api.post(path, {"templateId": TEMPLATE, "params": {}})).error(400, codes.INVALID_TEMPLATE_PARAMS)
    unknown = {**params, "tracerProviderConfigId": str(uuid.uuid4())}
    (await api.post(path, {"templateId": TEMPLATE, "params": unknown})).error(
        400, codes.INVALID_PROVIDER_CONFIG_REF
    )
    swapped = {**params, "tracerProviderConfigId": midaz, "midazProviderConfigId": tracer}
    mismatch = (await api.post(path, {"templateId": TEMPLATE, "params": swapped})).error(
        400, codes.PROVIDER_EXECUTOR_MISMATCH
    )
    assert "tracer-validate" in mismatch.body["message"]
    (await api.post(path, {"params": params})).error(400, codes.WRONG_FIELD_TYPE)
    (await api.call("POST", path, data=b"{", headers={"Content-Type": "application/json"})).error(
        400, codes.BAD_BODY
    )


async def test_catalog_form_nodes_are_checked_at_activation(api: ApiClient) -> None:
    tracer = await provider_config(api, "tracer", "tracer")
    midaz = await provider_config(api, "midaz", "midaz")
    params = {"workflowName": "w", "tracerProviderConfigId": tracer, "midazProviderConfigId": midaz}
    created = await api.post("/v1/workflows/from-template", {"templateId": TEMPLATE, "params": params})
    workflow = created.body["workflowId"]
    assert (await api.post(f"/v1/provider-configurations/{midaz}/disable")).status == 200
    refused = (await api.post(f"/v1/workflows/{workflow}/activate")).error(
        400, codes.INVALID_PROVIDER_CONFIG_REF
    )
    assert "disabled" in refused.body["message"]
    assert (await api.post(f"/v1/provider-configurations/{midaz}/enable")).status == 200
    assert (await api.post(f"/v1/workflows/{workflow}/activate")).status == 200


async def test_template_detail_lists_the_active_configurations_of_each_provider(api: ApiClient) -> None:
    async def one_of() -> tuple[Any, Any]:
        detail = await api.get(f"/v1/catalog/templates/{TEMPLATE}")
        assert detail.status == 200, detail.text
        schema = json.loads(detail.body["paramSchema"])
        properties = schema["properties"]
        return properties["tracerProviderConfigId"]["oneOf"], properties["midazProviderConfigId"]["oneOf"]

    assert await one_of() == ([], [])
    first = await provider_config(api, "tracer-b", "tracer")
    second = await provider_config(api, "tracer-a", "tracer")
    disabled = await provider_config(api, "tracer-c", "tracer")
    await api.post(f"/v1/provider-configurations/{disabled}/disable")
    tracer, midaz = await one_of()
    assert tracer == [{"const": second, "title": "tracer-a"}, {"const": first, "title": "tracer-b"}]
    assert midaz == []


async def test_a_workflow_naming_an_unknown_catalog_executor_is_404(api: ApiClient) -> None:
    body = {
        "name": "unknown executor",
        "nodes": [
            {
                "id": "x",
                "type": "executor",
                "data": {"executorId": "unknown", "providerConfigId": str(uuid.uuid4())},
            }
        ],
    }
    (await api.post("/v1/workflows", body)).error(404, codes.UNKNOWN_EXECUTOR_REFERENCE)
