"""``/v1/audit-events``: search, read and verify the hash-chained audit trail."""

from __future__ import annotations

from aiohttp import web

from flowker import codes
from flowker.domain import audit, audit_export
from flowker.http.keys import SERVICES
from flowker.http.render import json_response, path_id
from flowker.http.schemas import (
    AuditEntryOutput,
    AuditExportLine,
    AuditListOutput,
    HashChainVerificationOutput,
)
from flowker.http.spec import (
    BAD_ID_ERROR,
    LIMIT_ERROR,
    TAG_AUDIT,
    error,
    id_parameter,
    limit_parameter,
    line,
    ok,
    operation,
    param,
    query,
)
from flowker.usecases import audit as audit_trail
from flowker.usecases.audit import render_audit_page

routes = web.RouteTableDef()
NOT_FOUND = {
    "404": error("No such audit event", [line(codes.AUDIT_EVENT_NOT_FOUND, "audit event not found")])
}
PARAMETERS = {
    "AuditEventId": {
        **id_parameter("audit event"),
        "description": f"The event's `eventId`; anything but a UUID is 400 {codes.INVALID_UUID}.",
    },
    "AuditEventType": query(
        "eventType",
        {"type": "string", "enum": list(audit.EVENT_TYPES)},
        f"Only events of this type; another value is 400 {codes.UNKNOWN_EVENT_TYPE}.",
    ),
    "AuditAction": query(
        "action",
        {"type": "string", "enum": [a.value for a in audit.AuditAction]},
        f"Only events of this action; another value is 400 {codes.UNKNOWN_AUDIT_ACTION}.",
    ),
    "AuditResult": query(
        "result",
        {"type": "string", "enum": [r.value for r in audit.AuditResult]},
        f"Only events with this result; another value is 400 {codes.UNKNOWN_AUDIT_RESULT}.",
    ),
    "AuditResourceType": query(
        "resourceType",
        {"type": "string", "enum": [r.value for r in audit.ResourceType]},
        f"Only events about this kind of resource; another value is 400 {codes.UNKNOWN_RESOURCE_TYPE}.",
    ),
    "AuditResourceId": query(
        "resourceId",
        {"type": "string", "format": "uuid"},
        f"Only events about this resource; anything but a UUID is 400 {codes.INVALID_UUID}.",
    ),
    "AuditDateFrom": query(
        "dateFrom",
        {"type": "string", "format": "date-time"},
        "Only events at or after this RFC 3339 date-time (UTC when it has no offset); a bad value is "
        f"400 {codes.INVALID_DATE}, one after `dateTo` 400 {codes.DATE_RANGE_REVERSED}.",
    ),
    "AuditDateTo": query(
        "dateTo",
        {"type": "string", "format": "date-time"},
        "Only events at or before this RFC 3339 date-time (UTC when it has no offset); a bad value is "
        f"400 {codes.INVALID_DATE}.",
    ),
    "AuditLimit": limit_parameter(audit_trail.DEFAULT_LIMIT, audit_trail.MAX_LIMIT, "Events per page."),
    "AuditCursor": query(
        "cursor",
        {"type": "string", "pattern": "^[0-9]{1,18}$"},
        "`nextCursor` of the previous page (a sequence number), with the same `sortOrder`; "
        f"anything but a decimal number is 400 {codes.INVALID_AUDIT_CURSOR}.",
    ),
    "AuditSortOrder": query(
        "sortOrder",
        {"type": "string", "enum": ["ASC", "DESC"], "default": "DESC"},
        "By `sequence`: `DESC` (newest first) by default; case-insensitive.",
    ),
}


