"""The OpenAPI 3.1 document of Flowker's own API, served at ``/openapi.json``.

Plain dicts, built once. Request bodies start from pydantic's JSON schema of the input models, so the
set of fields follows the models; the rules that :mod:`flowker.dsl.validation`,
:mod:`flowker.domain.executor_config` and :mod:`flowker.domain.authentication` enforce beyond JSON
types are written over them, with the limits taken from those modules. Every error response names
the codes that the operation can actually produce.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel

from flowker import __version__
from flowker import codes as flk
from flowker.domain import audit
from flowker.domain import authentication as auth
from flowker.domain import executor_config as ec
from flowker.domain import metadata as meta
from flowker.dsl import validation as dsl
from flowker.dsl.model import NodeType, WorkflowDefinition, WorkflowStatus
from flowker.dsl.run_state import ExecutionStatus, StepStatus
from flowker.http.render import MAX_DEPTH
from flowker.http.routes.executions import ExecuteInput
from flowker.store.ports import SORT_FIELDS
from flowker.usecases import audit as audit_trail
from flowker.usecases.executions import MAX_IDEMPOTENCY_KEY
from flowker.usecases.executions import SORT_FIELDS as EXECUTION_SORT_FIELDS
from flowker.usecases.pagination import DEFAULT_LIMIT, MAX_LIMIT

Schema = dict[str, Any]

SERVER_URL = "http://127.0.0.1:4021"
_SCHEMAS = "#/components/schemas/{model}"
_TIMESTAMP_EXAMPLE = "2026-11-29T01:02:03.456789Z"
_ID_EXAMPLE = "0b6f3c1e-4a5d-4e8f-9c2a-7d1b3e5f6a90"

TAG_SYSTEM = "System"
TAG_WORKFLOWS = "Workflows"
TAG_EXECUTORS = "Executor configurations"
TAG_EXECUTIONS = "Executions"
TAG_AUDIT = "Audit"

DESCRIPTION = f"""\
Flowker orchestrates the checks that run before money moves (KYC, AML, fraud, payments): workflows
are graphs of nodes that call external services through **executor configurations**.

## Authentication

Every `/v1` route requires the header `X-API-Key` with one of the configured keys (several may be
valid at once, so that a key can be rotated). A missing or wrong key is answered
`401 {{"code": "{flk.UNAUTHORIZED}", "title": "Unauthorized", "message": "API Key missing or invalid"}}`.
`/health`, `/readyz`, `/version` and `/openapi.json` are public.

## Errors

Every error, whatever its status, has the same JSON body (`ErrorResponse`):
`{{"code": "{flk.WORKFLOW_NOT_FOUND}", "title": "Not Found", "message": "workflow … not found"}}`. `code` is \
stable and
machine-readable (`FLK-NNNN`, or `{flk.UNAUTHORIZED}` / `{flk.INVALID_CURSOR}`), `title` is the HTTP reason
phrase and `message` is for people. Each operation lists the codes it can return. Besides those:

* an unknown path is `404 {flk.ROUTE_NOT_FOUND}`;
* a method a path does not support is `405 {flk.METHOD_OR_ORIGIN_NOT_ALLOWED}`;
* a body larger than the configured limit (1 MiB by default) is `413 {flk.BODY_TOO_LARGE}`;
* a CORS preflight from an origin that is not allowed is `403 {flk.METHOD_OR_ORIGIN_NOT_ALLOWED}`;
* `500 {flk.INTERNAL_ERROR}` means a bug: its message never carries details, the `X-Request-Id` finds it in \
the log.

Unknown fields in request bodies are ignored. A field of the wrong JSON type is `400 {flk.WRONG_FIELD_TYPE}`,
with the field's path in the message; a body nested deeper than {MAX_DEPTH} levels is `400 \
{flk.BODY_TOO_DEEP}`.

## Request ids

Every response carries `X-Request-Id`: the request's own value when it is 1 to 128 characters of
`A-Z a-z 0-9 . _ : -`, otherwise a new UUID.

## Pagination

Lists are cursor-paginated: `{{"items": [...], "nextCursor": "...", "hasMore": true}}`. Pass
`nextCursor` back as `cursor`, with the same `sortBy` and `sortOrder`, to get the next page;
`nextCursor` is `""` on the last page. `limit` is 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT}); items are
sorted by `sortBy` (`createdAt` by default; `startedAt` for executions) then id, `DESC` by default. A
cursor reused with another sort, or not issued by this API, is `400 {flk.INVALID_CURSOR}`.

The audit trail pages by sequence number instead: it has no `sortBy`, `limit` defaults to
{audit_trail.DEFAULT_LIMIT}, `nextCursor` is the last event's `sequence` in decimal, and a cursor that is not
a decimal number is `400 {flk.INVALID_AUDIT_CURSOR}`.

## Executions

`POST /v1/workflows/{{workflowId}}/executions` runs an **active** workflow on `inputData`. The header
`Idempotency-Key` is required: the same key with the same workflow and input returns the execution it
already started (a retry is safe), with another workflow or input it is `409 {flk.IDEMPOTENCY_KEY_REUSED}`. \
The answer is
`201` as soon as the execution is durably recorded (`pending`); it runs in the background, so poll
`GET /v1/executions/{{id}}` until its status is `completed`, `failed` or `cancelled`, then read
`GET /v1/executions/{{id}}/results`. An execution runs the definition the workflow had when it
started, whatever happens to the workflow meanwhile.

## Audit trail

Every change to a workflow or an executor configuration, and every execution's start, provider
calls and end, is appended to one hash chain. Each event has a gapless `sequence`, the `previousHash`
of the event before it, and a `hash`: the lower-case hex SHA-256 of `previousHash` (the string
`{audit.GENESIS}` for the first event), then `|`, then the canonical JSON of the event without its two
hashes (keys sorted, no spaces). `GET /v1/audit-events/{{id}}/verify` recomputes them all, so an
edited, inserted or deleted event is detected. Events name who caused them by the API key's id
(`key-` and 12 hex digits of its SHA-256), never the key.

## Secrets

