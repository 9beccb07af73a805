"""Reading and verifying the audit trail."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Any

from flowker.clock import iso
from flowker.codes import (
    AUDIT_EVENT_NOT_FOUND,
    DATE_RANGE_REVERSED,
    INVALID_AUDIT_CURSOR,
    INVALID_DATE,
    INVALID_SORT_ORDER,
    INVALID_UUID,
    UNKNOWN_AUDIT_ACTION,
    UNKNOWN_AUDIT_RESULT,
    UNKNOWN_EVENT_TYPE,
    UNKNOWN_RESOURCE_TYPE,
)
from flowker.domain.audit import (
    EVENT_TYPES,
    Actor,
    AuditAction,
    AuditEvent,
    AuditResult,
    ResourceType,
)
from flowker.domain.signed_note import VerifierKey
from flowker.errors import BadRequest, NotFound
from flowker.store.ports import AuditQuery, Page, Store
from flowker.usecases import audit_checkpoints, audit_proofs, audit_verification
from flowker.usecases.outbox import publish, settle
from flowker.usecases.pagination import parse_limit
from flowker.usecases.ports import AuditSink

DEFAULT_LIMIT = 20
#: Longest request path kept in an AUTHENTICATION_FAILED event.
MAX_PATH_CHARS = 200
MAX_LIMIT = 100


class AuditTrail:
    """Reads of the trail; each first has the outbox drained, so that every committed change shows."""

    def __init__(self, store: Store, runtime: AuditSink, verifier_key: VerifierKey) -> None:
        """``verifier_key``: the public key of the log's checkpoints (what verification checks them with)."""
        self._store = store
        self._runtime = runtime
        self._verifier_key = verifier_key

    async def _settle(self) -> None:
        # Changes are committed with their events before those are chained; a reader who saw a change
        # must find its event. Costs one local read when nothing is waiting, as when idle.
        if await self._store.audit.staged(1):
            await settle(self._runtime.drain)

    async def rejected_key(self, address: str, method: str, path: str) -> None:
        """Audit the first request of a window from ``address`` with a missing or wrong key (never the key
        itself, which may be a real key mistyped); best effort, like every publication. ``path`` arrives
        as printable ASCII."""
        event = AuditEvent(
            event_type="AUTHENTICATION_FAILED",
            action=AuditAction.AUTHENTICATE,
            resource_type=ResourceType.API_KEY,
            resource_id=str(uuid.UUID(int=0)),  # no resource: the key presented matched none
            actor=Actor(type="anonymous", id="anonymous", ip=address[:64]),
            result=AuditResult.FAILED,
            metadata={"request.method": method[:16], "request.path": path[:MAX_PATH_CHARS]},
        )
        await publish(self._runtime.record, [event])

    async def list(self, params: Mapping[str, str]) -> tuple[Page[dict[str, Any]], AuditQuery]:
        """One page of events, newest first unless ``sortOrder=ASC``."""
        query = parse_audit_query(params)
        await self._settle()
        return await self._store.audit.list(query), query

    async def get(self, event_id: str) -> dict[str, Any]:
        """One event, or 404 FLK-0600."""
        await self._settle()
        record = await self._store.audit.get(event_id)
        if record is None:
            raise NotFound(f"audit event {event_id} not found", code=AUDIT_EVENT_NOT_FOUND)
        return record

    async def proof(self, event_id: str, params: Mapping[str, str]) -> dict[str, Any]:
        """The inclusion proof of one event (404 FLK-0600 when unknown, 400 FLK-0611 for a bad treeSize)."""
        tree_size = audit_proofs.parse_size(params, "treeSize")
        record = await self.get(event_id)
        return await audit_proofs.inclusion(self._store.audit, record["sequence"], tree_size)

    async def consistency(self, params: Mapping[str, str]) -> dict[str, Any]:
        """The consistency proof between two tree sizes (400 FLK-0611 for a bad range)."""
        first, second = audit_proofs.parse_size(params, "from"), audit_proofs.parse_size(params, "to")
        await self._settle()
        return await audit_proofs.consistency(self._store.audit, first, second)

    async def checkpoints(self, params: Mapping[str, str]) -> dict[str, Any]:
        """A page of signed checkpoints, newest first (400 FLK-0309 for a bad limit, FLK-0610 cursor)."""
        return await audit_checkpoints.newest(self._store.checkpoints, params)

    def public_key(self) -> dict[str, Any]:
        """``{verifierKey}``: the C2SP verifier key the checkpoints verify with."""
        return {"verifierKey": str(self._verifier_key)}

    async def verify(self, event_id: str) -> dict[str, Any]:
        """Recompute every hash from the first event up to this one, hold the log to its signed
        checkpoints and its newest checkpoint's size; name the first problem."""
        record = await self.get(event_id)
        verification = await audit_verification.verify_stored(
            self._store, self._verifier_key, record["sequence"]
        )
        return verification.to_dict()

    async def export(self) -> AsyncIterator[bytes]:
        """The log and its checkpoints as NDJSON chunks (:mod:`flowker.domain.audit_export`)."""
        await self._settle()
        return audit_verification.export_chunks(self._store, self._verifier_key.name)


