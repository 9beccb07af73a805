"""Response conformance with the original: every operation that both our API document and the original's
OpenAPI document (``flowker-v1.0.2-openapi.yaml``) have is driven with a valid request against the real
app, and our answer is validated against the original's response schema for its status.

What we deliberately answer otherwise is listed in ``EXCLUSIONS``, each with why, each also in
``docs/compatibility.md``; an exclusion relaxes the original's schema just where it must, and each one is
shown to be needed (without it, some answer would not validate).
"""

from __future__ import annotations

import copy
import io
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_schema_validator import OAS30Validator, oas30_format_checker

from flowker.http.openapi import openapi_document
from tests.helpers.client import ApiClient, Reply
from tests.helpers.fixtures import aml_executor, compliance_workflow, kyc_executor
from tests.helpers.polling import eventually
from tests.helpers.stub_provider import StubProvider
from tests.helpers.webhooks import webhook_kyc_workflow

ROOT = Path(__file__).resolve().parents[2]
#: Where the original's document is looked for: FLOWKER_ORIGINAL_OPENAPI, else ``shared/reference/`` in a
#: folder above the checkout (the project keeps it outside the repository: its licence is not ours).
_REFERENCE = Path("shared") / "reference" / "flowker-v1.0.2-openapi.yaml"
COMPATIBILITY = ROOT / "docs" / "compatibility.md"
METHODS = ("get", "put", "post", "delete", "patch")
ENDED = ("completed", "failed", "cancelled")


def _original_document() -> dict[str, Any]:
    named = os.environ.get("FLOWKER_ORIGINAL_OPENAPI")
    candidates = [Path(named)] if named else [folder / _REFERENCE for folder in ROOT.parents]
    found = next((path for path in candidates if path.is_file()), None)
    if found is None:
        pytest.skip(f"the original's OpenAPI document ({_REFERENCE}) is not above {ROOT}")
    return yaml.safe_load(found.read_text())  # type: ignore[no-any-return]


# ------------------------------------------------------------------------------------------ exclusions

Schemas = dict[str, Any]
_MODEL = "github_com_LerianStudio_flowker_pkg_model."


@dataclass(frozen=True)
class Exclusion:
    """A deliberate difference: ``relax`` changes the original's component schemas just where it lies."""

    name: str
    why: str
    relax: Callable[[Schemas], None]


def _free_form_maps(schemas: Schemas) -> None:
    for node in _walk(schemas):
        if node.get("additionalProperties") == {"type": "object"}:
            node["additionalProperties"] = {}


def _nullable(schema: str, field: str) -> Callable[[Schemas], None]:
    def relax(schemas: Schemas) -> None:
        schemas[schema]["properties"][field]["nullable"] = True

    return relax


def _number(schema: str, field: str) -> Callable[[Schemas], None]:
    def relax(schemas: Schemas) -> None:
        schemas[schema]["properties"][field]["type"] = "number"

    return relax


