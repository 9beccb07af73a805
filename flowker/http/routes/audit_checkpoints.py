"""``/v1/audit/checkpoints`` and ``/v1/audit/public-key``: the audit log's checkpoints and their key."""

from __future__ import annotations

from aiohttp import web

from flowker import codes
from flowker.http.keys import SERVICES
from flowker.http.render import json_response
from flowker.http.schemas import AuditCheckpointListOutput, AuditPublicKeyOutput
from flowker.http.spec import (
    LIMIT_ERROR,
    TAG_AUDIT,
    error,
    limit_parameter,
    line,
    ok,
    operation,
    param,
    query,
)
from flowker.usecases import audit_checkpoints

routes = web.RouteTableDef()

PARAMETERS = {
    "CheckpointLimit": limit_parameter(
        audit_checkpoints.DEFAULT_LIMIT, audit_checkpoints.MAX_LIMIT, "Checkpoints to list, newest first."
    ),
    "CheckpointCursor": query(
        "cursor",
        {"type": "string", "pattern": "^[0-9]{1,18}$"},
        "The `nextCursor` of the previous page: checkpoints of a smaller tree size follow.",
    ),
}


@routes.get("/v1/audit/checkpoints")
@operation(
    "listAuditCheckpoints",
    "List the audit log's signed checkpoints",
    TAG_AUDIT,
    "The newest checkpoints, largest tree size first. Each commits the log's first `treeSize` events to "
    "the root of their Merkle tree in a C2SP `tlog-checkpoint` body (origin, tree size, base64 root), "
    "signed as a C2SP `signed-note` with Ed25519. One is issued when the log grew by "
    "`FLOWKER_AUDIT_CHECKPOINT_EVENTS` events, or grew at all in `FLOWKER_AUDIT_CHECKPOINT_SECONDS`. "
    "Paged like the audit events: `nextCursor` (the page's last `treeSize`) as `cursor` gives the next.",
    {"200": ok("The newest checkpoints.", AuditCheckpointListOutput)},
    {
        "400": error(
            "Invalid query",
            [
                LIMIT_ERROR,
                line(codes.INVALID_AUDIT_CURSOR, "`cursor` is not a tree size"),
            ],
        )
    },
    parameters=[param("CheckpointLimit"), param("CheckpointCursor")],
)
async def list_audit_checkpoints(request: web.Request) -> web.Response:
    body = await request.app[SERVICES].audit.checkpoints(request.query)
    return json_response(body, model=AuditCheckpointListOutput)


@routes.get("/v1/audit/public-key")
@operation(
    "getAuditPublicKey",
    "Get the key the audit checkpoints verify with",
    TAG_AUDIT,
    "The verifier key of the checkpoints' signatures, in the C2SP signed-note form "
    "`<name>+<hex key id>+<base64 key>` that transparency-log tools and witnesses read.",
    {"200": ok("The verifier key.", AuditPublicKeyOutput)},
    {},
)
async def get_audit_public_key(request: web.Request) -> web.Response:
    return json_response(request.app[SERVICES].audit.public_key(), model=AuditPublicKeyOutput)
