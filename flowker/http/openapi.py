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
from flowker.domain import audit
from flowker.domain import authentication as auth
from flowker.domain import executor_config as ec
from flowker.domain import metadata as meta
from flowker.dsl import validation as dsl
from flowker.dsl.model import WorkflowStatus
from flowker.dsl.run_state import ExecutionStatus
from flowker.http.render import MAX_DEPTH
from flowker.http.routes.executions import ExecuteInput
from flowker.http.schemas import REQUESTS, RESPONSES, Output
from flowker.store.ports import SORT_FIELDS
from flowker.usecases import audit as audit_trail
from flowker.usecases.executions import MAX_IDEMPOTENCY_KEY
from flowker.usecases.executions import SORT_FIELDS as EXECUTION_SORT_FIELDS
from flowker.usecases.pagination import DEFAULT_LIMIT, MAX_LIMIT

Schema = dict[str, Any]

SERVER_URL = "http://127.0.0.1:4021"
_SCHEMAS = "#/components/schemas/{model}"

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
`401 {{"code": "UNAUTHORIZED", "title": "Unauthorized", "message": "API Key missing or invalid"}}`.
`/health`, `/readyz`, `/version` and `/openapi.json` are public.

## Errors

Every error, whatever its status, has the same JSON body (`ErrorResponse`):
`{{"code": "FLK-0100", "title": "Not Found", "message": "workflow … not found"}}`. `code` is stable and
machine-readable (`FLK-NNNN`, or `UNAUTHORIZED` / `INVALID_CURSOR`), `title` is the HTTP reason
phrase and `message` is for people. Each operation lists the codes it can return. Besides those:

* an unknown path is `404 FLK-0400`;
* a method a path does not support is `405 FLK-0401`;
* a body larger than the configured limit (1 MiB by default) is `413 FLK-0506`;
* a CORS preflight from an origin that is not allowed is `403 FLK-0401`;
* `500 FLK-9999` means a bug: its message never carries details, the `X-Request-Id` finds it in the log.

Unknown fields in request bodies are ignored. A field of the wrong JSON type is `400 FLK-0302`,
with the field's path in the message; a body nested deeper than {MAX_DEPTH} levels is `400 FLK-0314`.

## Request ids

Every response carries `X-Request-Id`: the request's own value when it is 1 to 128 characters of
`A-Z a-z 0-9 . _ : -`, otherwise a new UUID.

## Pagination

Lists are cursor-paginated: `{{"items": [...], "nextCursor": "...", "hasMore": true}}`. Pass
`nextCursor` back as `cursor`, with the same `sortBy` and `sortOrder`, to get the next page;
`nextCursor` is `""` on the last page. `limit` is 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT}); items are
sorted by `sortBy` (`createdAt` by default; `startedAt` for executions) then id, `DESC` by default. A
cursor reused with another sort, or not issued by this API, is `400 INVALID_CURSOR`.

The audit trail pages by sequence number instead: it has no `sortBy`, `limit` defaults to
{audit_trail.DEFAULT_LIMIT}, `nextCursor` is the last event's `sequence` in decimal, and a cursor that is not
a decimal number is `400 FLK-0610`.

## Executions

`POST /v1/workflows/{{workflowId}}/executions` runs an **active** workflow on `inputData`. The header
`Idempotency-Key` is required: the same key with the same workflow and input returns the execution it
already started (a retry is safe), with another workflow or input it is `409 FLK-0505`. The answer is
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


# --- error codes ----------------------------------------------------------------------------------