EXCLUSIONS = (
    Exclusion(
        "free-form-maps",
        "The original's document types every free-form map (metadata, node data, step output, final "
        "output, authentication config) as an object of objects (`additionalProperties: {type: object}`, "
        "swag's rendering of Go's map[string]any); the original answers any JSON values there, and so do we.",
        _free_form_maps,
    ),
    Exclusion(
        "audit-genesis-previous-hash-null",
        "The first audit event has no previous hash: we answer `previousHash: null`; the original fails "
        "with a 500 on that event (reference 6.3).",
        _nullable(_MODEL + "AuditEntryOutput", "previousHash"),
    ),
    Exclusion(
        "readiness-latency-fractional",
        "`/readyz` reports `latency_ms` with microsecond precision (a number such as 0.412); the "
        "original's document says integer.",
        _number("internal_adapters_http_in_readyz.DependencyCheck", "latency_ms"),
    ),
)
#: The fields the original always answers (reference sections 1.6 and 6.3; its document marks none
#: required): required here, so that an answer missing one does not validate.
ALWAYS_PRESENT = {
    "WorkflowOutput": ("id", "name", "status", "nodes", "edges", "createdAt", "updatedAt"),
    "WorkflowCreateOutput": ("workflowId", "version", "status", "createdAt"),
    "WorkflowNodeOutput": ("id", "type", "position"),
    "WorkflowEdgeOutput": ("id", "source", "target"),
    "WorkflowListOutput": ("items", "nextCursor", "hasMore"),
    "ExecutorConfigurationOutput": (
        "id", "name", "baseUrl", "endpoints", "authentication", "status", "createdAt", "updatedAt"
    ),
    "ExecutorConfigurationListOutput": ("items", "nextCursor", "hasMore"),
    "ExecutionCreateOutput": ("executionId", "workflowId", "status", "startedAt"),
    "ExecutionStatusOutput": (
        "executionId", "workflowId", "status", "currentStepNumber", "totalSteps", "startedAt"
    ),
    "ExecutionListOutput": ("items", "nextCursor", "hasMore"),
    "ExecutionResultsOutput": ("executionId", "workflowId", "status", "stepResults", "startedAt"),
    "StepResultOutput": ("stepNumber", "stepName", "nodeId", "status", "executedAt", "durationMs"),
    "ExecutionSummaryOutput": ("total", "completed", "failed", "pending", "running"),
    "WorkflowSummaryOutput": ("total", "active", "byStatus"),
    "StatusCountOutput": ("status", "count"),
    "AuditEntryOutput": (
        "eventId", "eventType", "action", "result", "resourceId", "resourceType", "actor", "timestamp", "hash"
    ),
    "AuditActorOutput": ("type", "id"),
    "AuditEntryListOutput": ("items", "nextCursor", "hasMore"),
    "HashChainVerificationOutput": ("isValid", "totalChecked", "message"),
    "ProviderConfigurationOutput": (
        "id", "name", "providerId", "config", "status", "createdAt", "updatedAt"
    ),
    "ProviderConfigurationCreateOutput": ("id", "name", "status", "createdAt"),
    "ProviderConfigurationListOutput": ("items", "nextCursor", "hasMore"),
    "ProviderConfigTestResultOutput": (
        "providerConfigId", "providerId", "overallStatus", "durationMs", "stages", "summary", "startedAt"
    ),
    "StageTestResultOutput": ("name", "status", "durationMs"),
}  # fmt: skip
_CATALOG = "internal_adapters_http_in_catalog."
#: The same for the catalog's answers (reference 1.6).
ALWAYS_PRESENT_CATALOG = {
    "ExecutorSummary": ("id", "name", "category", "version", "providerId"),
    "ExecutorDetail": ("id", "name", "category", "version", "providerId", "schema"),
    "TriggerSummary": ("id", "name", "version"),
    "TriggerDetail": ("id", "name", "version", "schema"),
    "ProviderSummary": ("id", "name", "description", "version"),
    "ProviderDetail": ("id", "name", "description", "version", "configSchema"),
    "TemplateSummary": ("id", "name", "description", "version", "category"),
    "TemplateDetail": ("id", "name", "description", "version", "category", "paramSchema"),
}
#: Operations both documents have that this test does not drive, with why (none today).
NOT_DRIVEN: dict[tuple[str, str], str] = {}


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _validator(original: dict[str, Any], schema: dict[str, Any], exclusions: tuple[Exclusion, ...]) -> Any:
    components = copy.deepcopy(original["components"])
    for name, fields in ALWAYS_PRESENT.items():
        components["schemas"][_MODEL + name]["required"] = list(fields)
    for name, fields in ALWAYS_PRESENT_CATALOG.items():
        components["schemas"][_CATALOG + name]["required"] = list(fields)
    components["schemas"]["internal_adapters_http_in_readyz.Response"]["required"] = ["status", "checks"]
    for exclusion in exclusions:
        exclusion.relax(components["schemas"])
    return OAS30Validator({**schema, "components": components}, format_checker=oas30_format_checker)


def _shared_operations(original: dict[str, Any]) -> set[tuple[str, str]]:
    ours = openapi_document()["paths"]
    return {
        (method, path)
        for path, item in original["paths"].items()
        for method in item
        if method in METHODS and method in ours.get(path, {})
    }


# ---------------------------------------------------------------------------------------------- driving


@dataclass(frozen=True)
class Sample:
    method: str
    path: str
    reply: Reply


class Driver:
    """Sends requests and keeps each reply under the operation (method, path template) it exercised."""

    def __init__(self, api: ApiClient) -> None:
        self.api = api
        self.samples: list[Sample] = []

    async def __call__(
        self, method: str, template: str, path: str, expect: int, body: Any = None, **kwargs: Any
    ) -> Reply:
        reply = await self.api.call(method.upper(), path, body, **kwargs)
        assert reply.status == expect, (method, path, reply.status, reply.text)
        self.samples.append(Sample(method, template, reply))
        return reply