def render_audit_page(page: Page[dict[str, Any]]) -> dict[str, Any]:
    """The list envelope; the cursor is the last event's sequence number, in decimal, as in the original."""
    cursor = str(page.items[-1]["sequence"]) if page.has_more and page.items else ""
    return {"items": page.items, "nextCursor": cursor, "hasMore": page.has_more}


def parse_audit_query(params: Mapping[str, str]) -> AuditQuery:
    """Every filter checked: an unknown enum value or a bad date is a 400, never a 500 as in the original."""
    filters: dict[str, Any] = {}
    for param, field, allowed, code in (
        ("eventType", "event_type", EVENT_TYPES, UNKNOWN_EVENT_TYPE),
        ("action", "action", [a.value for a in AuditAction], UNKNOWN_AUDIT_ACTION),
        ("result", "result", [r.value for r in AuditResult], UNKNOWN_AUDIT_RESULT),
        ("resourceType", "resource_type", [r.value for r in ResourceType], UNKNOWN_RESOURCE_TYPE),
    ):
        value = params.get(param) or None
        if value is not None and value not in allowed:
            raise BadRequest(f"{param} must be one of {', '.join(allowed)}", code=code)
        filters[field] = value
    resource_id = params.get("resourceId") or None
    if resource_id is not None:
        try:
            resource_id = str(uuid.UUID(resource_id))
        except ValueError:
            raise BadRequest("resourceId is not a valid UUID", code=INVALID_UUID) from None
    date_from, date_to = _date(params, "dateFrom"), _date(params, "dateTo")
    if date_from and date_to and date_from > date_to:
        raise BadRequest("dateFrom is after dateTo", code=DATE_RANGE_REVERSED)
    limit = parse_limit(params, DEFAULT_LIMIT, MAX_LIMIT)
    sort_order = (params.get("sortOrder") or "DESC").upper()
    if sort_order not in ("ASC", "DESC"):
        raise BadRequest("sortOrder must be ASC or DESC", code=INVALID_SORT_ORDER)
    cursor = params.get("cursor") or None
    if cursor is not None and not re.fullmatch(r"[0-9]{1,18}", cursor):
        raise BadRequest("cursor is not one this API issued", code=INVALID_AUDIT_CURSOR)
    return AuditQuery(
        limit=limit,
        sort_order=sort_order,
        resource_id=resource_id,
        date_from=date_from,
        date_to=date_to,
        after=int(cursor) if cursor else None,
        **filters,
    )


def _date(params: Mapping[str, str], name: str) -> str | None:
    raw = params.get(name)
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        return iso(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    except (ValueError, OverflowError):
        raise BadRequest(
            f"{name} is not an RFC 3339 date-time within years 1..9999", code=INVALID_DATE
        ) from None
