"""Cursor pagination as the original renders it: ``{items, nextCursor, hasMore}``.

``limit`` is a whole number of at least 1; one above the maximum is read as the maximum (older clients
ask for more than 100 and expect a page, not a 400), anything else is 400 FLK-0309.

The cursor is URL-safe base64 of JSON ``{"id", "sv", "sb", "so"}`` (last id, its sort value, sort field,
sort order). Unlike the original, a cursor is checked against the sort the request asks for: reusing
a cursor with another sort would silently skip or repeat items, so it is refused.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson

from flowker.codes import INVALID_CURSOR, INVALID_LIMIT, INVALID_SORT_ORDER, UNKNOWN_STATUS_OR_SORT
from flowker.errors import BadRequest
from flowker.store.ports import SORT_FIELDS, ExecutionQuery, ListQuery, Page


@dataclass(frozen=True)
class PageRequest:
    limit: int
    sort_by: str
    sort_order: str
    after: tuple[str, str] | None


T = TypeVar("T")

DEFAULT_LIMIT = 10
MAX_LIMIT = 100
_DIGITS = re.compile(r"[0-9]+")


def parse_limit(params: Mapping[str, str], default: int = DEFAULT_LIMIT, maximum: int = MAX_LIMIT) -> int:
    """``limit``: ``default`` when absent; above ``maximum`` clamped to it; below 1 or not ASCII digits
    (``-1``, ``2.5``, ``1e3``, ``ten``, ``²``) 400 FLK-0309."""
    raw = params.get("limit") or str(default)
    significant = raw.lstrip("0")
    if not _DIGITS.fullmatch(raw) or not significant:
        raise BadRequest(
            f"limit must be a whole number of at least 1 (at most {maximum} are given)", code=INVALID_LIMIT
        )
    # Not int() on any length: a number of thousands of digits is simply more than the maximum.
    return maximum if len(significant) > len(str(maximum)) else min(int(significant), maximum)


def parse_page(params: Mapping[str, str], sort_fields: Sequence[str]) -> PageRequest:
    """Read ``limit, cursor, sortBy, sortOrder`` (the first of ``sort_fields`` is the default sort)."""
    limit = parse_limit(params)
    sort_by = params.get("sortBy") or sort_fields[0]
    if sort_by not in sort_fields:
        raise BadRequest(f"sortBy must be one of {', '.join(sort_fields)}", code=UNKNOWN_STATUS_OR_SORT)
    sort_order = (params.get("sortOrder") or "DESC").upper()
    if sort_order not in ("ASC", "DESC"):
        raise BadRequest("sortOrder must be ASC or DESC", code=INVALID_SORT_ORDER)
    after = _decode(params["cursor"], sort_by, sort_order) if params.get("cursor") else None
    return PageRequest(limit, sort_by, sort_order, after)


def parse_status(params: Mapping[str, str], statuses: Collection[str]) -> str | None:
    """The ``status`` filter, one of ``statuses``."""
    status = params.get("status") or None
    if status is not None and status not in statuses:
        raise BadRequest(f"status must be one of {', '.join(statuses)}", code=UNKNOWN_STATUS_OR_SORT)
    return status


def parse_list_query(params: Mapping[str, str], statuses: Collection[str]) -> ListQuery:
    """Read ``status, limit, cursor, sortBy, sortOrder``; every bad value is a 400 naming it."""
    page = parse_page(params, SORT_FIELDS)
    return ListQuery(
        limit=page.limit,
        sort_by=page.sort_by,
        sort_order=page.sort_order,
        status=parse_status(params, statuses),
        after=page.after,
    )


def _decode(cursor: str, sort_by: str, sort_order: str) -> tuple[str, str]:
    try:
        data = orjson.loads(base64.urlsafe_b64decode(cursor.encode() + b"=" * (-len(cursor) % 4)))
        value, last_id, cursor_by, cursor_order = data["sv"], data["id"], data["sb"], data["so"]
    except (binascii.Error, orjson.JSONDecodeError, ValueError, KeyError, TypeError):
        raise BadRequest("cursor is not one this API issued", code=INVALID_CURSOR) from None
    if not isinstance(value, str) or not isinstance(last_id, str):
        raise BadRequest("cursor is not one this API issued", code=INVALID_CURSOR)
    if (cursor_by, cursor_order) != (sort_by, sort_order):
        raise BadRequest(
            f"cursor was issued for sortBy={cursor_by}&sortOrder={cursor_order}; send the same sort",
            code=INVALID_CURSOR,
        )
    return value, last_id


def render_page(
    page: Page[T], query: ListQuery | ExecutionQuery, render: Callable[[T], dict[str, Any]]
) -> dict[str, Any]:
    """The response envelope, with the cursor of the page's last item when more follow."""
    cursor = ""
    if page.has_more and page.items:
        last = page.items[-1]
        payload = {
            "id": last.id,
            "sv": getattr(last, query.sort_by),  # type: ignore[attr-defined]
            "sb": query.sort_by,
            "so": query.sort_order,
        }
        cursor = base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")
    return {"items": [render(item) for item in page.items], "nextCursor": cursor, "hasMore": page.has_more}
