"""``/v1/catalog`` over real HTTP: plain arrays sorted by id, schemas as JSON strings, the validate
endpoints and the reference's negative fixtures (section 9)."""

from __future__ import annotations

import json
import uuid

from flowker import codes
from tests.helpers.client import ApiClient


async def test_lists_are_plain_arrays_sorted_by_id(api: ApiClient) -> None:
    executors = await api.get("/v1/catalog/executors")
    assert executors.status == 200
    assert [e["id"] for e in executors.body] == sorted(e["id"] for e in executors.body)
    assert {"id": "midaz.create-transaction", "name": "Midaz Create Transaction", "category": "ledger",
            "version": "v1", "providerId": "midaz"} in executors.body  # fmt: skip
    providers = (await api.get("/v1/catalog/providers")).body
    assert [p["id"] for p in providers] == ["http", "midaz", "tracer"]
    assert set(providers[0]) == {"id", "name", "description", "version"}
    triggers = (await api.get("/v1/catalog/triggers")).body
    assert triggers == [{"id": "webhook", "name": "Webhook", "version": "v1"}]
    templates = (await api.get("/v1/catalog/templates")).body
    assert [(t["id"], t["category"]) for t in templates] == [("tracer-midaz-validation", "Compliance")]


async def test_details_carry_their_schema_as_a_json_string(api: ApiClient) -> None:
    executor = (await api.get("/v1/catalog/executors/tracer.validate-transaction")).body
    schema = json.loads(executor["schema"])
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "requestId" in schema["required"]
    provider = (await api.get("/v1/catalog/providers/tracer")).body
    assert json.loads(provider["configSchema"])["required"] == ["base_url", "api_key"]
    trigger = (await api.get("/v1/catalog/triggers/webhook")).body
    trigger_schema = json.loads(trigger["schema"])
    assert trigger_schema["required"] == ["path", "method"]
    assert trigger_schema["additionalProperties"] is False
    assert set(trigger_schema["properties"]) == {"path", "method", "verify_token"}
    executors = (await api.get("/v1/catalog/providers/midaz/executors")).body
    assert [e["id"] for e in executors] == [
        "midaz.create-account",
        "midaz.create-transaction",
        "midaz.get-account",
        "midaz.get-account-balance",
    ]
    template = (await api.get("/v1/catalog/templates/tracer-midaz-validation")).body
    params = json.loads(template["paramSchema"])
    assert params["required"] == ["workflowName", "tracerProviderConfigId", "midazProviderConfigId"]


async def test_unknown_entries_are_404_with_their_codes(api: ApiClient) -> None:
    (await api.get("/v1/catalog/executors/unknown")).error(404, codes.CATALOG_EXECUTOR_NOT_FOUND)
    (await api.post("/v1/catalog/executors/unknown/validate", {"config": {}})).error(
        404, codes.CATALOG_EXECUTOR_NOT_FOUND
    )
    (await api.get("/v1/catalog/triggers/schedule")).error(404, codes.CATALOG_TRIGGER_NOT_FOUND)
    (await api.get("/v1/catalog/providers/s3")).error(404, codes.CATALOG_PROVIDER_NOT_FOUND)
    (await api.get("/v1/catalog/providers/s3/executors")).error(404, codes.CATALOG_PROVIDER_NOT_FOUND)
    (await api.get("/v1/catalog/templates/nope")).error(404, codes.TEMPLATE_NOT_FOUND)
    (await api.post("/v1/catalog/templates/nope/validate", {"params": {}})).error(
        404, codes.TEMPLATE_NOT_FOUND
    )


async def test_executor_validate(api: ApiClient) -> None:
    path = "/v1/catalog/executors/tracer.validate-transaction/validate"
    valid = {
        "requestId": str(uuid.uuid4()),
        "transactionType": "PIX",
        "amount": "1000.00",
        "currency": "BRL",
        "transactionTimestamp": "2026-05-01T12:00:00Z",
        "account": {"accountId": "acc-1", "type": "checking", "status": "active"},
    }
    ok = await api.post(path, {"config": valid})
    assert (ok.status, ok.body) == (200, {"valid": True})
    # The reference's negative fixtures: an unknown field, and a body that is not JSON.
    refused = (await api.post(path, {"config": {"unknown_field": True}})).error(
        400, codes.INVALID_EXECUTOR_INPUT
    )
    assert "unknown_field" in refused.body["message"]
    bad = await api.call("POST", path, data=b"{not json", headers={"Content-Type": "application/json"})
    bad.error(400, codes.BAD_BODY)
    # Formats are asserted.
    late = (await api.post(path, {"config": {**valid, "transactionTimestamp": "soon"}})).error(
        400, codes.INVALID_EXECUTOR_INPUT
    )
    assert "$.transactionTimestamp: must be a valid date-time" in late.body["message"]
    (await api.post(path, {"config": []})).error(400, codes.WRONG_FIELD_TYPE)


async def test_template_validate(api: ApiClient) -> None:
    path = "/v1/catalog/templates/tracer-midaz-validation/validate"
    params = {
        "workflowName": "validate and transact",
        "tracerProviderConfigId": str(uuid.uuid4()),
        "midazProviderConfigId": str(uuid.uuid4()),
    }
    ok = await api.post(path, {"params": params})
    assert (ok.status, ok.body) == (200, {"valid": True})
    refused = (await api.post(path, {"params": {**params, "midazProviderConfigId": "m"}})).error(
        400, codes.INVALID_TEMPLATE_PARAMS
    )
    assert "$.midazProviderConfigId: must be a valid uuid" in refused.body["message"]
    (await api.post(path, {"params": {}})).error(400, codes.INVALID_TEMPLATE_PARAMS)


async def test_the_catalog_needs_the_api_key(anon: ApiClient) -> None:
    (await anon.get("/v1/catalog/executors")).error(401, codes.UNAUTHORIZED)
