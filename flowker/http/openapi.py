"""The OpenAPI 3.1 document of Flowker's own API, served at ``/openapi.json``: generated, built once.

Paths come from the route tables: each handler declares its operation with
:func:`flowker.http.spec.operation`. Schemas are the JSON schemas of the pydantic models those
declarations name (:mod:`flowker.http.schemas`), their ``$defs`` hoisted to components. What every
operation shares (the request id, the API key's 401, the 500) is added here, once.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from flowker import __version__, codes
from flowker.http import spec
from flowker.http.description import DESCRIPTION
from flowker.http.routes import MODULES
from flowker.http.schemas import Output
from flowker.http.spec import Schema, component, error

SERVER_URL = "http://127.0.0.1:4021"
_SCHEMAS = "#/components/schemas/{model}"
TAGS = {
    spec.TAG_SYSTEM: "Public probes and this document.",
    spec.TAG_WORKFLOWS: "Workflow definitions and their lifecycle.",
    spec.TAG_EXECUTORS: "The external services that executor nodes call.",
    spec.TAG_EXECUTIONS: "Runs of active workflows: start, follow, results, cancel.",
    spec.TAG_AUDIT: "The append-only, hash-chained audit trail.",
    spec.TAG_DASHBOARDS: "Counts of workflows and executions by status, computed by the store.",
    spec.TAG_WEBHOOKS: "Deliveries that start the active workflow whose webhook trigger owns the path.",
    spec.TAG_CATALOG: "The static catalog: providers, their executors, triggers and workflow templates.",
    spec.TAG_PROVIDER_CONFIGS: "Instances of catalog providers: where and with which credentials to call.",
}
#: ``{name:regex}`` of an aiohttp path, which the document writes ``{name}``.
_PATH_REGEX = re.compile(r"\{(\w+):[^}]+\}")
SHARED_RESPONSES = {
    "Unauthorized": error(
        "`X-API-Key` missing or not one of the configured keys", [f"`{codes.UNAUTHORIZED}`"]
    ),
    "MethodNotAllowed": error(
        "The path exists but does not support the method (any path of this API)",
        [f"`{codes.METHOD_OR_ORIGIN_NOT_ALLOWED}`"],
    ),
    "PayloadTooLarge": error(
        "The body exceeds the configured limit (`FLOWKER_MAX_BODY_BYTES`, 1 MiB by default)",
        [f"`{codes.BODY_TOO_LARGE}`"],
    ),
    "InternalError": error(
        "A bug; the message carries no details, the `X-Request-Id` finds it in the server log",
        [f"`{codes.INTERNAL_ERROR}`"],
    ),
}


def _operation(declared: dict[str, Any]) -> Schema:
    """The operation a handler declared, with what every operation shares."""
    public = declared["public"]
    operation: Schema = {
        "operationId": declared["operationId"],
        "summary": declared["summary"],
        "description": declared["description"],
        "tags": [declared["tag"]],
        "security": [] if public else [{"ApiKeyAuth": []}],
        "parameters": [*declared["parameters"], spec.param("XRequestId")],
    }
    if declared.get("alias_of"):
        operation["deprecated"] = True
        operation["x-alias-of"] = declared["alias_of"]
    if declared["body"] is not None:
        operation["requestBody"] = {
            "required": declared.get("body_required", True),
            "description": declared["body_description"],
            "content": {"application/json": {"schema": declared["body"]}},
        }
    responses: Schema = dict(declared["ok"])
    if not public:
        responses["401"] = component("responses", "Unauthorized")
    responses.update(declared["errors"])
    responses["500"] = component("responses", "InternalError")
    operation["responses"] = dict(sorted(responses.items()))
    return operation


def _methods(method: str, declared: dict[str, Any]) -> list[tuple[str, str]]:
    """``(method, operationId)`` of each operation a route stands for: one, or one per declared method of a
    route of any method (``*``), the first of which keeps the declared ``operationId``."""
    if method != "*":
        return [(method, declared["operationId"])]
    methods = declared.get("methods") or []
    if not methods:
        raise LookupError(f"{declared['operationId']}: a route of any method declares its methods")
    first, *others = methods
    return [(first, declared["operationId"])] + [
        (other, declared["operationId"] + other.capitalize()) for other in others
    ]


def _refer(node: Any, models: dict[str, type[BaseModel]]) -> Any:
    """A copy of ``node`` in which each pydantic model is a ``$ref`` to its component, noted in ``models``."""
    if isinstance(node, type) and issubclass(node, BaseModel):
        if models.setdefault(node.__name__, node) is not node:
            raise ValueError(f"two models named {node.__name__}")
        return {"$ref": _SCHEMAS.format(model=node.__name__)}
    if isinstance(node, dict):
        return {key: _refer(value, models) for key, value in node.items()}
    if isinstance(node, list):
        return [_refer(value, models) for value in node]
    return node


def _model_schemas(models: Iterable[type[BaseModel]]) -> dict[str, Schema]:
    """The models' JSON schemas and their ``$defs``, hoisted to components, without property titles.

    ``None`` defaults are not shown: absent and ``null`` mean the same to the API. In a response model
    (:class:`~flowker.http.schemas.Output`) a field with a default is omitted when absent, never
    ``null``: its schema is the non-null one.
    """
    found: dict[str, Schema] = {}
    for model in models:
        schema = model.model_json_schema(ref_template=_SCHEMAS)
        for name, definition in {**schema.pop("$defs", {}), model.__name__: schema}.items():
            if found.setdefault(name, definition) != definition:
                raise ValueError(f"two schemas named {name}")
    outputs = {cls.__name__ for cls in _subclasses(Output)}
    for name, definition in found.items():
        required = set(definition.get("required", ()))
        for field, prop in definition.get("properties", {}).items():
            prop.pop("title", None)
            if prop.get("default", 0) is None:
                del prop["default"]
            if name in outputs and field not in required:
                prop.pop("default", None)
                options = [o for o in prop.pop("anyOf", ()) if o != {"type": "null"}]
                prop.update(options[0] if len(options) == 1 else {"anyOf": options} if options else {})
    return found


def _subclasses(cls: type) -> list[type]:
    return [sub for direct in cls.__subclasses__() for sub in (direct, *_subclasses(direct))]


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document served at ``/openapi.json``, built once (callers must not mutate it)."""
    models: dict[str, type[BaseModel]] = {}
    paths: dict[str, Schema] = {}
    parameters = dict(spec.PARAMETERS)
    for module in MODULES:
        parameters.update(getattr(module, "PARAMETERS", {}))
        for route in module.routes:
            assert isinstance(route, web.RouteDef)
            declared = getattr(route.handler, spec.ATTRIBUTE, None)
            if declared is None:
                raise LookupError(f"{route.method} {route.path} declares no operation (flowker.http.spec)")
            path = _PATH_REGEX.sub(r"{\1}", route.path)
            for method, operation_id in _methods(route.method, declared):
                operation = _operation({**declared, "operationId": operation_id})
                paths.setdefault(path, {})[method.lower()] = _refer(operation, models)
    responses = _refer(SHARED_RESPONSES, models)
    schemas = _model_schemas(models.values())
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Flowker",
            "version": __version__,
            "description": DESCRIPTION,
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "servers": [{"url": SERVER_URL}],
        "security": [{"ApiKeyAuth": []}],
        "tags": [{"name": name, "description": text} for name, text in TAGS.items()],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "ApiKeyAuth": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-API-Key",
                    "description": "One of the configured API keys; required on every `/v1` route.",
                }
            },
            "schemas": dict(sorted(schemas.items())),
            "parameters": parameters,
            "headers": {
                "XRequestId": {
                    "description": "The request's id: its own `X-Request-Id` when sane, else a new UUID.",
                    "schema": {"type": "string"},
                }
            },
            "responses": responses,
        },
    }
