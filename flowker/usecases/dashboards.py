"""The dashboards: workflows by status, and executions of a time window by status, counted by the store.

As the original: ``startTime`` / ``endTime`` are RFC 3339 and bound ``startedAt``, both included; a bad
time, a window that ends before it starts, or an unknown ``status`` is 400 FLK-0302. ``cancelled``
executions, which the original does not have, are counted in ``total`` and in a field of their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flowker.clock import iso
from flowker.codes import INVALID_DASHBOARD_QUERY
from flowker.dsl.model import WorkflowStatus
from flowker.dsl.run_state import ExecutionStatus
from flowker.errors import BadRequest
from flowker.store.ports import Store


@dataclass(frozen=True)
class ExecutionWindow:
    """What ``GET /v1/dashboards/executions`` counts: starts from ``start`` to ``end``, of ``status``."""

    start: str | None = None
    end: str | None = None
    status: str | None = None


class Dashboards:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def workflows(self) -> dict[str, Any]:
        """``{total, active, byStatus}``; ``byStatus`` lists every status, in lifecycle order."""
        counts = await self._store.workflows.count_by_status()
        by_status = [{"status": s.value, "count": counts.get(s.value, 0)} for s in WorkflowStatus]
        return {
            "total": sum(counts.values()),
            "active": counts.get(WorkflowStatus.ACTIVE.value, 0),
            "byStatus": by_status,
        }

    async def executions(self, params: Mapping[str, str]) -> dict[str, Any]:
        """``{total, completed, failed, pending, running, cancelled}`` of the window the query names."""
        window = parse_window(params)
        counts = await self._store.executions.count_by_status(window.start, window.end, window.status)
        return {"total": sum(counts.values()), **{s.value: counts.get(s.value, 0) for s in ExecutionStatus}}


def parse_window(params: Mapping[str, str]) -> ExecutionWindow:
    """``startTime``, ``endTime`` and ``status``; every bad value is 400 FLK-0302 naming it."""
    start, end = _time(params, "startTime"), _time(params, "endTime")
    if start is not None and end is not None and start > end:
        raise BadRequest("startTime is after endTime", code=INVALID_DASHBOARD_QUERY)
    status = params.get("status") or None
    statuses = [s.value for s in ExecutionStatus]
    if status is not None and status not in statuses:
        raise BadRequest(f"status must be one of {', '.join(statuses)}", code=INVALID_DASHBOARD_QUERY)
    return ExecutionWindow(start, end, status)


def _time(params: Mapping[str, str], name: str) -> str | None:
    """The parameter as :func:`flowker.clock.iso` writes times (so that it compares as stored ones do)."""
    raw = params.get(name)
    if not raw:
        return None
    try:
        if "T" not in raw.upper() or not raw.isascii():
            raise ValueError(raw)
        moment = datetime.fromisoformat(raw.upper().replace("Z", "+00:00"))
        return iso(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    except (ValueError, OverflowError):
        raise BadRequest(
            f"{name} is not an RFC 3339 date-time (such as 2026-05-01T00:00:00Z)",
            code=INVALID_DASHBOARD_QUERY,
        ) from None
