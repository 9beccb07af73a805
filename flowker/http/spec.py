"""How a route declares its operation for the OpenAPI document, next to its handler.

``@operation(...)`` under the route decorator records the operation; :mod:`flowker.http.openapi`
walks the route tables and assembles the document. Wherever a schema goes, a declaration may put a
pydantic model: the document refers to it, and its JSON schema becomes a component. Error lines name
their codes through :mod:`flowker.codes` only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import BaseModel

from flowker import codes
from flowker.domain import metadata as meta
from flowker.http.render import MAX_DEPTH
from flowker.http.schemas import ErrorResponse
from flowker.store.ports import SORT_FIELDS
from flowker.usecases.pagination import DEFAULT_LIMIT, MAX_LIMIT

Schema = dict[str, Any]
#: A schema, or a pydantic model standing for its component.
Body = Schema | type[BaseModel]
F = TypeVar("F", bound=Callable[..., Any])
#: The handler attribute that holds the declared operation.
ATTRIBUTE = "openapi_operation"

TAG_SYSTEM = "System"
TAG_WORKFLOWS = "Workflows"
TAG_EXECUTORS = "Executor configurations"
TAG_EXECUTIONS = "Executions"
TAG_AUDIT = "Audit"
TAG_DASHBOARDS = "Dashboards"
TAG_WEBHOOKS = "Webhooks"
TAG_CATALOG = "Catalog"
TAG_PROVIDER_CONFIGS = "Provider configurations"


def component(kind: str, name: str) -> Schema:
    return {"$ref": f"#/components/{kind}/{name}"}


def param(name: str) -> Schema:
    return component("parameters", name)


_REQUEST_ID_HEADER = {"X-Request-Id": component("headers", "XRequestId")}


def ok(description: str, schema: Body | None = None, media_type: str = "application/json") -> Schema:
    response: Schema = {"description": description, "headers": dict(_REQUEST_ID_HEADER)}
    if schema is not None:
        response["content"] = {media_type: {"schema": schema}}
    return response


def file_ok(*content_types: str) -> Schema:
    """A 200 that answers a file (a page, a script, a stylesheet) in one of ``content_types``."""
    return {**ok("The file."), "content": {t: {"schema": {"type": "string"}} for t in content_types}}


def line(code: str, text: str) -> str:
    """One line of an error response's description: the code, then when it is answered."""
    return f"`{code}` {text}"


def error(summary: str, lines: Iterable[str]) -> Schema:
    """An error response whose description lists each code it may carry, one a line."""
    listed = "\n".join(f"- {text}" for text in lines)
    return ok(f"{summary}:\n\n{listed}", ErrorResponse)


def operation(
    operation_id: str,
    summary: str,
    tag: str,
    description: str,
    ok: Mapping[str, Schema],
    errors: Mapping[str, Schema] | None = None,
    *,
    parameters: Iterable[Schema] = (),
    body: Body | None = None,
    body_description: str = "",
    public: bool = False,
    body_required: bool = True,
    methods: Iterable[str] = (),
) -> Callable[[F], F]:
    """Declare the handler's operation; ``401`` and ``500`` are added, and ``401`` only unless public.

    ``methods``: for a route of any method (``*``), the methods the document shows it under; the
    first keeps ``operation_id``, the others get it suffixed with their name (``receiveWebhookGet``).
    """
    declared = {
        "operationId": operation_id,
        "summary": summary,
        "tag": tag,
        "description": description,
        "ok": dict(ok),
        "errors": dict(errors or {}),
        "parameters": list(parameters),
        "body": body,
        "body_description": body_description,
        "public": public,
        "body_required": body_required,
        "methods": [m.upper() for m in methods],
    }

    def record(handler: F) -> F:
        setattr(handler, ATTRIBUTE, declared)
        return handler

    return record