@routes.get("/v1/audit-events")
@operation(
    "listAuditEvents",
    "Search the audit trail",
    TAG_AUDIT,
    "One page of audit events matching every filter given, by `sequence` (newest first by default).",
    {"200": ok("A page of events.", AuditListOutput)},
    {
        "400": error(
            "Invalid query",
            [
                line(codes.UNKNOWN_EVENT_TYPE, "`eventType` is not one of its values"),
                line(codes.UNKNOWN_AUDIT_ACTION, "`action` is not one of its values"),
                line(codes.UNKNOWN_AUDIT_RESULT, "`result` is not `SUCCESS` or `FAILED`"),
                line(codes.UNKNOWN_RESOURCE_TYPE, "`resourceType` is not one of its values"),
                line(codes.INVALID_UUID, "`resourceId` is not a UUID"),
                line(codes.INVALID_DATE, "`dateFrom` or `dateTo` is not an RFC 3339 date-time"),
                line(codes.DATE_RANGE_REVERSED, "`dateFrom` is after `dateTo`"),
                LIMIT_ERROR,
                line(codes.INVALID_SORT_ORDER, "`sortOrder` is not `ASC` or `DESC`"),
                line(codes.INVALID_AUDIT_CURSOR, "`cursor` is not a decimal sequence number"),
            ],
        )
    },
    parameters=[param(name) for name in PARAMETERS if name != "AuditEventId"],
)
async def list_audit_events(request: web.Request) -> web.Response:
    page, _ = await request.app[SERVICES].audit.list(request.query)
    return json_response(render_audit_page(page), model=AuditListOutput)


@routes.get("/v1/audit-events/{id}")
@operation(
    "getAuditEvent",
    "Get an audit event",
    TAG_AUDIT,
    "One event, with its hashes.",
    {"200": ok("The event.", AuditEntryOutput)},
    {**BAD_ID_ERROR, **NOT_FOUND},
    parameters=[param("AuditEventId")],
)
async def get_audit_event(request: web.Request) -> web.Response:
    return json_response(await request.app[SERVICES].audit.get(path_id(request)), model=AuditEntryOutput)


@routes.get("/v1/audit-events/{id}/verify")
@operation(
    "verifyAuditEvent",
    "Verify the audit log up to an event",
    TAG_AUDIT,
    "Recompute every hash from the first event up to this one: each event's `sequence` must "
    "follow the one before, its `previousHash` must be the `hash` of the event before "
    "(`null` for the first), and its `hash` must be the SHA-256 of that `previousHash` (or "
    f"`{audit.GENESIS}` for the first event), `|`, and the canonical JSON of the event without "
    "its two hashes (RFC 8785 for `hashScheme` `sha256-jcs`; keys sorted, no spaces, before it), and "
    "the columns the store searches by must equal the event. Every stored checkpoint up to the event "
    "must verify with the key of `GET /v1/audit/public-key` and commit to the Merkle root of the "
    "log's first `treeSize` events, and the log must be as long as its newest checkpoint says. The log "
    "is read in bounded batches and hashed off the request loop. Answers the first problem and its "
    "`reason`; a failed verification is still a `200`.",
    {"200": ok("The verification's outcome.", HashChainVerificationOutput)},
    {**BAD_ID_ERROR, **NOT_FOUND},
    parameters=[param("AuditEventId")],
)
async def verify_audit_event(request: web.Request) -> web.Response:
    return json_response(
        await request.app[SERVICES].audit.verify(path_id(request)), model=HashChainVerificationOutput
    )


@routes.get("/v1/audit/export")
@operation(
    "exportAuditLog",
    "Export the audit log with its checkpoints",
    TAG_AUDIT,
    "The whole log as NDJSON (`application/x-ndjson`, one JSON object a line, streamed): a `header`, "
    "every event in sequence order with each signed checkpoint after the event of its `treeSize`, and "
    "an `end` line counting what came before (a file without it was cut short). "
    "`flowker audit verify FILE --public-key KEY_FILE [--checkpoint NOTE_FILE]` verifies it offline.",
    {"200": ok("The log, one line each.", AuditExportLine, media_type=audit_export.MEDIA_TYPE)},
    {},
)
async def export_audit_log(request: web.Request) -> web.StreamResponse:
    chunks = await request.app[SERVICES].audit.export()
    response = web.StreamResponse(headers={"Content-Type": audit_export.MEDIA_TYPE})
    await response.prepare(request)
    try:
        async for chunk in chunks:
            await response.write(chunk)
        await response.write_eof()
    except ConnectionResetError:
        pass  # the client went away: nothing left to answer
    return response
