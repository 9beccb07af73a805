"""``/v1/catalog``: the static providers, executors, triggers and templates, and their validate endpoints.

Lists are plain arrays sorted by id, as the original answers; detail answers carry their JSON Schema as
a JSON string (``schema``, ``configSchema``, ``paramSchema``), as the original does.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from flowker import codes
from flowker.http import schemas
from flowker.http.keys import SERVICES
from flowker.http.render import json_response, read_json
from flowker.http.spec import (
    BAD_BODY,
    TAG_CATALOG,
    TOO_DEEP,
    TOO_LARGE,
    WRONG_TYPE,
    error,
    line,
    ok,
    operation,
    param,
)

routes = web.RouteTableDef()
PARAMETERS = {
    "CatalogId": {
        "name": "id",
        "in": "path",
        "required": True,
        "description": "The catalog entry's id, such as `tracer`, `midaz.create-transaction`, `webhook`.",
        "schema": {"type": "string"},
    }
}
_ID = [param("CatalogId")]


def _not_found(code: str, what: str) -> dict[str, Any]:
    return {"404": error(f"No such {what}", [line(code, f"no {what} with this id in the catalog")])}


def _id(request: web.Request) -> str:
    return request.match_info["id"]


def _catalog(request: web.Request) -> Any:
    return request.app[SERVICES].catalog


@routes.get("/v1/catalog/executors")
@operation(
    "listCatalogExecutors",
    "List catalog executors",
    TAG_CATALOG,
    "Every executor of every provider, sorted by id.",
    {"200": ok("The executors.", schemas.CatalogExecutorList)},
)
async def list_executors(request: web.Request) -> web.Response:
    return json_response(_catalog(request).executors(), model=schemas.CatalogExecutorList)


@routes.get("/v1/catalog/executors/{id}")
@operation(
    "getCatalogExecutor",
    "Get a catalog executor",
    TAG_CATALOG,
    "The executor with the JSON Schema of its input.",
    {"200": ok("The executor.", schemas.CatalogExecutorDetail)},
    _not_found(codes.CATALOG_EXECUTOR_NOT_FOUND, "executor"),
    parameters=_ID,
)
async def get_executor(request: web.Request) -> web.Response:
    return json_response(_catalog(request).executor_detail(_id(request)), model=schemas.CatalogExecutorDetail)


@routes.post("/v1/catalog/executors/{id}/validate")
@operation(
    "validateCatalogExecutor",
    "Validate an executor input",
    TAG_CATALOG,
    "Check `config` against the executor's schema (formats asserted); the first violation is named by "
    "its path and rule.",
    {"200": ok("Valid.", schemas.ValidationOutput)},
    {
        "400": error(
            "Invalid",
            [
                BAD_BODY,
                WRONG_TYPE,
                TOO_DEEP,
                line(codes.INVALID_EXECUTOR_INPUT, "`config` does not match the schema"),
            ],
        ),
        **_not_found(codes.CATALOG_EXECUTOR_NOT_FOUND, "executor"),
        **TOO_LARGE,
    },
    parameters=_ID,
    body=schemas.ExecutorValidationInput,
    body_description="The input to check.",
)
async def validate_executor(request: web.Request) -> web.Response:
    catalog = _catalog(request)
    catalog.executor(_id(request))  # 404 before the body is read
    body = await read_json(request, schemas.ExecutorValidationInput)
    catalog.validate_executor(_id(request), body.config)
    return json_response({"valid": True}, model=schemas.ValidationOutput)


@routes.get("/v1/catalog/triggers")
@operation(
    "listCatalogTriggers",
    "List catalog triggers",
    TAG_CATALOG,
    "Every trigger, sorted by id.",
    {"200": ok("The triggers.", schemas.CatalogTriggerList)},
)
async def list_triggers(request: web.Request) -> web.Response:
    return json_response(_catalog(request).triggers(), model=schemas.CatalogTriggerList)


@routes.get("/v1/catalog/triggers/{id}")
@operation(
    "getCatalogTrigger",
    "Get a catalog trigger",
    TAG_CATALOG,
    "The trigger with the JSON Schema of its node's data.",
    {"200": ok("The trigger.", schemas.CatalogTriggerDetail)},
    _not_found(codes.CATALOG_TRIGGER_NOT_FOUND, "trigger"),
    parameters=_ID,
)
async def get_trigger(request: web.Request) -> web.Response:
    return json_response(_catalog(request).trigger_detail(_id(request)), model=schemas.CatalogTriggerDetail)


@routes.get("/v1/catalog/providers")
@operation(
    "listCatalogProviders",
    "List catalog providers",
    TAG_CATALOG,
    "Every provider, sorted by id.",
    {"200": ok("The providers.", schemas.CatalogProviderList)},
)
async def list_providers(request: web.Request) -> web.Response:
    return json_response(_catalog(request).providers(), model=schemas.CatalogProviderList)


@routes.get("/v1/catalog/providers/{id}")
@operation(
    "getCatalogProvider",
    "Get a catalog provider",
    TAG_CATALOG,
    "The provider with the JSON Schema of its configurations' `config`.",
    {"200": ok("The provider.", schemas.CatalogProviderDetail)},
    _not_found(codes.CATALOG_PROVIDER_NOT_FOUND, "provider"),
    parameters=_ID,
)
async def get_provider(request: web.Request) -> web.Response:
    return json_response(_catalog(request).provider_detail(_id(request)), model=schemas.CatalogProviderDetail)


@routes.get("/v1/catalog/providers/{id}/executors")
@operation(
    "listCatalogProviderExecutors",
    "List a provider's executors",
    TAG_CATALOG,
    "The provider's executors, sorted by id.",
    {"200": ok("The executors.", schemas.CatalogExecutorList)},
    _not_found(codes.CATALOG_PROVIDER_NOT_FOUND, "provider"),
    parameters=_ID,
)
async def list_provider_executors(request: web.Request) -> web.Response:
    return json_response(
        _catalog(request).provider_executors(_id(request)), model=schemas.CatalogExecutorList
    )


@routes.get("/v1/catalog/templates")
@operation(
    "listCatalogTemplates",
    "List workflow templates",
    TAG_CATALOG,
    "Every template, sorted by id.",
    {"200": ok("The templates.", schemas.CatalogTemplateList)},
)
async def list_templates(request: web.Request) -> web.Response:
    return json_response(_catalog(request).templates(), model=schemas.CatalogTemplateList)


@routes.get("/v1/catalog/templates/{id}")
@operation(
    "getCatalogTemplate",
    "Get a workflow template",
    TAG_CATALOG,
    "The template with the JSON Schema of its parameters; a parameter that names a provider "
    "configuration lists the provider's active configurations in `oneOf`.",
    {"200": ok("The template.", schemas.CatalogTemplateDetail)},
    _not_found(codes.TEMPLATE_NOT_FOUND, "template"),
    parameters=_ID,
)
async def get_template(request: web.Request) -> web.Response:
    detail = await _catalog(request).template_detail(_id(request))
    return json_response(detail, model=schemas.CatalogTemplateDetail)


@routes.post("/v1/catalog/templates/{id}/validate")
@operation(
    "validateCatalogTemplate",
    "Validate template parameters",
    TAG_CATALOG,
    "Check `params` against the template's paramSchema (formats asserted).",
    {"200": ok("Valid.", schemas.ValidationOutput)},
    {
        "400": error(
            "Invalid",
            [
                BAD_BODY,
                WRONG_TYPE,
                TOO_DEEP,
                line(codes.INVALID_TEMPLATE_PARAMS, "`params` do not match the paramSchema"),
            ],
        ),
        **_not_found(codes.TEMPLATE_NOT_FOUND, "template"),
        **TOO_LARGE,
    },
    parameters=_ID,
    body=schemas.TemplateValidationInput,
    body_description="The parameters to check.",
)
async def validate_template(request: web.Request) -> web.Response:
    catalog = _catalog(request)
    catalog.template(_id(request))
    body = await read_json(request, schemas.TemplateValidationInput)
    catalog.validate_template(_id(request), body.params)
    return json_response({"valid": True}, model=schemas.ValidationOutput)
