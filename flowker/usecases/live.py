"""What runs now, cluster-wide: the executions the supervisors host (``GET /v1/runtime/executions``,
``flowker ps``). Read from the supervisors, not the store: a run listed here is being driven."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flowker.clock import Clock, utc_now
from flowker.codes import INVALID_UUID
from flowker.errors import BadRequest
from flowker.usecases.ports import Runtime


@dataclass(frozen=True)
class LiveView:
    """The live executions, oldest first, and how many supervisors did not answer in time."""

    items: list[dict[str, Any]]
    unanswered: int


class LiveExecutions:
    """Asks the runtime what runs now."""

    def __init__(self, runtime: Runtime, clock: Clock = utc_now) -> None:
        self._runtime = runtime
        self._clock = clock

    async def list(self, workflow_id: str | None = None) -> LiveView:
        """Every live execution (of ``workflow_id``, when given), with its age in seconds.

        Raises:
            BadRequest: ``workflow_id`` is not a UUID (INVALID_UUID).
        """
        if workflow_id is not None:
            try:
                workflow_id = str(uuid.UUID(workflow_id))
            except ValueError:
                raise BadRequest("workflowId is not a valid UUID", code=INVALID_UUID) from None
        found, unanswered = await self._runtime.live_executions()
        now = self._clock()
        items = []
        for entry in found:
            if workflow_id is not None and entry["workflowId"] != workflow_id:
                continue
            age = (now - datetime.fromisoformat(entry["startedAt"])).total_seconds()
            items.append({**entry, "ageSeconds": round(max(age, 0.0), 3)})
        items.sort(key=lambda item: (item["startedAt"], item["executionId"]))
        return LiveView(items, unanswered)