@pytest.fixture
async def providers() -> AsyncIterator[StubProvider]:
    """The reference's KYC and AML providers (section 9.2), approving a low-risk customer."""
    async with StubProvider() as stub:
        stub.route("POST", "/v1/kyc/validate", (200, {"customerId": "CUST-001", "riskScore": 25}))
        stub.route("POST", "/v1/aml/check", (200, {"amlStatus": "cleared", "referenceId": "AML-REF-9876"}))
        yield stub


async def drive_every_operation(api: ApiClient, anon: ApiClient, stub: StubProvider) -> Driver:
    """A valid request per shared operation (one per success status it has), and one per error status
    it documents that a client can cause, in an order that builds what the next needs."""
    send = Driver(api)
    send_anon = Driver(anon)
    await send_anon("get", "/readyz", "/readyz", 200)

    ids = {}
    for body in (kyc_executor(stub.url + "/v1/kyc"), aml_executor(stub.url + "/v1/aml")):
        created = await api.post("/v1/executors", body)
        assert created.status == 201, created.text
        ids[body["name"]] = created.body["id"]
    kyc, aml = ids["kyc-provider"], ids["aml-provider"]
    spare = (await api.post("/v1/executors", kyc_executor(name="spare"))).body["id"]

    await send("get", "/v1/executors", "/v1/executors", 200)
    shown = await send("get", "/v1/executors/{id}", f"/v1/executors/{kyc}", 200)
    patch = {"description": "patched", "authentication": shown.body["authentication"]}
    await send("patch", "/v1/executors/{id}", f"/v1/executors/{kyc}", 200, patch)
    await send("delete", "/v1/executors/{id}", f"/v1/executors/{spare}", 204)
    unknown = str(uuid.uuid4())
    await send("get", "/v1/executors", "/v1/executors", 400, params={"limit": "0"})
    await send("get", "/v1/executors/{id}", f"/v1/executors/{unknown}", 404)
    await send("get", "/v1/executors/{id}", "/v1/executors/not-a-uuid", 400)
    await send("patch", "/v1/executors/{id}", f"/v1/executors/{unknown}", 404, patch)
    await send("delete", "/v1/executors/{id}", f"/v1/executors/{spare}", 404)

    definition = compliance_workflow(kyc, aml)
    workflow_id = (await send("post", "/v1/workflows", "/v1/workflows", 201, definition)).body["workflowId"]
    workflow = f"/v1/workflows/{workflow_id}"
    await send("get", "/v1/workflows", "/v1/workflows", 200)
    await send("get", "/v1/workflows/{id}", workflow, 200)
    await send("put", "/v1/workflows/{id}", workflow, 200, definition)
    copy_id = (
        await send("post", "/v1/workflows/{id}/clone", f"{workflow}/clone", 201, {"name": "conformance copy"})
    ).body["workflowId"]
    await send("post", "/v1/workflows", "/v1/workflows", 409, definition)
    await send("post", "/v1/workflows", "/v1/workflows", 400, {"nodes": []})
    await send("get", "/v1/workflows", "/v1/workflows", 400, params={"cursor": "x"})
    await send("get", "/v1/workflows/{id}", f"/v1/workflows/{unknown}", 404)
    await send("put", "/v1/workflows/{id}", f"/v1/workflows/{unknown}", 404, definition)
    await send("post", "/v1/workflows/{id}/clone", f"{workflow}/clone", 409, {"name": "conformance copy"})
    await send("post", "/v1/workflows/{id}/clone", f"/v1/workflows/{unknown}/clone", 404, {"name": "x"})
    await send("post", "/v1/workflows/{id}/deactivate", f"{workflow}/deactivate", 422)
    await send("post", "/v1/workflows/{id}/draft", f"{workflow}/draft", 422)
    await send("post", "/v1/workflows/{id}/activate", f"/v1/workflows/{unknown}/activate", 404)
    start = "/v1/workflows/{workflowId}/executions"
    await send("post", start, f"{workflow}/executions", 422, {}, headers={"Idempotency-Key": "draft"})
    await send("post", "/v1/workflows/{id}/activate", f"{workflow}/activate", 200)
    await send("post", "/v1/workflows/{id}/activate", f"{workflow}/activate", 422)
    await send("put", "/v1/workflows/{id}", workflow, 422, definition)
    await send("delete", "/v1/workflows/{id}", workflow, 422)
    await send("delete", "/v1/executors/{id}", f"/v1/executors/{kyc}", 422)  # an active workflow calls it

    key = {"Idempotency-Key": str(uuid.uuid4())}
    data = {
        "inputData": {
            "customer": {"cpf": "123.456.789-00", "name": "John Doe"},
            "transaction": {"amount": 1500.5},
        }
    }
    started = await send("post", start, f"{workflow}/executions", 201, data, headers=key)
    execution = f"/v1/executions/{started.body['executionId']}"
    ended = await eventually(lambda: api.get(execution), lambda r: r.body["status"] in ENDED)
    assert ended.body["status"] == "completed", ended.text
    await send("post", start, f"{workflow}/executions", 200, data, headers=key)  # a replay, once ended
    await send("post", start, f"{workflow}/executions", 409, {"inputData": {}}, headers=key)  # another input
    await send("post", start, f"{workflow}/executions", 400, data)  # no Idempotency-Key
    fresh = {"Idempotency-Key": str(uuid.uuid4())}
    await send("post", start, f"/v1/workflows/{unknown}/executions", 404, data, headers=fresh)
    await send("get", "/v1/executions", "/v1/executions", 400, params={"workflowId": "nope"})
    await send("get", "/v1/executions/{id}", f"/v1/executions/{unknown}", 404)
    await send("get", "/v1/executions/{id}/results", f"/v1/executions/{unknown}/results", 404)
    await send("get", "/v1/executions", "/v1/executions", 200)
    await send("get", "/v1/executions/{id}", execution, 200)
    results = await send("get", "/v1/executions/{id}/results", f"{execution}/results", 200)
    assert len(results.body["stepResults"]) == 4 and results.body["finalOutput"] == {"decision": "approved"}

    hook_template = "/v1/webhooks/{path}"
    hook_definition = webhook_kyc_workflow(kyc, "/conformance/hook", token="conformance-token")
    hook_id = (await api.post("/v1/workflows", hook_definition)).body["workflowId"]
    assert (await api.post(f"/v1/workflows/{hook_id}/activate")).status == 200
    hook, token = "/v1/webhooks/conformance/hook", {"X-Webhook-Token": "conformance-token"}
    delivered = await send("post", hook_template, hook, 201, {"document": "12345"}, headers=token)
    await eventually(
        lambda: api.get(f"/v1/executions/{delivered.body['executionId']}"),
        lambda r: r.body["status"] in ENDED,
    )
    await send("post", hook_template, hook, 200, {"document": "12345"}, headers=token)  # the same delivery
    await send("post", hook_template, hook, 401, {"document": "12345"})
    await send("post", hook_template, "/v1/webhooks/conformance/none", 404, {"document": "12345"})
    await send(
        "post", hook_template, hook, 400, headers={**token, "Content-Type": "application/json"}, data=b"["
    )
    await send("post", hook_template, hook, 409, {"document": "other"}, headers={**token, **key})
    big = io.BytesIO(b'{"document": "' + b"x" * (1 << 20) + b'"}')
    await send(
        "post", hook_template, hook, 413, headers={**token, "Content-Type": "application/json"}, data=big
    )
    assert (await api.post(f"/v1/workflows/{hook_id}/deactivate")).status == 200

    await send("post", "/v1/workflows/{id}/deactivate", f"{workflow}/deactivate", 200)
    await send("post", "/v1/workflows/{id}/draft", f"{workflow}/draft", 200)
    await send("delete", "/v1/workflows/{id}", f"/v1/workflows/{copy_id}", 204)

    await send("get", "/v1/dashboards/workflows/summary", "/v1/dashboards/workflows/summary", 200)
    await send("get", "/v1/dashboards/executions", "/v1/dashboards/executions", 200)
    await send("get", "/v1/dashboards/executions", "/v1/dashboards/executions", 400, params={"status": "x"})
    await send("get", "/v1/audit-events", "/v1/audit-events", 400, params={"resourceId": "nope"})
    await send("get", "/v1/audit-events/{id}", f"/v1/audit-events/{unknown}", 404)
    await send("get", "/v1/audit-events/{id}/verify", f"/v1/audit-events/{unknown}/verify", 404)

    await drive_the_catalog(send)
    await drive_provider_configurations(send, stub)
    await drive_from_template(send)

    # Oldest first, so that the page holds the first event of the chain.
    events = await send("get", "/v1/audit-events", "/v1/audit-events", 200, params={"sortOrder": "ASC"})
    for item in (events.body["items"][0], events.body["items"][-1]):
        await send("get", "/v1/audit-events/{id}", f"/v1/audit-events/{item['eventId']}", 200)
        await send("get", "/v1/audit-events/{id}/verify", f"/v1/audit-events/{item['eventId']}/verify", 200)
    send.samples.extend(send_anon.samples)
    return send