def alias(handler: Handler, path: str, operation_id: str) -> Handler:
    """A handler that answers exactly as ``handler`` (the operation of ``path``) does, documented as its
    alias: the same responses under its own ``operationId``, marked deprecated, with ``x-alias-of``."""
    declared = getattr(handler, ATTRIBUTE)

    async def answer(request: web.Request) -> web.StreamResponse:
        return await handler(request)

    answer.__doc__ = f"Alias of ``{path}``."
    setattr(
        answer,
        ATTRIBUTE,
        {
            **declared,
            "operationId": operation_id,
            "summary": f"{declared['summary']} (alias of `{path}`)",
            "description": f"The same answer as `GET {path}`, kept for clients of older versions. "
            + declared["description"],
            "alias_of": path,
        },
    )
    return answer


# --- shared by several routes ---------------------------------------------------------------------

BAD_BODY = line(codes.BAD_BODY, "body missing, not JSON, or not a JSON object")
WRONG_TYPE = line(codes.WRONG_FIELD_TYPE, "a field has the wrong JSON type (the message names it)")
TOO_DEEP = line(codes.BODY_TOO_DEEP, f"the body is nested deeper than {MAX_DEPTH} levels")
BAD_ID = line(codes.INVALID_UUID, "`id` is not a UUID")
METADATA_CODES = (
    line(codes.TOO_MANY_METADATA_ENTRIES, f"metadata has more than {meta.MAX_ENTRIES} entries"),
    line(codes.METADATA_KEY_TOO_LONG, f"a metadata key is longer than {meta.MAX_KEY} characters"),
)


#: The error line of a ``limit`` parameter (:func:`flowker.usecases.pagination.parse_limit`).
LIMIT_ERROR = line(codes.INVALID_LIMIT, "`limit` is not a whole number of at least 1")


def limit_parameter(default: int, maximum: int, description: str) -> Schema:
    """A ``limit`` query parameter: at least 1; more than ``maximum`` is read as ``maximum``."""
    return query(
        "limit",
        {"type": "integer", "minimum": 1, "default": default},
        f"{description} At most {maximum}: a larger value is read as {maximum}.",
    )


LIST_CODES = (
    line(codes.UNKNOWN_STATUS_OR_SORT, "`status` or `sortBy` is not one of its values"),
    LIMIT_ERROR,
    line(codes.INVALID_SORT_ORDER, "`sortOrder` is not `ASC` or `DESC`"),
    line(codes.INVALID_CURSOR, "the cursor was not issued by this API, or was issued for another sort"),
)
BAD_ID_ERROR = {"400": error("Invalid request", [BAD_ID])}
TOO_LARGE = {"413": component("responses", "PayloadTooLarge")}
LIST_PARAMETERS = [param(name) for name in ("Limit", "Cursor", "SortBy", "SortOrder")]


def id_parameter(what: str) -> Schema:
    return {
        "name": "id",
        "in": "path",
        "required": True,
        "description": f"The {what}'s id; anything but a UUID is 400 {codes.INVALID_UUID}.",
        "schema": {"type": "string", "format": "uuid"},
    }


def status_parameter(values: list[str]) -> Schema:
    return query("status", {"type": "string", "enum": values}, "Only items with this status.")


def query(name: str, schema: Schema, description: str) -> Schema:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


PARAMETERS: dict[str, Schema] = {
    "XRequestId": {
        "name": "X-Request-Id",
        "in": "header",
        "required": False,
        "description": "Echoed in the response's `X-Request-Id`; other values give a new UUID.",
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"},
    },
    "Limit": limit_parameter(DEFAULT_LIMIT, MAX_LIMIT, "Items per page."),
    "Cursor": query(
        "cursor",
        {"type": "string"},
        "`nextCursor` of the previous page, with the same `sortBy` and `sortOrder`.",
    ),
    "SortBy": {
        "name": "sortBy",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "enum": list(SORT_FIELDS), "default": "createdAt"},
    },
    "SortOrder": query(
        "sortOrder", {"type": "string", "enum": ["ASC", "DESC"], "default": "DESC"}, "Case-insensitive."
    ),
}