Secrets of an executor configuration's `authentication.config` (keys, tokens, passwords, client
secrets and credential-like `extra_params`) are write-only: they are encrypted before they are
stored and every response shows them as `{auth.MASK}`. Sending `{auth.MASK}` back in a PATCH keeps
the stored secret, so a configuration can be read, edited and written back.
"""


# --- small builders -------------------------------------------------------------------------------


def _ref(name: str) -> Schema:
    return {"$ref": _SCHEMAS.format(model=name)}


def _component(kind: str, name: str) -> Schema:
    return {"$ref": f"#/components/{kind}/{name}"}


def _json(schema: Schema) -> Schema:
    return {"application/json": {"schema": schema}}


_REQUEST_ID_HEADER = {"X-Request-Id": _component("headers", "XRequestId")}


def _ok(description: str, schema: Schema | None = None) -> Schema:
    response: Schema = {"description": description, "headers": dict(_REQUEST_ID_HEADER)}
    if schema is not None:
        response["content"] = _json(schema)
    return response


def _error(summary: str, codes: Iterable[str]) -> Schema:
    """An error response whose description lists each ``FLK`` code it may carry, one a line."""
    lines = "\n".join(f"- {code}" for code in codes)
    return {
        "description": f"{summary}:\n\n{lines}",
        "headers": dict(_REQUEST_ID_HEADER),
        "content": _json(_ref("ErrorResponse")),
    }


def _nullable(schema: Schema) -> Schema:
    """``schema`` that also accepts ``null``, which the API treats as an absent field."""
    return {**schema, "type": [schema["type"], "null"]}


# --- error codes ----------------------------------------------------------------------------------

BAD_BODY = f"`{flk.BAD_BODY}` body missing, not JSON, or not a JSON object"
WRONG_TYPE = f"`{flk.WRONG_FIELD_TYPE}` a field has the wrong JSON type (the message names it)"
TOO_DEEP = f"`{flk.BODY_TOO_DEEP}` the body is nested deeper than {MAX_DEPTH} levels"
BAD_ID = f"`{flk.INVALID_UUID}` `id` is not a UUID"
METADATA_CODES = (
    f"`{flk.TOO_MANY_METADATA_ENTRIES}` metadata has more than {meta.MAX_ENTRIES} entries",
    f"`{flk.METADATA_KEY_TOO_LONG}` a metadata key is longer than {meta.MAX_KEY} characters",
)
LIST_CODES = (
    f"`{flk.UNKNOWN_STATUS_OR_SORT}` `status` or `sortBy` is not one of its values",
    f"`{flk.INVALID_LIMIT}` `limit` is not a whole number from 1 to {MAX_LIMIT}",
    f"`{flk.INVALID_SORT_ORDER}` `sortOrder` is not `ASC` or `DESC`",
    f"`{flk.INVALID_CURSOR}` the cursor was not issued by this API, or was issued for another sort",
)
WORKFLOW_NAME_CODES = (
    f"`{flk.WORKFLOW_NAME_REQUIRED}` name is required",
    f"`{flk.WORKFLOW_NAME_TOO_LONG}` name is longer than {dsl.MAX_NAME} characters",
)
WORKFLOW_DRAFT_CODES = (
    BAD_BODY,
    WRONG_TYPE,
    TOO_DEEP,
    *WORKFLOW_NAME_CODES,
    f"`{flk.WORKFLOW_DESCRIPTION_TOO_LONG}` description is longer than {dsl.MAX_DESCRIPTION} characters",
    f"`{flk.TOO_MANY_NODES}` more than {dsl.MAX_NODES} nodes",
    f"`{flk.TOO_MANY_EDGES}` more than {dsl.MAX_EDGES} edges",
    f"`{flk.NODE_ID_REQUIRED}` a node id is required",
    f"`{flk.NODE_ID_TOO_LONG}` a node id is longer than {dsl.MAX_ID} characters",
    f"`{flk.DUPLICATE_NODE_ID}` two nodes share an id",
    f"`{flk.MISREADABLE_NODE_ID}` a node id is `workflow` or `$`, or holds `.`, `[` or `]`: paths would "
    "misread it",
    f"`{flk.NODE_TYPE_REQUIRED}` a node type is required",
    f"`{flk.UNKNOWN_NODE_TYPE}` a node type is not trigger, executor, conditional or action",
    f"`{flk.SET_OUTPUT_NOT_OBJECT}` a `set_output` action has no `output` object",
    f"`{flk.INVALID_CONDITION}` a condition (conditional node or edge) does not parse",
    f"`{flk.INVALID_INPUT_MAPPING}` an executor node's `inputMapping` is invalid",
    f"`{flk.INVALID_OUTPUT_MAPPING}` an executor node's `outputMapping` is invalid",
    f"`{flk.RAW_TRANSFORMS}` an executor node uses raw `transforms`, which are not supported",
    f"`{flk.EDGE_ID_REQUIRED}` / `{flk.EDGE_SOURCE_REQUIRED}` / `{flk.EDGE_TARGET_REQUIRED}` an edge id / "
    "source / target is required",
    f"`{flk.EDGE_FIELD_TOO_LONG}` an edge id, source, target, sourceHandle or label is longer than "
    f"{dsl.MAX_ID} characters",
    f"`{flk.DUPLICATE_EDGE_ID}` two edges share an id",
    f"`{flk.EDGE_NAMES_NO_NODE}` an edge's source or target names no node of the workflow",
    *METADATA_CODES,
)
CATALOG_EXECUTOR = (
    f"`{flk.UNKNOWN_EXECUTOR_REFERENCE}` an executor node names a catalog `executorId`; "
    "catalog executors are not available"
)
EXECUTOR_CONFIG_CODES = (
    BAD_BODY,
    WRONG_TYPE,
    TOO_DEEP,
    f"`{flk.EXECUTOR_CONFIG_NAME_REQUIRED}` name is required",
    f"`{flk.EXECUTOR_CONFIG_NAME_TOO_LONG}` name is longer than {ec.MAX_NAME} characters",
    f"`{flk.EXECUTOR_CONFIG_DESCRIPTION_TOO_LONG}` description is longer than {ec.MAX_DESCRIPTION} "
    "characters",
    f"`{flk.BASE_URL_REQUIRED}` baseUrl is required",
    f"`{flk.BASE_URL_TOO_LONG}` baseUrl is longer than {ec.MAX_BASE_URL} characters",
    f"`{flk.INVALID_BASE_URL}` baseUrl is not an http(s) URL with a host, or has credentials, a query or a "
    "fragment",
    f"`{flk.NO_ENDPOINTS}` at least one endpoint is required",
    f"`{flk.TOO_MANY_ENDPOINTS}` more than {ec.MAX_ENDPOINTS} endpoints",
    f"`{flk.ENDPOINT_NAME_REQUIRED}` an endpoint name is required",
    f"`{flk.DUPLICATE_ENDPOINT_NAME}` two endpoints share a name",
    f"`{flk.ENDPOINT_FIELD_TOO_LONG}` an endpoint name or path is too long ({ec.MAX_ENDPOINT_NAME} / "
    f"{ec.MAX_ENDPOINT_PATH})",
    f"`{flk.INVALID_ENDPOINT_PATH}` an endpoint path is required, or is a URL rather than a path relative "
    "to baseUrl",
    f"`{flk.ENDPOINT_METHOD_REQUIRED}` an endpoint method is required",
    f"`{flk.INVALID_ENDPOINT_METHOD}` an endpoint method is not one of {', '.join(ec.METHODS)}",
    f"`{flk.INVALID_ENDPOINT_TIMEOUT}` an endpoint timeout is outside 1..{ec.MAX_TIMEOUT_SECONDS} seconds",
    f"`{flk.NO_AUTHENTICATION}` authentication is required",
    f"`{flk.AUTHENTICATION_TYPE_REQUIRED}` authentication.type is required",
    f"`{flk.UNSUPPORTED_AUTHENTICATION_TYPE}` authentication.type is not one of {', '.join(auth.SCHEMAS)}",
    f"`{flk.INVALID_AUTHENTICATION_FIELD}` an authentication.config field is unknown, missing, malformed, "
    f"or a `{auth.MASK}` mask with no stored secret to keep",
    *METADATA_CODES,
)


def _responses(ok: Mapping[str, Schema], errors: Mapping[str, Schema], *, protected: bool) -> Schema:
    responses: Schema = dict(ok)
    if protected:
        responses["401"] = _component("responses", "Unauthorized")
    responses.update(errors)
    responses["500"] = _component("responses", "InternalError")
    return dict(sorted(responses.items()))


def _operation(
    operation_id: str,
    summary: str,
    tag: str,
    description: str,
    ok: Mapping[str, Schema],
    errors: Mapping[str, Schema] | None = None,
    *,
    parameters: Iterable[Schema] = (),
    body: Schema | None = None,
    body_description: str = "",
    public: bool = False,
) -> Schema:
    operation: Schema = {
        "operationId": operation_id,
        "summary": summary,
        "description": description,
        "tags": [tag],
        "security": [] if public else [{"ApiKeyAuth": []}],
        "parameters": [*parameters, _component("parameters", "XRequestId")],
    }
    if body is not None:
        operation["requestBody"] = {"required": True, "description": body_description, "content": _json(body)}
    operation["responses"] = _responses(ok, errors or {}, protected=not public)
    return operation


# --- schemas --------------------------------------------------------------------------------------


def _pydantic_schemas(model: type[BaseModel]) -> dict[str, Schema]:
    """``model``'s JSON schema and its ``$defs``, as components, without pydantic's generated titles."""
    schema = model.model_json_schema(ref_template=_SCHEMAS)
    found: dict[str, Schema] = dict(schema.pop("$defs", {}))
    found[model.__name__] = schema
    for definition in found.values():
        for prop in definition.get("properties", {}).values():
            prop.pop("title", None)
    return found


def _override(schema: Schema, properties: Mapping[str, Schema], **extra: Any) -> None:
    """Write the API's rules over pydantic's property schemas (which only know JSON types)."""
    unknown = set(properties) - set(schema["properties"])
    if unknown:
        raise KeyError(f"{schema['title']} has no field {', '.join(sorted(unknown))}")
    schema["properties"].update(properties)
    schema.update(extra)


_STRING = {"type": "string"}
_TIMESTAMP: Schema = {
    "type": "string",
    "format": "date-time",
    "description": "RFC 3339, UTC, microsecond precision, fixed width (text order is time order).",
    "examples": [_TIMESTAMP_EXAMPLE],
}
_METADATA: Schema = {
    "type": ["object", "null"],
    "additionalProperties": True,
    "maxProperties": meta.MAX_ENTRIES,
    "propertyNames": {"maxLength": meta.MAX_KEY},
    "description": f"Free-form; at most {meta.MAX_ENTRIES} entries, keys of at most {meta.MAX_KEY} chars.",
}
_NODE_DATA = """\
Settings of the node, by type:

* `executor`: `executorConfigId` (id of an executor configuration) and `endpointName` (one of its
  endpoints), both required to activate; optional `inputMapping` / `outputMapping`, lists of
  `{source, target, required?, transformation?: {type, config}}` copying values between dot paths
  (`transforms` is refused);
* `conditional`: `condition`, an expression such as `kyc.result.riskScore < 50` (required to
  activate); its outgoing edges carry `sourceHandle` `"true"` or `"false"`;