async def drive_the_catalog(send: Driver) -> None:
    """Every catalog operation: its success and each error a client can cause."""
    for kind, entry in (
        ("executors", "tracer.validate-transaction"),
        ("triggers", "webhook"),
        ("providers", "midaz"),
        ("templates", "tracer-midaz-validation"),
    ):
        await send("get", f"/v1/catalog/{kind}", f"/v1/catalog/{kind}", 200)
        await send("get", f"/v1/catalog/{kind}/{{id}}", f"/v1/catalog/{kind}/{entry}", 200)
        await send("get", f"/v1/catalog/{kind}/{{id}}", f"/v1/catalog/{kind}/unknown", 404)
    providers = "/v1/catalog/providers/{id}/executors"
    await send("get", providers, "/v1/catalog/providers/tracer/executors", 200)
    await send("get", providers, "/v1/catalog/providers/unknown/executors", 404)
    validate = "/v1/catalog/executors/{id}/validate"
    config = {
        "requestId": str(uuid.uuid4()),
        "transactionType": "PIX",
        "amount": "10.00",
        "currency": "BRL",
        "transactionTimestamp": "2026-05-01T12:00:00Z",
        "account": {"accountId": "a-1", "type": "checking", "status": "active"},
    }
    await send(
        "post",
        validate,
        "/v1/catalog/executors/tracer.validate-transaction/validate",
        200,
        {"config": config},
    )
    await send(
        "post", validate, "/v1/catalog/executors/tracer.validate-transaction/validate", 400, {"config": {}}
    )
    await send("post", validate, "/v1/catalog/executors/unknown/validate", 404, {"config": {}})
    template = "/v1/catalog/templates/{id}/validate"
    params = {
        "workflowName": "conformance template",
        "tracerProviderConfigId": str(uuid.uuid4()),
        "midazProviderConfigId": str(uuid.uuid4()),
    }
    await send(
        "post", template, "/v1/catalog/templates/tracer-midaz-validation/validate", 200, {"params": params}
    )
    await send(
        "post", template, "/v1/catalog/templates/tracer-midaz-validation/validate", 400, {"params": {}}
    )
    await send("post", template, "/v1/catalog/templates/unknown/validate", 404, {"params": {}})


