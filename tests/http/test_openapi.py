"""The OpenAPI document: valid OpenAPI 3.1, exactly the app's routes, and true to what they answer."""

from __future__ import annotations

import uuid
from typing import Any

from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from flowker import __version__
from flowker.domain.executor_config import ExecutorConfigInput
from flowker.dsl.model import WorkflowDefinition
from flowker.http.app import create_app
from flowker.http.keys import Services
from flowker.http.openapi import openapi_document
from flowker.settings import Settings
from tests.helpers.client import ApiClient, Reply
from tests.helpers.fixtures import aml_executor, compliance_workflow, kyc_executor

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
PUBLIC_PATHS = {"/health", "/readyz", "/version", "/openapi.json"}
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
        if route.method in ("HEAD", "*"):
            continue
        assert route.resource is not None
        routed.add((route.method.lower(), route.resource.canonical))
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
        else:
            assert path in PUBLIC_PATHS
            assert operation["security"] == [], (method, path)
            assert "401" not in operation["responses"], (method, path)


def test_operations_are_complete() -> None:
    ids = [operation["operationId"] for _, _, operation in operations()]
    assert len(ids) == len(set(ids))
    tags = {tag["name"] for tag in DOC["tags"]}
    assert tags == {"System", "Workflows", "Executor configurations"}
    request_id = {"$ref": "#/components/parameters/XRequestId"}
    for method, path, operation in operations():
        assert operation["summary"] and set(operation["tags"]) <= tags, (method, path)
        assert request_id in operation["parameters"], (method, path)
        if "{id}" in path:
            parameters = [resolve(p) for p in operation["parameters"]]
            assert {"name": "id", "in": "path"}.items() <= parameters[0].items(), (method, path)
            assert parameters[0]["schema"] == {"type": "string", "format": "uuid"}
            assert "404" in operation["responses"], (method, path)
        for status, response in operation["responses"].items():
            response = resolve(response)
            assert response["headers"]["X-Request-Id"] == {"$ref": "#/components/headers/XRequestId"}
            if int(status) >= 400 and (method, path, status) != ("get", "/readyz", "503"):
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorResponse"}, (method, path, status)
                assert "`FLK-" in response["description"] or "`UNAUTHORIZED`" in response["description"]


def test_request_schemas_follow_the_pydantic_models() -> None:
    schemas = DOC["components"]["schemas"]
    for model in (WorkflowDefinition, ExecutorConfigInput):
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


async def test_answers_fit_the_document(api: ApiClient, anon: ApiClient) -> None:
    for path in ("/health", "/version", "/readyz", "/openapi.json"):
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