* `action`: `actionType`; `set_output` requires an `output` object, the workflow's final output;
* `trigger`: free.
"""


def _workflow_schemas() -> dict[str, Schema]:
    schemas = _pydantic_schemas(WorkflowDefinition)
    _override(
        schemas["WorkflowDefinition"],
        {
            "name": {
                "type": "string",
                "minLength": 1,
                "maxLength": dsl.MAX_NAME,
                "description": f"Unique among workflows (409 {flk.WORKFLOW_NAME_TAKEN}); surrounding spaces "
                "are trimmed.",
            },
            "description": _nullable({"type": "string", "maxLength": dsl.MAX_DESCRIPTION}),
            "nodes": {"type": "array", "items": _ref("Node"), "maxItems": dsl.MAX_NODES},
            "edges": {"type": "array", "items": _ref("Edge"), "maxItems": dsl.MAX_EDGES},
            "metadata": _METADATA,
        },
        required=["name"],
        description=(
            "The body of create and replace. A draft may be incomplete (no nodes, no trigger); "
            "activation checks the whole graph."
        ),
    )
    node_id = {"type": "string", "minLength": 1, "maxLength": dsl.MAX_ID}
    _override(
        schemas["Node"],
        {
            "id": {
                **node_id,
                "description": (
                    "Unique among the workflow's nodes; conditions and mappings read the node's output "
                    "as `<id>.…`. Not `workflow` (the execution's input) or `$`, and without `.`, `[` "
                    f"or `]`, which paths read as structure (400 {flk.MISREADABLE_NODE_ID})."
                ),
            },
            "type": {"type": "string", "enum": [t.value for t in NodeType]},
            "name": _nullable({"type": "string", "description": "Display name."}),
            "data": {"type": ["object", "null"], "additionalProperties": True, "description": _NODE_DATA},
        },
        required=["id", "type"],
        description="A step of the workflow; `position` only places it on a canvas.",
    )
    _override(
        schemas["Edge"],
        {
            "id": {**node_id, "description": "Unique among the workflow's edges."},
            "source": {**node_id, "description": "Id of the node the edge leaves."},
            "target": {**node_id, "description": "Id of the node the edge enters."},
            "sourceHandle": _nullable(
                {
                    "type": "string",
                    "maxLength": dsl.MAX_EDGE_TEXT,
                    "description": "`true` or `false` on an edge leaving a conditional node (to activate).",
                }
            ),
            "condition": _nullable(
                {
                    "type": "string",
                    "maxLength": dsl.MAX_CONDITION,
                    "description": "A condition expression; checked to parse when saved.",
                }
            ),
            "label": _nullable({"type": "string", "maxLength": dsl.MAX_EDGE_TEXT}),
        },
        required=["id", "source", "target"],
    )
    _override(schemas["Position"], {}, description="Canvas coordinates.")
    schemas.update(
        {
            "WorkflowStatus": {
                "type": "string",
                "enum": [s.value for s in WorkflowStatus],
                "description": (
                    "`draft --activate--> active --deactivate--> inactive --draft--> draft`. "
                    "Only a draft can be edited; a draft or inactive workflow can be deleted."
                ),
            },
            "CloneWorkflowInput": {
                "type": "object",
                "properties": {
                    "name": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": dsl.MAX_NAME,
                        "description": f"Name of the copy; must be unused (409 {flk.WORKFLOW_NAME_TAKEN}).",
                    }
                },
                "required": ["name"],
            },
            "WorkflowOutput": {
                "type": "object",
                "properties": {
                    "id": {"type": "string", "format": "uuid"},
                    "name": _STRING,
                    "description": _STRING,
                    "status": _ref("WorkflowStatus"),
                    "nodes": {"type": "array", "items": _ref("Node")},
                    "edges": {"type": "array", "items": _ref("Edge")},
                    "metadata": {"type": "object", "additionalProperties": True},
                    "createdAt": _ref("Timestamp"),
                    "updatedAt": _ref("Timestamp"),
                },
                "required": ["id", "name", "status", "nodes", "edges", "createdAt", "updatedAt"],
                "description": "A stored workflow. Absent optional fields are omitted, never `null`.",
            },
            "WorkflowCreateOutput": {
                "type": "object",
                "properties": {
                    "workflowId": {"type": "string", "format": "uuid"},
                    "version": {
                        "type": "string",
                        "const": "1.0.0",
                        "description": "Always `1.0.0`, as the original API answers.",
                    },
                    "status": _ref("WorkflowStatus"),
                    "createdAt": _ref("Timestamp"),
                },
                "required": ["workflowId", "version", "status", "createdAt"],
            },
            "WorkflowListOutput": _page("WorkflowOutput"),
        }
    )
    return schemas


def _page(item: str) -> Schema:
    return {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": _ref(item)},
            "nextCursor": {
                "type": "string",
                "description": 'Send as `cursor` (same sort) for the next page; `""` on the last page.',
            },
            "hasMore": {"type": "boolean"},
        },
        "required": ["items", "nextCursor", "hasMore"],
    }


_AUTH_TITLES = {
    "none": ("NoAuthentication", "No credentials are sent; `config` must be empty."),
    "api_key": (
        "ApiKeyAuthentication",
        "Sends `prefix` + `key` in the header `header_name` (default `X-API-Key`) or, with "
        "`location: query`, in the query parameter `query_param_name` (default `api_key`).",
    ),
    "bearer": ("BearerAuthentication", "Sends `Authorization: Bearer <token>`."),
    "basic": ("BasicAuthentication", "Sends `Authorization: Basic base64(username:password)`."),
    "oidc_client_credentials": (
        "OidcClientCredentialsAuthentication",
        "Gets an access token with the OAuth 2 client-credentials grant from `token_url`, or from the "
        "token endpoint that `issuer_url` discovers (one of the two is required).",
    ),
    "oidc_user": (
        "OidcUserAuthentication",
        "Gets an access token with the OAuth 2 password grant for `username` from `token_url`, or from "
        "the token endpoint that `issuer_url` discovers (one of the two is required).",
    ),
}
_FIELD_NOTES = {
    "token_endpoint_auth_method": "Default `client_secret_basic`.",
    "location": "Default `header`.",
    "scopes": "Sent space-separated.",
}
_SECRET_WORDS = ", ".join(f"`{w}`" for w in auth._SECRET_WORDS)


def _auth_field(name: str, spec: auth.FieldSpec) -> Schema:
    text = {"type": "string", "maxLength": auth.MAX_VALUE}
    kinds: dict[str, Schema] = {
        "str": text,
        "url": {**text, "format": "uri", "description": "An http or https URL."},
        "choice": {"type": "string", "enum": list(spec.choices)},
        "strings": {"type": "array", "items": {"type": "string"}},
        "params": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": (
                "Extra form parameters of the token request. Values of keys containing "
                f"{_SECRET_WORDS} are secrets: write-only, returned as `{auth.MASK}`."
            ),
        },
        "cache": _ref("OidcTokenCache"),
    }
    schema = dict(kinds[spec.kind])
    if spec.required and spec.kind == "str":
        schema["minLength"] = 1
    notes = [_FIELD_NOTES[name]] if name in _FIELD_NOTES else []
    if spec.secret:
        schema["format"] = "password"
        notes.append(f"Secret: write-only, returned as `{auth.MASK}`; sending `{auth.MASK}` keeps it.")
    if notes:
        schema["description"] = " ".join(notes)
    return schema


def _authentication_schemas() -> dict[str, Schema]:
    """One schema per ``authentication.type``, and their ``oneOf`` discriminated on ``type``."""
    schemas: dict[str, Schema] = {}
    mapping: dict[str, str] = {}
    for kind, fields in auth.SCHEMAS.items():
        name, description = _AUTH_TITLES[kind]
        config: Schema = {
            "type": "object",
            "properties": {field: _auth_field(field, spec) for field, spec in fields.items()},
            "additionalProperties": False,
        }
        required = [field for field, spec in fields.items() if spec.required]
        if required:
            config["required"] = required
        if kind.startswith("oidc_"):
            config["anyOf"] = [{"required": ["issuer_url"]}, {"required": ["token_url"]}]
        schemas[name] = {
            "type": "object",
            "description": description,
            "properties": {"type": {"type": "string", "const": kind}, "config": config},
            "required": ["type"],
        }
        mapping[kind] = _SCHEMAS.format(model=name)
    schemas["OidcTokenCache"] = {
        "type": "object",
        "properties": {
            "enabled": {"type": "boolean", "description": "Default `true`."},
            "refresh_before_expiry_seconds": {"type": "integer", "minimum": 0, "description": "Default 60."},
            "use_refresh_token": {"type": "boolean", "description": "Default `true`."},
        },
        "additionalProperties": False,
    }
    schemas["ExecutorAuthentication"] = {
        "description": (
            "How the executor authenticates to the service: `type` selects the `config` fields. Unknown "
            f"`config` fields are refused (400 {flk.INVALID_AUTHENTICATION_FIELD}). In responses `config` "
            "is always present and every "
            f"secret reads `{auth.MASK}`."
        ),
        "oneOf": [_ref(_AUTH_TITLES[kind][0]) for kind in auth.SCHEMAS],
        "discriminator": {"propertyName": "type", "mapping": mapping},
    }
    return schemas


def _executor_schemas() -> dict[str, Schema]:
    schemas = _pydantic_schemas(ec.ExecutorConfigInput)
    # pydantic's loose block becomes the per-type oneOf below.
    del schemas["AuthenticationInput"]
    _override(
        schemas["ExecutorConfigInput"],
        {
            "name": {
                "type": "string",
                "minLength": 1,
                "maxLength": ec.MAX_NAME,
                "description": "Unique among executor configurations (409 "
                f"{flk.EXECUTOR_CONFIG_NAME_TAKEN}); trimmed.",
            },
            "description": _nullable({"type": "string", "maxLength": ec.MAX_DESCRIPTION}),
            "baseUrl": {
                "type": "string",
                "format": "uri",
                "maxLength": ec.MAX_BASE_URL,
                "description": (
                    "An http or https URL with a host, without credentials, query or fragment; "
                    "a trailing `/` is dropped."
                ),
                "examples": ["https://kyc.example.com/api"],
            },
            "endpoints": {
                "type": "array",
                "items": _ref("EndpointInput"),
                "minItems": 1,
                "maxItems": ec.MAX_ENDPOINTS,
                "description": "Names are unique within the configuration.",
            },
            "authentication": _ref("ExecutorAuthentication"),
            "metadata": _METADATA,
        },
        description=(
            "The body of PATCH: the fields sent replace the stored ones (`authentication` as a whole; "
            f"a secret sent as `{auth.MASK}` keeps the stored one), and the result must be a complete "
            "configuration. `null` clears `description` or `metadata`."
        ),
    )
    _override(
        schemas["EndpointInput"],
        {
            "name": {"type": "string", "minLength": 1, "maxLength": ec.MAX_ENDPOINT_NAME},
            "path": {
                "type": "string",
                "minLength": 1,
                "maxLength": ec.MAX_ENDPOINT_PATH,
                "description": "Relative to `baseUrl` (a URL is refused); a leading `/` is added.",
                "examples": ["/v1/checks"],
            },
            "method": {
                "type": "string",
                "description": f"One of {', '.join(ec.METHODS)}, case-insensitive; stored upper-case.",
                "examples": ["POST"],
            },
            "timeout": _nullable(
                {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": ec.MAX_TIMEOUT_SECONDS,
                    "default": ec.DEFAULT_TIMEOUT_SECONDS,
                    "description": "Seconds.",
                }
            ),
        },
        required=["name", "path", "method"],
    )
    schemas.update(_authentication_schemas())
    schemas.update(
        {
            "ExecutorConfigCreateInput": {
                "description": "The body of create: a complete configuration.",
                "allOf": [_ref("ExecutorConfigInput")],
                "required": ["name", "baseUrl", "endpoints", "authentication"],
            },
            "ExecutorStatus": {
                "type": "string",
                "enum": [s.value for s in ec.ExecutorStatus],
                "description": "Created `active`; `disabled` takes it out of service.",
            },
            "ExecutorEndpoint": {
                "type": "object",
                "properties": {
                    "name": _STRING,
                    "path": _STRING,
                    "method": {"type": "string", "enum": list(ec.METHODS)},
                    "timeout": {"type": "integer", "description": "Seconds."},
                },
                "required": ["name", "path", "method", "timeout"],
            },
            "ExecutorConfigurationOutput": {
                "type": "object",
                "properties": {
                    "id": {"type": "string", "format": "uuid"},
                    "name": _STRING,
                    "description": _STRING,
                    "baseUrl": _STRING,
                    "endpoints": {"type": "array", "items": _ref("ExecutorEndpoint")},
                    "authentication": _ref("ExecutorAuthentication"),
                    "status": _ref("ExecutorStatus"),
                    "metadata": {"type": "object", "additionalProperties": True},
                    "createdAt": _ref("Timestamp"),
                    "updatedAt": _ref("Timestamp"),
                    "lastTestedAt": _ref("Timestamp"),
                },
                "required": [
                    "id",
                    "name",
                    "baseUrl",
                    "endpoints",
                    "authentication",
                    "status",
                    "createdAt",
                    "updatedAt",
                ],
                "description": f"A stored executor configuration; every secret reads `{auth.MASK}`.",
            },
            "ExecutorConfigurationListOutput": _page("ExecutorConfigurationOutput"),
        }
    )
    return schemas


_ANY_JSON: Schema = {"description": "Any JSON value."}
_EXECUTION_ID = {"type": "string", "format": "uuid", "description": "The execution's id."}
_WORKFLOW_ID = {"type": "string", "format": "uuid", "description": "The workflow the execution runs."}


def _execution_schemas() -> dict[str, Schema]:
    schemas = _pydantic_schemas(ExecuteInput)
    _override(
        schemas["ExecuteInput"],
        {
            "inputData": {
                "type": "object",
                "additionalProperties": True,
                "default": {},
                "description": (
                    "The execution's input, which mappings and conditions read as `workflow.<path>` "
                    "(e.g. `workflow.customer.cpf`). Bound to the `Idempotency-Key` with the workflow."
                ),
                "examples": [{"customer": {"cpf": "123.456.789-00", "name": "John Doe"}}],
            }
        },
        description=(
            f"The body of a start: a JSON object (`{{}}` at least; an empty body is 400 {flk.BAD_BODY}) "
            "whose "
            "`inputData`, when sent, is an object."
        ),
    )
    schemas.update(
        {
            "ExecutionStatus": {
                "type": "string",
                "enum": [s.value for s in ExecutionStatus],
                "description": (
                    "`pending --> running --> completed | failed | cancelled`; the last three are final. "
                    "`failed` includes an execution that passed its deadline; `cancelled` one stopped by "
                    "`POST /v1/executions/{id}/cancel`."
                ),
            },
            "ExecutionCreateOutput": {
                "type": "object",
                "properties": {
                    "executionId": _EXECUTION_ID,
                    "workflowId": _WORKFLOW_ID,
                    "status": {
                        **_ref("ExecutionStatus"),
                        "description": "`pending` when created; a replay shows the current status.",
                    },
                    "startedAt": _ref("Timestamp"),
                },
                "required": ["executionId", "workflowId", "status", "startedAt"],
            },
            "ExecutionStatusOutput": {
                "type": "object",
                "properties": {
                    "executionId": _EXECUTION_ID,
                    "workflowId": _WORKFLOW_ID,
                    "status": _ref("ExecutionStatus"),
                    "currentStepNumber": {
                        "type": "integer",
                        "minimum": 0,
                        "description": "Steps recorded so far (a provider call counts once it has ended).",
                    },
                    "totalSteps": {
                        "type": "integer",
                        "minimum": 0,
                        "description": (
                            "The workflow's nodes but the trigger, including those that a branch may skip; "
                            "so a completed execution may have run fewer."
                        ),
                    },
                    "startedAt": _ref("Timestamp"),
                    "completedAt": {**_ref("Timestamp"), "description": "Once the execution has ended."},
                    "errorMessage": {
                        "type": "string",
                        "description": (
                            'Why it failed or was cancelled, e.g. `node "<id>": <why>`, `cancelled`.'
                        ),
                    },
                },
                "required": [
                    "executionId",
                    "workflowId",
                    "status",
                    "currentStepNumber",
                    "totalSteps",
                    "startedAt",
                ],
                "description": "An execution's progress. Absent optional fields are omitted, never `null`.",
            },
            "ExecutionListOutput": _page("ExecutionStatusOutput"),
            "StepResult": {
                "type": "object",
                "properties": {
                    "stepNumber": {
                        "type": "integer",
                        "minimum": 1,
                        "description": "1-based, handed out when the node started.",
                    },
                    "stepName": {
                        "type": "string",
                        "description": "The node's name, or `<type>_<id>` when it has none.",
                    },
                    "nodeId": _STRING,
                    "status": {"type": "string", "enum": [s.value for s in StepStatus]},
                    "output": {
                        **_ANY_JSON,
                        "description": (
                            "What the node produced: for an executor node, the provider's response "
                            "`{status, headers, body}`, or what its `outputMapping` builds from it (for a "
                            "failed call, what the provider answered, if anything); for a conditional, "
                            "`{condition, result, branchTaken}`; for an action, its settings; else omitted."
                        ),
                    },
                    "errorMessage": {"type": "string", "description": "Why the step failed."},
                    "executedAt": {**_ref("Timestamp"), "description": "When the step started."},
                    "durationMs": {
                        "type": "integer",
                        "minimum": 0,
                        "description": "0 for nodes that do no I/O.",
                    },
                },
                "required": ["stepNumber", "stepName", "nodeId", "status", "executedAt", "durationMs"],
            },
            "ExecutionResultsOutput": {
                "type": "object",
                "properties": {
                    "executionId": _EXECUTION_ID,
                    "workflowId": _WORKFLOW_ID,
                    "status": {
                        "type": "string",
                        "enum": [s.value for s in ExecutionStatus if s.is_terminal],
                    },
                    "stepResults": {
                        "type": "array",
                        "items": _ref("StepResult"),
                        "description": "The steps that ran, by step number; skipped nodes are absent.",
                    },
                    "finalOutput": {
                        **_ANY_JSON,
                        "description": (
                            "Only when `completed`: the `output` of the last `set_output` action that ran, "
                            "or, when none ran, the whole context (`{workflow: <inputData>, <nodeId>: "
                            "<output>, ...}`)."
                        ),
                    },
                    "errorMessage": {"type": "string", "description": "Why it failed or was cancelled."},
                    "startedAt": _ref("Timestamp"),
                    "completedAt": _ref("Timestamp"),
                },
                "required": [
                    "executionId",
                    "workflowId",
                    "status",
                    "stepResults",
                    "startedAt",
                    "completedAt",
                ],
            },
        }
    )
    return schemas


_HEX64 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}


def _audit_schemas() -> dict[str, Schema]:
    return {
        "AuditActor": {
            "type": "object",
            "properties": {
                "type": {
                    "type": "string",
                    "enum": ["api_key", "system"],
                    "description": (
                        "`api_key` for a change made through the API; `system` for what Flowker does "
                        "itself (an execution's steps and end)."
                    ),
                },
                "id": {
                    "type": "string",
                    "description": (
                        "For `api_key`, the key's id: `key-` and 12 hex digits of its SHA-256, never the "
                        "key; for `system`, `flowker`."
                    ),
                    "examples": ["key-0123456789ab"],
                },
                "ipAddress": {
                    "type": "string",
                    "description": "The client's address as the server saw it, never `X-Forwarded-For`.",
                },
            },
            "required": ["type", "id", "ipAddress"],
        },
        "AuditEntryOutput": {
            "type": "object",
            "properties": {
                "eventId": {"type": "string", "format": "uuid"},
                "sequence": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "Position in the chain: 1, 2, 3, ... without gaps.",
                },
                "eventType": {"type": "string", "enum": list(audit.EVENT_TYPES)},
                "action": {"type": "string", "enum": [a.value for a in audit.AuditAction]},
                "result": {"type": "string", "enum": [r.value for r in audit.AuditResult]},
                "resourceType": {"type": "string", "enum": [r.value for r in audit.ResourceType]},
                "resourceId": {
                    "type": "string",
                    "format": "uuid",
                    "description": "The workflow, execution or executor configuration concerned.",
                },
                "actor": _ref("AuditActor"),
                "metadata": {
                    "type": "object",
                    "additionalProperties": True,
                    "description": (
                        "Details by event type, e.g. `workflow.name` and `workflow.status`, or an "
                        "execution's `workflowId` and `error`."
                    ),
                },
                "timestamp": _ref("Timestamp"),
                "hash": {
                    **_HEX64,
                    "description": (
                        "SHA-256 (lower-case hex) of `previousHash` (or the string "
                        f"`{audit.GENESIS}` for the first event), `|`, and the canonical JSON of this "
                        "event without `hash` and `previousHash` (keys sorted, no spaces)."
                    ),
                },
                "previousHash": {
                    "type": ["string", "null"],
                    "pattern": "^[0-9a-f]{64}$",
                    "description": "The `hash` of the event before; `null` for the first event.",
                },
            },
            "required": [
                "eventId",
                "sequence",
                "eventType",
                "action",
                "result",
                "resourceType",
                "resourceId",
                "actor",
                "metadata",
                "timestamp",
                "hash",
                "previousHash",
            ],
            "description": "One event of the append-only, hash-chained audit trail.",
        },
        "AuditListOutput": {
            "type": "object",
            "properties": {
                "items": {"type": "array", "items": _ref("AuditEntryOutput")},
                "nextCursor": {
                    "type": "string",
                    "pattern": "^[0-9]*$",
                    "description": (
                        "The `sequence` of the page's last event, in decimal: send it as `cursor` (same "
                        '`sortOrder`) for the next page; `""` on the last page.'
                    ),
                },
                "hasMore": {"type": "boolean"},
            },
            "required": ["items", "nextCursor", "hasMore"],
        },
        "HashChainVerificationOutput": {
            "type": "object",
            "properties": {
                "isValid": {"type": "boolean"},
                "totalChecked": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "From the first to the requested one, or to the first bad one.",
                },
                "message": {
                    "type": "string",
                    "description": (
                        "`hash chain is valid`, or what is wrong with the first bad event: a sequence gap, "
                        "a `previousHash` that is not the hash of the event before, or a `hash` that does "
                        "not match the event's content."
                    ),
                },
                "firstInvalidId": {
                    "type": "string",
                    "format": "uuid",
                    "description": "When not valid: the `eventId` of the first bad event.",
                },
                "firstInvalidSequence": {
                    "type": "integer",
                    "description": "When not valid: that event's `sequence`.",
                },
            },
            "required": ["isValid", "totalChecked", "message"],
        },
    }


_STAGES = ("connectivity", "authentication", "end_to_end")


def _executor_test_schemas() -> dict[str, Schema]:
    return {
        "ExecutorTestStageDetails": {
            "type": "object",
            "properties": {
                "url": {"type": "string", "description": "The URL called, without its query string."},
                "method": {"type": "string", "enum": ["GET", "HEAD"]},
                "statusCode": {"type": "integer", "description": "When the service answered."},
            },
            "required": ["url", "method"],
        },
        "ExecutorTestStage": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "enum": list(_STAGES)},
                "status": {"type": "string", "enum": ["passed", "failed", "skipped"]},
                "durationMs": {"type": "integer", "minimum": 0},
                "message": {
                    "type": "string",
                    "description": (
                        "`HTTP <status>`, `no answer: <error type>` when the service could not be reached, "
                        "or why the stage was skipped."
                    ),
                    "examples": ["HTTP 200", "no answer: ClientConnectorError"],
                },
                "details": {**_ref("ExecutorTestStageDetails"), "description": "For a stage that ran."},
            },
            "required": ["name", "status", "durationMs", "message"],
        },
        "ExecutorTestOutput": {
            "type": "object",
            "properties": {
                "executorConfigId": {"type": "string", "format": "uuid"},
                "overallStatus": {
                    "type": "string",
                    "enum": ["passed", "failed", "partial"],
                    "description": (
                        "`passed` when no stage failed, `failed` when none passed, `partial` otherwise."
                    ),
                },
                "durationMs": {"type": "integer", "minimum": 0},
                "stages": {
                    "type": "array",
                    "items": _ref("ExecutorTestStage"),
                    "minItems": len(_STAGES),
                    "maxItems": len(_STAGES),
                    "description": "Always the three stages, in order.",
                },
                "summary": {"type": "string"},
                "startedAt": _ref("Timestamp"),
                "completedAt": {
                    **_ref("Timestamp"),
                    "description": "Also the configuration's new `lastTestedAt`.",
                },
            },
            "required": [
                "executorConfigId",
                "overallStatus",
                "durationMs",
                "stages",
                "summary",
                "startedAt",
                "completedAt",
            ],
        },
    }


def _system_schemas() -> dict[str, Schema]:
    return {
        "HealthResponse": {
            "type": "object",
            "properties": {
                "status": {"type": "string", "const": "healthy"},
                "version": _STRING,
                "uptime": {"type": "number", "description": "Seconds since the service started."},
                "timestamp": _ref("Timestamp"),
            },
            "required": ["status", "version", "uptime", "timestamp"],
        },
        "ReadinessCheck": {
            "type": "object",
            "properties": {
                "status": {"type": "string", "enum": ["up", "down"]},
                "latency_ms": {"type": "number", "description": "When up."},
                "error": {"type": "string", "description": "When down: a timeout or the error's type."},
            },
            "required": ["status"],
        },
        "ReadinessResponse": {
            "type": "object",
            "properties": {
                "status": {
                    "type": "string",
                    "enum": ["healthy", "unhealthy", "draining"],
                    "description": "`draining` while the service shuts down (then `checks` is empty).",
                },
                "checks": {
                    "type": "object",
                    "additionalProperties": _ref("ReadinessCheck"),
                    "description": "By dependency, e.g. `store`.",
                },
                "version": _STRING,
            },
            "required": ["status", "checks", "version"],
        },
        "VersionResponse": {
            "type": "object",
            "properties": {"version": _STRING, "requestDate": _ref("Timestamp")},
            "required": ["version", "requestDate"],
        },
    }


def _schemas() -> dict[str, Schema]:
    schemas: dict[str, Schema] = {
        "ErrorResponse": {
            "type": "object",
            "properties": {
                "code": {
                    "type": "string",
                    "description": f"Stable: `FLK-NNNN`, `{flk.UNAUTHORIZED}` or `{flk.INVALID_CURSOR}`.",
                    "examples": [f"{flk.WORKFLOW_NOT_FOUND}"],
                },
                "title": {
                    "type": "string",
                    "description": "The HTTP reason phrase of the status.",
                    "examples": ["Not Found"],
                },
                "message": {"type": "string", "examples": [f"workflow {_ID_EXAMPLE} not found"]},
            },
            "required": ["code", "title", "message"],
            "additionalProperties": False,
        },
        "Timestamp": _TIMESTAMP,
    }
    for part in (
        _workflow_schemas(),
        _executor_schemas(),
        _executor_test_schemas(),
        _execution_schemas(),
        _audit_schemas(),
        _system_schemas(),
    ):
        clash = set(part) & set(schemas)
        if clash:
            raise ValueError(f"two schemas named {', '.join(sorted(clash))}")
        schemas.update(part)
    return dict(sorted(schemas.items()))


# --- parameters and shared responses --------------------------------------------------------------


def _id_parameter(what: str) -> Schema:
    return {
        "name": "id",
        "in": "path",
        "required": True,
        "description": f"The {what}'s id; anything but a UUID is 400 {flk.INVALID_UUID}.",
        "schema": {"type": "string", "format": "uuid"},
    }


def _status_parameter(values: list[str]) -> Schema:
    return {
        "name": "status",
        "in": "query",
        "required": False,
        "description": "Only items with this status.",
        "schema": {"type": "string", "enum": values},
    }


def _query(name: str, schema: Schema, description: str) -> Schema:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


def _execution_parameters() -> dict[str, Schema]:
    return {
        "ExecutionId": _id_parameter("execution"),
        "StartWorkflowId": {
            "name": "workflowId",
            "in": "path",
            "required": True,
            "description": f"The id of the workflow to run; anything but a UUID is 400 {flk.INVALID_UUID}.",
            "schema": {"type": "string", "format": "uuid"},
        },
        "PreferWait": {
            "name": "Prefer",
            "in": "header",
            "required": False,
            "description": (
                "`wait=N` (seconds, up to 60; larger values count as 60): answer `200` with the results "
                "if the execution ends within N seconds. Other preferences are ignored."
            ),
            "schema": {"type": "string", "examples": ["wait=10"]},
        },
        "IdempotencyKey": {
            "name": "Idempotency-Key",
            "in": "header",
            "required": True,
            "description": (
                f"1 to {MAX_IDEMPOTENCY_KEY} printable ASCII characters without spaces (surrounding spaces "
                f"are trimmed); missing or otherwise is 400 {flk.INVALID_IDEMPOTENCY_KEY}. The same key "
                "with the same workflow "
                "and `inputData` returns the execution it started; with another workflow or input it is "
                f"409 {flk.IDEMPOTENCY_KEY_REUSED}. A UUID per business operation is a good key."
            ),
            "schema": {
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_IDEMPOTENCY_KEY,
                "pattern": "^[!-~]+$",
            },
        },
        "ExecutionWorkflowFilter": _query(
            "workflowId",
            {"type": "string", "format": "uuid"},
            f"Only executions of this workflow; anything but a UUID is 400 {flk.INVALID_UUID}.",
        ),
        "ExecutionStatusFilter": _status_parameter([s.value for s in ExecutionStatus]),
        "ExecutionSortBy": _query(
            "sortBy",
            {"type": "string", "enum": list(EXECUTION_SORT_FIELDS), "default": EXECUTION_SORT_FIELDS[0]},
            "`completedAt` lists only executions that have ended.",
        ),
    }


def _audit_parameters() -> dict[str, Schema]:
    return {
        "AuditEventId": {
            **_id_parameter("audit event"),
            "description": f"The event's `eventId`; anything but a UUID is 400 {flk.INVALID_UUID}.",
        },
        "AuditEventType": _query(
            "eventType",
            {"type": "string", "enum": list(audit.EVENT_TYPES)},
            f"Only events of this type; another value is 400 {flk.UNKNOWN_EVENT_TYPE}.",
        ),
        "AuditAction": _query(
            "action",
            {"type": "string", "enum": [a.value for a in audit.AuditAction]},
            f"Only events of this action; another value is 400 {flk.UNKNOWN_AUDIT_ACTION}.",
        ),
        "AuditResult": _query(
            "result",
            {"type": "string", "enum": [r.value for r in audit.AuditResult]},
            f"Only events with this result; another value is 400 {flk.UNKNOWN_AUDIT_RESULT}.",
        ),
        "AuditResourceType": _query(
            "resourceType",
            {"type": "string", "enum": [r.value for r in audit.ResourceType]},
            f"Only events about this kind of resource; another value is 400 {flk.UNKNOWN_RESOURCE_TYPE}.",
        ),
        "AuditResourceId": _query(
            "resourceId",
            {"type": "string", "format": "uuid"},
            f"Only events about this resource; anything but a UUID is 400 {flk.INVALID_UUID}.",
        ),
        "AuditDateFrom": _query(
            "dateFrom",
            {"type": "string", "format": "date-time"},
            "Only events at or after this RFC 3339 date-time (UTC when it has no offset); a bad value is "
            f"400 {flk.INVALID_DATE}, one after `dateTo` 400 {flk.DATE_RANGE_REVERSED}.",
        ),
        "AuditDateTo": _query(
            "dateTo",
            {"type": "string", "format": "date-time"},
            "Only events at or before this RFC 3339 date-time (UTC when it has no offset); a bad value is "
            f"400 {flk.INVALID_DATE}.",
        ),
        "AuditLimit": _query(
            "limit",
            {
                "type": "integer",
                "minimum": 1,
                "maximum": audit_trail.MAX_LIMIT,
                "default": audit_trail.DEFAULT_LIMIT,
            },
            "Events per page.",
        ),
        "AuditCursor": _query(
            "cursor",
            {"type": "string", "pattern": "^[0-9]{1,18}$"},
            "`nextCursor` of the previous page (a sequence number), with the same `sortOrder`; "
            f"anything but a decimal number is 400 {flk.INVALID_AUDIT_CURSOR}.",
        ),
        "AuditSortOrder": _query(
            "sortOrder",
            {"type": "string", "enum": ["ASC", "DESC"], "default": "DESC"},
            "By `sequence`: `DESC` (newest first) by default; case-insensitive.",
        ),
    }


def _parameters() -> dict[str, Schema]:
    return {
        **_execution_parameters(),
        **_audit_parameters(),
        "XRequestId": {
            "name": "X-Request-Id",
            "in": "header",
            "required": False,
            "description": "Echoed in the response's `X-Request-Id`; other values give a new UUID.",
            "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"},
        },
        "WorkflowId": _id_parameter("workflow"),
        "ExecutorConfigId": _id_parameter("executor configuration"),
        "WorkflowStatusFilter": _status_parameter([s.value for s in WorkflowStatus]),
        "ExecutorStatusFilter": _status_parameter([s.value for s in ec.ExecutorStatus]),
        "Limit": {
            "name": "limit",
            "in": "query",
            "required": False,
            "description": "Items per page.",
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
        },
        "Cursor": {
            "name": "cursor",
            "in": "query",
            "required": False,
            "description": "`nextCursor` of the previous page, with the same `sortBy` and `sortOrder`.",
            "schema": {"type": "string"},
        },
        "SortBy": {
            "name": "sortBy",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "enum": list(SORT_FIELDS), "default": "createdAt"},
        },
        "SortOrder": {
            "name": "sortOrder",
            "in": "query",
            "required": False,
            "description": "Case-insensitive.",
            "schema": {"type": "string", "enum": ["ASC", "DESC"], "default": "DESC"},
        },
    }


def _shared_responses() -> dict[str, Schema]:
    return {
        "Unauthorized": _error(
            "`X-API-Key` missing or not one of the configured keys", [f"`{flk.UNAUTHORIZED}`"]
        ),
        "MethodNotAllowed": _error(
            "The path exists but does not support the method (any path of this API)",
            [f"`{flk.METHOD_OR_ORIGIN_NOT_ALLOWED}`"],
        ),
        "PayloadTooLarge": _error(
            "The body exceeds the configured limit (`FLOWKER_MAX_BODY_BYTES`, 1 MiB by default)",
            [f"`{flk.BODY_TOO_LARGE}`"],
        ),
        "InternalError": _error(
            "A bug; the message carries no details, the `X-Request-Id` finds it in the server log",
            [f"`{flk.INTERNAL_ERROR}`"],
        ),
    }


# --- paths ----------------------------------------------------------------------------------------

_TOO_LARGE = {"413": _component("responses", "PayloadTooLarge")}
_LIST_PARAMETERS = [_component("parameters", name) for name in ("Limit", "Cursor", "SortBy", "SortOrder")]


def _system_paths() -> dict[str, Schema]:
    return {
        "/health": {
            "get": _operation(
                "getHealth",
                "Liveness",
                TAG_SYSTEM,
                "The process answers. Checks no dependency (see `/readyz`).",
                {"200": _ok("Alive.", _ref("HealthResponse"))},
                public=True,
            )
        },
        "/readyz": {
            "get": _operation(
                "getReadiness",
                "Readiness",
                TAG_SYSTEM,
                "Every dependency answers within its timeout. 503 when one does not, or while the "
                "service drains before shutting down.",
                {"200": _ok("Every dependency is up.", _ref("ReadinessResponse"))},
                {"503": _ok("A dependency is down, or the service is draining.", _ref("ReadinessResponse"))},
                public=True,
            )
        },
        "/version": {
            "get": _operation(
                "getVersion",
                "Version",
                TAG_SYSTEM,
                "The running version.",
                {"200": _ok("The version.", _ref("VersionResponse"))},
                public=True,
            )
        },
        "/openapi.json": {
            "get": _operation(
                "getOpenApiDocument",
                "OpenAPI document",
                TAG_SYSTEM,
                "This document.",
                {"200": _ok("An OpenAPI 3.1 document.", {"type": "object"})},
                public=True,
            )
        },
    }


def _workflow_paths() -> dict[str, Schema]:
    workflow_id = _component("parameters", "WorkflowId")
    not_found = {"404": _error("No such workflow", [f"`{flk.WORKFLOW_NOT_FOUND}` workflow not found"])}
    state_changed = f"`{flk.STATE_CHANGED}` the workflow changed concurrently; read it again and retry"
    bad_id = {"400": _error("Invalid request", [BAD_ID])}
    workflow = _ok("The workflow.", _ref("WorkflowOutput"))
    created = _ok("Created as a draft.", _ref("WorkflowCreateOutput"))
    definition = _ref("WorkflowDefinition")

    def transition(
        action: str, summary: str, source: str, target: str, extra: Mapping[str, Schema]
    ) -> Schema:
        errors: dict[str, Schema] = {
            **bad_id,
            **not_found,
            "409": _error("Conflict", [state_changed]),
            "422": _error(
                "Not allowed in the workflow's status",
                [f"`{flk.WORKFLOW_TRANSITION_NOT_ALLOWED}` the workflow is not {source}"],
            ),
            **extra,
        }
        return _operation(
            f"{action}Workflow",
            summary,
            TAG_WORKFLOWS,
            f"Move a workflow from {source} to {target}.",
            {"200": _ok(f"The workflow, now {target}.", _ref("WorkflowOutput"))},
            errors,
            parameters=[workflow_id],
        )

    activation_errors = {
        "400": _error(
            "Invalid request or incomplete graph",
            [
                BAD_ID,
                f"`{flk.INVALID_CONDITION}` a conditional node has no condition",
                f"`{flk.CONDITIONAL_EDGE_WITHOUT_HANDLE}` an edge leaving a conditional node has no "
                "`sourceHandle` `true` or `false`",
                f"`{flk.EXECUTOR_CONFIG_ID_REQUIRED}` an executor node has no `executorConfigId`",
                f"`{flk.UNKNOWN_ENDPOINT}` an executor node's `endpointName` is not an endpoint of its "
                "configuration",
                f"`{flk.MISREADABLE_NODE_ID}` a draft saved before node ids were checked has one that paths "
                "would misread",
            ],
        ),
        "404": _error(
            "No such workflow or executor configuration",
            [
                f"`{flk.WORKFLOW_NOT_FOUND}` workflow not found",
                f"`{flk.UNKNOWN_EXECUTOR_REFERENCE}` an executor node names an executor configuration that "
                "does not exist",
            ],
        ),
        "409": _error(
            "Conflict",
            [
                f"{state_changed} (including an executor configuration it uses being disabled or "
                "deleted meanwhile)"
            ],
        ),
        "422": _error(
            "Not allowed in the workflow's status, or not executable",
            [
                f"`{flk.WORKFLOW_TRANSITION_NOT_ALLOWED}` the workflow is not a draft",
                f"`{flk.WORKFLOW_WITHOUT_NODES}` the workflow has no nodes",
                f"`{flk.NOT_ONE_TRIGGER}` the workflow has no trigger node or more than one",
                f"`{flk.CYCLE_OR_EDGE_TO_TRIGGER}` an edge points at the trigger node, or the graph has a "
                "cycle",
                f"`{flk.EXECUTOR_CONFIG_DISABLED}` an executor node's configuration is disabled",
            ],
        ),
    }
    activate = transition("activate", "Activate a workflow", "draft", "active", activation_errors)
    activate["description"] = (
        "Check the whole graph (exactly one trigger, no cycle, every executor node bound to an "
        "active executor configuration and one of its endpoints) and make the draft executable."
    )

    return {
        "/v1/workflows": {
            "post": _operation(
                "createWorkflow",
                "Create a workflow",
                TAG_WORKFLOWS,
                "Save a new workflow as a draft.",
                {"201": created},
                {
                    "400": _error("Invalid definition", WORKFLOW_DRAFT_CODES),
                    "404": _error("Unknown executor", [CATALOG_EXECUTOR]),
                    "409": _error(
                        "Conflict", [f"`{flk.WORKFLOW_NAME_TAKEN}` a workflow with this name exists"]
                    ),
                    **_TOO_LARGE,
                },
                body=definition,
                body_description="The workflow definition.",
            ),
            "get": _operation(
                "listWorkflows",
                "List workflows",
                TAG_WORKFLOWS,
                "One page of workflows.",
                {"200": _ok("A page of workflows.", _ref("WorkflowListOutput"))},
                {"400": _error("Invalid query", LIST_CODES)},
                parameters=[_component("parameters", "WorkflowStatusFilter"), *_LIST_PARAMETERS],
            ),
        },
        "/v1/workflows/{id}": {
            "get": _operation(
                "getWorkflow",
                "Get a workflow",
                TAG_WORKFLOWS,
                "The workflow with its full definition.",
                {"200": workflow},
                {**bad_id, **not_found},
                parameters=[workflow_id],
            ),
            "put": _operation(
                "replaceWorkflow",
                "Replace a draft workflow",
                TAG_WORKFLOWS,
                "Replace a draft's whole definition (fields not sent are cleared); only drafts are editable.",
                {"200": workflow},
                {
                    "400": _error("Invalid request or definition", [BAD_ID, *WORKFLOW_DRAFT_CODES]),
                    "404": _error(
                        "No such workflow or executor",
                        [f"`{flk.WORKFLOW_NOT_FOUND}` workflow not found", CATALOG_EXECUTOR],
                    ),
                    "409": _error(
                        "Conflict",
                        [f"`{flk.WORKFLOW_NAME_TAKEN}` another workflow has this name", state_changed],
                    ),
                    "422": _error(
                        "Not a draft",
                        [
                            f"`{flk.WORKFLOW_NOT_EDITABLE}` the workflow is active or inactive; move it to "
                            "draft first"
                        ],
                    ),
                    **_TOO_LARGE,
                },
                parameters=[workflow_id],
                body=definition,
                body_description="The new definition.",
            ),
            "delete": _operation(
                "deleteWorkflow",
                "Delete a workflow",
                TAG_WORKFLOWS,
                "Delete a draft or inactive workflow.",
                {"204": _ok("Deleted.")},
                {
                    **bad_id,
                    **not_found,
                    "409": _error("Conflict", [state_changed]),
                    "422": _error(
                        "Active", [f"`{flk.WORKFLOW_NOT_EDITABLE}` an active workflow cannot be deleted"]
                    ),
                },
                parameters=[workflow_id],
            ),
        },
        "/v1/workflows/{id}/clone": {
            "post": _operation(
                "cloneWorkflow",
                "Clone a workflow",
                TAG_WORKFLOWS,
                "A new draft with the workflow's description, nodes, edges and metadata, under a new name. "
                "Works from any status.",
                {"201": created},
                {
                    "400": _error(
                        "Invalid request", [BAD_ID, BAD_BODY, WRONG_TYPE, TOO_DEEP, *WORKFLOW_NAME_CODES]
                    ),
                    **not_found,
                    "409": _error(
                        "Conflict", [f"`{flk.WORKFLOW_NAME_TAKEN}` a workflow with this name exists"]
                    ),
                    **_TOO_LARGE,
                },
                parameters=[workflow_id],
                body=_ref("CloneWorkflowInput"),
                body_description="The name of the copy.",
            )
        },
        "/v1/workflows/{id}/activate": {"post": activate},
        "/v1/workflows/{id}/deactivate": {
            "post": transition("deactivate", "Deactivate a workflow", "active", "inactive", {})
        },
        "/v1/workflows/{id}/draft": {
            "post": transition("draft", "Move a workflow back to draft", "inactive", "draft", {})
        },
    }


def _executor_paths() -> dict[str, Schema]:
    config_id = _component("parameters", "ExecutorConfigId")
    not_found = {
        "404": _error(
            "No such executor configuration",
            [f"`{flk.EXECUTOR_CONFIG_NOT_FOUND}` executor configuration not found"],
        )
    }
    state_changed = f"`{flk.STATE_CHANGED}` the configuration changed concurrently; read it again and retry"
    bad_id = {"400": _error("Invalid request", [BAD_ID])}
    config = _ok("The executor configuration, secrets masked.", _ref("ExecutorConfigurationOutput"))

    def toggle(action: str, source: str, target: str, description: str) -> Schema:
        return _operation(
            f"{action}Executor",
            f"{action.capitalize()} an executor configuration",
            TAG_EXECUTORS,
            description,
            {"200": _ok(f"The configuration, now {target}.", _ref("ExecutorConfigurationOutput"))},
            {
                **bad_id,
                **not_found,
                "409": _error("Conflict", [state_changed]),
                "422": _error(
                    "Not allowed in its status",
                    [f"`{flk.EXECUTOR_CONFIG_NOT_ALLOWED}` the configuration is not {source}"],
                ),
            },
            parameters=[config_id],
        )

    return {
        "/v1/executors": {
            "post": _operation(
                "createExecutor",
                "Create an executor configuration",
                TAG_EXECUTORS,
                "Save a new configuration, `active` at once. Secrets are encrypted before they are stored.",
                {"201": _ok("Created; secrets masked.", _ref("ExecutorConfigurationOutput"))},
                {
                    "400": _error("Invalid configuration", EXECUTOR_CONFIG_CODES),
                    "409": _error(
                        "Conflict",
                        [
                            f"`{flk.EXECUTOR_CONFIG_NAME_TAKEN}` an executor configuration with this name "
                            "exists"
                        ],
                    ),
                    **_TOO_LARGE,
                },
                body=_ref("ExecutorConfigCreateInput"),
                body_description="The configuration.",
            ),
            "get": _operation(
                "listExecutors",
                "List executor configurations",
                TAG_EXECUTORS,
                "One page of executor configurations, secrets masked.",
                {"200": _ok("A page of configurations.", _ref("ExecutorConfigurationListOutput"))},
                {"400": _error("Invalid query", LIST_CODES)},
                parameters=[_component("parameters", "ExecutorStatusFilter"), *_LIST_PARAMETERS],
            ),
        },
        "/v1/executors/{id}": {
            "get": _operation(
                "getExecutor",
                "Get an executor configuration",
                TAG_EXECUTORS,
                "The configuration, secrets masked.",
                {"200": config},
                {**bad_id, **not_found},
                parameters=[config_id],
            ),
            "patch": _operation(
                "patchExecutor",
                "Update an executor configuration",
                TAG_EXECUTORS,
                "Change the fields sent; the result is checked as a whole. An endpoint that an active "
                "workflow calls cannot be removed.",
                {"200": config},
                {
                    "400": _error("Invalid request or configuration", [BAD_ID, *EXECUTOR_CONFIG_CODES]),
                    **not_found,
                    "409": _error(
                        "Conflict",
                        [
                            f"`{flk.EXECUTOR_CONFIG_NAME_TAKEN}` another executor configuration has this "
                            "name",
                            state_changed,
                        ],
                    ),
                    "422": _error(
                        "In use",
                        [
                            f"`{flk.EXECUTOR_CONFIG_NOT_ALLOWED}` a removed endpoint is called by an active "
                            "workflow"
                        ],
                    ),
                    **_TOO_LARGE,
                },
                parameters=[config_id],
                body=_ref("ExecutorConfigInput"),
                body_description="The fields to change.",
            ),
            "delete": _operation(
                "deleteExecutor",
                "Delete an executor configuration",
                TAG_EXECUTORS,
                "Delete a configuration that no active workflow uses.",
                {"204": _ok("Deleted.")},
                {
                    **bad_id,
                    **not_found,
                    "409": _error("Conflict", [state_changed]),
                    "422": _error(
                        "In use",
                        [f"`{flk.EXECUTOR_CONFIG_NOT_ALLOWED}` an active workflow uses the configuration"],
                    ),
                },
                parameters=[config_id],
            ),
        },
        "/v1/executors/{id}/disable": {
            "post": toggle(
                "disable",
                "active",
                "disabled",
                "Take an active configuration out of service; workflows using it can no longer be activated.",
            )
        },
        "/v1/executors/{id}/enable": {
            "post": toggle("enable", "disabled", "active", "Put a disabled configuration back in service.")
        },
        "/v1/executors/{id}/test": {
            "post": _operation(
                "testExecutor",
                "Test an executor configuration",
                TAG_EXECUTORS,
                EXECUTOR_TEST_DESCRIPTION,
                {"200": _ok("The test ran (whatever its outcome).", _ref("ExecutorTestOutput"))},
                {**bad_id, **not_found},
                parameters=[config_id],
            )
        },
    }


def _execution_paths() -> dict[str, Schema]:
    execution_id = _component("parameters", "ExecutionId")
    not_found = {"404": _error("No such execution", [f"`{flk.EXECUTION_NOT_FOUND}` execution not found"])}
    bad_id = {"400": _error("Invalid request", [BAD_ID])}
    started = "The execution: `executionId`, `workflowId`, `status`, `startedAt`."
    return {
        "/v1/workflows/{workflowId}/executions": {
            "post": _operation(
                "startExecution",
                "Start an execution",
                TAG_EXECUTIONS,
                "Run an active workflow on `inputData`, in the background. The answer comes once the "
                "execution is durably recorded: poll `GET /v1/executions/{id}` for its progress.\n\n"
                "The `Idempotency-Key` makes a retry safe: the same key with the same workflow and input "
                "answers the execution it already started (`201` while it has not ended, `200` once it "
                "has; the workflow need no longer be active), with another workflow or input `409 "
                f"{flk.IDEMPOTENCY_KEY_REUSED}`. The execution runs the definition the workflow has now, "
                "even if the workflow "
                "is deactivated or edited meanwhile.\n\n"
                "With `Prefer: wait=N` (RFC 7240, N up to 60 seconds) the answer waits: when the execution "
                "ends within N seconds it is `200` with the results document and `Preference-Applied`; "
                "otherwise the usual `201`.",
                {
                    "201": _ok(
                        f"Started (`pending`), or a replay of an execution that has not ended yet. {started}",
                        _ref("ExecutionCreateOutput"),
                    ),
                    "200": _ok(
                        f"A replay of an execution that has ended (same key, workflow and input): {started} "
                        "Or, with `Prefer: wait=N`, the results document of an execution that ended in time.",
                        {"oneOf": [_ref("ExecutionCreateOutput"), _ref("ExecutionResultsOutput")]},
                    ),
                },
                {
                    "400": _error(
                        "Invalid request",
                        [
                            f"`{flk.INVALID_UUID}` `workflowId` is not a UUID",
                            BAD_BODY,
                            f"`{flk.WRONG_FIELD_TYPE}` `inputData` is not a JSON object",
                            TOO_DEEP,
                            f"`{flk.INVALID_IDEMPOTENCY_KEY}` the `Idempotency-Key` header is missing, "
                            "longer than "
                            f"{MAX_IDEMPOTENCY_KEY} characters, or not printable ASCII",
                        ],
                    ),
                    "404": _error("No such workflow", [f"`{flk.WORKFLOW_NOT_FOUND}` workflow not found"]),
                    "409": _error(
                        "Idempotency conflict",
                        [
                            f"`{flk.IDEMPOTENCY_KEY_REUSED}` the `Idempotency-Key` was used for another "
                            "workflow or input"
                        ],
                    ),
                    **_TOO_LARGE,
                    "422": _error(
                        "Not executable",
                        [f"`{flk.WORKFLOW_NOT_ACTIVE}` the workflow is not active (draft or inactive)"],
                    ),
                },
                parameters=[
                    _component("parameters", "StartWorkflowId"),
                    _component("parameters", "IdempotencyKey"),
                    _component("parameters", "PreferWait"),
                ],
                body=_ref("ExecuteInput"),
                body_description="The input of the execution; `{}` runs it on an empty input.",
            )
        },
        "/v1/executions": {
            "get": _operation(
                "listExecutions",
                "List executions",
                TAG_EXECUTIONS,
                "One page of executions, newest first by default.",
                {"200": _ok("A page of executions.", _ref("ExecutionListOutput"))},
                {
                    "400": _error(
                        "Invalid query",
                        [f"`{flk.INVALID_UUID}` `workflowId` is not a UUID", *LIST_CODES],
                    )
                },
                parameters=[
                    _component("parameters", "ExecutionWorkflowFilter"),
                    _component("parameters", "ExecutionStatusFilter"),
                    _component("parameters", "Limit"),
                    _component("parameters", "Cursor"),
                    _component("parameters", "ExecutionSortBy"),
                    _component("parameters", "SortOrder"),
                ],
            )
        },
        "/v1/executions/{id}": {
            "get": _operation(
                "getExecution",
                "Get an execution's status",
                TAG_EXECUTIONS,
                "Where the execution stands; poll it until its status is final.",
                {"200": _ok("The execution's progress.", _ref("ExecutionStatusOutput"))},
                {**bad_id, **not_found},
                parameters=[execution_id],
            )
        },
        "/v1/executions/{id}/results": {
            "get": _operation(
                "getExecutionResults",
                "Get an execution's results",
                TAG_EXECUTIONS,
                "Every step that ran, and the final output of a completed execution. Exists once the "
                "execution has ended (`completed`, `failed` or `cancelled`).",
                {"200": _ok("The results.", _ref("ExecutionResultsOutput"))},
                {
                    **bad_id,
                    **not_found,
                    "422": _error(
                        "Not ended",
                        [f"`{flk.EXECUTION_NOT_ENDED}` the execution is still `pending` or `running`"],
                    ),
                },
                parameters=[execution_id],
            )
        },
        "/v1/executions/{id}/cancel": {
            "post": _operation(
                "cancelExecution",
                "Cancel an execution",
                TAG_EXECUTIONS,
                "Ask the execution to stop; takes no body. A `pending` execution is `cancelled` at once. "
                "A `running` one stops before its next step: provider calls in flight finish and are "
                "recorded, no new step starts, and it then ends `cancelled` (or `failed`, when a call in "
                "flight fails); poll `GET /v1/executions/{id}` to see it.",
                {
                    "202": _ok(
                        "Accepted: the execution as it stands, `cancelled` when it had not started yet, "
                        "otherwise usually still `running`.",
                        _ref("ExecutionStatusOutput"),
                    )
                },
                {
                    **bad_id,
                    **not_found,
                    "422": _error(
                        "Already ended",
                        [
                            f"`{flk.EXECUTION_ALREADY_ENDED}` the execution is already `completed`, "
                            "`failed` or `cancelled`"
                        ],
                    ),
                },
                parameters=[execution_id],
            )
        },
    }


def _audit_paths() -> dict[str, Schema]:
    event_id = _component("parameters", "AuditEventId")
    not_found = {
        "404": _error("No such audit event", [f"`{flk.AUDIT_EVENT_NOT_FOUND}` audit event not found"])
    }
    bad_id = {"400": _error("Invalid request", [BAD_ID])}
    return {
        "/v1/audit-events": {
            "get": _operation(
                "listAuditEvents",
                "Search the audit trail",
                TAG_AUDIT,
                "One page of audit events matching every filter given, by `sequence` (newest first by "
                "default).",
                {"200": _ok("A page of events.", _ref("AuditListOutput"))},
                {
                    "400": _error(
                        "Invalid query",
                        [
                            f"`{flk.UNKNOWN_EVENT_TYPE}` `eventType` is not one of its values",
                            f"`{flk.UNKNOWN_AUDIT_ACTION}` `action` is not one of its values",
                            f"`{flk.UNKNOWN_AUDIT_RESULT}` `result` is not `SUCCESS` or `FAILED`",
                            f"`{flk.UNKNOWN_RESOURCE_TYPE}` `resourceType` is not one of its values",
                            f"`{flk.INVALID_UUID}` `resourceId` is not a UUID",
                            f"`{flk.INVALID_DATE}` `dateFrom` or `dateTo` is not an RFC 3339 date-time",
                            f"`{flk.DATE_RANGE_REVERSED}` `dateFrom` is after `dateTo`",
                            f"`{flk.INVALID_LIMIT}` `limit` is not a whole number from 1 to "
                            f"{audit_trail.MAX_LIMIT}",
                            f"`{flk.INVALID_SORT_ORDER}` `sortOrder` is not `ASC` or `DESC`",
                            f"`{flk.INVALID_AUDIT_CURSOR}` `cursor` is not a decimal sequence number",
                        ],
                    )
                },
                parameters=[
                    _component("parameters", name)
                    for name in (
                        "AuditEventType",
                        "AuditAction",
                        "AuditResult",
                        "AuditResourceType",
                        "AuditResourceId",
                        "AuditDateFrom",
                        "AuditDateTo",
                        "AuditLimit",
                        "AuditCursor",
                        "AuditSortOrder",
                    )
                ],
            )
        },
        "/v1/audit-events/{id}": {
            "get": _operation(
                "getAuditEvent",
                "Get an audit event",
                TAG_AUDIT,
                "One event, with its hashes.",
                {"200": _ok("The event.", _ref("AuditEntryOutput"))},
                {**bad_id, **not_found},
                parameters=[event_id],
            )
        },
        "/v1/audit-events/{id}/verify": {
            "get": _operation(
                "verifyAuditEvent",
                "Verify the hash chain up to an event",
                TAG_AUDIT,
                "Recompute every hash from the first event up to this one: each event's `sequence` must "
                "follow the one before, its `previousHash` must be the `hash` of the event before "
                f"(`null` for the first), and its `hash` must be the SHA-256 of that `previousHash` (or "
                f"`{audit.GENESIS}` for the first event), `|`, and the canonical JSON of the event without "
                "its two hashes (keys sorted, no spaces). Answers which event breaks the chain first, if "
                "any; a broken chain is still a `200`.",
                {"200": _ok("The verification's outcome.", _ref("HashChainVerificationOutput"))},
                {**bad_id, **not_found},
                parameters=[event_id],
            )
        },
    }


EXECUTOR_TEST_DESCRIPTION = """\
Check that the service the configuration describes can be reached and accepts its credentials,
without executing anything. Three stages run in order, each with a 10 s timeout; a failed stage
skips the ones after it:

1. `connectivity`: `GET baseUrl` without credentials; passes on any answer below 500.
2. `authentication`: `GET baseUrl` with the credentials; passes unless the answer is 401 or 403.
   Skipped when `authentication.type` is `none`.
3. `end_to_end`: calls the configuration's first `GET` or `HEAD` endpoint, with credentials and
   without a body; passes on a 2xx answer. It **only ever calls a GET or HEAD endpoint**, never one
   that may change data (`POST`, `PUT`, `PATCH`, `DELETE`), so a test cannot create a payment: a
   configuration without such an endpoint has this stage skipped.

An unreachable service is a result, not an error: the answer is still `200`, with the stage
`failed` and `message` `no answer: <error type>`. A disabled configuration can be tested too. The
test changes nothing but the configuration's `lastTestedAt`, which it sets to `completedAt`.
"""


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document served at ``/openapi.json``, built once (callers must not mutate it)."""
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
        "tags": [
            {"name": TAG_SYSTEM, "description": "Public probes and this document."},
            {"name": TAG_WORKFLOWS, "description": "Workflow definitions and their lifecycle."},
            {"name": TAG_EXECUTORS, "description": "The external services that executor nodes call."},
            {
                "name": TAG_EXECUTIONS,
                "description": "Runs of active workflows: start, follow, results, cancel.",
            },
            {"name": TAG_AUDIT, "description": "The append-only, hash-chained audit trail."},
        ],
        "paths": {
            **_system_paths(),
            **_workflow_paths(),
            **_executor_paths(),
            **_execution_paths(),
            **_audit_paths(),
        },
        "components": {
            "securitySchemes": {
                "ApiKeyAuth": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-API-Key",
                    "description": "One of the configured API keys; required on every `/v1` route.",
                }
            },
            "schemas": _schemas(),
            "parameters": _parameters(),
            "headers": {
                "XRequestId": {
                    "description": "The request's id: its own `X-Request-Id` when sane, else a new UUID.",
                    "schema": {"type": "string"},
                }
            },
            "responses": _shared_responses(),
        },
    }