async def drive_provider_configurations(send: Driver, stub: StubProvider) -> None:
    """Every provider-configuration operation: its success and each error a client can cause."""
    stub.route("GET", "/tracer", (200, {"status": "up"}))
    body = {
        "name": "conformance tracer",
        "providerId": "tracer",
        "config": {"base_url": stub.url + "/tracer", "api_key": "conformance-key"},
        "metadata": {"team": "risk"},
    }
    base = "/v1/provider-configurations"
    item = base + "/{id}"
    created = await send("post", base, base, 201, body)
    config = f"{base}/{created.body['id']}"
    other = (await send("post", base, base, 201, {**body, "name": "conformance other"})).body["id"]
    await send("post", base, base, 400, {**body, "name": ""})
    await send("post", base, base, 404, {**body, "name": "x", "providerId": "s3"})
    await send("post", base, base, 409, body)
    await send("post", base, base, 422, {**body, "name": "y", "config": {"base_url": "nope", "api_key": "k"}})
    await send("get", base, base, 200, params={"providerId": "tracer"})
    await send("get", base, base, 400, params={"limit": "0"})
    await send("get", item, config, 200)
    await send("get", item, f"{base}/not-a-uuid", 400)
    unknown = f"{base}/{uuid.uuid4()}"
    await send("get", item, unknown, 404)
    await send("patch", item, config, 200, {"description": "patched"})
    await send("patch", item, config, 400, {"name": ""})
    await send("patch", item, unknown, 404, {"description": "x"})
    await send("patch", item, config, 409, {"name": "conformance other"})
    await send("patch", item, config, 422, {"config": {"base_url": "https://tracer.example.com"}})
    for action, wrong in (("disable", 422), ("enable", 422)):
        path = item + f"/{action}"
        await send("post", path, f"{config}/{action}", 200)
        await send("post", path, f"{config}/{action}", wrong)
        await send("post", path, f"{unknown}/{action}", 404)
        await send("post", path, f"{base}/not-a-uuid/{action}", 400)
    await send("post", item + "/test", f"{config}/test", 200)
    await send("post", item + "/test", f"{unknown}/test", 404)
    await send("post", item + "/test", f"{base}/not-a-uuid/test", 400)
    await send("delete", item, f"{base}/{other}", 204)
    await send("delete", item, f"{base}/{other}", 404)
    await send("delete", item, f"{base}/not-a-uuid", 400)


