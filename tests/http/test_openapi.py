"""The OpenAPI document: valid OpenAPI 3.1, exactly the app's routes, and true to what they answer."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from flowker import __version__
from flowker.domain import executor_config as ec
from flowker.domain.api_keys import key_id
from flowker.domain.executor_config import ExecutorConfigInput
from flowker.dsl import model as dsl
from flowker.dsl.model import WorkflowDefinition
from flowker.http import openapi
from flowker.http import schemas as contract
from flowker.http.app import create_app
from flowker.http.keys import Services
from flowker.http.openapi import openapi_document
from flowker.http.routes.executions import ExecuteInput
from flowker.http.routes.workflows import CloneInput
from flowker.settings import Settings
from tests.conftest import API_KEY
from tests.helpers.client import ApiClient, Reply
from tests.helpers.fixtures import aml_executor, compliance_workflow, kyc_executor
from tests.helpers.stub_provider import StubProvider

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
PUBLIC_PATHS = {
    "/health",
    "/readyz",
    "/health/live",
    "/health/ready",
    "/version",
    "/openapi.json",
    "/docs",
    "/docs/start.js",
    "/docs/assets/{name}",
    "/console",
    "/console/assets/{name}",
}
DOC = openapi_document()


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    """``(method, path, operation)`` of every documented operation."""
    return [
        (method, path, operation)
        for path, item in DOC["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    """Follow a local ``$ref`` such as ``#/components/responses/Unauthorized``."""
    while "$ref" in node:
        target: Any = DOC
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def schema_validator(schema: dict[str, Any]) -> Draft202012Validator:
    """A JSON Schema validator for ``schema`` whose ``#/components/...`` references resolve in DOC."""
    return Draft202012Validator({**schema, "components": DOC["components"]})


def check(reply: Reply, method: str, path: str) -> Reply:
    """Assert that the reply's status is documented for the operation and its body fits the schema."""
    responses = DOC["paths"][path][method]["responses"]
    assert str(reply.status) in responses, (method, path, reply.status, reply.text)
    response = resolve(responses[str(reply.status)])
    assert reply.headers.get("X-Request-Id")
    content = response.get("content")
    if content is None:
        assert reply.text == ""
        return reply
    schema_validator(content["application/json"]["schema"]).validate(reply.body)
    if reply.status >= 400:
        assert f"`{reply.body['code']}`" in response["description"], (reply.body, response["description"])
    return reply