BAD_BODY = "`FLK-0001` body missing, not JSON, or not a JSON object"
WRONG_TYPE = "`FLK-0302` a field has the wrong JSON type (the message names it)"
TOO_DEEP = f"`FLK-0314` the body is nested deeper than {MAX_DEPTH} levels"
BAD_ID = "`FLK-0002` `id` is not a UUID"
METADATA_CODES = (
    f"`FLK-0315` metadata has more than {meta.MAX_ENTRIES} entries",
    f"`FLK-0312` a metadata key is longer than {meta.MAX_KEY} characters",
)
LIST_CODES = (
    "`FLK-0304` `status` or `sortBy` is not one of its values",
    f"`FLK-0309` `limit` is not a whole number from 1 to {MAX_LIMIT}",
    "`FLK-0310` `sortOrder` is not `ASC` or `DESC`",
    "`INVALID_CURSOR` the cursor was not issued by this API, or was issued for another sort",
)
WORKFLOW_NAME_CODES = (
    "`FLK-0110` name is required",
    f"`FLK-0111` name is longer than {dsl.MAX_NAME} characters",
)
WORKFLOW_DRAFT_CODES = (
    BAD_BODY,
    WRONG_TYPE,
    TOO_DEEP,
    *WORKFLOW_NAME_CODES,
    f"`FLK-0117` description is longer than {dsl.MAX_DESCRIPTION} characters",
    f"`FLK-0113` more than {dsl.MAX_NODES} nodes",
    f"`FLK-0114` more than {dsl.MAX_EDGES} edges",
    "`FLK-0120` a node id is required",
    f"`FLK-0122` a node id is longer than {dsl.MAX_ID} characters",
    "`FLK-0123` two nodes share an id",
    "`FLK-0126` a node id is `workflow` or `$`, or holds `.`, `[` or `]`: paths would misread it",
    "`FLK-0121` a node type is required",
    "`FLK-0124` a node type is not trigger, executor, conditional or action",
    "`FLK-0125` a `set_output` action has no `output` object",
    "`FLK-0105` a condition (conditional node or edge) does not parse",
    "`FLK-0140` an executor node's `inputMapping` is invalid",
    "`FLK-0141` an executor node's `outputMapping` is invalid",
    "`FLK-0142` an executor node uses raw `transforms`, which are not supported",
    "`FLK-0130` / `FLK-0131` / `FLK-0132` an edge id / source / target is required",
    f"`FLK-0134` an edge id, source, target, sourceHandle or label is longer than {dsl.MAX_ID} characters",
    "`FLK-0133` two edges share an id",
    "`FLK-0115` an edge's source or target names no node of the workflow",
    *METADATA_CODES,
)
CATALOG_EXECUTOR = (
    "`FLK-0104` an executor node names a catalog `executorId`; catalog executors are not available"
)
EXECUTOR_CONFIG_CODES = (
    BAD_BODY,
    WRONG_TYPE,
    TOO_DEEP,
    "`FLK-0260` name is required",
    f"`FLK-0261` name is longer than {ec.MAX_NAME} characters",
    f"`FLK-0267` description is longer than {ec.MAX_DESCRIPTION} characters",
    "`FLK-0262` baseUrl is required",
    f"`FLK-0264` baseUrl is longer than {ec.MAX_BASE_URL} characters",
    "`FLK-0263` baseUrl is not an http(s) URL with a host, or has credentials, a query or a fragment",
    "`FLK-0265` at least one endpoint is required",
    f"`FLK-0278` more than {ec.MAX_ENDPOINTS} endpoints",
    "`FLK-0270` an endpoint name is required",
    "`FLK-0276` two endpoints share a name",
    f"`FLK-0277` an endpoint name or path is too long ({ec.MAX_ENDPOINT_NAME} / {ec.MAX_ENDPOINT_PATH})",
    "`FLK-0271` an endpoint path is required, or is a URL rather than a path relative to baseUrl",
    "`FLK-0272` an endpoint method is required",
    f"`FLK-0273` an endpoint method is not one of {', '.join(ec.METHODS)}",
    f"`FLK-0275` an endpoint timeout is outside 1..{ec.MAX_TIMEOUT_SECONDS} seconds",
    "`FLK-0266` authentication is required",
    "`FLK-0268` authentication.type is required",
    f"`FLK-0269` authentication.type is not one of {', '.join(auth.SCHEMAS)}",
    "`FLK-0274` an authentication.config field is unknown, missing, malformed, "
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


def _model_schemas(models: Iterable[type[BaseModel]]) -> dict[str, Schema]:
    """The models' JSON schemas and their ``$defs``, hoisted to components, without property titles.

    In a response model (:class:`~flowker.http.schemas.Output`) a field with a default is omitted
    when absent, never ``null``: its schema is the non-null one, without the default.
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
            if prop.get("default", 0) is None:  # absent and null mean the same to the API
                del prop["default"]
            if name in outputs and field not in required:
                prop.pop("default", None)
                options = [o for o in prop.pop("anyOf", ()) if o != {"type": "null"}]
                prop.update(options[0] if len(options) == 1 else {"anyOf": options} if options else {})
    return found


def _subclasses(cls: type) -> list[type]:
    return [sub for direct in cls.__subclasses__() for sub in (direct, *_subclasses(direct))]


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
            "`config` fields are refused (400 FLK-0274). In responses `config` is always present and every "
            f"secret reads `{auth.MASK}`."
        ),
        "oneOf": [_ref(_AUTH_TITLES[kind][0]) for kind in auth.SCHEMAS],
        "discriminator": {"propertyName": "type", "mapping": mapping},
    }
    return schemas


def _schemas() -> dict[str, Schema]:
    schemas = _model_schemas((*REQUESTS, ExecuteInput, *RESPONSES))
    schemas.update(_authentication_schemas())  # over the stand-in ExecutorAuthentication
    return dict(sorted(schemas.items()))


# --- parameters and shared responses --------------------------------------------------------------


def _id_parameter(what: str) -> Schema:
    return {
        "name": "id",
        "in": "path",
        "required": True,
        "description": f"The {what}'s id; anything but a UUID is 400 FLK-0002.",
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
            "description": "The id of the workflow to run; anything but a UUID is 400 FLK-0002.",
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
                "are trimmed); missing or otherwise is 400 FLK-0509. The same key with the same workflow "
                "and `inputData` returns the execution it started; with another workflow or input it is "
                "409 FLK-0505. A UUID per business operation is a good key."
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
            "Only executions of this workflow; anything but a UUID is 400 FLK-0002.",
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
            "description": "The event's `eventId`; anything but a UUID is 400 FLK-0002.",
        },
        "AuditEventType": _query(
            "eventType",
            {"type": "string", "enum": list(audit.EVENT_TYPES)},
            "Only events of this type; another value is 400 FLK-0601.",
        ),
        "AuditAction": _query(
            "action",
            {"type": "string", "enum": [a.value for a in audit.AuditAction]},
            "Only events of this action; another value is 400 FLK-0602.",
        ),
        "AuditResult": _query(
            "result",
            {"type": "string", "enum": [r.value for r in audit.AuditResult]},
            "Only events with this result; another value is 400 FLK-0603.",
        ),
        "AuditResourceType": _query(
            "resourceType",
            {"type": "string", "enum": [r.value for r in audit.ResourceType]},
            "Only events about this kind of resource; another value is 400 FLK-0605.",
        ),
        "AuditResourceId": _query(
            "resourceId",
            {"type": "string", "format": "uuid"},
            "Only events about this resource; anything but a UUID is 400 FLK-0002.",
        ),
        "AuditDateFrom": _query(
            "dateFrom",
            {"type": "string", "format": "date-time"},
            "Only events at or after this RFC 3339 date-time (UTC when it has no offset); a bad value is "
            "400 FLK-0305, one after `dateTo` 400 FLK-0308.",
        ),
        "AuditDateTo": _query(
            "dateTo",
            {"type": "string", "format": "date-time"},
            "Only events at or before this RFC 3339 date-time (UTC when it has no offset); a bad value is "
            "400 FLK-0305.",
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
            "anything but a decimal number is 400 FLK-0610.",
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
        "Unauthorized": _error("`X-API-Key` missing or not one of the configured keys", ["`UNAUTHORIZED`"]),
        "MethodNotAllowed": _error(
            "The path exists but does not support the method (any path of this API)", ["`FLK-0401`"]
        ),
        "PayloadTooLarge": _error(
            "The body exceeds the configured limit (`FLOWKER_MAX_BODY_BYTES`, 1 MiB by default)",
            ["`FLK-0506`"],
        ),
        "InternalError": _error(
            "A bug; the message carries no details, the `X-Request-Id` finds it in the server log",
            ["`FLK-9999`"],
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
    not_found = {"404": _error("No such workflow", ["`FLK-0100` workflow not found"])}
    state_changed = "`FLK-0350` the workflow changed concurrently; read it again and retry"
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
                "Not allowed in the workflow's status", [f"`FLK-0102` the workflow is not {source}"]
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
                "`FLK-0105` a conditional node has no condition",
                "`FLK-0119` an edge leaving a conditional node has no `sourceHandle` `true` or `false`",
                "`FLK-0152` an executor node has no `executorConfigId`",
                "`FLK-0153` an executor node's `endpointName` is not an endpoint of its configuration",
                "`FLK-0126` a draft saved before node ids were checked has one that paths would misread",
            ],
        ),
        "404": _error(
            "No such workflow or executor configuration",
            [
                "`FLK-0100` workflow not found",
                "`FLK-0104` an executor node names an executor configuration that does not exist",
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
                "`FLK-0102` the workflow is not a draft",
                "`FLK-0112` the workflow has no nodes",
                "`FLK-0116` the workflow has no trigger node or more than one",
                "`FLK-0118` an edge points at the trigger node, or the graph has a cycle",
                "`FLK-0154` an executor node's configuration is disabled",
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
                    "409": _error("Conflict", ["`FLK-0101` a workflow with this name exists"]),
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
                        "No such workflow or executor", ["`FLK-0100` workflow not found", CATALOG_EXECUTOR]
                    ),
                    "409": _error("Conflict", ["`FLK-0101` another workflow has this name", state_changed]),
                    "422": _error(
                        "Not a draft",
                        ["`FLK-0103` the workflow is active or inactive; move it to draft first"],
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
                    "422": _error("Active", ["`FLK-0103` an active workflow cannot be deleted"]),
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
                    "409": _error("Conflict", ["`FLK-0101` a workflow with this name exists"]),
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
        "404": _error("No such executor configuration", ["`FLK-0250` executor configuration not found"])
    }
    state_changed = "`FLK-0350` the configuration changed concurrently; read it again and retry"
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
                "422": _error("Not allowed in its status", [f"`FLK-0252` the configuration is not {source}"]),
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
                    "409": _error("Conflict", ["`FLK-0251` an executor configuration with this name exists"]),
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
                        "Conflict", ["`FLK-0251` another executor configuration has this name", state_changed]
                    ),
                    "422": _error(
                        "In use", ["`FLK-0252` a removed endpoint is called by an active workflow"]
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
                    "422": _error("In use", ["`FLK-0252` an active workflow uses the configuration"]),
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
    not_found = {"404": _error("No such execution", ["`FLK-0500` execution not found"])}
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
                "FLK-0505`. The execution runs the definition the workflow has now, even if the workflow "
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
                            "`FLK-0002` `workflowId` is not a UUID",
                            BAD_BODY,
                            "`FLK-0302` `inputData` is not a JSON object",
                            TOO_DEEP,
                            "`FLK-0509` the `Idempotency-Key` header is missing, longer than "
                            f"{MAX_IDEMPOTENCY_KEY} characters, or not printable ASCII",
                        ],
                    ),
                    "404": _error("No such workflow", ["`FLK-0100` workflow not found"]),
                    "409": _error(
                        "Idempotency conflict",
                        ["`FLK-0505` the `Idempotency-Key` was used for another workflow or input"],
                    ),
                    **_TOO_LARGE,
                    "422": _error(
                        "Not executable", ["`FLK-0501` the workflow is not active (draft or inactive)"]
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
                        ["`FLK-0002` `workflowId` is not a UUID", *LIST_CODES],
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
                    "422": _error("Not ended", ["`FLK-0502` the execution is still `pending` or `running`"]),
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
                        ["`FLK-0510` the execution is already `completed`, `failed` or `cancelled`"],
                    ),
                },
                parameters=[execution_id],
            )
        },
    }


def _audit_paths() -> dict[str, Schema]:
    event_id = _component("parameters", "AuditEventId")
    not_found = {"404": _error("No such audit event", ["`FLK-0600` audit event not found"])}
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
                            "`FLK-0601` `eventType` is not one of its values",
                            "`FLK-0602` `action` is not one of its values",
                            "`FLK-0603` `result` is not `SUCCESS` or `FAILED`",
                            "`FLK-0605` `resourceType` is not one of its values",
                            "`FLK-0002` `resourceId` is not a UUID",
                            "`FLK-0305` `dateFrom` or `dateTo` is not an RFC 3339 date-time",
                            "`FLK-0308` `dateFrom` is after `dateTo`",
                            f"`FLK-0309` `limit` is not a whole number from 1 to {audit_trail.MAX_LIMIT}",
                            "`FLK-0310` `sortOrder` is not `ASC` or `DESC`",
                            "`FLK-0610` `cursor` is not a decimal sequence number",
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
