"""Reading the whole audit trail over the API."""

from __future__ import annotations

from typing import Any

from tests.helpers.client import ApiClient


async def all_events(api: ApiClient) -> list[dict[str, Any]]:
    """Every audit event, oldest first, walking the cursor."""
    events: list[dict[str, Any]] = []
    cursor = ""
    while True:
        page = await api.get(
            "/v1/audit-events", params={"limit": "100", "sortOrder": "ASC", "cursor": cursor}
        )
        events += page.body["items"]
        if not page.body["hasMore"]:
            return events
        cursor = page.body["nextCursor"]