def check_body(body: dict[str, Any], method: str, path: str) -> None:
    """Assert that a request body the API accepts fits the documented request schema."""
    schema = DOC["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    schema_validator(schema).validate(body)


def test_document_is_valid_openapi_3_1() -> None:
    assert DOC["openapi"] == "3.1.0"
    validate(DOC, cls=OpenAPIV31SpecValidator)
    assert DOC["info"]["title"] == "Flowker"
    assert DOC["info"]["version"] == __version__
    assert DOC["servers"] == [{"url": "http://127.0.0.1:4021"}]
    assert openapi_document() is DOC  # cached


async def test_every_route_is_documented_and_nothing_else(settings: Settings, services: Services) -> None:
    app = create_app(settings, services, settings.api_keys)
    routed = set()
    for route in app.router.routes():
        if route.method == "HEAD":
            continue
        assert route.resource is not None
        # A route of any method is documented under each method it declares.
        declared = getattr(route.handler, "openapi_operation", {})
        methods = declared.get("methods", []) if route.method == "*" else [route.method]
        assert methods, route
        routed.update((method.lower(), route.resource.canonical) for method in methods)
    documented = {(method, path) for method, path, _ in operations()}
    assert routed == documented


async def test_served_over_http_without_a_key(anon: ApiClient) -> None:
    reply = await anon.get("/openapi.json")
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("application/json")
    assert reply.body == DOC


def test_v1_operations_require_the_api_key_and_system_routes_do_not() -> None:
    scheme = DOC["components"]["securitySchemes"]["ApiKeyAuth"]
    assert scheme == {**scheme, "type": "apiKey", "in": "header", "name": "X-API-Key"}
    for method, path, operation in operations():
        if path.startswith("/v1/"):
            assert operation["security"] == [{"ApiKeyAuth": []}], (method, path)
            unauthorized = resolve(operation["responses"]["401"])
            assert "`UNAUTHORIZED`" in unauthorized["description"], (method, path)
        elif path == "/metrics":
            # Its own optional key (flowker/http/metrics_access.py), not the API's scheme.
            assert operation["security"] == [], (method, path)
            assert "`UNAUTHORIZED`" in resolve(operation["responses"]["401"])["description"]
        else:
            assert path in PUBLIC_PATHS
            assert operation["security"] == [], (method, path)
            assert "401" not in operation["responses"], (method, path)


def test_operations_are_complete() -> None:
    ids = [operation["operationId"] for _, _, operation in operations()]
    assert len(ids) == len(set(ids))
    tags = {tag["name"] for tag in DOC["tags"]}
    assert tags == {
        "System",
        "Workflows",
        "Executor configurations",
        "Executions",
        "Audit",
        "Dashboards",
        "Webhooks",
        "Catalog",
        "Provider configurations",
    }
    request_id = {"$ref": "#/components/parameters/XRequestId"}
    for method, path, operation in operations():
        assert operation["summary"] and set(operation["tags"]) <= tags, (method, path)
        assert request_id in operation["parameters"], (method, path)
        if "{id}" in path:
            parameters = [resolve(p) for p in operation["parameters"]]
            assert {"name": "id", "in": "path"}.items() <= parameters[0].items(), (method, path)
            # Catalog ids are names (`midaz.create-transaction`), every other id a UUID.
            id_schema = (
                {"type": "string"}
                if path.startswith("/v1/catalog/")
                else {"type": "string", "format": "uuid"}
            )
            assert parameters[0]["schema"] == id_schema, (method, path)
            assert "404" in operation["responses"], (method, path)
        for status, response in operation["responses"].items():
            response = resolve(response)
            assert response["headers"]["X-Request-Id"] == {"$ref": "#/components/headers/XRequestId"}
            if int(status) >= 400 and (path, status) not in (("/readyz", "503"), ("/health/ready", "503")):
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorResponse"}, (method, path, status)
                assert "`FLK-" in response["description"] or "`UNAUTHORIZED`" in response["description"]


def test_the_probe_aliases_are_documented_as_aliases() -> None:
    for alias, target in (("/health/live", "/health"), ("/health/ready", "/readyz")):
        documented, original = DOC["paths"][alias]["get"], DOC["paths"][target]["get"]
        assert documented["deprecated"] is True and documented["x-alias-of"] == target
        assert f"alias of `{target}`" in documented["summary"]
        assert documented["responses"] == original["responses"]
        assert documented["security"] == original["security"] == []
        assert "deprecated" not in original


def test_request_schemas_follow_the_pydantic_models() -> None:
    schemas = DOC["components"]["schemas"]
    for model in (WorkflowDefinition, ExecutorConfigInput, ExecuteInput):
        assert set(schemas[model.__name__]["properties"]) == set(model.model_fields)
    auth = schemas["ExecutorAuthentication"]
    assert set(auth["discriminator"]["mapping"]) == {
        "none",
        "api_key",
        "bearer",
        "basic",
        "oidc_client_credentials",
        "oidc_user",
    }


def test_request_contracts_have_the_fields_of_the_parsing_models() -> None:
    """The documented request models (strict) and the models that parse requests (loose) agree."""
    pairs = [
        (contract.WorkflowDefinition, dsl.WorkflowDefinition),
        (contract.Node, dsl.Node),
        (contract.Edge, dsl.Edge),
        (contract.Position, dsl.Position),
        (contract.CloneWorkflowInput, CloneInput),
        (contract.ExecutorConfigInput, ec.ExecutorConfigInput),
        (contract.EndpointInput, ec.EndpointInput),
    ]
    for documented, parsing in pairs:
        assert set(documented.model_fields) == set(parsing.model_fields), documented


def test_the_document_names_codes_only_through_its_one_table() -> None:
    """Error codes reach the document from the code catalogue ``flowker/codes.py`` alone."""
    http = Path(openapi.__file__).parent
    sources = [http / name for name in ("openapi.py", "spec.py", "schemas.py", "description.py")]
    for source in [*sources, *sorted((http / "routes").glob("*.py"))]:
        assert not re.search(r"""FLK-\d{4}|["'](UNAUTHORIZED|INVALID_CURSOR)["']""", source.read_text()), (
            source
        )


async def test_answers_fit_the_document(api: ApiClient, anon: ApiClient) -> None:
    for path in ("/health", "/version", "/readyz", "/health/live", "/health/ready", "/openapi.json"):
        check(await anon.get(path), "get", path)
    check(await anon.get("/v1/workflows"), "get", "/v1/workflows").error(401, "UNAUTHORIZED")

    executors = "/v1/executors"
    executor = "/v1/executors/{id}"
    ids = {}
    for body in (kyc_executor(), aml_executor()):
        check_body(body, "post", executors)
        created = check(await api.post(executors, body), "post", executors)
        assert created.status == 201, created.text
        ids[body["name"]] = created.body["id"]
    kyc, aml = ids["kyc-provider"], ids["aml-provider"]
    check(await api.post(executors, kyc_executor()), "post", executors).error(409, "FLK-0251")
    check(await api.post(executors, {**kyc_executor(), "baseUrl": "ftp://x"}), "post", executors).error(
        400, "FLK-0263"
    )
    page = check(await api.get(executors, params={"limit": "1"}), "get", executors)
    assert page.body["hasMore"] and page.body["nextCursor"]
    check(await api.get(executors, params={"limit": "0"}), "get", executors).error(400, "FLK-0309")
    shown = check(await api.get(f"{executors}/{kyc}"), "get", executor)
    assert shown.body["authentication"]["config"]["key"] == "********"
    check(await api.get(f"{executors}/nope"), "get", executor).error(400, "FLK-0002")
    check(await api.get(f"{executors}/{uuid.uuid4()}"), "get", executor).error(404, "FLK-0250")
    patch = {"description": "patched", "authentication": shown.body["authentication"]}
    check_body(patch, "patch", executor)
    assert check(await api.patch(f"{executors}/{kyc}", patch), "patch", executor).status == 200
    disabled = check(await api.post(f"{executors}/{aml}/disable"), "post", executor + "/disable")
    assert disabled.body["status"] == "disabled"
    check(await api.post(f"{executors}/{aml}/disable"), "post", executor + "/disable").error(422, "FLK-0252")
    check(await api.post(f"{executors}/{aml}/enable"), "post", executor + "/enable")

    workflows = "/v1/workflows"
    workflow = "/v1/workflows/{id}"
    definition = compliance_workflow(kyc, aml)
    check_body(definition, "post", workflows)
    created = check(await api.post(workflows, definition), "post", workflows)
    workflow_id = created.body["workflowId"]
    check(await api.post(workflows, definition), "post", workflows).error(409, "FLK-0101")
    check(await api.post(workflows, {"nodes": []}), "post", workflows).error(400, "FLK-0110")
    check(await api.call("POST", workflows, data=b"{"), "post", workflows).error(400, "FLK-0001")
    check(await api.get(workflows, params={"cursor": "x"}), "get", workflows).error(400, "INVALID_CURSOR")
    check(await api.get(workflows, params={"status": "draft"}), "get", workflows)
    check(await api.get(f"{workflows}/{workflow_id}"), "get", workflow)
    check(await api.put(f"{workflows}/{workflow_id}", definition), "put", workflow)
    clone = {"name": "copy"}
    check_body(clone, "post", workflow + "/clone")
    copy = check(await api.post(f"{workflows}/{workflow_id}/clone", clone), "post", workflow + "/clone")
    check(await api.post(f"{workflows}/{workflow_id}/activate"), "post", workflow + "/activate")
    check(await api.post(f"{workflows}/{workflow_id}/activate"), "post", workflow + "/activate").error(
        422, "FLK-0102"
    )
    check(await api.put(f"{workflows}/{workflow_id}", definition), "put", workflow).error(422, "FLK-0103")
    check(await api.delete(f"{executors}/{kyc}"), "delete", executor).error(422, "FLK-0252")
    check(await api.delete(f"{workflows}/{workflow_id}"), "delete", workflow).error(422, "FLK-0103")
    check(await api.post(f"{workflows}/{workflow_id}/deactivate"), "post", workflow + "/deactivate")
    check(await api.post(f"{workflows}/{workflow_id}/draft"), "post", workflow + "/draft")
    for created_id in (workflow_id, copy.body["workflowId"]):
        assert check(await api.delete(f"{workflows}/{created_id}"), "delete", workflow).status == 204
    check(await api.get(f"{workflows}/{workflow_id}"), "get", workflow).error(404, "FLK-0100")
    assert check(await api.delete(f"{executors}/{kyc}"), "delete", executor).status == 204

    not_allowed = await api.put(executors, {})
    not_allowed.error(405, "FLK-0401")
    schema_validator({"$ref": "#/components/schemas/ErrorResponse"}).validate(not_allowed.body)


# --- executions, audit trail, executor tests ---------------------------------------------------------

WORKFLOWS = "/v1/workflows"
START = "/v1/workflows/{workflowId}/executions"
EXECUTIONS = "/v1/executions"
EXECUTION = "/v1/executions/{id}"
RESULTS = EXECUTION + "/results"
CANCEL = EXECUTION + "/cancel"
AUDIT = "/v1/audit-events"
AUDIT_EVENT = "/v1/audit-events/{id}"
VERIFY = AUDIT_EVENT + "/verify"
EXECUTORS = "/v1/executors"
TEST = "/v1/executors/{id}/test"
ENDED = ("completed", "failed", "cancelled")
#: How long an execution of a few steps may take, a cold Ray supervisor included.
DEADLINE_SECONDS = 10.0


def echo_workflow(name: str = "echo") -> dict[str, Any]:
    """A trigger and a ``set_output`` action: runs without any provider."""
    return {
        "name": name,
        "nodes": [
            {"id": "entry", "type": "trigger"},
            {
                "id": "answer",
                "type": "action",
                "name": "Answer",
                "data": {"actionType": "set_output", "output": {"decision": "approved"}},
            },
        ],
        "edges": [{"id": "e1", "source": "entry", "target": "answer"}],
    }


async def start(api: ApiClient, workflow_id: str, body: Any, key: str | None) -> Reply:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return check(
        await api.post(f"{WORKFLOWS}/{workflow_id}/executions", body, headers=headers), "post", START
    )


async def until(probe: Any, done: Any) -> Reply:
    """Call ``probe`` until ``done(reply)``; fail after :data:`DEADLINE_SECONDS`."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        reply = await probe()
        if done(reply):
            return reply
        assert time.monotonic() < deadline, reply.text
        await asyncio.sleep(0.05)


async def ended(api: ApiClient, execution_id: str) -> Reply:
    """Poll the execution, checking every answer, until its status is final."""

    async def probe() -> Reply:
        return check(await api.get(f"{EXECUTIONS}/{execution_id}"), "get", EXECUTION)

    return await until(probe, lambda r: r.status == 200 and r.body["status"] in ENDED)


async def audit_events(api: ApiClient, **params: str) -> Reply:
    reply = check(await api.get(AUDIT, params=params), "get", AUDIT)
    assert reply.status == 200, reply.text
    return reply


async def test_execution_and_audit_answers_fit_the_document(api: ApiClient) -> None:
    created = check(await api.post(WORKFLOWS, echo_workflow()), "post", WORKFLOWS)
    workflow_id = created.body["workflowId"]
    body = {"inputData": {"customer": {"name": "John Doe"}, "amount": 1500.5}}
    check_body(body, "post", START)
    check_body({}, "post", START)

    (await start(api, workflow_id, body, "k-draft")).error(422, "FLK-0501")
    check(await api.post(f"{WORKFLOWS}/{workflow_id}/activate"), "post", WORKFLOWS + "/{id}/activate")
    (await start(api, workflow_id, body, None)).error(400, "FLK-0509")
    (await start(api, workflow_id, body, "k" * 256)).error(400, "FLK-0509")
    (await start(api, "nope", body, "k-bad-id")).error(400, "FLK-0002")
    (await start(api, str(uuid.uuid4()), body, "k-unknown")).error(404, "FLK-0100")
    (await start(api, workflow_id, {"inputData": [1]}, "k-list")).error(400, "FLK-0302")
    (await start(api, workflow_id, [], "k-array")).error(400, "FLK-0001")

    first = await start(api, workflow_id, body, "k-1")
    assert first.status == 201 and first.body["status"] == "pending", first.text
    execution_id = first.body["executionId"]
    (await start(api, workflow_id, {"inputData": {"other": True}}, "k-1")).error(409, "FLK-0505")
    done = await ended(api, execution_id)
    assert done.body["status"] == "completed", done.body
    assert (done.body["currentStepNumber"], done.body["totalSteps"]) == (1, 1)
    replay = await start(api, workflow_id, body, "k-1")
    assert (replay.status, replay.body["executionId"]) == (200, execution_id), replay.text
    second = await start(api, workflow_id, {}, "k-2")
    assert second.status == 201, second.text
    await ended(api, second.body["executionId"])

    results = check(await api.get(f"{EXECUTIONS}/{execution_id}/results"), "get", RESULTS)
    assert results.status == 200 and results.body["finalOutput"] == {"decision": "approved"}, results.text
    assert [(s["stepNumber"], s["nodeId"]) for s in results.body["stepResults"]] == [(1, "answer")]
    check(await api.get(f"{EXECUTIONS}/{uuid.uuid4()}/results"), "get", RESULTS).error(404, "FLK-0500")
    check(await api.get(f"{EXECUTIONS}/nope"), "get", EXECUTION).error(400, "FLK-0002")
    check(await api.get(f"{EXECUTIONS}/{uuid.uuid4()}"), "get", EXECUTION).error(404, "FLK-0500")
    check(await api.post(f"{EXECUTIONS}/{execution_id}/cancel"), "post", CANCEL).error(422, "FLK-0510")
    check(await api.post(f"{EXECUTIONS}/{uuid.uuid4()}/cancel"), "post", CANCEL).error(404, "FLK-0500")

    query = {"workflowId": workflow_id, "status": "completed", "limit": "1", "sortBy": "completedAt"}
    page = check(await api.get(EXECUTIONS, params=query), "get", EXECUTIONS)
    assert page.status == 200 and page.body["hasMore"], page.text
    rest = check(
        await api.get(EXECUTIONS, params={**query, "cursor": page.body["nextCursor"]}), "get", EXECUTIONS
    )
    assert [e["executionId"] for e in page.body["items"] + rest.body["items"]] == [
        second.body["executionId"],
        execution_id,
    ]
    assert rest.body == {**rest.body, "nextCursor": "", "hasMore": False}
    everything = check(await api.get(EXECUTIONS, params={**query, "limit": "1000"}), "get", EXECUTIONS)
    assert [e["executionId"] for e in everything.body["items"]] == [second.body["executionId"], execution_id]
    for bad, code in (
        ({"workflowId": "nope"}, "FLK-0002"),
        ({"status": "done"}, "FLK-0304"),
        ({"sortBy": "createdAt"}, "FLK-0304"),
        ({"limit": "0"}, "FLK-0309"),
        ({"sortOrder": "up"}, "FLK-0310"),
        ({"cursor": "x"}, "INVALID_CURSOR"),
        ({"cursor": page.body["nextCursor"]}, "INVALID_CURSOR"),  # issued for another sort
    ):
        check(await api.get(EXECUTIONS, params=bad), "get", EXECUTIONS).error(400, code)

    # The runner records an execution's last event just after its final status: wait for it.
    await until(
        lambda: audit_events(api, resourceId=execution_id, eventType="EXECUTION_COMPLETED"),
        lambda r: len(r.body["items"]) == 1,
    )
    mine = (await audit_events(api, resourceId=workflow_id, eventType="WORKFLOW_CREATED")).body["items"]
    assert [(e["action"], e["result"], e["resourceType"]) for e in mine] == [
        ("CREATE", "SUCCESS", "workflow")
    ]
    assert mine[0]["actor"]["type"] == "api_key"
    assert mine[0]["actor"]["id"] == key_id(API_KEY) and API_KEY not in json.dumps(mine)
    oldest = (await audit_events(api, sortOrder="asc", limit="2")).body
    assert oldest["hasMore"] and oldest["nextCursor"] == str(oldest["items"][-1]["sequence"])
    genesis = oldest["items"][0]
    assert (genesis["sequence"], genesis["previousHash"]) == (1, None)
    canonical = json.dumps(
        {k: v for k, v in genesis.items() if k not in ("hash", "previousHash")},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    assert genesis["hash"] == hashlib.sha256(b"GENESIS|" + canonical.encode()).hexdigest()
    following = (await audit_events(api, sortOrder="ASC", cursor=oldest["nextCursor"])).body["items"]
    assert following[0]["sequence"] == 3 and following[0]["previousHash"] == oldest["items"][1]["hash"]
    newest = (await audit_events(api)).body["items"][0]
    window = {"dateFrom": genesis["timestamp"], "dateTo": newest["timestamp"]}
    assert (await audit_events(api, **window)).body["items"][0] == newest
    for bad, code in (
        ({"eventType": "WORKFLOW_EATEN"}, "FLK-0601"),
        ({"action": "EAT"}, "FLK-0602"),
        ({"result": "MAYBE"}, "FLK-0603"),
        ({"resourceType": "payment"}, "FLK-0605"),
        ({"resourceId": "nope"}, "FLK-0002"),
        ({"dateFrom": "yesterday"}, "FLK-0305"),
        ({"dateFrom": newest["timestamp"], "dateTo": genesis["timestamp"]}, "FLK-0308"),
        ({"limit": "0"}, "FLK-0309"),
        ({"limit": "-5"}, "FLK-0309"),
        ({"sortOrder": "sideways"}, "FLK-0310"),
        ({"cursor": "abc"}, "FLK-0610"),
    ):
        check(await api.get(AUDIT, params=bad), "get", AUDIT).error(400, code)
    clamped = check(await api.get(AUDIT, params={"limit": "101"}), "get", AUDIT)
    assert clamped.status == 200 and 0 < len(clamped.body["items"]) <= 100

    shown = check(await api.get(f"{AUDIT}/{newest['eventId']}"), "get", AUDIT_EVENT)
    assert shown.body == newest
    check(await api.get(f"{AUDIT}/nope"), "get", AUDIT_EVENT).error(400, "FLK-0002")
    check(await api.get(f"{AUDIT}/{uuid.uuid4()}"), "get", AUDIT_EVENT).error(404, "FLK-0600")
    verified = check(await api.get(f"{AUDIT}/{newest['eventId']}/verify"), "get", VERIFY)
    assert verified.body == {
        "isValid": True,
        "totalChecked": newest["sequence"],
        "message": "hash chain is valid",
        "checked": newest["sequence"],
        "checkpointsChecked": verified.body["checkpointsChecked"],
        "treeSize": newest["sequence"],
        "rootHash": verified.body["rootHash"],
    }
    check(await api.get(f"{AUDIT}/nope/verify"), "get", VERIFY).error(400, "FLK-0002")
    check(await api.get(f"{AUDIT}/{uuid.uuid4()}/verify"), "get", VERIFY).error(404, "FLK-0600")

    # A closed port: the test still answers 200, reporting connectivity failed; disabled is testable.
    unreachable = {
        **kyc_executor("http://127.0.0.1:9"),
        "endpoints": [{"name": "ping", "path": "/", "method": "GET"}],
    }
    config_id = check(await api.post(EXECUTORS, unreachable), "post", EXECUTORS).body["id"]
    check(await api.post(f"{EXECUTORS}/{config_id}/disable"), "post", EXECUTORS + "/{id}/disable")
    tested = check(await api.post(f"{EXECUTORS}/{config_id}/test"), "post", TEST)
    assert tested.status == 200, tested.text
    assert tested.body["overallStatus"] == "failed"
    assert [(s["name"], s["status"]) for s in tested.body["stages"]] == [
        ("connectivity", "failed"),
        ("authentication", "skipped"),
        ("end_to_end", "skipped"),
    ]
    config = check(await api.get(f"{EXECUTORS}/{config_id}"), "get", EXECUTORS + "/{id}")
    assert config.body["lastTestedAt"] == tested.body["completedAt"]
    check(await api.post(f"{EXECUTORS}/nope/test"), "post", TEST).error(400, "FLK-0002")
    check(await api.post(f"{EXECUTORS}/{uuid.uuid4()}/test"), "post", TEST).error(404, "FLK-0250")


@pytest.fixture
async def provider() -> AsyncIterator[tuple[StubProvider, asyncio.Event]]:
    """A provider whose ``POST /hold`` answers only once the event is set, so that a run stays running."""
    release = asyncio.Event()

    async def hold(_body: Any, _request: Any) -> tuple[int, Any]:
        await release.wait()
        return 200, {"held": True}

    async with StubProvider() as stub:
        stub.route("POST", "/hold", hold)
        stub.route("GET", "/ping", (200, {"pong": True}))
        yield stub, release
        release.set()


async def test_running_execution_answers_fit_the_document(
    api: ApiClient, provider: tuple[StubProvider, asyncio.Event]
) -> None:
    stub, release = provider
    config = {
        **kyc_executor(stub.url),
        "endpoints": [
            {"name": "hold", "path": "/hold", "method": "POST"},
            {"name": "ping", "path": "/ping", "method": "GET"},
        ],
    }
    config_id = check(await api.post(EXECUTORS, config), "post", EXECUTORS).body["id"]
    tested = check(await api.post(f"{EXECUTORS}/{config_id}/test"), "post", TEST)
    assert tested.body["overallStatus"] == "passed", tested.text
    assert [s["details"] for s in tested.body["stages"]] == [
        {"url": stub.url, "method": "GET", "statusCode": 404},
        {"url": stub.url, "method": "GET", "statusCode": 404},
        {"url": stub.url + "/ping", "method": "GET", "statusCode": 200},
    ]
    assert stub.calls("/hold") == []  # the end-to-end stage never calls an endpoint that may change data

    def call(node_id: str, endpoint: str) -> dict[str, Any]:
        return {
            "id": node_id,
            "type": "executor",
            "data": {"executorConfigId": config_id, "endpointName": endpoint},
        }

    definition = {
        **echo_workflow("held"),
        "nodes": [*echo_workflow()["nodes"], call("hold", "hold"), call("ping", "ping")],
        "edges": [
            {"id": "e1", "source": "entry", "target": "hold"},
            {"id": "e2", "source": "hold", "target": "ping"},
            {"id": "e3", "source": "ping", "target": "answer"},
        ],
    }
    workflow_id = check(await api.post(WORKFLOWS, definition), "post", WORKFLOWS).body["workflowId"]
    check(await api.post(f"{WORKFLOWS}/{workflow_id}/activate"), "post", WORKFLOWS + "/{id}/activate")
    started = await start(api, workflow_id, {"inputData": {}}, "k-held")
    assert started.status == 201, started.text
    execution_id = started.body["executionId"]

    deadline = time.monotonic() + DEADLINE_SECONDS
    while not stub.calls("/hold"):  # the provider holds the call: the execution stays running
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    running = check(await api.get(f"{EXECUTIONS}/{execution_id}"), "get", EXECUTION)
    assert running.body["status"] == "running", running.text
    check(await api.get(f"{EXECUTIONS}/{execution_id}/results"), "get", RESULTS).error(422, "FLK-0502")
    replay = await start(api, workflow_id, {"inputData": {}}, "k-held")
    assert (replay.status, replay.body["status"]) == (201, "running"), replay.text
    cancelling = check(await api.post(f"{EXECUTIONS}/{execution_id}/cancel"), "post", CANCEL)
    assert (cancelling.status, cancelling.body["status"]) == (202, "running"), cancelling.text

    release.set()
    done = await ended(api, execution_id)
    assert done.body["status"] == "cancelled", done.body
    results = check(await api.get(f"{EXECUTIONS}/{execution_id}/results"), "get", RESULTS)
    assert "finalOutput" not in results.body
    assert [(s["nodeId"], s["status"]) for s in results.body["stepResults"]] == [("hold", "completed")]
    assert len(stub.calls("/ping")) == 1  # the test's call only: the step after the cancel never ran
