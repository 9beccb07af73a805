"""Cursor pagination as the original renders it: ``{items, nextCursor, hasMore}``.

The cursor is URL-safe base64 of JSON ``{"id", "sv", "sb", "so"}`` (last id, its sort value, sort field,
sort order). Unlike the original, a cursor is checked against the sort the request asks for: reusing
a cursor with another sort would silently skip or repeat items, so it is refused.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Collection, Mapping
from typing import Any, TypeVar

import orjson

from flowker.errors import BadRequest
from flowker.store.ports import SORT_FIELDS, ListQuery, Page

T = TypeVar("T")

DEFAULT_LIMIT = 10
MAX_LIMIT = 100
_DIGITS = re.compile(r"[0-9]{1,4}")
_FIELD_ATTRS = {"createdAt": "createdAt", "updatedAt": "updatedAt", "name": "name"}


def parse_list_query(params: Mapping[str, str], statuses: Collection[str]) -> ListQuery:
    """Read ``status, limit, cursor, sortBy, sortOrder``; every bad value is a 400 naming it."""
    status = params.get("status") or None
    if status is not None and status not in statuses:
        raise BadRequest(f"status must be one of {', '.join(statuses)}", code="FLK-0304")
    raw_limit = params.get("limit") or str(DEFAULT_LIMIT)
    if not _DIGITS.fullmatch(raw_limit) or not 1 <= int(raw_limit) <= MAX_LIMIT:
        raise BadRequest(f"limit must be a whole number from 1 to {MAX_LIMIT}", code="FLK-0309")
    sort_by = params.get("sortBy") or "createdAt"
    if sort_by not in SORT_FIELDS:
        raise BadRequest(f"sortBy must be one of {', '.join(SORT_FIELDS)}", code="FLK-0304")
    sort_order = (params.get("sortOrder") or "DESC").upper()
    if sort_order not in ("ASC", "DESC"):
        raise BadRequest("sortOrder must be ASC or DESC", code="FLK-0310")
    after = _decode(params["cursor"], sort_by, sort_order) if params.get("cursor") else None
    return ListQuery(limit=int(raw_limit), sort_by=sort_by, sort_order=sort_order, status=status, after=after)


def _decode(cursor: str, sort_by: str, sort_order: str) -> tuple[str, str]:
    try:
        data = orjson.loads(base64.urlsafe_b64decode(cursor.encode() + b"=" * (-len(cursor) % 4)))
        value, last_id, cursor_by, cursor_order = data["sv"], data["id"], data["sb"], data["so"]
    except (binascii.Error, orjson.JSONDecodeError, ValueError, KeyError, TypeError):
        raise BadRequest("cursor is not one this API issued", code="INVALID_CURSOR") from None
    if not isinstance(value, str) or not isinstance(last_id, str):
        raise BadRequest("cursor is not one this API issued", code="INVALID_CURSOR")
    if (cursor_by, cursor_order) != (sort_by, sort_order):
        raise BadRequest(
            f"cursor was issued for sortBy={cursor_by}&sortOrder={cursor_order}; send the same sort",
            code="INVALID_CURSOR",
        )
    return value, last_id


def render_page(page: Page[T], query: ListQuery, render: Callable[[T], dict[str, Any]]) -> dict[str, Any]:
    """The response envelope, with the cursor of the page's last item when more follow."""
    cursor = ""
    if page.has_more and page.items:
        last = page.items[-1]
        payload = {
            "id": last.id,
            "sv": getattr(last, _FIELD_ATTRS[query.sort_by]),  # type: ignore[attr-defined]
            "sb": query.sort_by,
            "so": query.sort_order,
        }
        cursor = base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")
    return {"items": [render(item) for item in page.items], "nextCursor": cursor, "hasMore": page.has_more}