async def drive_from_template(send: Driver) -> None:
    """``POST /v1/workflows/from-template``: created, and each error a client can cause."""
    ids = {}
    for provider, config in (
        ("tracer", {"base_url": "https://tracer.example.com", "api_key": "k-123456"}),
        (
            "midaz",
            {
                "onboarding_base_url": "https://onboarding.example.com",
                "transaction_base_url": "https://transaction.example.com",
                "organization_id": str(uuid.uuid4()),
                "ledger_id": str(uuid.uuid4()),
            },
        ),
    ):
        body = {"name": f"template {provider}", "providerId": provider, "config": config}
        created = await send.api.post("/v1/provider-configurations", body)
        assert created.status == 201, created.text
        ids[provider] = created.body["id"]
    params = {
        "workflowName": "conformance from template",
        "tracerProviderConfigId": ids["tracer"],
        "midazProviderConfigId": ids["midaz"],
    }
    path = "/v1/workflows/from-template"
    body = {"templateId": "tracer-midaz-validation", "params": params}
    await send("post", path, path, 201, body)
    await send("post", path, path, 409, body)
    await send("post", path, path, 400, {**body, "params": {}})
    await send("post", path, path, 404, {**body, "templateId": "unknown"})


def _failures(
    original: dict[str, Any], samples: list[Sample], exclusions: tuple[Exclusion, ...]
) -> list[str]:
    """Each sample whose status the original does not document, or whose body its schema refuses."""
    found = []
    for sample in samples:
        responses = original["paths"][sample.path][sample.method]["responses"]
        response = responses.get(str(sample.reply.status))
        where = f"{sample.method.upper()} {sample.path} {sample.reply.status}"
        if response is None:
            found.append(f"{where}: a status the original does not document")
            continue
        # The original's document also says "*/*" for JSON bodies, and "content: {}" for none.
        schemas = [media["schema"] for media in (response.get("content") or {}).values() if "schema" in media]
        if not schemas:
            if sample.reply.text != "":
                found.append(f"{where}: a body where the original has none")
            continue
        schema = schemas[0]
        errors = list(_validator(original, schema, exclusions).iter_errors(sample.reply.body))
        found.extend(f"{where}: {'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:3])
    return found


async def test_every_shared_operation_answers_as_the_original_documents(
    api: ApiClient, anon: ApiClient, providers: StubProvider
) -> None:
    original = _original_document()
    driver = await drive_every_operation(api, anon, providers)
    driven = {(sample.method, sample.path) for sample in driver.samples}
    shared = _shared_operations(original)
    assert driven - shared == set(), "driven, but not an operation of both documents"
    missing = shared - driven - set(NOT_DRIVEN)
    assert missing == set(), f"operations of both documents that no request drives (add them): {missing}"

    assert _failures(original, driver.samples, EXCLUSIONS) == []
    for exclusion in EXCLUSIONS:  # each one is needed: without it, some answer does not validate
        others = tuple(e for e in EXCLUSIONS if e is not exclusion)
        assert _failures(original, driver.samples, others), f"exclusion {exclusion.name} is not needed"


def test_every_exclusion_is_in_the_compatibility_document() -> None:
    text = COMPATIBILITY.read_text()
    for exclusion in EXCLUSIONS:
        assert f"`{exclusion.name}`" in text, exclusion.name
    for (method, path), why in NOT_DRIVEN.items():
        assert f"{method.upper()} {path}" in text, (method, path, why)
