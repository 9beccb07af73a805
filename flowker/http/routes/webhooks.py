"""``ANY /v1/webhooks/{path}``: a delivery starts the active workflow whose webhook trigger owns
METHOD+path (:mod:`flowker.usecases.webhooks`)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from flowker import codes
from flowker.dsl.webhook_trigger import MAX_PATH, METHODS
from flowker.errors import PayloadTooLarge
from flowker.http import schemas
from flowker.http.keys import SERVICES
from flowker.http.middleware.headers import raw_bytes
from flowker.http.render import decode_object, request_actor
from flowker.http.routes.executions import STARTED, answer_start
from flowker.http.spec import TAG_WEBHOOKS, TOO_DEEP, error, line, ok, operation, param
from flowker.tunables import WEBHOOK_MAX_BODY_BYTES
from flowker.usecases.executions import MAX_IDEMPOTENCY_KEY
from flowker.usecases.webhooks import DERIVED_KEY_PREFIX, Delivery, delivery_id

routes = web.RouteTableDef()
TOKEN_HEADER = "X-Webhook-Token"
EXECUTION_HEADER = "X-Webhook-Execution-ID"
WORKFLOW_HEADER = "X-Webhook-Workflow-ID"
_CHUNK = 64 * 1024
PARAMETERS = {
    "WebhookPath": {
        "name": "path",
        "in": "path",
        "required": True,
        "description": (
            "The `path` of an active workflow's webhook trigger, without its leading slash; nested "
            f"segments are one path (`e2e/webhook-test`). At most {MAX_PATH} characters; letters keep "
            "their case."
        ),
        "schema": {"type": "string"},
    },
    "WebhookToken": {
        "name": TOKEN_HEADER,
        "in": "header",
        "required": False,
        "description": (
            "The trigger's `verify_token`, required when it has one (compared in constant time); "
            f"missing or another is 401 {codes.WEBHOOK_TOKEN_INVALID}."
        ),
        "schema": {"type": "string"},
    },
    "WebhookIdempotencyKey": {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "description": (
            f"Optional, 1 to {MAX_IDEMPOTENCY_KEY} printable ASCII characters: as on "
            "`POST /v1/workflows/{workflowId}/executions`, bound to the workflow and the body. Without "
            "one, a key is derived from the delivery (workflow, method, path, body and the provider's "
            "delivery id header: `Webhook-Id`, `Svix-Id`, `X-GitHub-Delivery`, `X-Shopify-Webhook-Id`, "
            f"`X-Webhook-Id`, `X-Delivery-Id`), `{DERIVED_KEY_PREFIX}…`: a repeat within "
            "`FLOWKER_WEBHOOK_DEDUP_SECONDS` (24 h by default) of the first delivery answers its execution."
        ),
        "schema": {"type": "string", "minLength": 1, "maxLength": MAX_IDEMPOTENCY_KEY, "pattern": "^[!-~]+$"},
    },
}
ANSWER_HEADERS = {
    EXECUTION_HEADER: {"description": "The execution's id.", "schema": {"type": "string", "format": "uuid"}},
    WORKFLOW_HEADER: {"description": "The workflow's id.", "schema": {"type": "string", "format": "uuid"}},
}


def _with_headers(response: dict[str, Any]) -> dict[str, Any]:
    return {**response, "headers": {**response["headers"], **ANSWER_HEADERS}}


@routes.route("*", "/v1/webhooks/{path:.+}")
@operation(
    "receiveWebhook",
    "Receive a webhook",
    TAG_WEBHOOKS,
    "Start the active workflow whose webhook trigger (node data `triggerId` `webhook`, `path`, "
    f"`method` {'|'.join(METHODS)}, optional `verify_token`) owns this method and path, as "
    "`POST /v1/workflows/{workflowId}/executions` does: the same answers (`201`, `200` for a "
    "replay of an ended execution, `Prefer: wait=N`), plus `X-Webhook-Execution-ID`.\n\n"
    "The body (a JSON object, up to 1 MiB; none is `{}`) is `inputData`, with a `_webhook` "
    "object added: `{method, path, headers, query, remote_ip}` (headers without `Authorization`, "
    "`Proxy-Authorization`, `X-API-Key`, `X-Webhook-Token` and `Cookie`). A read-only API key is "
    f"refused (403 {codes.METHOD_OR_ORIGIN_NOT_ALLOWED}) whatever the method: a delivery starts an "
    "execution. Every method the triggers allow is routed; each is documented.",
    {
        "201": _with_headers(
            ok(
                f"Started, or a replay of an execution that has not ended yet. {STARTED}",
                schemas.ExecutionCreateOutput,
            )
        ),
        "200": _with_headers(
            ok(
                f"A replay of an execution that has ended: {STARTED} Or, with `Prefer: wait=N`, the "
                "results document of an execution that ended in time.",
                {"oneOf": [schemas.ExecutionCreateOutput, schemas.ExecutionResultsOutput]},
            )
        ),
    },
    {
        "400": error(
            "Invalid request",
            [
                line(codes.BAD_BODY, "the body is not JSON or not a JSON object"),
                TOO_DEEP,
                line(codes.INVALID_IDEMPOTENCY_KEY, "the `Idempotency-Key` is blank, too long or not ASCII"),
            ],
        ),
        "401": error(
            "Not authenticated",
            [
                line(codes.UNAUTHORIZED, "`X-API-Key` missing or invalid"),
                line(codes.WEBHOOK_TOKEN_INVALID, "`X-Webhook-Token` missing or wrong for this route"),
            ],
        ),
        "403": error(
            "Read-only key",
            [line(codes.METHOD_OR_ORIGIN_NOT_ALLOWED, "the API key is read-only")],
        ),
        "404": error(
            "No route",
            [
                line(
                    codes.WEBHOOK_ROUTE_NOT_FOUND,
                    "no active workflow's webhook trigger has this method and path",
                ),
                line(codes.WORKFLOW_NOT_FOUND, "the workflow was deleted meanwhile"),
            ],
        ),
        "409": error(
            "Idempotency conflict",
            [
                line(
                    codes.IDEMPOTENCY_KEY_REUSED,
                    "the `Idempotency-Key` was used for another workflow or body",
                )
            ],
        ),
        "413": error("Too large", [line(codes.WEBHOOK_PAYLOAD_TOO_LARGE, "the body is larger than 1 MiB")]),
        "422": error(
            "Not executable",
            [line(codes.WORKFLOW_NOT_ACTIVE, "the workflow was deactivated meanwhile")],
        ),
    },
    parameters=[
        param("WebhookPath"),
        param("WebhookToken"),
        param("WebhookIdempotencyKey"),
        param("PreferWait"),
    ],
    body={"type": "object"},
    body_description="The payload; optional (none is `{}`).",
    body_required=False,
    # POST first: the original documents POST only, under this operationId.
    methods=("POST", *(m for m in METHODS if m != "POST")),
)
async def receive_webhook(request: web.Request) -> web.StreamResponse:
    webhooks = request.app[SERVICES].webhooks
    token = request.headers.get(TOKEN_HEADER)
    route = await webhooks.route(
        request.method, request.match_info["path"], None if token is None else raw_bytes(token)
    )
    raw = await read_body(request)
    key = request.headers.get("Idempotency-Key")
    delivery = Delivery(
        method=request.method,
        path=request.match_info["path"],
        body=decode_object(raw) if raw.strip() else {},
        raw_body=raw,
        headers=request.headers,
        query=_query(request),
        remote_ip=request.remote or "",
        idempotency_key=key,
        delivery_id=delivery_id(request.headers),
    )
    received = await webhooks.receive(route, delivery, request_actor(request))
    headers = {EXECUTION_HEADER: received.started.execution.id, WORKFLOW_HEADER: route.workflow_id}
    return await answer_start(request, received.started, headers)


async def read_body(request: web.Request) -> bytes:
    """The body, up to 1 MiB (413 beyond, told by ``Content-Length`` before reading)."""
    if request.content_length is not None and request.content_length > WEBHOOK_MAX_BODY_BYTES:
        raise _too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(_CHUNK):
        size += len(chunk)
        if size > WEBHOOK_MAX_BODY_BYTES:
            raise _too_large()
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large() -> PayloadTooLarge:
    return PayloadTooLarge(
        f"a webhook body is at most {WEBHOOK_MAX_BODY_BYTES} bytes", code=codes.WEBHOOK_PAYLOAD_TOO_LARGE
    )


def _query(request: web.Request) -> dict[str, Any]:
    """Query parameters: a value, or the list of values of a repeated one."""
    found: dict[str, Any] = {}
    for name in request.query:
        values = request.query.getall(name)
        found[name] = values[0] if len(values) == 1 else list(values)
    return found
